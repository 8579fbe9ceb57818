//! The data folder as another user or a damaged disk could find it: file modes, an emptied
//! database, abandoned sign-ins, a locked keychain while a connection is added. The keychain is a
//! `MemoryStore` here (fault injection); nothing needs a session.

use std::path::Path;
use std::sync::Arc;

use latchkey_core::http::Http;
use latchkey_core::model::{AccountFilter, Actor, ConnectionId};
use latchkey_core::store::{AuditQuery, Store};
use latchkey_core::vault::MemoryStore;
use latchkey_core::{ErrorCode, Hooks, Latchkey, NewConnection, Options};

fn options(data_dir: &Path, connections_file: &Path, secrets: &MemoryStore) -> Options {
    Options {
        data_dir: data_dir.to_owned(),
        connections: latchkey_core::config::load_connections(connections_file).expect("connections"),
        connections_file: Some(connections_file.to_owned()),
        secrets: Arc::new(secrets.clone()),
        redirect_scheme: "io.latchkey.test".into(),
        http: Http::new().expect("http"),
        hooks: Hooks::default(),
    }
}

async fn open(data_dir: &Path) -> latchkey_core::Result<Latchkey> {
    let file = data_dir.join("connections.toml");
    if !file.exists() {
        std::fs::create_dir_all(data_dir).expect("mkdir");
        std::fs::write(&file, "").expect("connections file");
    }
    Latchkey::open(options(data_dir, &file, &MemoryStore::default())).await.map(|(core, _)| core)
}

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())).permissions().mode() & 0o777
}

/// Modes from the start, whatever the umask: this process's umask lets others read a plain new
/// file (checked first, so the test means something), yet Latchkey's files are the user's only.
#[cfg(unix)]
#[tokio::test]
async fn the_data_folder_and_its_files_are_private_from_the_start() {
    let _turn = crate::support::shared();
    let tmp = tempfile::tempdir().expect("tmp");
    let probe = tmp.path().join("probe");
    std::fs::write(&probe, "").expect("probe");
    assert_ne!(mode(&probe) & 0o044, 0, "the umask lets others read new files");

    let data = tmp.path().join("data");
    let core = open(&data).await.expect("open");
    latchkey_core::logging::init(&data, "info").expect("logging");
    // The core is open: the database's -wal and -shm exist now.
    for dir in ["", "instances", "locks", "logs"] {
        assert_eq!(mode(&data.join(dir)), 0o700, "{dir}/");
    }
    for file in ["latchkey.sqlite3", "latchkey.sqlite3-wal", "latchkey.sqlite3-shm", "logs/latchkey.log"] {
        assert_eq!(mode(&data.join(file)), 0o600, "{file}");
    }
    for lock in std::fs::read_dir(data.join("instances")).expect("instances") {
        assert_eq!(mode(&lock.expect("entry").path()), 0o600, "the instance lock");
    }
    let leftovers: Vec<_> = std::fs::read_dir(&data)
        .expect("list")
        .map(|e| e.expect("entry").file_name().into_string().expect("utf-8"))
        .filter(|n| n.ends_with(".new"))
        .collect();
    assert!(leftovers.is_empty(), "no temporary database left: {leftovers:?}");
    drop(core);

    // Folders and files an earlier version left readable are tightened at the next start.
    use std::os::unix::fs::PermissionsExt;
    let loosen =
        |p: &Path, m: u32| std::fs::set_permissions(p, std::fs::Permissions::from_mode(m)).expect("chmod");
    for dir in ["", "instances", "locks", "logs"] {
        loosen(&data.join(dir), 0o755);
    }
    std::fs::write(data.join("locks").join("x.lock"), "").expect("a refresh lock");
    for file in ["latchkey.sqlite3", "logs/latchkey.log", "locks/x.lock", "connections.toml"] {
        loosen(&data.join(file), 0o644);
    }
    let _core = open(&data).await.expect("open again");
    for dir in ["", "instances", "locks", "logs"] {
        assert_eq!(mode(&data.join(dir)), 0o700, "{dir}/ tightened");
    }
    for file in ["latchkey.sqlite3", "logs/latchkey.log", "locks/x.lock", "connections.toml"] {
        assert_eq!(mode(&data.join(file)), 0o600, "{file} tightened");
    }
}

#[tokio::test]
async fn an_empty_database_file_is_refused_and_a_new_folder_starts() {
    let _turn = crate::support::shared();
    let tmp = tempfile::tempdir().expect("tmp");
    let fresh = tmp.path().join("fresh");
    drop(open(&fresh).await.expect("a new data folder starts"));
    assert!(std::fs::metadata(fresh.join("latchkey.sqlite3")).expect("created").len() > 0);

    let data = tmp.path().join("emptied");
    std::fs::create_dir_all(&data).expect("mkdir");
    std::fs::write(data.join("latchkey.sqlite3"), "").expect("an emptied database");
    let err = open(&data).await.err().expect("refused");
    let text = err.to_string();
    assert!(text.contains(&data.join("latchkey.sqlite3").display().to_string()), "names the file: {text}");
    assert!(text.contains("empty") && text.contains("Restore"), "says what to do: {text}");
    assert_eq!(std::fs::metadata(data.join("latchkey.sqlite3")).expect("kept").len(), 0, "left as found");
}

