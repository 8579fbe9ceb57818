//! Connecting an OAuth account with the device authorization grant (RFC 8628): for a session
//! without a browser (SSH, a server), and for providers whose browser sign-in only comes back to
//! the app. The tokens are stored exactly as a browser sign-in's (`store_sign_in`).

use std::future::Future;
use std::time::{Duration, Instant};

use url::Url;

use super::Latchkey;
use super::authorize::CallbackError;
use crate::config::{Connection, ProviderMetadata};
use crate::error::{Error, Result};
use crate::model::{Account, Actor, ConnectionId};
use crate::oauth::device::{DeviceRequest, SLOW_DOWN_STEP};
use crate::oauth::token::{DevicePoll, TokenClient, TokenFailure};
use crate::protocol::{Redirect, SecretNeed};
use crate::secret::Secret;
use crate::store::{AuditAction, AuditOutcome};

/// A device sign-in that was started: the account (Pending until the user approves, or in its
/// current state for a re-authorization) and what the user needs to approve it elsewhere.
pub struct DeviceSignIn {
    pub account: Account,
    /// What the user types at the verification URI.
    pub user_code: String,
    pub verification_uri: Url,
    /// The verification URI with the user code in it, when the provider gives one.
    pub verification_uri_complete: Option<Url>,
    /// How long the user has.
    pub expires_in: Duration,
    device_code: Secret,
    interval: Duration,
    deadline: Instant,
    metadata: ProviderMetadata,
    connection: ConnectionId,
    /// The account was made for this sign-in, unnamed: it goes when the sign-in fails.
    placeholder: bool,
}

impl std::fmt::Debug for DeviceSignIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeviceSignIn")
            .field("account", &self.account.id)
            .field("user_code", &self.user_code)
            .field("interval", &self.interval)
            .finish_non_exhaustive()
    }
}

impl Latchkey {
    /// Starts a device sign-in on `connection`: asks the provider for a user code for the
    /// connection's scopes. Refused with the reason when the provider offers no device flow, or
    /// not for these scopes. Then [`Latchkey::finish_device_authorization`].
    pub async fn start_device_authorization(
        &self,
        connection: &str,
        identifier: Option<&str>,
        actor: &Actor,
    ) -> Result<DeviceSignIn> {
        let _working = self.working();
        let conn = self.connection(connection)?;
        let oauth = conn.oauth().ok_or(Error::WrongConnectionType {
            connection: conn.name.clone(),
            kind: "an API-key or basic-auth",
            what: "enter its credential instead of signing in.",
        })?;
        if !conn.enabled {
            return Err(Error::ConnectionNotReady(conn.name.clone(), "it is disabled.".into()));
        }
        // Whether the provider offers it at all comes first: no client id would make it do so.
        let metadata = self.metadata(&conn).await?;
        let endpoint = device_endpoint(&conn, &metadata)?;
        let Some(client_id) = oauth.client_id.clone() else {
            return Err(Error::ConnectionNotReady(conn.name.clone(), self.missing_client(&conn)));
        };
        let secret = self.device_client_secret(&conn).await?;
        let account = self.account_to_sign_in(&conn, identifier, actor)?;
        let placeholder = identifier.is_none();
        let request = DeviceRequest {
            http: &self.http,
            provider: &conn.name,
            endpoint: &endpoint,
            protocol: &oauth.protocol,
            client_id: &client_id,
            client_secret: secret.as_ref(),
            scopes: conn.scopes(),
        };
        let answer = match request.send().await {
            Ok(answer) => answer,
            Err(e) => {
                if placeholder {
                    let _ = self.discard_placeholder(&account.id, actor);
                }
                return Err(e);
            }
        };
        self.audit(
            &account.id,
            &conn.id,
            AuditAction::AuthorizationStarted,
            actor,
            AuditOutcome::Ok,
            "device authorization",
        )?;
        let now = Instant::now();
        Ok(DeviceSignIn {
            account,
            user_code: answer.user_code,
            verification_uri: answer.verification_uri,
            verification_uri_complete: answer.verification_uri_complete,
            expires_in: answer.expires_in,
            device_code: answer.device_code,
            interval: answer.interval,
            deadline: now + answer.expires_in,
            metadata,
            connection: conn.id.clone(),
            placeholder,
        })
    }

