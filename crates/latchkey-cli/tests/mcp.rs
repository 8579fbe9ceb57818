//! `latchkey mcp` driven by a real MCP client, the official Python SDK (tests/mcp/client.py, in
//! `.tools/mcp-venv` from `scripts/setup --test`), against the test provider, whose `/me` needs the
//! bearer token: the tools and their schemas; consent by elicitation (once, always, declined), by
//! grant, or refused with the command that allows it; read access; suspended accounts; every way
//! toward another origin; hostile arguments; a provider that is down; and the token strings in no
//! MCP message, stderr, log, audit row or data file.

mod common;
#[path = "../../latchkey-core/tests/it/support/mod.rs"]
mod support;

use std::io::{BufRead, BufReader, Read};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{ALICE, Env};
use serde_json::{Value, json};
use support::{Provider, all_bytes_under, contains, repo_root};

impl Env {
    /// One MCP session of `client` (declaring elicitation when `elicit` is given, answering in
    /// turn) over `latchkey mcp EXTRA`; the client script's report.
    fn session(
        &self,
        provider: &Provider,
        client: &str,
        elicit: Option<&[&str]>,
        extra: &[&str],
        steps: Vec<Value>,
    ) -> Value {
        let mut command = vec![env!("CARGO_BIN_EXE_latchkey").to_owned(), "mcp".to_owned()];
        command.extend(extra.iter().map(|s| s.to_string()));
        let plan = json!({
            "command": command,
            "env": self.vars().into_iter().map(|(k, v)| (k.to_owned(), Value::String(v))).collect::<serde_json::Map<_, _>>(),
            "client_name": client,
            "elicit": elicit,
            "transcript": self.dir.path().join("transcript.log"),
            "stderr": self.dir.path().join("stderr.log"),
            "provider": {"issuer": provider.issuer, "ca_file": self.ca},
            "steps": steps,
        });
        let plan_file = self.dir.path().join("plan.json");
        std::fs::write(&plan_file, plan.to_string()).expect("plan");
        let out = Command::new(python())
            .arg(repo_root().join("tests/mcp/client.py"))
            .arg(&plan_file)
            .output()
            .expect("the MCP client (scripts/setup --test installs .tools/mcp-venv)");
        assert!(
            out.status.success(),
            "the client failed: {}\n{}",
            String::from_utf8_lossy(&out.stderr),
            std::fs::read_to_string(self.dir.path().join("stderr.log")).unwrap_or_default()
        );
        let report: Value = serde_json::from_slice(&out.stdout).expect("one JSON report");
        if report.get("initialize_error").is_none() {
            assert_eq!(report["exit_code"], 0, "latchkey mcp ended cleanly: {report}");
        }
        report
    }

    /// Every byte a token could have leaked into: the whole MCP transcript, the server's stderr,
    /// the data folder (log, database with the audit trail), and `latchkey audit --json`.
    fn assert_no_token_anywhere(&self, tokens: &[String]) {
        assert!(!tokens.is_empty());
        let mut places: Vec<(String, Vec<u8>)> = vec![
            ("transcript".into(), std::fs::read(self.dir.path().join("transcript.log")).expect("transcript")),
            ("stderr".into(), std::fs::read(self.dir.path().join("stderr.log")).unwrap_or_default()),
            ("audit".into(), self.ok(&["audit", "--json"]).into_bytes()),
        ];
        let files = all_bytes_under(&self.data);
        assert!(files.iter().any(|(p, _)| p.ends_with("logs/latchkey.log")), "the server keeps a log");
        places.extend(files.into_iter().map(|(p, b)| (p.display().to_string(), b)));
        assert!(contains(&places[0].1, "tools/call"), "the transcript has the session");
        for t in tokens {
            for (place, bytes) in &places {
                assert!(!contains(bytes, t), "a token is in {place}");
            }
        }
    }
}

fn python() -> PathBuf {
    repo_root().join(".tools/mcp-venv/bin/python")
}

fn call(args: Value) -> Value {
    json!({"tool": "call_api", "args": args})
}

fn get(path: &str) -> Value {
    call(json!({"account": ALICE, "method": "GET", "path": path}))
}

fn list() -> Value {
    json!({"tool": "list_accounts"})
}

fn steps(report: &Value) -> Vec<Value> {
    report["steps"].as_array().cloned().unwrap_or_default()
}

