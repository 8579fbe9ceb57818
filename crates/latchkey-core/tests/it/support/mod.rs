//! Test support: the real test provider (tests/provider/server.mjs, oidc-provider over TLS on
//! 127.0.0.1 with a throw-away CA), the scripted browser (tests/e2e/browser.mjs), and a core wired
//! to the real OS keychain under a throw-away service name.
//!
//! These tests need Node with `tests/node_modules` installed and a Secret Service (an unlocked
//! gnome-keyring in a private D-Bus session): `tests/run` (the README's test command) sets all of
//! that up.

#![allow(dead_code, clippy::unwrap_used)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Arc, Condvar, Mutex};

use latchkey_core::config::parse_connections;
use latchkey_core::http::Http;
use latchkey_core::vault::{SecretStore, system_store};
use latchkey_core::{Hooks, Latchkey, Options, StartReport};

pub const SCHEME: &str = "io.latchkey.desktop";

/// Turns on the test process and the session's keychain. Tests run in parallel threads of one
/// process; most share it ([`shared`]), but a test that restarts or locks the keychain, or reads
/// the process's own thread count and memory, needs it to itself ([`alone`]).
#[derive(Default)]
struct Turns {
    sharing: usize,
    alone: bool,
    waiting_alone: usize,
}

static TURNS: Mutex<Turns> = Mutex::new(Turns { sharing: 0, alone: false, waiting_alone: 0 });
static TURN_CHANGED: Condvar = Condvar::new();

thread_local! {
    /// Set on the thread of a test that is alone: what it starts shares its turn.
    static ALONE_HERE: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

fn turns() -> std::sync::MutexGuard<'static, Turns> {
    TURNS.lock().unwrap_or_else(|p| p.into_inner())
}

/// A turn beside other sharing tests; waits while a test is alone or waiting to be.
pub struct Shared(bool);

pub fn shared() -> Shared {
    if ALONE_HERE.get() {
        return Shared(false);
    }
    let mut t = turns();
    while t.alone || t.waiting_alone > 0 {
        t = TURN_CHANGED.wait(t).unwrap_or_else(|p| p.into_inner());
    }
    t.sharing += 1;
    Shared(true)
}

impl Drop for Shared {
    fn drop(&mut self) {
        if self.0 {
            turns().sharing -= 1;
            TURN_CHANGED.notify_all();
        }
    }
}

/// The process and the keychain to this test alone, once the sharing tests under way are done.
pub struct Alone(());

pub fn alone() -> Alone {
    let mut t = turns();
    t.waiting_alone += 1;
    while t.alone || t.sharing > 0 {
        t = TURN_CHANGED.wait(t).unwrap_or_else(|p| p.into_inner());
    }
    t.waiting_alone -= 1;
    t.alone = true;
    ALONE_HERE.set(true);
    Alone(())
}

impl Drop for Alone {
    fn drop(&mut self) {
        ALONE_HERE.set(false);
        turns().alone = false;
        TURN_CHANGED.notify_all();
    }
}

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().unwrap()
}

/// The running test provider; stopped when dropped (and by itself when our stdin pipe closes).
pub struct Provider {
    /// The test's turn: every test with a provider uses the keychain.
    _turn: Option<Shared>,
    /// The server process when this test started it (`None` when attached to another's).
    process: Option<(Child, ChildStdin)>,
    pub issuer: String,
    /// The throw-away CA, when started over TLS.
    pub ca_file: Option<PathBuf>,
    pub introspection_client: (String, String),
}

#[derive(serde::Deserialize)]
struct Ready {
    issuer: String,
    ca_file: Option<String>,
    introspection_client_id: String,
    introspection_client_secret: String,
}

impl Provider {
    /// Over TLS with a throw-away CA, as real providers are.
    pub fn start() -> Provider {
        Provider::start_with(true)
    }

    /// `tls: false` is the demo mode's set-up: plain http on 127.0.0.1. A provider that is not
    /// ready in 30 s is killed and started once more (a stuck start must not hang the suite).
    pub fn start_with(tls: bool) -> Provider {
        let mut turn = Some(shared());
        for attempt in 1..=2 {
            match Provider::try_start(tls) {
                Ok(mut p) => {
                    p._turn = turn.take();
                    return p;
                }
                Err(why) if attempt == 1 => {
                    eprintln!("the test provider did not start ({why}); trying again")
                }
                Err(why) => panic!("the test provider did not start: {why}"),
            }
        }
        unreachable!()
    }

