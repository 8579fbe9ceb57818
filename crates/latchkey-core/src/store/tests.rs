use super::*;
use crate::model::{Account, AccountFilter, AccountId, AccountStatus, Actor, ConnectionId, Identity};

fn conn() -> ConnectionId {
    ConnectionId::new("demo").expect("valid")
}

fn all(store: &Store) -> Vec<Account> {
    store.accounts(&AccountFilter::default()).expect("list")
}

#[test]
fn get_or_create_is_idempotent_and_audited() {
    let mut store = Store::open_in_memory().expect("open");
    let scopes = vec!["openid".to_owned(), "email".to_owned()];
    let (a, created_a) =
        store.get_or_create_account(&conn(), "work", &scopes, false, &Actor::User).expect("create");
    let (b, created_b) =
        store.get_or_create_account(&conn(), "work", &scopes, false, &Actor::User).expect("again");
    assert!(created_a && !created_b);
    assert_eq!(a.id, b.id);
    assert_eq!(a.status, AccountStatus::Pending);
    assert_eq!(a.requested_scopes, scopes);
    assert_eq!(all(&store).len(), 1);
    let audit = store
        .audit_entries(&AuditQuery { account: Some(a.id.clone()), ..Default::default() })
        .expect("audit");
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0].action, "account.created");
}

#[test]
fn get_or_create_races_across_connections_to_one_file() {
    let dir = tempfile::tempdir().expect("tmp");
    let handles: Vec<_> = (0..8)
        .map(|_| {
            let path = dir.path().to_owned();
            std::thread::spawn(move || {
                let mut store = Store::open_in(&path).expect("open");
                store.get_or_create_account(&conn(), "same", &[], false, &Actor::User).expect("create").0.id
            })
        })
        .collect();
    let ids: Vec<_> = handles.into_iter().map(|h| h.join().expect("thread")).collect();
    assert!(ids.windows(2).all(|w| w[0] == w[1]), "{ids:?}");
    assert_eq!(all(&Store::open_in(dir.path()).expect("open")).len(), 1);
}

#[test]
fn transitions_follow_the_state_machine_and_are_audited() {
    let mut store = Store::open_in_memory().expect("open");
    let (a, _) = store.get_or_create_account(&conn(), "x", &[], false, &Actor::User).expect("create");
    let err = store.transition(&a.id, AccountStatus::Revoked, &Actor::User, "test").expect_err("refused");
    assert!(matches!(err, Error::InvalidTransition { .. }));
    assert_eq!(store.account(&a.id).expect("get").status, AccountStatus::Pending);

    let identity = Identity { email: Some("a@b".into()), ..Default::default() };
    let active = store
        .record_authorized(&a.id, &identity, &["openid".into()], &["openid".into()], Some(5), &Actor::User)
        .expect("authorized");
    assert_eq!(active.status, AccountStatus::Active);
    assert_eq!(active.granted_scopes, vec!["openid".to_owned()]);
    assert_eq!(active.identity.and_then(|i| i.email).as_deref(), Some("a@b"));
    let revoked = store.transition(&a.id, AccountStatus::Revoked, &Actor::User, "revoked").expect("revoke");
    assert_eq!(revoked.status, AccountStatus::Revoked);
    let details: Vec<_> = store
        .audit_entries(&AuditQuery { account: Some(a.id.clone()), ..Default::default() })
        .expect("audit")
        .into_iter()
        .map(|e| e.detail)
        .collect();
    assert_eq!(details.len(), 3, "{details:?}");
    assert!(details[1].starts_with("pending -> active"));
    assert!(details[2].starts_with("active -> revoked"));
}

#[test]
fn unnamed_accounts_take_the_identity_name_without_clashing() {
    let mut store = Store::open_in_memory().expect("open");
    let (named, _) = store.get_or_create_account(&conn(), "a@b", &[], false, &Actor::User).expect("create");
    let (auto, _) = store.get_or_create_account(&conn(), "new-1", &[], true, &Actor::User).expect("create");
    store.name_after_identity(&auto.id, "a@b").expect("rename");
    assert_eq!(store.account(&auto.id).expect("get").identifier, "a@b (2)");
    store.name_after_identity(&named.id, "zzz").expect("no-op");
    assert_eq!(store.account(&named.id).expect("get").identifier, "a@b", "named accounts keep their name");
}

