//! The Linux keychain store (`SecretServiceStore`) against the real Secret Service: round trips,
//! items interchangeable with keyring's and `secret-tool`'s, reconnection after the Secret Service
//! restarts, and the errors of a locked keychain, an ambiguous entry and a missing Secret Service.
//!
//! Run in the throw-away session (`tests/with-session cargo test -p latchkey-core --test it --
//! --include-ignored secret_service::`). The tests that restart gnome-keyring or lock the keychain
//! refuse to run anywhere else (`LATCHKEY_SESSION_DIR` unset): never on a real desktop's keyring.

#![cfg(target_os = "linux")]
#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use latchkey_core::ErrorCode;
use latchkey_core::secret::Secret;
use latchkey_core::vault::{KeyringStore, SecretServiceStore, SecretStore};

static_assertions::assert_impl_all!(SecretServiceStore: Send, Sync);

/// The password tests/with-session gives the login keyring.
const KEYRING_PASSWORD: &str = "latchkey-test";

/// The tests here restart or lock the one Secret Service: one at a time.
fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|p| p.into_inner())
}

fn service(name: &str) -> String {
    format!("latchkey-test-ss-{name}-{}", std::process::id())
}

fn in_test_session() -> bool {
    std::env::var_os("LATCHKEY_SESSION_DIR").is_some()
}

fn secret_tool_lookup(service: &str, key: &str) -> Option<String> {
    let out =
        Command::new("secret-tool").args(["lookup", "service", service, "username", key]).output().unwrap();
    out.status.success().then(|| String::from_utf8(out.stdout).unwrap())
}

/// `gdbus call` on the session bus: `method` of `dest` at `path`, with `args`.
fn gdbus(dest: &str, path: &str, method: &str, args: &[&str]) -> std::process::Output {
    Command::new("gdbus")
        .args(["call", "--session", "--dest", dest, "--object-path", path, "--method", method])
        .args(args)
        .output()
        .unwrap()
}

/// A Secret Service method (`org.freedesktop.Secret.{method}`) of the object at `path`.
fn secrets(path: &str, method: &str, args: &[&str]) -> std::process::Output {
    gdbus("org.freedesktop.secrets", path, &format!("org.freedesktop.Secret.{method}"), args)
}

/// A method of the bus itself about the connection owning `name`.
fn bus(method: &str, name: &str) -> std::process::Output {
    let method = format!("org.freedesktop.DBus.{method}");
    gdbus("org.freedesktop.DBus", "/org/freedesktop/DBus", &method, &[name])
}

