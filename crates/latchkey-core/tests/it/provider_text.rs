//! What a hostile or strict provider sends, against the real test provider and keychain: identity
//! claims and error text with escape sequences, line breaks, bidi overrides and megabytes of text;
//! a `Retry-After` far in the future; a sign-in by another person than the account names; and
//! OpenID Connect's `offline_access`, which needs `prompt=consent`.

use std::time::Duration;

use crate::support;
use latchkey_core::model::{Account, AccountStatus, Actor};
use latchkey_core::sanitize::{EMAIL_MAX, ERROR_MAX, is_unsafe};
use latchkey_core::store::AuditQuery;
use latchkey_core::{Error, Latchkey};
use serde_json::json;
use support::{Decision, Harness, Provider, browse, core, entry};

const SCOPES: &[&str] = &["openid", "email", "profile", "demo.read"];

/// Escape sequences (CSI, OSC title and hyperlink), line breaks and a bidi override.
const HOSTILE: &str = "\u{1b}[2J\u{1b}]0;owned\u{7}\u{1b}]8;;https://evil.test\u{1b}\\\r\nforged row\u{202E}";

fn assert_clean(what: &str, text: &str, max: usize) {
    assert!(!text.chars().any(is_unsafe), "{what} keeps a control character: {text:?}");
    assert!(text.chars().count() <= max, "{what} is {} characters long", text.chars().count());
}

/// Every text the account and its audit trail hold is clean and short.
fn assert_account_clean(core: &Latchkey, a: &Account) {
    assert_clean("the account name", &a.identifier, 200);
    if let Some(i) = &a.identity {
        for f in [&i.subject, &i.email, &i.name].into_iter().flatten() {
            assert_clean("an identity field", f, 255);
        }
    }
    if let Some(e) = &a.last_error {
        assert_clean("last_error", e, 2 * ERROR_MAX + 200);
    }
    let trail =
        core.audit_trail(&AuditQuery { account: Some(a.id.clone()), ..Default::default() }).expect("audit");
    for e in trail {
        assert_clean("an audit detail", &e.detail, 2 * ERROR_MAX + 200);
    }
}

