//! The device authorization grant (RFC 8628) end to end against the real test provider (its
//! `/device/auth`, its token endpoint, its test controls playing the user) and the real keychain.

use std::future::pending;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support;

use latchkey_core::model::{AccountFilter, AccountStatus, Actor};
use latchkey_core::store::AuditQuery;
use latchkey_core::{Error, ErrorCode, Latchkey};
use support::{Provider, all_bytes_under, contains, core};

const SCOPES: &[&str] = &["openid", "email", "profile", "demo.read"];

/// The provider advertises a 1 s interval, so a test waits seconds, not RFC 8628's default 5 s.
async fn quick(provider: &Provider) {
    provider.control("device/interval", json!({"seconds": 1})).await;
}

fn no_accounts(core: &Latchkey) -> bool {
    core.list_connected_accounts(&AccountFilter::default()).expect("list").is_empty()
}

/// The `/token` requests of the provider's log, oldest first.
async fn token_polls(provider: &Provider) -> Vec<Value> {
    provider.requests().await.into_iter().filter(|r| r["path"] == "/token").collect()
}

/// Seconds between two entries of the provider's request log.
fn seconds_between(a: &Value, b: &Value) -> f64 {
    let at = |v: &Value| {
        time::OffsetDateTime::parse(
            v["at"].as_str().expect("at"),
            &time::format_description::well_known::Rfc3339,
        )
        .expect("time")
    };
    (at(b) - at(a)).as_seconds_f64()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a desktop session: tests/with-session cargo test -- --include-ignored"]
async fn approved_device_sign_in_is_stored_like_a_browser_sign_in() {
    let provider = Provider::start();
    quick(&provider).await;
    let h = core(&provider, SCOPES).await;

    let sign_in = h.core.start_device_authorization("test", None, &Actor::User).await.expect("started");
    assert_eq!(sign_in.account.status, AccountStatus::Pending);
    assert_eq!(sign_in.verification_uri.as_str(), format!("{}/device", provider.issuer));
    let complete = sign_in.verification_uri_complete.clone().expect("oidc-provider gives one");
    assert!(complete.query().is_some_and(|q| q.contains("user_code=")), "{complete}");
    assert!(sign_in.expires_in > Duration::from_secs(500) && sign_in.expires_in <= Duration::from_secs(600));
    let device_auth = provider.requests().await.into_iter().find(|r| r["path"] == "/device/auth");
    assert!(device_auth.is_some_and(|r| r["status"] == 200), "asked the device authorization endpoint");

    // Bob approves on another device: the account is his, with the scopes he granted.
    let user_code = sign_in.user_code.clone();
    provider.control("device/approve", json!({"user_code": user_code, "login": "bob"})).await;
    let account = h.core.finish_device_authorization(sign_in, pending()).await.expect("approved");
    assert_eq!(account.status, AccountStatus::Active);
    assert_eq!(account.identifier, "bob@example.test", "the unnamed account takes its identity's name");
    let identity = account.identity.clone().expect("identity from userinfo");
    assert_eq!(
        (identity.subject.as_deref(), identity.email.as_deref()),
        (Some("bob"), Some("bob@example.test"))
    );
    assert_eq!(account.granted_scopes, SCOPES);
    assert!(account.expires_at.is_some());

    let access = support::entry(&h.keychain, &account.id, "access").expect("access token in the keychain");
    let refresh = support::entry(&h.keychain, &account.id, "refresh").expect("refresh token in the keychain");
    assert!(provider.is_active(&access).await && provider.is_active(&refresh).await);
    // A token handed out afterwards is the stored one.
    let handed =
        h.core.access_token(&account.id, Duration::from_secs(60), &Actor::User).await.expect("token");
    assert_eq!(handed.token.expose(), access);

    let audit = h
        .core
        .audit_trail(&AuditQuery { account: Some(account.id.clone()), ..Default::default() })
        .expect("audit");
    let rows: Vec<(&str, &str)> = audit.iter().map(|e| (e.action.as_str(), e.detail.as_str())).collect();
    assert_eq!(
        rows[..3],
        [
            ("account.created", rows[0].1),
            ("authorization.started", "device authorization"),
            ("token.stored", "device code redeemed")
        ]
    );
    assert!(
        rows.iter().any(|(a, d)| *a == "state.changed" && d.starts_with("pending -> active")),
        "{rows:?}"
    );
    for entry in &audit {
        for secret in [&access, &refresh, &user_code] {
            assert!(!entry.detail.contains(secret.as_str()), "{entry:?}");
        }
    }
    for (path, bytes) in all_bytes_under(h.data_dir.path()) {
        for secret in [&access, &refresh] {
            assert!(!contains(&bytes, secret), "a token leaked into {}", path.display());
        }
    }
    h.core.revoke(&account.id, &Actor::User).await.expect("clean up");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a desktop session: tests/with-session cargo test -- --include-ignored"]
async fn a_person_approves_at_the_verification_page_on_another_device() {
    let provider = Provider::start();
    quick(&provider).await;
    let h = core(&provider, SCOPES).await;
    let sign_in = h.core.start_device_authorization("test", None, &Actor::User).await.expect("started");
    let page = sign_in.verification_uri_complete.clone().expect("with the code in it");
    // The scripted browser enters the code at /device, confirms it, signs in and consents, while
    // the core polls.
    let person = tokio::task::spawn_blocking({
        let (issuer, ca) = (provider.issuer.clone(), provider.ca_file.clone());
        move || support::browse_loopback(&Provider::attach(issuer, ca), page.as_str())
    });
    let account = h.core.finish_device_authorization(sign_in, pending()).await.expect("approved");
    person.await.expect("the browser finished");
    assert_eq!(account.status, AccountStatus::Active);
    assert_eq!(account.identifier, "alice@example.test");
    assert_eq!(account.granted_scopes, SCOPES);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a desktop session: tests/with-session cargo test -- --include-ignored"]
async fn denied_and_expired_device_sign_ins_say_so_and_leave_no_account() {
    let provider = Provider::start();
    quick(&provider).await;
    let h = core(&provider, SCOPES).await;

    let sign_in = h.core.start_device_authorization("test", None, &Actor::User).await.expect("started");
    provider.control("device/deny", json!({"user_code": sign_in.user_code})).await;
    let err = h.core.finish_device_authorization(sign_in, pending()).await.expect_err("denied");
    assert!(matches!(err.error, Error::Denied { .. }), "{err}");
    assert_eq!(err.error.code(), ErrorCode::ReauthNeeded);
    assert!(err.to_string().contains("declined"), "{err}");
    assert!(err.account.is_none(), "the unnamed account is gone");
    assert!(no_accounts(&h.core));

    // The code expires at the provider before anyone approves it.
    provider.control("ttl", json!({"device_code": 2})).await;
    let sign_in = h.core.start_device_authorization("test", None, &Actor::User).await.expect("started");
    assert_eq!(sign_in.expires_in, Duration::from_secs(2));
    let started = Instant::now();
    let err = h.core.finish_device_authorization(sign_in, pending()).await.expect_err("expired");
    assert!(matches!(err.error, Error::DeviceCodeExpired { .. }), "{err}");
    assert!(err.to_string().contains("expired"), "{err}");
    assert_eq!(err.error.code(), ErrorCode::ReauthNeeded);
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "stopped at the code's end: {:?}",
        started.elapsed()
    );
    assert!(no_accounts(&h.core));

    // Past its end the provider says `expired_token` (the answer a late poll gets); the code's
    // lifetime as the provider gave it ends the wait all the same.
    provider.control("ttl", json!({"device_code": 600})).await;
    let sign_in = h.core.start_device_authorization("test", None, &Actor::User).await.expect("started");
    provider
        .control("fault", json!({"path": "/token", "status": 400, "body": {"error": "expired_token"}}))
        .await;
    let err = h.core.finish_device_authorization(sign_in, pending()).await.expect_err("expired");
    assert!(matches!(err.error, Error::DeviceCodeExpired { .. }), "{err}");

    // A named account stays, Pending, with the reason.
    let sign_in =
        h.core.start_device_authorization("test", Some("work"), &Actor::User).await.expect("started");
    provider.control("device/deny", json!({"user_code": sign_in.user_code})).await;
    let err = h.core.finish_device_authorization(sign_in, pending()).await.expect_err("denied");
    let kept = err.account.expect("a named account is kept");
    assert_eq!((kept.identifier.as_str(), kept.status), ("work", AccountStatus::Pending));
    assert!(kept.last_error.is_some_and(|e| e.contains("declined")));
    assert!(support::entry(&h.keychain, &kept.id, "access").is_none());
    let failed = h
        .core
        .audit_trail(&AuditQuery { account: Some(kept.id.clone()), ..Default::default() })
        .expect("audit")
        .into_iter()
        .any(|e| e.action.as_str() == "authorization.failed" && e.detail.contains("declined"));
    assert!(failed, "the failure is in the audit trail");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a desktop session: tests/with-session cargo test -- --include-ignored"]
async fn polls_follow_the_interval_and_slow_down_adds_five_seconds() {
    let provider = Provider::start();
    quick(&provider).await;
    let h = core(&provider, SCOPES).await;

    let sign_in =
        h.core.start_device_authorization("test", Some("slow"), &Actor::User).await.expect("started");
    provider.control("requests/clear", json!({})).await;
    // The first poll (after 1 s) is told to slow down; the next comes 1 + 5 s later and gets the
    // tokens the user approved meanwhile.
    provider.control("fault", json!({"path": "/token", "status": 400, "body": {"error": "slow_down"}})).await;
    provider.control("device/approve", json!({"user_code": sign_in.user_code})).await;
    let account = h.core.finish_device_authorization(sign_in, pending()).await.expect("approved");
    assert_eq!(account.status, AccountStatus::Active);

    let polls = token_polls(&provider).await;
    assert_eq!(polls.len(), 2, "one slow_down, then the tokens: {polls:?}");
    assert_eq!(polls[0]["fault"], true);
    assert_eq!(polls[1]["status"], 200);
    let gap = seconds_between(&polls[0], &polls[1]);
    assert!(gap >= 5.9, "slow_down makes the next poll 1 + 5 s later, not {gap} s");
    assert!(gap < 9.0, "and not much later: {gap} s");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a desktop session: tests/with-session cargo test -- --include-ignored"]
async fn pending_polls_keep_the_interval_and_stopping_removes_the_placeholder() {
    let provider = Provider::start();
    quick(&provider).await;
    let h = core(&provider, SCOPES).await;

    let sign_in = h.core.start_device_authorization("test", None, &Actor::User).await.expect("started");
    provider.control("requests/clear", json!({})).await;
    let stop = tokio::time::sleep(Duration::from_millis(3500));
    let err = h.core.finish_device_authorization(sign_in, stop).await.expect_err("stopped");
    assert!(matches!(err.error, Error::Cancelled), "{err}");
    assert!(no_accounts(&h.core), "Ctrl-C leaves no half account");

    let polls = token_polls(&provider).await;
    assert!((2..=4).contains(&polls.len()), "about one poll a second: {polls:?}");
    assert!(
        polls.iter().all(|p| p["status"] == 400
            && p["error"].as_str().is_some_and(|e| e.contains("authorization_pending"))),
        "{polls:?}"
    );
    for pair in polls.windows(2) {
        let gap = seconds_between(&pair[0], &pair[1]);
        assert!(gap >= 0.95, "polls at least the interval apart: {gap} s");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a desktop session: tests/with-session cargo test -- --include-ignored"]
async fn hostile_device_answers_are_refused_and_leave_no_account() {
    let provider = Provider::start();
    let h = core(&provider, SCOPES).await;
    let answer = |overrides: Value| {
        let mut body = json!({
            "device_code": "dc-secret", "user_code": "ABCD-EFGH",
            "verification_uri": format!("{}/device", provider.issuer), "expires_in": 600, "interval": 1,
        });
        for (k, v) in overrides.as_object().expect("object") {
            body[k] = v.clone();
        }
        body
    };
    let cases = [
        (answer(json!({"verification_uri": "http://evil.example/device"})), "https"),
        (answer(json!({"verification_uri": "https://bank.example@evil.example/"})), "user name"),
        (answer(json!({"user_code": "AB\u{1b}[2JCD"})), "user code"),
        (answer(json!({"verification_uri_complete": "https://a.example/\u{202e}x"})), "cannot be shown"),
        (answer(json!({"device_code": null})), "no `device_code`"),
        (answer(json!({"interval": "often"})), "interval"),
        (
            json!({"error": "unauthorized_client", "error_description": "no\u{1b}[31m device flow"}),
            "unauthorized_client",
        ),
    ];
    for (body, needle) in cases {
        provider.control("fault", json!({"path": "/device/auth", "status": 200, "body": body})).await;
        let err = h.core.start_device_authorization("test", None, &Actor::User).await.expect_err(needle);
        let message = err.to_string();
        assert!(message.contains(needle), "{message} should mention {needle}");
        assert!(!message.chars().any(|c| c.is_control()), "{message:?}");
        assert!(!message.contains("dc-secret"), "{message}");
        assert!(no_accounts(&h.core), "{needle}: nothing left behind");
    }
    // A body of many MiB is not read whole.
    provider
        .control(
            "fault",
            json!({"path": "/device/auth", "status": 200, "body": "{\"x\":\"{{fill}}\"}",
                   "content_type": "application/json", "fill": {"text": "x", "times": 3 << 20}}),
        )
        .await;
    let err = h.core.start_device_authorization("test", None, &Actor::User).await.expect_err("huge");
    assert!(err.to_string().contains("too long"), "{err}");

    // A connection whose provider offers no device flow says why before asking anything.
    let err = h.core.start_device_authorization("slack", None, &Actor::User).await.expect_err("slack");
    assert!(err.to_string().contains("offers no device sign-in"), "{err}");
    assert!(no_accounts(&h.core));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a desktop session: tests/with-session cargo test -- --include-ignored"]
async fn a_device_sign_in_by_another_person_than_the_named_email_is_refused_and_revoked() {
    let provider = Provider::start();
    quick(&provider).await;
    let h = core(&provider, SCOPES).await;
    let sign_in = h
        .core
        .start_device_authorization("test", Some("alice@example.test"), &Actor::User)
        .await
        .expect("started");
    provider.control("device/approve", json!({"user_code": sign_in.user_code, "login": "mallory"})).await;
    let err = h.core.finish_device_authorization(sign_in, pending()).await.expect_err("someone else");
    assert!(matches!(err.error, Error::IdentityMismatch { .. }), "{err}");
    let account = err.account.expect("the named account stays");
    assert_eq!(account.status, AccountStatus::Pending);
    assert!(support::entry(&h.keychain, &account.id, "access").is_none(), "nothing stored");
    let live = provider.query("tokens", json!({"account": "mallory"})).await;
    assert_eq!(live, json!({"access_tokens": 0, "refresh_tokens": 0}), "mallory's tokens were revoked");
}

/// The catalog's device providers with their real URLs and answers, through the local HTTPS
/// stand-in (`fake_https`): what is sent where (no client secret to GitHub, Google's in the body),
/// each provider's way of saying "pending" (GitHub: HTTP 200; Google: 428), Google's
/// `verification_url`, Microsoft's missing `verification_uri_complete`.
#[cfg(target_os = "linux")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_catalogs_device_providers_are_spoken_to_as_they_document() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use crate::fake_https::{FakeHttps, Request};
    use latchkey_core::http::Http;
    use latchkey_core::secret::Secret;
    use latchkey_core::vault::MemoryStore;
    use latchkey_core::{ConnectionChange, Options};

    struct Case {
        entry: &'static str,
        device: &'static str,
        token: &'static str,
        device_answer: &'static str,
        /// Status and body of a "not yet" poll.
        pending: (u16, &'static str),
        token_answer: &'static str,
        identity: &'static str,
        identity_answer: &'static str,
        scopes: Option<&'static [&'static str]>,
        /// The client secret, and whether the device flow sends it in the body.
        secret: Option<&'static str>,
        secret_sent: bool,
        sent_scope: &'static str,
        complete: bool,
        email: &'static str,
    }
    let cases = [
        Case {
            entry: "github",
            device: "https://github.com/login/device/code",
            token: "https://github.com/login/oauth/access_token",
            device_answer: r#"{"device_code":"3584d83530557fdd1f46af8289938c8ef79f9dc5","user_code":"WDJB-MJHT","verification_uri":"https://github.com/login/device","expires_in":900,"interval":1}"#,
            pending: (
                200,
                r#"{"error":"authorization_pending","error_description":"The authorization request is still pending.","error_uri":"https://docs.github.com/developers/apps/authorizing-oauth-apps#error-codes-for-the-device-flow"}"#,
            ),
            token_answer: r#"{"access_token":"gho_16C7e42F292c6912E7710c838347Ae178B4a","token_type":"bearer","scope":"read:user,user:email"}"#,
            identity: "https://api.github.com/user",
            identity_answer: r#"{"login":"octocat","id":583231,"name":"The Octocat","email":"octocat@github.com"}"#,
            scopes: None,
            secret: Some("s3cret-xyz"),
            secret_sent: false,
            sent_scope: "read:user user:email",
            complete: false,
            email: "octocat@github.com",
        },
        Case {
            entry: "microsoft",
            device: "https://login.microsoftonline.com/common/oauth2/v2.0/devicecode",
            token: "https://login.microsoftonline.com/common/oauth2/v2.0/token",
            device_answer: r#"{"user_code":"FYQWQ8FSL","device_code":"FAQABAAEAAAD--DLA3VO7QrddgJg7WevrB-test","verification_uri":"https://microsoft.com/devicelogin","expires_in":900,"interval":1,"message":"To sign in, use a web browser to open the page https://microsoft.com/devicelogin and enter the code FYQWQ8FSL to authenticate."}"#,
            pending: (
                400,
                r#"{"error":"authorization_pending","error_description":"AADSTS70016: OAuth 2.0 device flow error. Authorization is pending.","error_codes":[70016]}"#,
            ),
            token_answer: r#"{"token_type":"Bearer","scope":"openid email profile offline_access User.Read","expires_in":3600,"access_token":"EwBwA8l6BAAU-test","refresh_token":"M.C507_BAY.0.U.-test","id_token":"eyJ0eXAiOiJKV1QifQ.e30.sig"}"#,
            identity: "https://graph.microsoft.com/oidc/userinfo",
            identity_answer: r#"{"sub":"OLu859SGc2Sr9ZsqbkG-QbeLgJlb41KcdiPoLYNpSFA","name":"Mikah Ollenburg","email":"mikoll@contoso.com"}"#,
            scopes: None,
            secret: None,
            secret_sent: false,
            sent_scope: "openid email offline_access User.Read",
            complete: false,
            email: "mikoll@contoso.com",
        },
        Case {
            entry: "google-drive",
            device: "https://oauth2.googleapis.com/device/code",
            token: "https://oauth2.googleapis.com/token",
            device_answer: r#"{"device_code":"AH-1Ng1ESA1Bzxw-test","user_code":"GQVQ-JKEC","verification_url":"https://www.google.com/device","expires_in":1800,"interval":1}"#,
            pending: (
                428,
                r#"{"error":"authorization_pending","error_description":"Precondition Required"}"#,
            ),
            token_answer: r#"{"access_token":"ya29.a0AfB_device-access","expires_in":3599,"refresh_token":"1//0g-device-refresh","scope":"https://www.googleapis.com/auth/drive.file openid https://www.googleapis.com/auth/userinfo.email","token_type":"Bearer","id_token":"eyJhbGciOiJSUzI1NiJ9.e30.sig"}"#,
            identity: "https://openidconnect.googleapis.com/v1/userinfo",
            identity_answer: r#"{"sub":"110169484474386276334","name":"Ada Lovelace","email":"ada@gmail.com","email_verified":true}"#,
            scopes: Some(&["openid", "email", "https://www.googleapis.com/auth/drive.file"]),
            secret: Some("GOCSPX-test-secret"),
            secret_sent: true,
            sent_scope: "openid email https://www.googleapis.com/auth/drive.file",
            complete: false,
            email: "ada@gmail.com",
        },
    ];
    let mut hosts: Vec<String> = cases
        .iter()
        .flat_map(|c| [c.device, c.token, c.identity])
        .map(|u| url::Url::parse(u).expect("url").host_str().expect("host").to_owned())
        .collect();
    hosts.sort();
    hosts.dedup();
    let server = FakeHttps::start(&hosts.iter().map(String::as_str).collect::<Vec<_>>());
    let dir = tempfile::tempdir().expect("tmp");
    let mut http = Http::with_extra_root(&server.ca_pem).expect("ca");
    for h in &hosts {
        http = http.resolving(h, server.addr);
    }
    let file = dir.path().join("connections.toml");
    let (core, _) = Latchkey::open(Options {
        data_dir: dir.path().to_owned(),
        connections: latchkey_core::config::load_connections(&file).expect("catalog"),
        connections_file: Some(file),
        secrets: Arc::new(MemoryStore::default()),
        redirect_scheme: "io.latchkey.desktop".into(),
        http,
        hooks: Default::default(),
    })
    .await
    .expect("open");

    for case in &cases {
        let e = case.entry;
        let change = ConnectionChange {
            client_id: Some(Some("client-123".into())),
            client_secret: case.secret.map(|s| Some(Secret::new(s))),
            scopes: case.scopes.map(|s| s.iter().map(|s| s.to_string()).collect()),
            ..Default::default()
        };
        core.configure_connection(e, change, &Actor::User).await.expect("configure");
        let polls = Arc::new(AtomicUsize::new(0));
        let (seen, device, token) = (polls.clone(), case.device.to_owned(), case.token.to_owned());
        let (device_answer, not_yet, token_answer) = (case.device_answer, case.pending, case.token_answer);
        let (identity, identity_answer) = (case.identity.to_owned(), case.identity_answer);
        server.answer(move |r: &Request| {
            let url = format!("https://{}{}", r.host, r.path());
            if url == device {
                (200, "application/json", device_answer.to_owned())
            } else if url == token && seen.fetch_add(1, Ordering::SeqCst) == 0 {
                (not_yet.0, "application/json", not_yet.1.to_owned())
            } else if url == token {
                (200, "application/json", token_answer.to_owned())
            } else if url == identity {
                (200, "application/json", identity_answer.to_owned())
            } else {
                (404, "text/plain", format!("unexpected {url}"))
            }
        });

        let sign_in = core.start_device_authorization(e, None, &Actor::User).await.expect(e);
        assert_eq!(sign_in.verification_uri_complete.is_some(), case.complete, "{e}");
        assert!(sign_in.verification_uri.as_str().starts_with("https://"), "{e}");
        let account = core.finish_device_authorization(sign_in, pending()).await.expect(e);
        assert_eq!(account.status, AccountStatus::Active, "{e}");
        assert_eq!(account.identity.and_then(|i| i.email).as_deref(), Some(case.email), "{e}");
        assert_eq!(polls.load(Ordering::SeqCst), 2, "{e}: a pending poll, then the tokens");

        let requests = server.requests();
        let asked = requests.iter().find(|r| r.path() == url::Url::parse(case.device).expect("url").path());
        let asked = asked.expect("the device authorization request");
        assert_eq!(asked.method, "POST", "{e}");
        assert_eq!(asked.header("accept"), Some("application/json"), "{e}");
        assert_eq!(asked.param("client_id").as_deref(), Some("client-123"), "{e}");
        assert_eq!(asked.param("scope").as_deref(), Some(case.sent_scope), "{e}");
        let polled: Vec<&Request> =
            requests.iter().filter(|r| format!("https://{}{}", r.host, r.path()) == case.token).collect();
        assert_eq!(polled.len(), 2, "{e}");
        for (r, secret_field) in
            [(asked, case.secret_sent), (polled[0], case.secret_sent), (polled[1], case.secret_sent)]
        {
            assert_eq!(r.param("client_secret").is_some(), secret_field, "{e}: {}", r.body);
            assert!(r.basic().is_none(), "{e}: no Basic header");
        }
        assert_eq!(
            polled[1].param("grant_type").as_deref(),
            Some("urn:ietf:params:oauth:grant-type:device_code")
        );
        let device_code =
            serde_json::from_str::<Value>(case.device_answer).expect("json")["device_code"].clone();
        assert_eq!(polled[1].param("device_code").as_deref(), device_code.as_str(), "{e}");
        // The device code and the tokens stay out of the audit trail.
        let token = serde_json::from_str::<Value>(case.token_answer).expect("json")["access_token"].clone();
        for entry in core.audit_trail(&AuditQuery::default()).expect("audit") {
            for secret in [device_code.as_str(), token.as_str()].into_iter().flatten() {
                assert!(!entry.detail.contains(secret), "{e}: {entry:?}");
            }
        }
    }
}
