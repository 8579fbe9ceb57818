//! Tokens that stay alive, fail honestly and die when asked: refresh, revoke, suspend — against the
//! real test provider (short token lifetimes, fault injection) and the real keychain.

use crate::support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use latchkey_core::model::{AccountId, AccountStatus, Actor, ConnectionStatus};
use latchkey_core::{Error, ErrorCode, Latchkey};
use serde_json::json;
use support::{Decision, Harness, Provider, browse, core, entry};

const SCOPES: &[&str] = &["openid", "email"];

/// Connects "me" with access tokens that live `ttl` seconds.
async fn connected(provider: &Provider, ttl: u64) -> (Harness, AccountId) {
    provider.control("ttl", json!({ "access_token": ttl })).await;
    let h = core(provider, SCOPES).await;
    let link = h.core.get_authorization_link("test", Some("me"), &Actor::User).await.expect("link");
    let account = h
        .core
        .complete_authorization(&browse(provider, link.url.as_str(), Decision::Approve))
        .await
        .expect("connected");
    (h, account.id)
}

/// The provider's log of token-endpoint calls since the last clear: (status, error reason).
async fn token_calls(provider: &Provider) -> Vec<(serde_json::Value, Option<String>)> {
    let log = provider.requests().await;
    log.into_iter()
        .filter(|r| r["path"] == "/token")
        .map(|r| (r["status"].clone(), r["error"].as_str().map(str::to_owned)))
        .collect()
}

