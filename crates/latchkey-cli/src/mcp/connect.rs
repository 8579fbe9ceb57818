//! `connect_account`: an agent asks the person to connect an account. The sign-in page is shown to
//! the person through the client (URL elicitation: the client shows the address and opens it only
//! with their consent); the browser comes back to this process's loopback listener, or, for a
//! provider that only returns to the app, the person enters a device code. The agent gets the
//! account once it is Active, never a token, and still needs the person's consent to call it.

use latchkey_core::model::{Account, Actor, ConnectionId, ConnectionStatus, check_identifier};
use latchkey_core::protocol::Redirect;
use rmcp::model::{CallToolResult, ElicitationAction, JsonObject};
use rmcp::service::{ElicitationMode, RequestContext, RoleServer};
use serde_json::Value;

use super::{ARG_MAX, ASK_TIMEOUT, Server, core_error, quoted};

impl Server {
    pub(super) async fn connect_account(
        &self,
        context: &RequestContext<RoleServer>,
        consumer: &str,
        args: &JsonObject,
    ) -> Result<CallToolResult, String> {
        let (connection, identifier) = parse(args)?;
        let conn = self.core.connection(&connection).map_err(|_| {
            format!(
                "There is no connection “{}” in Latchkey. Ready to connect: {}. The person sets up \
                 others in the app or with `latchkey connections`.",
                quoted(&connection),
                self.ready_connections()
            )
        })?;
        let Some(oauth) = conn.oauth() else {
            return Err(format!(
                "{} takes an API key or a password, which only the person enters: in the Latchkey app, \
                 or with `latchkey accounts add {}:NAME --secret-stdin`.",
                conn.name, conn.id
            ));
        };
        let yourself = match oauth.redirect {
            Redirect::Loopback { .. } => {
                format!("Ask the person to connect it: `latchkey connect {}` or the Latchkey app.", conn.id)
            }
            Redirect::DeepLink => "Ask the person to connect it in the Latchkey app.".to_owned(),
        };
        if !context.peer.supported_elicitation_modes().contains(&ElicitationMode::Url) {
            return Err(format!("This client cannot show the person a sign-in page. {yourself}"));
        }
        let actor = Actor::Cli { caller: consumer.to_owned() };
        let asking = Asking {
            context,
            consumer,
            provider: &conn.name,
            connection: &connection,
            identifier: identifier.as_deref(),
            actor: &actor,
        };
        let account = match oauth.redirect {
            Redirect::Loopback { .. } => self.sign_in_by_browser(&asking).await?,
            Redirect::DeepLink => {
                if self.core.device_flow_supported(&connection).await.is_err() {
                    return Err(format!(
                        "{}'s sign-in returns to the Latchkey app, not to this agent's session. {yourself}",
                        conn.name
                    ));
                }
                self.sign_in_by_code(&asking).await?
            }
        };
        Ok(CallToolResult::structured(self.listed(consumer, &account, &conn.name, conn.api_base.as_ref())?))
    }

    async fn sign_in_by_browser(&self, a: &Asking<'_>) -> Result<Account, String> {
        let link = self
            .core
            .get_authorization_link(a.connection, a.identifier, a.actor)
            .await
            .map_err(|e| core_error(&e))?;
        let placeholder = link.account.id.clone();
        let give_up = |why: String| {
            self.core.cancel_authorization(&placeholder);
            let _ = self.core.discard_placeholder(&placeholder, a.actor);
            why
        };
        let Some(wait) = link.loopback else {
            return Err(give_up(format!("{}'s sign-in returns to the Latchkey app, not here.", a.provider)));
        };
        let message = format!(
            "Latchkey: the agent “{}” asks you to connect a {provider} account. Sign in on {provider}'s \
             page; the agent gets no password or token, and asks you before it uses the account.",
            a.consumer,
            provider = a.provider
        );
        if let Some(why) = a.show(message, link.url.clone(), placeholder.as_str()).await {
            return Err(give_up(why));
        }
        tokio::select! {
            done = self.core.finish_loopback(wait) => {
                done.map_err(|e| give_up(format!("The sign-in did not complete: {}", core_error(&e.error))))
            }
            () = a.context.ct.cancelled() => Err(give_up(CANCELLED.into())),
        }
    }

