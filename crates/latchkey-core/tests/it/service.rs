//! The service's operations without a desktop session: connect through a stand-in provider's
//! endpoints, refresh, revoke, suspend, the account state machine, the audit rows and keychain
//! faults. The provider is a small OAuth server model behind the local HTTPS stand-in
//! (`fake_https`, the core's real HTTP client talking TLS to 127.0.0.1), the keychain a
//! `MemoryStore` with fault injection. The session tier (`oauth_flow`, `token_lifecycle`, ...)
//! covers the same ground against the real test provider and the real Secret Service.
#![cfg(target_os = "linux")]

use std::collections::{HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use latchkey_core::http::Http;
use latchkey_core::model::{AccountId, AccountStatus, Actor, ConnectionStatus};
use latchkey_core::secret::{Credential, Secret};
use latchkey_core::store::{AuditAction, AuditQuery};
use latchkey_core::vault::{MemoryStore, SecretStore};
use latchkey_core::{Error, ErrorCode, Latchkey, Options};

use crate::fake_https::{Answer, FakeHttps, Request};
use crate::support::{self, SCHEME};

const HOST: &str = "idp.example";
const ISSUER: &str = "https://idp.example";
const SCOPES: &[&str] = &["openid", "email", "profile"];

/// The provider's side: which tokens are live, and answers queued ahead of the normal ones.
#[derive(Default)]
struct Idp {
    live: HashSet<String>,
    issued: u32,
    /// Lifetime of the access tokens it issues, in seconds.
    ttl: u64,
    /// Answers to send before the model's own, per path, oldest first.
    faults: VecDeque<(&'static str, Answer)>,
}

impl Idp {
    fn issue(&mut self) -> String {
        self.issued += 1;
        let (access, refresh) =
            (format!("at-{}-{}", self.issued, nonce()), format!("rt-{}-{}", self.issued, nonce()));
        self.live.insert(access.clone());
        self.live.insert(refresh.clone());
        serde_json::json!({
            "access_token": access, "refresh_token": refresh, "token_type": "Bearer",
            "expires_in": self.ttl, "scope": SCOPES.join(" "),
        })
        .to_string()
    }

    fn answer(&mut self, r: &Request) -> Answer {
        if let Some(i) = self.faults.iter().position(|(path, _)| *path == r.path()) {
            return self.faults.remove(i).map(|(_, a)| a).unwrap_or((500, "text/plain", String::new()));
        }
        let json = |status, body: serde_json::Value| (status, "application/json", body.to_string());
        match (r.method.as_str(), r.path()) {
            ("GET", "/.well-known/openid-configuration") => json(
                200,
                serde_json::json!({
                    "issuer": ISSUER,
                    "authorization_endpoint": format!("{ISSUER}/auth"),
                    "token_endpoint": format!("{ISSUER}/token"),
                    "revocation_endpoint": format!("{ISSUER}/revoke"),
                    "userinfo_endpoint": format!("{ISSUER}/me"),
                    "authorization_response_iss_parameter_supported": true,
                    "code_challenge_methods_supported": ["S256"],
                }),
            ),
            ("POST", "/token") => match r.param("grant_type").as_deref() {
                Some("authorization_code") if r.param("code").as_deref() == Some("good-code") => {
                    (200, "application/json", self.issue())
                }
                Some("refresh_token") if r.param("refresh_token").is_some_and(|t| self.live.remove(&t)) => {
                    (200, "application/json", self.issue())
                }
                _ => json(400, serde_json::json!({"error": "invalid_grant"})),
            },
            ("POST", "/revoke") => {
                if let Some(t) = r.param("token") {
                    self.live.remove(&t);
                }
                (200, "application/json", String::new())
            }
            ("GET", "/me") => {
                let bearer = r.header("authorization").and_then(|a| a.strip_prefix("Bearer ")).unwrap_or("");
                if self.live.contains(bearer) {
                    json(
                        200,
                        serde_json::json!({"sub": "alice", "email": "alice@example.test", "name": "Alice"}),
                    )
                } else {
                    json(401, serde_json::json!({"error": "invalid_token"}))
                }
            }
            _ => (404, "text/plain", "not here".into()),
        }
    }
}

fn nonce() -> u128 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0)
}

