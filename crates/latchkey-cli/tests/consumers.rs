//! The programs a person runs taking tokens from Latchkey, for real: a child under `latchkey exec`
//! calling the test provider with curl, git's `credential fill` / `reject` through the helper, the
//! SASL forms, and API-key accounts entered from the command line.

mod common;
#[path = "../../latchkey-core/tests/it/support/mod.rs"]
mod support;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{ALICE, Env, Setup, all_command_lines, base64_decode};
use serde_json::Value;
use support::{Provider, contains};

fn wait_for(path: &Path) {
    let start = Instant::now();
    while !path.exists() {
        assert!(start.elapsed() < Duration::from_secs(20), "{} never appeared", path.display());
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a desktop session: tests/with-session cargo test -- --include-ignored"]
async fn exec_puts_the_token_in_the_environment_only_and_passes_the_status_on() {
    let provider = Provider::start();
    let env = Env::with(&provider, Setup::git_example());
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
    assert!(lines.iter().any(|(_, l)| contains(l, "latchkey")), "the scan sees latchkey itself");
    let leaks: Vec<&String> = lines.iter().filter(|(_, l)| contains(l, &token)).map(|(p, _)| p).collect();
    assert!(leaks.is_empty(), "the token is on the command line of pids {leaks:?}");
    let in_environ = lines.iter().any(|(pid, _)| {
        std::fs::read(format!("/proc/{pid}/environ")).is_ok_and(|e| contains(&e, &format!("TOKEN={token}\0")))
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
    let env = Env::with(&provider, Setup::git_example());
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
    let env = Env::with(&provider, Setup::git_example());
    env.connect_alice(&provider);
    let request = "protocol=https\nhost=git.example.test\npath=team/repo.git\n\n";
    let out = env.run(env.git(&["credential", "fill"]), request, 0);
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
    env.run(env.git(&["credential", "reject"]), &rejected, 0);
    let refreshed: Vec<Value> = env
        .audit(ALICE)
        .into_iter()
        .filter(|e| e["action"] == "token.refreshed" && e["actor"] == "cli")
        .collect();
    assert_eq!(refreshed.len(), 1, "{refreshed:?}");
    assert_ne!(env.expect(&["token", ALICE], 0).trim(), token, "the next hand-out is a new token");
    assert_eq!(env.shown(ALICE)["status"], "active");
    let reads =
        env.audit(ALICE).into_iter().filter(|e| e["action"] == "token.read" && e["outcome"] == "ok").count();
    assert!(reads >= 4, "every hand-out to git is audited: {reads}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a desktop session: tests/with-session cargo test -- --include-ignored"]
async fn token_formats_and_api_key_accounts_from_the_command_line() {
    let provider = Provider::start();
    let env = Env::with(&provider, Setup::git_example());
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
