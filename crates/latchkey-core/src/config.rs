//! Connections: every entry of the built-in catalog (`catalog.rs`), as `connections.toml` adjusts
//! it, plus the custom connections that file declares.
//!
//! ```toml
//! [[connection]]
//! id = "gmail"                     # a catalog entry: only these fields may be set
//! client_id = "1234.apps.googleusercontent.com"
//! scopes = ["openid", "email", "https://www.googleapis.com/auth/gmail.send"]
//! enabled = true
//! # redirect / redirect_port override the entry's redirect strategy
//!
//! [[connection]]
//! id = "work-gmail"                # a second connection from the same entry
//! catalog = "gmail"
//!
//! [[connection]]
//! id = "demo"                      # lowercase, digits, dashes; used in the redirect path
//! name = "Demo provider"
//! type = "oauth2"                  # oauth2 | api-key | basic-auth
//! issuer = "https://127.0.0.1:8443"  # discovery (RFC 8414 / OIDC), or the endpoints below
//! # authorize_url / token_url / revocation_url / userinfo_url / device_authorization_url
//! client_id = "latchkey"
//! scopes = ["openid", "email", "profile"]
//! redirect = "loopback"            # deep-link (default) | loopback | loopback-localhost
//! ```
//! A client secret never goes in this file: it lives in the keychain (see `service/clients.rs`).

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use url::Url;

use crate::catalog::{self, CatalogEntry};
use crate::error::{Error, Result};
use crate::model::{ConnectionId, ConnectionStatus};
use crate::protocol::{Protocol, Redirect, RedirectStrategy};

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
    /// OpenID Connect Discovery's `prompt_values_supported`; `None` when not listed.
    pub prompt_values_supported: Option<Vec<String>>,
    /// RFC 8628's device authorization endpoint: the provider offers the device flow.
    pub device_authorization_endpoint: Option<Url>,
}

/// A configured provider: how accounts of it authenticate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Connection {
    pub id: ConnectionId,
    pub name: String,
    pub kind: ConnectionKind,
    pub enabled: bool,
    /// The catalog entry it was made from, if any (`Connection::entry`).
    pub catalog: Option<&'static str>,
    /// Hosts (lowercase) whose git-over-HTTPS credentials are this connection's tokens.
    pub git_hosts: Vec<String>,
    /// The username handed to git with the token; `None`: the account's identifier.
    pub git_username: Option<String>,
    /// Where its API lives: `Latchkey::call_api` sends the account's token there and nowhere else
    /// (the catalog entry's, or `api_base` in the file for a custom connection).
    pub api_base: Option<Url>,
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
    pub redirect: Redirect,
    pub protocol: Arc<Protocol>,
}

crate::names::named_enum!(
    "type",
    /// A connection's `type`, as `connections.toml`, the catalog, the CLI and the window name it (the
    /// kind without its settings).
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
    #[cfg_attr(feature = "bindings", derive(ts_rs::TS), ts(rename = "ConnectionKindDto"))]
    pub enum ConnectionType {
        #[default]
        OAuth2 = "oauth2",
        ApiKey = "api-key",
        BasicAuth = "basic-auth",
    }
);

impl ConnectionKind {
    pub fn connection_type(&self) -> ConnectionType {
        match self {
            ConnectionKind::OAuth2(_) => ConnectionType::OAuth2,
            ConnectionKind::ApiKey => ConnectionType::ApiKey,
            ConnectionKind::BasicAuth => ConnectionType::BasicAuth,
        }
    }

    pub fn as_str(&self) -> &'static str {
        self.connection_type().as_str()
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

    /// The catalog entry this connection was made from.
    pub fn entry(&self) -> Option<&'static CatalogEntry> {
        self.catalog.and_then(catalog::entry).map(|e| &**e)
    }

    /// The catalog's provider name (for grouping and icons), or the connection's own name.
    pub fn provider(&self) -> &str {
        self.entry().map_or(self.name.as_str(), |e| e.provider.as_str())
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
    catalog: Option<String>,
    name: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
    issuer: Option<String>,
    authorize_url: Option<String>,
    token_url: Option<String>,
    revocation_url: Option<String>,
    userinfo_url: Option<String>,
    device_authorization_url: Option<String>,
    client_id: Option<String>,
    scopes: Option<Vec<String>>,
    redirect: Option<String>,
    redirect_port: Option<u16>,
    api_base: Option<String>,
    #[serde(default = "default_true")]
    enabled: bool,
    git_hosts: Option<Vec<String>>,
    git_username: Option<String>,
}