fn secrets_owner() -> Option<String> {
    let out = bus("GetNameOwner", "org.freedesktop.secrets");
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// The object path of the collection with the alias `default`.
fn default_collection() -> Option<String> {
    let out = secrets("/org/freedesktop/secrets", "Service.ReadAlias", &["default"]);
    let text = String::from_utf8_lossy(&out.stdout);
    let path = text.split('\'').nth(1)?;
    (out.status.success() && path != "/").then(|| path.to_owned())
}

fn login_locked() -> Option<bool> {
    let path = default_collection()?;
    let out = gdbus(
        "org.freedesktop.secrets",
        &path,
        "org.freedesktop.DBus.Properties.Get",
        &["org.freedesktop.Secret.Collection", "Locked"],
    );
    let text = String::from_utf8_lossy(&out.stdout);
    out.status.success().then(|| text.contains("true"))
}

/// Replaces the session's gnome-keyring-daemon with a new one (the keyring files stay) and waits
/// until the new one owns the Secret Service name with the default collection unlocked.
fn restart_gnome_keyring() {
    let before = secrets_owner();
    let mut daemon = Command::new("gnome-keyring-daemon")
        .args(["--replace", "--unlock", "--components=secrets"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::io::Write::write_all(daemon.stdin.as_mut().unwrap(), KEYRING_PASSWORD.as_bytes()).unwrap();
    drop(daemon.stdin.take());
    assert!(daemon.wait().unwrap().success(), "gnome-keyring-daemon --replace failed");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let owner = secrets_owner();
        if owner.is_some() && owner != before && login_locked() == Some(false) {
            return;
        }
        assert!(Instant::now() < deadline, "the new gnome-keyring did not come up (owner {owner:?})");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
#[ignore = "needs a desktop session: tests/with-session cargo test -- --include-ignored"]
fn put_get_delete_round_trip_on_one_connection() {
    let _serial = serial();
    let _turn = crate::support::shared();
    let store = SecretServiceStore::new(service("round-trip"));
    assert_eq!(store.connections_opened(), 0, "nothing connects before the first call");
    assert!(store.get("a/access").unwrap().is_none());
    assert_eq!(store.connections_opened(), 1);

    store.put("a/access", &Secret::new("first value")).unwrap();
    assert_eq!(store.get("a/access").unwrap().unwrap().expose(), "first value");
    store.put("a/access", &Secret::new("second välue ✓")).unwrap();
    assert_eq!(store.get("a/access").unwrap().unwrap().expose(), "second välue ✓");
    store.put("a/refresh", &Secret::new("other")).unwrap();
    assert_eq!(store.get("a/refresh").unwrap().unwrap().expose(), "other");

    store.delete("a/access").unwrap();
    assert!(store.get("a/access").unwrap().is_none());
    store.delete("a/access").unwrap();
    store.delete("a/refresh").unwrap();
    assert!(store.get("a/refresh").unwrap().is_none());
    assert_eq!(store.connections_opened(), 1, "every call on the one connection");
    assert!(store.describe().contains("Secret Service"), "{}", store.describe());
}

#[test]
#[ignore = "needs a desktop session: tests/with-session cargo test -- --include-ignored"]
fn items_are_interchangeable_with_keyring_and_secret_tool() {
    let _serial = serial();
    let _turn = crate::support::shared();
    let svc = service("compat");
    let ours = SecretServiceStore::new(svc.clone());
    let theirs = KeyringStore::new(svc.clone());

    // Written by us: keyring, secret-tool and keyring's own attributes and label all agree.
    ours.put("k1", &Secret::new("written-by-latchkey")).unwrap();
    assert_eq!(theirs.get("k1").unwrap().unwrap().expose(), "written-by-latchkey");
    assert_eq!(secret_tool_lookup(&svc, "k1").as_deref(), Some("written-by-latchkey"));
    keyring::Entry::new(&svc, "k2").unwrap().set_password("written-by-keyring").unwrap();
    // keyring's view: the attributes it does not control, and the label. (gnome-keyring adds
    // `xdg:schema` by itself to the first item of a fresh session now and then, whoever wrote it.)
    let attributes = |key: &str| {
        let mut a = keyring::Entry::new(&svc, key).unwrap().get_attributes().unwrap();
        a.remove("xdg:schema");
        if let Some(label) = a.get_mut("label") {
            *label = label.replacen(key, "KEY", 1);
        }
        a
    };
    let (mine, keyrings) = (attributes("k1"), attributes("k2"));
    assert_eq!(mine.get("application").map(String::as_str), Some("rust-keyring"));
    assert_eq!(mine, keyrings, "the same attributes and label format as keyring's");

    // Written by keyring: read, overwritten in place (still one item), deleted by us.
    assert_eq!(ours.get("k2").unwrap().unwrap().expose(), "written-by-keyring");
    ours.put("k2", &Secret::new("overwritten-by-latchkey")).unwrap();
    assert_eq!(theirs.get("k2").unwrap().unwrap().expose(), "overwritten-by-latchkey");
    ours.delete("k2").unwrap();
    assert!(theirs.get("k2").unwrap().is_none());
    assert!(secret_tool_lookup(&svc, "k2").is_none());

    // Overwritten by keyring, deleted by keyring.
    theirs.put("k1", &Secret::new("overwritten-by-keyring")).unwrap();
    assert_eq!(ours.get("k1").unwrap().unwrap().expose(), "overwritten-by-keyring");
    theirs.delete("k1").unwrap();
    assert!(ours.get("k1").unwrap().is_none());

    // An item of keyring v1 or another tool (no `target`, default collection) is found too.
    let mut tool = Command::new("secret-tool")
        .args(["store", "--label=legacy", "service", &svc, "username", "k3"])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(tool.stdin.as_mut().unwrap(), b"legacy-item").unwrap();
    drop(tool.stdin.take());
    assert!(tool.wait().unwrap().success());
    assert_eq!(ours.get("k3").unwrap().unwrap().expose(), "legacy-item");
    assert_eq!(theirs.get("k3").unwrap().unwrap().expose(), "legacy-item");
    ours.delete("k3").unwrap();
    assert!(secret_tool_lookup(&svc, "k3").is_none());
    assert_eq!(ours.connections_opened(), 1);
}

#[test]
#[ignore = "needs a desktop session: tests/with-session cargo test -- --include-ignored"]
fn two_matching_items_are_an_error_as_with_keyring() {
    let _serial = serial();
    let _turn = crate::support::shared();
    let svc = service("ambiguous");
    let ours = SecretServiceStore::new(svc.clone());
    ours.put("dup", &Secret::new("value-one")).unwrap();
    // A second item with keyring's search attributes and one more, so it does not replace ours.
    let mut tool = Command::new("secret-tool")
        .args(["store", "--label=dup", "service", &svc, "username", "dup", "target", "default", "x", "1"])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(tool.stdin.as_mut().unwrap(), b"value-two").unwrap();
    drop(tool.stdin.take());
    assert!(tool.wait().unwrap().success());

    let theirs = KeyringStore::new(svc.clone());
    for err in [ours.get("dup").unwrap_err(), ours.delete("dup").unwrap_err(), theirs.get("dup").unwrap_err()]
    {
        assert_eq!(err.code(), ErrorCode::KeychainUnavailable);
        let text = format!("{err} {err:?}");
        assert!(text.contains("matched by 2 credentials"), "{text}");
        assert!(!text.contains("value-one") && !text.contains("value-two"), "{text}");
    }
    let entry = keyring::Entry::new(&svc, "dup").unwrap();
    let cred: &keyring::secret_service::SsCredential = entry.get_credential().downcast_ref().unwrap();
    cred.delete_all_passwords().unwrap();
    assert!(ours.get("dup").unwrap().is_none());
}

#[test]
#[ignore = "needs a desktop session: tests/with-session cargo test -- --include-ignored"]
fn reconnects_once_when_the_secret_service_restarts() {
    assert!(
        in_test_session(),
        "restarts gnome-keyring: run it only in tests/with-session, never on a real desktop"
    );
    let _serial = serial();
    let _alone = crate::support::alone();
    let store = SecretServiceStore::new(service("restart"));
    store.put("k", &Secret::new("before the restart")).unwrap();
    assert_eq!(store.get("k").unwrap().unwrap().expose(), "before the restart");
    assert_eq!(store.connections_opened(), 1);

    // The daemon that knew our session is gone: the first call fails on it, reconnects, succeeds.
    restart_gnome_keyring();
    assert_eq!(store.get("k").unwrap().unwrap().expose(), "before the restart");
    assert_eq!(store.connections_opened(), 2, "one reconnection");
    store.put("k", &Secret::new("after the restart")).unwrap();
    assert_eq!(secret_tool_lookup(&service("restart"), "k").as_deref(), Some("after the restart"));
    assert_eq!(store.connections_opened(), 2, "the new connection is kept");

    // A write as the first call after a restart takes the same path.
    restart_gnome_keyring();
    store.put("k", &Secret::new("after the second restart")).unwrap();
    assert_eq!(store.connections_opened(), 3);
    assert_eq!(store.get("k").unwrap().unwrap().expose(), "after the second restart");
    store.delete("k").unwrap();
    assert_eq!(store.connections_opened(), 3);
}

/// Locks the default collection; the next read must unlock it, which shows gnome-keyring's prompt.
/// Killing the prompter (the session's own, found by its bus name) dismisses it, as a user would.
#[test]
#[ignore = "needs a desktop session: tests/with-session cargo test -- --include-ignored"]
fn a_locked_keychain_whose_prompt_is_dismissed_is_a_clear_error() {
    assert!(
        in_test_session(),
        "locks the keychain: run it only in tests/with-session, never on a real desktop"
    );
    let _serial = serial();
    let _alone = crate::support::alone();
    let svc = service("locked");
    let ours = std::sync::Arc::new(SecretServiceStore::new(svc.clone()));
    ours.put("k", &Secret::new("locked-away")).unwrap();
    let collection = format!("['{}']", default_collection().unwrap());
    let lock = secrets("/org/freedesktop/secrets", "Service.Lock", &[&collection]);
    assert!(lock.status.success(), "{lock:?}");
    // Unlocked again (by a new gnome-keyring) however this test ends, or the next would hang.
    let unlock = UnlockOnDrop;
    assert_eq!(login_locked(), Some(true));

    let mut messages = Vec::new();
    for store in
        [ours.clone() as std::sync::Arc<dyn SecretStore>, std::sync::Arc::new(KeyringStore::new(svc.clone()))]
    {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || tx.send(store.get("k").map(|s| s.is_some())).unwrap());
        let deadline = Instant::now() + Duration::from_secs(30);
        let result = loop {
            if let Ok(result) = rx.try_recv() {
                break result;
            }
            assert!(Instant::now() < deadline, "the unlock prompt never came");
            if let Some(pid) = prompter_pid() {
                Command::new("kill").arg(pid.to_string()).status().unwrap();
            }
            std::thread::sleep(Duration::from_millis(100));
        };
        let err = result.expect_err("a dismissed unlock prompt is an error");
        assert_eq!(err.code(), ErrorCode::KeychainUnavailable);
        assert!(!format!("{err} {err:?}").contains("locked-away"));
        messages.push(err.to_string());
    }
    assert!(messages[0].contains("no access to the keychain"), "{messages:?}");
    assert_eq!(messages[0], messages[1], "the same words as keyring's");
    assert_eq!(ours.connections_opened(), 1, "a locked keychain is not a lost connection");

    drop(unlock);
    ours.delete("k").unwrap();
}

struct UnlockOnDrop;

impl Drop for UnlockOnDrop {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let _ = std::panic::catch_unwind(restart_gnome_keyring);
        } else {
            restart_gnome_keyring();
        }
    }
}

fn prompter_pid() -> Option<u32> {
    let out = bus("GetConnectionUnixProcessID", "org.gnome.keyring.SystemPrompter");
    let text = String::from_utf8_lossy(&out.stdout);
    text.trim().trim_start_matches("(uint32 ").trim_end_matches(",)").parse().ok()
}

/// No session bus at all, and a session bus without a Secret Service: the same error as keyring's.
/// Each runs in a child process, whose session bus address is the only thing that differs.
#[test]
#[ignore = "needs a desktop session: tests/with-session cargo test -- --include-ignored"]
fn no_secret_service_is_the_same_clear_error() {
    let _serial = serial();
    let _turn = crate::support::shared();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("bus.conf");
    std::fs::write(
        &config,
        format!(
            "<busconfig><type>session</type><listen>unix:path={}</listen>\
             <policy context=\"default\"><allow send_destination=\"*\"/><allow receive_sender=\"*\"/>\
             <allow own=\"*\"/></policy></busconfig>",
            dir.path().join("bus").display()
        ),
    )
    .unwrap();
    let mut bus = Command::new("dbus-daemon")
        .arg(format!("--config-file={}", config.display()))
        .args(["--nofork", "--print-address=1"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut address = String::new();
    BufReader::new(bus.stdout.take().unwrap()).read_line(&mut address).unwrap();

    for address in ["unix:path=/nonexistent/latchkey-test-bus", address.trim()] {
        let out = Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "secret_service::no_secret_service_child",
                "--ignored",
                "--nocapture",
                "--test-threads=1",
            ])
            .env("DBUS_SESSION_BUS_ADDRESS", address)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success() && text.contains("1 passed"), "{address}: {text}");
        text.lines()
            .filter(|l| l.starts_with("ours: ") || l.starts_with("keyring: "))
            .for_each(|l| eprintln!("{l}"));
    }
    bus.kill().unwrap();
    bus.wait().unwrap();
}

#[test]
#[ignore = "run by no_secret_service_is_the_same_clear_error with another session bus"]
fn no_secret_service_child() {
    let svc = service("none");
    let ours = SecretServiceStore::new(svc.clone());
    let theirs = KeyringStore::new(svc);
    let ours_err = ours.put("k", &Secret::new("nowhere-to-go")).unwrap_err();
    let theirs_err = theirs.put("k", &Secret::new("nowhere-to-go")).unwrap_err();
    eprintln!("ours: {ours_err}\nkeyring: {theirs_err}");
    assert_eq!(ours_err.code(), ErrorCode::KeychainUnavailable);
    assert_eq!(ours_err.to_string(), theirs_err.to_string());
    assert!(ours_err.to_string().contains("(the keychain failed: "), "{ours_err}");
    assert_eq!(ours.get("k").unwrap_err().to_string(), theirs.get("k").unwrap_err().to_string());
    assert_eq!(ours.connections_opened(), 0);
}
