//! The account's identity from the OIDC userinfo endpoint.

use serde::Deserialize;
use url::Url;

use crate::error::{Error, Result};
use crate::http::{Http, describe_transport};
use crate::model::Identity;
use crate::secret::Secret;

#[derive(Deserialize)]
struct Claims {
    sub: Option<String>,
    email: Option<String>,
    name: Option<String>,
    preferred_username: Option<String>,
}

pub async fn fetch(http: &Http, provider: &str, endpoint: &Url, access_token: &Secret) -> Result<Identity> {
    let response = http
        .client()
        .get(endpoint.clone())
        .bearer_auth(access_token.expose())
        .header(reqwest::header::ACCEPT, "application/json")
        .send()
        .await
        .map_err(|e| Error::Network { provider: provider.to_owned(), detail: describe_transport(&e) })?;
    let status = response.status();
    if status == reqwest::StatusCode::UNAUTHORIZED {
        return Err(Error::TokenRejected { provider: provider.to_owned() });
    }
    if !status.is_success() {
        return Err(Error::Provider {
            provider: provider.to_owned(),
            detail: format!("userinfo answered HTTP {status}"),
        });
    }
    let claims: Claims = response.json().await.map_err(|_| Error::Provider {
        provider: provider.to_owned(),
        detail: "userinfo is not valid JSON".into(),
    })?;
    Ok(Identity { subject: claims.sub, email: claims.email, name: claims.name.or(claims.preferred_username) })
}