fn default_true() -> bool {
    true
}

impl RawConnection {
    /// The fields that define a custom connection's provider, which a catalog connection takes
    /// from its entry.
    fn provider_fields(&self) -> [(&'static str, bool); 7] {
        [
            ("type", self.kind.is_some()),
            ("issuer", self.issuer.is_some()),
            ("authorize_url", self.authorize_url.is_some()),
            ("token_url", self.token_url.is_some()),
            ("revocation_url", self.revocation_url.is_some()),
            ("userinfo_url", self.userinfo_url.is_some()),
            ("device_authorization_url", self.device_authorization_url.is_some()),
        ]
    }
}

/// Parses a `connections.toml` and resolves it against the built-in catalog: every catalog entry
/// (as the file adjusts it), then the file's own connections. Errors name the connection and field.
pub fn parse_connections(text: &str) -> Result<Vec<Connection>> {
    let file: File = crate::toml_data::from_str(text)
        .map_err(|e| Error::InvalidInput(format!("connections.toml is not valid: {e}")))?;
    let mut seen: Vec<&str> = Vec::new();
    for raw in &file.connections {
        if seen.contains(&raw.id.as_str()) {
            return Err(Error::InvalidInput(format!("connections.toml names “{}” twice.", raw.id)));
        }
        seen.push(&raw.id);
    }
    let mut out: Vec<Connection> = Vec::new();
    for entry in catalog::builtin().iter().filter(|e| !e.template) {
        let raw = file.connections.iter().find(|r| r.id == entry.id);
        out.push(from_entry(entry, raw, &entry.id)?);
    }
    for raw in file.connections.iter().filter(|r| catalog::entry(&r.id).is_none_or(|e| e.template)) {
        let conn = match raw.catalog.as_deref() {
            Some(c) => match catalog::entry(c).filter(|e| !e.template) {
                Some(entry) => from_entry(entry, Some(raw), &raw.id)?,
                None => {
                    return Err(Error::InvalidInput(format!(
                        "Connection “{}”: the catalog has no provider “{c}”.",
                        raw.id
                    )));
                }
            },
            None => custom(raw)?,
        };
        out.push(conn);
    }
    Ok(out)
}

/// A connection made from a catalog entry, with the file's adjustments (client id, scopes,
/// enabled, redirect).
fn from_entry(entry: &'static CatalogEntry, raw: Option<&RawConnection>, id: &str) -> Result<Connection> {
    let id = ConnectionId::new(id)?;
    if let Some(raw) = raw
        && let Some((field, _)) = raw.provider_fields().iter().find(|(_, set)| *set)
    {
        return Err(Error::InvalidInput(format!(
            "Connection “{id}” comes from the catalog ({}): `{field}` cannot be changed.",
            entry.name
        )));
    }
    if raw.is_some_and(|r| r.api_base.is_some()) {
        return Err(Error::InvalidInput(format!(
            "Connection “{id}” comes from the catalog ({}): `api_base` cannot be changed.",
            entry.name
        )));
    }
    let kind = match (&entry.kind, raw) {
        (catalog::EntryKind::OAuth2(o), raw) => {
            let metadata = o.metadata.clone().ok_or_else(|| {
                Error::InvalidInput(format!("Connection “{id}”: “{}” is a template.", entry.id))
            })?;
            let redirect = match raw.map(|r| (r.redirect.as_deref(), r.redirect_port)) {
                Some((Some(strategy), port)) => Redirect::parse(strategy, port)
                    .map_err(|why| Error::InvalidInput(format!("Connection “{id}”: {why}.")))?,
                Some((None, Some(port))) => match o.redirect {
                    Redirect::Loopback { host, .. } => Redirect::Loopback { host, port },
                    Redirect::DeepLink => {
                        return Err(Error::InvalidInput(format!(
                            "Connection “{id}”: a deep link has no port."
                        )));
                    }
                },
                _ => o.redirect,
            };
            let scopes = match raw.and_then(|r| r.scopes.as_ref()) {
                Some(s) => check_scopes(&id, s)?,
                None => entry.default_scopes(),
            };
            ConnectionKind::OAuth2(OAuth2Settings {
                endpoints: Endpoints::Explicit(Box::new(metadata)),
                client_id: raw
                    .and_then(|r| r.client_id.clone())
                    .or_else(|| entry.default_client_id.clone())
                    .filter(|c| !c.trim().is_empty()),
                scopes,
                redirect,
                protocol: o.protocol.clone(),
            })
        }
        (catalog::EntryKind::ApiKey, _) => ConnectionKind::ApiKey,
        (catalog::EntryKind::BasicAuth, _) => ConnectionKind::BasicAuth,
    };
    Ok(Connection {
        name: raw.and_then(|r| r.name.clone()).unwrap_or_else(|| {
            if id.as_str() == entry.id { entry.name.clone() } else { format!("{} ({id})", entry.name) }
        }),
        kind,
        enabled: raw.is_none_or(|r| r.enabled),
        catalog: Some(entry.id.as_str()),
        git_hosts: match raw.and_then(|r| r.git_hosts.clone()) {
            Some(hosts) => check_git_hosts(hosts).map_err(|why| named(&id, why))?,
            None => entry.git_hosts.clone(),
        },
        git_username: raw.and_then(|r| r.git_username.clone()).or_else(|| entry.git_username.clone()),
        id,
        api_base: entry.api_base.clone(),
    })
}

fn custom(raw: &RawConnection) -> Result<Connection> {
    let id = ConnectionId::new(&raw.id)?;
    let kind_name = match raw.kind.as_deref() {
        Some(t) => t.parse().map_err(|why| Error::InvalidInput(format!("Connection “{id}”: {why}.")))?,
        None => ConnectionType::default(),
    };
    let kind = match kind_name {
        ConnectionType::OAuth2 => ConnectionKind::OAuth2(oauth_settings(&id, raw)?),
        ConnectionType::ApiKey | ConnectionType::BasicAuth => {
            let oauth_only = [
                ("client_id", raw.client_id.is_some()),
                ("scopes", raw.scopes.is_some()),
                ("redirect", raw.redirect.is_some() || raw.redirect_port.is_some()),
            ];
            let set = raw.provider_fields().into_iter().skip(1).chain(oauth_only).find(|(_, set)| *set);
            if let Some((field, _)) = set {
                return Err(Error::InvalidInput(format!(
                    "Connection “{id}”: `{field}` applies to oauth2 connections only, not {}.",
                    kind_name.as_str()
                )));
            }
            if kind_name == ConnectionType::ApiKey {
                ConnectionKind::ApiKey
            } else {
                ConnectionKind::BasicAuth
            }
        }
    };
    let api_base = raw.api_base.as_deref().map(|u| api_base_url(&id, u)).transpose()?;
    Ok(Connection {
        name: raw.name.clone().unwrap_or_else(|| id.to_string()),
        kind,
        enabled: raw.enabled,
        catalog: None,
        git_hosts: check_git_hosts(raw.git_hosts.clone().unwrap_or_default())
            .map_err(|why| named(&id, why))?,
        git_username: raw.git_username.clone(),
        id,
        api_base,
    })
}

fn named(id: &ConnectionId, why: String) -> Error {
    Error::InvalidInput(format!("Connection “{id}”: {why}."))
}

/// Git hosts as git sends them in `host=` (a name, optionally `:port`), lowercased.
pub(crate) fn check_git_hosts(hosts: Vec<String>) -> std::result::Result<Vec<String>, String> {
    hosts
        .into_iter()
        .map(|h| {
            let ok = !h.is_empty()
                && h.len() <= 253
                && h.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'_'));
            if ok {
                Ok(h.to_ascii_lowercase())
            } else {
                Err(format!("git_hosts: “{h}” is not a host name"))
            }
        })
        .collect()
}