async fn clear_log(provider: &Provider) {
    provider.control("requests/clear", json!({})).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a desktop session: tests/with-session cargo test -- --include-ignored"]
async fn the_refresher_keeps_a_two_second_token_alive_for_a_minute() {
    let provider = Provider::start();
    let (h, id) = connected(&provider, 2).await;
    clear_log(&provider).await;
    let core = Arc::new(h.core);
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let refresher = tokio::spawn(latchkey_core::run_refresher(core.clone(), |_| {}, stop_rx));

    let started = Instant::now();
    let mut refresh_tokens = std::collections::BTreeSet::new();
    while started.elapsed() < Duration::from_secs(60) {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let account = core.get_account(&id).expect("get");
        // Active throughout. (A refresh that times out on an overloaded machine may mark it
        // offline for a moment; that is the honest state, and the next refresh clears it.)
        assert_eq!(account.status, AccountStatus::Active, "after {:?}", started.elapsed());
        if let Some(rt) = entry(&h.keychain, &id, "refresh") {
            refresh_tokens.insert(rt);
        }
    }
    stop_tx.send(true).expect("stop");
    refresher.await.expect("refresher ended");

    let calls = token_calls(&provider).await;
    println!("refreshes in 60 s: {}; distinct refresh tokens seen: {}", calls.len(), refresh_tokens.len());
    // Unloaded, about 40 (a refresh every ~1.4 s); the bound leaves room for a busy CI machine.
    assert!(calls.len() >= 15, "the refresher refreshed only {} times", calls.len());
    // No spent refresh token was ever used again: the provider saw no invalid_grant.
    assert!(calls.iter().all(|(_, error)| error.is_none()), "{calls:?}");
    assert!(calls.iter().filter(|(status, _)| *status == 200).count() >= 15, "{calls:?}");
    assert!(refresh_tokens.len() >= 15, "the refresh token rotates with each refresh");
    // The token still works at the provider. Asked with a margin of the whole lifetime: with the
    // refresher stopped, a 2 s token can be up to a second older at the provider than the local
    // receipt time says (the provider counts from its whole-second `iat`), so a smaller margin
    // could hand out one that expires before the provider's check.
    let token = core.access_token(&id, Duration::from_secs(2), &Actor::User).await.expect("token");
    assert!(provider.is_active(token.token.expose()).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a desktop session: tests/with-session cargo test -- --include-ignored"]
async fn a_hundred_concurrent_token_requests_cause_one_refresh_also_across_two_processes() {
    let provider = Provider::start();
    let (h, id) = connected(&provider, 3).await;
    let core = Arc::new(h.core);
    tokio::time::sleep(Duration::from_secs(4)).await;
    clear_log(&provider).await;

    let requests = (0..100).map(|_| {
        let core = core.clone();
        let id = id.clone();
        tokio::spawn(async move { core.access_token(&id, Duration::from_secs(60), &Actor::User).await })
    });
    let tokens: Vec<String> = futures_join(requests)
        .await
        .into_iter()
        .map(|t| t.expect("token").token.expose().to_owned())
        .collect();
    let calls = token_calls(&provider).await;
    println!("provider requests for 100 concurrent token requests: {}", calls.len());
    assert_eq!(calls.len(), 1, "{calls:?}");
    assert!(tokens.iter().all(|t| t == &tokens[0]), "everyone got the one new token");

    // The app and the CLI racing: a second core (its own store connection, instance and locks) on
    // the same data and keychain, 50 requests each.
    let (other, _, _) = support::open(&h.spec, Default::default()).await;
    let other = Arc::new(other);
    tokio::time::sleep(Duration::from_secs(4)).await;
    clear_log(&provider).await;
    let requests = (0..100).map(|i| {
        let core: Arc<Latchkey> = if i % 2 == 0 { core.clone() } else { other.clone() };
        let id = id.clone();
        tokio::spawn(async move { core.access_token(&id, Duration::from_secs(60), &Actor::User).await })
    });
    for t in futures_join(requests).await {
        t.expect("token");
    }
    let calls = token_calls(&provider).await;
    assert_eq!(calls.len(), 1, "two processes: {calls:?}");
    assert!(calls.iter().all(|(_, error)| error.is_none()), "no invalid_grant: {calls:?}");
}

async fn futures_join<T>(handles: impl Iterator<Item = tokio::task::JoinHandle<T>>) -> Vec<T> {
    let mut out = Vec::new();
    for h in handles.collect::<Vec<_>>() {
        out.push(h.await.expect("task"));
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a desktop session: tests/with-session cargo test -- --include-ignored"]
async fn transient_faults_keep_the_account_active_and_offline_then_it_recovers() {
    let provider = Provider::start();
    let (h, id) = connected(&provider, 3600).await;
    let html = "<html><body>Bad gateway</body></html>";
    let faults = [
        ("HTTP 500", json!({"path": "/token", "status": 500, "body": html, "content_type": "text/html"})),
        (
            "HTTP 503 with Retry-After",
            json!({"path": "/token", "status": 503, "body": "down", "headers": {"retry-after": "7"}}),
        ),
        ("HTTP 429", json!({"path": "/token", "status": 429, "body": {"error": "slow_down"}})),
        ("a dropped connection", json!({"path": "/token", "drop": true})),
        (
            "an HTML body with 200",
            json!({"path": "/token", "status": 200, "body": html, "content_type": "text/html"}),
        ),
    ];
    for (name, fault) in faults {
        provider.control("fault", fault).await;
        let err = h.core.refresh_now(&id, &Actor::Refresher).await.expect_err(name);
        assert_eq!(err.code(), ErrorCode::Network, "{name}: {err}");
        let account = h.core.get_account(&id).expect("get");
        assert_eq!(account.status, AccountStatus::Active, "{name}");
        assert!(account.offline.is_some(), "{name}: marked offline");
        let wait = account.retry_at.expect("a retry time") - now();
        if name.contains("Retry-After") {
            assert!((6..=8).contains(&wait), "Retry-After honoured: {wait}");
        } else {
            assert!(wait >= 1, "backs off: {wait}");
        }
        // While backing off, token requests that need a refresh do not hit the provider.
        clear_log(&provider).await;
        let early =
            h.core.access_token(&id, Duration::from_secs(7200), &Actor::User).await.expect_err("backing off");
        assert!(matches!(early, Error::Offline { .. }), "{early}");
        assert!(token_calls(&provider).await.is_empty());

        let recovered =
            h.core.refresh_now(&id, &Actor::Refresher).await.expect("recovers when the fault is gone");
        assert!(recovered.offline.is_none() && recovered.status == AccountStatus::Active, "{name}");
    }
    // A slow provider (5 s) is only slow.
    provider.control("fault", json!({"path": "/token", "delay_ms": 5000})).await;
    let slow = h.core.refresh_now(&id, &Actor::Refresher).await.expect("slow but fine");
    assert_eq!(slow.status, AccountStatus::Active);
    let trail = h.core.audit_trail(&Default::default()).expect("audit");
    assert!(trail.iter().any(|e| e.action == "token.refreshed" && e.detail.contains("recovered from")));
    h.core.revoke(&id, &Actor::User).await.expect("clean up");
}

fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_secs() as i64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a desktop session: tests/with-session cargo test -- --include-ignored"]
async fn a_dead_grant_expires_the_account_and_a_rejected_client_blames_the_connection() {
    let provider = Provider::start();
    let (h, id) = connected(&provider, 3600).await;

    let body = json!({"error": "invalid_client", "error_description": "client authentication failed"});
    provider.control("fault", json!({"path": "/token", "status": 401, "body": body})).await;
    let err = h.core.refresh_now(&id, &Actor::Refresher).await.expect_err("client rejected");
    assert_eq!(err.code(), ErrorCode::ProviderError, "{err}");
    assert_eq!(
        h.core.get_account(&id).expect("get").status,
        AccountStatus::Active,
        "the account is untouched"
    );
    let conn = h.core.connection("test").expect("conn");
    assert_eq!(h.core.connection_status(&conn).expect("status").0, ConnectionStatus::Error);

    // The user removes the app at the provider: the next refresh detects it.
    provider.control("revoke-grants", json!({"account": "alice"})).await;
    let err = h.core.refresh_now(&id, &Actor::Refresher).await.expect_err("grant revoked");
    assert_eq!(err.code(), ErrorCode::ReauthNeeded, "{err}");
    let account = h.core.get_account(&id).expect("get");
    assert_eq!(account.status, AccountStatus::Expired);
    assert!(account.last_error.is_some_and(|e| e.contains("reconnect")), "says what to do");
    assert_eq!(
        h.core.connection_status(&conn).expect("status").0,
        ConnectionStatus::Active,
        "the client works again"
    );
    let refused = h.core.access_token(&id, Duration::ZERO, &Actor::User).await.expect_err("expired");
    assert_eq!(refused.code(), ErrorCode::ReauthNeeded);

    // Reconnecting brings the same account back.
    let link = h.core.get_authorization_link("test", Some("me"), &Actor::User).await.expect("link");
    let again = h
        .core
        .complete_authorization(&browse(&provider, link.url.as_str(), Decision::Approve))
        .await
        .expect("ok");
    assert_eq!((again.id.clone(), again.status), (id.clone(), AccountStatus::Active));
    h.core.revoke(&id, &Actor::User).await.expect("clean up");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a desktop session: tests/with-session cargo test -- --include-ignored"]
async fn revoking_while_the_provider_is_down_deletes_locally_and_confirms_later() {
    let provider = Provider::start();
    let (h, id) = connected(&provider, 3600).await;
    let access = entry(&h.keychain, &id, "access").expect("stored");
    let refresh = entry(&h.keychain, &id, "refresh").expect("stored");
    provider
        .control("fault", json!({"path": "/token/revocation", "status": 503, "body": "down", "times": 2}))
        .await;

    let outcome = h.core.revoke(&id, &Actor::User).await.expect("revoked locally");
    assert!(!outcome.provider_confirmed);
    assert!(
        outcome.message.starts_with("Removed from this device; not confirmed by Test provider"),
        "{}",
        outcome.message
    );
    assert_eq!(outcome.account.status, AccountStatus::Revoked);
    assert!(outcome.account.revocation_pending);
    assert!(entry(&h.keychain, &id, "access").is_none() && entry(&h.keychain, &id, "refresh").is_none());
    assert!(h.core.access_token(&id, Duration::ZERO, &Actor::User).await.is_err(), "nothing to hand out");
    assert!(provider.is_active(&refresh).await, "the provider did not get the message yet");

    // The provider is back: the refresher's next pass confirms.
    let touched = h.core.refresh_pass(false).await.expect("pass");
    assert_eq!(touched, std::slice::from_ref(&id));
    assert!(!h.core.get_account(&id).expect("get").revocation_pending);
    assert!(!provider.is_active(&refresh).await && !provider.is_active(&access).await);
    assert!(entry(&h.keychain, &id, "revoke-refresh").is_none(), "parked tokens deleted");
    let trail = h.core.audit_trail(&Default::default()).expect("audit");
    assert!(trail.iter().any(|e| e.detail == "confirmed by the provider on a retry"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a desktop session: tests/with-session cargo test -- --include-ignored"]
async fn a_suspended_account_hands_out_nothing_and_is_not_refreshed_until_resumed() {
    let provider = Provider::start();
    let (h, id) = connected(&provider, 2).await;
    let suspended = h.core.suspend(&id, &Actor::User).await.expect("suspend");
    assert_eq!(suspended.status, AccountStatus::Suspended);
    clear_log(&provider).await;
    tokio::time::sleep(Duration::from_secs(3)).await;

    let refused = h.core.access_token(&id, Duration::ZERO, &Actor::Cli { caller: "agent".into() }).await;
    assert!(matches!(refused, Err(Error::Suspended)), "{refused:?}");
    assert!(h.core.refresh_pass(true).await.expect("pass").is_empty(), "nothing due while suspended");
    assert!(token_calls(&provider).await.is_empty(), "no refresh calls while suspended");
    assert!(entry(&h.keychain, &id, "refresh").is_some(), "the tokens are kept");

    let resumed = h.core.resume(&id, &Actor::User).await.expect("resume");
    assert_eq!(resumed.status, AccountStatus::Active);
    assert_eq!(token_calls(&provider).await.len(), 1, "refreshed on resume: its token had expired");
    h.core.access_token(&id, Duration::ZERO, &Actor::User).await.expect("tokens again");
    let trail = h.core.audit_trail(&Default::default()).expect("audit");
    let moves: Vec<_> =
        trail.iter().filter(|e| e.action == "state.changed").map(|e| e.detail.as_str()).collect();
    assert!(
        moves.iter().any(|d| d.starts_with("active -> suspended"))
            && moves.iter().any(|d| d.starts_with("suspended -> active"))
    );
    assert!(
        trail.iter().any(|e| e.action == "token.read"
            && e.outcome == "refused"
            && e.caller.as_deref() == Some("agent"))
    );
    h.core.revoke(&id, &Actor::User).await.expect("clean up");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a desktop session: tests/with-session cargo test -- --include-ignored"]
async fn the_identity_test_retries_once_after_a_401() {
    let provider = Provider::start();
    let (h, id) = connected(&provider, 3600).await;
    let identity = h.core.test_account(&id, &Actor::User).await.expect("test");
    assert_eq!(identity.email.as_deref(), Some("alice@example.test"));
    clear_log(&provider).await;
    provider
        .control("fault", json!({"path": "/me", "status": 401, "body": {"error": "invalid_token"}}))
        .await;
    let identity = h.core.test_account(&id, &Actor::User).await.expect("retried after a refresh");
    assert_eq!(identity.subject.as_deref(), Some("alice"));
    assert_eq!(token_calls(&provider).await.len(), 1, "one forced refresh");
    h.core.revoke(&id, &Actor::User).await.expect("clean up");
}

/// Revoke against a refresh in flight in another process, with the revocation endpoint failing:
/// revoke waits for the refresh, so the tokens it got are the ones parked for revocation; none is
/// left usable, and once the endpoint works the provider forgets them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a desktop session: tests/with-session cargo test -- --include-ignored"]
async fn revoke_wins_against_a_slow_refresh_in_another_process() {
    let provider = Provider::start();
    let (h, id) = connected(&provider, 3600).await;
    let (other, _, _) = support::open(&h.spec, Default::default()).await;
    let before = entry(&h.keychain, &id, "refresh").expect("stored");
    provider.control("fault", json!({"path": "/token", "delay_ms": 1500})).await;
    provider
        .control("fault", json!({"path": "/token/revocation", "status": 503, "body": "down", "times": 4}))
        .await;

    let other_id = id.clone();
    let refreshing = tokio::spawn(async move {
        let got = other.access_token(&other_id, Duration::from_secs(100_000), &Actor::User).await;
        (got, Instant::now())
    });
    tokio::time::sleep(Duration::from_millis(400)).await;
    let outcome = h.core.revoke(&id, &Actor::User).await.expect("revoked locally");
    let revoked_at = Instant::now();
    let (late, handed_out_at) = refreshing.await.expect("task");
    let late = late.expect("the refresh began first, so it finishes first");
    assert!(handed_out_at <= revoked_at, "the hand-out came before the revocation ended");

    assert!(!outcome.provider_confirmed);
    assert_eq!(outcome.account.status, AccountStatus::Revoked);
    for key in ["access", "refresh"] {
        assert!(entry(&h.keychain, &id, key).is_none(), "no usable {key} token is left");
    }
    let parked_access = entry(&h.keychain, &id, "revoke-access").expect("parked");
    let parked_refresh = entry(&h.keychain, &id, "revoke-refresh").expect("parked");
    assert_eq!(parked_access, late.token.expose(), "the token the refresh got is the one parked");
    assert_ne!(parked_refresh, before, "the refresh rotated the refresh token");
    let after = h.core.access_token(&id, Duration::ZERO, &Actor::User).await;
    assert!(matches!(after, Err(Error::NeedsReconnect(_))), "{after:?}");

    provider.control("fault/clear", json!({})).await;
    assert!(provider.is_active(&parked_refresh).await, "still live until the provider hears of it");
    assert!(h.core.retry_revocation(&id, &Actor::Refresher).await.expect("retry"));
    assert!(!provider.is_active(&parked_refresh).await && !provider.is_active(&parked_access).await);
    assert!(entry(&h.keychain, &id, "revoke-refresh").is_none(), "parked tokens deleted");
}

/// The keychain locks between the provider's answer and the write: the rotated tokens are kept in
/// memory and written once it accepts them again; if it never does, the account says it needs
/// reconnecting at once (not Active with a spent refresh token), and the provider forgets the
/// tokens nobody could keep.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a desktop session: tests/with-session cargo test -- --include-ignored"]
async fn a_keychain_that_locks_during_a_refresh_loses_nothing_silently() {
    let provider = Provider::start();
    let data = tempfile::tempdir().expect("tmp");
    let spec = support::spec(Some(&provider), SCOPES, data.path());
    let memory = latchkey_core::vault::MemoryStore::default();
    let (core, _, _) = support::open_on(&spec, Default::default(), Arc::new(memory.clone())).await;
    let link = core.get_authorization_link("test", Some("me"), &Actor::User).await.expect("link");
    let id = core
        .complete_authorization(&browse(&provider, link.url.as_str(), Decision::Approve))
        .await
        .expect("connected")
        .id;
    let stored = |which: &str| {
        memory.keys().contains(&format!("{id}/{which}")).then(|| {
            use latchkey_core::vault::SecretStore;
            memory.get(&format!("{id}/{which}")).expect("read").expect("there").expose().to_owned()
        })
    };

    // Locked for the first three attempts, then unlocked: the refresh is kept.
    memory.fail_next_writes(3);
    let token = core.access_token(&id, Duration::from_secs(100_000), &Actor::User).await.expect("kept");
    assert_eq!(stored("access").as_deref(), Some(token.token.expose()));
    let refresh = stored("refresh").expect("refresh token");
    assert!(provider.is_active(&refresh).await, "the stored refresh token is the live one");

    // Locked for good: the refresh fails as a keychain error, the account says why.
    memory.fail_next_writes(1_000);
    clear_log(&provider).await;
    let err = core.access_token(&id, Duration::from_secs(100_000), &Actor::User).await.expect_err("locked");
    assert_eq!(err.code(), ErrorCode::KeychainUnavailable, "{err}");
    let account = core.get_account(&id).expect("account");
    assert_eq!(account.status, AccountStatus::Expired, "{account:?}");
    let says = account.last_error.unwrap_or_default();
    assert!(says.contains("could not store the renewed tokens") && says.contains("Reconnect"), "{says}");
    assert!(!provider.is_active(&refresh).await, "the spent refresh token is dead at the provider");
    let paths = provider.request_paths().await;
    assert!(paths.iter().any(|p| p == "/token/revocation"), "the unkept tokens are revoked: {paths:?}");
}
