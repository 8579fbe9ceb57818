//! Authorization-server metadata (RFC 8414 / OpenID Connect Discovery). The document's `issuer`
//! must equal the issuer the URL was built from, else it is discarded (RFC 8414 §3.3).

use serde::Deserialize;
use url::Url;

use crate::config::{ProviderMetadata, check_endpoint};
use crate::error::{Error, Result};
use crate::http::{Http, describe_transport};

#[derive(Deserialize)]
struct Document {
    issuer: String,
    authorization_endpoint: String,
    token_endpoint: String,
    revocation_endpoint: Option<String>,
    userinfo_endpoint: Option<String>,
    #[serde(default)]
    authorization_response_iss_parameter_supported: bool,
    prompt_values_supported: Option<Vec<String>>,
    device_authorization_endpoint: Option<String>,
}

pub async fn discover(http: &Http, provider: &str, issuer: &Url) -> Result<ProviderMetadata> {
    let issuer_str = issuer.as_str().trim_end_matches('/');
    let url = format!("{issuer_str}/.well-known/openid-configuration");
    let net =
        |e: reqwest::Error| Error::Network { provider: provider.to_owned(), detail: describe_transport(&e) };
    let bad = |why: String| Error::Provider { provider: provider.to_owned(), detail: why };

    let response = http.client().get(&url).send().await.map_err(net)?;
    let status = response.status();
    if !status.is_success() {
        return Err(bad(format!("its discovery document answered HTTP {status}")));
    }
    let body = crate::sanitize::read_body(response, crate::sanitize::BODY_MAX)
        .await
        .map_err(|_| bad("its discovery document is too long or was cut off".into()))?;
    let doc: Document = serde_json::from_slice(&body)
        .map_err(|_| bad("its discovery document is not valid metadata".into()))?;
    if doc.issuer != issuer_str {
        return Err(bad(format!(
            "its discovery document names the issuer “{}” instead of “{issuer_str}”, so it was discarded",
            crate::sanitize::error_text(&doc.issuer)
        )));
    }
    let endpoint = |name: &str, value: &str| -> Result<Url> {
        let url = Url::parse(value).map_err(|_| bad(format!("its {name} is not a URL")))?;
        check_endpoint(&url).map_err(bad)?;
        Ok(url)
    };
    Ok(ProviderMetadata {
        authorization_endpoint: endpoint("authorization_endpoint", &doc.authorization_endpoint)?,
        token_endpoint: endpoint("token_endpoint", &doc.token_endpoint)?,
        revocation_endpoint: doc
            .revocation_endpoint
            .as_deref()
            .map(|u| endpoint("revocation_endpoint", u))
            .transpose()?,
        userinfo_endpoint: doc
            .userinfo_endpoint
            .as_deref()
            .map(|u| endpoint("userinfo_endpoint", u))
            .transpose()?,
        iss_parameter_supported: doc.authorization_response_iss_parameter_supported,
        prompt_values_supported: doc.prompt_values_supported,
        device_authorization_endpoint: doc
            .device_authorization_endpoint
            .as_deref()
            .map(|u| endpoint("device_authorization_endpoint", u))
            .transpose()?,
        issuer: Some(doc.issuer),
    })
}
