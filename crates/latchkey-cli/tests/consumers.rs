//! The programs a person runs taking tokens from Latchkey, for real: a child under `latchkey exec`
//! calling the test provider with curl, git's `credential fill` / `reject` through the helper, the
//! SASL forms, and API-key accounts entered from the command line.

#[path = "../../latchkey-core/tests/it/support/mod.rs"]
mod support;

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use support::Provider;

const ALICE: &str = "test:alice@example.test";

struct Env {
    dir: tempfile::TempDir,
    data: PathBuf,
    connections: PathBuf,
    service: String,
    ca: PathBuf,
    issuer: String,
}

impl Env {
    /// The support module's connections, the test provider's serving git for `git.example.test`.
    fn new(provider: &Provider) -> Env {
        let dir = tempfile::tempdir().expect("tmp");
        let mut spec =
            support::spec(Some(provider), &["openid", "email", "profile"], &dir.path().join("data"));
        spec.redirect = "loopback";
        let connections = dir.path().join("connections.toml");
        let text = support::connections_toml(&spec)
            .replace("id = \"test\"\n", "id = \"test\"\ngit_hosts = [\"git.example.test\"]\n");
        assert!(text.contains("git_hosts"), "{text}");
        std::fs::write(&connections, text).expect("write");
        Env {
            data: spec.data_dir.clone(),
            connections,
            service: spec.service,
            ca: provider.ca_file.clone().expect("tls"),
            issuer: provider.issuer.trim_end_matches('/').to_owned(),
            dir,
        }
    }

    fn profile(&self, c: &mut Command) {
        c.env("LATCHKEY_DATA_DIR", &self.data)
            .env("LATCHKEY_CONNECTIONS", &self.connections)
            .env("LATCHKEY_KEYCHAIN_SERVICE", &self.service)
            .env("SSL_CERT_FILE", &self.ca);
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_latchkey"));
        c.args(args);
        self.profile(&mut c);
        c
    }

