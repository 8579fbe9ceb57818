//! `latchkey connect --device` as a user runs it over SSH: the real binary, the real test provider
//! over TLS (its device flow, its test controls approving or denying the code), the real keychain.

mod common;
#[path = "../../latchkey-core/tests/it/support/mod.rs"]
mod support;

use std::io::{BufRead, BufReader, Lines};
use std::process::{Child, ChildStdout, Command, Stdio};

use common::{Env, Setup};
use serde_json::{Value, json};
use support::Provider;

const SCOPES: &[&str] = &["openid", "email", "profile"];

/// Starts `connect ARGS`, with its stdout read line by line and its stderr collected.
fn spawn(env: &Env, args: &[&str]) -> (Child, Lines<BufReader<ChildStdout>>) {
    let mut child = env.cmd(args).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("spawn");
    let lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    (child, lines)
}

/// The rest of a child's output: (its exit code, the stdout lines not read yet, its stderr).
fn finish(child: Child, lines: Lines<BufReader<ChildStdout>>) -> (Option<i32>, String, String) {
    let rest: Vec<String> = lines.map(|l| l.expect("read")).collect();
    let out = child.wait_with_output().expect("wait");
    (out.status.code(), rest.join("\n"), String::from_utf8_lossy(&out.stderr).into_owned())
}

