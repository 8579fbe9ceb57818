//! Grants, and calls to an account's API on a consumer's behalf: the token is added here, sent only
//! to the connection's API base (`api::resolve`), and never returned, logged or audited.

use std::time::Duration;

use super::Latchkey;
use crate::api::{
    Access, ApiRequest, ApiResponse, Consent, REQUEST_BODY_MAX, RESPONSE_MAX, check_consumer,
    forbidden_header,
};
use crate::error::{Error, Result};
use crate::model::{Account, AccountId, AccountStatus, Actor};
use crate::store::{Audit, AuditAction, AuditOutcome, Grant, now};

/// What a call's audit row says: method, host, path; status and size once there is an answer.
struct Call<'a> {
    account: &'a Account,
    actor: Actor,
    method: String,
    target: String,
}

impl<'a> Call<'a> {
    /// Until the path is resolved, the target is what the caller gave, without anything past a
    /// `?` or `#`.
    fn new(account: &'a Account, host: &str, consumer: &str, method: &str, path: &str) -> Self {
        Call {
            account,
            actor: Actor::Cli { caller: consumer.to_owned() },
            method: short(method),
            target: format!(
                "{host}/{}",
                short(path.split(['?', '#']).next().unwrap_or("").trim_start_matches('/'))
            ),
        }
    }

    fn record(&self, core: &Latchkey, outcome: AuditOutcome, what: &str) -> Result<()> {
        let detail = format!("{} {} {what}", self.method, self.target);
        core.store().audit(&Audit {
            account: Some(&self.account.id),
            connection: Some(&self.account.connection),
            action: AuditAction::ApiCall,
            actor: &self.actor,
            outcome,
            detail: crate::sanitize::clean(&detail, 600).as_deref().unwrap_or(""),
        })
    }

    /// Records the refusal and hands the error back.
    fn refuse(&self, core: &Latchkey, e: Error) -> Result<ApiResponse> {
        self.record(core, AuditOutcome::Refused, &format!("→ refused: {}", short(&e.to_string())))?;
        Err(e)
    }
}

fn short(s: &str) -> String {
    crate::sanitize::clean(s, 200).unwrap_or_default()
}

impl Latchkey {
    /// Allows `consumer` to call the account's API with `access` until `until` (unix seconds; `None`:
    /// until removed). Replaces the consumer's earlier grant on the account. Audited.
    pub fn add_grant(
        &self,
        consumer: &str,
        account: &AccountId,
        access: Access,
        until: Option<i64>,
        actor: &Actor,
    ) -> Result<Grant> {
        check_consumer(consumer)?;
        if until.is_some_and(|u| u <= now()) {
            return Err(Error::InvalidInput("A grant must end in the future.".into()));
        }
        self.store().put_grant(consumer, account, access, until, actor)
    }

    /// Removes the consumer's grant on the account; whether there was one. Audited.
    pub fn remove_grant(&self, consumer: &str, account: &AccountId, actor: &Actor) -> Result<bool> {
        self.get_account(account)?;
        self.store().delete_grant(consumer, account, actor)
    }

    /// Every grant (expired ones too, with their end), with its last use.
    pub fn grants(&self) -> Result<Vec<Grant>> {
        self.store().grants()
    }

    /// The consumer's grant on the account, if it has one that has not ended.
    pub fn grant_for(&self, consumer: &str, account: &AccountId) -> Result<Option<Grant>> {
        Ok(self.store().grant(consumer, account)?.filter(|g| g.is_live(now())))
    }

    /// Records a call refused before it reached [`Latchkey::call_api`] (the person declined it, or
    /// it could not be sent): one `api.call` row, outcome refused, `why` as its reason.
    pub fn record_refused_call(
        &self,
        account: &AccountId,
        consumer: &str,
        method: &str,
        path: &str,
        why: &str,
    ) -> Result<()> {
        check_consumer(consumer)?;
        let acc = self.get_account(account)?;
        let conn = self.connection(acc.connection.as_str())?;
        let host = conn.api_base.as_ref().and_then(|b| b.host_str().map(str::to_owned)).unwrap_or_default();
        let method = method.trim().to_ascii_uppercase();
        Call::new(&acc, &host, consumer, &method, path).record(
            self,
            AuditOutcome::Refused,
            &format!("→ refused: {}", short(why)),
        )
    }