    /// Polls the token endpoint at the provider's interval (5 s more after each `slow_down`) until
    /// the user approved, then stores the tokens as a browser sign-in's. Ends with the reason when
    /// the user declined, the code expired, the provider failed, or `stop` completed first
    /// ([`Error::Cancelled`]); an unnamed account made for the sign-in is then removed. `stop` is
    /// only heard while waiting: tokens that arrived are stored whole.
    pub async fn finish_device_authorization(
        &self,
        sign_in: DeviceSignIn,
        stop: impl Future<Output = ()>,
    ) -> Result<Account, CallbackError> {
        let _working = self.working();
        let id = sign_in.account.id.clone();
        let outcome = tokio::select! {
            outcome = self.poll_device(&sign_in) => outcome,
            () = stop => Err(Error::Cancelled),
        };
        let stored = match outcome {
            Ok((conn, secret, tokens)) => {
                self.store_sign_in(
                    &conn,
                    &sign_in.metadata,
                    &id,
                    secret.as_ref(),
                    tokens,
                    "device code redeemed",
                )
                .await
            }
            Err(e) => Err(e),
        };
        stored.map_err(|error| {
            let sentence = error.to_string();
            let actor = Actor::Provider;
            let _ = self.audit(
                &id,
                &sign_in.connection,
                AuditAction::AuthorizationFailed,
                &actor,
                AuditOutcome::Failed,
                &sentence,
            );
            let gone = sign_in.placeholder
                && self
                    .store()
                    .delete_placeholder(
                        &id,
                        i64::MAX,
                        &actor,
                        "the device sign-in that created it did not complete",
                    )
                    .unwrap_or(false);
            if !gone {
                let _ = self.store().set_last_error(&id, Some(&sentence));
            }
            CallbackError {
                connection: Some(sign_in.connection.clone()),
                account: if gone { None } else { self.store().account(&id).ok() },
                error,
            }
        })
    }

    /// The polling loop: the tokens, with the connection and the client secret that got them.
    async fn poll_device(
        &self,
        sign_in: &DeviceSignIn,
    ) -> Result<(Connection, Option<Secret>, crate::oauth::token::Tokens)> {
        let conn = self.connection(sign_in.connection.as_str())?;
        let oauth = conn.oauth().ok_or(Error::UnknownState)?;
        let client_id = oauth.client_id.clone().unwrap_or_default();
        let secret = self.device_client_secret(&conn).await?;
        let client = TokenClient {
            http: &self.http,
            metadata: &sign_in.metadata,
            protocol: &oauth.protocol,
            client_id: &client_id,
            client_secret: secret.as_ref(),
        };
        let expired = || Error::DeviceCodeExpired { provider: conn.name.clone() };
        let mut interval = sign_in.interval;
        loop {
            let wake = Instant::now() + interval;
            if wake >= sign_in.deadline {
                tokio::time::sleep_until(sign_in.deadline.into()).await;
                return Err(expired());
            }
            tokio::time::sleep_until(wake.into()).await;
            match client.poll_device(&sign_in.device_code).await {
                DevicePoll::Tokens(tokens) => return Ok((conn, secret, tokens)),
                DevicePoll::Pending => {}
                DevicePoll::SlowDown => interval += SLOW_DOWN_STEP,
                DevicePoll::Denied => return Err(Error::Denied { provider: conn.name.clone() }),
                DevicePoll::Expired => return Err(expired()),
                // A network hiccup or a busy provider: ask again later, within the code's lifetime.
                DevicePoll::Failed(TokenFailure::Transient { reason, retry_after }) => {
                    tracing::warn!(connection = %conn.id, "a device-code poll failed: {reason}");
                    if let Some(after) = retry_after {
                        interval = interval.max(after);
                    }
                }
                DevicePoll::Failed(failure) => return Err(self.token_failure(&conn, failure)),
            }
        }
    }

    /// The client secret the device flow sends: the connection's, where the provider's device
    /// flow takes one (`device_client_secret` in the catalog, else as its code flow).
    async fn device_client_secret(&self, conn: &Connection) -> Result<Option<Secret>> {
        let Some(oauth) = conn.oauth() else { return Ok(None) };
        match oauth.protocol.device_client_secret {
            Some(SecretNeed::None) => Ok(None),
            Some(SecretNeed::Optional) => match self.client_secret(conn).await {
                Err(Error::ConnectionNotReady(..)) => Ok(None),
                other => other,
            },
            Some(SecretNeed::Required) | None => self.client_secret(conn).await,
        }
    }

    /// Whether `connection` can sign in by device flow; `Err` says why not and what to do instead.
    pub async fn device_flow_supported(&self, connection: &str) -> Result<()> {
        let conn = self.connection(connection)?;
        let metadata = self.metadata(&conn).await?;
        device_endpoint(&conn, &metadata).map(|_| ())
    }

    /// Gives up a device sign-in before finishing it (the core keeps no other state of it): the
    /// unnamed account `start_device_authorization` made is removed.
    pub fn abandon_device_authorization(&self, sign_in: DeviceSignIn, actor: &Actor) {
        if sign_in.placeholder {
            let _ = self.discard_placeholder(&sign_in.account.id, actor);
        }
    }
}

