//! The connected-accounts guide's account model through the one core API, against the real
//! keychain and the real test provider.

use crate::support;

use latchkey_core::model::{AccountFilter, AccountStatus, Actor};
use latchkey_core::secret::{Credential, Secret};
use latchkey_core::store::AuditQuery;
use latchkey_core::{Error, ErrorCode};
use support::{Decision, Provider, browse, core, entry};

const SCOPES: &[&str] = &["openid", "email"];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a desktop session: tests/with-session cargo test -- --include-ignored"]
async fn the_five_operations() {
    let provider = Provider::start();
    let h = core(&provider, SCOPES).await;
    let user = Actor::User;

    // get-or-create: idempotent, Pending, with the connection's scopes.
    let a = h.core.get_or_create_connected_account("test", "work", &user).expect("create");
    let again = h.core.get_or_create_connected_account("test", " work ", &user).expect("again");
    assert_eq!((a.id.clone(), a.status), (again.id.clone(), AccountStatus::Pending));
    assert_eq!(a.requested_scopes, SCOPES);

    // get-authorization-link for that account: it stays Pending until the callback completes.
    let link = h.core.get_authorization_link("test", Some("work"), &user).await.expect("link");
    assert_eq!(link.account.id, a.id);
    assert_eq!(h.core.get_connected_account("test", "work").expect("get").status, AccountStatus::Pending);
    h.core
        .complete_authorization(&browse(&provider, link.url.as_str(), Decision::Approve))
        .await
        .expect("connect");
    let a = h.core.get_connected_account("test", "work").expect("get");
    assert_eq!(a.status, AccountStatus::Active);
    assert_eq!(a.identity.as_ref().and_then(|i| i.email.as_deref()), Some("alice@example.test"));

    // A re-authorization keeps the account (same id) and its state until the callback.
    let link = h.core.get_authorization_link("test", Some("work"), &user).await.expect("reauth link");
    assert_eq!(link.account.id, a.id);
    assert_eq!(h.core.get_account(&a.id).expect("get").status, AccountStatus::Active);
    let callback = browse(&provider, link.url.as_str(), Decision::Approve);
    let old_access = entry(&h.keychain, &a.id, "access").expect("stored");
    h.core.complete_authorization(&callback).await.expect("reauthorized");
    let new_access = entry(&h.keychain, &a.id, "access").expect("stored");
    assert_ne!(old_access, new_access, "re-authorizing stores the new token set");

    // list, with filters.
    let p = h.core.get_or_create_connected_account("test", "personal", &user).expect("create");
    let key = h
        .core
        .add_credential_account("crm", "ops", Credential::ApiKey(Secret::new("crm-key-1")), &user)
        .await
        .expect("api key");
    let all = h.core.list_connected_accounts(&AccountFilter::default()).expect("list");
    assert_eq!(all.len(), 3);
    let active_test = AccountFilter {
        connection: Some(a.connection.clone()),
        status: Some(AccountStatus::Active),
        ..Default::default()
    };
    let listed = h.core.list_connected_accounts(&active_test).expect("filter");
    assert_eq!(listed.iter().map(|x| &x.id).collect::<Vec<_>>(), [&a.id]);
    h.core.set_labels(&key.id, &["ops", "nightly", "ops"], &user).expect("labels");
    let labelled = AccountFilter { label: Some("nightly".into()), ..Default::default() };
    let by_label = h.core.list_connected_accounts(&labelled).expect("filter");
    assert_eq!((by_label.len(), &by_label[0].labels[..]), (1, &["nightly".to_owned(), "ops".to_owned()][..]));

    // delete: an Active OAuth account is revoked at the provider, its keychain entries and record
    // removed; its history stays in the audit trail.
    let refresh = entry(&h.keychain, &a.id, "refresh").expect("stored");
    assert!(provider.is_active(&refresh).await);
    h.core.delete_connected_account(&a.id, &user).await.expect("delete");
    assert!(!provider.is_active(&refresh).await, "delete revokes at the provider");
    assert!(entry(&h.keychain, &a.id, "access").is_none() && entry(&h.keychain, &a.id, "refresh").is_none());
    assert!(matches!(h.core.get_connected_account("test", "work"), Err(Error::UnknownAccount)));
    let history =
        h.core.audit_trail(&AuditQuery { account: Some(a.id.clone()), ..Default::default() }).expect("audit");
    let actions: Vec<_> = history.iter().map(|e| e.action.as_str()).collect();
    assert!(actions.ends_with(&["token.revoked", "account.deleted"]), "{actions:?}");
    h.core.delete_connected_account(&p.id, &user).await.expect("delete a pending one");
    h.core.delete_connected_account(&key.id, &user).await.expect("delete an API key");
    assert!(entry(&h.keychain, &key.id, "api-key").is_none());
    assert!(h.core.list_connected_accounts(&AccountFilter::default()).expect("list").is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a desktop session: tests/with-session cargo test -- --include-ignored"]
async fn bad_input_gets_a_typed_error_and_writes_nothing() {
    let provider = Provider::start();
    let h = core(&provider, SCOPES).await;
    let user = Actor::User;
    let cases: Vec<(Error, ErrorCode)> = vec![
        (
            h.core.get_or_create_connected_account("nope", "x", &user).expect_err("unknown"),
            ErrorCode::NotFound,
        ),
        (
            h.core.get_or_create_connected_account("test", "", &user).expect_err("empty"),
            ErrorCode::InvalidInput,
        ),
        (
            h.core.get_or_create_connected_account("test", "a\nb", &user).expect_err("control"),
            ErrorCode::InvalidInput,
        ),
        (
            h.core.get_or_create_connected_account("test", &"x".repeat(201), &user).expect_err("long"),
            ErrorCode::InvalidInput,
        ),
        (
            h.core.get_authorization_link("crm", Some("x"), &user).await.expect_err("api key has no sign-in"),
            ErrorCode::InvalidInput,
        ),
        (
            h.core
                .add_credential_account("test", "x", Credential::ApiKey(Secret::new("k")), &user)
                .await
                .expect_err("oauth takes no typed credential"),
            ErrorCode::InvalidInput,
        ),
        (
            h.core
                .add_credential_account("crm", "x", Credential::ApiKey(Secret::new("  ")), &user)
                .await
                .expect_err("blank key"),
            ErrorCode::InvalidInput,
        ),
        (h.core.get_connected_account("test", "missing").expect_err("missing"), ErrorCode::NotFound),
    ];
    for (err, code) in &cases {
        assert_eq!(err.code(), *code, "{err}");
        assert!(err.to_string().ends_with('.'), "a sentence: {err}");
    }
    assert!(
        h.core.list_connected_accounts(&AccountFilter::default()).expect("list").is_empty(),
        "nothing written"
    );

    // A duplicate name, and an illegal transition.
    let ops = h
        .core
        .add_credential_account("crm", "ops", Credential::ApiKey(Secret::new("k1")), &user)
        .await
        .expect("add");
    let dup = h
        .core
        .add_credential_account("crm", "ops", Credential::ApiKey(Secret::new("k2")), &user)
        .await
        .expect_err("duplicate");
    assert!(matches!(dup, Error::Duplicate { .. }), "{dup}");
    assert_eq!(
        entry(&h.keychain, &ops.id, "api-key").as_deref(),
        Some("k1"),
        "the duplicate changed nothing"
    );
    let pending = h.core.get_or_create_connected_account("test", "p", &user).expect("pending");
    let illegal = h.core.revoke(&pending.id, &user).await.expect_err("Pending -> Revoked");
    assert!(matches!(
        illegal,
        Error::InvalidTransition { from: AccountStatus::Pending, to: AccountStatus::Revoked }
    ));
    h.core.delete_connected_account(&ops.id, &user).await.expect("clean up");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a desktop session: tests/with-session cargo test -- --include-ignored"]
async fn api_keys_and_basic_auth_are_active_at_once_rotate_and_every_read_is_recorded() {
    let provider = Provider::start();
    let h = core(&provider, SCOPES).await;
    let user = Actor::User;
    let cli = Actor::Cli { caller: "deploy.sh".into() };

    let key = h
        .core
        .add_credential_account("crm", "ops", Credential::ApiKey(Secret::new("crm-key-1")), &user)
        .await
        .expect("add");
    assert_eq!(key.status, AccountStatus::Active);
    assert_eq!(entry(&h.keychain, &key.id, "api-key").as_deref(), Some("crm-key-1"));
    let read = h.core.read_credential(&key.id, &cli).await.expect("read");
    assert!(matches!(read, Credential::ApiKey(ref k) if k.expose() == "crm-key-1"));

    let rotated = h
        .core
        .rotate_credential(&key.id, Credential::ApiKey(Secret::new("crm-key-2")), &user)
        .await
        .expect("rotate");
    assert_eq!((rotated.id.clone(), rotated.status), (key.id.clone(), AccountStatus::Active));
    assert_eq!(entry(&h.keychain, &key.id, "api-key").as_deref(), Some("crm-key-2"));

    let desk = h
        .core
        .add_credential_account(
            "desk",
            "agent",
            Credential::Basic { username: "agent@example.test".into(), password: Secret::new("hunter2") },
            &user,
        )
        .await
        .expect("basic");
    let read = h.core.read_credential(&desk.id, &Actor::Refresher).await.expect("read");
    assert!(matches!(read, Credential::Basic { ref username, ref password }
        if username == "agent@example.test" && password.expose() == "hunter2"));

    // The trail: who read what, and nothing secret in it.
    let trail = h.core.audit_trail(&AuditQuery::default()).expect("audit");
    let reads: Vec<_> = trail
        .iter()
        .filter(|e| e.action == "token.read")
        .map(|e| (e.actor.as_str(), e.caller.as_deref()))
        .collect();
    assert_eq!(reads, [("cli", Some("deploy.sh")), ("refresher", None)]);
    assert!(trail.iter().any(|e| e.action == "credential.rotated"));
    for e in &trail {
        for secret in ["crm-key-1", "crm-key-2", "hunter2"] {
            assert!(!e.detail.contains(secret), "secret in the audit trail: {e:?}");
        }
    }

    // A credential lost from the keychain: the next read says so and the account goes to Error.
    h.keychain.delete(&format!("{}/api-key", key.id)).expect("lose it");
    let err = h.core.read_credential(&key.id, &cli).await.expect_err("missing");
    assert_eq!(err.code(), ErrorCode::ReauthNeeded);
    assert_eq!(h.core.get_account(&key.id).expect("get").status, AccountStatus::Error);

    h.core.delete_connected_account(&key.id, &user).await.expect("clean up");
    h.core.delete_connected_account(&desk.id, &user).await.expect("clean up");
    assert!(
        entry(&h.keychain, &desk.id, "password").is_none()
            && entry(&h.keychain, &desk.id, "username").is_none()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a desktop session: tests/with-session cargo test -- --include-ignored"]
async fn changing_a_connections_scopes_asks_for_reauthorization_of_the_same_account() {
    let provider = Provider::start();
    let data = tempfile::tempdir().expect("tmp");
    let mut spec = support::spec(Some(&provider), &["openid"], data.path());
    let (core, _, _) = support::open(&spec, Default::default()).await;
    let link = core.get_authorization_link("test", Some("me"), &Actor::User).await.expect("link");
    let a = core
        .complete_authorization(&browse(&provider, link.url.as_str(), Decision::Approve))
        .await
        .expect("ok");
    assert_eq!(a.granted_scopes, ["openid"]);
    drop(core);

    // The user adds a scope to the connection; at the next start the account needs re-authorization.
    spec.scopes.push("email".into());
    let (core, report, keychain) = support::open(&spec, Default::default()).await;
    assert_eq!(report.reauth_marked, 1);
    let a = core.get_account(&a.id).expect("get");
    assert!(a.reauth_needed && a.status == AccountStatus::Active && a.granted_scopes == ["openid"]);

    let link = core.get_authorization_link("test", Some("me"), &Actor::User).await.expect("reauth");
    assert_eq!(
        link.url.query_pairs().find(|(k, _)| k == "scope").map(|(_, v)| v.into_owned()).as_deref(),
        Some("openid email")
    );
    let again = core
        .complete_authorization(&browse(&provider, link.url.as_str(), Decision::Approve))
        .await
        .expect("ok");
    assert_eq!(again.id, a.id, "the same account");
    assert!(!again.reauth_needed);
    assert_eq!(again.granted_scopes, ["openid", "email"]);
    core.revoke(&a.id, &Actor::User).await.expect("clean up");
    assert!(entry(&keychain, &a.id, "access").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a desktop session: tests/with-session cargo test -- --include-ignored"]
async fn a_rejected_client_puts_the_connection_in_error_without_blaming_accounts() {
    let provider = Provider::start();
    let h = core(&provider, SCOPES).await;
    let user = Actor::User;
    let link = h.core.get_authorization_link("test", Some("one"), &user).await.expect("link");
    let one = h
        .core
        .complete_authorization(&browse(&provider, link.url.as_str(), Decision::Approve))
        .await
        .expect("ok");

    let link = h.core.get_authorization_link("test", Some("two"), &user).await.expect("link");
    let callback = browse(&provider, link.url.as_str(), Decision::Approve);
    let body = r#"{"error":"invalid_client","error_description":"client authentication failed"}"#;
    provider
        .control(
            "fault",
            serde_json::json!({"path": "/token", "status": 401, "body": body, "content_type": "application/json", "times": 1}),
        )
        .await;
    let err = h.core.complete_authorization(&callback).await.expect_err("client rejected");
    assert!(err.to_string().contains("invalid_client"), "{err}");
    let conn = h.core.connection("test").expect("conn");
    let (status, why) = h.core.connection_status(&conn).expect("status");
    assert_eq!(status, latchkey_core::model::ConnectionStatus::Error);
    assert!(why.is_some_and(|w| w.contains("invalid_client")));
    assert_eq!(
        h.core.get_account(&one.id).expect("get").status,
        AccountStatus::Active,
        "accounts keep their state"
    );
    assert_eq!(h.core.get_account(&link.account.id).expect("get").status, AccountStatus::Pending);

    // Fixed at the provider: the next sign-in succeeds and clears the connection's error.
    let link = h.core.get_authorization_link("test", Some("two"), &user).await.expect("retry allowed");
    h.core
        .complete_authorization(&browse(&provider, link.url.as_str(), Decision::Approve))
        .await
        .expect("ok");
    assert_eq!(
        h.core.connection_status(&conn).expect("status").0,
        latchkey_core::model::ConnectionStatus::Active
    );
    let trail = h.core.audit_trail(&AuditQuery::default()).expect("audit");
    let actions: Vec<_> =
        trail.iter().filter(|e| e.action.starts_with("connection.")).map(|e| e.action.as_str()).collect();
    assert_eq!(actions, ["connection.error", "connection.recovered"]);
    for id in [&one.id, &link.account.id] {
        h.core.revoke(id, &user).await.expect("clean up");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a desktop session: tests/with-session cargo test -- --include-ignored"]
async fn the_audit_trail_exports_as_json_lines_and_csv() {
    let provider = Provider::start();
    let h = core(&provider, SCOPES).await;
    let cli = Actor::Cli { caller: "report.py".into() };
    let a = h
        .core
        .add_credential_account("crm", "ops", Credential::ApiKey(Secret::new("crm-key-9")), &cli)
        .await
        .expect("add");
    h.core.read_credential(&a.id, &cli).await.expect("read");
    let entries =
        h.core.audit_trail(&AuditQuery { account: Some(a.id.clone()), ..Default::default() }).expect("audit");
    let jsonl = latchkey_core::audit::to_json_lines(&entries);
    let csv = latchkey_core::audit::to_csv(&entries);
    assert_eq!(jsonl.lines().count(), entries.len());
    assert_eq!(csv.lines().count(), entries.len() + 1);
    assert!(jsonl.contains("\"action\":\"token.read\"") && jsonl.contains("report.py"));
    assert!(!jsonl.contains("crm-key-9") && !csv.contains("crm-key-9"));
    h.core.delete_connected_account(&a.id, &cli).await.expect("clean up");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a desktop session: tests/with-session cargo test -- --include-ignored"]
async fn reauthorizing_as_someone_else_is_refused_and_changes_nothing() {
    let provider = Provider::start();
    let h = core(&provider, &["openid", "email"]).await;
    let user = Actor::User;
    let link = h.core.get_authorization_link("test", Some("mine"), &user).await.expect("link");
    let alice = h
        .core
        .complete_authorization(&browse(&provider, link.url.as_str(), Decision::As("alice")))
        .await
        .expect("alice connects");
    let before = h.keychain.get(&format!("{}/access", alice.id)).expect("keychain").expect("token");

    let link = h.core.get_authorization_link("test", Some("mine"), &user).await.expect("reauth link");
    let err = h
        .core
        .complete_authorization(&browse(&provider, link.url.as_str(), Decision::As("bob")))
        .await
        .expect_err("another person");
    assert!(matches!(err.error, latchkey_core::Error::IdentityMismatch { .. }), "{}", err.error);
    let text = err.error.to_string();
    assert!(text.contains("alice") && text.contains("bob"), "{text}");
    let after = h.core.get_account(&alice.id).expect("account");
    assert_eq!(after.status, AccountStatus::Active);
    assert_eq!(after.identity, alice.identity, "the identity is the one that consented first");
    assert_eq!(after.token_version, alice.token_version, "no new tokens were stored");
    let now = h.keychain.get(&format!("{}/access", alice.id)).expect("keychain").expect("token");
    assert_eq!(now.expose(), before.expose(), "alice's token is untouched");
    let trail = h.core.audit_trail(&Default::default()).expect("audit");
    assert!(trail.iter().any(|e| e.action == "authorization.failed" && e.detail.contains("bob")));

    // Signing in as alice again works.
    let link = h.core.get_authorization_link("test", Some("mine"), &user).await.expect("link");
    let again = h
        .core
        .complete_authorization(&browse(&provider, link.url.as_str(), Decision::As("alice")))
        .await
        .expect("alice again");
    assert_eq!(again.id, alice.id);
    assert!(again.token_version > alice.token_version);
}
