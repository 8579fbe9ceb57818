//! The environment every CLI integration test runs `latchkey` in: a throw-away folder, the core
//! harness's connections (the test provider as "test", over loopback), a keychain namespace of
//! its own and the provider's CA, plus the helpers the tests share. Each test file is its own
//! crate and uses part of this.
#![allow(dead_code)]

use std::cell::{Ref, RefCell};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;

use crate::support::{self, Provider, Spec};

/// The account the test provider signs in by default.
pub const ALICE: &str = "test:alice@example.test";

/// What differs between the test files' environments.
pub struct Setup<'a> {
    pub scopes: &'a [&'a str],
    /// TOML lines added to the "test" connection (`git_hosts = [...]`, ...).
    pub test_lines: &'a str,
    /// TOML appended after the connections.
    pub extra: &'a str,
    /// Leave out the harness's "crm" and "desk" connections.
    pub only_test: bool,
}

impl Default for Setup<'_> {
    fn default() -> Self {
        Setup { scopes: &["openid", "email", "profile"], test_lines: "", extra: "", only_test: false }
    }
}

impl Setup<'_> {
    /// The test provider's connection serving git for `git.example.test`.
    pub fn git_example() -> Setup<'static> {
        Setup { test_lines: "git_hosts = [\"git.example.test\"]\n", ..Setup::default() }
    }
}

pub struct Env {
    pub dir: tempfile::TempDir,
    pub spec: Spec,
    pub data: PathBuf,
    pub connections: PathBuf,
    pub service: String,
    /// What `SSL_CERT_FILE` points at: the provider's CA (and whatever a test adds).
    pub ca: PathBuf,
    /// The provider's issuer, without a trailing slash.
    pub issuer: String,
    /// Everything the CLI printed through [`Env::run`], to scan for tokens.
    seen: RefCell<Vec<u8>>,
}

impl Env {
    pub fn new(provider: &Provider) -> Env {
        Env::with(provider, Setup::default())
    }

    pub fn with(provider: &Provider, setup: Setup) -> Env {
        let dir = tempfile::tempdir().expect("tmp");
        let mut spec = support::spec(Some(provider), setup.scopes, &dir.path().join("data"));
        spec.redirect = "loopback";
        let mut text = support::connections_toml(&spec);
        const TEST: &str = "[[connection]]\nid = \"test\"\n";
        if setup.only_test {
            text = text[text.find(TEST).expect("the test connection")..].to_owned();
        }
        if !setup.test_lines.is_empty() {
            text = text.replace(TEST, &format!("{TEST}{}", setup.test_lines));
            assert!(text.contains(setup.test_lines), "{text}");
        }
        let connections = dir.path().join("connections.toml");
        std::fs::write(&connections, text + setup.extra).expect("write");
        Env {
            data: spec.data_dir.clone(),
            service: spec.service.clone(),
            spec,
            connections,
            ca: provider.ca_file.clone().expect("tls"),
            issuer: provider.issuer.trim_end_matches('/').to_owned(),
            dir,
            seen: RefCell::default(),
        }
    }

    /// The variables that point `latchkey` at this environment.
    pub fn vars(&self) -> Vec<(&'static str, String)> {
        vec![
            ("LATCHKEY_DATA_DIR", self.data.display().to_string()),
            ("LATCHKEY_CONNECTIONS", self.connections.display().to_string()),
            ("LATCHKEY_KEYCHAIN_SERVICE", self.service.clone()),
            ("SSL_CERT_FILE", self.ca.display().to_string()),
        ]
    }

    pub fn profile(&self, c: &mut Command) {
        c.envs(self.vars());
    }

    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = latchkey(args);
        self.profile(&mut c);
        c
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// `latchkey ARGS` with nothing on standard input, whatever its exit status.
    pub fn output(&self, args: &[&str]) -> Output {
        self.cmd(args).stdin(Stdio::null()).output().expect("run latchkey")
    }

    /// Runs `c` with `input` on standard input, expects `code`; returns the output, which is
    /// also kept for [`Env::seen`].
    pub fn run(&self, c: Command, input: &str, code: i32) -> Output {
        let shown = format!("{c:?}");
        let out = output(c, input);
        let mut seen = self.seen.borrow_mut();
        seen.extend_from_slice(&out.stdout);
        seen.extend_from_slice(&out.stderr);
        assert_eq!(out.status.code(), Some(code), "{shown}\n{}", text(&out));
        out
    }

    /// `latchkey ARGS` with `input`, expecting `code`; a failure (other than a usage error) says
    /// why in one `latchkey:` line on stderr.
    pub fn latchkey(&self, args: &[&str], input: &str, code: i32) -> Output {
        let out = self.run(self.cmd(args), input, code);
        let stderr = String::from_utf8_lossy(&out.stderr);
        if code != 0 && code != 2 {
            assert!(stderr.starts_with("latchkey: ") && stderr.lines().count() == 1, "one line: {stderr}");
        }
        out
    }