#[test]
fn labels_and_notes_are_editable_and_filterable() {
    let mut store = Store::open_in_memory().expect("open");
    let (a, _) = store.get_or_create_account(&conn(), "a", &[], false, &Actor::User).expect("create");
    let (b, _) = store.get_or_create_account(&conn(), "b", &[], false, &Actor::User).expect("create");
    let a = store.set_labels(&a.id, &["work".into(), "ci".into()], &Actor::User).expect("labels");
    assert_eq!(a.labels, ["ci", "work"]);
    store.set_labels(&b.id, &["home".into()], &Actor::User).expect("labels");
    let a = store.set_note(&a.id, Some("used by the nightly job"), &Actor::User).expect("note");
    assert_eq!(a.note.as_deref(), Some("used by the nightly job"));
    let work =
        store.accounts(&AccountFilter { label: Some("work".into()), ..Default::default() }).expect("filter");
    assert_eq!(work.iter().map(|x| x.identifier.as_str()).collect::<Vec<_>>(), ["a"]);
    let pending = store
        .accounts(&AccountFilter {
            status: Some(AccountStatus::Pending),
            connection: Some(conn()),
            ..Default::default()
        })
        .expect("filter");
    assert_eq!(pending.len(), 2);
    let none = store
        .accounts(&AccountFilter { status: Some(AccountStatus::Active), ..Default::default() })
        .expect("filter");
    assert!(none.is_empty());
    let a = store.set_labels(&a.id, &[], &Actor::User).expect("clear");
    assert!(a.labels.is_empty());
}

#[test]
fn changing_a_connections_scopes_marks_its_authorized_accounts() {
    let mut store = Store::open_in_memory().expect("open");
    let old = vec!["openid".to_owned()];
    assert_eq!(store.sync_connection_scopes(&conn(), &old).expect("first"), 0);
    let (a, _) = store.get_or_create_account(&conn(), "a", &old, false, &Actor::User).expect("create");
    store.record_authorized(&a.id, &Identity::default(), &old, &old, None, &Actor::User).expect("auth");
    let (p, _) = store.get_or_create_account(&conn(), "p", &old, false, &Actor::User).expect("pending");
    assert_eq!(store.sync_connection_scopes(&conn(), &old).expect("same"), 0);
    let new = vec!["openid".to_owned(), "email".to_owned()];
    assert_eq!(store.sync_connection_scopes(&conn(), &new).expect("changed"), 1);
    assert!(store.account(&a.id).expect("get").reauth_needed);
    assert!(
        !store.account(&p.id).expect("get").reauth_needed,
        "a pending account asks for the new scopes anyway"
    );
    let a =
        store.record_authorized(&a.id, &Identity::default(), &new, &new, None, &Actor::User).expect("reauth");
    assert!(!a.reauth_needed && a.granted_scopes == new && a.status == AccountStatus::Active);
    let audit = store.audit_entries(&AuditQuery::default()).expect("audit");
    assert!(audit.iter().any(|e| e.action == "config.scopes_changed"));
    assert!(audit.iter().any(|e| e.action == "account.reauthorized"));
}

#[test]
fn the_audit_trail_is_append_only_and_queryable_by_time() {
    let mut store = Store::open_in_memory().expect("open");
    store
        .get_or_create_account(&conn(), "a", &[], false, &Actor::Cli { caller: "backup.sh".into() })
        .expect("create");
    let entries = store.audit_entries(&AuditQuery::default()).expect("audit");
    assert_eq!(entries[0].actor, "cli");
    assert_eq!(entries[0].caller.as_deref(), Some("backup.sh"));
    assert!(store.db.execute("UPDATE audit SET detail = 'x'", []).is_err());
    assert!(store.db.execute("DELETE FROM audit", []).is_err());
    let future = AuditQuery { since: Some(now() + 3600), ..Default::default() };
    assert!(store.audit_entries(&future).expect("audit").is_empty());
    let past = AuditQuery { until: Some(now() - 3600), ..Default::default() };
    assert!(store.audit_entries(&past).expect("audit").is_empty());
}

