//! Grants over a `MemoryStore` (no session): added, replaced, listed, expired, removed, all audited;
//! revoking or deleting an account takes its grants with it; calls without consent are refused
//! before anything is looked up at a provider.

use std::path::Path;
use std::sync::Arc;

use latchkey_core::api::{Access, ApiRequest, CONSUMER_MAX, Consent};
use latchkey_core::http::Http;
use latchkey_core::model::{AccountId, Actor};
use latchkey_core::secret::{Credential, Secret};
use latchkey_core::store::{AuditAction, AuditOutcome, AuditQuery};
use latchkey_core::vault::MemoryStore;
use latchkey_core::{Error, Hooks, Latchkey, Options};

async fn open(dir: &Path) -> Latchkey {
    let file = dir.join("connections.toml");
    std::fs::write(
        &file,
        "[[connection]]\nid = \"crm\"\ntype = \"api-key\"\napi_base = \"https://crm.example/api\"\n",
    )
    .expect("connections");
    let (core, _) = Latchkey::open(Options {
        data_dir: dir.to_owned(),
        connections: latchkey_core::config::load_connections(&file).expect("parse"),
        connections_file: Some(file),
        secrets: Arc::new(MemoryStore::default()),
        redirect_scheme: "io.latchkey.test".into(),
        http: Http::new().expect("http"),
        hooks: Hooks::default(),
    })
    .await
    .expect("open");
    core
}

async fn account(core: &Latchkey, name: &str) -> AccountId {
    core.add_credential_account("crm", name, Credential::ApiKey(Secret::new("key-value-1234")), &Actor::User)
        .await
        .expect("account")
        .id
}

fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_secs() as i64
}

fn grant_rows(core: &Latchkey) -> Vec<(AuditAction, String)> {
    core.audit_trail(&AuditQuery::default())
        .expect("audit")
        .into_iter()
        .filter(|e| matches!(e.action, AuditAction::GrantAdded | AuditAction::GrantRemoved))
        .map(|e| (e.action, e.detail))
        .collect()
}

#[tokio::test]
async fn grants_are_added_replaced_listed_and_removed_with_an_audit_row_each() {
    let dir = tempfile::tempdir().expect("tmp");
    let core = open(dir.path()).await;
    let a = account(&core, "work").await;
    let b = account(&core, "home").await;

    core.add_grant("claude-code", &a, Access::Read, None, &Actor::User).expect("add");
    core.add_grant("claude-code", &b, Access::Full, Some(now() + 3600), &Actor::User).expect("add");
    core.add_grant("cursor", &a, Access::Full, None, &Actor::User).expect("add");
    assert_eq!(core.grants().expect("list").len(), 3);
    assert_eq!(core.grant_for("claude-code", &a).expect("get").map(|g| g.access), Some(Access::Read));
    assert_eq!(core.grant_for("nobody", &a).expect("get"), None);

    // Adding again replaces: one grant per consumer and account.
    core.add_grant("claude-code", &a, Access::Full, None, &Actor::User).expect("replace");
    let list = core.grants().expect("list");
    assert_eq!(list.len(), 3);
    assert_eq!(core.grant_for("claude-code", &a).expect("get").map(|g| g.access), Some(Access::Full));
    assert!(list.iter().all(|g| g.last_used.is_none()));

    assert!(core.remove_grant("cursor", &a, &Actor::User).expect("remove"));
    assert!(!core.remove_grant("cursor", &a, &Actor::User).expect("gone already"));
    assert_eq!(core.grant_for("cursor", &a).expect("get"), None);

    let rows = grant_rows(&core);
    let added = rows.iter().filter(|(a, _)| *a == AuditAction::GrantAdded).count();
    let removed = rows.iter().filter(|(a, _)| *a == AuditAction::GrantRemoved).count();
    assert_eq!((added, removed), (4, 1), "{rows:?}");
    assert!(rows.iter().any(|(_, d)| d.contains("“claude-code”: full access until ")), "{rows:?}");
}

