//! The account's identity: the provider's identity endpoint (the catalog entry's, or OIDC userinfo),
//! read at the entry's dotted paths. Also the harmless call behind "Test".

use serde_json::Value;

use crate::config::ProviderMetadata;
use crate::error::{Error, Result};
use crate::http::{Http, describe_transport};
use crate::model::Identity;
use crate::protocol::{Dialect, IdentitySpec, Protocol};
use crate::secret::Secret;

/// Where the identity comes from: the protocol's own endpoint, else OIDC userinfo with its
/// standard claims, else nowhere.
pub fn spec(protocol: &Protocol, metadata: &ProviderMetadata) -> Option<IdentitySpec> {
    protocol.identity.clone().or_else(|| {
        metadata.userinfo_endpoint.clone().map(|url| IdentitySpec {
            url,
            post: false,
            body: None,
            subject: Some("sub".into()),
            email: Some("email".into()),
            name: Some("name".into()),
        })
    })
}

pub async fn fetch(
    http: &Http,
    provider: &str,
    protocol: &Protocol,
    spec: &IdentitySpec,
    access_token: &Secret,
) -> Result<Identity> {
    let provider_error = |detail: String| Error::Provider { provider: provider.to_owned(), detail };
    let mut request =
        if spec.post { http.client().post(spec.url.clone()) } else { http.client().get(spec.url.clone()) };
    request = request.bearer_auth(access_token.expose());
    if !protocol.api_headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("accept")) {
        request = request.header(reqwest::header::ACCEPT, "application/json");
    }
    for (name, value) in &protocol.api_headers {
        request = request.header(name.as_str(), value.as_str());
    }
    if let Some(body) = &spec.body {
        request = request.header(reqwest::header::CONTENT_TYPE, "application/json").body(body.clone());
    }
    let response = request
        .send()
        .await
        .map_err(|e| Error::Network { provider: provider.to_owned(), detail: describe_transport(&e) })?;
    let status = response.status();
    if status == reqwest::StatusCode::UNAUTHORIZED {
        return Err(Error::TokenRejected { provider: provider.to_owned() });
    }
    if !status.is_success() {
        return Err(provider_error(format!("its identity endpoint answered HTTP {status}")));
    }
    let body = crate::sanitize::read_body(response, crate::sanitize::BODY_MAX)
        .await
        .map_err(|_| provider_error("its identity answer is too long or was cut off".into()))?;
    let json: Value = serde_json::from_slice(&body)
        .map_err(|_| provider_error("its identity answer is not valid JSON".into()))?;
    read_identity(provider, protocol.dialect, spec, &json)
}

/// Reads the identity out of an identity endpoint's JSON answer.
pub(crate) fn read_identity(
    provider: &str,
    dialect: Dialect,
    spec: &IdentitySpec,
    json: &Value,
) -> Result<Identity> {
    if dialect == Dialect::Slack && json.get("ok") == Some(&Value::Bool(false)) {
        let error = json.get("error").and_then(Value::as_str).unwrap_or("unknown_error");
        return Err(match error {
            "invalid_auth" | "not_authed" | "token_revoked" | "token_expired" | "account_inactive" => {
                Error::TokenRejected { provider: provider.to_owned() }
            }
            other => Error::Provider {
                provider: provider.to_owned(),
                detail: format!("Slack: {}", crate::sanitize::error_text(other)),
            },
        });
    }
    let field = |path: &Option<String>| path.as_deref().and_then(|p| at_path(json, p));
    Ok(crate::sanitize::identity(Identity {
        subject: field(&spec.subject),
        email: field(&spec.email),
        name: field(&spec.name),
    }))
}

/// The string (or number, as text) at a dotted path; `None` for null, missing or empty.
fn at_path(json: &Value, path: &str) -> Option<String> {
    let value = path.split('.').try_fold(json, |v, key| v.get(key))?;
    match value {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_dotted_paths_and_numbers() {
        let spec = IdentitySpec {
            url: url::Url::parse("https://api.example/me").expect("url"),
            post: false,
            body: None,
            subject: Some("id".into()),
            email: Some("a.b.email".into()),
            name: Some("missing.name".into()),
        };
        let json = serde_json::json!({"id": 42, "a": {"b": {"email": "me@example.com"}}});
        let who = read_identity("P", Dialect::Standard, &spec, &json).expect("identity");
        assert_eq!(
            who,
            Identity { subject: Some("42".into()), email: Some("me@example.com".into()), name: None }
        );
        let slack = serde_json::json!({"ok": false, "error": "token_revoked"});
        assert!(matches!(
            read_identity("Slack", Dialect::Slack, &spec, &slack),
            Err(Error::TokenRejected { .. })
        ));
    }
}
