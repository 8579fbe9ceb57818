//! `call_api` against the real test provider, whose userinfo route `/me` needs the bearer token:
//! consent and access enforced before anything is sent, the token sent to the API base's origin
//! only (a listener on another port hears nothing, a redirect is returned, not followed), and the
//! token strings nowhere in what comes back or in the audit trail.

use std::net::TcpListener;

use latchkey_core::api::{Access, ApiRequest, Consent};
use latchkey_core::model::{AccountId, Actor};
use latchkey_core::store::{AuditAction, AuditOutcome, AuditQuery};
use latchkey_core::{Error, Latchkey};
use serde_json::json;

use crate::support::{Decision, Harness, Provider, browse, core, entry};

async fn connected(provider: &Provider) -> (Harness, AccountId) {
    let h = core(provider, &["openid", "email"]).await;
    let link = h.core.get_authorization_link("test", Some("me"), &Actor::User).await.expect("link");
    let account = h
        .core
        .complete_authorization(&browse(provider, link.url.as_str(), Decision::Approve))
        .await
        .expect("connected");
    (h, account.id)
}

/// (method, path) of the requests the provider served since the last clear.
async fn served(provider: &Provider) -> Vec<(String, String)> {
    let log = provider.requests().await;
    log.iter()
        .map(|r| (r["method"].as_str().unwrap_or("").to_owned(), r["path"].as_str().unwrap_or("").to_owned()))
        .collect()
}

fn req(method: &str, path: &str) -> ApiRequest {
    ApiRequest { method: method.into(), path: path.into(), ..Default::default() }
}

fn tokens(h: &Harness, id: &AccountId) -> Vec<String> {
    ["access", "refresh"].iter().filter_map(|w| entry(&h.keychain, id, w)).filter(|t| t.len() >= 8).collect()
}

