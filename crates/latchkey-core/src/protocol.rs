//! How one provider speaks OAuth 2.0: the parts RFC 6749 leaves open or that providers bend.
//! A catalog entry (`catalog/*.toml`) fills these in; a custom connection gets the RFC defaults.
//! The code that talks to providers (`oauth/`) reads them here and nowhere else, so a provider's
//! quirks live in its data file, not in `if provider == …` branches. The enumerated fields
//! deserialize from the catalog's strings (`catalog.rs`).

use serde::{Deserialize, Serialize};
use url::Url;

/// The protocol details of a provider. `Default` is plain RFC 6749 + 7636 + 7009 + OIDC userinfo.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Protocol {
    /// Between scopes in the authorization request and in the token response's `scope`.
    pub scope_separator: ScopeSeparator,
    /// Granted scopes the provider names differently from how they were asked for, as
    /// `(granted, requested)`: Google grants `email` as `…/auth/userinfo.email`.
    pub scope_aliases: Vec<(String, String)>,
    /// The authorization parameter that carries the scopes (`scope`; Slack's user tokens:
    /// `user_scope`).
    pub scope_param: String,
    /// Added to every authorization request, in order (Google: `access_type=offline`, …).
    pub extra_params: Vec<(String, String)>,
    /// PKCE S256 (RFC 7636). Off only for providers that reject it (Notion, Atlassian).
    pub pkce: bool,
    pub client_secret: SecretNeed,
    /// How the client authenticates at the token endpoint when it has a secret.
    pub client_auth: ClientAuth,
    /// How the token endpoint's answers deviate from RFC 6749 §5.
    pub dialect: Dialect,
    /// The body of token and revocation requests: a form (RFC 6749), or JSON (Notion).
    pub request_format: RequestFormat,
    /// Sent with every API call (identity, revocation): GitHub's `Accept`, Notion's version.
    pub api_headers: Vec<(String, String)>,
    /// Where the account's identity comes from; `None`: the OIDC userinfo endpoint, if any.
    pub identity: Option<IdentitySpec>,
    pub revocation: RevocationMethod,
    /// The only scopes the provider allows in its device flow (RFC 8628); `None`: any.
    pub device_scopes: Option<Vec<String>>,
    /// Whether the device flow needs the client secret, where it differs from `client_secret`.
    pub device_client_secret: Option<SecretNeed>,
}

impl Default for Protocol {
    fn default() -> Self {
        Protocol {
            scope_separator: ScopeSeparator::default(),
            scope_aliases: Vec::new(),
            scope_param: "scope".into(),
            extra_params: Vec::new(),
            pkce: true,
            client_secret: SecretNeed::default(),
            client_auth: ClientAuth::default(),
            dialect: Dialect::default(),
            request_format: RequestFormat::default(),
            api_headers: Vec::new(),
            identity: None,
            revocation: RevocationMethod::Rfc7009,
            device_scopes: None,
            device_client_secret: None,
        }
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
pub enum ScopeSeparator {
    #[default]
    #[serde(rename = " ")]
    Space,
    #[serde(rename = ",")]
    Comma,
}

impl ScopeSeparator {
    pub fn as_char(self) -> char {
        match self {
            ScopeSeparator::Space => ' ',
            ScopeSeparator::Comma => ',',
        }
    }

    pub fn join(self, scopes: &[String]) -> String {
        scopes.join(&self.as_char().to_string())
    }

    /// Splits a `scope` value. Lenient on purpose: a comma provider that answers with spaces (or
    /// both) still reads right.
    pub fn split(self, value: &str) -> Vec<String> {
        value
            .split(|c: char| c == ' ' || c == self.as_char())
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect()
    }
}

/// Whether the provider needs the client secret (kept in the keychain, never in a file).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SecretNeed {
    /// Every token request needs it (Google "Desktop app" clients, GitHub, Notion, Atlassian).
    Required,
    /// Sent when the user set one (a confidential custom client).
    #[default]
    Optional,
    /// A public client: never sent.
    None,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ClientAuth {
    /// `Authorization: Basic base64(client_id:client_secret)` (RFC 6749 §2.3.1, the default).
    #[default]
    Basic,
    /// `client_id` and `client_secret` in the form body.
    Body,
}

/// Token-endpoint answers that are not RFC 6749 §5.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Dialect {
    #[default]
    Standard,
    /// GitHub: errors come back as HTTP 200 with an `error` member.
    GitHub,
    /// Slack: `{"ok": false, "error": …}` with HTTP 200; a user token under `authed_user`.
    Slack,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RequestFormat {
    #[default]
    Form,
    Json,
}

/// An identity endpoint and where the identity sits in its JSON answer (dotted paths).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdentitySpec {
    pub url: Url,
    /// GET, or POST (Slack, Dropbox, Linear's GraphQL).
    pub post: bool,
    /// A JSON body for the POST (Dropbox wants `null`, Linear a GraphQL query).
    pub body: Option<String>,
    pub subject: Option<String>,
    pub email: Option<String>,
    pub name: Option<String>,
}

/// How a grant is revoked at the provider.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RevocationMethod {
    /// RFC 7009 at the metadata's `revocation_endpoint` (none configured: nothing to call).
    Rfc7009,
    /// GitHub: `DELETE {url}` (`{client_id}` substituted) with Basic client credentials and
    /// `{"access_token": …}`: ends the whole grant.
    GitHubGrant { url: String },
    /// `POST {url}` authenticated with the access token itself (Slack `auth.revoke`, Dropbox).
    Bearer { url: Url },
    /// The provider has no revocation API: tokens are deleted locally and the user is sent to
    /// `connected_apps_url`.
    None,
}

