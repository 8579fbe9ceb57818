//! The catalog of providers people connect: one data file per entry in `catalog/`, embedded at
//! build time. An entry is a provider's endpoints, scopes (each with a plain-language description),
//! the protocol details of [`Protocol`], its redirect strategy, and the page where the user creates
//! their own client. Entries that are not templates are connections as they stand (Pending until
//! the user gives a client id); templates (custom OpenID Connect, API key, basic auth) are the
//! starting points for connections the user names.
//!
//! ```toml
//! id = "gmail"                       # also the connection's name and the redirect path
//! name = "Gmail"
//! provider = "Google"                # grouping and icon
//! description = "…"
//! type = "oauth2"                    # oauth2 | api-key | basic-auth
//! template = false                   # true: only a starting point for a named connection
//! client_setup_url = "https://…"     # where the user creates a client
//! client_setup = "…"                 # what to create there, what to paste where
//! connected_apps_url = "https://…"   # where the user removes access by hand; {client_id} expands
//! git_hosts = ["github.com"]          # hosts whose git credentials are this provider's tokens
//! git_username = "x-access-token"     # the username git sends with the token as password
//! api_base = "https://…"             # the provider's API, where `call_api` sends the token
//!
//! [oauth2]
//! issuer = "https://…"               # checked against `iss` when the redirect carries it
//! iss_required = false               # RFC 9207: refuse a redirect without `iss`
//! authorize_url = "https://…"
//! token_url = "https://…"
//! client_secret = "required"         # required | optional | none
//! client_auth = "basic"              # basic | body
//! pkce = true
//! redirect = "loopback"              # deep-link | loopback | loopback-localhost
//! redirect_port = 53682              # a fixed port, where the provider matches it exactly
//! scope_param = "scope"              # Slack user tokens: user_scope
//! scope_separator = " "              # " " | ","
//! response = "standard"              # standard | github | slack
//! request_format = "form"            # form | json
//! extra_params = [["access_type", "offline"]]
//! scope_aliases = [["https://…/userinfo.email", "email"]]   # granted name → requested name
//! api_headers = [["Accept", "…"]]    # sent with identity and revocation calls
//! device_authorization_url = "https://…"   # RFC 8628: `latchkey connect --device` works
//! device_scopes = ["openid", "…"]     # the only scopes its device flow allows (default: any)
//! device_client_secret = "optional"   # the device flow's need of the secret (default: client_secret)
//! [oauth2.identity]                  # where the account's identity is read
//! url = "https://…"
//! method = "GET"                     # GET | POST
//! body = "null"                      # a JSON body for POST
//! subject = "sub"                    # dotted paths into the JSON answer
//! email = "email"
//! name = "name"
//! [oauth2.revocation]
//! method = "rfc7009"                 # rfc7009 | github-grant | bearer | none
//! url = "https://…"
//! [[scopes]]
//! name = "openid"
//! description = "Know that it is you"
//! default = true                     # requested unless the user changes the connection's scopes
//! ```

use std::sync::{Arc, OnceLock};

use serde::Deserialize;
use url::Url;

use crate::config::{ConnectionType, ProviderMetadata, check_endpoint};
use crate::error::{Error, Result};
use crate::protocol::{
    ClientAuth, Dialect, IdentitySpec, Protocol, Redirect, RedirectStrategy, RequestFormat, RevocationMethod,
    ScopeSeparator, SecretNeed,
};
use crate::secret::Secret;

mod files {
    include!(concat!(env!("OUT_DIR"), "/catalog_files.rs"));
}

