//! The README's commands, read from README.md itself (the fenced block after each
//! `<!-- recipe: NAME -->`), so that they cannot drift from what works: the command synopsis
//! against each command's `--help`, and the examples run as written by `sh`, git and the real MCP
//! client (tests/mcp/client.py) against the test provider. Only the placeholders the README names
//! are replaced: the account `github:me`, its connection `github`, the API address in the `exec`
//! example, and the paths it calls placeholders.

mod common;
#[path = "../../latchkey-core/tests/it/support/mod.rs"]
mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::ops::Deref;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use common::{Setup, all_command_lines, base64_decode, text};
use serde_json::{Value, json};
use support::{Provider, contains, repo_root};

/// What `github:me` and `github` become: the test provider's connection and its account.
const ME: &str = "test:alice@example.test";

fn readme() -> String {
    std::fs::read_to_string(repo_root().join("README.md")).expect("README.md")
}

/// The fenced block right after `<!-- recipe: NAME -->`, without the list item's indentation.
fn recipe(name: &str) -> String {
    let text = readme();
    let marker = format!("<!-- recipe: {name} -->");
    let mut lines = text.lines().skip_while(|l| l.trim() != marker);
    assert!(lines.next().is_some(), "README.md has no {marker}");
    let fence = lines.next().unwrap_or_default();
    let indent = fence.len() - fence.trim_start().len();
    assert!(fence.trim_start().starts_with("```"), "{name}: a fenced block right after its marker");
    let body: Vec<&str> = lines.take_while(|l| l.trim() != "```").collect();
    assert!(!body.is_empty(), "{name}: an empty block");
    body.iter().map(|l| format!("{}\n", l.get(indent..).unwrap_or(l.trim_start()))).collect()
}

/// The recipe's commands, one a line, with the README's account and connection placeholders
/// pointed at the test provider's.
fn commands(name: &str) -> Vec<String> {
    recipe(name)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let l = l.replace("github:me", ME);
            l.split(' ').map(|w| if w == "github" { "test" } else { w }).collect::<Vec<_>>().join(" ")
        })
        .collect()
}

fn latchkey_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_latchkey"))
}

/// A person's shell: `latchkey` on PATH, a throw-away HOME and git configuration, one profile.
struct Env(common::Env);

impl Deref for Env {
    type Target = common::Env;

    fn deref(&self) -> &common::Env {
        &self.0
    }
}

impl Env {
    /// The test provider as the only connection, one that, like the catalog's GitHub, serves git
    /// for github.com with the username `x-access-token`.
    fn new(provider: &Provider) -> Env {
        let env = common::Env::with(
            provider,
            Setup {
                test_lines: "git_hosts = [\"github.com\"]\ngit_username = \"x-access-token\"\n",
                only_test: true,
                ..Setup::default()
            },
        );
        std::fs::create_dir_all(env.path("home")).expect("home");
        Env(env)
    }

    fn path_var(&self) -> String {
        let bin = latchkey_bin().parent().expect("dir").display().to_string();
        format!("{bin}:{}", std::env::var("PATH").unwrap_or_default())
    }

    fn vars(&self) -> Vec<(&'static str, String)> {
        let home = self.path("home");
        let mut vars = vec![
            ("PATH", self.path_var()),
            ("HOME", home.display().to_string()),
            ("GIT_CONFIG_GLOBAL", home.join(".gitconfig").display().to_string()),
            ("GIT_CONFIG_NOSYSTEM", "1".into()),
            ("GIT_TERMINAL_PROMPT", "0".into()),
        ];
        vars.extend(self.0.vars());
        vars
    }

    fn command(&self, program: &str) -> Command {
        let mut c = Command::new(program);
        c.envs(self.vars()).env_remove("CURL_CA_BUNDLE").env_remove("SSL_CERT_DIR");
        c
    }

    /// A README line as a shell runs it; it must succeed. Its standard output.
    fn sh(&self, line: &str, input: &str) -> String {
        let mut c = self.command("sh");
        c.arg("-c").arg(line);
        let out = common::output(c, input);
        assert!(out.status.success(), "{line}\n{}", text(&out));
        String::from_utf8(out.stdout).expect("utf-8")
    }

    /// `latchkey ARGS` run by this test itself (the caller the hand-out policy sees).
    fn latchkey(&self, args: &[&str]) -> Output {
        let mut c = self.command(latchkey_bin().to_str().expect("utf-8 path"));
        c.args(args);
        common::output(c, "")
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.latchkey(args);
        assert!(out.status.success(), "{args:?}\n{}", text(&out));
        String::from_utf8(out.stdout).expect("utf-8")
    }
}

