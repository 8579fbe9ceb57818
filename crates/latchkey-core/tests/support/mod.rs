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
use std::sync::Arc;

use latchkey_core::config::parse_connections;
use latchkey_core::http::Http;
use latchkey_core::vault::{KeyringStore, SecretStore};
use latchkey_core::{Latchkey, Options};

pub const SCHEME: &str = "io.latchkey.desktop";

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().unwrap()
}

/// The running test provider; stopped when dropped (and by itself when our stdin pipe closes).
pub struct Provider {
    child: Child,
    _stdin: ChildStdin,
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

    /// `tls: false` is the demo mode's set-up: plain http on 127.0.0.1.
    pub fn start_with(tls: bool) -> Provider {
        let root = repo_root();
        let mut child = Command::new("node")
            .arg(root.join("tests/provider/server.mjs"))
            .args(tls.then_some("--tls"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect(
                "cannot start node tests/provider/server.mjs: is Node installed and `npm ci` run in tests/?",
            );
        let stdin = child.stdin.take().unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let ready: Ready =
            serde_json::from_str(&line).unwrap_or_else(|e| panic!("provider ready line {line:?}: {e}"));
        Provider {
            child,
            _stdin: stdin,
            issuer: ready.issuer,
            ca_file: ready.ca_file.map(PathBuf::from),
            introspection_client: (ready.introspection_client_id, ready.introspection_client_secret),
        }
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

    /// Paths of the requests the provider served, oldest first.
    pub async fn request_paths(&self) -> Vec<String> {
        let log: Vec<serde_json::Value> = self
            .client()
            .get(format!("{}/__test/requests", self.issuer))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        log.iter().map(|r| r["path"].as_str().unwrap_or_default().to_owned()).collect()
    }
}

impl Drop for Provider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// How the scripted user answers at the provider.
#[derive(Clone, Copy)]
pub enum Decision<'a> {
    Approve,
    Deny,
    Grant(&'a str),
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
    }
    let status = cmd.status().unwrap();
    assert!(status.success(), "the scripted browser failed");
    std::fs::read_to_string(out).unwrap()
}

fn make_executable(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// A core over a throw-away data folder and a throw-away keychain namespace in the real keychain.
pub struct Harness {
    pub core: Latchkey,
    pub keychain: Arc<KeyringStore>,
    pub data_dir: tempfile::TempDir,
}

pub async fn core(provider: &Provider, scopes: &[&str]) -> Harness {
    core_with(provider, scopes, tempfile::tempdir().unwrap(), Default::default()).await
}

/// A core over `data_dir` (which a test may reopen), with `hooks`.
pub async fn core_with(
    provider: &Provider,
    scopes: &[&str],
    data_dir: tempfile::TempDir,
    hooks: latchkey_core::Hooks,
) -> Harness {
    let service = format!("latchkey-test-{}", uuid_like());
    let keychain = Arc::new(KeyringStore::new(service));
    let scopes = scopes.iter().map(|s| format!("{s:?}")).collect::<Vec<_>>().join(", ");
    let connections = parse_connections(&format!(
        "[[connection]]\nid = \"test\"\nname = \"Test provider\"\nissuer = \"{}\"\nclient_id = \"latchkey\"\nscopes = [{scopes}]\n",
        provider.issuer
    ))
    .unwrap();
    let (core, _) = Latchkey::open(Options {
        data_dir: data_dir.path().to_owned(),
        connections,
        secrets: keychain.clone() as Arc<dyn SecretStore>,
        redirect_scheme: SCHEME.into(),
        http: match &provider.ca_file {
            Some(ca) => Http::with_extra_root(&std::fs::read(ca).unwrap()).unwrap(),
            None => Http::new().unwrap(),
        },
        hooks,
    })
    .await
    .unwrap();
    Harness { core, keychain, data_dir }
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