/// One provider (or template) of the catalog.
#[derive(Debug)]
pub struct CatalogEntry {
    pub id: String,
    pub name: String,
    pub provider: String,
    pub description: String,
    pub kind: EntryKind,
    pub template: bool,
    pub scopes: Vec<ScopeInfo>,
    pub client_setup_url: Option<Url>,
    pub client_setup: Option<String>,
    /// With `{client_id}` still in it; see [`CatalogEntry::connected_apps_url`].
    connected_apps_url: Option<String>,
    /// Hosts whose git-over-HTTPS credentials are this provider's tokens (`latchkey git-credential`).
    pub git_hosts: Vec<String>,
    /// The username git sends along with the token; `None`: the account's identifier.
    pub git_username: Option<String>,
    /// The provider's documented API base URL (`Latchkey::call_api`); none for templates.
    pub api_base: Option<Url>,
    /// Baked in at build time by a distributor, if at all (see build.rs).
    pub default_client_id: Option<String>,
    pub default_client_secret: Option<Secret>,
}

#[derive(Debug)]
pub enum EntryKind {
    OAuth2(Box<CatalogOAuth>),
    ApiKey,
    BasicAuth,
}

#[derive(Debug)]
pub struct CatalogOAuth {
    /// Explicit endpoints; `None` for the custom template, whose issuer the user gives.
    pub metadata: Option<ProviderMetadata>,
    pub protocol: Arc<Protocol>,
    pub redirect: Redirect,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScopeInfo {
    pub name: String,
    pub description: String,
    pub default: bool,
}

impl CatalogEntry {
    pub fn connection_type(&self) -> ConnectionType {
        match self.kind {
            EntryKind::OAuth2(_) => ConnectionType::OAuth2,
            EntryKind::ApiKey => ConnectionType::ApiKey,
            EntryKind::BasicAuth => ConnectionType::BasicAuth,
        }
    }

    pub fn oauth(&self) -> Option<&CatalogOAuth> {
        match &self.kind {
            EntryKind::OAuth2(o) => Some(o),
            _ => None,
        }
    }

    /// The scopes requested unless the connection names others.
    pub fn default_scopes(&self) -> Vec<String> {
        self.scopes.iter().filter(|s| s.default).map(|s| s.name.clone()).collect()
    }

    /// The plain-language description of `scope`, if the catalog knows it.
    pub fn describe_scope(&self, scope: &str) -> Option<&str> {
        self.scopes.iter().find(|s| s.name == scope).map(|s| s.description.as_str())
    }

    /// Where the user removes Latchkey's access by hand, for this client id.
    pub fn connected_apps_url(&self, client_id: Option<&str>) -> Option<String> {
        let url = self.connected_apps_url.as_deref()?;
        match client_id {
            Some(id) => Some(url.replace("{client_id}", id)),
            None if url.contains("{client_id}") => None,
            None => Some(url.to_owned()),
        }
    }
}

/// The built-in catalog, parsed once. A broken data file fails the build's tests, not the user.
pub fn builtin() -> &'static [Arc<CatalogEntry>] {
    static CATALOG: OnceLock<Vec<Arc<CatalogEntry>>> = OnceLock::new();
    CATALOG.get_or_init(|| {
        files::ENTRIES
            .iter()
            .filter_map(|(file, text, client_id, secret)| match parse_entry(file, text) {
                Ok(mut entry) => {
                    entry.default_client_id = client_id.map(str::to_owned);
                    entry.default_client_secret = secret.map(Secret::new);
                    Some(Arc::new(entry))
                }
                Err(e) => {
                    tracing::error!("catalog entry {file} is broken: {e}");
                    None
                }
            })
            .collect()
    })
}