/// The synopsis lines (a line that starts with blanks continues the one before; `a | b` at the
/// top level is two commands), each as (its subcommand path, the flags it shows).
fn synopsis() -> Vec<(Vec<String>, BTreeSet<String>)> {
    let mut entries: Vec<String> = Vec::new();
    for line in recipe("synopsis").lines() {
        let line = line.split(" #").next().unwrap_or_default().trim_end();
        if line.starts_with(char::is_whitespace) {
            let last = entries.last_mut().expect("a continued line");
            last.push(' ');
            last.push_str(line.trim());
        } else {
            entries.push(line.to_owned());
        }
    }
    let mut out = Vec::new();
    for entry in entries {
        let (mut depth, mut start, mut pieces) = (0i32, 0, Vec::new());
        let bytes = entry.as_bytes();
        for (i, b) in bytes.iter().enumerate() {
            match b {
                b'[' | b'(' => depth += 1,
                b']' | b')' => depth -= 1,
                b'|' if depth == 0 && i > 0 && bytes[i - 1] == b' ' => {
                    pieces.push(entry[start..i].trim().to_owned());
                    start = i + 1;
                }
                _ => {}
            }
        }
        pieces.push(entry[start..].trim().to_owned());
        for piece in pieces {
            let piece = if piece.starts_with("latchkey ") { piece } else { format!("latchkey {piece}") };
            let path: Vec<String> = piece
                .split_whitespace()
                .skip(1)
                .take_while(|w| w.chars().all(|c| c.is_ascii_lowercase() || c == '-') && !w.starts_with('-'))
                .map(str::to_owned)
                .collect();
            out.push((path, flags_in(&piece)));
        }
    }
    out
}

