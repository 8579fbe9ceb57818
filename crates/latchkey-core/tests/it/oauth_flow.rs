//! The authorization-code flow end to end against the real test provider and the real keychain.

use crate::support;

use latchkey_core::model::{AccountStatus, Actor};
use latchkey_core::store::AuditQuery;
use latchkey_core::{Error, ErrorCode};
use support::{Decision, Provider, all_bytes_under, browse, contains, core};

const SCOPES: &[&str] = &["openid", "email", "profile", "demo.read"];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a desktop session: tests/with-session cargo test -- --include-ignored"]
async fn connect_stores_tokens_in_the_keychain_and_records_scopes_and_identity() {
    let provider = Provider::start();
    let h = core(&provider, SCOPES).await;

    assert!(h.core.is_idle());
    let link = h.core.get_authorization_link("test", None, &Actor::User).await.expect("link");
    assert_eq!(link.account.status, AccountStatus::Pending);
    assert!(!h.core.is_idle(), "a sign-in waiting for its callback is work under way");
    let query: std::collections::HashMap<_, _> = link.url.query_pairs().into_owned().collect();
    assert_eq!(query["code_challenge_method"], "S256");
    assert!(query["state"].len() >= 22, "high-entropy state");
    assert_eq!(query["redirect_uri"], "io.latchkey.desktop:/oauth/test/callback");

    let callback = browse(&provider, link.url.as_str(), Decision::Approve);
    let account = h.core.complete_authorization(&callback).await.expect("completed");
    assert_eq!(account.id, link.account.id);
    assert_eq!(account.status, AccountStatus::Active);
    assert!(h.core.is_idle());
    assert_eq!(account.granted_scopes, SCOPES);
    let identity = account.identity.clone().expect("identity from userinfo");
    assert_eq!(identity.email.as_deref(), Some("alice@example.test"));
    assert_eq!(identity.subject.as_deref(), Some("alice"));
    assert_eq!(account.identifier, "alice@example.test", "an unnamed account takes its identity's name");
    assert!(account.expires_at.is_some());

    let access =
        h.keychain.get(&format!("{}/access", account.id)).expect("read").expect("access token stored");
    let refresh =
        h.keychain.get(&format!("{}/refresh", account.id)).expect("read").expect("refresh token stored");
    assert!(provider.is_active(access.expose()).await);

    // Nothing secret in the data folder (SQLite, its WAL, logs).
    for (path, bytes) in all_bytes_under(h.data_dir.path()) {
        for secret in [access.expose(), refresh.expose()] {
            assert!(!contains(&bytes, secret), "a token leaked into {}", path.display());
        }
    }
    let audit: Vec<_> = h
        .core
        .audit_trail(&AuditQuery { account: Some(account.id.clone()), ..Default::default() })
        .expect("audit")
        .into_iter()
        .map(|e| e.action)
        .collect();
    assert_eq!(audit, ["account.created", "authorization.started", "token.stored", "state.changed"]);
    h.core.revoke(&account.id, &Actor::User).await.expect("clean up");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a desktop session: tests/with-session cargo test -- --include-ignored"]
async fn revoke_invalidates_the_tokens_at_the_provider_and_deletes_them_locally() {
    let provider = Provider::start();
    let h = core(&provider, SCOPES).await;
    let link = h.core.get_authorization_link("test", Some("work"), &Actor::User).await.expect("link");
    let account = h
        .core
        .complete_authorization(&browse(&provider, link.url.as_str(), Decision::Approve))
        .await
        .expect("ok");
    assert_eq!(account.identifier, "work", "a named account keeps its name");
    let access = h.keychain.get(&format!("{}/access", account.id)).expect("read").expect("stored");
    let refresh = h.keychain.get(&format!("{}/refresh", account.id)).expect("read").expect("stored");
    assert!(provider.is_active(access.expose()).await && provider.is_active(refresh.expose()).await);

    let outcome = h.core.revoke(&account.id, &Actor::User).await.expect("revoked");
    assert!(outcome.provider_confirmed, "{}", outcome.message);
    assert_eq!(outcome.account.status, AccountStatus::Revoked);
    assert!(!provider.is_active(access.expose()).await, "access token still active at the provider");
    assert!(!provider.is_active(refresh.expose()).await, "refresh token still active at the provider");
    assert!(h.keychain.get(&format!("{}/access", account.id)).expect("read").is_none());
    assert!(h.keychain.get(&format!("{}/refresh", account.id)).expect("read").is_none());
    let last = h
        .core
        .audit_trail(&AuditQuery { account: Some(account.id.clone()), ..Default::default() })
        .expect("audit")
        .pop()
        .expect("entry");
    assert!(last.detail.starts_with("active -> revoked"), "{}", last.detail);

    // Revoking again is refused by the state machine, with nothing else touched.
    let again = h.core.revoke(&account.id, &Actor::User).await.expect_err("already revoked");
    assert!(matches!(again, Error::InvalidTransition { .. }), "{again}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a desktop session: tests/with-session cargo test -- --include-ignored"]
async fn deny_at_consent_stores_nothing_and_says_so() {
    let provider = Provider::start();
    let h = core(&provider, SCOPES).await;
    let link = h.core.get_authorization_link("test", Some("denied"), &Actor::User).await.expect("link");
    let other = h.core.get_authorization_link("test", Some("given up"), &Actor::User).await.expect("link");
    assert!(h.core.cancel_authorization(&other.account.id));
    let callback = browse(&provider, link.url.as_str(), Decision::Deny);
    let err = h.core.complete_authorization(&callback).await.expect_err("denied");
    assert!(matches!(err.error, Error::Denied { .. }), "{err}");
    assert_eq!(err.error.code(), ErrorCode::ReauthNeeded);
    assert!(err.to_string().contains("declined"), "{err}");
    let account = err.account.expect("the account is reported");
    assert_eq!(account.status, AccountStatus::Pending);
    assert!(account.last_error.is_some_and(|e| e.contains("declined")));
    assert!(h.keychain.get(&format!("{}/access", account.id)).expect("read").is_none());
    assert!(!provider.request_paths().await.iter().any(|p| p == "/token"), "no code was redeemed");
    assert!(h.core.is_idle(), "a refused and a cancelled sign-in leave nothing under way");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a desktop session: tests/with-session cargo test -- --include-ignored"]
async fn a_partial_grant_records_what_was_granted() {
    let provider = Provider::start();
    let h = core(&provider, SCOPES).await;
    let link = h.core.get_authorization_link("test", None, &Actor::User).await.expect("link");
    let callback = browse(&provider, link.url.as_str(), Decision::Grant("openid email"));
    let account = h.core.complete_authorization(&callback).await.expect("ok");
    assert_eq!(account.granted_scopes, ["openid", "email"]);
    assert_eq!(account.requested_scopes, SCOPES);
    h.core.revoke(&account.id, &Actor::User).await.expect("clean up");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a desktop session: tests/with-session cargo test -- --include-ignored"]
async fn forged_replayed_and_mixed_up_callbacks_are_rejected_and_store_nothing() {
    let provider = Provider::start();
    let h = core(&provider, SCOPES).await;
    let keychain_is_empty = |id: &latchkey_core::model::AccountId| {
        h.keychain.get(&format!("{id}/access")).expect("read").is_none()
            && h.keychain.get(&format!("{id}/refresh")).expect("read").is_none()
    };

    // A link nobody asked for.
    let forged = "io.latchkey.desktop:/oauth/test/callback?code=abc&state=forged&iss=x";
    let err = h.core.complete_authorization(forged).await.expect_err("forged");
    assert!(matches!(err.error, Error::UnknownState), "{err}");
    // Not a callback at all.
    for junk in ["io.latchkey.desktop:/settings", "https://evil.example/?code=a&state=b", "%%%"] {
        let err = h.core.complete_authorization(junk).await.expect_err(junk);
        assert_eq!(err.error.code(), ErrorCode::InvalidInput, "{junk}");
    }

    // A wrong issuer: rejected, and the code is never redeemed.
    let link = h.core.get_authorization_link("test", Some("mixup"), &Actor::User).await.expect("link");
    let callback = browse(&provider, link.url.as_str(), Decision::Approve);
    let mut url = url::Url::parse(&callback).expect("url");
    let pairs: Vec<(String, String)> = url
        .query_pairs()
        .map(|(k, v)| {
            let v = if k == "iss" { "https://evil.example".to_owned() } else { v.into_owned() };
            (k.into_owned(), v)
        })
        .collect();
    url.query_pairs_mut().clear().extend_pairs(pairs);
    let err = h.core.complete_authorization(url.as_str()).await.expect_err("mix-up");
    assert!(matches!(err.error, Error::IssuerMismatch { .. }), "{err}");
    // The state was spent by that attempt: the genuine URL no longer works either.
    let err = h.core.complete_authorization(&callback).await.expect_err("state spent");
    assert!(matches!(err.error, Error::UnknownState), "{err}");
    assert!(!provider.request_paths().await.iter().any(|p| p == "/token"), "a mixed-up code was redeemed");
    assert!(keychain_is_empty(&link.account.id));

    // A missing iss where the server promises one (RFC 9207).
    let link = h.core.get_authorization_link("test", Some("noiss"), &Actor::User).await.expect("link");
    let callback = browse(&provider, link.url.as_str(), Decision::Approve);
    let mut url = url::Url::parse(&callback).expect("url");
    let pairs: Vec<(String, String)> = url
        .query_pairs()
        .filter(|(k, _)| k != "iss")
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    url.query_pairs_mut().clear().extend_pairs(pairs);
    let err = h.core.complete_authorization(url.as_str()).await.expect_err("no iss");
    assert!(matches!(err.error, Error::IssuerMismatch { .. }), "{err}");
    assert!(keychain_is_empty(&link.account.id));

    // A replay: the same good callback twice.
    let link = h.core.get_authorization_link("test", Some("replay"), &Actor::User).await.expect("link");
    let callback = browse(&provider, link.url.as_str(), Decision::Approve);
    let account = h.core.complete_authorization(&callback).await.expect("first use");
    let err = h.core.complete_authorization(&callback).await.expect_err("replayed");
    assert!(matches!(err.error, Error::UnknownState), "{err}");
    assert_eq!(h.core.get_account(&account.id).expect("get").status, AccountStatus::Active);
    h.core.revoke(&account.id, &Actor::User).await.expect("clean up");
}

/// The demo mode's set-up: the provider on plain http on 127.0.0.1 (allowed on loopback only), so a
/// real browser shows no certificate warning. Connect and revoke must work there too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a desktop session: tests/with-session cargo test -- --include-ignored"]
async fn the_demo_set_up_over_loopback_http_connects_and_revokes() {
    let provider = Provider::start_with(false);
    assert!(provider.issuer.starts_with("http://127.0.0.1:"));
    let h = core(&provider, SCOPES).await;
    let link = h.core.get_authorization_link("test", None, &Actor::User).await.expect("link");
    let account = h
        .core
        .complete_authorization(&browse(&provider, link.url.as_str(), Decision::Approve))
        .await
        .expect("ok");
    assert_eq!(account.status, AccountStatus::Active);
    let access = h.keychain.get(&format!("{}/access", account.id)).expect("read").expect("stored");
    let outcome = h.core.revoke(&account.id, &Actor::User).await.expect("revoked");
    assert!(outcome.provider_confirmed, "{}", outcome.message);
    assert!(!provider.is_active(access.expose()).await);
}

/// Links nobody's sign-in asked for (an unknown `state`, or a `state` under way with its code
/// missing, for another connection or for another redirect) are refused, name no account and leave
/// every sign-in under way waiting; each then completes with its real answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a desktop session: tests/with-session cargo test -- --include-ignored"]
async fn forged_links_never_end_or_alter_a_sign_in_under_way() {
    let provider = Provider::start();
    let h = core(&provider, SCOPES).await;
    let first = h.core.get_authorization_link("test", Some("first"), &Actor::User).await.expect("link");
    let second = h.core.get_authorization_link("test", Some("second"), &Actor::User).await.expect("link");
    let state = |url: &url::Url| {
        url.query_pairs().find(|(k, _)| k == "state").map(|(_, v)| v.into_owned()).expect("state")
    };
    let (s1, s2) = (state(&first.url), state(&second.url));
    let base = "io.latchkey.desktop:/oauth/test/callback";
    for forged in [
        format!("{base}?code=forged&state=unknown"),
        format!("{base}?state={s1}"),
        format!("{base}?state={s2}&iss=x"),
        format!("{base}?code=&state={s1}"),
        format!("{base}?code=forged&state={s1}&state={s2}"),
        format!("io.latchkey.desktop:/oauth/crm/callback?code=forged&state={s1}"),
        format!("http://127.0.0.1:9/oauth/test/callback?code=forged&state={s2}"),
    ] {
        let err = h.core.complete_authorization(&forged).await.expect_err(&forged);
        assert!(err.account.is_none(), "{forged}: names an account: {err}");
        assert!(
            h.core.is_signing_in(&first.account.id) && h.core.is_signing_in(&second.account.id),
            "{forged} ended a sign-in"
        );
    }
    assert!(!provider.request_paths().await.iter().any(|p| p == "/token"), "a forged code was redeemed");
    for (link, who) in [(first, Decision::Approve), (second, Decision::As("bob"))] {
        let account = h
            .core
            .complete_authorization(&browse(&provider, link.url.as_str(), who))
            .await
            .expect("the real answer");
        assert_eq!((account.id.clone(), account.status), (link.account.id, AccountStatus::Active));
        assert!(account.last_error.is_none(), "{:?}", account.last_error);
        h.core.revoke(&account.id, &Actor::User).await.expect("clean up");
    }
}