#[tokio::test]
async fn start_up_removes_placeholders_of_sign_ins_that_can_no_longer_complete() {
    let _turn = crate::support::shared();
    let tmp = tempfile::tempdir().expect("tmp");
    let data = tmp.path().join("data");
    let conn = ConnectionId::new("test").expect("id");
    let (old, fresh, named) = {
        let mut store = Store::open_in(&data).expect("store");
        let scopes = ["openid".to_owned()];
        let mut make = |name: &str, auto: bool| {
            store.get_or_create_account(&conn, name, &scopes, auto, &Actor::User).expect("account").0.id
        };
        (make("new-0ld0ld00", true), make("new-f7e5h000", true), make("work", false))
    };
    // Two hours ago, as a sign-in abandoned by a killed process would have left it.
    let db = rusqlite::Connection::open(data.join("latchkey.sqlite3")).expect("db");
    db.execute(
        "UPDATE accounts SET created_at = created_at - 7200 WHERE id IN (?1, ?2)",
        [old.as_str(), named.as_str()],
    )
    .expect("age them");
    drop(db);

    let core = open(&data).await.expect("open");
    let left: Vec<_> = core
        .list_connected_accounts(&AccountFilter::default())
        .expect("list")
        .into_iter()
        .map(|a| a.id)
        .collect();
    assert!(!left.contains(&old), "the abandoned placeholder is removed");
    assert!(left.contains(&fresh), "a placeholder whose sign-in may still complete is kept");
    assert!(left.contains(&named), "an account the user named is kept");
    let trail =
        core.audit_trail(&AuditQuery { account: Some(old.clone()), ..Default::default() }).expect("audit");
    let removal = trail.iter().find(|e| e.action == "account.deleted").expect("the removal is audited");
    assert_eq!(removal.actor, "system");
    assert!(removal.detail.contains("never completed"), "{removal:?}");

    // A sign-in that ends without success in this process removes its placeholder at once.
    assert!(core.discard_placeholder(&fresh, &Actor::User).expect("discard"));
    assert!(!core.discard_placeholder(&named, &Actor::User).expect("named"), "not a placeholder");
    assert!(core.get_account(&named).is_ok());
}

#[tokio::test]
async fn a_locked_keychain_or_an_unwritable_file_leaves_no_half_added_connection() {
    let _turn = crate::support::shared();
    let tmp = tempfile::tempdir().expect("tmp");
    let data = tmp.path().join("data");
    let file = tmp.path().join("connections.toml");
    std::fs::write(&file, "# mine\n").expect("connections file");
    let keychain = MemoryStore::default();
    let (core, _) = Latchkey::open(options(&data, &file, &keychain)).await.expect("open");
    let new = || NewConnection {
        id: "demo".into(),
        kind: latchkey_core::config::ConnectionType::OAuth2,
        authorize_url: Some("https://login.example.test/authorize".into()),
        token_url: Some("https://login.example.test/token".into()),
        client_id: Some("latchkey".into()),
        client_secret: Some(latchkey_core::secret::Secret::new("s3cret-value")),
        redirect: Some(latchkey_core::protocol::RedirectStrategy::Loopback),
        ..Default::default()
    };

    keychain.fail_next(1);
    let err = core.add_connection(new(), &Actor::User).await.expect_err("locked");
    assert_eq!(err.code(), ErrorCode::KeychainUnavailable);
    assert_eq!(std::fs::read_to_string(&file).expect("file"), "# mine\n", "the file is untouched");
    assert!(core.connection("demo").is_err());

    // The file cannot be replaced (its lock file's name is taken by a folder): the secret goes.
    std::fs::create_dir(tmp.path().join("connections.toml.lock")).expect("block the lock");
    assert!(core.add_connection(new(), &Actor::User).await.is_err());
    assert_eq!(keychain.keys(), Vec::<String>::new(), "the secret was removed again");
    assert!(core.connection("demo").is_err());
    std::fs::remove_dir(tmp.path().join("connections.toml.lock")).expect("unblock");

    let conn = core.add_connection(new(), &Actor::User).await.expect("added");
    assert!(core.client_secret_stored(&conn).expect("flag"));
    assert_eq!(keychain.keys().len(), 1);
    #[cfg(unix)]
    assert_eq!(mode(&file), 0o600, "the rewritten connections file is private");

    // Removing it with the keychain locked changes nothing either.
    keychain.fail_next(1);
    let err = core.remove_connection("demo", &Actor::User).await.expect_err("locked");
    assert_eq!(err.code(), ErrorCode::KeychainUnavailable);
    assert!(core.connection("demo").is_ok());
    assert!(std::fs::read_to_string(&file).expect("file").contains("demo"));
    assert_eq!(keychain.keys().len(), 1);
    core.remove_connection("demo", &Actor::User).await.expect("removed");
    assert_eq!(keychain.keys(), Vec::<String>::new());
    assert!(!std::fs::read_to_string(&file).expect("file").contains("demo"));
}
