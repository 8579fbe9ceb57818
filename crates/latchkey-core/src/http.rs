//! The HTTP client every provider call goes through: no redirects followed (a token or revocation
//! call that is redirected could leak a code or token elsewhere), bounded timeouts, and the
//! platform's trust roots (TLS: the platform's stack on macOS and Windows, rustls on Linux).

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use crate::error::{Error, Result};

#[derive(Clone)]
pub struct Http {
    /// Built on first use: loading the platform's trust store costs tens of milliseconds, which a
    /// CLI call that only reads a valid token from the keychain should not pay.
    client: Arc<OnceLock<std::result::Result<reqwest::Client, String>>>,
    extra_root: Option<reqwest::Certificate>,
    /// Host names sent to fixed addresses instead of DNS (tests: a provider's real host names
    /// answered by a local server, so nothing leaves the machine).
    resolve: Vec<(String, std::net::SocketAddr)>,
}

impl Http {
    /// The client the app and the CLI use: system trust roots only (on Linux the system's bundle,
    /// or `SSL_CERT_FILE` / `SSL_CERT_DIR` when set, as for OpenSSL).
    pub fn new() -> Result<Http> {
        Ok(Http { client: Arc::default(), extra_root: None, resolve: Vec::new() })
    }

    /// A client that also trusts `ca_pem`: for tests against the local test provider.
    pub fn with_extra_root(ca_pem: &[u8]) -> Result<Http> {
        let cert = reqwest::Certificate::from_pem(ca_pem)
            .map_err(|e| Error::InvalidInput(format!("not a PEM certificate: {e}")))?;
        Ok(Http { client: Arc::default(), extra_root: Some(cert), resolve: Vec::new() })
    }

    /// The same client, with `host` resolved to `addr` (for tests; before first use).
    pub fn resolving(mut self, host: &str, addr: std::net::SocketAddr) -> Http {
        self.resolve.push((host.to_owned(), addr));
        self.client = Arc::default();
        self
    }

    /// The reqwest client. If it cannot be built (no TLS backend), a client that fails every
    /// request with that reason stands in, so callers see a network error, not a panic.
    pub(crate) fn client(&self) -> &reqwest::Client {
        static BROKEN: OnceLock<reqwest::Client> = OnceLock::new();
        match self.client.get_or_init(|| self.build().map_err(|e| e.to_string())) {
            Ok(c) => c,
            Err(why) => {
                tracing::error!("cannot build the HTTP client: {why}");
                BROKEN.get_or_init(|| reqwest::Client::builder().https_only(true).build().unwrap_or_default())
            }
        }
    }

    fn build(&self) -> std::result::Result<reqwest::Client, reqwest::Error> {
        let mut builder = reqwest::Client::builder();
        if let Some(cert) = &self.extra_root {
            builder = builder.add_root_certificate(cert.clone());
        }
        for (host, addr) in &self.resolve {
            builder = builder.resolve(host, *addr);
        }
        builder
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(30))
            .user_agent(concat!("Latchkey/", env!("CARGO_PKG_VERSION")))
            .build()
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