    /// As [`Env::latchkey`]; returns stdout.
    pub fn expect_with_input(&self, args: &[&str], input: &str, code: i32) -> String {
        String::from_utf8(self.latchkey(args, input, code).stdout).expect("utf-8")
    }

    pub fn expect(&self, args: &[&str], code: i32) -> String {
        self.expect_with_input(args, "", code)
    }

    /// `latchkey ARGS`, which must succeed; its stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        self.expect(args, 0)
    }

    pub fn json(&self, args: &[&str]) -> Value {
        serde_json::from_str(&self.ok(args)).expect("json")
    }

    /// A refusal: exit 4, nothing on stdout, one `latchkey:` line on stderr; returns that line.
    pub fn refused(&self, args: &[&str], input: &str) -> String {
        let out = self.latchkey(args, input, 4);
        assert!(out.stdout.is_empty(), "nothing on stdout: {}", String::from_utf8_lossy(&out.stdout));
        String::from_utf8(out.stderr).expect("utf-8")
    }

    /// Everything the CLI printed through [`Env::run`] since the last [`Env::forget_seen`].
    pub fn seen(&self) -> Ref<'_, Vec<u8>> {
        self.seen.borrow()
    }

    pub fn forget_seen(&self) {
        self.seen.borrow_mut().clear();
    }

    /// `latchkey connect CONNECTION --no-browser --json` (as `identifier`, if given), driven by
    /// the scripted browser; the account it printed.
    pub fn connect_to(&self, connection: &str, provider: &Provider, identifier: Option<&str>) -> Value {
        let mut args = vec!["connect", connection, "--no-browser", "--json"];
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

    /// Connects alice to "test"; her account id.
    pub fn connect_alice(&self, provider: &Provider) -> String {
        let account = self.connect_to("test", provider, None);
        assert_eq!(account["ref"], ALICE);
        account["id"].as_str().expect("id").to_owned()
    }

    /// git with the README's helper line for the test host, prompting disabled.
    pub fn git(&self, args: &[&str]) -> Command {
        let bin_dir = Path::new(env!("CARGO_BIN_EXE_latchkey")).parent().expect("dir").to_owned();
        let path = format!("{}:{}", bin_dir.display(), std::env::var("PATH").unwrap_or_default());
        let mut c = Command::new("git");
        c.args([
            "-c",
            "credential.helper=",
            "-c",
            "credential.https://git.example.test.helper=!latchkey git-credential",
        ])
        .args(args)
        .env("PATH", &path)
        .env("HOME", self.dir.path())
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_TERMINAL_PROMPT", "0");
        self.profile(&mut c);
        c
    }

    pub fn shown(&self, reference: &str) -> Value {
        self.json(&["accounts", "show", reference, "--json"])
    }

    pub fn audit(&self, reference: &str) -> Vec<Value> {
        self.ok(&["audit", "--account", reference, "--json"])
            .lines()
            .map(|l| serde_json::from_str(l).expect("json line"))
            .collect()
    }

    pub fn accounts(&self) -> Vec<Value> {
        self.json(&["accounts", "list", "--json"]).as_array().expect("array").clone()
    }

    pub fn grants(&self) -> Vec<Value> {
        self.json(&["grants", "list", "--json"]).as_array().cloned().expect("array")
    }

    /// The account's access and refresh tokens as the keychain holds them now.
    pub fn tokens(&self, id: &str) -> Vec<String> {
        let keychain = latchkey_core::vault::system_store(self.service.clone());
        ["access", "refresh"]
            .iter()
            .filter_map(|w| {
                keychain.get(&format!("{id}/{w}")).expect("keychain").map(|s| s.expose().to_owned())
            })
            .filter(|t| t.len() >= 8)
            .collect()
    }
}

/// The `latchkey` binary under test, with `args`.
pub fn latchkey(args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_latchkey"));
    c.args(args);
    c
}

/// Runs `c` with `input` on standard input, whatever its exit status.
pub fn output(mut c: Command, input: &str) -> Output {
    let mut child =
        c.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("spawn");
    child.stdin.take().expect("stdin").write_all(input.as_bytes()).expect("write");
    child.wait_with_output().expect("wait")
}

/// Decodes standard base64 with coreutils, as a person checking it would.
pub fn base64_decode(text: &str) -> Vec<u8> {
    let mut child = Command::new("base64")
        .arg("-d")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("base64");
    child.stdin.take().expect("stdin").write_all(text.as_bytes()).expect("write");
    let out = child.wait_with_output().expect("wait");
    assert!(out.status.success());
    out.stdout
}

/// A finished program's output, for failure messages.
pub fn text(out: &Output) -> String {
    format!(
        "stdout: {}\nstderr: {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Every process's command line (by pid), as any local user can read it.
pub fn all_command_lines() -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").expect("/proc").flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.bytes().all(|b| b.is_ascii_digit())
            && let Ok(cmdline) = std::fs::read(entry.path().join("cmdline"))
        {
            out.push((name, cmdline));
        }
    }
    out
}