fn oauth_settings(id: &ConnectionId, raw: &RawConnection) -> Result<OAuth2Settings> {
    let field = |name: &str, value: &str| endpoint_url(id, name, value);
    let endpoints = match (&raw.issuer, &raw.authorize_url, &raw.token_url) {
        (Some(_), None, None) if raw.device_authorization_url.is_some() => {
            return Err(Error::InvalidInput(format!(
                "Connection “{id}”: `device_authorization_url` goes with `authorize_url` and `token_url`; \
                 with `issuer` it comes from the discovery document."
            )));
        }
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
            prompt_values_supported: None,
            device_authorization_endpoint: raw
                .device_authorization_url
                .as_deref()
                .map(|u| field("device_authorization_url", u))
                .transpose()?,
        })),
        _ => {
            return Err(Error::InvalidInput(format!(
                "Connection “{id}” needs either `issuer` or both `authorize_url` and `token_url`."
            )));
        }
    };
    let redirect = Redirect::parse(
        raw.redirect.as_deref().unwrap_or(RedirectStrategy::DeepLink.as_str()),
        raw.redirect_port,
    )
    .map_err(|why| Error::InvalidInput(format!("Connection “{id}”: {why}.")))?;
    Ok(OAuth2Settings {
        endpoints,
        client_id: raw.client_id.clone().filter(|c| !c.trim().is_empty()),
        scopes: check_scopes(id, raw.scopes.as_deref().unwrap_or_default())?,
        redirect,
        protocol: Arc::default(),
    })
}

