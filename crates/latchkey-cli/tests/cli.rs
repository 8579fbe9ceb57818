//! Every `latchkey` subcommand as a user runs it: the real binary, the real test provider over
//! TLS (trusted through `SSL_CERT_FILE`, as OpenSSL-based tools do), the real keychain.

mod common;
#[path = "../../latchkey-core/tests/it/support/mod.rs"]
mod support;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use common::{Env, Setup};
use serde_json::{Value, json};
use support::Provider;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a desktop session: tests/with-session cargo test -- --include-ignored"]
async fn every_subcommand_against_the_real_provider_and_keychain() {
    let provider = Provider::start();
    provider.control("ttl", json!({"access_token": 2})).await;
    let env = Env::new(&provider);

    let conns = env.json(&["connections", "list", "--json"]);
    let ids: Vec<_> =
        conns.as_array().expect("array").iter().map(|c| c["id"].as_str().unwrap_or_default()).collect();
    // The catalog's providers first (Pending until they get a client id), then the file's own.
    assert_eq!(ids[ids.len() - 3..], ["crm", "desk", "test"]);
    assert!(ids.contains(&"gmail") && ids.contains(&"github"), "{ids:?}");
    let table = env.expect(&["connections", "list"], 0);
    assert!(
        table.starts_with("CONNECTION ") && table.lines().next().is_some_and(|h| h.contains("REDIRECT")),
        "{table}"
    );
    assert!(
        table.lines().any(|l| l.starts_with("gmail ") && l.contains("pending") && l.contains("loopback")),
        "{table}"
    );

    let account = env.connect_to("test", &provider, None);
    assert_eq!(account["ref"], "test:alice@example.test");
    assert_eq!(account["status"], "active");
    assert_eq!(account["granted_scopes"], json!(["openid", "email", "profile"]));
    let r = "test:alice@example.test";

    // token: only the token; live at the provider; refreshed after expiry.
    let token = env.expect(&["token", r], 0);
    assert_eq!(token.lines().count(), 1);
    let token = token.trim().to_owned();
    assert!(provider.is_active(&token).await);
    std::thread::sleep(std::time::Duration::from_secs(3));
    provider.control("requests/clear", json!({})).await;
    let fresh = env.json(&["token", r, "--json"]);
    assert_ne!(fresh["access_token"], token.as_str(), "refreshed after expiry");
    assert_eq!(provider.request_paths().await.iter().filter(|p| *p == "/token").count(), 1);
    assert!(fresh["expires_at"].is_string() && fresh["scopes"] == json!(["openid", "email", "profile"]));
    env.expect(&["token", r, "--scope", "email"], 0);
    // Nobody reading: the hand-out is recorded, the command ends quietly with 141 (as SIGPIPE
    // ends git or coreutils).
    for args in [&["token", r][..], &["accounts", "show", r]] {
        let (reader, writer) = std::io::pipe().expect("pipe");
        drop(reader);
        let out = env.cmd(args).stdout(writer).output().expect("run");
        assert_eq!(out.status.code(), Some(141), "{args:?}");
        assert!(out.stderr.is_empty(), "{}", String::from_utf8_lossy(&out.stderr));
    }
    env.expect(&["token", r, "--scope", "demo.write"], 4);

    // accounts list / show / test.
    let listed = env.json(&["accounts", "list", "--json", "--status", "active"]);
    assert_eq!(listed.as_array().map(Vec::len), Some(1));
    assert!(env.expect(&["accounts", "list"], 0).contains("test:alice@example.test  Active"));
    assert_eq!(env.json(&["accounts", "show", r, "--json"])["identity"]["email"], "alice@example.test");
    assert_eq!(env.json(&["accounts", "test", r, "--json"])["subject"], "alice");

    // suspend / resume.
    env.expect(&["suspend", r], 0);
    env.expect(&["token", r], 4);
    env.expect(&["resume", r], 0);
    env.expect(&["token", r], 0);

    // audit: every token call with its caller (this test binary).
    let lines = env.expect(&["audit", "--account", r, "--json"], 0);
    let reads: Vec<Value> = lines
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).expect("json line"))
        .filter(|e| e["action"] == "token.read")
        .collect();
    assert!(reads.len() >= 5, "{reads:?}");
    assert!(
        reads
            .iter()
            .all(|e| e["actor"] == "cli" && e["caller"].as_str().is_some_and(|c| c.contains("(pid ")))
    );
    assert!(reads.iter().any(|e| e["outcome"] == "refused"), "the suspended read is recorded too");
    assert!(
        reads.iter().any(|e| e["outcome"] == "refused" && e["detail"] == "not granted: demo.write"),
        "the --scope refusal is recorded, naming the scope"
    );
    assert!(env.expect(&["audit", "--csv", "--since", "1h"], 0).starts_with("id,at,account_id"));
    assert!(env.expect(&["audit"], 0).starts_with("TIME"));

    // revoke, then delete.
    assert!(env.expect(&["revoke", r], 0).starts_with("Access revoked"));
    assert!(!provider.is_active(&token).await);
    env.expect(&["token", r], 4);
    // Again: nothing to do, and said so. The dead token's expiry is not shown.
    assert!(env.expect(&["revoke", r], 0).contains("already revoked"));
    let shown = env.json(&["accounts", "show", r, "--json"]);
    assert_eq!(shown["status"], "revoked");
    assert_eq!(shown["expires_at"], Value::Null);
    assert!(env.expect(&["accounts", "show", r], 0).lines().any(|l| l == "Expires    —"));
    env.expect(&["delete", r], 0);
    env.expect(&["accounts", "show", r], 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a desktop session: tests/with-session cargo test -- --include-ignored"]
async fn bad_references_flags_and_a_locked_keychain_get_their_exit_codes() {
    let provider = Provider::start();
    let env = Env::new(&provider);
    env.expect(&["token", "no-colon"], 2);
    env.expect(&["token", "test:nobody"], 3);
    env.expect(&["token", "nope:x"], 3);
    env.expect(&["accounts", "list", "--status", "sleeping"], 2);
    env.expect(&["audit", "--since", "yesterday"], 2);
    env.expect(&["token"], 2);
    env.expect(&["token", "test:x", "--frobnicate"], 2);
    assert!(env.expect(&["--help"], 0).contains("6  the provider or the network is unreachable"));

    // An account, then no keychain: listing still works (metadata only); deleting says why not.
    let account = env.connect_to("test", &provider, Some("work"));
    assert_eq!(account["ref"], "test:work");
    let no_keychain = |args: &[&str]| {
        let out = env
            .cmd(args)
            .env("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/bus")
            .output()
            .expect("run");
        (out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned())
    };
    assert_eq!(no_keychain(&["accounts", "list"]).0, Some(0), "no keychain needed to list");
    let (code, stderr) = no_keychain(&["token", "test:work", "--min-valid", "0"]);
    assert_eq!(code, Some(5), "{stderr}");
    assert!(stderr.contains("keychain"), "{stderr}");
    env.expect(&["delete", "test:work"], 0);
}

/// `connections set / add / remove` against the real keychain, and a custom OpenID Connect
/// connection (discovery, loopback) added from the command line and used at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a desktop session: tests/with-session cargo test -- --include-ignored"]
async fn connections_are_configured_from_the_command_line() {
    let provider = Provider::start();
    let env = Env::new(&provider);
    std::fs::write(&env.connections, "# my connections\n").expect("write");
    let status = |id: &str| -> String {
        let all = env.json(&["connections", "list", "--json"]);
        let c = all.as_array().expect("array").iter().find(|c| c["id"] == id).cloned().expect(id);
        c["status"].as_str().expect("status").to_owned()
    };

    // A catalog entry: pending until its client id and (Google) client secret are set.
    assert_eq!(status("gmail"), "pending");
    let err = env.expect(&["connect", "gmail", "--no-browser"], 1);
    assert!(err.is_empty());
    env.expect(&["connections", "set", "gmail", "--client-id", "123.apps.googleusercontent.com"], 0);
    assert_eq!(status("gmail"), "pending", "the secret is still missing");
    env.expect_with_input(&["connections", "set", "gmail", "--client-secret-stdin"], "GOCSPX-secret\n", 0);
    assert_eq!(status("gmail"), "active");
    let gmail = env.json(&["connections", "list", "--json"]);
    let gmail = gmail.as_array().expect("array").iter().find(|c| c["id"] == "gmail").cloned().expect("gmail");
    assert_eq!(gmail["client_id"], "123.apps.googleusercontent.com");
    assert_eq!(gmail["client_secret_stored"], true);
    assert_eq!(gmail["redirect"], "loopback");
    let file = std::fs::read_to_string(&env.connections).expect("file");
    assert!(file.contains("# my connections"), "comments are kept: {file}");
    assert!(file.contains("123.apps.googleusercontent.com") && !file.contains("GOCSPX"), "{file}");
    env.expect(&["connections", "set", "gmail", "--disable"], 0);
    assert_eq!(status("gmail"), "inactive");
    env.expect(&["connections", "set", "gmail", "--clear-client-secret", "--enable"], 0);
    assert_eq!(status("gmail"), "pending");
    env.expect(&["connections", "remove", "gmail"], 1);

    // A custom OpenID Connect connection through discovery, signed in through the loopback.
    env.expect(
        &[
            "connections",
            "add",
            "demo",
            "--issuer",
            &provider.issuer,
            "--client-id",
            "latchkey",
            "--scopes",
            "openid email",
        ],
        0,
    );
    assert_eq!(status("demo"), "active");
    env.expect(&["connections", "add", "demo", "--issuer", &provider.issuer], 1);
    let account = env.connect_to("demo", &provider, None);
    assert_eq!(account["status"], "active");
    assert_eq!(account["connection"], "demo");
    env.expect(&["connections", "remove", "demo"], 1);
    let reference = account["ref"].as_str().expect("ref").to_owned();
    env.expect(&["delete", &reference], 0);
    env.expect(&["connections", "remove", "demo"], 0);
    assert!(
        !std::fs::read_to_string(&env.connections).expect("file").contains("[[connection]]\nid = \"demo\"")
    );

    let audit = env.expect(&["audit", "--json"], 0);
    for action in ["connection.configured", "connection.added", "connection.removed"] {
        assert!(audit.contains(action), "{action} audited");
    }
    assert!(!audit.contains("GOCSPX"), "the secret is not in the audit trail");
}

/// A stand-in for xdg-desktop-portal on the test session's bus: answers `OpenURI` and hands the
/// URI it was given to the test.
#[cfg(target_os = "linux")]
fn fake_portal() -> (std::sync::mpsc::Receiver<String>, std::sync::Arc<std::sync::atomic::AtomicBool>) {
    use dbus::blocking::Connection;
    use dbus::channel::{MatchingReceiver, Sender};
    use dbus::message::MatchRule;
    use std::sync::atomic::{AtomicBool, Ordering};

    let (tx, rx) = std::sync::mpsc::channel();
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let stop = std::sync::Arc::new(AtomicBool::new(false));
    let stopped = stop.clone();
    std::thread::spawn(move || {
        let bus = Connection::new_session().expect("the test session's bus");
        bus.request_name("org.freedesktop.portal.Desktop", false, true, true).expect("the portal's name");
        let rule = MatchRule::new_method_call().with_interface("org.freedesktop.portal.OpenURI");
        bus.start_receive(
            rule,
            Box::new(move |msg, conn| {
                if let Ok((_parent, uri)) = msg.read2::<&str, &str>() {
                    let _ = tx.send(uri.to_owned());
                    let handle = dbus::Path::from("/org/freedesktop/portal/desktop/request/1_1/t");
                    let _ = conn.send(msg.method_return().append1(handle));
                }
                true
            }),
        );
        ready_tx.send(()).expect("ready");
        while !stopped.load(Ordering::Relaxed) {
            let _ = bus.process(std::time::Duration::from_millis(100));
        }
    });
    ready_rx.recv().expect("the portal started");
    (rx, stop)
}

#[cfg(target_os = "linux")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a desktop session: tests/with-session cargo test -- --include-ignored"]
async fn connect_opens_the_browser_through_the_desktop_portal_not_argv() {
    let provider = Provider::start();
    let env = Env::new(&provider);
    let (uris, stop) = fake_portal();
    let child = env.cmd(&["connect", "test", "--json"]).stdout(Stdio::piped()).spawn().expect("spawn");
    let uri = uris.recv_timeout(std::time::Duration::from_secs(30)).expect("OpenURI called on the portal");
    let url = url::Url::parse(&uri).expect("a URL");
    let state = url.query_pairs().find(|(k, _)| k == "state").expect("state").1.into_owned();
    // No process of this machine has the sign-in's state on its command line.
    let mut scanned = 0;
    for dir in std::fs::read_dir("/proc").expect("/proc").flatten() {
        if let Ok(cmdline) = std::fs::read(dir.path().join("cmdline")) {
            scanned += 1;
            assert!(!support::contains(&cmdline, &state), "{} has the URL in its argv", dir.path().display());
        }
    }
    assert!(scanned > 3, "{scanned} processes");
    // The scripted browser, given the URL in its environment rather than its argv.
    let script = format!(
        "import {{ runBrowser, deliver }} from '{}'; await deliver(await runBrowser(process.env.SIGN_IN_URL));",
        support::repo_root().join("tests/e2e/browser.mjs").display()
    );
    let status = Command::new("node")
        .args(["--input-type=module", "-e", &script])
        .env("SIGN_IN_URL", &uri)
        .env("NODE_EXTRA_CA_CERTS", provider.ca_file.as_ref().expect("tls"))
        .status()
        .expect("node");
    assert!(status.success());
    let out = child.wait_with_output().expect("wait");
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    assert!(out.status.success());
    let account: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(account["status"], "active");
    assert_eq!(account["identifier"], "alice@example.test");
    env.expect(&["revoke", "test:alice@example.test"], 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a desktop session: tests/with-session cargo test -- --include-ignored"]
async fn stored_control_characters_are_escaped_and_a_missing_refresh_token_is_warned() {
    let provider = Provider::start();
    provider.control("offline-access", json!({"strict": true})).await;
    let env =
        Env::with(&provider, Setup { scopes: &["openid", "email", "offline_access"], ..Setup::default() });
    // A hostile email from the provider, shown cleaned.
    provider
        .control("claims", json!({"account": "alice", "claims": {"email": "a\u{1b}[2J\nb@example.test"}}))
        .await;
    let mut child = env
        .cmd(&["connect", "test", "--no-browser", "--json", "--identifier", "shell"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let first: Value = serde_json::from_str(&lines.next().expect("a line").expect("read")).expect("json");
    // The user leaves offline access unticked at consent.
    let status = Command::new("node")
        .arg(support::repo_root().join("tests/e2e/browser.mjs"))
        .arg(first["authorization_url"].as_str().expect("url"))
        .env("LATCHKEY_TEST_GRANT", "openid email")
        .env("NODE_EXTRA_CA_CERTS", provider.ca_file.as_ref().expect("tls"))
        .status()
        .expect("node");
    assert!(status.success());
    let out = child.wait_with_output().expect("wait");
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("latchkey: warning: No refresh token was issued"), "{stderr}");
    let table = env.expect(&["accounts", "list"], 0);
    assert!(table.contains("a[2J b@example.test"), "{table}");
    assert!(!table.chars().any(|c| c.is_control() && c != '\n'), "{table:?}");
    assert_eq!(table.lines().count(), 2, "a header and one row: {table}");
    env.expect(&["revoke", "test:shell"], 0);
}

/// `grants add / list / remove`, their exit codes, a revocation taking the grants with it, and
/// `connections add --api-base`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a desktop session: tests/with-session cargo test -- --include-ignored"]
async fn grants_and_api_bases_from_the_command_line() {
    let provider = Provider::start();
    let env = Env::new(&provider);
    assert!(env.expect(&["grants", "list"], 0).starts_with("No grants"));
    assert_eq!(env.json(&["grants", "list", "--json"]), json!([]));
    let account = env.connect_to("test", &provider, Some("work"));
    assert_eq!(account["ref"], "test:work");

    let said = env.expect(&["grants", "add", "claude-code", "test:work", "--for", "7d"], 0);
    assert!(said.starts_with("claude-code may now call test:work with read access until "), "{said}");
    env.expect(&["grants", "add", "cursor", "test:work", "--access", "full"], 0);
    let list = env.json(&["grants", "list", "--json"]);
    let list = list.as_array().expect("array");
    assert_eq!(list.len(), 2, "{list:?}");
    assert_eq!(list[0]["consumer"], "claude-code");
    assert_eq!(list[0]["account"], "test:work");
    assert_eq!(list[0]["access"], "read");
    assert_eq!(list[0]["expired"], false);
    assert!(list[0]["until"].is_string() && list[0]["last_used"].is_null(), "{list:?}");
    assert_eq!(list[1]["access"], "full");
    assert!(list[1]["until"].is_null());
    let table = env.expect(&["grants", "list"], 0);
    assert!(
        table.starts_with("CONSUMER ") && table.contains("cursor ") && table.contains(" never"),
        "{table}"
    );

    env.expect(&["grants", "add", "agent", "test:nobody"], 3);
    env.expect(&["grants", "add", "agent", "nope:x"], 3);
    env.expect(&["grants", "add", "agent", "no-colon"], 2);
    env.expect(&["grants", "add", "agent", "test:work", "--access", "write"], 2);
    env.expect(&["grants", "add", "agent", "test:work", "--for", "7w"], 2);
    env.expect(&["grants", "add", "agent", "test:work", "--for", "0d"], 2);
    env.expect(&["grants", "add", "a\u{1b}[2Jb", "test:work"], 1);
    env.expect(&["grants", "remove", "agent", "test:nobody"], 3);

    assert!(env.expect(&["grants", "remove", "cursor", "test:work"], 0).starts_with("Removed the grant"));
    assert!(env.expect(&["grants", "remove", "cursor", "test:work"], 0).contains("nothing to do"));
    env.expect(&["revoke", "test:work"], 0);
    assert_eq!(env.json(&["grants", "list", "--json"]), json!([]), "revoking removed its grants");
    let trail = env.expect(&["audit", "--json"], 0);
    let grant_rows = trail.lines().filter(|l| l.contains("\"grant.")).count();
    assert_eq!(grant_rows, 4, "two added, one removed by hand, one by the revocation:\n{trail}");

    // API bases: the catalog's, and one given to a custom connection.
    let conns = env.json(&["connections", "list", "--json"]);
    let base = |id: &str, conns: &Value| {
        conns.as_array().expect("array").iter().find(|c| c["id"] == id).map(|c| c["api_base"].clone())
    };
    assert_eq!(base("github", &conns), Some(json!("https://api.github.com/")));
    assert_eq!(base("crm", &conns), Some(Value::Null));
    env.expect(
        &["connections", "add", "helpdesk", "--type", "api-key", "--api-base", "https://desk.example/api/v2"],
        0,
    );
    assert_eq!(
        base("helpdesk", &env.json(&["connections", "list", "--json"])),
        Some(json!("https://desk.example/api/v2"))
    );
    env.expect(&["connections", "add", "plain", "--type", "api-key", "--api-base", "http://desk.example"], 1);
    assert_eq!(base("plain", &env.json(&["connections", "list", "--json"])), None, "nothing was added");
}
