//! Every `latchkey` subcommand as a user runs it: the real binary, the real test provider over
//! TLS (trusted through `SSL_CERT_FILE`, as OpenSSL-based tools do), the real keychain.

#[path = "../../latchkey-core/tests/support/mod.rs"]
mod support;

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use serde_json::{Value, json};
use support::Provider;

struct Env {
    _dir: tempfile::TempDir,
    data: PathBuf,
    connections: PathBuf,
    service: String,
    ca: PathBuf,
}

impl Env {
    fn new(provider: &Provider) -> Env {
        let dir = tempfile::tempdir().expect("tmp");
        let mut spec =
            support::spec(Some(provider), &["openid", "email", "profile"], &dir.path().join("data"));
        spec.redirect = "loopback";
        let connections = dir.path().join("connections.toml");
        std::fs::write(&connections, support::connections_toml(&spec)).expect("write");
        Env {
            data: spec.data_dir.clone(),
            connections,
            service: spec.service,
            ca: provider.ca_file.clone().expect("tls"),
            _dir: dir,
        }
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_latchkey"));
        c.args(args)
            .env("LATCHKEY_DATA_DIR", &self.data)
            .env("LATCHKEY_CONNECTIONS", &self.connections)
            .env("LATCHKEY_KEYCHAIN_SERVICE", &self.service)
            .env("SSL_CERT_FILE", &self.ca);
        c
    }

    fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).output().expect("run latchkey")
    }

    /// Runs and expects `code`; returns stdout.
    fn expect(&self, args: &[&str], code: i32) -> String {
        let out = self.run(args);
        let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert_eq!(out.status.code(), Some(code), "latchkey {args:?}\nstdout: {stdout}\nstderr: {stderr}");
        if code != 0 && code != 2 {
            assert!(
                stderr.starts_with("latchkey: ") && stderr.lines().count() == 1,
                "one-line reason: {stderr}"
            );
        }
        stdout.into_owned()
    }

    fn json(&self, args: &[&str]) -> Value {
        serde_json::from_str(&self.expect(args, 0)).expect("json")
    }

    /// `latchkey connect test --no-browser --json`, driven by the scripted browser.
    fn connect(&self, provider: &Provider, identifier: Option<&str>) -> Value {
        let mut args = vec!["connect", "test", "--no-browser", "--json"];
        if let Some(i) = identifier {
            args.extend(["--identifier", i]);
        }
        let mut child = self.cmd(&args).stdout(Stdio::piped()).spawn().expect("spawn");
        let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
        let first: Value = serde_json::from_str(&lines.next().expect("a line").expect("read")).expect("json");
        let url = first["authorization_url"].as_str().expect("authorization_url");
        assert!(url.contains("redirect_uri=http%3A%2F%2F127.0.0.1%3A"), "loopback redirect: {url}");
        support::browse_loopback(provider, url);
        let account: Value =
            serde_json::from_str(&lines.next().expect("the account").expect("read")).expect("json");
        assert!(child.wait().expect("wait").success());
        account
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
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

    let account = env.connect(&provider, None);
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
    assert!(env.expect(&["audit", "--csv", "--since", "1h"], 0).starts_with("id,at,account_id"));
    assert!(env.expect(&["audit"], 0).starts_with("TIME"));

    // revoke, then delete.
    assert!(env.expect(&["revoke", r], 0).starts_with("Access revoked"));
    assert!(!provider.is_active(&token).await);
    env.expect(&["token", r], 4);
    env.expect(&["delete", r], 0);
    env.expect(&["accounts", "show", r], 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_references_flags_and_a_locked_keychain_get_their_exit_codes() {
    let provider = Provider::start();
    let env = Env::new(&provider);
    env.expect(&["token", "no-colon"], 1);
    env.expect(&["token", "test:nobody"], 3);
    env.expect(&["token", "nope:x"], 3);
    env.expect(&["accounts", "list", "--status", "sleeping"], 1);
    env.expect(&["audit", "--since", "yesterday"], 1);
    env.expect(&["token"], 2);
    env.expect(&["token", "test:x", "--frobnicate"], 2);
    assert!(env.expect(&["--help"], 0).contains("6  the provider or the network is unreachable"));

    // An account, then no keychain: listing still works (metadata only); deleting says why not.
    let account = env.connect(&provider, Some("work"));
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
