//! Connections as configured in `connections.toml`.
//!
//! ```toml
//! [[connection]]
//! id = "demo"                      # lowercase, digits, dashes; used in the redirect path
//! name = "Demo provider"
//! type = "oauth2"
//! issuer = "https://127.0.0.1:8443"  # discovery (RFC 8414 / OIDC), or the endpoints below
//! # authorize_url / token_url / revocation_url / userinfo_url
//! client_id = "latchkey"
//! scopes = ["openid", "email", "profile"]
//! enabled = true
//! ```
//! The catalog of real providers (issue #4) will produce the same `Connection` values.

use serde::Deserialize;
use url::Url;

use crate::error::{Error, Result};
use crate::model::{ConnectionId, ConnectionStatus};

/// Where a connection's endpoints come from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Endpoints {
    /// Fetched from `{issuer}/.well-known/openid-configuration` on first use, `issuer` checked.
    Discover {
        issuer: Url,
    },
    Explicit(Box<ProviderMetadata>),
}

/// The endpoints a flow needs, from discovery or from the configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProviderMetadata {
    pub issuer: Option<String>,
    pub authorization_endpoint: Url,
    pub token_endpoint: Url,
    pub revocation_endpoint: Option<Url>,
    pub userinfo_endpoint: Option<Url>,
    /// RFC 9207: when true, an authorization response without `iss` is rejected.
    pub iss_parameter_supported: bool,
}

/// A configured OAuth 2.0 provider.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Connection {
    pub id: ConnectionId,
    pub name: String,
    pub endpoints: Endpoints,
    pub client_id: Option<String>,
    pub scopes: Vec<String>,
    pub enabled: bool,
}

impl Connection {
    pub fn status(&self) -> ConnectionStatus {
        if !self.enabled {
            ConnectionStatus::Inactive
        } else if self.client_id.as_deref().is_none_or(str::is_empty) {
            ConnectionStatus::Pending
        } else {
            ConnectionStatus::Active
        }
    }