    async fn sign_in_by_code(&self, a: &Asking<'_>) -> Result<Account, String> {
        let sign_in = self
            .core
            .start_device_authorization(a.connection, a.identifier, a.actor)
            .await
            .map_err(|e| core_error(&e))?;
        let url =
            sign_in.verification_uri_complete.clone().unwrap_or_else(|| sign_in.verification_uri.clone());
        let message = format!(
            "Latchkey: the agent “{}” asks you to connect a {provider} account. On {provider}'s page, \
             enter the code {} and approve; the agent gets no password or token, and asks you before \
             it uses the account.",
            a.consumer,
            sign_in.user_code,
            provider = a.provider
        );
        let id = sign_in.account.id.clone();
        if let Some(why) = a.show(message, url, id.as_str()).await {
            self.core.abandon_device_authorization(sign_in, a.actor);
            return Err(why);
        }
        let cancelled = a.context.ct.cancelled();
        self.core.finish_device_authorization(sign_in, cancelled).await.map_err(|e| {
            if a.context.ct.is_cancelled() {
                CANCELLED.into()
            } else {
                format!("The sign-in did not complete: {}", core_error(&e.error))
            }
        })
    }

    /// The OAuth connections a sign-in can start on now (configured, enabled), by name.
    fn ready_connections(&self) -> String {
        let ready: Vec<String> = self
            .core
            .connections()
            .iter()
            .filter(|c| c.oauth().is_some())
            .filter(|c| self.core.connection_status(c).is_ok_and(|(s, _)| s == ConnectionStatus::Active))
            .map(|c| c.id.to_string())
            .collect();
        if ready.is_empty() { "none".into() } else { ready.join(", ") }
    }
}

/// One `connect_account` call: who asks, for which connection.
struct Asking<'a> {
    context: &'a RequestContext<RoleServer>,
    consumer: &'a str,
    provider: &'a str,
    connection: &'a str,
    identifier: Option<&'a str>,
    actor: &'a Actor,
}

impl Asking<'_> {
    /// Shows the person `url` through the client; `None` once they accepted, else why not. The
    /// client cancelling the call (the person stopped the agent) ends it at once.
    async fn show(&self, message: String, url: url::Url, id: &str) -> Option<String> {
        let shown = self.context.peer.elicit_url_with_timeout(message, url, id, Some(ASK_TIMEOUT));
        tokio::select! {
            shown = shown => match shown {
                Ok(ElicitationAction::Accept) => None,
                Ok(_) => Some(declined(self.provider)),
                Err(e) => Some(format!("The sign-in page could not be shown to the person: {e}")),
            },
            () = self.context.ct.cancelled() => Some(CANCELLED.into()),
        }
    }
}

const CANCELLED: &str = "The client cancelled the sign-in; nothing was connected.";

fn declined(provider: &str) -> String {
    format!(
        "The person did not sign in to {provider}; nothing was connected. Do not ask again unless they want to."
    )
}

/// `{connection, identifier?}`, checked.
fn parse(args: &JsonObject) -> Result<(String, Option<String>), String> {
    if let Some(extra) = args.keys().find(|k| !matches!(k.as_str(), "connection" | "identifier")) {
        return Err(format!("connect_account takes no “{}”: only connection and identifier.", quoted(extra)));
    }
    let text = |name: &str| -> Result<Option<String>, String> {
        match args.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) if s.len() <= ARG_MAX => Ok(Some(s.clone())),
            Some(Value::String(_)) => Err(format!("“{name}” is longer than {ARG_MAX} bytes.")),
            Some(_) => Err(format!("“{name}” must be a string.")),
        }
    };
    let connection =
        text("connection")?.ok_or("connect_account needs “connection”, such as github or gmail.")?;
    if ConnectionId::new(&connection).is_err() {
        return Err(format!("“{}” is not a connection name.", quoted(&connection)));
    }
    let identifier = text("identifier")?;
    if let Some(i) = &identifier
        && check_identifier(i).is_err()
    {
        return Err(format!("“{}” is not an account name.", quoted(i)));
    }
    Ok((connection, identifier))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn args(v: Value) -> JsonObject {
        v.as_object().cloned().expect("object")
    }

    #[test]
    fn arguments_are_checked() {
        assert_eq!(parse(&args(json!({"connection": "github"}))), Ok(("github".into(), None)));
        assert_eq!(
            parse(&args(json!({"connection": "gmail", "identifier": "work"}))),
            Ok(("gmail".into(), Some("work".into())))
        );
        for (bad, says) in [
            (json!({}), "needs “connection”"),
            (json!({"connection": 3}), "must be a string"),
            (json!({"connection": "../etc"}), "not a connection name"),
            (json!({"connection": "x".repeat(ARG_MAX + 1)}), "longer than"),
            (json!({"connection": "github", "identifier": "a\nb"}), "not an account name"),
            (json!({"connection": "github", "url": "https://evil.example"}), "takes no “url”"),
        ] {
            let err = parse(&args(bad.clone())).expect_err("refused");
            assert!(err.contains(says), "{bad}: {err}");
        }
    }
}