fn assert_clean(text: &str, tokens: &[String]) {
    for t in tokens {
        assert!(!text.contains(t.as_str()), "a token leaked into: {text}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a desktop session: tests/with-session cargo test -- --include-ignored"]
async fn calls_go_to_the_api_base_only_under_consent_and_never_show_the_token() {
    let provider = Provider::start();
    let (h, id) = connected(&provider).await;
    let core: &Latchkey = &h.core;
    let mut seen_tokens = tokens(&h, &id);
    assert!(!seen_tokens.is_empty(), "the keychain holds the tokens");
    let mut texts: Vec<String> = Vec::new();

    // No grant: refused, nothing sent.
    provider.control("requests/clear", json!({})).await;
    let e = core.call_api(&id, "agent", Consent::Granted, req("GET", "me")).await.expect_err("no grant");
    assert!(matches!(e, Error::NoGrant { .. }), "{e:?}");
    texts.push(e.to_string());
    assert!(served(&provider).await.is_empty(), "nothing sent without consent");

    // A read grant: GET passes with the token, POST is refused before any request.
    core.add_grant("agent", &id, Access::Read, None, &Actor::User).expect("grant");
    let r = core.call_api(&id, "agent", Consent::Granted, req("GET", "me")).await.expect("GET");
    assert_eq!(r.status, 200, "{r:?}");
    assert!(r.content_type.as_deref().is_some_and(|c| c.starts_with("application/json")), "{r:?}");
    let claims: serde_json::Value = serde_json::from_str(&r.body).expect("json body");
    assert_eq!(claims["sub"], "alice");
    assert!(!r.truncated && r.bytes == r.body.len());
    texts.push(format!("{r:?}"));
    assert!(
        core.grant_for("agent", &id).expect("grant").and_then(|g| g.last_used).is_some(),
        "last use kept"
    );

    provider.control("requests/clear", json!({})).await;
    let e = core.call_api(&id, "agent", Consent::Granted, req("POST", "me")).await.expect_err("read only");
    texts.push(e.to_string());
    assert!(served(&provider).await.is_empty(), "POST under read access sent nothing");
    // A one-time full consent allows it (userinfo answers POST too).
    let r = core.call_api(&id, "agent", Consent::Once(Access::Full), req("POST", "/me")).await.expect("POST");
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(served(&provider).await, [("POST".to_owned(), "/me".to_owned())]);

    // Every way toward another origin is refused before anything is sent; the listener hears nothing.
    let listener = TcpListener::bind("127.0.0.1:0").expect("listener");
    listener.set_nonblocking(true).expect("nonblocking");
    let port = listener.local_addr().expect("addr").port();
    provider.control("requests/clear", json!({})).await;
    for path in [
        format!("http://127.0.0.1:{port}/steal"),
        format!("https://127.0.0.1:{port}/steal"),
        format!("//127.0.0.1:{port}/steal"),
        format!("/\\127.0.0.1:{port}/steal"),
        "%2e%2e/me".to_owned(),
        "..%2fme".to_owned(),
        "%252e%252e/me".to_owned(),
        format!("@127.0.0.1:{port}/steal"),
        format!("me@127.0.0.1:{port}"),
        "me#x".to_owned(),
    ] {
        let e = core.call_api(&id, "agent", Consent::Granted, req("GET", &path)).await.expect_err(&path);
        assert!(matches!(e, Error::InvalidInput(_)), "{path}: {e:?}");
        texts.push(e.to_string());
    }
    assert!(served(&provider).await.is_empty(), "nothing sent for a refused path");

    // A redirect to the listener is handed back as it is, not followed with the token.
    provider
        .control(
            "fault",
            json!({"path": "/me", "status": 302, "headers": {"location": format!("http://127.0.0.1:{port}/steal")}, "body": "moved"}),
        )
        .await;
    let r = core.call_api(&id, "agent", Consent::Granted, req("GET", "me")).await.expect("302 returned");
    assert_eq!(r.status, 302, "{r:?}");
    texts.push(format!("{r:?}"));
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(
        matches!(listener.accept(), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock),
        "the other origin received a connection"
    );

    // A 401: one forced refresh, then the call goes through with the new token.
    provider
        .control("fault", json!({"path": "/me", "status": 401, "body": {"error": "invalid_token"}}))
        .await;
    let r = core.call_api(&id, "agent", Consent::Granted, req("GET", "me")).await.expect("after a refresh");
    assert_eq!(r.status, 200, "{r:?}");
    texts.push(format!("{r:?}"));
    seen_tokens.extend(tokens(&h, &id));

    // Suspended: refused, nothing sent.
    h.core.suspend(&id, &Actor::User).await.expect("suspend");
    provider.control("requests/clear", json!({})).await;
    let e = core.call_api(&id, "agent", Consent::Granted, req("GET", "me")).await.expect_err("suspended");
    assert!(matches!(e, Error::Suspended), "{e:?}");
    texts.push(e.to_string());
    assert!(served(&provider).await.is_empty());

    // The audit: one api.call row per call, with the consumer, and no token anywhere.
    let trail = core.audit_trail(&AuditQuery::default()).expect("audit");
    let calls: Vec<_> = trail.iter().filter(|e| e.action == AuditAction::ApiCall).collect();
    assert_eq!(calls.len(), 17, "{calls:#?}");
    assert!(calls.iter().all(|c| c.caller.as_deref() == Some("agent")));
    let ok: Vec<&str> =
        calls.iter().filter(|c| c.outcome == AuditOutcome::Ok).map(|c| c.detail.as_str()).collect();
    assert_eq!(ok.len(), 4, "{ok:?}");
    assert!(ok[0].starts_with("GET 127.0.0.1/me → 200, ") && ok[0].ends_with(" bytes"), "{ok:?}");
    assert!(ok.iter().any(|d| d.starts_with("GET 127.0.0.1/me → 302")), "{ok:?}");
    for e in &trail {
        texts.push(format!("{e:?}"));
    }
    for t in &texts {
        assert_clean(t, &seen_tokens);
    }
    h.core.resume(&id, &Actor::User).await.expect("resume");
    h.core.revoke(&id, &Actor::User).await.expect("clean up");
    assert!(core.grants().expect("grants").is_empty(), "revoking removed the grant");
}