    /// The issuer as configured (before discovery), for display.
    pub fn issuer_hint(&self) -> Option<&str> {
        match &self.endpoints {
            Endpoints::Discover { issuer } => Some(issuer.as_str().trim_end_matches('/')),
            Endpoints::Explicit(m) => m.issuer.as_deref(),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default, rename = "connection")]
    connections: Vec<RawConnection>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConnection {
    id: String,
    name: Option<String>,
    #[serde(rename = "type", default = "default_type")]
    kind: String,
    issuer: Option<String>,
    authorize_url: Option<String>,
    token_url: Option<String>,
    revocation_url: Option<String>,
    userinfo_url: Option<String>,
    client_id: Option<String>,
    #[serde(default)]
    scopes: Vec<String>,
    #[serde(default = "default_true")]
    enabled: bool,
}

fn default_type() -> String {
    "oauth2".into()
}
fn default_true() -> bool {
    true
}

/// Parses a `connections.toml`. Errors name the connection and the field.
pub fn parse_connections(text: &str) -> Result<Vec<Connection>> {
    let file: File = toml::from_str(text).map_err(|e| {
        Error::InvalidInput(format!("connections.toml is not valid: {}", e.message()))
    })?;
    let mut out: Vec<Connection> = Vec::new();
    for raw in file.connections {
        let id = ConnectionId::new(&raw.id)?;
        if out.iter().any(|c| c.id == id) {
            return Err(Error::InvalidInput(format!(
                "connections.toml names “{id}” twice."
            )));
        }
        if raw.kind != "oauth2" {
            return Err(Error::InvalidInput(format!(
                "Connection “{id}”: type “{}” is not supported yet (only oauth2).",
                raw.kind
            )));
        }
        let field = |name: &str, value: &str| endpoint_url(&id, name, value);
        let endpoints = match (&raw.issuer, &raw.authorize_url, &raw.token_url) {
            (Some(issuer), None, None) => Endpoints::Discover {
                issuer: field("issuer", issuer)?,
            },
            (issuer, Some(auth), Some(token)) => Endpoints::Explicit(Box::new(ProviderMetadata {
                issuer: issuer.clone(),
                authorization_endpoint: field("authorize_url", auth)?,
                token_endpoint: field("token_url", token)?,
                revocation_endpoint: raw
                    .revocation_url
                    .as_deref()
                    .map(|u| field("revocation_url", u))
                    .transpose()?,
                userinfo_endpoint: raw
                    .userinfo_url
                    .as_deref()
                    .map(|u| field("userinfo_url", u))
                    .transpose()?,
                iss_parameter_supported: false,
            })),
            _ => {
                return Err(Error::InvalidInput(format!(
                    "Connection “{id}” needs either `issuer` or both `authorize_url` and `token_url`."
                )));
            }
        };
        out.push(Connection {
            name: raw.name.unwrap_or_else(|| id.to_string()),
            id,
            endpoints,
            client_id: raw.client_id,
            scopes: raw.scopes,
            enabled: raw.enabled,
        });
    }
    Ok(out)
}

/// Reads `path`; a missing file means no connections yet.
pub fn load_connections(path: &std::path::Path) -> Result<Vec<Connection>> {
    match std::fs::read_to_string(path) {
        Ok(text) => parse_connections(&text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(Error::InvalidInput(format!(
            "Cannot read {}: {e}",
            path.display()
        ))),
    }
}

fn endpoint_url(id: &ConnectionId, field: &str, value: &str) -> Result<Url> {
    let url = Url::parse(value).map_err(|e| {
        Error::InvalidInput(format!(
            "Connection “{id}”: {field} “{value}” is not a URL ({e})."
        ))
    })?;
    check_endpoint(&url)
        .map_err(|why| Error::InvalidInput(format!("Connection “{id}”: {field}: {why}")))?;
    Ok(url)
}

/// Endpoints must be https; plain http is accepted only on loopback addresses, where nothing
/// crosses a network (RFC 8252 §8.3 treats loopback as local to the device).
pub fn check_endpoint(url: &Url) -> std::result::Result<(), String> {
    match url.scheme() {
        "https" => Ok(()),
        "http" if is_loopback(url) => Ok(()),
        "http" => Err(format!(
            "{url} must use https (http is allowed only on 127.0.0.1 / [::1] / localhost)."
        )),
        other => Err(format!("{url}: scheme “{other}” is not allowed.")),
    }
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d == "localhost",
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_discovery_and_explicit_connections() {
        let conns = parse_connections(
            r#"
            [[connection]]
            id = "demo"
            name = "Demo"
            issuer = "https://127.0.0.1:9000"
            client_id = "latchkey"
            scopes = ["openid", "email"]

            [[connection]]
            id = "manual"
            authorize_url = "https://auth.example/authorize"
            token_url = "https://auth.example/token"
            revocation_url = "https://auth.example/revoke"
            enabled = false
            "#,
        )
        .expect("valid");
        assert_eq!(conns.len(), 2);
        assert_eq!(conns[0].status(), ConnectionStatus::Active);
        assert_eq!(conns[0].issuer_hint(), Some("https://127.0.0.1:9000"));
        assert_eq!(conns[1].name, "manual");
        assert_eq!(conns[1].status(), ConnectionStatus::Inactive);
        let Endpoints::Explicit(m) = &conns[1].endpoints else {
            panic!("explicit")
        };
        assert_eq!(
            m.revocation_endpoint.as_ref().map(Url::as_str),
            Some("https://auth.example/revoke")
        );
    }

    #[test]
    fn a_connection_without_client_id_is_pending() {
        let conns =
            parse_connections("[[connection]]\nid = \"x\"\nissuer = \"https://a.example\"\n")
                .expect("valid");
        assert_eq!(conns[0].status(), ConnectionStatus::Pending);
    }

    #[test]
    fn rejects_bad_configuration_with_a_sentence() {
        let cases = [
            (
                "[[connection]]\nid = \"x\"\nissuer = \"http://evil.example\"\n",
                "https",
            ),
            (
                "[[connection]]\nid = \"Bad Name\"\nissuer = \"https://a.example\"\n",
                "not a valid connection name",
            ),
            ("[[connection]]\nid = \"x\"\n", "needs either"),
            (
                "[[connection]]\nid = \"x\"\ntype = \"api-key\"\nissuer = \"https://a.example\"\n",
                "not supported",
            ),
            (
                "[[connection]]\nid = \"x\"\nissuer = \"https://a.example\"\n[[connection]]\nid = \"x\"\nissuer = \"https://a.example\"\n",
                "twice",
            ),
            ("[[connection]]\nid = \"x\"\nbogus = 1\n", "not valid"),
        ];
        for (text, needle) in cases {
            let err = parse_connections(text).expect_err(text).to_string();
            assert!(err.contains(needle), "{err} should mention {needle}");
        }
    }

    #[test]
    fn http_only_on_loopback() {
        for ok in [
            "https://a.example/x",
            "http://127.0.0.1:80/x",
            "http://[::1]/x",
            "http://localhost:5/x",
        ] {
            assert!(
                check_endpoint(&Url::parse(ok).expect("url")).is_ok(),
                "{ok}"
            );
        }
        for bad in [
            "http://10.0.0.1/x",
            "http://a.example/x",
            "ftp://127.0.0.1/x",
            "file:///etc/passwd",
        ] {
            assert!(
                check_endpoint(&Url::parse(bad).expect("url")).is_err(),
                "{bad}"
            );
        }
    }
}
