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

/// A configured provider: how accounts of it authenticate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Connection {
    pub id: ConnectionId,
    pub name: String,
    pub kind: ConnectionKind,
    pub enabled: bool,
}

/// The three connection types of the connected-accounts guide.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConnectionKind {
    OAuth2(OAuth2Settings),
    /// A key the user pastes in; stored in the keychain, the account Active at once.
    ApiKey,
    /// A username and password; the password stored in the keychain.
    BasicAuth,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OAuth2Settings {
    pub endpoints: Endpoints,
    pub client_id: Option<String>,
    /// Set per connection, never per account: changing them means re-authorizing.
    pub scopes: Vec<String>,
}

impl ConnectionKind {
    pub fn as_str(&self) -> &'static str {
        match self {
            ConnectionKind::OAuth2(_) => "oauth2",
            ConnectionKind::ApiKey => "api-key",
            ConnectionKind::BasicAuth => "basic-auth",
        }
    }
}

impl Connection {
    /// The status the configuration alone gives: Inactive when disabled, Pending while an OAuth
    /// connection has no client id. (The core adds Error when the provider rejects the client.)
    pub fn configured_status(&self) -> ConnectionStatus {
        if !self.enabled {
            ConnectionStatus::Inactive
        } else if self.oauth().is_some_and(|o| o.client_id.as_deref().is_none_or(str::is_empty)) {
            ConnectionStatus::Pending
        } else {
            ConnectionStatus::Active
        }
    }

    pub fn oauth(&self) -> Option<&OAuth2Settings> {
        match &self.kind {
            ConnectionKind::OAuth2(o) => Some(o),
            _ => None,
        }
    }

    /// The scopes accounts of this connection are authorized for (none for API keys and basic auth).
    pub fn scopes(&self) -> &[String] {
        self.oauth().map_or(&[], |o| &o.scopes)
    }