    /// Runs with `input` on standard input (none: empty), expects `code`; returns the output.
    fn run(&self, mut c: Command, input: &str, code: i32) -> Output {
        let mut child =
            c.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("spawn");
        child.stdin.take().expect("stdin").write_all(input.as_bytes()).expect("write");
        let out = child.wait_with_output().expect("wait");
        assert_eq!(
            out.status.code(),
            Some(code),
            "{c:?}\nstdout: {}\nstderr: {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    /// `latchkey ARGS`, expecting `code`; on a failure, one line on stderr. Returns stdout.
    fn expect(&self, args: &[&str], code: i32) -> String {
        self.expect_with_input(args, "", code)
    }

    fn expect_with_input(&self, args: &[&str], input: &str, code: i32) -> String {
        let out = self.run(self.cmd(args), input, code);
        let stderr = String::from_utf8_lossy(&out.stderr);
        if code != 0 && code != 2 {
            assert!(stderr.starts_with("latchkey: ") && stderr.lines().count() == 1, "one line: {stderr}");
        }
        String::from_utf8(out.stdout).expect("utf-8")
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// `latchkey connect test` as alice, driven by the scripted browser.
    fn connect_alice(&self, provider: &Provider) {
        let mut child = self
            .cmd(&["connect", "test", "--no-browser", "--json"])
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawn");
        let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
        let first: Value = serde_json::from_str(&lines.next().expect("line").expect("read")).expect("json");
        support::browse_loopback(provider, first["authorization_url"].as_str().expect("url"));
        let account: Value =
            serde_json::from_str(&lines.next().expect("account").expect("read")).expect("json");
        assert_eq!(account["ref"], ALICE);
        assert!(child.wait().expect("wait").success());
    }

    fn audit(&self, reference: &str) -> Vec<Value> {
        self.expect(&["audit", "--account", reference, "--json"], 0)
            .lines()
            .map(|l| serde_json::from_str(l).expect("json line"))
            .collect()
    }
}

fn wait_for(path: &Path) {
    let start = Instant::now();
    while !path.exists() {
        assert!(start.elapsed() < Duration::from_secs(20), "{} never appeared", path.display());
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Every process's command line, as any local user can read it.
fn all_command_lines() -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").expect("/proc") {
        let Ok(entry) = entry else { continue };
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.bytes().all(|b| b.is_ascii_digit())
            && let Ok(cmdline) = std::fs::read(entry.path().join("cmdline"))
        {
            out.push((name, cmdline));
        }
    }
    out
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a desktop session: tests/with-session cargo test -- --include-ignored"]
async fn exec_puts_the_token_in_the_environment_only_and_passes_the_status_on() {
    let provider = Provider::start();
    let env = Env::new(&provider);
    env.connect_alice(&provider);
    let (token_file, me_file, go) = (env.path("token"), env.path("me.json"), env.path("go"));

    // The child calls the provider's userinfo with $TOKEN, then waits until told to end with 7.
    let script = r#"printf %s "$TOKEN" > "$1.tmp" && mv "$1.tmp" "$1"
curl -sSf --cacert "$CA" -H "Authorization: Bearer $TOKEN" "$ISSUER/me" > "$2.tmp" && mv "$2.tmp" "$2"
while [ ! -e "$3" ]; do sleep 0.05; done
exit 7"#;
    let mut c = env.cmd(&["exec", "--env", &format!("TOKEN={ALICE}"), "--", "sh", "-c", script, "sh"]);
    c.args([&token_file, &me_file, &go]).env("CA", &env.ca).env("ISSUER", &env.issuer);
    let child = c.stderr(Stdio::piped()).spawn().expect("spawn");
    wait_for(&token_file);
    wait_for(&me_file);
    let token = std::fs::read_to_string(&token_file).expect("token");
    assert!(token.len() >= 16, "a token: {} bytes", token.len());
    assert!(provider.is_active(&token).await, "a live token");
    let me: Value = serde_json::from_str(&std::fs::read_to_string(&me_file).expect("me")).expect("json");
    assert_eq!(me["sub"], "alice");
    assert_eq!(me["email"], "alice@example.test");

    // While the child runs: the token is in no process's command line, yet in the child's environment.
    let lines = all_command_lines();
    assert!(lines.iter().any(|(_, l)| contains(l, b"latchkey")), "the scan sees latchkey itself");
    let leaks: Vec<&String> =
        lines.iter().filter(|(_, l)| contains(l, token.as_bytes())).map(|(p, _)| p).collect();
    assert!(leaks.is_empty(), "the token is on the command line of pids {leaks:?}");
    let in_environ = lines.iter().any(|(pid, _)| {
        std::fs::read(format!("/proc/{pid}/environ"))
            .is_ok_and(|e| contains(&e, format!("TOKEN={token}\0").as_bytes()))
    });
    assert!(in_environ, "the child's environment holds it");

    std::fs::write(&go, "").expect("go");
    let out = child.wait_with_output().expect("wait");
    assert_eq!(out.status.code(), Some(7), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.stderr.is_empty(), "{}", String::from_utf8_lossy(&out.stderr));

    env.expect(&["exec", "--env", &format!("TOKEN={ALICE}"), "--", "true"], 0);
    // A child killed by a signal: 128 + its number, as a shell reports it, and nothing said.
    let killed = env.cmd(&["exec", "--env", &format!("TOKEN={ALICE}"), "--", "sh", "-c", "kill -TERM $$"]);
    assert!(env.run(killed, "", 128 + 15).stderr.is_empty());
    let reads = env.audit(ALICE).into_iter().filter(|e| e["action"] == "token.read").count();
    assert!(reads >= 3, "every exec's hand-out is audited: {reads}");

    // A termination signal reaches the child, whose status ends latchkey.
    let ready = env.path("ready");
    let script = r#"trap 'exit 9' TERM; : > "$1"; while :; do sleep 0.05; done"#;
    let mut c = env.cmd(&["exec", "--env", &format!("T={ALICE}"), "--", "sh", "-c", script, "sh"]);
    let mut child = c.arg(&ready).spawn().expect("spawn");
    wait_for(&ready);
    let killed = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().expect("kill");
    assert!(killed.success());
    assert_eq!(child.wait().expect("wait").code(), Some(9), "the child's trap ran and its status came back");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a desktop session: tests/with-session cargo test -- --include-ignored"]
async fn exec_stops_before_the_command_when_the_account_needs_the_user() {
    let provider = Provider::start();
    let env = Env::new(&provider);
    env.connect_alice(&provider);
    let marker = env.path("ran");
    let touch = format!("touch '{}'", marker.display());
    env.expect(&["suspend", ALICE], 0);
    env.expect(&["exec", "--env", &format!("TOKEN={ALICE}"), "--", "sh", "-c", &touch], 4);
    assert!(!marker.exists(), "the command never ran");
    env.expect(&["resume", ALICE], 0);
    env.expect(&["exec", "--env", "TOKEN=test:nobody", "--", "sh", "-c", &touch], 3);
    let alice = format!("TOKEN={ALICE}");
    for bad in [
        vec!["exec", "--env", &alice],
        vec!["exec", "--env", "1TOKEN=test:alice@example.test", "--", "sh", "-c", &touch],
        vec!["exec", "--env", "TO-KEN=test:alice@example.test", "--", "sh", "-c", &touch],
        vec!["exec", "--env", "TOKEN", "--", "sh", "-c", &touch],
        vec!["exec", "--", "sh", "-c", &touch],
    ] {
        env.expect(&bad, 2);
    }
    assert!(!marker.exists(), "the command never ran");
    env.expect(&["exec", "--env", &format!("TOKEN={ALICE}"), "--", "sh", "-c", &touch], 0);
    assert!(marker.exists(), "with the account Active it runs");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a desktop session: tests/with-session cargo test -- --include-ignored"]
async fn git_takes_its_password_from_the_helper_and_reject_forces_a_refresh() {
    let provider = Provider::start();
    let env = Env::new(&provider);
    env.connect_alice(&provider);
    let bin_dir = Path::new(env!("CARGO_BIN_EXE_latchkey")).parent().expect("dir").to_owned();
    let path = format!("{}:{}", bin_dir.display(), std::env::var("PATH").unwrap_or_default());
    let git = |args: &[&str]| {
        let mut c = Command::new("git");
        // The README's helper line, for this host.
        c.args([
            "-c",
            "credential.helper=",
            "-c",
            "credential.https://git.example.test.helper=!latchkey git-credential",
        ])
        .args(args)
        .env("PATH", &path)
        .env("HOME", env.dir.path())
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_TERMINAL_PROMPT", "0");
        env.profile(&mut c);
        c
    };
    let request = "protocol=https\nhost=git.example.test\npath=team/repo.git\n\n";
    let out = env.run(git(&["credential", "fill"]), request, 0);
    let answer = String::from_utf8(out.stdout).expect("utf-8");
    let token = env.expect(&["token", ALICE], 0).trim().to_owned();
    assert!(answer.lines().any(|l| l == format!("password={token}")), "{answer}");
    assert!(answer.lines().any(|l| l == "username=alice@example.test"), "{answer}");
    assert!(answer.lines().any(|l| l == "host=git.example.test"), "{answer}");

    // The helper alone: a host no connection serves gets no answer (exit 0, nothing said).
    let out = env.run(env.cmd(&["git-credential", "get"]), "protocol=https\nhost=elsewhere.test\n\n", 0);
    assert!(out.stdout.is_empty() && out.stderr.is_empty());
    env.expect_with_input(&["git-credential", "store"], "protocol=https\nhost=git.example.test\n\n", 0);
    let named = env.expect_with_input(
        &["git-credential", "--account", ALICE, "get"],
        "protocol=https\nhost=x\n\n",
        0,
    );
    assert!(named.contains("password="), "--account answers for any host");

    // A refused credential: git says erase; the account refreshes (audited), never goes away.
    let rejected =
        format!("protocol=https\nhost=git.example.test\nusername=alice@example.test\npassword={token}\n\n");
    env.run(git(&["credential", "reject"]), &rejected, 0);
    let refreshed: Vec<Value> = env
        .audit(ALICE)
        .into_iter()
        .filter(|e| e["action"] == "token.refreshed" && e["actor"] == "cli")
        .collect();
    assert_eq!(refreshed.len(), 1, "{refreshed:?}");
    assert_ne!(env.expect(&["token", ALICE], 0).trim(), token, "the next hand-out is a new token");
    assert_eq!(env.json_status(ALICE), "active");
    let reads =
        env.audit(ALICE).into_iter().filter(|e| e["action"] == "token.read" && e["outcome"] == "ok").count();
    assert!(reads >= 4, "every hand-out to git is audited: {reads}");
}

impl Env {
    fn json_status(&self, reference: &str) -> String {
        let shown: Value =
            serde_json::from_str(&self.expect(&["accounts", "show", reference, "--json"], 0)).expect("json");
        shown["status"].as_str().expect("status").to_owned()
    }
}

/// Decodes standard base64 with coreutils, as a person checking it would.
fn base64_decode(text: &str) -> Vec<u8> {
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a desktop session: tests/with-session cargo test -- --include-ignored"]
async fn token_formats_and_api_key_accounts_from_the_command_line() {
    let provider = Provider::start();
    let env = Env::new(&provider);
    env.connect_alice(&provider);
    let token = env.expect(&["token", ALICE], 0).trim().to_owned();
    let xoauth2 = env.expect(&["token", ALICE, "--format", "xoauth2"], 0);
    assert_eq!(
        base64_decode(xoauth2.trim()),
        format!("user=alice@example.test\x01auth=Bearer {token}\x01\x01").into_bytes()
    );
    let bearer = env.expect(&["token", ALICE, "--format", "oauthbearer"], 0);
    assert_eq!(
        base64_decode(bearer.trim()),
        format!("n,a=alice@example.test,\x01auth=Bearer {token}\x01\x01").into_bytes()
    );
    let a: Value = serde_json::from_str(&env.expect(&["token", ALICE, "--format", "json"], 0)).expect("json");
    let b: Value = serde_json::from_str(&env.expect(&["token", ALICE, "--json"], 0)).expect("json");
    assert_eq!(a, b);
    assert_eq!(a["access_token"], token.as_str());
    env.expect(&["token", ALICE, "--json", "--format", "raw"], 2);
    env.expect(&["token", ALICE, "--format", "sasl"], 2);

    // An API key from standard input; the same command again replaces it.
    let added = env.expect_with_input(&["accounts", "add", "crm:ci", "--secret-stdin"], "key-one\n", 0);
    assert!(added.contains("crm:ci"), "{added}");
    assert_eq!(env.expect(&["token", "crm:ci"], 0), "key-one\n");
    env.expect_with_input(&["accounts", "add", "crm:ci", "--secret-stdin"], "key-two\n", 0);
    assert_eq!(env.expect(&["token", "crm:ci"], 0), "key-two\n");
    let out = env.expect(&["exec", "--env", "KEY=crm:ci", "--", "sh", "-c", "printf %s \"$KEY\""], 0);
    assert_eq!(out, "key-two");
    let trail = env.audit("crm:ci");
    assert!(trail.iter().any(|e| e["action"] == "credential.rotated"), "{trail:?}");
    assert!(trail.iter().filter(|e| e["action"] == "token.read").count() >= 3, "{trail:?}");
    env.expect(&["token", "crm:ci", "--scope", "x"], 2);

    // Basic auth needs a username; its password is not handed out as a token.
    env.expect_with_input(&["accounts", "add", "desk:bob", "--secret-stdin"], "pw\n", 2);
    env.expect_with_input(&["accounts", "add", "desk:bob", "--secret-stdin", "--username", "bob"], "pw\n", 0);
    env.expect(&["token", "desk:bob"], 1);
    env.expect(&["exec", "--env", "P=desk:bob", "--", "true"], 1);
    // Without --secret-stdin, with an empty secret, or on an OAuth connection: refused.
    env.expect(&["accounts", "add", "crm:other"], 2);
    env.expect_with_input(&["accounts", "add", "crm:other", "--secret-stdin"], "\n", 1);
    env.expect_with_input(&["accounts", "add", "test:someone", "--secret-stdin"], "k\n", 1);
    env.expect(&["accounts", "show", "crm:other"], 3);
}