#[track_caller]
fn assert_refused(step: &Value, says: &str) {
    assert_eq!(step["is_error"], true, "{step}");
    assert!(step["text"].as_str().is_some_and(|t| t.contains(says)), "“{says}” not in {step}");
    assert_eq!(step["served"], json!([]), "the provider received nothing: {step}");
}

#[track_caller]
fn assert_me(step: &Value) {
    assert_eq!(step["is_error"], false, "{step}");
    assert_eq!(step["structured"]["status"], 200, "{step}");
    assert_eq!(step["structured"]["body"]["sub"], "alice", "JSON bodies come as JSON: {step}");
    assert_eq!(step["served"], json!([{"method": "GET", "path": "/me"}]), "{step}");
}

fn alice_in(step: &Value) -> Value {
    step["structured"]["accounts"]
        .as_array()
        .and_then(|a| a.iter().find(|a| a["ref"] == ALICE).cloned())
        .unwrap_or_else(|| panic!("alice listed: {step}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a desktop session: tests/with-session cargo test -- --include-ignored"]
async fn consent_is_asked_remembered_or_refused_and_read_access_allows_get_only() {
    let provider = Provider::start();
    let env = Env::new(&provider);
    let id = env.connect_alice(&provider);
    let mut tokens = env.tokens(&id);

    // No elicitation, no app: refused with the command that allows it; nothing sent.
    let r =
        env.session(&provider, "agent one", None, &[], vec![json!({"list_tools": true}), list(), get("me")]);
    let init = &r["initialize"];
    assert_eq!(init["serverInfo"]["name"], "latchkey");
    assert!(
        init["instructions"].as_str().is_some_and(|i| i.contains("Tokens never leave Latchkey")),
        "{init}"
    );
    let s = steps(&r);
    let tools = s[0]["tools"].as_array().expect("tools");
    let names: Vec<&str> = tools.iter().filter_map(|t| t["name"].as_str()).collect();
    assert_eq!(names, ["list_accounts", "call_api", "connect_account"]);
    assert_eq!(tools[2]["inputSchema"]["required"], json!(["connection"]));
    let call_api = &tools[1];
    assert_eq!(call_api["inputSchema"]["required"], json!(["account", "method", "path"]));
    for arg in ["account", "method", "path", "query", "headers", "body"] {
        assert!(call_api["inputSchema"]["properties"][arg]["description"].is_string(), "{arg} documented");
    }
    assert!(call_api["outputSchema"]["properties"]["truncated"].is_object());
    assert!(tools[0]["outputSchema"]["properties"]["accounts"].is_object());
    let alice = alice_in(&s[1]);
    assert_eq!(s[1]["structured"]["consumer"], "agent one");
    assert_eq!(alice["access"], "none");
    assert_eq!(alice["status"], "active");
    assert_eq!(alice["provider"], "Test provider");
    assert_eq!(alice["identity"], "alice@example.test");
    assert!(alice["scopes"].as_array().is_some_and(|s| s.iter().any(|x| x == "email")), "{alice}");
    assert_refused(&s[2], &format!("latchkey grants add \"agent one\" {ALICE} --access read"));
    assert!(s[2]["elicitations"].as_array().is_some_and(Vec::is_empty));

    // Elicitation: once (the call passes, nothing remembered), then declined, cancelled, denied.
    let r = env.session(
        &provider,
        "agent two",
        Some(&["allow_once", "decline", "cancel", "deny"]),
        &[],
        vec![get("me"), get("me"), get("me"), get("me")],
    );
    let s = steps(&r);
    assert_me(&s[0]);
    let asked = &s[0]["elicitations"][0];
    let message = asked["message"].as_str().expect("message");
    assert!(
        message.contains("agent two") && message.contains(ALICE) && message.contains("read access"),
        "{message}"
    );
    let schema = &asked["requestedSchema"];
    let choices: Vec<&str> = schema["properties"]["decision"]["oneOf"]
        .as_array()
        .expect("one enum field")
        .iter()
        .filter_map(|c| c["const"].as_str())
        .collect();
    assert_eq!(choices, ["allow_once", "allow_always", "deny"], "{schema}");
    for step in &s[1..] {
        assert_refused(step, "The person declined");
        assert_eq!(step["elicitations"].as_array().map(Vec::len), Some(1), "asked again: {step}");
    }
    assert!(env.grants().iter().all(|g| g["consumer"] != "agent two"), "nothing remembered");

    // Always: a grant (read, no end) is stored, and the next call does not ask.
    let r = env.session(
        &provider,
        "agent three",
        Some(&["allow_always"]),
        &[],
        vec![get("me"), get("me"), list()],
    );
    let s = steps(&r);
    assert_me(&s[0]);
    assert_eq!(s[0]["elicitations"].as_array().map(Vec::len), Some(1));
    assert_me(&s[1]);
    assert_eq!(s[1]["elicitations"], json!([]), "remembered");
    assert_eq!(alice_in(&s[2])["access"], "read");
    assert_eq!(alice_in(&s[2])["access_until"], Value::Null);
    let grant = env.grants().into_iter().find(|g| g["consumer"] == "agent three").expect("stored");
    assert_eq!(grant["access"], "read");

    // Read access: GET passes, POST is refused before any request (no elicitation), or asked for
    // as an upgrade (elicitation): declined refuses, once passes and leaves the grant read.
    let post = call(json!({"account": ALICE, "method": "POST", "path": "me"}));
    let r = env.session(&provider, "agent three", None, &[], vec![get("me"), post.clone()]);
    let s = steps(&r);
    assert_me(&s[0]);
    assert_refused(&s[1], &format!("latchkey grants add \"agent three\" {ALICE} --access full"));
    let r = env.session(
        &provider,
        "agent three",
        Some(&["decline", "allow_once"]),
        &[],
        vec![post.clone(), post.clone()],
    );
    let s = steps(&r);
    assert_refused(&s[0], "declined");
    assert!(
        s[0]["elicitations"][0]["message"].as_str().is_some_and(|m| m.contains("full access")),
        "{}",
        s[0]
    );
    assert_eq!(s[1]["is_error"], false, "{}", s[1]);
    assert_eq!(s[1]["served"], json!([{"method": "POST", "path": "/me"}]));
    let grant = env.grants().into_iter().find(|g| g["consumer"] == "agent three").expect("kept");
    assert_eq!(grant["access"], "read", "a one-time upgrade is not remembered");

    // The grant removed: refused again.
    env.ok(&["grants", "remove", "agent three", ALICE]);
    let r = env.session(&provider, "agent three", None, &[], vec![get("me")]);
    assert_refused(&steps(&r)[0], "is not allowed to use");

    // The client's name must be a valid consumer name, unless --consumer names it.
    let r = env.session(&provider, "bad\u{1b}[31mname", None, &[], vec![]);
    assert!(r["initialize_error"].as_str().is_some_and(|e| e.contains("--consumer")), "{r}");
    env.ok(&["grants", "add", "override", ALICE, "--access", "read"]);
    let r = env.session(
        &provider,
        "bad\u{1b}[31mname",
        None,
        &["--consumer", "override"],
        vec![list(), get("me")],
    );
    let s = steps(&r);
    assert_eq!(s[0]["structured"]["consumer"], "override");
    assert_me(&s[1]);

    // Suspended: every call refused, even with a grant.
    env.ok(&["suspend", ALICE]);
    let r = env.session(&provider, "override", None, &[], vec![get("me"), list()]);
    let s = steps(&r);
    assert_refused(&s[0], "suspended");
    assert_eq!(alice_in(&s[1])["status"], "suspended");
    env.ok(&["resume", ALICE]);

    // The audit names each consumer's calls.
    let audit: Vec<Value> =
        env.ok(&["audit", "--json"]).lines().map(|l| serde_json::from_str(l).expect("json")).collect();
    let calls: Vec<&Value> = audit.iter().filter(|e| e["action"] == "api.call").collect();
    for who in ["agent two", "agent three", "override"] {
        assert!(calls.iter().any(|c| c["caller"] == who && c["outcome"] == "ok"), "{who}: {calls:#?}");
    }
    // A call nobody could be asked about is refused by the core, and recorded.
    for who in ["agent one", "agent three"] {
        assert!(calls.iter().any(|c| c["caller"] == who && c["outcome"] == "refused"), "{who}: {calls:#?}");
    }
    // So are calls the person declined, and calls on a suspended account, with the reason.
    let refused = |who: &str, says: &str| {
        calls.iter().any(|c| {
            c["caller"] == who
                && c["outcome"] == "refused"
                && c["detail"].as_str().is_some_and(|d| d.starts_with("GET ") && d.contains(says))
        })
    };
    assert!(refused("agent two", "The person declined"), "{calls:#?}");
    assert!(refused("override", "suspended"), "{calls:#?}");

    tokens.extend(env.tokens(&id));
    env.assert_no_token_anywhere(&tokens);
}

/// A listener on another port that records the headers of every request it gets.
fn elsewhere() -> (u16, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("listener");
    let port = listener.local_addr().expect("addr").port();
    let heard = Arc::new(Mutex::new(Vec::new()));
    let log = heard.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
            let mut head = Vec::new();
            let _ = (&stream).take(64 * 1024).read_to_end(&mut head);
            log.lock().expect("log").push(String::from_utf8_lossy(&head).into_owned());
        }
    });
    (port, heard)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a desktop session: tests/with-session cargo test -- --include-ignored"]
