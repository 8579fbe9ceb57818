//! RFC 7009 token revocation, written out because the provider catalog (issue #4) needs other
//! methods beside it (GitHub's grant DELETE, Slack's `auth.revoke`), and because `oauth2` refuses
//! http revocation URLs even on loopback.

use url::Url;

use crate::http::{Http, describe_transport};
use crate::secret::Secret;

/// What the provider said.
#[derive(Debug, PartialEq, Eq)]
pub enum Revocation {
    /// HTTP 200: the token is revoked or was already invalid (RFC 7009 §2.2).
    Confirmed,
    /// Anything else, as a phrase for the user.
    NotConfirmed(String),
}

pub async fn revoke(
    http: &Http,
    endpoint: &Url,
    client_id: &str,
    token: &Secret,
    hint: &'static str,
) -> Revocation {
    let form = [("token", token.expose()), ("token_type_hint", hint), ("client_id", client_id)];
    match http.client().post(endpoint.clone()).form(&form).send().await {
        Ok(r) if r.status().is_success() => Revocation::Confirmed,
        Ok(r) if r.status() == reqwest::StatusCode::SERVICE_UNAVAILABLE => {
            Revocation::NotConfirmed("the provider is temporarily unavailable (HTTP 503)".into())
        }
        Ok(r) => Revocation::NotConfirmed(format!("the provider answered HTTP {}", r.status())),
        Err(e) => Revocation::NotConfirmed(describe_transport(&e)),
    }
}