#[test]
fn deleting_hides_at_once_and_removes_the_row_but_not_its_history() {
    let mut store = Store::open_in_memory().expect("open");
    let (a, _) = store.get_or_create_account(&conn(), "a", &[], false, &Actor::User).expect("create");
    store.set_labels(&a.id, &["x".into()], &Actor::User).expect("labels");
    store.begin_op(&a.id, Operation::Delete, "me").expect("begin");
    assert!(all(&store).is_empty() && matches!(store.account(&a.id), Err(Error::UnknownAccount)));
    let ops = store.in_progress().expect("in progress");
    assert_eq!((ops.len(), ops[0].1, ops[0].2.as_str()), (1, Operation::Delete, "me"));
    store.delete_account(&a.id, &Actor::User, "deleted").expect("delete");
    assert!(store.in_progress().expect("in progress").is_empty());
    let history = store
        .audit_entries(&AuditQuery { account: Some(a.id.clone()), ..Default::default() })
        .expect("audit");
    assert_eq!(history.last().map(|e| e.action.as_str()), Some("account.deleted"));
    // The same name can be used again afterwards.
    store.create_credential_account(&conn(), "a", &Actor::User, "me").expect("recreate");
    let dup = store.create_credential_account(&conn(), "a", &Actor::User, "me").expect_err("duplicate");
    assert!(matches!(dup, Error::Duplicate { .. }), "{dup}");
}

#[test]
fn unknown_account_is_a_typed_error() {
    let mut store = Store::open_in_memory().expect("open");
    let id = AccountId::random();
    assert!(matches!(store.account(&id), Err(Error::UnknownAccount)));
    assert!(matches!(
        store.transition(&id, AccountStatus::Active, &Actor::User, ""),
        Err(Error::UnknownAccount)
    ));
}

fn wal_len(dir: &Path) -> u64 {
    std::fs::metadata(dir.join(format!("{DB_FILE}-wal"))).map_or(0, |m| m.len())
}

#[test]
fn short_runs_keep_the_wal_short_and_lose_nothing() {
    let dir = tempfile::tempdir().expect("tmp");
    let mut longest = 0;
    let mut truncated = 0;
    for i in 0..300 {
        let mut store = Store::open_in(dir.path()).expect("open");
        store.get_or_create_account(&conn(), &format!("a{i}"), &[], false, &Actor::User).expect("create");
        drop(store);
        let len = wal_len(dir.path());
        longest = longest.max(len);
        truncated += usize::from(len == 0);
    }
    assert!(truncated > 0, "the WAL was never truncated");
    assert!(longest <= WAL_KEEP_BYTES + 64 * 1024, "the WAL grew to {longest} bytes");
    assert_eq!(all(&Store::open_in(dir.path()).expect("open")).len(), 300);
}

#[test]
fn a_busy_reader_leaves_the_wal_for_later_without_waiting() {
    let dir = tempfile::tempdir().expect("tmp");
    let mut store = Store::open_in(dir.path()).expect("open");
    store.get_or_create_account(&conn(), "first", &[], false, &Actor::User).expect("create");
    let reader = Db::open(dir.path().join(DB_FILE)).expect("reader");
    reader.execute_batch("BEGIN; SELECT count(*) FROM accounts;").expect("read snapshot");
    let mut i = 0;
    while wal_len(dir.path()) <= WAL_KEEP_BYTES {
        store.get_or_create_account(&conn(), &format!("a{i}"), &[], false, &Actor::User).expect("create");
        i += 1;
    }
    let started = std::time::Instant::now();
    drop(store);
    // The store's busy timeout is 5 s; trimming must not wait for the reader.
    assert!(started.elapsed() < std::time::Duration::from_secs(2), "{:?}", started.elapsed());
    assert!(wal_len(dir.path()) > WAL_KEEP_BYTES, "the reader's snapshot kept the WAL");
    reader.execute_batch("COMMIT").expect("end");
    drop(Store::open_in(dir.path()).expect("open"));
    assert_eq!(wal_len(dir.path()), 0, "the next store to close trims it");
    drop(reader);
    assert_eq!(all(&Store::open_in(dir.path()).expect("open")).len(), i + 1);
}