async fn the_token_reaches_the_api_base_only_and_bad_input_gets_a_clear_tool_error() {
    let provider = Provider::start();
    let env = Env::new(&provider);
    let id = env.connect_alice(&provider);
    env.ok(&["grants", "add", "agent", ALICE, "--access", "full"]);
    let (port, heard) = elsewhere();
    let issuer = provider.issuer.clone();

    // An API that echoes the Authorization header: the agent sees a marker, not the token.
    let mut steps_in = vec![get("echo/authorization")];
    // Every way toward another origin is refused before anything is sent.
    let escapes = [
        format!("http://127.0.0.1:{port}/steal"),
        format!("//127.0.0.1:{port}/steal"),
        format!("/\\127.0.0.1:{port}/steal"),
        "%2e%2e/me".to_owned(),
        "..%2fme".to_owned(),
        "%252e%252e/me".to_owned(),
        format!("@127.0.0.1:{port}/steal"),
        format!("me@127.0.0.1:{port}"),
    ];
    steps_in.extend(escapes.iter().map(|p| get(p)));
    // Hostile or malformed arguments: a tool error each, never a protocol error or a crash.
    let hostile = [
        (json!({"account": "test:nobody@example.test", "method": "GET", "path": "me"}), "no account"),
        (json!({"account": "nonsense", "method": "GET", "path": "me"}), "not an account reference"),
        (
            json!({"account": "test:\u{0}\u{1b}[2J", "method": "GET", "path": "me"}),
            "not an account reference",
        ),
        (json!({"account": ALICE, "method": "GET", "path": ""}), "The API path was refused"),
        (json!({"account": ALICE, "method": "GET", "path": "me?x=1"}), "The API path was refused"),
        (json!({"account": ALICE, "method": "GET", "path": "x".repeat(3 << 20)}), "The API path was refused"),
        (
            json!({"account": ALICE, "method": "POST", "path": "me", "body": "x".repeat(2 << 20)}),
            "larger than",
        ),
        (json!({"account": 5, "method": "GET", "path": "me"}), "must be a string"),
        (json!({"account": ALICE, "method": {"a": 1}, "path": "me"}), "must be a string"),
        (
            json!({"account": ALICE, "method": "GET", "path": "me", "headers": {"Authorization": "Bearer x"}}),
            "set by Latchkey",
        ),
        (
            json!({"account": ALICE, "method": "GET", "path": "me", "headers": {"X-A": "a\r\nHost: evil"}}),
            "not valid",
        ),
        (json!({"account": ALICE}), "needs “method”"),
    ];
    steps_in.extend(hostile.iter().map(|(a, _)| call(a.clone())));
    steps_in.push(json!({"tool": "no_such_tool", "args": {}}));
    let r = env.session(&provider, "agent", None, &[], steps_in);
    let s = steps(&r);
    let echo = &s[0];
    assert_eq!(echo["is_error"], false, "{echo}");
    assert_eq!(echo["served"], json!([{"method": "GET", "path": "/echo/authorization"}]));
    assert_eq!(echo["structured"]["body"]["authorization"], "Bearer [token removed by Latchkey]", "{echo}");
    let audit = env.ok(&["audit", "--json"]);
    let echoed =
        audit.lines().rev().find(|l| l.contains("/echo/authorization")).expect("the echo's audit row");
    assert!(echoed.contains("the answer held the token, removed"), "{echoed}");
    for (i, path) in escapes.iter().enumerate() {
        assert_refused(&s[1 + i], "refused");
        assert!(!s[1 + i]["text"].as_str().unwrap_or("").is_empty(), "{path}");
    }
    for (i, (_, says)) in hostile.iter().enumerate() {
        assert_refused(&s[1 + escapes.len() + i], says);
    }
    assert_refused(s.last().expect("last"), "There is no tool");

    // A redirect from the API to the other origin is returned, not followed.
    provider
        .control(
            "fault",
            json!({"path": "/me", "status": 302, "headers": {"location": format!("http://127.0.0.1:{port}/steal")}, "body": "moved"}),
        )
        .await;
    // The provider drops the connection: a tool error; the account stays active.
    provider.control("fault", json!({"path": "/echo/authorization", "drop": true})).await;
    // An answer over 1 MiB: cut, flagged, and said in the text.
    provider
        .control(
            "fault",
            json!({"path": "/big", "status": 200, "content_type": "application/json",
                   "body": "{\"data\": \"{{fill}}\"}", "fill": {"text": "0123456789abcdef", "times": 100_000}}),
        )
        .await;
    let r = env.session(
        &provider,
        "agent",
        None,
        &[],
        vec![get("me"), get("echo/authorization"), list(), get("big")],
    );
    let s = steps(&r);
    assert_eq!(s[0]["is_error"], false, "{}", s[0]);
    assert_eq!(s[0]["structured"]["status"], 302);
    assert_eq!(
        s[0]["structured"]["location"],
        format!("http://127.0.0.1:{port}/steal"),
        "shown, not followed"
    );
    assert_eq!(s[1]["is_error"], true, "{}", s[1]);
    let down = s[1]["text"].as_str().unwrap_or("");
    assert!(down.contains("could not reach") && down.contains("stays connected"), "{down}");
    assert_eq!(alice_in(&s[2])["status"], "active");
    let big = &s[3]["structured"];
    assert_eq!((&big["truncated"], &big["bytes"]), (&json!(true), &json!(1 << 20)), "{big}");
    assert!(big["body"].is_string(), "a cut JSON body comes as text");
    assert!(
        s[3]["text"].as_str().is_some_and(|t| t.starts_with("Note: the response was cut at 1048576 bytes"))
    );
    std::thread::sleep(Duration::from_millis(300));
    let heard = heard.lock().expect("heard").clone();
    assert!(heard.iter().all(|h| !h.to_ascii_lowercase().contains("authorization")), "{heard:?}");
    assert!(heard.is_empty(), "nothing reached the other origin: {heard:?}");

    // The provider stopped altogether: the same, and the account is still active.
    let tokens = env.tokens(&id);
    drop(provider);
    let stopped = Provider::attach(issuer, Some(env.ca.clone()));
    let r = env.session(&stopped, "agent", None, &[], vec![get("me"), list()]);
    let s = steps(&r);
    assert_eq!(s[0]["served"], Value::Null, "the provider is down");
    assert!(s[0]["text"].as_str().is_some_and(|t| t.contains("stays connected")), "{}", s[0]);
    assert_eq!(alice_in(&s[1])["status"], "active");

    env.assert_no_token_anywhere(&tokens);
}

