//! Revoking a grant at the provider, by the provider's method: RFC 7009, GitHub's grant DELETE, a
//! POST authenticated with the access token (Slack `auth.revoke`, Dropbox, Linear), or none.
//! Written out rather than through `oauth2`, which knows only RFC 7009 and refuses http
//! revocation URLs even on loopback.

use serde_json::Value;

use crate::config::ProviderMetadata;
use crate::http::{Http, describe_transport};
use crate::protocol::{ClientAuth, Dialect, Protocol, RequestFormat, RevocationMethod};
use crate::secret::{Secret, TokenSet};

/// What the provider said.
#[derive(Debug, PartialEq, Eq)]
pub enum Revocation {
    /// The grant is gone (or was already invalid, RFC 7009 §2.2).
    Confirmed,
    /// The provider could not be reached or did not confirm: worth asking again later.
    NotConfirmed(String),
    /// Asking cannot work (no revocation API, or no client secret for a method that needs one).
    Unsupported(String),
}

/// The client credentials a revocation may need.
pub struct Client<'a> {
    pub id: &'a str,
    pub secret: Option<&'a Secret>,
}

pub async fn revoke(
    http: &Http,
    protocol: &Protocol,
    metadata: &ProviderMetadata,
    client: &Client<'_>,
    tokens: &TokenSet,
) -> Revocation {
    match &protocol.revocation {
        RevocationMethod::None => Revocation::Unsupported("it has no way for apps to revoke access".into()),
        RevocationMethod::Rfc7009 => {
            let Some(endpoint) = &metadata.revocation_endpoint else {
                return Revocation::Unsupported("it has no revocation endpoint".into());
            };
            // The refresh token first: at most providers that ends the whole grant.
            let mut calls = vec![(&tokens.access_token, "access_token")];
            if let Some(rt) = &tokens.refresh_token {
                calls.insert(0, (rt, "refresh_token"));
            }
            let mut failures = Vec::new();
            for (token, hint) in calls {
                let request = rfc7009_request(http, protocol, endpoint, client, token, hint);
                if let Revocation::NotConfirmed(why) = send(request, protocol.dialect, &[]).await {
                    failures.push(why);
                }
            }
            if failures.is_empty() {
                Revocation::Confirmed
            } else {
                Revocation::NotConfirmed(failures.join("; "))
            }
        }
        RevocationMethod::GitHubGrant { url } => {
            let Some(secret) = client.secret else {
                return Revocation::Unsupported(
                    "revoking at GitHub needs the connection's client secret".into(),
                );
            };
            let url = url.replace("{client_id}", client.id);
            let body = serde_json::json!({ "access_token": tokens.access_token.expose() });
            let request = with_headers(http.client().delete(url), protocol)
                .basic_auth(client.id, Some(secret.expose()))
                .json(&body);
            // 404: the grant is not there (any more).
            send(request, protocol.dialect, &[404]).await
        }
        RevocationMethod::Bearer { url } => {
            let request = with_headers(http.client().post(url.clone()), protocol)
                .bearer_auth(tokens.access_token.expose());
            // 401: the token no longer authenticates, so there is nothing left to revoke.
            send(request, protocol.dialect, &[401]).await
        }
    }
}

fn rfc7009_request(
    http: &Http,
    protocol: &Protocol,
    endpoint: &url::Url,
    client: &Client<'_>,
    token: &Secret,
    hint: &'static str,
) -> reqwest::RequestBuilder {
    let mut request = with_headers(http.client().post(endpoint.clone()), protocol);
    let basic = protocol.client_auth == ClientAuth::Basic && client.secret.is_some();
    if basic {
        request = request.basic_auth(client.id, client.secret.map(Secret::expose));
    }
    match protocol.request_format {
        RequestFormat::Json => request.json(&serde_json::json!({ "token": token.expose() })),
        RequestFormat::Form => {
            let mut form = vec![("token", token.expose()), ("token_type_hint", hint)];
            if !basic {
                form.push(("client_id", client.id));
                if let Some(secret) = client.secret {
                    form.push(("client_secret", secret.expose()));
                }
            }
            request.form(&form)
        }
    }
}

fn with_headers(mut request: reqwest::RequestBuilder, protocol: &Protocol) -> reqwest::RequestBuilder {
    for (name, value) in &protocol.api_headers {
        request = request.header(name.as_str(), value.as_str());
    }
    request
}

async fn send(request: reqwest::RequestBuilder, dialect: Dialect, gone: &[u16]) -> Revocation {
    let response = match request.send().await {
        Ok(r) => r,
        Err(e) => return Revocation::NotConfirmed(describe_transport(&e)),
    };
    let status = response.status().as_u16();
    // Only Slack's `ok` is read from the body; a longer answer is judged by its status alone.
    let body =
        crate::sanitize::read_body(response, crate::sanitize::ERROR_BODY_MAX).await.unwrap_or_default();
    judge(dialect, status, &body, gone)
}

/// Reads a revocation answer; `gone` are the statuses that mean the grant no longer exists.
pub(crate) fn judge(dialect: Dialect, status: u16, body: &[u8], gone: &[u16]) -> Revocation {
    match status {
        200..=299 if dialect == Dialect::Slack => {
            match serde_json::from_slice::<Value>(body)
                .ok()
                .and_then(|v| v.get("ok").and_then(Value::as_bool))
            {
                Some(true) => Revocation::Confirmed,
                _ => Revocation::NotConfirmed("Slack did not confirm the revocation".into()),
            }
        }
        200..=299 => Revocation::Confirmed,
        s if gone.contains(&s) => Revocation::Confirmed,
        503 => Revocation::NotConfirmed("the provider is temporarily unavailable (HTTP 503)".into()),
        s => Revocation::NotConfirmed(format!("the provider answered HTTP {s}")),
    }
}