    /// Makes `request` to the account's API for `consumer`, with the account's access token (see
    /// the README on grants and API bases). Refused, before anything is sent, without the
    /// consent `consent` requires, for a method the access does not allow, a forbidden header, a
    /// path outside the API base, or an account that is not Active. One retry after a 401 with a
    /// refreshed token; redirects are returned as they are. One `api.call` audit row per call.
    pub async fn call_api(
        &self,
        account: &AccountId,
        consumer: &str,
        consent: Consent,
        request: ApiRequest,
    ) -> Result<ApiResponse> {
        let _working = self.working();
        check_consumer(consumer)?;
        let acc = self.get_account(account)?;
        let conn = self.connection(acc.connection.as_str())?;
        let method = request.method.trim().to_ascii_uppercase();
        let host = conn.api_base.as_ref().and_then(|b| b.host_str().map(str::to_owned)).unwrap_or_default();
        let call = Call::new(&acc, &host, consumer, &method, &request.path);
        let reference = format!("{}:{}", acc.connection, acc.identifier);

        let access = match consent {
            Consent::Once(a) => a,
            Consent::Granted => match self.grant_for(consumer, account)? {
                Some(g) => g.access,
                None => {
                    return call
                        .refuse(self, Error::NoGrant { consumer: consumer.to_owned(), account: reference });
                }
            },
        };
        let method_ok =
            !method.is_empty() && method.len() <= 20 && method.bytes().all(|b| b.is_ascii_uppercase());
        if !method_ok {
            return call.refuse(self, Error::InvalidInput("The HTTP method is not valid.".into()));
        }
        if !access.allows(&method) {
            return call.refuse(
                self,
                Error::InvalidInput(format!(
                    "“{consumer}” has read access to {reference}: GET and HEAD only, not {method}."
                )),
            );
        }
        let mut headers = reqwest::header::HeaderMap::new();
        for (name, value) in &request.headers {
            if forbidden_header(name) {
                return call.refuse(
                    self,
                    Error::InvalidInput(format!(
                        "The header “{}” is set by Latchkey or not allowed.",
                        short(name)
                    )),
                );
            }
            let parsed = reqwest::header::HeaderName::from_bytes(name.as_bytes()).ok().zip(
                (!value.chars().any(char::is_control))
                    .then(|| reqwest::header::HeaderValue::from_str(value).ok())
                    .flatten(),
            );
            let Some((n, v)) = parsed else {
                return call.refuse(
                    self,
                    Error::InvalidInput(format!("The header “{}” is not valid.", short(name))),
                );
            };
            headers.append(n, v);
        }
        if request.body.as_ref().is_some_and(|b| b.len() > REQUEST_BODY_MAX) {
            return call.refuse(
                self,
                Error::InvalidInput(format!("The request body is larger than {REQUEST_BODY_MAX} bytes.")),
            );
        }
        if acc.status != AccountStatus::Active {
            let e = match acc.status {
                AccountStatus::Suspended => Error::Suspended,
                other => Error::NeedsReconnect(format!("it is {other}")),
            };
            return call.refuse(self, e);
        }
        let Some(oauth) = conn.oauth() else {
            return call.refuse(
                self,
                Error::WrongConnectionType {
                    connection: conn.id.to_string(),
                    kind: "an API-key or basic-auth",
                    what: "calls through Latchkey need an OAuth 2.0 account (Latchkey does not know how this API takes its key).",
                },
            );
        };
        let Some(base) = conn.api_base.clone() else {
            return call.refuse(
                self,
                Error::ConnectionNotReady(
                    conn.name.clone(),
                    "it has no API base (api_base in connections.toml).".into(),
                ),
            );
        };
        let url = match crate::api::resolve(&base, &request.path, &request.query) {
            Ok(u) => u,
            Err(e) => return call.refuse(self, e),
        };
        let call = Call { target: format!("{host}{}", short(url.path())), ..call };
        for (name, value) in &oauth.protocol.api_headers {
            if !headers.keys().any(|k| k.as_str().eq_ignore_ascii_case(name))
                && let (Ok(n), Ok(v)) = (
                    reqwest::header::HeaderName::from_bytes(name.as_bytes()),
                    reqwest::header::HeaderValue::from_str(value),
                )
            {
                headers.insert(n, v);
            }
        }
        let method = match reqwest::Method::from_bytes(method.as_bytes()) {
            Ok(m) => m,
            Err(_) => return call.refuse(self, Error::InvalidInput("The HTTP method is not valid.".into())),
        };

        let token = match self.token_for(account, Duration::from_secs(60), &[], &call.actor, false).await {
            Ok(t) => t,
            Err(e) => return call.refuse(self, e),
        };
        let send = |token: &str| {
            let mut auth = reqwest::header::HeaderValue::from_str(&format!("Bearer {token}"))
                .unwrap_or_else(|_| reqwest::header::HeaderValue::from_static("Bearer"));
            auth.set_sensitive(true);
            let mut builder =
                self.http.client().request(method.clone(), url.clone()).headers(headers.clone());
            builder = builder.header(reqwest::header::AUTHORIZATION, auth);
            if let Some(body) = &request.body {
                builder = builder.body(body.clone());
            }
            builder.send()
        };
        let mut sent = send(token.token.expose()).await;
        let mut secrets = vec![token.token];
        if sent.as_ref().is_ok_and(|r| r.status() == reqwest::StatusCode::UNAUTHORIZED) {
            let retried = async {
                self.refresh_now(account, &call.actor).await?;
                self.token_for(account, Duration::ZERO, &[], &call.actor, false).await
            };
            if let Ok(fresh) = retried.await {
                sent = send(fresh.token.expose()).await;
                secrets.push(fresh.token);
            }
        }
        let response = match sent {
            Ok(r) => r,
            Err(e) => {
                let e = Error::Network {
                    provider: conn.name.clone(),
                    detail: crate::http::describe_transport(&e),
                };
                call.record(self, AuditOutcome::Failed, &format!("→ {}", short(&e.to_string())))?;
                return Err(e);
            }
        };
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| crate::sanitize::clean(v, 200));
        let location = response
            .status()
            .is_redirection()
            .then(|| response.headers().get(reqwest::header::LOCATION))
            .flatten()
            .and_then(|v| v.to_str().ok())
            .and_then(|v| crate::sanitize::clean(v, 2048))
            .map(|v| crate::api::scrub(v, &secrets).0);
        let (bytes, truncated) = match read_capped(response, RESPONSE_MAX).await {
            Ok(b) => b,
            Err(e) => {
                let e = Error::Network {
                    provider: conn.name.clone(),
                    detail: crate::http::describe_transport(&e),
                };
                call.record(self, AuditOutcome::Failed, &format!("→ {status}, {}", short(&e.to_string())))?;
                return Err(e);
            }
        };
        let (body, echoed) = crate::api::scrub(String::from_utf8_lossy(&bytes).into_owned(), &secrets);
        call.record(
            self,
            AuditOutcome::Ok,
            &format!(
                "→ {status}, {} bytes{}{}",
                bytes.len(),
                if truncated { " (truncated)" } else { "" },
                if echoed { "; the answer held the token, removed" } else { "" }
            ),
        )?;
        self.store().touch_grant(consumer, account)?;
        Ok(ApiResponse { status, content_type, body, truncated, bytes: bytes.len(), location })
    }
}

/// The body, read chunk by chunk up to `max` bytes; whether more was sent (and left unread).
async fn read_capped(mut response: reqwest::Response, max: usize) -> reqwest::Result<(Vec<u8>, bool)> {
    let mut out = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        let room = max - out.len();
        if chunk.len() > room {
            out.extend_from_slice(&chunk[..room]);
            return Ok((out, true));
        }
        out.extend_from_slice(&chunk);
    }
    Ok((out, false))
}
