//! Every catalog entry against the field notes (docs: ../shared/docs/oauth-field-notes.md §2): the
//! authorization URL it builds, the token, refresh, identity and revocation requests it sends, and
//! the provider's quirky answers read from realistic bodies. The providers' real host names are
//! answered by a local HTTPS server (`fake_https`), so the real HTTP client sends real bytes and
//! nothing leaves the machine. (Linux only: the fake server uses OpenSSL, which the other OSes'
//! test runs do not have.)
#![cfg(target_os = "linux")]

use std::sync::Arc;

use crate::fake_https::{Answer, FakeHttps, Request};
use latchkey_core::http::Http;
use latchkey_core::model::{AccountStatus, Actor};
use latchkey_core::secret::Secret;
use latchkey_core::vault::MemoryStore;
use latchkey_core::{ConnectionChange, Latchkey, Options};
use url::Url;

const SCHEME: &str = "io.latchkey.desktop";
const CLIENT_ID: &str = "client-123";
const CLIENT_SECRET: &str = "s3cret-xyz";

/// How the redirect must look (field notes §2, "desktop redirect").
#[derive(Clone, Copy)]
enum Redirect {
    DeepLink,
    /// Host, and the fixed port if the provider matches it exactly.
    Loopback(&'static str, Option<u16>),
}

/// How the client must authenticate at the token endpoint.
#[derive(Clone, Copy, PartialEq)]
enum ClientAuth {
    /// Public client: `client_id` in the body, no secret anywhere.
    Public,
    /// `client_id` and `client_secret` in the body.
    Body,
    /// `Authorization: Basic`.
    Basic,
}

#[derive(Clone, Copy)]
enum Revoke {
    /// RFC 7009 POST to this URL, form (or JSON) `token=`.
    Rfc7009(&'static str),
    GitHubGrant,
    /// POST with the access token as bearer.
    Bearer(&'static str),
    None,
}

struct Case {
    entry: &'static str,
    authorize: &'static str,
    token: &'static str,
    redirect: Redirect,
    /// The scope parameter's name and exact value.
    scope: Option<(&'static str, &'static str)>,
    extra: &'static [(&'static str, &'static str)],
    pkce: bool,
    auth: ClientAuth,
    json_body: bool,
    /// `iss` the redirect carries (and must carry, when `iss_required`).
    iss: Option<&'static str>,
    iss_required: bool,
    token_answer: &'static str,
    identity_url: &'static str,
    identity_post: bool,
    identity_answer: &'static str,
    /// Subject, email, name as read.
    identity: (&'static str, Option<&'static str>, Option<&'static str>),
    granted: &'static [&'static str],
    revoke: Revoke,
    /// Headers every API call carries.
    api_headers: &'static [(&'static str, &'static str)],
}

const GOOGLE_TOKEN: &str = r#"{"access_token":"ya29.a0AfB_test-access","expires_in":3599,"refresh_token":"1//0g-test-refresh","scope":"https://www.googleapis.com/auth/userinfo.email openid SCOPE","token_type":"Bearer","id_token":"eyJhbGciOiJSUzI1NiJ9.e30.sig"}"#;
const GOOGLE_USER: &str = r#"{"sub":"110169484474386276334","name":"Ada Lovelace","given_name":"Ada","picture":"https://lh3.googleusercontent.com/a/x","email":"ada@gmail.com","email_verified":true}"#;

fn cases() -> Vec<Case> {
    let google = |entry, scope: &'static str| Case {
        entry,
        authorize: "https://accounts.google.com/o/oauth2/v2/auth",
        token: "https://oauth2.googleapis.com/token",
        redirect: Redirect::Loopback("127.0.0.1", None),
        scope: Some(("scope", scope)),
        extra: &[("access_type", "offline"), ("prompt", "consent"), ("include_granted_scopes", "true")],
        pkce: true,
        auth: ClientAuth::Body,
        json_body: false,
        iss: Some("https://accounts.google.com"),
        iss_required: false,
        token_answer: GOOGLE_TOKEN,
        identity_url: "https://openidconnect.googleapis.com/v1/userinfo",
        identity_post: false,
        identity_answer: GOOGLE_USER,
        identity: ("110169484474386276334", Some("ada@gmail.com"), Some("Ada Lovelace")),
        granted: &[],
        revoke: Revoke::Rfc7009("https://oauth2.googleapis.com/revoke"),
        api_headers: &[],
    };
    vec![
        google("gmail", "openid email https://www.googleapis.com/auth/gmail.readonly"),
        google("google-calendar", "openid email https://www.googleapis.com/auth/calendar.readonly"),
        google("google-drive", "openid email https://www.googleapis.com/auth/drive.readonly"),
        Case {
            entry: "github",
            authorize: "https://github.com/login/oauth/authorize",
            token: "https://github.com/login/oauth/access_token",
            redirect: Redirect::DeepLink,
            scope: Some(("scope", "read:user user:email")),
            extra: &[],
            pkce: true,
            auth: ClientAuth::Body,
            json_body: false,
            iss: Some("https://github.com/login/oauth"),
            iss_required: false,
            token_answer: r#"{"access_token":"gho_16C7e42F292c6912E7710c838347Ae178B4a","token_type":"bearer","scope":"read:user,user:email"}"#,
            identity_url: "https://api.github.com/user",
            identity_post: false,
            identity_answer: r#"{"login":"octocat","id":583231,"node_id":"MDQ6VXNlcjU4MzIzMQ==","name":"The Octocat","email":"octocat@github.com","type":"User"}"#,
            identity: ("583231", Some("octocat@github.com"), Some("octocat")),
            granted: &["read:user", "user:email"],
            revoke: Revoke::GitHubGrant,
            api_headers: &[("Accept", "application/vnd.github+json"), ("X-GitHub-Api-Version", "2022-11-28")],
        },
        Case {
            entry: "slack",
            authorize: "https://slack.com/oauth/v2/authorize",
            token: "https://slack.com/api/oauth.v2.access",
            redirect: Redirect::DeepLink,
            scope: Some(("user_scope", "users:read,channels:read")),
            extra: &[],
            pkce: true,
            auth: ClientAuth::Public,
            json_body: false,
            iss: None,
            iss_required: false,
            token_answer: r#"{"ok":true,"app_id":"A0KRD7HC3","authed_user":{"id":"U1234","scope":"users:read,channels:read","access_token":"xoxp-1234-test","token_type":"user","refresh_token":"xoxe-1-test","expires_in":43200},"team":{"id":"T9TK3CUKW","name":"Acme"},"enterprise":null,"is_enterprise_install":false}"#,
            identity_url: "https://slack.com/api/auth.test",
            identity_post: true,
            identity_answer: r#"{"ok":true,"url":"https://acme.slack.com/","team":"Acme","user":"ada","team_id":"T9TK3CUKW","user_id":"U1234"}"#,
            identity: ("U1234", None, Some("ada")),
            granted: &["users:read", "channels:read"],
            revoke: Revoke::Bearer("https://slack.com/api/auth.revoke"),
            api_headers: &[],
        },
        Case {
            entry: "microsoft",
            authorize: "https://login.microsoftonline.com/common/oauth2/v2.0/authorize",
            token: "https://login.microsoftonline.com/common/oauth2/v2.0/token",
            redirect: Redirect::Loopback("localhost", None),
            scope: Some(("scope", "openid email offline_access User.Read")),
            extra: &[],
            pkce: true,
            auth: ClientAuth::Public,
            json_body: false,
            iss: None,
            iss_required: false,
            token_answer: r#"{"token_type":"Bearer","scope":"openid email profile offline_access User.Read","expires_in":3600,"ext_expires_in":3600,"access_token":"EwBwA8l6BAAU-test","refresh_token":"M.C507_BAY.0.U.-test","id_token":"eyJ0eXAiOiJKV1QifQ.e30.sig"}"#,
            identity_url: "https://graph.microsoft.com/oidc/userinfo",
            identity_post: false,
            identity_answer: r#"{"sub":"OLu859SGc2Sr9ZsqbkG-QbeLgJlb41KcdiPoLYNpSFA","name":"Mikah Ollenburg","family_name":"Ollenburg","given_name":"Mikah","email":"mikoll@contoso.com"}"#,
            identity: (
                "OLu859SGc2Sr9ZsqbkG-QbeLgJlb41KcdiPoLYNpSFA",
                Some("mikoll@contoso.com"),
                Some("Mikah Ollenburg"),
            ),
            granted: &["openid", "email", "profile", "offline_access", "User.Read"],
            revoke: Revoke::None,
            api_headers: &[],
        },
        Case {
            entry: "dropbox",
            authorize: "https://www.dropbox.com/oauth2/authorize",
            token: "https://api.dropboxapi.com/oauth2/token",
            redirect: Redirect::Loopback("localhost", Some(53682)),
            scope: Some(("scope", "account_info.read files.metadata.read")),
            extra: &[("token_access_type", "offline")],
            pkce: true,
            auth: ClientAuth::Public,
            json_body: false,
            iss: None,
            iss_required: false,
            token_answer: r#"{"access_token":"sl.u.AbX9y6Fe3AuH5o66-test","expires_in":14400,"token_type":"bearer","scope":"account_info.read files.metadata.read","refresh_token":"nBiM85CZALsAAAAAAAAAAQXHBoNpNutK4ngsXHsqW4iGz9tisb3JyjGqikMJIYbd","account_id":"dbid:AAH4f99T0taONIb-OurWxbNQ6ywGRopQngc","uid":"12345"}"#,
            identity_url: "https://api.dropboxapi.com/2/users/get_current_account",
            identity_post: true,
            identity_answer: r#"{"account_id":"dbid:AAH4f99T0taONIb-OurWxbNQ6ywGRopQngc","name":{"given_name":"Franz","surname":"Ferdinand","familiar_name":"Franz","display_name":"Franz Ferdinand (Personal)","abbreviated_name":"FF"},"email":"franz@dropbox.com","email_verified":true,"disabled":false,"country":"US","locale":"en"}"#,
            identity: (
                "dbid:AAH4f99T0taONIb-OurWxbNQ6ywGRopQngc",
                Some("franz@dropbox.com"),
                Some("Franz Ferdinand (Personal)"),
            ),
            granted: &["account_info.read", "files.metadata.read"],
            revoke: Revoke::Bearer("https://api.dropboxapi.com/2/auth/token/revoke"),
            api_headers: &[],
        },
        Case {
            entry: "notion",
            authorize: "https://api.notion.com/v1/oauth/authorize",
            token: "https://api.notion.com/v1/oauth/token",
            redirect: Redirect::Loopback("localhost", Some(53683)),
            scope: None,
            extra: &[("owner", "user")],
            pkce: false,
            auth: ClientAuth::Basic,
            json_body: true,
            iss: None,
            iss_required: false,
            token_answer: r#"{"access_token":"ntn_test-access","token_type":"bearer","refresh_token":"nrt_test-refresh","bot_id":"b0d3c3d1-0000-4000-8000-000000000001","workspace_name":"Acme","workspace_icon":null,"workspace_id":"w-1","owner":{"type":"user","user":{"object":"user","id":"u-1","name":"Ada","avatar_url":null,"type":"person","person":{"email":"ada@acme.com"}}},"duplicated_template_id":null,"request_id":"r-1"}"#,
            identity_url: "https://api.notion.com/v1/users/me",
            identity_post: false,
            identity_answer: r#"{"object":"user","id":"b0d3c3d1-0000-4000-8000-000000000001","name":"Latchkey","avatar_url":null,"type":"bot","bot":{"owner":{"type":"user","user":{"object":"user","id":"u-1","name":"Ada","avatar_url":null,"type":"person","person":{"email":"ada@acme.com"}}},"workspace_name":"Acme"},"request_id":"r-2"}"#,
            identity: ("u-1", Some("ada@acme.com"), Some("Ada")),
            granted: &[],
            revoke: Revoke::Rfc7009("https://api.notion.com/v1/oauth/revoke"),
            api_headers: &[("Notion-Version", "2022-06-28")],
        },
        Case {
            entry: "linear",
            authorize: "https://linear.app/oauth/authorize",
            token: "https://api.linear.app/oauth/token",
            redirect: Redirect::Loopback("localhost", Some(53684)),
            scope: Some(("scope", "read")),
            extra: &[],
            pkce: true,
            auth: ClientAuth::Public,
            json_body: false,
            iss: None,
            iss_required: false,
            token_answer: r#"{"access_token":"lin_oauth_test-access","token_type":"Bearer","expires_in":86399,"scope":["read"],"refresh_token":"lin_refresh_test"}"#,
            identity_url: "https://api.linear.app/graphql",
            identity_post: true,
            identity_answer: r#"{"data":{"viewer":{"id":"2e5b3c0a-viewer","name":"Ada Lovelace","email":"ada@linear.app"}}}"#,
            identity: ("2e5b3c0a-viewer", Some("ada@linear.app"), Some("Ada Lovelace")),
            granted: &["read"],
            revoke: Revoke::Bearer("https://api.linear.app/oauth/revoke"),
            api_headers: &[],
        },
        Case {
            entry: "spotify",
            authorize: "https://accounts.spotify.com/authorize",
            token: "https://accounts.spotify.com/api/token",
            redirect: Redirect::Loopback("127.0.0.1", None),
            scope: Some(("scope", "user-read-email user-read-private")),
            extra: &[],
            pkce: true,
            auth: ClientAuth::Public,
            json_body: false,
            iss: None,
            iss_required: false,
            token_answer: r#"{"access_token":"BQDsPOt-test","token_type":"Bearer","scope":"user-read-email user-read-private","expires_in":3600,"refresh_token":"AQDR-test"}"#,
            identity_url: "https://api.spotify.com/v1/me",
            identity_post: false,
            identity_answer: r#"{"country":"SE","display_name":"Ada","email":"ada@example.com","explicit_content":{"filter_enabled":false},"id":"ada123","product":"premium","type":"user","uri":"spotify:user:ada123"}"#,
            identity: ("ada123", Some("ada@example.com"), Some("Ada")),
            granted: &["user-read-email", "user-read-private"],
            revoke: Revoke::None,
            api_headers: &[],
        },
        Case {
            entry: "discord",
            authorize: "https://discord.com/oauth2/authorize",
            token: "https://discord.com/api/oauth2/token",
            redirect: Redirect::Loopback("localhost", Some(53685)),
            scope: Some(("scope", "identify email")),
            extra: &[],
            pkce: true,
            auth: ClientAuth::Public,
            json_body: false,
            iss: Some("https://discord.com"),
            iss_required: true,
            token_answer: r#"{"access_token":"6qrZcUqja7812RVdnEKjpzOL4CvHBFG","token_type":"Bearer","expires_in":604800,"refresh_token":"D43f5y0ahjqew82jZ4NViEr2YafMKhue","scope":"identify email"}"#,
            identity_url: "https://discord.com/api/users/@me",
            identity_post: false,
            identity_answer: r#"{"id":"80351110224678912","username":"nelly","discriminator":"0","global_name":"Nelly","avatar":null,"verified":true,"email":"nelly@discord.com"}"#,
            identity: ("80351110224678912", Some("nelly@discord.com"), Some("nelly")),
            granted: &["identify", "email"],
            revoke: Revoke::Rfc7009("https://discord.com/api/oauth2/token/revoke"),
            api_headers: &[],
        },
        Case {
            entry: "atlassian",
            authorize: "https://auth.atlassian.com/authorize",
            token: "https://auth.atlassian.com/oauth/token",
            redirect: Redirect::Loopback("localhost", Some(53686)),
            scope: Some(("scope", "read:me offline_access")),
            extra: &[("audience", "api.atlassian.com"), ("prompt", "consent")],
            pkce: false,
            auth: ClientAuth::Body,
            json_body: false,
            iss: None,
            iss_required: false,
            token_answer: r#"{"access_token":"eyJraWQiOi-test","expires_in":3600,"token_type":"Bearer","refresh_token":"eyJraWQiOi-refresh","scope":"read:me offline_access"}"#,
            identity_url: "https://api.atlassian.com/me",
            identity_post: false,
            identity_answer: r#"{"account_type":"atlassian","account_id":"5b10a2844c20165700ede21g","email":"ada@example.com","name":"Ada Lovelace","picture":"https://avatar-management.example/x","account_status":"active","nickname":"ada","locale":"en-US"}"#,
            identity: ("5b10a2844c20165700ede21g", Some("ada@example.com"), Some("Ada Lovelace")),
            granted: &["read:me", "offline_access"],
            revoke: Revoke::None,
            api_headers: &[],
        },
    ]
}

fn hosts(cases: &[Case]) -> Vec<String> {
    let mut hosts: Vec<String> = cases
        .iter()
        .flat_map(|c| {
            let revoke = match c.revoke {
                Revoke::Rfc7009(u) | Revoke::Bearer(u) => Some(u),
                Revoke::GitHubGrant => Some("https://api.github.com/"),
                Revoke::None => None,
            };
            [Some(c.authorize), Some(c.token), Some(c.identity_url), revoke]
        })
        .flatten()
        .map(|u| Url::parse(u).expect("url").host_str().expect("host").to_owned())
        .collect();
    hosts.sort();
    hosts.dedup();
    hosts
}

async fn open(server: &FakeHttps, dir: &std::path::Path, hosts: &[String]) -> Latchkey {
    let mut http = Http::with_extra_root(&server.ca_pem).expect("ca");
    for h in hosts {
        http = http.resolving(h, server.addr);
    }
    let file = dir.join("connections.toml");
    let (core, _) = Latchkey::open(Options {
        data_dir: dir.to_owned(),
        connections: latchkey_core::config::load_connections(&file).expect("catalog"),
        connections_file: Some(file),
        secrets: Arc::new(MemoryStore::default()),
        redirect_scheme: SCHEME.into(),
        http,
        hooks: Default::default(),
    })
    .await
    .expect("open");
    core
}

fn param(url: &Url, name: &str) -> Option<String> {
    let values: Vec<String> =
        url.query_pairs().filter(|(k, _)| k == name).map(|(_, v)| v.into_owned()).collect();
    assert!(values.len() <= 1, "{name} appears {} times", values.len());
    values.into_iter().next()
}

fn json_body(r: &Request) -> serde_json::Value {
    serde_json::from_str(&r.body)
        .unwrap_or_else(|_| panic!("{} {} sent no JSON: {}", r.method, r.target, r.body))
}

/// The token request's parameters, from its form or JSON body.
fn token_params(case: &Case, r: &Request) -> Vec<(String, String)> {
    if case.json_body {
        assert_eq!(r.header("content-type"), Some("application/json"), "{}", case.entry);
        json_body(r)
            .as_object()
            .expect("object")
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().expect("string").to_owned()))
            .collect()
    } else {
        assert_eq!(r.header("content-type"), Some("application/x-www-form-urlencoded"), "{}", case.entry);
        r.form()
    }
}

