//! Hand-out policies through the real CLI, the real test provider and the Secret Service: `closed`
//! refuses `token`, `exec` (the child never runs) and git's `credential fill` with exit 4 while an
//! agent with a grant still calls the API through Latchkey; `ask` refuses a program without a grant
//! with the command that allows it, which works; `open` is unchanged; the policy survives restarts;
//! no output holds a token.

mod common;
#[path = "../../latchkey-core/tests/it/support/mod.rs"]
mod support;

use std::path::Path;
use std::process::Command;

use common::{ALICE, Env, Setup};
use latchkey_core::api::{Access, ApiRequest, Consent};
use latchkey_core::model::Actor;
use latchkey_core::{Hooks, Latchkey};
use serde_json::Value;
use support::Provider;

const GIT_REQUEST: &str = "protocol=https\nhost=git.example.test\npath=team/repo.git\n\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a desktop session: tests/with-session cargo test -- --include-ignored"]
async fn closed_keeps_the_token_inside_while_agents_still_call_the_api() {
    let provider = Provider::start();
    let env = Env::with(&provider, Setup::git_example());
    env.connect_alice(&provider);

    // Open, the default: unchanged.
    assert_eq!(env.shown(ALICE)["handout"], "open");
    let token = env.expect(&["token", ALICE], 0).trim().to_owned();
    assert!(provider.is_active(&token).await, "a live token");
    env.forget_seen();
    assert!(env.expect(&["accounts", "policy", ALICE], 0).starts_with("open ("));

    let said = env.expect(&["accounts", "policy", ALICE, "closed"], 0);
    assert!(said.contains("hand-out policy is closed"), "{said}");
    assert_eq!(env.shown(ALICE)["handout"], "closed");
    let list = env.expect(&["accounts", "list"], 0);
    assert!(list.lines().next().is_some_and(|h| h.contains("HAND-OUT")), "{list}");
    assert!(list.lines().any(|l| l.contains(ALICE) && l.contains("closed")), "{list}");
    let listed: Value = serde_json::from_str(&env.expect(&["accounts", "list", "--json"], 0)).expect("json");
    assert_eq!(listed[0]["handout"], "closed");

    // token, in every format: refused with the command that opens it.
    let allow = format!("latchkey accounts policy {ALICE} open");
    for format in ["raw", "json", "xoauth2", "oauthbearer"] {
        let line = env.refused(&["token", ALICE, "--format", format], "");
        assert!(line.contains("hand-out policy is closed") && line.contains(&allow), "{line}");
    }
    // exec: refused before the command runs.
    let marker = env.path("ran");
    let touch = format!("touch '{}'", marker.display());
    let line = env.refused(&["exec", "--env", &format!("TOKEN={ALICE}"), "--", "sh", "-c", &touch], "");
    assert!(line.contains(&allow), "{line}");
    assert!(!marker.exists(), "the command never ran");
    // git-credential, alone and through git's `credential fill`: no password.
    env.refused(&["git-credential", "get"], GIT_REQUEST);
    let out = env.run(env.git(&["credential", "fill"]), GIT_REQUEST, 128);
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(!stdout.contains("password="), "{stdout}");
    assert!(stderr.contains(&allow), "git shows the helper's line: {stderr}");
    let refused = env
        .audit(ALICE)
        .into_iter()
        .filter(|e| e["action"] == "token.read" && e["outcome"] == "refused")
        .filter(|e| e["detail"] == "hand-out policy closed" && e["actor"] == "cli")
        .count();
    assert_eq!(refused, 7, "each refusal is audited");

    // An agent with a grant still calls the API through Latchkey: the token is used, not shown.
    {
        let (core, _, _) = support::open(&env.spec, Hooks::default()).await;
        let core: Latchkey = core;
        let account = core.get_connected_account("test", "alice@example.test").expect("account");
        core.add_grant("agent", &account.id, Access::Read, None, &Actor::User).expect("grant");
        let request = ApiRequest { method: "GET".into(), path: "me".into(), ..Default::default() };
        let r = core.call_api(&account.id, "agent", Consent::Granted, request).await.expect("call_api");
        assert_eq!(r.status, 200, "{r:?}");
        let me: Value = serde_json::from_str(&r.body).expect("json");
        assert_eq!(me["sub"], "alice");
        assert!(!r.body.contains(&token), "the body does not carry the token");
    }

    // The policy survives restarts (every command is a new process; the core above was another).
    assert_eq!(env.shown(ALICE)["handout"], "closed");
    env.refused(&["token", ALICE], "");

    // Open again: as before.
    env.expect(&["accounts", "policy", ALICE, "open"], 0);
    env.expect(&["exec", "--env", &format!("TOKEN={ALICE}"), "--", "sh", "-c", &touch], 0);
    assert!(marker.exists(), "with the policy open the command runs");
    let changes: Vec<String> = env
        .audit(ALICE)
        .into_iter()
        .filter(|e| e["action"] == "policy.changed")
        .map(|e| e["detail"].as_str().unwrap_or("").to_owned())
        .collect();
    assert_eq!(changes, ["hand-out policy open -> closed", "hand-out policy closed -> open"]);

    // Unknown accounts and values: clear errors, nothing changed.
    let err = String::from_utf8(env.latchkey(&["accounts", "policy", ALICE, "sealed"], "", 2).stderr)
        .expect("utf-8");
    assert!(err.contains("“sealed” is unknown (use open, ask or closed)"), "{err}");
    let err = String::from_utf8(env.latchkey(&["accounts", "policy", "test:nobody", "closed"], "", 3).stderr)
        .expect("utf-8");
    assert!(err.contains("no such account"), "{err}");
    env.expect(&["accounts", "policy", "nonsense"], 2);
    assert_eq!(env.shown(ALICE)["handout"], "open");

    let seen = env.seen();
    assert!(!support::contains(&seen, &token), "a token in the output of a refused or listing command");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a desktop session: tests/with-session cargo test -- --include-ignored"]
async fn ask_refuses_a_program_without_a_grant_and_the_printed_command_allows_it() {
    let provider = Provider::start();
    let env = Env::with(&provider, Setup::git_example());
    env.connect_alice(&provider);
    env.expect(&["accounts", "policy", ALICE, "ask"], 0);
    assert!(env.expect(&["accounts", "policy", ALICE], 0).starts_with("ask ("));

    // The consumer is the calling program: here, this test binary. No app runs to ask.
    let me = std::env::current_exe().expect("exe").canonicalize().expect("canonical");
    let line = env.refused(&["token", ALICE], "");
    assert!(line.contains("not running"), "{line}");
    let command = line.split("To allow it: ").nth(1).expect("the command").trim().to_owned();
    assert_eq!(command, format!("latchkey grants add \"{}\" {ALICE} --access full", me.display()));
    let marker = env.path("ran");
    let touch = format!("touch '{}'", marker.display());
    env.refused(&["exec", "--env", &format!("TOKEN={ALICE}"), "--", "sh", "-c", &touch], "");
    assert!(!marker.exists(), "the command never ran");

    // The printed command, run by a shell as a person would paste it, lets this program through.
    let bin_dir = Path::new(env!("CARGO_BIN_EXE_latchkey")).parent().expect("dir").to_owned();
    let mut sh = Command::new("sh");
    sh.args(["-c", &command])
        .env("PATH", format!("{}:{}", bin_dir.display(), std::env::var("PATH").unwrap_or_default()));
    env.profile(&mut sh);
    env.run(sh, "", 0);
    let token = env.expect(&["token", ALICE], 0).trim().to_owned();
    assert!(provider.is_active(&token).await, "a live token");
    env.expect(&["exec", "--env", &format!("TOKEN={ALICE}"), "--", "sh", "-c", &touch], 0);
    assert!(marker.exists(), "granted, the command runs");

    // git's helper runs under another program (git, or its shell): not granted, so refused.
    let out = env.run(env.git(&["credential", "fill"]), GIT_REQUEST, 128);
    assert!(!String::from_utf8_lossy(&out.stdout).contains("password="));
    assert!(String::from_utf8_lossy(&out.stderr).contains("latchkey grants add"), "the helper's line");

    let trail = env.audit(ALICE);
    let refused = trail
        .iter()
        .filter(|e| e["action"] == "token.read" && e["outcome"] == "refused")
        .filter(|e| e["detail"].as_str().is_some_and(|d| d.starts_with("hand-out policy ask")))
        .count();
    assert_eq!(refused, 3, "{trail:?}");
    assert!(trail.iter().any(|e| e["action"] == "grant.added"), "the grant is in the trail");
    let grants: Value = serde_json::from_str(&env.expect(&["grants", "list", "--json"], 0)).expect("json");
    assert!(grants[0]["last_used"].is_string(), "the hand-outs count as uses: {grants}");

    // Removing the grant closes the door again.
    env.expect(&["grants", "remove", &me.display().to_string(), ALICE], 0);
    env.refused(&["token", ALICE], "");
    let seen = env.seen();
    let stray: Vec<&str> =
        std::str::from_utf8(&seen).unwrap_or("").lines().filter(|l| l.contains(&token)).collect();
    // The one output that is the token is `latchkey token`'s own stdout.
    assert_eq!(stray.len(), 1, "{stray:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a desktop session: tests/with-session cargo test -- --include-ignored"]
async fn api_keys_follow_the_policy_and_git_reporting_them_refused_is_audited() {
    let provider = Provider::start();
    let env = Env::with(&provider, Setup::git_example());
    env.expect_with_input(&["accounts", "add", "crm:ci", "--secret-stdin"], "key-policy-0001\n", 0);
    assert_eq!(env.expect(&["token", "crm:ci"], 0), "key-policy-0001\n");
    env.forget_seen();
    env.expect(&["accounts", "policy", "crm:ci", "closed"], 0);
    env.refused(&["token", "crm:ci"], "");
    env.refused(&["exec", "--env", "KEY=crm:ci", "--", "true"], "");
    env.expect(&["accounts", "policy", "crm:ci", "ask"], 0);
    let line = env.refused(&["exec", "--env", "KEY=crm:ci", "--", "true"], "");
    assert!(line.contains("latchkey grants add"), "{line}");
    env.expect(&["accounts", "policy", "crm:ci", "open"], 0);
    let out = env.expect(&["exec", "--env", "KEY=crm:ci", "--", "sh", "-c", "printf %s \"$KEY\""], 0);
    assert_eq!(out, "key-policy-0001");

    // git's erase after a refused key: recorded, the key kept.
    let rejected = "protocol=https\nhost=crm.example\nusername=ci\npassword=key-policy-0001\n\n";
    env.expect_with_input(&["git-credential", "--account", "crm:ci", "erase"], rejected, 0);
    let trail = env.audit("crm:ci");
    let recorded: Vec<&Value> = trail.iter().filter(|e| e["action"] == "credential.refused").collect();
    assert_eq!(recorded.len(), 1, "{trail:?}");
    assert_eq!(recorded[0]["outcome"], "failed");
    assert_eq!(recorded[0]["detail"], "git reported that the server refused the credential");
    assert_eq!(env.expect(&["token", "crm:ci"], 0), "key-policy-0001\n");
    let refused = trail.iter().filter(|e| e["action"] == "token.read" && e["outcome"] == "refused").count();
    assert_eq!(refused, 3, "{trail:?}");
    let seen = env.seen();
    let stray = std::str::from_utf8(&seen).unwrap_or("").matches("key-policy-0001").count();
    // exec's child printed it once and `token` printed it once; nothing else did.
    assert_eq!(stray, 2);
}