/// The built-in entry named `id`.
pub fn entry(id: &str) -> Option<&'static Arc<CatalogEntry>> {
    builtin().iter().find(|e| e.id == id)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEntry {
    id: String,
    name: String,
    provider: String,
    description: String,
    #[serde(rename = "type")]
    kind: ConnectionType,
    #[serde(default)]
    template: bool,
    client_setup_url: Option<String>,
    client_setup: Option<String>,
    connected_apps_url: Option<String>,
    #[serde(default)]
    git_hosts: Vec<String>,
    git_username: Option<String>,
    api_base: Option<String>,
    oauth2: Option<RawOAuth>,
    #[serde(default)]
    scopes: Vec<RawScope>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOAuth {
    issuer: Option<String>,
    #[serde(default)]
    iss_required: bool,
    authorize_url: Option<String>,
    token_url: Option<String>,
    #[serde(default)]
    client_secret: SecretNeed,
    #[serde(default)]
    client_auth: ClientAuth,
    pkce: Option<bool>,
    redirect: RedirectStrategy,
    redirect_port: Option<u16>,
    scope_param: Option<String>,
    #[serde(default)]
    scope_separator: ScopeSeparator,
    #[serde(default)]
    response: Dialect,
    #[serde(default)]
    request_format: RequestFormat,
    #[serde(default)]
    extra_params: Vec<(String, String)>,
    #[serde(default)]
    scope_aliases: Vec<(String, String)>,
    #[serde(default)]
    api_headers: Vec<(String, String)>,
    identity: Option<RawIdentity>,
    revocation: Option<RawRevocation>,
    device_authorization_url: Option<String>,
    device_scopes: Option<Vec<String>>,
    device_client_secret: Option<SecretNeed>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawIdentity {
    url: String,
    #[serde(default)]
    method: HttpMethod,
    body: Option<String>,
    subject: Option<String>,
    email: Option<String>,
    name: Option<String>,
}

#[derive(Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
enum HttpMethod {
    #[default]
    Get,
    Post,
}

/// `[oauth2.revocation]`: the method, and the url where it takes one.
#[derive(Deserialize)]
#[serde(tag = "method", rename_all = "kebab-case", deny_unknown_fields)]
enum RawRevocation {
    /// At the url, which becomes the metadata's `revocation_endpoint`.
    Rfc7009 {
        url: Option<String>,
    },
    GithubGrant {
        url: String,
    },
    Bearer {
        url: String,
    },
    None {},
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawScope {
    name: String,
    description: String,
    #[serde(default)]
    default: bool,
}

/// Parses one data file; `file` is its name without `.toml`, which must equal its `id`.
pub fn parse_entry(file: &str, text: &str) -> Result<CatalogEntry> {
    let bad = |why: String| Error::InvalidInput(format!("catalog entry “{file}”: {why}"));
    let raw: RawEntry = crate::toml_data::from_str(text).map_err(bad)?;
    if raw.id != file {
        return Err(bad(format!("its id “{}” differs from its file name", raw.id)));
    }
    crate::model::ConnectionId::new(&raw.id).map_err(|e| bad(e.to_string()))?;
    let url = |field: &str, value: &str| -> Result<Url> {
        let url = Url::parse(value).map_err(|e| bad(format!("{field} “{value}”: {e}")))?;
        check_endpoint(&url).map_err(|why| bad(format!("{field}: {why}")))?;
        Ok(url)
    };
    let kind = match (raw.kind, raw.oauth2) {
        (ConnectionType::OAuth2, Some(o)) => {
            EntryKind::OAuth2(Box::new(parse_oauth(o, raw.template, &url, &bad)?))
        }
        (ConnectionType::OAuth2, None) => return Err(bad("an oauth2 entry needs an [oauth2] table".into())),
        (ConnectionType::ApiKey | ConnectionType::BasicAuth, Some(_)) => {
            return Err(bad("[oauth2] applies to oauth2 entries only".into()));
        }
        (ConnectionType::ApiKey, None) => EntryKind::ApiKey,
        (ConnectionType::BasicAuth, None) => EntryKind::BasicAuth,
    };
    let mut scopes: Vec<ScopeInfo> = Vec::new();
    for s in raw.scopes {
        crate::config::check_scope(&s.name).map_err(bad)?;
        if scopes.iter().any(|x| x.name == s.name) {
            return Err(bad(format!("scope “{}” is listed twice", s.name)));
        }
        scopes.push(ScopeInfo { name: s.name, description: s.description, default: s.default });
    }
    if let Some(u) = &raw.connected_apps_url {
        url("connected_apps_url", &u.replace("{client_id}", "x"))?;
    }
    Ok(CatalogEntry {
        id: raw.id,
        name: raw.name,
        provider: raw.provider,
        description: raw.description,
        kind,
        template: raw.template,
        scopes,
        client_setup_url: raw.client_setup_url.as_deref().map(|u| url("client_setup_url", u)).transpose()?,
        client_setup: raw.client_setup,
        connected_apps_url: raw.connected_apps_url,
        git_hosts: crate::config::check_git_hosts(raw.git_hosts).map_err(bad)?,
        git_username: raw.git_username,
        api_base: match raw.api_base.as_deref() {
            Some(u) => {
                let u = url("api_base", u)?;
                crate::api::resolve::check_base(&u).map_err(|e| bad(e.to_string()))?;
                Some(u)
            }
            None => None,
        },
        default_client_id: None,
        default_client_secret: None,
    })
}

fn parse_oauth(
    o: RawOAuth,
    template: bool,
    url: &dyn Fn(&str, &str) -> Result<Url>,
    bad: &dyn Fn(String) -> Error,
) -> Result<CatalogOAuth> {
    let metadata = match (&o.authorize_url, &o.token_url, template) {
        (Some(auth), Some(token), false) => Some(ProviderMetadata {
            issuer: o.issuer.clone(),
            authorization_endpoint: url("authorize_url", auth)?,
            token_endpoint: url("token_url", token)?,
            revocation_endpoint: match &o.revocation {
                Some(RawRevocation::Rfc7009 { url: u }) => Some(url(
                    "revocation.url",
                    u.as_deref().ok_or_else(|| bad("rfc7009 needs a url".into()))?,
                )?),
                _ => None,
            },
            userinfo_endpoint: None,
            iss_parameter_supported: o.iss_required,
            prompt_values_supported: None,
            device_authorization_endpoint: o
                .device_authorization_url
                .as_deref()
                .map(|u| url("device_authorization_url", u))
                .transpose()?,
        }),
        (None, None, true) => None,
        _ => return Err(bad("an entry needs authorize_url and token_url (a template neither)".into())),
    };
    let protocol = Protocol {
        scope_separator: o.scope_separator,
        scope_aliases: o.scope_aliases,
        scope_param: o.scope_param.unwrap_or_else(|| "scope".into()),
        extra_params: o.extra_params,
        pkce: o.pkce.unwrap_or(true),
        client_secret: o.client_secret,
        client_auth: o.client_auth,
        dialect: o.response,
        request_format: o.request_format,
        api_headers: o.api_headers,
        identity: o
            .identity
            .map(|i| -> Result<IdentitySpec> {
                Ok(IdentitySpec {
                    url: url("identity.url", &i.url)?,
                    post: i.method == HttpMethod::Post,
                    body: i.body,
                    subject: i.subject,
                    email: i.email,
                    name: i.name,
                })
            })
            .transpose()?,
        revocation: match o.revocation {
            None | Some(RawRevocation::Rfc7009 { .. }) => RevocationMethod::Rfc7009,
            Some(RawRevocation::GithubGrant { url: u }) => {
                url("revocation.url", &u.replace("{client_id}", "x"))?;
                RevocationMethod::GitHubGrant { url: u }
            }
            Some(RawRevocation::Bearer { url: u }) => {
                RevocationMethod::Bearer { url: url("revocation.url", &u)? }
            }
            Some(RawRevocation::None {}) => RevocationMethod::None,
        },
        device_scopes: o.device_scopes,
        device_client_secret: o.device_client_secret,
    };
    if protocol.dialect == Dialect::Slack && protocol.scope_param != "user_scope" {
        return Err(bad("a Slack entry asks for user scopes (scope_param = \"user_scope\")".into()));
    }
    let redirect = Redirect::new(o.redirect, o.redirect_port).map_err(bad)?;
    Ok(CatalogOAuth { metadata, protocol: Arc::new(protocol), redirect })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_data_file_parses() {
        let parsed: Vec<_> = files::ENTRIES.iter().map(|(f, t, _, _)| parse_entry(f, t)).collect();
        for (r, (f, ..)) in parsed.iter().zip(files::ENTRIES) {
            assert!(r.is_ok(), "{f}: {:?}", r.as_ref().err().map(ToString::to_string));
        }
        assert_eq!(builtin().len(), files::ENTRIES.len());
        let ids: Vec<&str> = builtin().iter().filter(|e| !e.template).map(|e| e.id.as_str()).collect();
        assert_eq!(
            ids,
            [
                "atlassian",
                "discord",
                "dropbox",
                "github",
                "gmail",
                "google-calendar",
                "google-drive",
                "linear",
                "microsoft",
                "notion",
                "slack",
                "spotify"
            ]
        );
        let templates: Vec<&str> = builtin().iter().filter(|e| e.template).map(|e| e.id.as_str()).collect();
        assert_eq!(templates, ["api-key", "basic-auth", "custom-oidc"]);
    }

    #[test]
    fn every_provider_entry_says_how_to_set_it_up_and_describes_its_scopes() {
        for e in builtin().iter().filter(|e| !e.template) {
            assert!(e.client_setup_url.is_some() && e.client_setup.is_some(), "{}", e.id);
            assert!(e.scopes.iter().all(|s| !s.description.is_empty()), "{}", e.id);
            let o = e.oauth().expect("providers are OAuth");
            assert!(o.metadata.is_some(), "{}", e.id);
            // Without a revocation API, the user needs the page where they remove access by hand.
            if o.protocol.revocation == RevocationMethod::None {
                assert!(e.connected_apps_url(Some("id")).is_some(), "{}", e.id);
            }
        }
    }

    #[test]
    fn every_provider_entry_has_its_https_api_base_and_templates_have_none() {
        let expected = [
            ("gmail", "https://gmail.googleapis.com/"),
            ("google-calendar", "https://www.googleapis.com/"),
            ("google-drive", "https://www.googleapis.com/"),
            ("github", "https://api.github.com/"),
            ("slack", "https://slack.com/api"),
            ("microsoft", "https://graph.microsoft.com/"),
            ("dropbox", "https://api.dropboxapi.com/"),
            ("notion", "https://api.notion.com/"),
            ("linear", "https://api.linear.app/"),
            ("spotify", "https://api.spotify.com/"),
            ("discord", "https://discord.com/api"),
            ("atlassian", "https://api.atlassian.com/"),
        ];
        for e in builtin().iter() {
            let base = e.api_base.as_ref().map(Url::as_str);
            match expected.iter().find(|(id, _)| *id == e.id) {
                Some((_, want)) => assert_eq!(base, Some(*want), "{}", e.id),
                None => assert!(e.template && base.is_none(), "{} has no expected API base", e.id),
            }
        }
        assert_eq!(builtin().iter().filter(|e| !e.template).count(), expected.len());
    }

    #[test]
    fn connected_apps_url_takes_the_client_id() {
        let gh = entry("github").expect("github");
        assert_eq!(
            gh.connected_apps_url(Some("Iv1.abc")).as_deref(),
            Some("https://github.com/settings/connections/applications/Iv1.abc")
        );
        assert_eq!(gh.connected_apps_url(None), None);
    }

    #[test]
    fn broken_entries_are_refused_with_the_reason() {
        let cases = [
            (
                "x",
                "id = \"y\"\nname = \"n\"\nprovider = \"p\"\ndescription = \"d\"\ntype = \"api-key\"\n",
                "differs",
            ),
            (
                "x",
                "id = \"x\"\nname = \"n\"\nprovider = \"p\"\ndescription = \"d\"\ntype = \"oauth2\"\n",
                "[oauth2]",
            ),
            (
                "x",
                "id = \"x\"\nname = \"n\"\nprovider = \"p\"\ndescription = \"d\"\ntype = \"oauth2\"\n[oauth2]\nredirect = \"loopback\"\nauthorize_url = \"http://a.example/a\"\ntoken_url = \"https://a.example/t\"\n",
                "https",
            ),
            (
                "x",
                "id = \"x\"\nname = \"n\"\nprovider = \"p\"\ndescription = \"d\"\ntype = \"oauth2\"\n[oauth2]\nredirect = \"relay\"\nauthorize_url = \"https://a.example/a\"\ntoken_url = \"https://a.example/t\"\n",
                "relay",
            ),
            (
                "x",
                "id = \"x\"\nname = \"n\"\nprovider = \"p\"\ndescription = \"d\"\ntype = \"oauth2\"\n[oauth2]\nredirect = \"loopback\"\nclient_secret = \"maybe\"\nauthorize_url = \"https://a.example/a\"\ntoken_url = \"https://a.example/t\"\n",
                "maybe",
            ),
        ];
        for (file, text, needle) in cases {
            let err = parse_entry(file, text).expect_err(text).to_string();
            assert!(err.contains(needle), "{err} should mention {needle}");
        }
    }

    /// An entry with `extra` appended to its `[oauth2]` table.
    fn oauth_entry(extra: &str) -> Result<CatalogEntry> {
        parse_entry(
            "x",
            &format!(
                "id = \"x\"\nname = \"n\"\nprovider = \"p\"\ndescription = \"d\"\ntype = \"oauth2\"\n[oauth2]\n\
                 redirect = \"loopback\"\nauthorize_url = \"https://a.example/a\"\ntoken_url = \"https://a.example/t\"\n{extra}"
            ),
        )
    }

    #[test]
    fn enumerated_fields_read_their_strings_and_refuse_others() {
        let e = oauth_entry(
            "client_secret = \"none\"\nclient_auth = \"body\"\nredirect_port = 5\nscope_separator = \",\"\n\
             response = \"github\"\nrequest_format = \"json\"\n[oauth2.identity]\nurl = \"https://a.example/me\"\n\
             method = \"POST\"\n",
        )
        .expect("valid");
        let o = e.oauth().expect("oauth");
        let p = &o.protocol;
        assert_eq!(
            (p.client_secret, p.client_auth, p.scope_separator, p.dialect, p.request_format),
            (SecretNeed::None, ClientAuth::Body, ScopeSeparator::Comma, Dialect::GitHub, RequestFormat::Json)
        );
        assert!(p.identity.as_ref().is_some_and(|i| i.post));
        assert_eq!(o.redirect, Redirect::new(RedirectStrategy::Loopback, Some(5)).expect("loopback"));
        assert_eq!(*oauth_entry("").expect("defaults").oauth().expect("oauth").protocol, Protocol::default());

        for (method, url) in [("rfc7009", true), ("github-grant", true), ("bearer", true), ("none", false)] {
            let url = if url { "url = \"https://a.example/r\"\n" } else { "" };
            let e = oauth_entry(&format!("[oauth2.revocation]\nmethod = \"{method}\"\n{url}")).expect(method);
            assert_eq!(e.oauth().expect("oauth").protocol.revocation.as_str(), method);
        }
        for bad in [
            "scope_separator = \";\"\n",
            "response = \"Slack\"\n",
            "[oauth2.identity]\nurl = \"https://a.example/me\"\nmethod = \"PUT\"\n",
            "[oauth2.revocation]\nmethod = \"bearer\"\n",
            "[oauth2.revocation]\nmethod = \"none\"\nurl = \"https://a.example/r\"\n",
            "[oauth2.revocation]\nmethod = \"post\"\n",
        ] {
            assert!(oauth_entry(bad).is_err(), "{bad}");
        }
    }
}