    /// The issuer as configured (before discovery), for display.
    pub fn issuer_hint(&self) -> Option<&str> {
        match &self.oauth()?.endpoints {
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
    let file: File = toml::from_str(text)
        .map_err(|e| Error::InvalidInput(format!("connections.toml is not valid: {}", e.message())))?;
    let mut out: Vec<Connection> = Vec::new();
    for raw in file.connections {
        let id = ConnectionId::new(&raw.id)?;
        if out.iter().any(|c| c.id == id) {
            return Err(Error::InvalidInput(format!("connections.toml names “{id}” twice.")));
        }
        let kind = match raw.kind.as_str() {
            "oauth2" => ConnectionKind::OAuth2(oauth_settings(&id, &raw)?),
            "api-key" | "basic-auth" => {
                let oauth_only = [
                    ("issuer", raw.issuer.is_some()),
                    ("authorize_url", raw.authorize_url.is_some()),
                    ("token_url", raw.token_url.is_some()),
                    ("revocation_url", raw.revocation_url.is_some()),
                    ("userinfo_url", raw.userinfo_url.is_some()),
                    ("client_id", raw.client_id.is_some()),
                    ("scopes", !raw.scopes.is_empty()),
                ];
                if let Some((field, _)) = oauth_only.iter().find(|(_, set)| *set) {
                    return Err(Error::InvalidInput(format!(
                        "Connection “{id}”: `{field}` applies to oauth2 connections only, not {}.",
                        raw.kind
                    )));
                }
                if raw.kind == "api-key" { ConnectionKind::ApiKey } else { ConnectionKind::BasicAuth }
            }
            other => {
                return Err(Error::InvalidInput(format!(
                    "Connection “{id}”: type “{other}” is unknown (use oauth2, api-key or basic-auth)."
                )));
            }
        };
        out.push(Connection {
            name: raw.name.clone().unwrap_or_else(|| id.to_string()),
            id,
            kind,
            enabled: raw.enabled,
        });
    }
    Ok(out)
}

fn oauth_settings(id: &ConnectionId, raw: &RawConnection) -> Result<OAuth2Settings> {
    let field = |name: &str, value: &str| endpoint_url(id, name, value);
    let endpoints = match (&raw.issuer, &raw.authorize_url, &raw.token_url) {
        (Some(issuer), None, None) => Endpoints::Discover { issuer: field("issuer", issuer)? },
        (issuer, Some(auth), Some(token)) => Endpoints::Explicit(Box::new(ProviderMetadata {
            issuer: issuer.clone(),
            authorization_endpoint: field("authorize_url", auth)?,
            token_endpoint: field("token_url", token)?,
            revocation_endpoint: raw
                .revocation_url
                .as_deref()
                .map(|u| field("revocation_url", u))
                .transpose()?,
            userinfo_endpoint: raw.userinfo_url.as_deref().map(|u| field("userinfo_url", u)).transpose()?,
            iss_parameter_supported: false,
        })),
        _ => {
            return Err(Error::InvalidInput(format!(
                "Connection “{id}” needs either `issuer` or both `authorize_url` and `token_url`."
            )));
        }
    };
    let mut scopes: Vec<String> = Vec::new();
    for s in &raw.scopes {
        if s.is_empty() || s.chars().any(|c| c.is_whitespace() || c.is_control() || c == '"' || c == '\\') {
            return Err(Error::InvalidInput(format!("Connection “{id}”: “{s}” is not a valid scope.")));
        }
        if !scopes.contains(s) {
            scopes.push(s.clone());
        }
    }
    Ok(OAuth2Settings { endpoints, client_id: raw.client_id.clone(), scopes })
}

/// Reads `path`; a missing file means no connections yet.
pub fn load_connections(path: &std::path::Path) -> Result<Vec<Connection>> {
    match std::fs::read_to_string(path) {
        Ok(text) => parse_connections(&text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(Error::InvalidInput(format!("Cannot read {}: {e}", path.display()))),
    }
}

fn endpoint_url(id: &ConnectionId, field: &str, value: &str) -> Result<Url> {
    let url = Url::parse(value).map_err(|e| {
        Error::InvalidInput(format!("Connection “{id}”: {field} “{value}” is not a URL ({e})."))
    })?;
    check_endpoint(&url).map_err(|why| Error::InvalidInput(format!("Connection “{id}”: {field}: {why}")))?;
    Ok(url)
}

/// Endpoints must be https; plain http is accepted only on loopback addresses, where nothing
/// crosses a network (RFC 8252 §8.3 treats loopback as local to the device).
pub fn check_endpoint(url: &Url) -> std::result::Result<(), String> {
    match url.scheme() {
        "https" => Ok(()),
        "http" if is_loopback(url) => Ok(()),
        "http" => {
            Err(format!("{url} must use https (http is allowed only on 127.0.0.1 / [::1] / localhost)."))
        }
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
        assert_eq!(conns[0].configured_status(), ConnectionStatus::Active);
        assert_eq!(conns[0].issuer_hint(), Some("https://127.0.0.1:9000"));
        assert_eq!(conns[1].name, "manual");
        assert_eq!(conns[1].configured_status(), ConnectionStatus::Inactive);
        let Endpoints::Explicit(m) = &conns[1].oauth().expect("oauth2").endpoints else { panic!("explicit") };
        assert_eq!(m.revocation_endpoint.as_ref().map(Url::as_str), Some("https://auth.example/revoke"));
    }

    #[test]
    fn api_key_and_basic_auth_connections() {
        let conns = parse_connections(
            "[[connection]]\nid = \"crm\"\ntype = \"api-key\"\nname = \"CRM\"\n\
             [[connection]]\nid = \"desk\"\ntype = \"basic-auth\"\n",
        )
        .expect("valid");
        assert_eq!(conns[0].kind, ConnectionKind::ApiKey);
        assert_eq!(conns[1].kind, ConnectionKind::BasicAuth);
        assert!(
            conns.iter().all(|c| c.configured_status() == ConnectionStatus::Active && c.scopes().is_empty())
        );
    }

    #[test]
    fn a_connection_without_client_id_is_pending() {
        let conns =
            parse_connections("[[connection]]\nid = \"x\"\nissuer = \"https://a.example\"\n").expect("valid");
        assert_eq!(conns[0].configured_status(), ConnectionStatus::Pending);
    }

    #[test]
    fn rejects_bad_configuration_with_a_sentence() {
        let cases = [
            ("[[connection]]\nid = \"x\"\nissuer = \"http://evil.example\"\n", "https"),
            (
                "[[connection]]\nid = \"Bad Name\"\nissuer = \"https://a.example\"\n",
                "not a valid connection name",
            ),
            ("[[connection]]\nid = \"x\"\n", "needs either"),
            (
                "[[connection]]\nid = \"x\"\ntype = \"api-key\"\nissuer = \"https://a.example\"\n",
                "oauth2 connections only",
            ),
            ("[[connection]]\nid = \"x\"\ntype = \"ldap\"\n", "unknown"),
            (
                "[[connection]]\nid = \"x\"\nissuer = \"https://a.example\"\nscopes = [\"a b\"]\n",
                "not a valid scope",
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
        for ok in ["https://a.example/x", "http://127.0.0.1:80/x", "http://[::1]/x", "http://localhost:5/x"] {
            assert!(check_endpoint(&Url::parse(ok).expect("url")).is_ok(), "{ok}");
        }
        for bad in ["http://10.0.0.1/x", "http://a.example/x", "ftp://127.0.0.1/x", "file:///etc/passwd"] {
            assert!(check_endpoint(&Url::parse(bad).expect("url")).is_err(), "{bad}");
        }
    }
}