/// The connection's device authorization endpoint, or why it has none for this sign-in.
fn device_endpoint(conn: &Connection, metadata: &ProviderMetadata) -> Result<Url> {
    let not_ready = |why: String| Error::ConnectionNotReady(conn.name.clone(), why);
    let Some(endpoint) = metadata.device_authorization_endpoint.clone() else {
        let instead = match conn.oauth().map(|o| o.redirect) {
            Some(Redirect::DeepLink) => "Connect it from the Latchkey app.".to_owned(),
            _ => format!("Sign in in a browser instead: latchkey connect {}", conn.id),
        };
        return Err(not_ready(format!(
            "{} offers no device sign-in (RFC 8628: no device authorization endpoint). {instead}",
            conn.provider()
        )));
    };
    if let Some(allowed) = conn.oauth().and_then(|o| o.protocol.device_scopes.as_ref()) {
        let refused: Vec<&str> =
            conn.scopes().iter().filter(|s| !allowed.contains(s)).map(String::as_str).collect();
        if !refused.is_empty() {
            return Err(not_ready(format!(
                "{} allows the device sign-in only for a few scopes, and not for {}. Sign in in a \
                 browser instead (latchkey connect {}), or use a connection with only these scopes: {}.",
                conn.provider(),
                refused.join(", "),
                conn.id,
                allowed.join(", ")
            )));
        }
    }
    Ok(endpoint)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::parse_connections;

    fn connection(id: &str, extra: &str) -> Connection {
        let text = format!("[[connection]]\nid = \"{id}\"\nclient_id = \"c\"\n{extra}");
        parse_connections(&text).expect("valid").into_iter().find(|c| c.id.as_str() == id).expect("there")
    }

    fn metadata(conn: &Connection) -> ProviderMetadata {
        match &conn.oauth().expect("oauth").endpoints {
            crate::config::Endpoints::Explicit(m) => (**m).clone(),
            crate::config::Endpoints::Discover { .. } => panic!("explicit"),
        }
    }

    fn why_not(conn: &Connection) -> String {
        device_endpoint(conn, &metadata(conn)).expect_err("refused").to_string()
    }

    #[test]
    fn the_catalog_says_which_providers_offer_the_device_flow_and_why_not() {
        let ok = |id: &str| device_endpoint(&connection(id, ""), &metadata(&connection(id, ""))).expect(id);
        assert_eq!(ok("github").as_str(), "https://github.com/login/device/code");
        assert_eq!(
            ok("microsoft").as_str(),
            "https://login.microsoftonline.com/common/oauth2/v2.0/devicecode"
        );
        let drive = connection(
            "google-drive",
            "scopes = [\"openid\", \"email\", \"https://www.googleapis.com/auth/drive.file\"]\n",
        );
        assert_eq!(
            device_endpoint(&drive, &metadata(&drive)).expect("drive.file").as_str(),
            "https://oauth2.googleapis.com/device/code"
        );

        let gmail = why_not(&connection("gmail", ""));
        assert!(gmail.contains("https://www.googleapis.com/auth/gmail.readonly"), "{gmail}");
        assert!(
            gmail.contains("only for a few scopes") && gmail.contains("latchkey connect gmail"),
            "{gmail}"
        );
        let drive = why_not(&connection("google-drive", ""));
        assert!(drive.contains("drive.readonly"), "the default scope is not allowed: {drive}");
        let slack = why_not(&connection("slack", ""));
        assert!(
            slack.contains("Slack offers no device sign-in") && slack.contains("from the Latchkey app"),
            "{slack}"
        );
        let dropbox = why_not(&connection("dropbox", ""));
        assert!(dropbox.contains("latchkey connect dropbox"), "{dropbox}");
        for id in ["atlassian", "discord", "linear", "notion", "spotify"] {
            assert!(why_not(&connection(id, "")).contains("offers no device sign-in"), "{id}");
        }
    }

    #[test]
    fn custom_connections_name_their_device_endpoint_in_the_file() {
        let custom = connection(
            "forge",
            "authorize_url = \"https://f.example/a\"\ntoken_url = \"https://f.example/t\"\n\
             device_authorization_url = \"https://f.example/device\"\n",
        );
        assert_eq!(
            device_endpoint(&custom, &metadata(&custom)).expect("set").as_str(),
            "https://f.example/device"
        );
        for (text, needle) in [
            (
                "[[connection]]\nid = \"x\"\nissuer = \"https://f.example\"\ndevice_authorization_url = \"https://f.example/d\"\n",
                "discovery document",
            ),
            (
                "[[connection]]\nid = \"x\"\nauthorize_url = \"https://f.example/a\"\ntoken_url = \"https://f.example/t\"\ndevice_authorization_url = \"http://f.example/d\"\n",
                "https",
            ),
            (
                "[[connection]]\nid = \"github\"\ndevice_authorization_url = \"https://evil.example/d\"\n",
                "cannot be changed",
            ),
        ] {
            let err = parse_connections(text).expect_err(text).to_string();
            assert!(err.contains(needle), "{err} should mention {needle}");
        }
    }
}