/// Raw JSON-RPC lines a hostile client could send, straight to `latchkey mcp` (no keychain, no
/// provider): malformed lines, wrong argument types, control characters and a huge string each get
/// an answer, tool failures as `isError` results, and the server stays up to end cleanly.
#[test]
fn hostile_protocol_lines_get_answers_and_never_end_the_server() {
    use std::io::Write;
    let dir = tempfile::tempdir().expect("tmp");
    let mut child = Command::new(env!("CARGO_BIN_EXE_latchkey"))
        .arg("mcp")
        .env("LATCHKEY_DATA_DIR", dir.path().join("data"))
        .env("LATCHKEY_CONNECTIONS", dir.path().join("connections.toml"))
        .env("LATCHKEY_KEYCHAIN_SERVICE", "latchkey-mcp-hostile-test")
        .env("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/bus")
        .env("RUST_BACKTRACE", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut stdin = child.stdin.take().expect("stdin");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let mut send = |v: &str| {
        stdin.write_all(v.as_bytes()).expect("write");
        stdin.write_all(b"\n").expect("write");
    };
    let mut answer = |id: i64| -> Value {
        loop {
            let line = lines.next().expect("an answer").expect("read");
            let v: Value = serde_json::from_str(&line).expect("JSON");
            if v["id"] == id {
                return v;
            }
        }
    };
    send(
        r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"raw","version":"1"}}}"#,
    );
    assert_eq!(answer(1)["result"]["serverInfo"]["name"], "latchkey");
    send(r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#);
    send("this is not JSON");
    send(
        r#"{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"call_api","arguments":"a string"}}"#,
    );
    let two = answer(2);
    assert!(two.get("error").is_some() || two["result"]["isError"] == true, "{two}");
    let tool_errors = [
        json!({"account": [1, 2], "method": null, "path": {"x": 1}}),
        json!({"account": "test:\u{202e}\u{0}\u{7}", "method": "GET", "path": "me"}),
        json!({"account": "x:y", "method": "GET", "path": "me", "query": {"k": "x".repeat(1 << 20)}}),
        json!({"account": "\u{1b}]52;c;aGk=\u{7}", "method": "DELETE", "path": "%00"}),
        json!(null),
    ];
    for (i, args) in tool_errors.iter().enumerate() {
        let id = 10 + i as i64;
        let params = json!({"name": "call_api", "arguments": args});
        send(&json!({"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": params}).to_string());
        let a = answer(id);
        assert_eq!(a["result"]["isError"], true, "{a}");
        let text = a["result"]["content"][0]["text"].as_str().expect("a sentence");
        let unsafe_char = |c: char| c != '\n' && latchkey_core::sanitize::is_unsafe(c);
        assert!(!text.chars().any(unsafe_char), "control or bidi characters echoed: {text:?}");
    }
    send(r#"{"jsonrpc":"2.0","id":20,"method":"tools/call","params":{"name":"list_accounts"}}"#);
    assert_eq!(answer(20)["result"]["structuredContent"]["accounts"], json!([]));
    send(r#"{"jsonrpc":"2.0","id":21,"method":"ping"}"#);
    assert!(answer(21).get("result").is_some(), "still serving");
    drop(stdin);
    let out = child.wait_with_output().expect("wait");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(!String::from_utf8_lossy(&out.stderr).contains("panicked"));
}

fn connect(args: Value) -> Value {
    json!({"tool": "connect_account", "args": args})
}

/// `connect_account`: the person signs in through the client (URL elicitation) in the browser,
/// back to this process's loopback listener, or by device code for a provider that only returns to
/// the app; declining leaves nothing; a client that cannot show a page, an API-key connection and
/// an unknown one get a sentence saying what to do. The agent sees the account, never a token, and
/// still has no access to it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a desktop session: tests/with-session cargo test -- --include-ignored"]
async fn an_agent_asks_the_person_to_connect_an_account_and_gets_the_account_only() {
    let provider = Provider::start();
    provider.control("device/interval", json!({"seconds": 1})).await;
    let env = Env::new(&provider);
    let mut file = std::fs::read_to_string(&env.connections).expect("connections.toml");
    file += &format!(
        "\n[[connection]]\nid = \"forge\"\nissuer = \"{}\"\nclient_id = \"latchkey\"\nscopes = [\"openid\", \"email\"]\n\
         redirect = \"deep-link\"\n\n[[connection]]\nid = \"keys\"\ntype = \"api-key\"\n",
        provider.issuer
    );
    std::fs::write(&env.connections, file).expect("write");

    let r = env.session(
        &provider,
        "helper agent",
        Some(&["browse", "decline", "approve_code"]),
        &[],
        vec![
            connect(json!({"connection": "test"})),
            connect(json!({"connection": "test"})),
            connect(json!({"connection": "forge"})),
            connect(json!({"connection": "keys"})),
            connect(json!({"connection": "nowhere"})),
            list(),
            connect(json!({"connection": "slack"})),
        ],
    );
    let s = steps(&r);
    let browsed = &s[0];
    assert_eq!(browsed["is_error"], false, "{browsed}");
    assert_eq!(browsed["browsers"], json!([0]), "the scripted browser signed in: {browsed}");
    let asked = &browsed["elicitations"][0];
    assert_eq!(asked["mode"], "url", "{asked}");
    assert!(
        asked["url"].as_str().is_some_and(|u| u.starts_with(&format!("{}/auth?", provider.issuer))),
        "{asked}"
    );
    assert!(asked["message"].as_str().is_some_and(|m| m.contains("“helper agent”")), "{asked}");
    // The account exactly as list_accounts shows it.
    assert_eq!(
        browsed["structured"],
        json!({"ref": ALICE, "provider": "Test provider", "identity": "alice@example.test", "status": "active",
               "scopes": ["openid", "email", "profile"], "access": "none", "access_until": null,
               "offline": null, "api_base": format!("{}/", provider.issuer)})
    );
    assert_eq!(alice_in(&s[5]), browsed["structured"], "the same as list_accounts");

    assert_refused(&s[1], "did not sign in");
    let device = &s[2];
    assert_eq!(device["is_error"], false, "{device}");
    assert!(device["elicitations"][0]["url"].as_str().is_some_and(|u| u.contains("user_code=")), "{device}");
    assert!(device["elicitations"][0]["message"].as_str().is_some_and(|m| m.contains("enter the code")));
    assert_eq!(device["structured"]["ref"], "forge:alice@example.test");
    assert_eq!(device["structured"]["status"], "active");
    assert_refused(&s[3], "latchkey accounts add keys:NAME --secret-stdin");
    assert_refused(&s[4], "There is no connection “nowhere” in Latchkey. Ready to connect: test, forge.");
    let listed: Vec<&Value> = s[5]["structured"]["accounts"].as_array().expect("accounts").iter().collect();
    assert!(listed.iter().all(|a| a["access"] == "none"), "connecting grants nothing: {listed:?}");
    assert_refused(
        &s[6],
        "returns to the Latchkey app, not to this agent's session. Ask the person to connect it in the Latchkey app.",
    );

    // The declined sign-in left no account behind; the two sign-ins are audited as this agent's.
    let accounts = env.ok(&["accounts", "list", "--json"]);
    let accounts: Value = serde_json::from_str(&accounts).expect("json");
    let refs: Vec<&str> =
        accounts.as_array().expect("list").iter().filter_map(|a| a["ref"].as_str()).collect();
    assert_eq!(refs.len(), 2, "{accounts}");
    let audit = env.ok(&["audit", "--json"]);
    let connected = audit.lines().filter(|l| l.contains("\"caller\":\"helper agent\"")).count();
    assert!(connected >= 2, "{audit}");

    // The tokens the two sign-ins stored went nowhere the agent can see.
    let tokens: Vec<String> = ["test:alice@example.test", "forge:alice@example.test"]
        .iter()
        .map(|r| env.ok(&["token", r]).trim().to_owned())
        .collect();
    env.assert_no_token_anywhere(&tokens);

    // The client cancels a sign-in the person accepted but never finished: it ends, and its
    // unnamed account goes with it; the session goes on.
    let r = env.session(
        &provider,
        "helper agent",
        Some(&["accept", "accept"]),
        &[],
        vec![
            json!({"tool": "connect_account", "args": {"connection": "test"}, "cancel_after": 2}),
            json!({"tool": "connect_account", "args": {"connection": "forge"}, "cancel_after": 2}),
            list(),
        ],
    );
    let s = steps(&r);
    assert_eq!((&s[0]["cancelled"], &s[1]["cancelled"]), (&json!(true), &json!(true)), "{s:?}");
    assert_eq!(s[2]["is_error"], false);
    std::thread::sleep(Duration::from_millis(500));
    let after = env.ok(&["accounts", "list", "--json"]);
    let after: Value = serde_json::from_str(&after).expect("json");
    assert_eq!(after.as_array().map(Vec::len), Some(2), "no sign-in left behind: {after}");

    // A client without elicitation: the person is told what to run.
    let r = env.session(
        &provider,
        "plain agent",
        None,
        &[],
        vec![connect(json!({"connection": "test"})), connect(json!({"connection": "slack"}))],
    );
    assert_refused(&steps(&r)[0], "latchkey connect test");
    assert_refused(
        &steps(&r)[1],
        "cannot show the person a sign-in page. Ask the person to connect it in the Latchkey app.",
    );
}