fn next(lines: &mut Lines<BufReader<ChildStdout>>) -> String {
    lines.next().expect("a line").expect("read")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a desktop session: tests/with-session cargo test -- --include-ignored"]
async fn connect_device_json_prints_the_code_first_then_the_active_account() {
    let provider = Provider::start();
    provider.control("device/interval", json!({"seconds": 1})).await;
    let env = Env::new(&provider);

    let (child, mut lines) = spawn(&env, &["connect", "test", "--device", "--json"]);
    let first_line = next(&mut lines);
    let first: Value = serde_json::from_str(&first_line).expect("the first line is JSON");
    let keys: Vec<&String> = first.as_object().expect("object").keys().collect();
    assert_eq!(keys.len(), 4, "{first_line}");
    assert!(
        first_line.starts_with("{\"verification_uri\":")
            && first_line.find("\"verification_uri_complete\":") < first_line.find("\"user_code\":")
            && first_line.find("\"user_code\":") < first_line.find("\"expires_in\":"),
        "the documented order: {first_line}"
    );
    assert_eq!(first["verification_uri"], format!("{}/device", provider.issuer));
    let code = first["user_code"].as_str().expect("user_code").to_owned();
    assert!(first["verification_uri_complete"].as_str().is_some_and(|u| u.contains("user_code=")));
    assert!(first["expires_in"].as_u64().is_some_and(|s| s > 500 && s <= 600), "{first}");

    provider.control("device/approve", json!({"user_code": code})).await;
    let account: Value = serde_json::from_str(&next(&mut lines)).expect("the account line");
    let (status, rest, stderr) = finish(child, lines);
    assert_eq!(status, Some(0), "{stderr}");
    assert!(rest.is_empty(), "two lines only: {rest}");
    assert_eq!(account["ref"], "test:alice@example.test");
    assert_eq!(account["status"], "active");
    assert_eq!(account["granted_scopes"], json!(SCOPES));
    assert_eq!(account["identity"]["email"], "alice@example.test");

    // The tokens are in the keychain (handed out from there) and nowhere else.
    let token = env.output(&["token", "test:alice@example.test"]);
    assert!(token.status.success());
    let token = String::from_utf8(token.stdout).expect("utf-8").trim().to_owned();
    assert!(provider.is_active(&token).await);
    let audit = env.output(&["audit", "--json"]);
    let audit = String::from_utf8_lossy(&audit.stdout).into_owned();
    assert!(audit.contains("\"device code redeemed\""), "{audit}");
    for (what, text) in [("stdout", first_line.as_str()), ("stderr", &stderr), ("audit", &audit)] {
        assert!(!text.contains(&token), "the token leaked into {what}");
    }
    for (path, bytes) in support::all_bytes_under(&env.data) {
        assert!(!support::contains(&bytes, &token), "the token leaked into {}", path.display());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a desktop session: tests/with-session cargo test -- --include-ignored"]
async fn denied_expired_and_interrupted_device_sign_ins_exit_with_the_reason_and_leave_nothing() {
    let provider = Provider::start();
    provider.control("device/interval", json!({"seconds": 1})).await;
    let env = Env::new(&provider);

    // Human output: where to go, the code, the address with the code in it.
    let (child, mut lines) = spawn(&env, &["connect", "test", "--device"]);
    let open = next(&mut lines);
    assert_eq!(open, format!("Open {}/device on any device", provider.issuer));
    let enter = next(&mut lines);
    let code = enter.strip_prefix("and enter the code ").expect(&enter).to_owned();
    assert!(next(&mut lines).contains("user_code="), "verification_uri_complete shown");
    provider.control("device/deny", json!({"user_code": code})).await;
    let (status, _, stderr) = finish(child, lines);
    assert_eq!(status, Some(4), "a declined sign-in needs the user: {stderr}");
    let reason: Vec<&str> = stderr.lines().filter(|l| l.starts_with("latchkey: ")).collect();
    assert_eq!(reason.len(), 1, "{stderr}");
    assert!(reason[0].contains("declined"), "{stderr}");
    assert!(env.accounts().is_empty());

    provider.control("ttl", json!({"device_code": 2})).await;
    let out = env.output(&["connect", "test", "--device", "--json"]);
    assert_eq!(out.status.code(), Some(4));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("expired before it was approved"), "{stderr}");
    assert!(env.accounts().is_empty());
    provider.control("ttl", json!({"device_code": 600})).await;

    // Ctrl-C while waiting: 130, and no half account.
    let (child, mut lines) = spawn(&env, &["connect", "test", "--device", "--json"]);
    let _ = next(&mut lines);
    assert_eq!(env.accounts().len(), 1, "a Pending placeholder while waiting");
    let kill = Command::new("kill").args(["-INT", &child.id().to_string()]).status().expect("kill");
    assert!(kill.success());
    let (status, _, stderr) = finish(child, lines);
    assert_eq!(status, Some(130), "{stderr}");
    assert!(stderr.contains("interrupted"), "{stderr}");
    assert!(env.accounts().is_empty(), "the placeholder is gone");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a desktop session: tests/with-session cargo test -- --include-ignored"]
async fn deep_link_connections_point_to_device_and_others_say_why_not() {
    let provider = Provider::start();
    provider.control("device/interval", json!({"seconds": 1})).await;
    let extra = format!(
        "\n[[connection]]\nid = \"forge\"\nissuer = \"{}\"\nclient_id = \"latchkey\"\nscopes = [\"openid\", \"email\"]\nredirect = \"deep-link\"\n\n\
         [[connection]]\nid = \"gmail\"\nclient_id = \"1234.apps.googleusercontent.com\"\n",
        provider.issuer
    );
    let env = Env::with(&provider, Setup { extra: &extra, ..Setup::default() });

    // A deep-link connection cannot come back to this command: it says to use --device.
    let out = env.output(&["connect", "forge", "--no-browser"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("latchkey connect forge --device"), "{stderr}");
    assert!(env.accounts().is_empty(), "no account left by the refusal");
    // …and --device connects it.
    let (child, mut lines) = spawn(&env, &["connect", "forge", "--device", "--json", "--identifier", "me"]);
    let first: Value = serde_json::from_str(&next(&mut lines)).expect("json");
    provider.control("device/approve", json!({"user_code": first["user_code"]})).await;
    let account: Value = serde_json::from_str(&next(&mut lines)).expect("account");
    assert_eq!(finish(child, lines).0, Some(0));
    assert_eq!((account["ref"].as_str(), account["status"].as_str()), (Some("forge:me"), Some("active")));

    for (connection, needle) in [
        ("slack", "Slack offers no device sign-in"),
        ("dropbox", "Sign in in a browser instead: latchkey connect dropbox"),
        ("gmail", "https://www.googleapis.com/auth/gmail.readonly"),
        ("crm", "API-key"),
    ] {
        let out = env.output(&["connect", connection, "--device"]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{connection}: {stderr}");
        assert!(stderr.contains(needle), "{connection}: {stderr}");
        assert!(out.stdout.is_empty(), "{connection}");
    }
    assert_eq!(env.accounts().len(), 1, "only forge:me");
    // --device and --no-browser do not go together.
    assert_eq!(env.output(&["connect", "test", "--device", "--no-browser"]).status.code(), Some(2));
}

/// A connection added on the command line with explicit endpoints, no issuer to discover: its
/// device endpoint comes from `--device-authorization-url`, and the sign-in completes through it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a desktop session: tests/with-session cargo test -- --include-ignored"]
async fn a_connection_added_with_its_device_endpoint_signs_in_by_device() {
    let provider = Provider::start();
    provider.control("device/interval", json!({"seconds": 1})).await;
    let env = Env::new(&provider);
    let at = |path: &str| format!("{}{path}", provider.issuer);
    let added = env.ok(&[
        "connections",
        "add",
        "forge",
        "--type",
        "oauth2",
        "--authorize-url",
        &at("/auth"),
        "--token-url",
        &at("/token"),
        "--userinfo-url",
        &at("/me"),
        "--device-authorization-url",
        &at("/device/auth"),
        "--client-id",
        "latchkey",
        "--scopes",
        &SCOPES.join(" "),
    ]);
    assert!(added.contains("Added forge (oauth2)"), "{added}");
    let file = std::fs::read_to_string(&env.connections).expect("connections.toml");
    assert!(file.contains(&format!("device_authorization_url = \"{}\"", at("/device/auth"))), "{file}");

    let (child, mut lines) = spawn(&env, &["connect", "forge", "--device", "--json"]);
    let first: Value = serde_json::from_str(&next(&mut lines)).expect("the first line is JSON");
    assert_eq!(first["verification_uri"], at("/device"));
    let code = first["user_code"].as_str().expect("user_code").to_owned();
    provider.control("device/approve", json!({"user_code": code})).await;
    let account: Value = serde_json::from_str(&next(&mut lines)).expect("the account line");
    let (status, _, stderr) = finish(child, lines);
    assert_eq!(status, Some(0), "{stderr}");
    assert_eq!(account["ref"], "forge:alice@example.test");
    assert_eq!(account["status"], "active");

    // With an issuer, discovery says where the device endpoint is: the flag is refused.
    let both = env.output(&[
        "connections",
        "add",
        "other",
        "--issuer",
        &provider.issuer,
        "--device-authorization-url",
        &at("/device/auth"),
        "--client-id",
        "latchkey",
    ]);
    assert_eq!(both.status.code(), Some(2), "{both:?}");
}
