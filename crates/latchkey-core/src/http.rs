//! The HTTP client every provider call goes through: no redirects followed (a token or revocation
//! call that is redirected could leak a code or token elsewhere), bounded timeouts, and the
//! platform's TLS stack with the platform's roots.

use std::time::Duration;

use crate::error::{Error, Result};

#[derive(Clone)]
pub struct Http {
    pub(crate) client: reqwest::Client,
}

impl Http {
    /// The client the app and the CLI use: system trust roots only (on Linux, OpenSSL's, which also
    /// honour `SSL_CERT_FILE`).
    pub fn new() -> Result<Http> {
        Http::build(reqwest::Client::builder())
    }

    /// A client that also trusts `ca_pem`: for tests against the local test provider.
    pub fn with_extra_root(ca_pem: &[u8]) -> Result<Http> {
        let cert = reqwest::Certificate::from_pem(ca_pem)
            .map_err(|e| Error::InvalidInput(format!("not a PEM certificate: {e}")))?;
        Http::build(reqwest::Client::builder().add_root_certificate(cert))
    }

    fn build(builder: reqwest::ClientBuilder) -> Result<Http> {
        let client = builder
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(30))
            .user_agent(concat!("Latchkey/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| Error::Network { provider: "the network".into(), detail: e.to_string() })?;
        Ok(Http { client })
    }
}

/// A transport failure as a short phrase, without the URL's query (which could carry a state).
pub(crate) fn describe_transport(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "the request timed out".into()
    } else if e.is_connect() {
        "could not connect".into()
    } else if e.is_decode() || e.is_body() {
        "the response was cut off or malformed".into()
    } else {
        "the request failed".into()
    }
}