/// A core over a temporary data folder, a `MemoryStore` and the stand-in provider.
struct Rig {
    core: Latchkey,
    keychain: MemoryStore,
    server: FakeHttps,
    idp: Arc<Mutex<Idp>>,
    _dir: tempfile::TempDir,
}

impl Rig {
    async fn new(ttl: u64) -> Rig {
        let server = FakeHttps::start(&[HOST]);
        let idp = Arc::new(Mutex::new(Idp { ttl, ..Default::default() }));
        let dir = tempfile::tempdir().expect("tmp");
        let keychain = MemoryStore::default();
        let mut spec = support::spec(None, SCOPES, dir.path());
        spec.issuer = Some(ISSUER.into());
        let file = dir.path().join("connections.toml");
        std::fs::write(&file, support::connections_toml(&spec)).expect("write");
        let (core, _) = Latchkey::open(Options {
            data_dir: dir.path().to_owned(),
            connections: latchkey_core::config::load_connections(&file).expect("connections"),
            connections_file: Some(file),
            secrets: Arc::new(keychain.clone()),
            redirect_scheme: SCHEME.into(),
            http: Http::with_extra_root(&server.ca_pem).expect("ca").resolving(HOST, server.addr),
            hooks: Default::default(),
        })
        .await
        .expect("open");
        let rig = Rig { core, keychain, server, idp, _dir: dir };
        rig.forget_requests();
        rig
    }

    /// Starts the model afresh as the server's script, which also empties the request log.
    fn forget_requests(&self) {
        let idp = self.idp.clone();
        self.server.answer(move |r| idp.lock().expect("idp").answer(r));
    }

    fn fault(&self, path: &'static str, answer: Answer) {
        self.idp.lock().expect("idp").faults.push_back((path, answer));
    }

    fn is_live(&self, token: &str) -> bool {
        self.idp.lock().expect("idp").live.contains(token)
    }

    fn requests_to(&self, path: &str) -> Vec<Request> {
        self.server.requests().into_iter().filter(|r| r.path() == path).collect()
    }

    fn stored(&self, id: &AccountId, which: &str) -> Option<String> {
        self.keychain.get(&format!("{id}/{which}")).expect("read").map(|s| s.expose().to_owned())
    }

    /// The callback the browser would hand over after the user approved `link`.
    fn approved(link: &url::Url) -> String {
        let state = link.query_pairs().find(|(k, _)| k == "state").expect("state").1.into_owned();
        format!("{SCHEME}:/oauth/test/callback?code=good-code&state={state}&iss=https%3A%2F%2Fidp.example")
    }

    async fn connect(&self, identifier: Option<&str>) -> AccountId {
        let link = self.core.get_authorization_link("test", identifier, &Actor::User).await.expect("link");
        self.core.complete_authorization(&Rig::approved(&link.url)).await.expect("connected").id
    }

    fn actions(&self, id: &AccountId) -> Vec<AuditAction> {
        let query = AuditQuery { account: Some(id.clone()), ..Default::default() };
        self.core.audit_trail(&query).expect("audit").into_iter().map(|e| e.action).collect()
    }
}

fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_secs() as i64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_redeems_the_code_once_stores_the_tokens_and_audits_each_step() {
    let rig = Rig::new(3600).await;
    let link = rig.core.get_authorization_link("test", None, &Actor::User).await.expect("link");
    assert_eq!(link.account.status, AccountStatus::Pending);
    assert!(!rig.core.is_idle(), "a sign-in waiting for its callback is work under way");
    let query: std::collections::HashMap<_, _> = link.url.query_pairs().into_owned().collect();
    assert_eq!(link.url.as_str().split('?').next(), Some("https://idp.example/auth"));
    assert_eq!(query["code_challenge_method"], "S256");
    assert_eq!(query["redirect_uri"], format!("{SCHEME}:/oauth/test/callback"));

    let account = rig.core.complete_authorization(&Rig::approved(&link.url)).await.expect("completed");
    assert_eq!((account.id.clone(), account.status), (link.account.id.clone(), AccountStatus::Active));
    assert!(rig.core.is_idle());
    assert_eq!(account.identifier, "alice@example.test", "named after the identity");
    assert_eq!(account.granted_scopes, SCOPES);

    let token = rig.requests_to("/token");
    assert_eq!(token.len(), 1, "one code redemption");
    assert_eq!(token[0].param("grant_type").as_deref(), Some("authorization_code"));
    assert_eq!(token[0].param("redirect_uri"), Some(query["redirect_uri"].clone()));
    assert!(token[0].param("code_verifier").is_some_and(|v| v.len() >= 43), "PKCE verifier sent");
    assert_eq!(rig.requests_to("/me").len(), 1, "the identity read once");

    let access = rig.stored(&account.id, "access").expect("access token stored");
    assert!(rig.is_live(&access) && rig.is_live(&rig.stored(&account.id, "refresh").expect("refresh")));
    assert_eq!(
        rig.actions(&account.id),
        [
            AuditAction::AccountCreated,
            AuditAction::AuthorizationStarted,
            AuditAction::TokenStored,
            AuditAction::StateChanged
        ]
    );

    let handed = rig.core.access_token(&account.id, Duration::ZERO, &Actor::User).await.expect("token");
    assert_eq!(handed.token.expose(), access, "a fresh token is handed out without a refresh");
    assert_eq!(rig.requests_to("/token").len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_denied_and_replayed_callbacks_store_nothing() {
    let rig = Rig::new(3600).await;
    let forged = format!("{SCHEME}:/oauth/test/callback?code=good-code&state=forged&iss=x");
    let err = rig.core.complete_authorization(&forged).await.expect_err("forged");
    assert!(matches!(err.error, Error::UnknownState), "{err}");

    // A wrong issuer (mix-up): refused, the state spent, the code never redeemed.
    let link = rig.core.get_authorization_link("test", Some("mixup"), &Actor::User).await.expect("link");
    let mixed = Rig::approved(&link.url).replace("idp.example", "evil.example");
    let err = rig.core.complete_authorization(&mixed).await.expect_err("mix-up");
    assert!(matches!(err.error, Error::IssuerMismatch { .. }), "{err}");
    let err = rig.core.complete_authorization(&Rig::approved(&link.url)).await.expect_err("state spent");
    assert!(matches!(err.error, Error::UnknownState), "{err}");
    assert!(rig.requests_to("/token").is_empty(), "a mixed-up code was redeemed");

    // The user says no at the provider.
    let link = rig.core.get_authorization_link("test", Some("denied"), &Actor::User).await.expect("link");
    let state = link.url.query_pairs().find(|(k, _)| k == "state").expect("state").1.into_owned();
    let denied = format!("{SCHEME}:/oauth/test/callback?error=access_denied&state={state}&iss={ISSUER}");
    let err = rig.core.complete_authorization(&denied).await.expect_err("denied");
    assert!(matches!(err.error, Error::Denied { .. }), "{err}");
    assert_eq!(err.error.code(), ErrorCode::ReauthNeeded);
    let account = err.account.expect("the account is reported");
    assert_eq!(account.status, AccountStatus::Pending);
    assert!(account.last_error.is_some_and(|e| e.contains("declined")));
    assert!(rig.keychain.keys().is_empty(), "nothing stored: {:?}", rig.keychain.keys());
    assert!(rig.requests_to("/token").is_empty(), "no code was redeemed");

    // A replay of a good callback.
    let link = rig.core.get_authorization_link("test", Some("replay"), &Actor::User).await.expect("link");
    let callback = Rig::approved(&link.url);
    let id = rig.core.complete_authorization(&callback).await.expect("first use").id;
    let err = rig.core.complete_authorization(&callback).await.expect_err("replayed");
    assert!(matches!(err.error, Error::UnknownState), "{err}");
    assert_eq!(rig.core.get_account(&id).expect("get").status, AccountStatus::Active);
    assert_eq!(rig.requests_to("/token").len(), 1, "the replayed code was not sent again");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refresh_rotates_the_tokens_and_a_dead_grant_expires_the_account() {
    let rig = Rig::new(3600).await;
    let id = rig.connect(Some("me")).await;
    let (old_access, old_refresh) =
        (rig.stored(&id, "access").expect("a"), rig.stored(&id, "refresh").expect("r"));
    rig.forget_requests();

    let token =
        rig.core.access_token(&id, Duration::from_secs(100_000), &Actor::User).await.expect("refreshed");
    let sent = rig.requests_to("/token");
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].param("grant_type").as_deref(), Some("refresh_token"));
    assert_eq!(sent[0].param("refresh_token"), Some(old_refresh.clone()));
    assert_ne!(token.token.expose(), old_access);
    assert_eq!(rig.stored(&id, "access").as_deref(), Some(token.token.expose()));
    let new_refresh = rig.stored(&id, "refresh").expect("rotated");
    assert!(new_refresh != old_refresh && rig.is_live(&new_refresh) && !rig.is_live(&old_refresh));
    assert!(rig.actions(&id).contains(&AuditAction::TokenRefreshed));

    // The user removed the app at the provider: the refresh token is dead.
    rig.idp.lock().expect("idp").live.clear();
    let err = rig.core.refresh_now(&id, &Actor::Refresher).await.expect_err("grant revoked");
    assert_eq!(err.code(), ErrorCode::ReauthNeeded, "{err}");
    let account = rig.core.get_account(&id).expect("get");
    assert_eq!(account.status, AccountStatus::Expired);
    assert!(account.last_error.is_some_and(|e| e.contains("reconnect")), "says what to do");
    let refused = rig.core.access_token(&id, Duration::ZERO, &Actor::User).await.expect_err("expired");
    assert_eq!(refused.code(), ErrorCode::ReauthNeeded);

    // Reconnecting brings the same account back.
    assert_eq!(rig.connect(Some("me")).await, id);
    assert_eq!(rig.core.get_account(&id).expect("get").status, AccountStatus::Active);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transient_faults_keep_the_account_active_and_offline_and_a_bad_client_blames_the_connection() {
    let rig = Rig::new(3600).await;
    let id = rig.connect(Some("me")).await;
    let html = "<html><body>Bad gateway</body></html>".to_owned();
    let faults: [(&str, Answer); 4] = [
        ("HTTP 500", (500, "text/html", html.clone())),
        ("HTTP 503", (503, "text/plain", "down".into())),
        ("HTTP 429", (429, "application/json", r#"{"error":"slow_down"}"#.into())),
        ("an HTML body with 200", (200, "text/html", html)),
    ];
    for (name, fault) in faults {
        rig.fault("/token", fault);
        let err = rig.core.refresh_now(&id, &Actor::Refresher).await.expect_err(name);
        assert_eq!(err.code(), ErrorCode::Network, "{name}: {err}");
        let account = rig.core.get_account(&id).expect("get");
        assert_eq!(account.status, AccountStatus::Active, "{name}");
        assert!(account.offline.is_some(), "{name}: marked offline");
        assert!(account.retry_at.expect("a retry time") > now(), "{name}: backs off");

        // While backing off, a token that needs a refresh is refused without asking the provider.
        rig.forget_requests();
        let early =
            rig.core.access_token(&id, Duration::from_secs(7200), &Actor::User).await.expect_err(name);
        assert!(matches!(early, Error::Offline { .. }), "{early}");
        assert!(rig.requests_to("/token").is_empty(), "{name}");

        let recovered = rig.core.refresh_now(&id, &Actor::Refresher).await.expect("recovers");
        assert!(recovered.offline.is_none() && recovered.status == AccountStatus::Active, "{name}");
    }
    let trail = rig.core.audit_trail(&Default::default()).expect("audit");
    assert!(trail.iter().any(|e| e.action == "token.refreshed" && e.detail.contains("recovered from")));

    let body = r#"{"error":"invalid_client","error_description":"client authentication failed"}"#;
    rig.fault("/token", (401, "application/json", body.into()));
    let err = rig.core.refresh_now(&id, &Actor::Refresher).await.expect_err("client rejected");
    assert_eq!(err.code(), ErrorCode::ProviderError, "{err}");
    assert_eq!(
        rig.core.get_account(&id).expect("get").status,
        AccountStatus::Active,
        "the account is untouched"
    );
    let conn = rig.core.connection("test").expect("conn");
    assert_eq!(rig.core.connection_status(&conn).expect("status").0, ConnectionStatus::Error);
    rig.core.refresh_now(&id, &Actor::Refresher).await.expect("the client works again");
    assert_eq!(rig.core.connection_status(&conn).expect("status").0, ConnectionStatus::Active);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoke_tells_the_provider_deletes_locally_and_retries_when_it_was_down() {
    let rig = Rig::new(3600).await;
    let id = rig.connect(Some("one")).await;
    let (access, refresh) = (rig.stored(&id, "access").expect("a"), rig.stored(&id, "refresh").expect("r"));
    rig.forget_requests();
    let outcome = rig.core.revoke(&id, &Actor::User).await.expect("revoke");
    assert!(outcome.provider_confirmed, "{}", outcome.message);
    assert_eq!(outcome.account.status, AccountStatus::Revoked);
    let sent: Vec<_> = rig.requests_to("/revoke").iter().map(|r| r.param("token_type_hint")).collect();
    assert_eq!(sent, [Some("refresh_token".to_owned()), Some("access_token".to_owned())]);
    assert!(!rig.is_live(&access) && !rig.is_live(&refresh));
    assert!(rig.stored(&id, "access").is_none() && rig.stored(&id, "refresh").is_none());
    assert!(rig.core.access_token(&id, Duration::ZERO, &Actor::User).await.is_err(), "nothing to hand out");

    // The provider is down: removed here at once, confirmed by the refresher's next pass.
    let id = rig.connect(Some("two")).await;
    let refresh = rig.stored(&id, "refresh").expect("r");
    rig.fault("/revoke", (503, "text/plain", "down".into()));
    rig.fault("/revoke", (503, "text/plain", "down".into()));
    let outcome = rig.core.revoke(&id, &Actor::User).await.expect("revoked locally");
    assert!(!outcome.provider_confirmed && outcome.account.revocation_pending);
    assert!(outcome.message.starts_with("Removed from this device; not confirmed by"), "{}", outcome.message);
    assert!(rig.stored(&id, "access").is_none() && rig.stored(&id, "refresh").is_none());
    assert!(rig.is_live(&refresh), "the provider did not get the message yet");

    let touched = rig.core.refresh_pass(false).await.expect("pass");
    assert_eq!(touched, std::slice::from_ref(&id));
    assert!(!rig.core.get_account(&id).expect("get").revocation_pending);
    assert!(!rig.is_live(&refresh), "revoked on the retry");
    assert!(rig.stored(&id, "revoke-refresh").is_none(), "parked tokens deleted");
    let trail = rig.core.audit_trail(&Default::default()).expect("audit");
    assert!(trail.iter().any(|e| e.detail == "confirmed by the provider on a retry"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_suspended_account_hands_out_nothing_and_is_refreshed_on_resume() {
    let rig = Rig::new(1).await;
    let id = rig.connect(Some("me")).await;
    let suspended = rig.core.suspend(&id, &Actor::User).await.expect("suspend");
    assert_eq!(suspended.status, AccountStatus::Suspended);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    rig.forget_requests();

    let refused = rig.core.access_token(&id, Duration::ZERO, &Actor::Cli { caller: "agent".into() }).await;
    assert!(matches!(refused, Err(Error::Suspended)), "{refused:?}");
    assert!(rig.core.refresh_pass(true).await.expect("pass").is_empty(), "nothing due while suspended");
    assert!(rig.requests_to("/token").is_empty(), "no refresh while suspended");
    assert!(rig.stored(&id, "refresh").is_some(), "the tokens are kept");

    let resumed = rig.core.resume(&id, &Actor::User).await.expect("resume");
    assert_eq!(resumed.status, AccountStatus::Active);
    assert_eq!(rig.requests_to("/token").len(), 1, "refreshed on resume: its token had expired");
    rig.core.access_token(&id, Duration::ZERO, &Actor::User).await.expect("tokens again");
    let trail = rig.core.audit_trail(&Default::default()).expect("audit");
    let moves: Vec<_> =
        trail.iter().filter(|e| e.action == "state.changed").map(|e| e.detail.as_str()).collect();
    assert!(moves.iter().any(|d| d.starts_with("active -> suspended")), "{moves:?}");
    assert!(moves.iter().any(|d| d.starts_with("suspended -> active")), "{moves:?}");
    assert!(
        trail.iter().any(|e| e.action == "token.read"
            && e.outcome == "refused"
            && e.caller.as_deref() == Some("agent"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_keychain_that_locks_during_a_refresh_loses_nothing_silently() {
    let rig = Rig::new(3600).await;
    let id = rig.connect(Some("me")).await;

    // Locked for the first writes, then unlocked: the rotated tokens are kept.
    rig.keychain.fail_next_writes(3);
    let token = rig.core.access_token(&id, Duration::from_secs(100_000), &Actor::User).await.expect("kept");
    assert_eq!(rig.stored(&id, "access").as_deref(), Some(token.token.expose()));
    let refresh = rig.stored(&id, "refresh").expect("refresh token");
    assert!(rig.is_live(&refresh), "the stored refresh token is the live one");

    // Locked for good: a keychain error, the account says why, the unkept tokens are revoked.
    rig.keychain.fail_next_writes(1_000);
    rig.forget_requests();
    let err =
        rig.core.access_token(&id, Duration::from_secs(100_000), &Actor::User).await.expect_err("locked");
    assert_eq!(err.code(), ErrorCode::KeychainUnavailable, "{err}");
    let account = rig.core.get_account(&id).expect("account");
    assert_eq!(account.status, AccountStatus::Expired, "{account:?}");
    let says = account.last_error.unwrap_or_default();
    assert!(says.contains("could not store the renewed tokens") && says.contains("Reconnect"), "{says}");
    assert!(!rig.is_live(&refresh), "the spent refresh token is dead at the provider");
    assert!(!rig.requests_to("/revoke").is_empty(), "the unkept tokens are revoked");
    rig.keychain.fail_next_writes(0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_locked_keychain_at_connect_leaves_no_active_account_without_tokens() {
    let rig = Rig::new(3600).await;
    let link = rig.core.get_authorization_link("test", Some("me"), &Actor::User).await.expect("link");
    rig.keychain.fail_next(1_000);
    let err = rig.core.complete_authorization(&Rig::approved(&link.url)).await.expect_err("locked");
    assert_eq!(err.error.code(), ErrorCode::KeychainUnavailable, "{err}");
    rig.keychain.fail_next(0);
    let account = rig.core.get_account(&link.account.id).expect("account");
    assert_ne!(account.status, AccountStatus::Active, "{account:?}");
    assert!(rig.keychain.keys().is_empty(), "{:?}", rig.keychain.keys());
    assert!(rig.core.access_token(&link.account.id, Duration::ZERO, &Actor::User).await.is_err());

    // Unlocked, the next sign-in completes for the same account.
    assert_eq!(rig.connect(Some("me")).await, link.account.id);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_keys_are_active_at_once_rotate_and_every_read_is_audited() {
    let rig = Rig::new(3600).await;
    let user = Actor::User;
    let account = rig
        .core
        .add_credential_account("crm", "ops", Credential::ApiKey(Secret::new("k-one")), &user)
        .await
        .expect("add");
    assert_eq!(account.status, AccountStatus::Active);
    let read = |c: Credential| match c {
        Credential::ApiKey(k) => k.expose().to_owned(),
        _ => panic!("not an API key"),
    };
    let agent = Actor::Cli { caller: "agent".into() };
    assert_eq!(read(rig.core.read_credential(&account.id, &agent).await.expect("read")), "k-one");
    rig.core
        .rotate_credential(&account.id, Credential::ApiKey(Secret::new("k-two")), &user)
        .await
        .expect("rotate");
    assert_eq!(read(rig.core.read_credential(&account.id, &agent).await.expect("read")), "k-two");

    // A locked keychain is a clear error and leaves the account as it was; a lost key is not.
    rig.keychain.fail_next(1);
    let err = rig.core.read_credential(&account.id, &agent).await.expect_err("locked");
    assert_eq!(err.code(), ErrorCode::KeychainUnavailable, "{err}");
    assert_eq!(rig.core.get_account(&account.id).expect("get").status, AccountStatus::Active);
    rig.keychain.delete(&format!("{}/api-key", account.id)).expect("lose it");
    let err = rig.core.read_credential(&account.id, &agent).await.expect_err("missing");
    assert_eq!(err.code(), ErrorCode::ReauthNeeded, "{err}");
    assert_eq!(rig.core.get_account(&account.id).expect("get").status, AccountStatus::Error);

    let trail = rig.core.audit_trail(&AuditQuery { account: Some(account.id.clone()), ..Default::default() });
    let trail = trail.expect("audit");
    let reads: Vec<_> = trail
        .iter()
        .filter(|e| e.action == "token.read" && e.outcome == "ok")
        .map(|e| (e.actor.as_str(), e.caller.as_deref()))
        .collect();
    assert_eq!(reads, [("cli", Some("agent")), ("cli", Some("agent"))]);
    assert!(trail.iter().any(|e| e.action == "credential.rotated"));
    for e in &trail {
        assert!(
            !e.detail.contains("k-one") && !e.detail.contains("k-two"),
            "secret in the audit trail: {e:?}"
        );
    }
}