    fn try_start(tls: bool) -> Result<Provider, String> {
        let root = repo_root();
        let mut child = Command::new("node")
            .arg(root.join("tests/provider/server.mjs"))
            .args(tls.then_some("--tls"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("cannot start node tests/provider/server.mjs ({e}): is Node installed and `npm ci` run in tests/?"))?;
        let stdin = child.stdin.take().unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let line = match rx.recv_timeout(std::time::Duration::from_secs(30)) {
            Ok(line) => line,
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err("no ready line in 30 s".into());
            }
        };
        let ready: Ready = match serde_json::from_str(&line) {
            Ok(r) => r,
            Err(e) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("ready line {line:?}: {e}"));
            }
        };
        Ok(Provider {
            _turn: None,
            process: Some((child, stdin)),
            issuer: ready.issuer,
            ca_file: ready.ca_file.map(PathBuf::from),
            introspection_client: (ready.introspection_client_id, ready.introspection_client_secret),
        })
    }

    /// A provider another process started (it stops with that process).
    pub fn attach(issuer: String, ca_file: Option<PathBuf>) -> Provider {
        Provider { _turn: None, process: None, issuer, ca_file, introspection_client: Default::default() }
    }

    /// An HTTP client for the test itself (introspection, controls), trusting the test CA.
    pub fn client(&self) -> reqwest::Client {
        let mut builder = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none());
        if let Some(ca) = &self.ca_file {
            builder = builder
                .add_root_certificate(reqwest::Certificate::from_pem(&std::fs::read(ca).unwrap()).unwrap());
        }
        builder.build().unwrap()
    }

    /// RFC 7662 introspection through the provider's real endpoint: is `token` active?
    pub async fn is_active(&self, token: &str) -> bool {
        let (id, secret) = &self.introspection_client;
        let response: serde_json::Value = self
            .client()
            .post(format!("{}/token/introspection", self.issuer))
            .basic_auth(id, Some(secret))
            .form(&[("token", token)])
            .send()
            .await
            .unwrap()
            .error_for_status()
            .unwrap()
            .json()
            .await
            .unwrap();
        response["active"].as_bool().unwrap()
    }

    /// POSTs a test control (`/__test/{path}`) with a JSON body.
    pub async fn control(&self, path: &str, body: serde_json::Value) {
        self.client()
            .post(format!("{}/__test/{path}", self.issuer))
            .json(&body)
            .send()
            .await
            .unwrap()
            .error_for_status()
            .unwrap();
    }

    /// Paths of the requests the provider served, oldest first.
    pub async fn request_paths(&self) -> Vec<String> {
        self.requests().await.iter().map(|r| r["path"].as_str().unwrap_or_default().to_owned()).collect()
    }

    /// The provider's log of the requests it served, oldest first (`GET /__test/requests`).
    pub async fn requests(&self) -> Vec<serde_json::Value> {
        self.client()
            .get(format!("{}/__test/requests", self.issuer))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }
}