impl RevocationMethod {
    pub fn as_str(&self) -> &'static str {
        match self {
            RevocationMethod::Rfc7009 => "rfc7009",
            RevocationMethod::GitHubGrant { .. } => "github-grant",
            RevocationMethod::Bearer { .. } => "bearer",
            RevocationMethod::None => "none",
        }
    }
}

/// Where the browser sends the user back to (RFC 8252 §7).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Redirect {
    /// `<scheme>:/oauth/{connection}/callback`, delivered to the app by the OS.
    DeepLink,
    /// `http://{host}:{port}/oauth/{connection}/callback`, a one-shot listener; port 0: any port.
    Loopback { host: LoopbackHost, port: u16 },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LoopbackHost {
    /// `127.0.0.1`, as RFC 8252 §7.3 recommends.
    Ip,
    /// `localhost` (Microsoft accepts any port only for this name): listens on 127.0.0.1 and ::1.
    Localhost,
}

impl LoopbackHost {
    pub fn as_str(self) -> &'static str {
        match self {
            LoopbackHost::Ip => "127.0.0.1",
            LoopbackHost::Localhost => "localhost",
        }
    }
}

crate::names::named_enum!(
    "redirect",
    /// A redirect as the configuration names it: `deep-link`, `loopback` or `loopback-localhost`.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
    #[cfg_attr(feature = "bindings", derive(ts_rs::TS), ts(rename = "RedirectStrategyDto"))]
    pub enum RedirectStrategy {
        DeepLink = "deep-link",
        Loopback = "loopback",
        LoopbackLocalhost = "loopback-localhost",
    }
);

impl Redirect {
    /// The redirect of `strategy`, with an optional fixed port (none for a deep link).
    pub fn new(strategy: RedirectStrategy, port: Option<u16>) -> Result<Redirect, String> {
        let host = match strategy {
            RedirectStrategy::DeepLink if port.is_some() => return Err("a deep link has no port".into()),
            RedirectStrategy::DeepLink => return Ok(Redirect::DeepLink),
            RedirectStrategy::Loopback => LoopbackHost::Ip,
            RedirectStrategy::LoopbackLocalhost => LoopbackHost::Localhost,
        };
        Ok(Redirect::Loopback { host, port: port.unwrap_or(0) })
    }

    /// Parses `deep-link`, `loopback`, `loopback-localhost`, with an optional fixed port.
    pub fn parse(strategy: &str, port: Option<u16>) -> Result<Redirect, String> {
        Redirect::new(strategy.parse()?, port)
    }

    pub fn strategy(self) -> RedirectStrategy {
        match self {
            Redirect::DeepLink => RedirectStrategy::DeepLink,
            Redirect::Loopback { host: LoopbackHost::Ip, .. } => RedirectStrategy::Loopback,
            Redirect::Loopback { host: LoopbackHost::Localhost, .. } => RedirectStrategy::LoopbackLocalhost,
        }
    }

    pub fn as_str(self) -> &'static str {
        self.strategy().as_str()
    }

    pub fn is_loopback(self) -> bool {
        matches!(self, Redirect::Loopback { .. })
    }

    /// The redirect URI as it is registered at the provider: the deep link exactly; the loopback
    /// one with `{port}` where any port is accepted.
    pub fn registered_uri(self, scheme: &str, connection: &str) -> String {
        match self {
            Redirect::DeepLink => format!("{scheme}:/oauth/{connection}/callback"),
            Redirect::Loopback { host, port: 0 } => {
                format!("http://{}/oauth/{connection}/callback (any port)", host.as_str())
            }
            Redirect::Loopback { host, port } => {
                format!("http://{}:{port}/oauth/{connection}/callback", host.as_str())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_split_and_join_by_the_providers_separator() {
        let scopes = vec!["repo".to_owned(), "read:user".to_owned()];
        assert_eq!(ScopeSeparator::Comma.join(&scopes), "repo,read:user");
        assert_eq!(ScopeSeparator::Comma.split("repo,read:user"), scopes);
        assert_eq!(ScopeSeparator::Comma.split("repo, read:user"), scopes);
        assert_eq!(ScopeSeparator::Space.split(" repo  read:user "), scopes);
        assert_eq!(ScopeSeparator::Space.split("a,b"), vec!["a,b".to_owned()]);
    }

    #[test]
    fn redirect_strategies_parse() {
        assert_eq!(Redirect::parse("deep-link", None), Ok(Redirect::DeepLink));
        assert_eq!(
            Redirect::parse("loopback-localhost", Some(53682)),
            Ok(Redirect::Loopback { host: LoopbackHost::Localhost, port: 53682 })
        );
        assert!(Redirect::parse("deep-link", Some(1)).is_err());
        assert!(Redirect::parse("relay", None).is_err_and(|e| e.contains("“relay” is unknown")));
        assert_eq!(
            Redirect::parse("loopback", None).map(|r| r.registered_uri("x", "gmail")),
            Ok("http://127.0.0.1/oauth/gmail/callback (any port)".into())
        );
    }

    #[test]
    fn redirect_strategy_strings_are_the_serde_names() {
        for &r in RedirectStrategy::ALL {
            assert_eq!(r.as_str().parse(), Ok(r));
            assert_eq!(Redirect::new(r, None).map(Redirect::strategy), Ok(r));
        }
    }
}