/// Every `--flag` named in `text`.
fn flags_in(text: &str) -> BTreeSet<String> {
    let mut flags = BTreeSet::new();
    let mut rest = text;
    while let Some(at) = rest.find("--") {
        let name: String = rest[at + 2..]
            .chars()
            .take_while(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-')
            .collect();
        if !name.is_empty() {
            flags.insert(format!("--{name}"));
        }
        rest = &rest[at + 2 + name.len()..];
    }
    flags
}

fn help(path: &[String]) -> String {
    let out = Command::new(latchkey_bin()).args(path).arg("--help").output().expect("help");
    assert!(out.status.success(), "latchkey {} --help", path.join(" "));
    String::from_utf8(out.stdout).expect("utf-8")
}

/// The flags a help lists under Options, without the global ones the README gives as environment.
fn options_in_help(help: &str) -> BTreeSet<String> {
    let global = ["--data-dir", "--connections", "--keychain-service", "--help", "--version"];
    help.lines()
        .filter_map(|l| {
            let l = l.trim_start();
            let l = l.strip_prefix("-h, ").unwrap_or(l);
            l.starts_with("--").then(|| l.split([' ', '=']).next().unwrap_or_default().to_owned())
        })
        .filter(|f| !global.contains(&f.as_str()))
        .collect()
}

/// Subcommands listed in a help, without `help`.
fn subcommands_in_help(help: &str) -> Vec<String> {
    help.lines()
        .skip_while(|l| l.trim() != "Commands:")
        .skip(1)
        .take_while(|l| !l.trim().is_empty())
        .filter_map(|l| l.split_whitespace().next().map(str::to_owned))
        .filter(|c| c != "help")
        .collect()
}

#[test]
fn the_readme_synopsis_is_every_command_and_flag_the_help_lists() {
    let mut shown: BTreeMap<Vec<String>, BTreeSet<String>> = BTreeMap::new();
    for (path, flags) in synopsis() {
        assert!(!path.is_empty(), "a synopsis line names a command");
        shown.entry(path).or_default().extend(flags);
    }
    // Every command the help lists (one level down for groups) has a synopsis line…
    let mut commands = Vec::new();
    for top in subcommands_in_help(&help(&[])) {
        let sub = subcommands_in_help(&help(std::slice::from_ref(&top)));
        if sub.is_empty() {
            commands.push(vec![top]);
        } else {
            commands.extend(sub.into_iter().map(|s| vec![top.clone(), s]));
        }
    }
    let listed: BTreeSet<&Vec<String>> = commands.iter().collect();
    let in_readme: BTreeSet<&Vec<String>> = shown.keys().collect();
    assert_eq!(in_readme, listed, "the README's synopsis and `latchkey --help` list the same commands");
    // …with the same flags.
    for (path, flags) in &shown {
        let options = options_in_help(&help(path));
        assert_eq!(flags, &options, "latchkey {}: the README's flags, then the help's", path.join(" "));
    }
}

/// Connects the account with the README's `connect --device` line, approving its code at the
/// provider as the person would on their phone.
async fn connect_by_the_device_recipe(env: &Env, provider: &Provider) {
    let lines = commands("device");
    assert_eq!(lines.len(), 1);
    let mut c = env.command("sh");
    c.arg("-c").arg(&lines[0]).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = c.spawn().expect("spawn");
    let mut out = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let open = out.next().expect("a line").expect("read");
    assert!(open.starts_with("Open ") && open.contains("/device"), "{open}");
    let enter = out.next().expect("a line").expect("read");
    let code = enter.strip_prefix("and enter the code ").unwrap_or_else(|| panic!("{enter}")).to_owned();
    provider.control("device/approve", json!({"user_code": code})).await;
    let rest: Vec<String> = out.map(|l| l.expect("read")).collect();
    let done = child.wait_with_output().expect("wait");
    assert!(done.status.success(), "{}\n{rest:?}", text(&done));
    let shown: Value = serde_json::from_str(&env.ok(&["accounts", "show", ME, "--json"])).expect("json");
    assert_eq!(shown["status"], "active", "{shown}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a desktop session: tests/with-session cargo test -- --include-ignored"]
async fn the_readme_examples_for_scripts_run_as_written() {
    let provider = Provider::start();
    provider.control("device/interval", json!({"seconds": 1})).await;
    let env = Env::new(&provider);
    connect_by_the_device_recipe(&env, &provider).await;

    // token: the bare token, JSON, and the two SASL forms, all of one live token.
    let outs: Vec<String> = commands("token").iter().map(|l| env.sh(l, "")).collect();
    assert_eq!(outs.len(), 4);
    let token = outs[0].trim().to_owned();
    assert!(token.len() >= 16 && provider.is_active(&token).await, "a live token");
    let json: Value = serde_json::from_str(&outs[1]).expect("json");
    assert_eq!(json["access_token"], token.as_str());
    assert_eq!(
        base64_decode(outs[2].trim()),
        format!("user=alice@example.test\x01auth=Bearer {token}\x01\x01").into_bytes()
    );
    assert_eq!(
        base64_decode(outs[3].trim()),
        format!("n,a=alice@example.test,\x01auth=Bearer {token}\x01\x01").into_bytes()
    );

    // exec: the child's curl calls the API with the token from its environment.
    let exec = commands("exec");
    assert_eq!(exec.len(), 1);
    assert!(exec[0].contains("https://api.github.com/user"), "{}", exec[0]);
    let line = exec[0].replace("https://api.github.com/user", &format!("{}/me", env.issuer));
    // The API holds its answer 1.5 s: while curl waits, no command line holds the token.
    provider.control("fault", json!({"path": "/me", "delay_ms": 1500, "times": 1})).await;
    let mut c = env.command("sh");
    c.arg("-c").arg(&line).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = c.spawn().expect("spawn");
    let (mut saw_curl, mut scans) = (false, 0);
    while child.try_wait().expect("wait").is_none() {
        for (_, cmdline) in all_command_lines() {
            assert!(!contains(&cmdline, &token), "the token on a command line during the exec example");
            saw_curl |= contains(&cmdline, "curl\0-H\0@-\0");
        }
        scans += 1;
    }
    let out = child.wait_with_output().expect("wait");
    assert!(out.status.success(), "{line}\n{}", text(&out));
    assert!(saw_curl, "the scan saw curl running ({scans} scans)");
    let me: Value = serde_json::from_slice(&out.stdout).expect("the API's JSON");
    assert_eq!((me["sub"].as_str(), me["email"].as_str()), (Some("alice"), Some("alice@example.test")));

    // git: the helper line, then git asking for github.com's credential.
    let git = commands("git-credential");
    assert_eq!(git.len(), 1);
    env.sh(&git[0], "");
    let helper = env.sh("git config --global --get-regexp '^credential\\.'", "");
    assert_eq!(helper.trim(), "credential.https://github.com.helper !latchkey git-credential");
    let answer = env.sh("git credential fill", "protocol=https\nhost=github.com\npath=me/repo.git\n\n");
    assert!(answer.lines().any(|l| l == "username=x-access-token"), "{answer}");
    let password = answer.lines().find_map(|l| l.strip_prefix("password=")).expect(&answer);
    assert!(provider.is_active(password).await, "git got a live token");

    // An API-key account from standard input.
    let api_key = commands("api-key");
    assert_eq!(api_key.len(), 3);
    env.sh(&api_key[0], "");
    env.sh(&api_key[1], "key-from-stdin\n");
    assert_eq!(env.sh(&api_key[2], ""), "key-from-stdin\n");

    // Hand-out policies: the program to allow is this test, which runs `latchkey token` itself.
    let me_program = std::env::current_exe().expect("exe").canonicalize().expect("path");
    let policy: Vec<String> = commands("policy")
        .iter()
        .map(|l| l.replace("/usr/local/bin/backup-tool", me_program.to_str().expect("utf-8")))
        .collect();
    assert_eq!(policy.len(), 5);
    assert!(policy[1].contains(me_program.to_str().expect("utf-8")), "{}", policy[1]);
    let token_here = || env.latchkey(&["token", ME]);
    assert!(token_here().status.success(), "open by default");
    env.sh(&policy[0], "");
    let refused = token_here();
    assert_eq!(refused.status.code(), Some(4), "ask, no grant, no app: {}", text(&refused));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("latchkey grants add"), "{}", text(&refused));
    env.sh(&policy[1], "");
    assert!(token_here().status.success(), "{}", text(&token_here()));
    let shown = env.sh(&policy[2], "");
    assert!(shown.starts_with("ask "), "{shown}");
    env.sh(&policy[3], "");
    let refused = token_here();
    assert_eq!(refused.status.code(), Some(4), "closed: {}", text(&refused));
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("latchkey accounts policy"),
        "{}",
        text(&refused)
    );
    env.sh(&policy[4], "");
    assert!(token_here().status.success());

    // Grants: added for a week, listed, removed.
    let grants = commands("grants");
    assert_eq!(grants.len(), 3);
    env.sh(&grants[0], "");
    let added: Vec<Value> = env.grants().into_iter().filter(|g| g["consumer"] == "my-agent").collect();
    assert_eq!(added.len(), 1, "{added:?}");
    assert_eq!((added[0]["account"].as_str(), added[0]["access"].as_str()), (Some(ME), Some("read")));
    assert!(added[0]["until"].is_string(), "--for 7d ends it: {}", added[0]);
    assert!(env.sh(&grants[1], "").contains("my-agent"));
    env.sh(&grants[2], "");
    assert!(env.grants().iter().all(|g| g["consumer"] != "my-agent"));
}