impl Drop for Provider {
    fn drop(&mut self) {
        if let Some((child, _)) = &mut self.process {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// How the scripted user answers at the provider.
#[derive(Clone, Copy)]
pub enum Decision<'a> {
    Approve,
    Deny,
    Grant(&'a str),
    /// Approve, signed in as this user (the provider knows any name; the default is alice).
    As(&'a str),
}

/// Plays the user in a browser: follows `url` through sign-in and consent and returns the redirect
/// the browser would hand to the OS (the callback URL with code, state and iss).
pub fn browse(provider: &Provider, url: &str, decision: Decision<'_>) -> String {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("callback.txt");
    let handoff = dir.path().join("handoff.sh");
    std::fs::write(&handoff, format!("#!/bin/sh\nprintf '%s' \"$1\" > '{}'\n", out.display())).unwrap();
    make_executable(&handoff);
    let mut cmd = Command::new("node");
    cmd.arg(repo_root().join("tests/e2e/browser.mjs"))
        .arg(url)
        .env("LATCHKEY_TEST_HANDOFF", &handoff)
        .env_remove("LATCHKEY_TEST_GRANT")
        .env_remove("LATCHKEY_TEST_DECISION");
    if let Some(ca) = &provider.ca_file {
        cmd.env("NODE_EXTRA_CA_CERTS", ca);
    }
    match decision {
        Decision::Approve => {}
        Decision::Deny => {
            cmd.env("LATCHKEY_TEST_DECISION", "deny");
        }
        Decision::Grant(scopes) => {
            cmd.env("LATCHKEY_TEST_GRANT", scopes);
        }
        Decision::As(login) => {
            cmd.env("LATCHKEY_TEST_LOGIN", login);
        }
    }
    let status = cmd.status().unwrap();
    assert!(status.success(), "the scripted browser failed");
    std::fs::read_to_string(out).unwrap()
}

/// Plays the user for a sign-in whose redirect is the loopback listener: the scripted browser
/// follows `url` through sign-in and consent and then GETs the loopback callback itself.
pub fn browse_loopback(provider: &Provider, url: &str) {
    let mut cmd = Command::new("node");
    cmd.arg(repo_root().join("tests/e2e/browser.mjs"))
        .arg(url)
        .env_remove("LATCHKEY_TEST_DECISION")
        .env_remove("LATCHKEY_TEST_GRANT");
    if let Some(ca) = &provider.ca_file {
        cmd.env("NODE_EXTRA_CA_CERTS", ca);
    }
    assert!(cmd.status().unwrap().success(), "the scripted browser failed");
}

fn make_executable(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// A core over a throw-away data folder and a throw-away keychain namespace in the real keychain.
pub struct Harness {
    pub core: Latchkey,
    pub keychain: Arc<dyn SecretStore>,
    pub data_dir: tempfile::TempDir,
    pub spec: Spec,
}

/// What a core is opened on; a test may open it again (another process, a restart).
#[derive(Clone)]
pub struct Spec {
    pub data_dir: PathBuf,
    pub service: String,
    /// The OAuth connection "test" exists when the provider is given.
    pub issuer: Option<String>,
    pub ca_file: Option<PathBuf>,
    pub scopes: Vec<String>,
    /// The "test" connection's redirect strategy (`deep-link` unless a test says otherwise).
    pub redirect: &'static str,
}

/// Connections: "test" (OAuth, when there is a provider), "crm" (API key), "desk" (basic auth).
pub fn connections_toml(spec: &Spec) -> String {
    let mut text = String::from(
        "[[connection]]\nid = \"crm\"\nname = \"CRM\"\ntype = \"api-key\"\n\n\
         [[connection]]\nid = \"desk\"\nname = \"Help desk\"\ntype = \"basic-auth\"\n\n",
    );
    if let Some(issuer) = &spec.issuer {
        let scopes = spec.scopes.iter().map(|s| format!("{s:?}")).collect::<Vec<_>>().join(", ");
        text += &format!(
            "[[connection]]\nid = \"test\"\nname = \"Test provider\"\nissuer = \"{issuer}\"\nclient_id = \"latchkey\"\nscopes = [{scopes}]\nredirect = \"{}\"\napi_base = \"{issuer}\"\n",
            spec.redirect
        );
    }
    text
}

pub async fn open(spec: &Spec, hooks: Hooks) -> (Latchkey, StartReport, Arc<dyn SecretStore>) {
    open_on(spec, hooks, system_store(spec.service.clone())).await
}

/// As [`open`], over the given secret store (a `MemoryStore` for keychain fault injection).
pub async fn open_on(
    spec: &Spec,
    hooks: Hooks,
    keychain: Arc<dyn SecretStore>,
) -> (Latchkey, StartReport, Arc<dyn SecretStore>) {
    // Written from the spec at every open, as a user's hand edit between two starts would be.
    let file = spec.data_dir.join("connections.toml");
    std::fs::create_dir_all(&spec.data_dir).unwrap();
    std::fs::write(&file, connections_toml(spec)).unwrap();
    let (core, report) = Latchkey::open(Options {
        data_dir: spec.data_dir.clone(),
        connections: parse_connections(&std::fs::read_to_string(&file).unwrap()).unwrap(),
        connections_file: Some(file),
        secrets: keychain.clone(),
        redirect_scheme: SCHEME.into(),
        http: match &spec.ca_file {
            Some(ca) => Http::with_extra_root(&std::fs::read(ca).unwrap()).unwrap(),
            None => Http::new().unwrap(),
        },
        hooks,
    })
    .await
    .unwrap();
    (core, report, keychain)
}

pub fn spec(provider: Option<&Provider>, scopes: &[&str], data_dir: &Path) -> Spec {
    Spec {
        data_dir: data_dir.to_owned(),
        service: format!("latchkey-test-{}", uuid_like()),
        issuer: provider.map(|p| p.issuer.clone()),
        ca_file: provider.and_then(|p| p.ca_file.clone()),
        scopes: scopes.iter().map(|s| s.to_string()).collect(),
        redirect: "deep-link",
    }
}

pub async fn core(provider: &Provider, scopes: &[&str]) -> Harness {
    let data_dir = tempfile::tempdir().unwrap();
    let spec = spec(Some(provider), scopes, data_dir.path());
    let (core, _, keychain) = open(&spec, Hooks::default()).await;
    Harness { core, keychain, data_dir, spec }
}

/// The keychain entry `{account}/{which}` of the harness's namespace, if present.
pub fn entry(
    keychain: &Arc<dyn SecretStore>,
    account: &latchkey_core::model::AccountId,
    which: &str,
) -> Option<String> {
    keychain.get(&format!("{account}/{which}")).unwrap().map(|s| s.expose().to_owned())
}

fn uuid_like() -> String {
    format!(
        "{:x}{:x}",
        std::process::id(),
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos()
    )
}

/// Every file under `dir`, as bytes, for secret scans.
pub fn all_bytes_under(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                out.push((path.clone(), std::fs::read(&path).unwrap()));
            }
        }
    }
    out
}

pub fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle.as_bytes())
}

impl Provider {
    /// POSTs a test control and returns its JSON answer.
    pub async fn query(&self, path: &str, body: serde_json::Value) -> serde_json::Value {
        self.client()
            .post(format!("{}/__test/{path}", self.issuer))
            .json(&body)
            .send()
            .await
            .unwrap()
            .error_for_status()
            .unwrap()
            .json()
            .await
            .unwrap()
    }
}