fn get(params: &[(String, String)], name: &str) -> Option<String> {
    params.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
}

fn assert_client_auth(case: &Case, r: &Request, params: &[(String, String)]) {
    let e = case.entry;
    match case.auth {
        ClientAuth::Public => {
            assert_eq!(get(params, "client_id").as_deref(), Some(CLIENT_ID), "{e}");
            assert!(get(params, "client_secret").is_none() && r.header("authorization").is_none(), "{e}");
        }
        ClientAuth::Body => {
            assert_eq!(get(params, "client_id").as_deref(), Some(CLIENT_ID), "{e}");
            assert_eq!(get(params, "client_secret").as_deref(), Some(CLIENT_SECRET), "{e}");
            assert!(r.header("authorization").is_none(), "{e}");
        }
        ClientAuth::Basic => {
            assert_eq!(r.basic(), Some((CLIENT_ID.to_owned(), CLIENT_SECRET.to_owned())), "{e}");
            assert!(get(params, "client_secret").is_none(), "{e}");
        }
    }
}

/// The script: the token endpoint answers `token`, the identity endpoint `identity`, revocations
/// succeed the way each provider says so.
fn script(case: &Case, token: String) -> impl Fn(&Request) -> Answer + Send + 'static {
    let token_url = Url::parse(case.token).expect("url");
    let identity_url = Url::parse(case.identity_url).expect("url");
    let identity = case.identity_answer.to_owned();
    move |r: &Request| {
        let at = |u: &Url| r.host == u.host_str().unwrap_or_default() && r.path() == u.path();
        if at(&token_url) {
            (200, "application/json", token.clone())
        } else if at(&identity_url) {
            (200, "application/json", identity.clone())
        } else if r.host == "slack.com" && r.path() == "/api/auth.revoke" {
            (200, "application/json", r#"{"ok":true,"revoked":true}"#.into())
        } else if r.method == "DELETE" {
            (204, "application/json", String::new())
        } else if r.host == "api.dropboxapi.com" {
            (200, "application/json", "null".into())
        } else {
            (200, "application/json", "{}".into())
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_catalog_entry_speaks_its_providers_protocol() {
    let cases = cases();
    let hosts = hosts(&cases);
    let host_refs: Vec<&str> = hosts.iter().map(String::as_str).collect();
    let server = FakeHttps::start(&host_refs);
    let dir = tempfile::tempdir().expect("tmp");
    let core = open(&server, dir.path(), &hosts).await;
    let user = Actor::User;

    let covered: Vec<&str> = cases.iter().map(|c| c.entry).collect();
    let catalog: Vec<&str> =
        latchkey_core::catalog::builtin().iter().filter(|e| !e.template).map(|e| e.id.as_str()).collect();
    let mut sorted = covered.clone();
    sorted.sort();
    assert_eq!(sorted, catalog, "every provider entry has a case here");

    for case in &cases {
        let e = case.entry;
        // Bring your own client: Pending until the client id (and a required secret) is set.
        let conn = core.connection(e).expect("connection");
        assert_eq!(
            core.connection_status(&conn).expect("status").0,
            latchkey_core::model::ConnectionStatus::Pending,
            "{e}"
        );
        let err = core.get_authorization_link(e, None, &user).await.expect_err("no client yet").to_string();
        assert!(err.contains("client id"), "{e}: {err}");
        let secret = (case.auth != ClientAuth::Public).then(|| Some(Secret::new(CLIENT_SECRET)));
        let change = ConnectionChange {
            client_id: Some(Some(CLIENT_ID.into())),
            client_secret: secret,
            ..Default::default()
        };
        let conn = core.configure_connection(e, change, &user).await.expect("configure");
        assert_eq!(
            core.connection_status(&conn).expect("status").0,
            latchkey_core::model::ConnectionStatus::Active,
            "{e}"
        );

        // The authorization request.
        let scope_value = case.scope.map(|(_, v)| v.to_owned());
        let token_answer = case.token_answer.replace(
            "SCOPE",
            scope_value.as_deref().unwrap_or_default().rsplit(' ').next().unwrap_or_default(),
        );
        server.answer(script(case, token_answer));
        let link = link(&core, e).await;
        let url = link.url.clone();
        assert_eq!(
            format!("{}://{}{}", url.scheme(), url.host_str().expect("host"), url.path()),
            case.authorize,
            "{e}"
        );
        assert_eq!(param(&url, "response_type").as_deref(), Some("code"), "{e}");
        assert_eq!(param(&url, "client_id").as_deref(), Some(CLIENT_ID), "{e}");
        assert!(param(&url, "state").is_some_and(|s| s.len() >= 16), "{e}: a high-entropy state");
        let redirect = param(&url, "redirect_uri").expect("redirect_uri");
        match case.redirect {
            Redirect::DeepLink => {
                assert_eq!(redirect, format!("{SCHEME}:/oauth/{e}/callback"), "{e}");
                assert!(link.loopback.is_none(), "{e}");
            }
            Redirect::Loopback(host, port) => {
                let r = Url::parse(&redirect).expect("url");
                assert_eq!(
                    (r.scheme(), r.host_str(), r.path()),
                    ("http", Some(host), format!("/oauth/{e}/callback").as_str()),
                    "{e}"
                );
                match port {
                    Some(p) => assert_eq!(r.port(), Some(p), "{e}: the registered port"),
                    None => assert!(r.port().is_some_and(|p| p > 1024), "{e}: a port the OS picked"),
                }
                assert!(link.loopback.is_some(), "{e}");
            }
        }
        match case.scope {
            Some((name, value)) => {
                assert_eq!(param(&url, name).as_deref(), Some(value), "{e}");
                if name != "scope" {
                    assert_eq!(param(&url, "scope"), None, "{e}: only {name}");
                }
            }
            None => assert_eq!(param(&url, "scope"), None, "{e}"),
        }
        for (k, v) in case.extra {
            assert_eq!(param(&url, k).as_deref(), Some(*v), "{e}: {k}");
        }
        if case.pkce {
            assert_eq!(param(&url, "code_challenge_method").as_deref(), Some("S256"), "{e}");
            assert_eq!(param(&url, "code_challenge").map(|c| c.len()), Some(43), "{e}");
        } else {
            assert_eq!(param(&url, "code_challenge"), None, "{e}: the provider rejects PKCE");
        }
        let state = param(&url, "state").expect("state");

        // Mix-up defence: where the provider must send `iss`, a redirect without it is refused.
        if case.iss_required {
            let bare = format!("{redirect}?code=abc&state={state}");
            let refused = match link.loopback {
                Some(wait) => {
                    let (done, _) = tokio::join!(core.finish_loopback(wait), browser(&bare));
                    done.expect_err("no iss")
                }
                None => core.complete_authorization(&bare).await.expect_err("no iss"),
            };
            assert!(refused.error.to_string().contains("issuer"), "{e}: {}", refused.error);
            assert!(server.requests().is_empty(), "{e}: the code was never redeemed");
            continue_case(&core, &server, case).await;
            continue;
        }
        let mut callback = format!("{redirect}?code=abc&state={state}");
        if let Some(iss) = case.iss {
            callback +=
                &format!("&iss={}", url::form_urlencoded::byte_serialize(iss.as_bytes()).collect::<String>());
        }
        let account = match link.loopback {
            Some(wait) => {
                let (done, page) = tokio::join!(core.finish_loopback(wait), browser(&callback));
                assert!(page.contains("connected in Latchkey"), "{e}: {page}");
                done.expect("connected")
            }
            None => core.complete_authorization(&callback).await.expect("connected"),
        };
        check_connected(case, &server, account, &redirect);
        after_connect(&core, &server, case).await;
    }
}

/// The entry's authorization link. A catalog entry's fixed loopback port lies in Linux's ephemeral
/// range, where another test's outgoing connection can hold it for a moment: that is waited out.
async fn link(core: &Latchkey, entry: &str) -> latchkey_core::AuthorizationLink {
    for _ in 0..50 {
        match core.get_authorization_link(entry, None, &Actor::User).await {
            Err(e) if e.to_string().contains("is in use by another program") => {
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
            other => return other.expect("link"),
        }
    }
    panic!("{entry}: its loopback port stayed in use for 5 s");
}

/// A fresh sign-in after a refused one, completed with `iss`.
async fn continue_case(core: &Latchkey, server: &FakeHttps, case: &Case) {
    let link = link(core, case.entry).await;
    let redirect = param(&link.url, "redirect_uri").expect("redirect");
    let state = param(&link.url, "state").expect("state");
    let iss = case.iss.expect("iss");
    let callback = format!(
        "{redirect}?code=abc&state={state}&iss={}",
        url::form_urlencoded::byte_serialize(iss.as_bytes()).collect::<String>()
    );
    let account = match link.loopback {
        Some(wait) => tokio::join!(core.finish_loopback(wait), browser(&callback)).0.expect("connected"),
        None => core.complete_authorization(&callback).await.expect("connected"),
    };
    check_connected(case, server, account, &redirect);
    after_connect(core, server, case).await;
}

/// The token and identity requests, and the account they made.
fn check_connected(case: &Case, server: &FakeHttps, account: latchkey_core::model::Account, redirect: &str) {
    let e = case.entry;
    let requests = server.requests();
    let token_host = Url::parse(case.token).expect("url");
    let token: Vec<&Request> = requests
        .iter()
        .filter(|r| r.host == token_host.host_str().unwrap_or_default() && r.path() == token_host.path())
        .collect();
    assert_eq!(token.len(), 1, "{e}: one token request");
    let t = token[0];
    assert_eq!(t.method, "POST", "{e}");
    assert_eq!(t.header("accept"), Some("application/json"), "{e}: GitHub answers JSON only when asked");
    let params = token_params(case, t);
    assert_eq!(get(&params, "grant_type").as_deref(), Some("authorization_code"), "{e}");
    assert_eq!(get(&params, "code").as_deref(), Some("abc"), "{e}");
    assert_eq!(get(&params, "redirect_uri").as_deref(), Some(redirect), "{e}: the same redirect URI");
    assert_eq!(get(&params, "code_verifier").is_some(), case.pkce, "{e}");
    assert_client_auth(case, t, &params);

    let id_url = Url::parse(case.identity_url).expect("url");
    let identity: Vec<&Request> = requests
        .iter()
        .filter(|r| r.host == id_url.host_str().unwrap_or_default() && r.path() == id_url.path())
        .collect();
    assert_eq!(identity.len(), 1, "{e}: one identity request");
    let i = identity[0];
    assert_eq!(i.method, if case.identity_post { "POST" } else { "GET" }, "{e}");
    assert!(i.header("authorization").is_some_and(|a| a.starts_with("Bearer ") && a.len() > 10), "{e}");
    for (k, v) in case.api_headers {
        assert_eq!(i.header(k), Some(*v), "{e}: {k}");
    }

    assert_eq!(account.status, AccountStatus::Active, "{e}");
    let who = account.identity.clone().expect("identity");
    assert_eq!(who.subject.as_deref(), Some(case.identity.0), "{e}");
    assert_eq!(who.email.as_deref(), case.identity.1, "{e}");
    assert_eq!(who.name.as_deref(), case.identity.2, "{e}");
    assert_eq!(
        account.identifier,
        case.identity.1.or(case.identity.2).unwrap_or(case.identity.0),
        "{e}: named after the identity"
    );
    let granted: Vec<&str> = account.granted_scopes.iter().map(String::as_str).collect();
    if case.granted.is_empty() {
        // Google: `userinfo.email` is read back as the `email` that was asked for.
        let (mut g, mut r) = (account.granted_scopes.clone(), account.requested_scopes.clone());
        g.sort();
        r.sort();
        assert_eq!(g, r, "{e}: granted as requested");
    } else {
        assert_eq!(granted, case.granted, "{e}");
    }
}

/// Refresh (the old refresh token kept when the answer has none), then revoke.
async fn after_connect(core: &Latchkey, server: &FakeHttps, case: &Case) {
    let e = case.entry;
    let user = Actor::User;
    let account = core
        .list_connected_accounts(&Default::default())
        .expect("list")
        .into_iter()
        .find(|a| a.connection.as_str() == e)
        .expect("account");
    let original_refresh = serde_json::from_str::<serde_json::Value>(case.token_answer).ok().and_then(|v| {
        v.get("refresh_token")
            .or_else(|| v.pointer("/authed_user/refresh_token"))
            .and_then(|r| r.as_str().map(str::to_owned))
    });
    if let Some(original) = original_refresh {
        // An answer without a refresh token: the old one stays and is used again next time.
        let answer =
            r#"{"access_token":"renewed-access","token_type":"Bearer","expires_in":3600}"#.to_owned();
        for _ in 0..2 {
            server.answer(script(case, answer.clone()));
            core.refresh_now(&account.id, &user).await.expect("refresh");
            let requests = server.requests();
            let r = requests.iter().find(|r| r.method == "POST").expect("refresh request");
            let params = token_params(case, r);
            assert_eq!(get(&params, "grant_type").as_deref(), Some("refresh_token"), "{e}");
            assert_eq!(get(&params, "refresh_token").as_deref(), Some(original.as_str()), "{e}");
            assert_client_auth(case, r, &params);
        }
    }

    server.answer(script(case, String::new()));
    let outcome = core.revoke(&account.id, &user).await.expect("revoke");
    assert_eq!(outcome.account.status, AccountStatus::Revoked, "{e}");
    let requests = server.requests();
    match case.revoke {
        Revoke::None => {
            assert!(requests.is_empty(), "{e}: nothing to call");
            assert!(!outcome.provider_confirmed, "{e}");
            let page = outcome.connected_apps_url.expect("where to remove access by hand");
            assert!(page.starts_with("https://"), "{e}: {page}");
            assert!(outcome.message.contains(&page), "{e}: {}", outcome.message);
        }
        Revoke::Rfc7009(url) => {
            assert!(outcome.provider_confirmed, "{e}: {}", outcome.message);
            assert_eq!(requests.len(), 2, "{e}: refresh token, then access token");
            for r in &requests {
                assert_eq!(
                    (r.method.as_str(), format!("https://{}{}", r.host, r.path())),
                    ("POST", url.to_owned()),
                    "{e}"
                );
                let token = if case.json_body {
                    json_body(r)["token"].as_str().map(str::to_owned)
                } else {
                    r.param("token")
                };
                assert!(token.is_some_and(|t| !t.is_empty()), "{e}: the token");
                for (k, v) in case.api_headers {
                    assert_eq!(r.header(k), Some(*v), "{e}: {k}");
                }
            }
            if !case.json_body {
                assert_eq!(requests[0].param("token_type_hint").as_deref(), Some("refresh_token"), "{e}");
            }
        }
        Revoke::GitHubGrant => {
            assert!(outcome.provider_confirmed, "{e}: {}", outcome.message);
            assert_eq!(requests.len(), 1, "{e}");
            let r = &requests[0];
            assert_eq!(
                (r.method.as_str(), r.host.as_str(), r.path()),
                ("DELETE", "api.github.com", format!("/applications/{CLIENT_ID}/grant").as_str()),
                "{e}"
            );
            assert_eq!(r.basic(), Some((CLIENT_ID.to_owned(), CLIENT_SECRET.to_owned())), "{e}");
            assert_eq!(json_body(r)["access_token"], "gho_16C7e42F292c6912E7710c838347Ae178B4a", "{e}");
            assert_eq!(r.header("accept"), Some("application/vnd.github+json"), "{e}");
        }
        Revoke::Bearer(url) => {
            assert!(outcome.provider_confirmed, "{e}: {}", outcome.message);
            assert_eq!(requests.len(), 1, "{e}");
            let r = &requests[0];
            assert_eq!(
                (r.method.as_str(), format!("https://{}{}", r.host, r.path())),
                ("POST", url.to_owned()),
                "{e}"
            );
            assert!(r.header("authorization").is_some_and(|a| a.starts_with("Bearer ")), "{e}");
        }
    }
    core.delete_connected_account(&account.id, &user).await.expect("delete");
}

/// The browser arriving at the loopback listener; returns the page it got.
async fn browser(url: &str) -> String {
    let client = reqwest::Client::builder().no_proxy().build().expect("client");
    client.get(url).send().await.expect("listener answers").text().await.expect("page")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quirky_error_answers_become_clear_errors() {
    let cases = cases();
    let hosts = hosts(&cases);
    let host_refs: Vec<&str> = hosts.iter().map(String::as_str).collect();
    let server = FakeHttps::start(&host_refs);
    let dir = tempfile::tempdir().expect("tmp");
    let core = open(&server, dir.path(), &hosts).await;
    let user = Actor::User;
    for (entry, secret, answer, needle) in [
        // GitHub: an error with HTTP 200.
        (
            "github",
            true,
            r#"{"error":"bad_verification_code","error_description":"The code passed is incorrect or expired.","error_uri":"https://docs.github.com/apps"}"#,
            "bad_verification_code",
        ),
        // Slack: ok:false with HTTP 200.
        ("slack", false, r#"{"ok":false,"error":"invalid_code"}"#, "invalid_grant"),
        ("slack", false, r#"{"ok":false,"error":"bad_client_secret"}"#, "invalid_client"),
    ] {
        let change = ConnectionChange {
            client_id: Some(Some(CLIENT_ID.into())),
            client_secret: secret.then(|| Some(Secret::new(CLIENT_SECRET))),
            ..Default::default()
        };
        core.configure_connection(entry, change, &user).await.expect("configure");
        let case = cases.iter().find(|c| c.entry == entry).expect("case");
        server.answer(script(case, answer.to_owned()));
        let link = core.get_authorization_link(entry, Some("me"), &user).await.expect("link");
        let state = param(&link.url, "state").expect("state");
        let err = core
            .complete_authorization(&format!("{SCHEME}:/oauth/{entry}/callback?code=abc&state={state}"))
            .await
            .expect_err("refused");
        let text = err.error.to_string();
        assert!(text.contains(needle), "{entry}: {text}");
        assert_eq!(err.account.expect("account").status, AccountStatus::Pending, "{entry}: nothing stored");
        let conn = core.connection(entry).expect("conn");
        let status = core.connection_status(&conn).expect("status").0;
        let client_error = needle == "invalid_client";
        assert_eq!(
            status == latchkey_core::model::ConnectionStatus::Error,
            client_error,
            "{entry}: {status:?}"
        );
    }
}