async fn connect_as(h: &Harness, provider: &Provider, identifier: Option<&str>, login: &str) -> Account {
    let link = h.core.get_authorization_link("test", identifier, &Actor::User).await.expect("link");
    let callback = browse(provider, link.url.as_str(), Decision::As(login));
    h.core.complete_authorization(&callback).await.expect("connected")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a desktop session: tests/with-session cargo test -- --include-ignored"]
async fn a_hostile_identity_is_cleaned_and_names_an_addressable_account() {
    let provider = Provider::start();
    let h = core(&provider, SCOPES).await;
    let email = format!("m{HOSTILE}@example.test");
    provider
        .control("claims", json!({"account": "mallory", "claims": {"email": email, "name": HOSTILE}}))
        .await;
    let a = connect_as(&h, &provider, None, "mallory").await;
    assert_eq!(a.status, AccountStatus::Active);
    let identity = a.identity.clone().expect("identity");
    let expected = "m[2J]0;owned]8;;https://evil.test\\ forged row@example.test";
    assert_eq!(identity.email.as_deref(), Some(expected));
    assert_eq!(a.identifier, expected, "named after the cleaned email");
    assert_account_clean(&h.core, &a);
    let found = h.core.get_connected_account("test", &a.identifier).expect("the name addresses it");
    assert_eq!(found.id, a.id);

    // A megabyte email (more than an account name may hold) and a megabyte name: cut to their
    // lengths; the account is named after the subject, the first field that makes a valid name.
    let huge = format!("{}{HOSTILE}", "x".repeat(400_000));
    provider
        .control(
            "claims",
            json!({"account": "trudy", "claims": {"email": format!("{huge}@example.test"), "name": huge}}),
        )
        .await;
    let t = connect_as(&h, &provider, None, "trudy").await;
    let identity = t.identity.clone().expect("identity");
    assert_eq!(identity.email.as_ref().map(|e| e.chars().count()), Some(EMAIL_MAX));
    assert_eq!(identity.name.as_ref().map(|e| e.chars().count()), Some(200));
    assert_eq!(t.identifier, "trudy");
    assert_account_clean(&h.core, &t);
    for account in [a, t] {
        h.core.revoke(&account.id, &Actor::User).await.expect("revoke by its name's account");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a desktop session: tests/with-session cargo test -- --include-ignored"]
async fn hostile_error_text_is_cleaned_and_huge_error_bodies_are_not_read_whole() {
    let provider = Provider::start();
    let h = core(&provider, SCOPES).await;

    // 1,500 escape sequences and line breaks in a parseable error_description (47 KB of JSON).
    let fill = json!({"text": "\\u001b]0;pwn\\u0007\\u001b[2J\\n\\u202e", "times": 1500});
    let body = r#"{"error":"invalid_request\u001b[31m","error_description":"{{fill}}"}"#;
    provider
        .control(
            "fault",
            json!({"path": "/token", "status": 400, "body": body, "fill": fill,
        "content_type": "application/json"}),
        )
        .await;
    let link = h.core.get_authorization_link("test", Some("errors"), &Actor::User).await.expect("link");
    let err = h
        .core
        .complete_authorization(&browse(&provider, link.url.as_str(), Decision::Approve))
        .await
        .expect_err("the fault answers");
    let sentence = err.error.to_string();
    assert!(sentence.contains("invalid_request[31m: ]0;pwn[2J ]0;pwn"), "{sentence}");
    assert_clean("the error", &sentence, 2 * ERROR_MAX + 200);
    let account = err.account.expect("account");
    assert_eq!(account.status, AccountStatus::Pending);
    assert_account_clean(&h.core, &account);

    // 50 MiB of it: only the first 64 KiB are read; the rest is not waited for.
    let fill = json!({"text": "\u{1b}]0;pwn\u{7}\u{1b}[2J\n", "times": 50 * 1024 * 1024 / 11});
    provider
        .control(
            "fault",
            json!({"path": "/token", "status": 400, "fill": fill,
        "body": "{\"error\":\"invalid_request\",\"error_description\":\"{{fill}}\"}",
        "content_type": "application/json"}),
        )
        .await;
    let link = h.core.get_authorization_link("test", Some("errors"), &Actor::User).await.expect("link");
    let callback = browse(&provider, link.url.as_str(), Decision::Approve);
    let started = std::time::Instant::now();
    let err = h.core.complete_authorization(&callback).await.expect_err("the fault answers");
    assert!(started.elapsed() < Duration::from_secs(10), "{:?}", started.elapsed());
    assert_clean("the error", &err.error.to_string(), 2 * ERROR_MAX + 200);
    assert_account_clean(&h.core, &err.account.expect("account"));

    // The authorization response's own error fields (anything may open the redirect URI; the
    // parser takes at most 8 KiB of it).
    let link = h.core.get_authorization_link("test", Some("errors"), &Actor::User).await.expect("link");
    let state = link.url.query_pairs().find(|(k, _)| k == "state").expect("state").1.into_owned();
    let mut callback = url::Url::parse("io.latchkey.desktop:/oauth/test/callback").expect("url");
    callback
        .query_pairs_mut()
        .append_pair("error", &format!("server_error{HOSTILE}"))
        .append_pair("error_description", &HOSTILE.repeat(40))
        .append_pair("state", &state)
        .append_pair("iss", &provider.issuer);
    let err = h.core.complete_authorization(callback.as_str()).await.expect_err("an error response");
    assert!(matches!(err.error, Error::Provider { .. }), "{err}");
    assert_clean("the error", &err.error.to_string(), 2 * ERROR_MAX + 200);
    assert_account_clean(&h.core, &err.account.expect("account"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a desktop session: tests/with-session cargo test -- --include-ignored"]
async fn a_retry_after_far_in_the_future_waits_at_most_an_hour() {
    let provider = Provider::start();
    let h = core(&provider, SCOPES).await;
    let a = connect_as(&h, &provider, Some("slow"), "alice").await;
    provider
        .control(
            "fault",
            json!({"path": "/token", "status": 503, "body": "down", "headers": {"retry-after": "99999999999"}}),
        )
        .await;
    let before =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_secs() as i64;
    let err = h.core.access_token(&a.id, Duration::from_secs(7200), &Actor::User).await.expect_err("offline");
    assert!(matches!(err, Error::Offline { .. }), "{err}");
    let after = h.core.get_connected_account("test", "slow").expect("account");
    let retry_at = after.retry_at.expect("a retry time");
    assert!(retry_at > before && retry_at <= before + 3600 + 5, "retry at {retry_at}, now {before}");
    h.core.revoke(&a.id, &Actor::User).await.expect("clean up");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a desktop session: tests/with-session cargo test -- --include-ignored"]
async fn a_sign_in_by_another_person_than_the_named_email_is_refused_and_revoked() {
    let provider = Provider::start();
    let h = core(&provider, SCOPES).await;
    let link =
        h.core.get_authorization_link("test", Some("alice@example.test"), &Actor::User).await.expect("link");
    let callback = browse(&provider, link.url.as_str(), Decision::As("bob"));
    let err = h.core.complete_authorization(&callback).await.expect_err("bob is not alice");
    assert!(matches!(err.error, Error::IdentityMismatch { .. }), "{err}");
    let sentence = err.error.to_string();
    assert!(sentence.contains("bob@example.test") && sentence.contains("alice@example.test"), "{sentence}");
    let account = err.account.expect("account");
    assert_eq!(account.status, AccountStatus::Pending);
    assert_eq!(account.identity, None, "bob's identity is not recorded");
    assert!(entry(&h.keychain, &account.id, "access").is_none());
    assert!(entry(&h.keychain, &account.id, "refresh").is_none());
    let paths = provider.request_paths().await;
    assert!(paths.iter().any(|p| p == "/token/revocation"), "{paths:?}");
    let live = provider.query("tokens", json!({"account": "bob"})).await;
    assert_eq!(live, json!({"access_tokens": 0, "refresh_tokens": 0}), "bob's tokens were revoked");

    // The same account, signed in as alice (in another case), connects.
    let link =
        h.core.get_authorization_link("test", Some("Alice@Example.test"), &Actor::User).await.expect("link");
    let callback = browse(&provider, link.url.as_str(), Decision::As("alice"));
    let a = h.core.complete_authorization(&callback).await.expect("alice is alice");
    assert_eq!(a.status, AccountStatus::Active);
    h.core.revoke(&a.id, &Actor::User).await.expect("clean up");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a desktop session: tests/with-session cargo test -- --include-ignored"]
async fn offline_access_asks_for_consent_and_a_missing_refresh_token_is_said() {
    let provider = Provider::start();
    provider.control("offline-access", json!({"strict": true})).await;
    provider.control("ttl", json!({"access_token": 1})).await;
    let scopes = ["openid", "email", "offline_access"];
    let h = core(&provider, &scopes).await;

    let link = h.core.get_authorization_link("test", Some("kept"), &Actor::User).await.expect("link");
    let query: std::collections::HashMap<_, _> = link.url.query_pairs().into_owned().collect();
    assert_eq!(query.get("prompt").map(String::as_str), Some("consent"));
    let callback = browse(&provider, link.url.as_str(), Decision::Approve);
    let a = h.core.complete_authorization(&callback).await.expect("connected");
    assert_eq!(a.last_error, None);
    let refresh = entry(&h.keychain, &a.id, "refresh").expect("a refresh token");
    tokio::time::sleep(Duration::from_millis(2100)).await;
    // The refreshed token lives long enough to be introspected on a loaded machine.
    provider.control("ttl", json!({"access_token": 3600})).await;
    let token = h.core.access_token(&a.id, Duration::ZERO, &Actor::User).await.expect("refreshed");
    assert!(provider.is_active(token.token.expose()).await);
    assert_ne!(entry(&h.keychain, &a.id, "refresh").expect("rotated"), refresh);

    // The user unticks offline access: no refresh token, and the account says so.
    let link = h.core.get_authorization_link("test", Some("brief"), &Actor::User).await.expect("link");
    let callback = browse(&provider, link.url.as_str(), Decision::Grant("openid email"));
    let b = h.core.complete_authorization(&callback).await.expect("connected");
    assert_eq!(b.status, AccountStatus::Active);
    assert!(entry(&h.keychain, &b.id, "refresh").is_none());
    let note = b.last_error.clone().expect("a note");
    assert!(note.starts_with("No refresh token was issued"), "{note}");

    // Without offline_access nothing asks for consent again.
    let h2 = core(&provider, &["openid", "email"]).await;
    let link = h2.core.get_authorization_link("test", Some("plain"), &Actor::User).await.expect("link");
    assert!(!link.url.query_pairs().any(|(k, _)| k == "prompt"), "{}", link.url.path());
    h2.core.cancel_authorization(&link.account.id);
    for id in [a.id, b.id] {
        h.core.revoke(&id, &Actor::User).await.expect("clean up");
    }
}