#[tokio::test]
async fn expired_grants_do_not_count_and_bad_grants_are_refused() {
    let dir = tempfile::tempdir().expect("tmp");
    let core = open(dir.path()).await;
    let a = account(&core, "work").await;
    core.add_grant("agent", &a, Access::Full, Some(now() + 2), &Actor::User).expect("add");
    assert!(core.grant_for("agent", &a).expect("get").is_some());
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    assert_eq!(core.grant_for("agent", &a).expect("get"), None, "ended");
    assert_eq!(core.grants().expect("list").len(), 1, "still listed, with its end");

    assert!(core.add_grant("agent", &a, Access::Read, Some(now() - 1), &Actor::User).is_err());
    for bad in ["", "a\nb", "a\u{1b}[2J", &"x".repeat(CONSUMER_MAX + 1)] {
        assert!(
            matches!(core.add_grant(bad, &a, Access::Read, None, &Actor::User), Err(Error::InvalidInput(_))),
            "{bad:?}"
        );
    }
    let unknown = AccountId::random();
    assert!(matches!(
        core.add_grant("agent", &unknown, Access::Read, None, &Actor::User),
        Err(Error::UnknownAccount)
    ));
    assert!(matches!(core.remove_grant("agent", &unknown, &Actor::User), Err(Error::UnknownAccount)));
}

#[tokio::test]
async fn revoking_or_deleting_an_account_removes_its_grants_audited() {
    let dir = tempfile::tempdir().expect("tmp");
    let core = open(dir.path()).await;
    let a = account(&core, "work").await;
    let b = account(&core, "home").await;
    for consumer in ["one", "two"] {
        core.add_grant(consumer, &a, Access::Read, None, &Actor::User).expect("add");
        core.add_grant(consumer, &b, Access::Read, None, &Actor::User).expect("add");
    }
    core.revoke(&a, &Actor::User).await.expect("revoke");
    assert!(core.grants().expect("list").iter().all(|g| g.account != a));
    core.delete_connected_account(&b, &Actor::User).await.expect("delete");
    assert!(core.grants().expect("list").is_empty());
    let removed: Vec<String> = grant_rows(&core)
        .into_iter()
        .filter(|(a, _)| *a == AuditAction::GrantRemoved)
        .map(|(_, d)| d)
        .collect();
    assert_eq!(removed.len(), 4, "{removed:?}");
    assert_eq!(removed.iter().filter(|d| d.ends_with("(the account was revoked)")).count(), 2);
    assert_eq!(removed.iter().filter(|d| d.ends_with("(the account was deleted)")).count(), 2);
}

#[tokio::test]
async fn calls_without_consent_or_with_the_wrong_access_are_refused_and_audited() {
    let dir = tempfile::tempdir().expect("tmp");
    let core = open(dir.path()).await;
    let a = account(&core, "work").await;
    let get = || ApiRequest { method: "GET".into(), path: "v1/items".into(), ..Default::default() };

    let e = core.call_api(&a, "agent", Consent::Granted, get()).await.expect_err("no grant");
    assert!(
        matches!(&e, Error::NoGrant { consumer, account } if consumer == "agent" && account == "crm:work")
    );
    assert!(e.to_string().contains("latchkey grants add 'agent' crm:work --access read|full"), "{e}");

    core.add_grant("agent", &a, Access::Read, None, &Actor::User).expect("add");
    let post = ApiRequest { method: "post".into(), body: Some("{}".into()), ..get() };
    let e = core.call_api(&a, "agent", Consent::Granted, post.clone()).await.expect_err("read only");
    assert!(e.to_string().contains("GET and HEAD only"), "{e}");
    let e = core.call_api(&a, "agent", Consent::Once(Access::Read), post).await.expect_err("read only");
    assert!(e.to_string().contains("GET and HEAD only"), "{e}");
    for header in ["Authorization", "cookie", "Proxy-Authorization", "Host"] {
        let r = ApiRequest { headers: vec![(header.into(), "x".into())], ..get() };
        assert!(core.call_api(&a, "agent", Consent::Granted, r).await.is_err(), "{header}");
    }
    let r = ApiRequest { headers: vec![("X-Note".into(), "a\r\nHost: evil".into())], ..get() };
    assert!(core.call_api(&a, "agent", Consent::Granted, r).await.is_err());
    // An API-key account: Latchkey does not know how its API takes the key, so it says so.
    let e = core.call_api(&a, "agent", Consent::Granted, get()).await.expect_err("api key");
    assert!(matches!(e, Error::WrongConnectionType { .. }), "{e:?}");

    let calls: Vec<_> = core
        .audit_trail(&AuditQuery::default())
        .expect("audit")
        .into_iter()
        .filter(|e| e.action == AuditAction::ApiCall)
        .collect();
    assert_eq!(calls.len(), 9, "{calls:?}");
    assert!(calls.iter().all(|c| c.outcome == AuditOutcome::Refused && c.caller.as_deref() == Some("agent")));
    assert!(calls[0].detail.starts_with("GET crm.example/v1/items → refused"), "{:?}", calls[0].detail);
    assert!(core.grants().expect("list")[0].last_used.is_none(), "nothing was used");
}
