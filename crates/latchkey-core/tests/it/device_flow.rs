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