/// A JSON recipe's server entry: (its command line, its `type` if any).
fn configured_server(name: &str, servers_key: &str) -> (Vec<String>, Option<String>) {
    let config: Value = serde_json::from_str(&recipe(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
    let server = &config[servers_key]["latchkey"];
    let mut command = vec![server["command"].as_str().expect("command").to_owned()];
    command
        .extend(server["args"].as_array().expect("args").iter().map(|a| a.as_str().expect("arg").to_owned()));
    (command, server["type"].as_str().map(str::to_owned))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a desktop session: tests/with-session cargo test -- --include-ignored"]
async fn the_readme_mcp_configurations_start_a_server_the_client_uses() {
    let provider = Provider::start();
    provider.control("device/interval", json!({"seconds": 1})).await;
    let env = Env::new(&provider);
    connect_by_the_device_recipe(&env, &provider).await;

    // Claude Desktop: the full path (the README's placeholder) of the real binary.
    let (mut desktop, kind) = configured_server("claude-desktop", "mcpServers");
    assert_eq!((desktop[0].as_str(), kind), ("/usr/local/bin/latchkey", None));
    desktop[0] = latchkey_bin().display().to_string();
    // VS Code: `latchkey` found on PATH.
    let (vscode, kind) = configured_server("vscode", "servers");
    assert_eq!((vscode[0].as_str(), kind.as_deref()), ("latchkey", Some("stdio")));
    // Claude Code: what follows `--` in its `claude mcp add NAME -- COMMAND...` line.
    let line = recipe("claude-code");
    let words: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(&words[..5], ["claude", "mcp", "add", "latchkey", "--"], "{line}");
    let code: Vec<String> = words[5..].iter().map(|w| w.to_string()).collect();

    for (client, command) in [("claude-desktop", desktop), ("vscode", vscode), ("claude-code", code)] {
        let dir = env.dir.path().join(client);
        std::fs::create_dir_all(&dir).expect("dir");
        let plan = json!({
            "command": command,
            "env": env.vars().into_iter().map(|(k, v)| (k.to_owned(), Value::String(v))).collect::<serde_json::Map<_, _>>(),
            "client_name": format!("readme-{client}"),
            "elicit": null,
            "transcript": dir.join("transcript.log"),
            "stderr": dir.join("stderr.log"),
            "provider": {"issuer": provider.issuer, "ca_file": env.ca},
            "steps": [{"list_tools": true}, {"tool": "list_accounts", "args": {}}],
        });
        let plan_file = dir.join("plan.json");
        std::fs::write(&plan_file, plan.to_string()).expect("plan");
        let out = Command::new(repo_root().join(".tools/mcp-venv/bin/python"))
            .arg(repo_root().join("tests/mcp/client.py"))
            .arg(&plan_file)
            .env("PATH", env.path_var())
            .output()
            .expect("the MCP client (scripts/setup --test installs .tools/mcp-venv)");
        let stderr = std::fs::read_to_string(dir.join("stderr.log")).unwrap_or_default();
        assert!(out.status.success(), "{client}: {}\n{stderr}", text(&out));
        let report: Value = serde_json::from_slice(&out.stdout).expect("one JSON report");
        assert_eq!(report["exit_code"], 0, "{client}: {report}\n{stderr}");
        let tools: BTreeSet<&str> = report["steps"][0]["tools"]
            .as_array()
            .expect("tools")
            .iter()
            .filter_map(|t| t["name"].as_str())
            .collect();
        assert_eq!(tools, BTreeSet::from(["list_accounts", "call_api", "connect_account"]), "{client}");
        let listed = &report["steps"][1]["structured"];
        assert_eq!(listed["consumer"], format!("readme-{client}"), "{client}: {listed}");
        assert_eq!(listed["accounts"][0]["ref"], ME, "{client}: {listed}");
        assert_eq!(listed["accounts"][0]["access"], "none", "{client}: {listed}");
    }
}

/// The exit codes the README's list gives, and those `latchkey --help` lists.
#[test]
fn the_readme_and_the_help_list_the_same_exit_codes() {
    let readme = readme();
    let at = readme.find("- Exit codes: ").expect("the README lists the exit codes");
    let list = &readme[at..at + readme[at..].find("\n\n").expect("the list's end")];
    let in_readme: BTreeSet<u32> =
        list.split([':', ';']).filter_map(|part| part.split_whitespace().next()?.parse().ok()).collect();
    let help = help(&[]);
    let in_help: BTreeSet<u32> = help
        .lines()
        .skip_while(|l| l.trim() != "Exit codes:")
        .filter_map(|l| l.strip_prefix("  ")?.split_whitespace().next()?.parse().ok())
        .collect();
    assert!(in_help.len() >= 9, "{help}");
    assert_eq!(in_readme, in_help, "the README's exit codes, then the help's");
}

#[test]
#[ignore = "needs a desktop session: tests/with-session cargo test -- --include-ignored"]
fn the_readme_connections_toml_is_one_latchkey_reads() {
    let dir = tempfile::tempdir().expect("tmp");
    let file = dir.path().join("connections.toml");
    std::fs::write(&file, recipe("connections-toml")).expect("write");
    let out = Command::new(latchkey_bin())
        .args(["connections", "list", "--json"])
        .env("LATCHKEY_DATA_DIR", dir.path().join("data"))
        .env("LATCHKEY_CONNECTIONS", &file)
        .env("LATCHKEY_KEYCHAIN_SERVICE", format!("latchkey-test-readme-toml-{}", std::process::id()))
        .output()
        .expect("run");
    assert!(out.status.success(), "{}", text(&out));
    let listed: Value = serde_json::from_slice(&out.stdout).expect("json");
    let by_id = |id: &str| -> Value {
        listed
            .as_array()
            .expect("array")
            .iter()
            .find(|c| c["id"] == id)
            .cloned()
            .unwrap_or_else(|| panic!("{id}"))
    };
    let gmail = by_id("gmail");
    assert_eq!(gmail["client_id"], "1234.apps.googleusercontent.com", "{gmail}");
    assert!(gmail.to_string().contains("https://www.googleapis.com/auth/gmail.send"), "{gmail}");
    assert!(by_id("work-gmail").to_string().contains("gmail"), "a second Gmail connection");
    let sso = by_id("work-sso");
    assert_eq!(sso["name"], "Work SSO", "{sso}");
    assert_eq!(sso["api_base"], "https://api.example.com/v1", "{sso}");
    assert!(
        sso["redirect_uri"].as_str().is_some_and(|u| u.contains("127.0.0.1/oauth/work-sso/callback")),
        "{sso}"
    );
}