/// A scope is one non-empty token without spaces, quotes or control characters (RFC 6749 §3.3).
pub(crate) fn check_scope(scope: &str) -> std::result::Result<(), String> {
    if scope.is_empty() || scope.chars().any(|c| c.is_whitespace() || c.is_control() || c == '"' || c == '\\')
    {
        Err(format!("“{scope}” is not a valid scope"))
    } else {
        Ok(())
    }
}

fn check_scopes(id: &ConnectionId, scopes: &[String]) -> Result<Vec<String>> {
    let mut out: Vec<String> = Vec::new();
    for s in scopes {
        check_scope(s).map_err(|why| Error::InvalidInput(format!("Connection “{id}”: {why}.")))?;
        if !out.contains(s) {
            out.push(s.clone());
        }
    }
    Ok(out)
}

/// Reads `path`; a missing file means the catalog as it stands.
pub fn load_connections(path: &std::path::Path) -> Result<Vec<Connection>> {
    match std::fs::read_to_string(path) {
        Ok(text) => parse_connections(&text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => parse_connections(""),
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

/// An API base: an endpoint (https, or http on loopback) with no credentials, query or fragment.
fn api_base_url(id: &ConnectionId, value: &str) -> Result<Url> {
    let url = endpoint_url(id, "api_base", value)?;
    crate::api::resolve::check_base(&url).map_err(|_| {
        Error::InvalidInput(format!("Connection “{id}”: api_base must have no user, query or fragment."))
    })?;
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

    /// The file's own connections, without the catalog's.
    fn parse_custom(text: &str) -> Result<Vec<Connection>> {
        Ok(parse_connections(text)?.into_iter().filter(|c| c.catalog.is_none()).collect())
    }

    #[test]
    fn parses_discovery_and_explicit_connections() {
        let conns = parse_custom(
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
        let conns = parse_custom(
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
            parse_custom("[[connection]]\nid = \"x\"\nissuer = \"https://a.example\"\n").expect("valid");
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
            ("[[connection]]\nid = \"x\"\ntype = \"api-key\"\napi_base = \"http://api.example\"\n", "https"),
            (
                "[[connection]]\nid = \"x\"\ntype = \"api-key\"\napi_base = \"https://u:p@api.example\"\n",
                "api_base",
            ),
            (
                "[[connection]]\nid = \"x\"\ntype = \"api-key\"\napi_base = \"https://api.example/?k=v\"\n",
                "api_base",
            ),
            ("[[connection]]\nid = \"gmail\"\napi_base = \"https://evil.example\"\n", "cannot be changed"),
        ];
        for (text, needle) in cases {
            let err = parse_custom(text).expect_err(text).to_string();
            assert!(err.contains(needle), "{err} should mention {needle}");
        }
    }

    #[test]
    fn custom_connections_take_an_api_base() {
        let conns = parse_custom(
            "[[connection]]\nid = \"crm\"\ntype = \"api-key\"\napi_base = \"https://crm.example/api/v2\"\n\n\
             [[connection]]\nid = \"local\"\nissuer = \"http://127.0.0.1:8080\"\napi_base = \"http://127.0.0.1:8080\"\n",
        )
        .expect("parse");
        assert_eq!(conns[0].api_base.as_ref().map(Url::as_str), Some("https://crm.example/api/v2"));
        assert_eq!(conns[1].api_base.as_ref().map(Url::as_str), Some("http://127.0.0.1:8080/"));
    }

    #[test]
    fn catalog_entries_are_connections_the_file_adjusts() {
        let conns = parse_connections(
            r#"
            [[connection]]
            id = "gmail"
            client_id = "123.apps.googleusercontent.com"
            scopes = ["openid", "https://www.googleapis.com/auth/gmail.send"]

            [[connection]]
            id = "work-gmail"
            catalog = "gmail"
            redirect_port = 8765

            [[connection]]
            id = "github"
            enabled = false
            "#,
        )
        .expect("valid");
        let find = |id: &str| conns.iter().find(|c| c.id.as_str() == id).expect(id);
        let gmail = find("gmail");
        assert_eq!(gmail.name, "Gmail");
        assert_eq!(gmail.provider(), "Google");
        assert_eq!(gmail.configured_status(), ConnectionStatus::Active);
        assert_eq!(gmail.scopes(), ["openid", "https://www.googleapis.com/auth/gmail.send"]);
        let work = find("work-gmail");
        assert_eq!(work.name, "Gmail (work-gmail)");
        assert_eq!(work.configured_status(), ConnectionStatus::Pending, "no client id yet");
        assert_eq!(work.scopes(), catalog::entry("gmail").expect("gmail").default_scopes());
        assert_eq!(
            work.oauth().expect("oauth").redirect,
            Redirect::Loopback { host: crate::protocol::LoopbackHost::Ip, port: 8765 }
        );
        assert_eq!(find("github").configured_status(), ConnectionStatus::Inactive);
        assert_eq!(find("slack").configured_status(), ConnectionStatus::Pending);
        assert!(conns.iter().all(|c| c.entry().is_some()), "the file declared no custom connection");
    }

    #[test]
    fn git_hosts_come_from_the_catalog_or_the_file() {
        let conns = parse_connections(
            "[[connection]]\nid = \"forge\"\ntype = \"api-key\"\ngit_hosts = [\"Git.Example.test\"]\n",
        )
        .expect("valid");
        let find = |id: &str| conns.iter().find(|c| c.id.as_str() == id).expect(id);
        assert_eq!(find("github").git_hosts, ["github.com"]);
        assert_eq!(find("github").git_username.as_deref(), Some("x-access-token"));
        assert_eq!(find("forge").git_hosts, ["git.example.test"]);
        assert_eq!(find("forge").git_username, None);
        assert!(find("gmail").git_hosts.is_empty());
        let err =
            parse_connections("[[connection]]\nid = \"x\"\ntype = \"api-key\"\ngit_hosts = [\"a b\"]\n")
                .expect_err("a space is no host");
        assert!(err.to_string().contains("git_hosts"), "{err}");
    }

    #[test]
    fn a_catalog_connection_keeps_its_endpoints() {
        for (text, needle) in [
            ("[[connection]]\nid = \"gmail\"\ntoken_url = \"https://evil.example/t\"\n", "cannot be changed"),
            ("[[connection]]\nid = \"x\"\ncatalog = \"nope\"\n", "no provider"),
            ("[[connection]]\nid = \"x\"\ncatalog = \"custom-oidc\"\n", "no provider"),
            ("[[connection]]\nid = \"github\"\nredirect_port = 5\n", "no port"),
        ] {
            let err = parse_connections(text).expect_err(text).to_string();
            assert!(err.contains(needle), "{err} should mention {needle}");
        }
    }

    #[test]
    fn connection_type_strings_are_the_serde_names() {
        for t in ConnectionType::ALL {
            assert_eq!(serde_json::to_value(t).expect("serialize"), serde_json::Value::from(t.as_str()));
        }
        let err =
            parse_custom("[[connection]]\nid = \"x\"\ntype = \"ldap\"\n").expect_err("ldap").to_string();
        assert_eq!(err, "Connection “x”: type “ldap” is unknown (use oauth2, api-key or basic-auth).");
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
