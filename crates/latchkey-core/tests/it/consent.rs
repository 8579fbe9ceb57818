//! The consent desk over loopback (no session): a desk started as the app starts it, asked as
//! `latchkey mcp` and the `ask` policy ask it (`Latchkey::ask_app`), and hostile connections.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use latchkey_core::api::{Access, CONSUMER_MAX};
use latchkey_core::consent::{
    ConsentAnswer, ConsentPurpose, ConsentRequest, DESK_FILE, Desk, LINE_MAX, proof,
};
use latchkey_core::http::Http;
use latchkey_core::model::{AccountId, Actor};
use latchkey_core::secret::{Credential, Secret};
use latchkey_core::store::{AuditAction, AuditOutcome, AuditQuery};
use latchkey_core::vault::MemoryStore;
use latchkey_core::{Hooks, Latchkey, Options};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

async fn open(dir: &Path) -> Arc<Latchkey> {
    let file = dir.join("connections.toml");
    std::fs::write(&file, "[[connection]]\nid = \"crm\"\ntype = \"api-key\"\n").expect("connections");
    let (core, _) = Latchkey::open(Options {
        data_dir: dir.to_owned(),
        connections: latchkey_core::config::load_connections(&file).expect("parse"),
        connections_file: Some(file),
        secrets: Arc::new(MemoryStore::default()),
        redirect_scheme: "io.latchkey.test".into(),
        http: Http::new().expect("http"),
        hooks: Hooks::default(),
    })
    .await
    .expect("open");
    Arc::new(core)
}

async fn account(core: &Latchkey, name: &str) -> AccountId {
    core.add_credential_account("crm", name, Credential::ApiKey(Secret::new("key-value-1234")), &Actor::User)
        .await
        .expect("account")
        .id
}

fn request(consumer: &str, account: &AccountId) -> ConsentRequest {
    ConsentRequest {
        consumer: consumer.into(),
        account: account.clone(),
        access: Access::Read,
        purpose: ConsentPurpose::ApiCall,
    }
}

/// Counts on drop: a question the desk gave up on (or that was answered).
struct Ended(Arc<AtomicUsize>);

impl Drop for Ended {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// A desk in `dir` whose person answers by the consumer's name ("once-…", "always-…", "slow-…"
/// never, else deny), storing the grant for "always" first as the app does; the counts of the
/// questions that reached it and of those that ended.
async fn desk_ending(
    core: &Arc<Latchkey>,
    dir: &Path,
    deadline: Duration,
) -> (Desk, Arc<AtomicUsize>, Arc<AtomicUsize>) {
    let (asked, ended) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let (core, count, end) = (core.clone(), asked.clone(), ended.clone());
    let desk = Desk::start_with_deadline(dir, deadline, move |r: ConsentRequest| {
        count.fetch_add(1, Ordering::SeqCst);
        let (core, end) = (core.clone(), end.clone());
        async move {
            let _ended = Ended(end);
            if r.consumer.starts_with("slow") {
                std::future::pending::<()>().await;
            }
            if r.consumer.starts_with("once") {
                ConsentAnswer::Once
            } else if r.consumer.starts_with("always") {
                core.add_grant(&r.consumer, &r.account, r.access, None, &Actor::User).expect("grant");
                ConsentAnswer::Always
            } else {
                ConsentAnswer::Deny
            }
        }
    })
    .await
    .expect("desk");
    (desk, asked, ended)
}

async fn desk(core: &Arc<Latchkey>, dir: &Path, deadline: Duration) -> (Desk, Arc<AtomicUsize>) {
    let (desk, asked, _) = desk_ending(core, dir, deadline).await;
    (desk, asked)
}

fn asks(core: &Latchkey) -> Vec<(AuditOutcome, String)> {
    core.audit_trail(&AuditQuery::default())
        .expect("audit")
        .into_iter()
        .filter(|e| e.action == AuditAction::ConsentAsked)
        .map(|e| (e.outcome, e.detail))
        .collect()
}

/// Sends `bytes` to the desk as a raw client and returns its first reply line.
async fn raw(port: u16, bytes: &[u8]) -> String {
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.expect("connect");
    // The desk may stop reading (and answer) before all of an oversize line is written.
    let _ = stream.write_all(bytes).await;
    let mut line = String::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), BufReader::new(stream).read_line(&mut line))
        .await
        .expect("a reply in time");
    line
}

/// A request line as an asker who knows `cookie` writes it.
fn line_with(cookie: &str, consumer: &str, account: &str, access: &str) -> String {
    let nonce = "n".repeat(64);
    let line = serde_json::json!({
        "nonce": nonce, "auth": proof(cookie, &[&nonce]), "consumer": consumer, "account": account,
        "access": access, "purpose": "token"
    });
    format!("{line}\n")
}

fn cookie_of(dir: &Path) -> String {
    let address: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join(DESK_FILE)).expect("address file")).expect("json");
    address["cookie"].as_str().expect("cookie").to_owned()
}

#[tokio::test]
async fn once_always_and_deny_reach_the_asker_and_only_always_stores_a_grant() {
    let dir = tempfile::tempdir().expect("tmp");
    let core = open(dir.path()).await;
    let acc = account(&core, "work").await;
    let (desk, asked) = desk(&core, dir.path(), Duration::from_secs(30)).await;

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join(DESK_FILE)).expect("file").permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "the address file is the user's only");
        assert_eq!(cookie_of(dir.path()).len(), 64, "256 bits, hex");
    }

    assert_eq!(core.ask_app(&request("once-agent", &acc)).await.expect("ask"), Some(ConsentAnswer::Once));
    assert!(core.grant_for("once-agent", &acc).expect("grant").is_none(), "once stores nothing");

    assert_eq!(core.ask_app(&request("always-agent", &acc)).await.expect("ask"), Some(ConsentAnswer::Always));
    let grant = core.grant_for("always-agent", &acc).expect("grant").expect("always stores a grant");
    assert_eq!((grant.access, grant.until), (Access::Read, None));

    assert_eq!(core.ask_app(&request("deny-agent", &acc)).await.expect("ask"), Some(ConsentAnswer::Deny));
    assert!(core.grant_for("deny-agent", &acc).expect("grant").is_none());
    assert_eq!(asked.load(Ordering::SeqCst), 3);

    let rows = asks(&core);
    assert_eq!(rows.len(), 3, "{rows:?}");
    assert_eq!(rows[0].0, AuditOutcome::Ok);
    assert!(rows[0].1.contains("“once-agent”: read access to call its API → allowed once"), "{}", rows[0].1);
    assert!(rows[1].1.ends_with("→ always allowed"), "{}", rows[1].1);
    assert_eq!(rows[2].0, AuditOutcome::Refused);
    assert!(rows[2].1.ends_with("→ denied"), "{}", rows[2].1);

    desk.stop().await;
    assert!(!dir.path().join(DESK_FILE).exists(), "stopping removes the address file");
    assert_eq!(core.ask_app(&request("once-agent", &acc)).await.expect("ask"), None);
}

#[tokio::test]
async fn an_asker_without_the_cookie_is_refused_and_never_reaches_the_person() {
    let dir = tempfile::tempdir().expect("tmp");
    let core = open(dir.path()).await;
    let acc = account(&core, "work").await;
    let (desk, asked) = desk(&core, dir.path(), Duration::from_secs(30)).await;
    let cookie = cookie_of(dir.path());
    let mut wrong = cookie.clone().into_bytes();
    wrong[63] = if wrong[63] == b'0' { b'1' } else { b'0' };
    for c in [String::from_utf8(wrong).expect("hex"), String::new(), cookie[..32].to_owned()] {
        let reply = raw(desk.port(), line_with(&c, "once-x", acc.as_str(), "read").as_bytes()).await;
        assert!(reply.contains("\"error\":\"not authenticated\""), "{reply}");
    }
    // The cookie itself is not a proof of it; neither is a short nonce.
    let bare = serde_json::json!({
        "nonce": "n".repeat(64), "auth": cookie, "consumer": "once-x", "account": acc.as_str(),
        "access": "read", "purpose": "token"
    });
    assert!(raw(desk.port(), format!("{bare}\n").as_bytes()).await.contains("not authenticated"));
    let short = serde_json::json!({
        "nonce": "n", "auth": proof(&cookie, &["n"]), "consumer": "once-x", "account": acc.as_str(),
        "access": "read", "purpose": "token"
    });
    assert!(raw(desk.port(), format!("{short}\n").as_bytes()).await.contains("not authenticated"));
    assert_eq!(asked.load(Ordering::SeqCst), 0, "the handler was never called");

    // The same line with the right proof is asked.
    let reply = raw(desk.port(), line_with(&cookie, "once-x", acc.as_str(), "read").as_bytes()).await;
    assert_eq!(reply.trim(), r#"{"status":"asking"}"#);
}

/// A listener that took the port of an app that is gone, behind its left-over address file: it
/// never learns the cookie, and its answers, without a proof of it, are not believed.
#[tokio::test]
async fn an_impostor_on_the_desks_port_learns_nothing_and_cannot_answer() {
    let dir = tempfile::tempdir().expect("tmp");
    let core = open(dir.path()).await;
    let acc = account(&core, "work").await;
    let cookie = "c".repeat(64);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    std::fs::write(
        dir.path().join(DESK_FILE),
        format!("{{\"port\":{port},\"cookie\":\"{cookie}\",\"pid\":1}}"),
    )
    .expect("write");
    let forged_answers = [
        r#"{"answer":"once"}"#.to_owned(),
        r#"{"answer":"always","auth":"00"}"#.to_owned(),
        // A proof with a guessed cookie.
        format!(r#"{{"answer":"once","auth":"{}"}}"#, proof(&"d".repeat(64), &[&"n".repeat(64), "once"])),
    ];
    let impostor = tokio::spawn(async move {
        let mut heard = Vec::new();
        for answer in forged_answers {
            let (stream, _) = listener.accept().await.expect("accept");
            let mut reader = BufReader::new(stream);
            let mut line = String::new();
            reader.read_line(&mut line).await.expect("read");
            heard.push(line);
            reader
                .get_mut()
                .write_all(format!("{{\"status\":\"asking\"}}\n{answer}\n").as_bytes())
                .await
                .expect("write");
        }
        heard
    });
    for _ in 0..3 {
        let e = core.ask_app(&request("once-x", &acc)).await.expect_err("an impostor's answer");
        assert!(e.to_string().contains("does not prove it is Latchkey's app"), "{e}");
    }
    for line in impostor.await.expect("impostor") {
        assert!(!line.contains(&cookie), "the cookie went on the wire: {line}");
        assert!(line.contains("\"auth\""), "{line}");
    }
    assert!(core.grant_for("once-x", &acc).expect("grant").is_none());
    let rows = asks(&core);
    assert_eq!(rows.len(), 3, "{rows:?}");
    assert!(rows.iter().all(|(o, _)| *o == AuditOutcome::Failed));
}

#[tokio::test]
async fn no_desk_or_a_stale_or_garbled_address_means_the_app_is_not_running() {
    let dir = tempfile::tempdir().expect("tmp");
    let core = open(dir.path()).await;
    let acc = account(&core, "work").await;
    assert_eq!(core.ask_app(&request("once-x", &acc)).await.expect("no file"), None);

    // A file left by an app that is gone: nothing listens on its port.
    let port = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port();
    let file = dir.path().join(DESK_FILE);
    std::fs::write(&file, format!("{{\"port\":{port},\"cookie\":\"{}\",\"pid\":1}}", "a".repeat(64)))
        .expect("write");
    assert_eq!(core.ask_app(&request("once-x", &acc)).await.expect("stale file"), None);
    std::fs::write(&file, b"\x00garbage{").expect("write");
    assert_eq!(core.ask_app(&request("once-x", &acc)).await.expect("garbled file"), None);

    let rows = asks(&core);
    assert_eq!(rows.len(), 3, "{rows:?}");
    assert!(rows.iter().all(|(o, d)| *o == AuditOutcome::Failed && d.ends_with("the app is not running")));
}

#[tokio::test]
async fn a_command_line_consumer_with_the_longest_path_is_asked_like_any_other() {
    let dir = tempfile::tempdir().expect("tmp");
    let core = open(dir.path()).await;
    let acc = account(&core, "work").await;
    let (_desk, asked) = desk(&core, dir.path(), Duration::from_secs(30)).await;
    // The `ask` policy's consumer is the calling program's path: up to PATH_MAX (4096 bytes with
    // its NUL), and every byte of it the longest on the wire (a quote JSON-escapes to two, 🔑 is four).
    const PATH_MAX: usize = 4096;
    let head = "once-/home/someone/.local/share/tools/";
    let tail: String =
        ["\"", "🔑"].iter().cycle().take(PATH_MAX - 1 - head.chars().count()).copied().collect();
    let path = format!("{head}{tail}");
    assert_eq!(path.chars().count(), PATH_MAX - 1);
    let mut req = request(&path, &acc);
    req.purpose = ConsentPurpose::Token;
    req.access = Access::Full;
    assert_eq!(core.ask_app(&req).await.expect("ask"), Some(ConsentAnswer::Once));
    assert_eq!(asked.load(Ordering::SeqCst), 1);
    let too_long = request(&"x".repeat(CONSUMER_MAX + 1), &acc);
    assert!(core.ask_app(&too_long).await.is_err_and(|e| e.to_string().contains("characters")));
    assert_eq!(asked.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn oversize_garbage_and_silent_connections_are_refused_and_the_desk_goes_on() {
    let dir = tempfile::tempdir().expect("tmp");
    let core = open(dir.path()).await;
    let acc = account(&core, "work").await;
    let (desk, asked) = desk(&core, dir.path(), Duration::from_secs(30)).await;
    let cookie = cookie_of(dir.path());

    let long = line_with(&cookie, &"x".repeat(LINE_MAX), acc.as_str(), "read");
    assert!(raw(desk.port(), long.as_bytes()).await.contains("too long"));
    let cases: [&[u8]; 6] = [
        b"not json\n",
        b"\xff\xfe\x00\n",
        b"{}\n",
        b"[1,2,3]\n",
        b"{\"nonce\":1}\n",
        b"no newline: the writer then says nothing",
    ];
    for bytes in cases {
        let reply = raw(desk.port(), bytes).await;
        assert!(reply.contains("\"error\""), "{bytes:?} → {reply}");
    }
    // Valid JSON with the right proof, but a consumer with control characters, a bad account or
    // an unknown access.
    for (consumer, account, access) in [
        ("evil\u{1b}[31m", acc.to_string(), "read"),
        ("once-x", "not-an-id".into(), "read"),
        ("once-x", acc.to_string(), "admin"),
    ] {
        let reply = raw(desk.port(), line_with(&cookie, consumer, &account, access).as_bytes()).await;
        assert!(reply.contains("\"error\""), "{reply}");
    }
    assert_eq!(asked.load(Ordering::SeqCst), 0);
    assert_eq!(core.ask_app(&request("once-x", &acc)).await.expect("ask"), Some(ConsentAnswer::Once));
}

#[tokio::test]
async fn no_answer_by_the_deadline_is_deny_and_an_asker_that_leaves_withdraws_the_question() {
    let dir = tempfile::tempdir().expect("tmp");
    let core = open(dir.path()).await;
    let acc = account(&core, "work").await;
    let (desk, asked) = desk(&core, dir.path(), Duration::from_millis(300)).await;
    let started = std::time::Instant::now();
    assert_eq!(core.ask_app(&request("slow-agent", &acc)).await.expect("ask"), Some(ConsentAnswer::Deny));
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert!(core.grant_for("slow-agent", &acc).expect("grant").is_none());
    assert_eq!(asked.load(Ordering::SeqCst), 1);
    drop(desk);
    assert!(!dir.path().join(DESK_FILE).exists(), "dropping the desk removes its file too");

    let (desk, asked, ended) = desk_ending(&core, dir.path(), Duration::from_secs(60)).await;
    let line = line_with(&cookie_of(dir.path()), "slow-leaver", acc.as_str(), "full");
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", desk.port())).await.expect("connect");
    stream.write_all(line.as_bytes()).await.expect("write");
    let mut reader = BufReader::new(stream);
    let mut first = String::new();
    reader.read_line(&mut first).await.expect("read");
    assert_eq!(first.trim(), r#"{"status":"asking"}"#);
    assert_eq!((asked.load(Ordering::SeqCst), ended.load(Ordering::SeqCst)), (1, 0));
    drop(reader);
    let gone = std::time::Instant::now();
    while ended.load(Ordering::SeqCst) == 0 {
        assert!(gone.elapsed() < Duration::from_secs(5), "the question outlived its asker");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn questions_past_the_connection_bound_are_refused_as_busy() {
    let dir = tempfile::tempdir().expect("tmp");
    let core = open(dir.path()).await;
    let acc = account(&core, "work").await;
    let (desk, asked) = desk(&core, dir.path(), Duration::from_secs(60)).await;
    let line = line_with(&cookie_of(dir.path()), "slow-x", acc.as_str(), "read");
    let mut open = Vec::new();
    for _ in 0..latchkey_core::consent::CONNECTIONS_MAX {
        let stream = tokio::net::TcpStream::connect(("127.0.0.1", desk.port())).await.expect("connect");
        let mut reader = BufReader::new(stream);
        reader.get_mut().write_all(line.as_bytes()).await.expect("write");
        let mut first = String::new();
        reader.read_line(&mut first).await.expect("read");
        assert_eq!(first.trim(), r#"{"status":"asking"}"#);
        open.push(reader);
    }
    assert!(raw(desk.port(), line.as_bytes()).await.contains("busy"));
    assert_eq!(asked.load(Ordering::SeqCst), latchkey_core::consent::CONNECTIONS_MAX);
    drop(open);
    // Their slots come back once the desk sees them gone.
    let freed = std::time::Instant::now();
    loop {
        let reply = raw(desk.port(), line.as_bytes()).await;
        if reply.contains("asking") {
            break;
        }
        assert!(freed.elapsed() < Duration::from_secs(5), "{reply}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn concurrent_asks_each_get_their_own_answer() {
    let dir = tempfile::tempdir().expect("tmp");
    let core = open(dir.path()).await;
    let acc = account(&core, "work").await;
    let (_desk, asked) = desk(&core, dir.path(), Duration::from_secs(30)).await;
    let names: Vec<String> = (0..12).map(|i| format!("{}-{i}", ["once", "always", "deny"][i % 3])).collect();
    let answers = futures_join(names.iter().map(|n| {
        let (core, r) = (core.clone(), request(n, &acc));
        async move { core.ask_app(&r).await.expect("ask") }
    }))
    .await;
    for (name, answer) in names.iter().zip(answers) {
        let want = match &name[..2] {
            "on" => ConsentAnswer::Once,
            "al" => ConsentAnswer::Always,
            _ => ConsentAnswer::Deny,
        };
        assert_eq!(answer, Some(want), "{name}");
        assert_eq!(
            core.grant_for(name, &acc).expect("grant").is_some(),
            want == ConsentAnswer::Always,
            "{name}"
        );
    }
    assert_eq!(asked.load(Ordering::SeqCst), 12);
    assert_eq!(asks(&core).len(), 12);
}

#[tokio::test]
async fn asks_about_an_unknown_account_or_a_bad_consumer_fail_before_the_app() {
    let dir = tempfile::tempdir().expect("tmp");
    let core = open(dir.path()).await;
    let acc = account(&core, "work").await;
    let (_desk, asked) = desk(&core, dir.path(), Duration::from_secs(30)).await;
    let missing = AccountId::random();
    assert!(core.ask_app(&request("once-x", &missing)).await.is_err());
    assert!(core.ask_app(&request("bad\nname", &acc)).await.is_err());
    assert!(core.ask_app(&request("", &acc)).await.is_err());
    assert_eq!(asked.load(Ordering::SeqCst), 0);
}

/// Runs the futures concurrently, their outputs in order.
async fn futures_join<F: Future + Send + 'static>(futures: impl Iterator<Item = F>) -> Vec<F::Output>
where
    F::Output: Send + 'static,
{
    let handles: Vec<_> = futures.map(tokio::spawn).collect();
    let mut out = Vec::new();
    for h in handles {
        out.push(h.await.expect("task"));
    }
    out
}

/// Counts the wakes of a resting desk and, at the first, starts "the window's" desk after `delay`
/// (its process starting), which rewrites the address file, as `latchkey-tray` exec-ing
/// `latchkey-desktop` does.
async fn resting_desk_waking_a_window(
    core: &Arc<Latchkey>,
    dir: &Path,
    delay: Duration,
) -> (Desk, Arc<AtomicUsize>, tokio::sync::oneshot::Receiver<(Desk, Arc<AtomicUsize>)>) {
    let wakes = Arc::new(AtomicUsize::new(0));
    let (window, opened) = tokio::sync::oneshot::channel();
    let window = std::sync::Mutex::new(Some(window));
    let (core, dir_owned, count) = (core.clone(), dir.to_owned(), wakes.clone());
    let resting = Desk::start_resting(dir, move || {
        count.fetch_add(1, Ordering::SeqCst);
        if let Some(window) = window.lock().expect("lock").take() {
            let (core, dir) = (core.clone(), dir_owned.clone());
            tokio::spawn(async move {
                tokio::time::sleep(delay).await;
                let _ = window.send(desk(&core, &dir, Duration::from_secs(30)).await);
            });
        }
    })
    .await
    .expect("resting desk");
    (resting, wakes, opened)
}

/// Asks for `acc`, waiting at most `wake_limit` for a window; the app must not answer. How long
/// the asking took.
async fn unanswered_within(dir: &Path, acc: &AccountId, wake_limit: Duration) -> Duration {
    let started = std::time::Instant::now();
    let answer =
        latchkey_core::consent::ask_waking(dir, &request("once-x", acc), Duration::from_secs(5), wake_limit)
            .await
            .expect("ask");
    assert_eq!(answer, None);
    started.elapsed()
}

fn address_of(dir: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(dir.join(DESK_FILE)).expect("address file")).expect("json")
}

#[tokio::test]
async fn a_resting_app_opens_its_window_and_the_window_asks_and_answers() {
    let dir = tempfile::tempdir().expect("tmp");
    let core = open(dir.path()).await;
    let acc = account(&core, "work").await;
    let (resting, wakes, opened) =
        resting_desk_waking_a_window(&core, dir.path(), Duration::from_millis(300)).await;
    let first = address_of(dir.path());
    assert_eq!(first["wakes"], true, "the resting desk says so: {first}");

    let answer = core.ask_app(&request("always-agent", &acc)).await.expect("ask");
    assert_eq!(answer, Some(ConsentAnswer::Always), "the window's desk answered");
    assert_eq!(wakes.load(Ordering::SeqCst), 1);
    let (window, asked) = opened.await.expect("the window's desk started");
    assert_eq!(asked.load(Ordering::SeqCst), 1, "the question reached the window's person once");
    assert!(core.grant_for("always-agent", &acc).expect("grant").is_some());
    let now = address_of(dir.path());
    assert_ne!(now["cookie"], first["cookie"]);
    assert!(now.get("wakes").is_none(), "the window's desk does not wake: {now}");

    // The window's desk, now in the file, is asked straight away.
    assert_eq!(core.ask_app(&request("once-agent", &acc)).await.expect("ask"), Some(ConsentAnswer::Once));
    assert_eq!((wakes.load(Ordering::SeqCst), asked.load(Ordering::SeqCst)), (1, 2));
    let rows = asks(&core);
    assert_eq!(rows.len(), 2, "one audit row per question, not per desk: {rows:?}");
    assert!(rows[0].1.ends_with("→ always allowed"), "{}", rows[0].1);

    // The resting desk (its process became the window's) leaves the window's file alone.
    drop(resting);
    assert_eq!(address_of(dir.path())["cookie"], now["cookie"]);
    drop(window);
}

#[tokio::test]
async fn concurrent_askers_of_a_resting_app_each_get_the_windows_answer() {
    let dir = tempfile::tempdir().expect("tmp");
    let core = open(dir.path()).await;
    let acc = account(&core, "work").await;
    let (_resting, wakes, opened) =
        resting_desk_waking_a_window(&core, dir.path(), Duration::from_millis(400)).await;
    let names: Vec<String> = (0..6).map(|i| format!("{}-{i}", ["once", "deny"][i % 2])).collect();
    let answers = futures_join(names.iter().map(|n| {
        let (core, r) = (core.clone(), request(n, &acc));
        async move { core.ask_app(&r).await.expect("ask") }
    }))
    .await;
    for (name, answer) in names.iter().zip(answers) {
        let want = if name.starts_with("once") { ConsentAnswer::Once } else { ConsentAnswer::Deny };
        assert_eq!(answer, Some(want), "{name}");
    }
    let (_window, asked) = opened.await.expect("window");
    assert_eq!(asked.load(Ordering::SeqCst), 6, "every question reached the window");
    assert!((1..=6).contains(&wakes.load(Ordering::SeqCst)));
}

/// A stand-in resting desk's address file for `port` and `pid`, with `cookie`.
fn resting_file(dir: &Path, port: u16, pid: u32, cookie: &str) {
    std::fs::write(
        dir.join(DESK_FILE),
        format!("{{\"port\":{port},\"cookie\":\"{cookie}\",\"pid\":{pid},\"wakes\":true}}"),
    )
    .expect("write");
}

/// The window's desk appears in the file after `delay`.
fn window_after(
    core: &Arc<Latchkey>,
    dir: &Path,
    delay: Duration,
) -> tokio::task::JoinHandle<(Desk, Arc<AtomicUsize>)> {
    let (core, dir) = (core.clone(), dir.to_owned());
    tokio::spawn(async move {
        tokio::time::sleep(delay).await;
        desk(&core, &dir, Duration::from_secs(30)).await
    })
}

#[tokio::test]
async fn a_resting_desk_that_becomes_the_window_mid_question_is_waited_for() {
    let dir = tempfile::tempdir().expect("tmp");
    let core = open(dir.path()).await;
    let acc = account(&core, "work").await;
    let me = std::process::id();

    // Its process exec-s while a question is on the wire: the connection closes without a reply.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    resting_file(dir.path(), listener.local_addr().expect("addr").port(), me, &"c".repeat(64));
    let execs = tokio::spawn(async move {
        let (stream, _) = listener.accept().await.expect("accept");
        let mut line = String::new();
        BufReader::new(stream).read_line(&mut line).await.expect("read");
        line
    });
    let window = window_after(&core, dir.path(), Duration::from_millis(300));
    assert_eq!(core.ask_app(&request("once-a", &acc)).await.expect("ask"), Some(ConsentAnswer::Once));
    assert!(!execs.await.expect("resting").contains(&"c".repeat(64)), "the cookie went on the wire");
    let (window, asked) = window.await.expect("window");
    assert_eq!(asked.load(Ordering::SeqCst), 1);
    drop(window);

    // Its port already closed (the exec happened), its pid alive: the window's desk is on the way.
    let port = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port();
    resting_file(dir.path(), port, me, &"d".repeat(64));
    let window = window_after(&core, dir.path(), Duration::from_millis(300));
    assert_eq!(core.ask_app(&request("deny-b", &acc)).await.expect("ask"), Some(ConsentAnswer::Deny));
    drop(window.await.expect("window"));
}

#[tokio::test]
async fn a_resting_app_whose_window_never_comes_is_not_running_within_the_bound() {
    let dir = tempfile::tempdir().expect("tmp");
    let core = open(dir.path()).await;
    let acc = account(&core, "work").await;
    let wakes = Arc::new(AtomicUsize::new(0));
    let count = wakes.clone();
    let resting = Desk::start_resting(dir.path(), move || {
        count.fetch_add(1, Ordering::SeqCst);
    })
    .await
    .expect("resting");
    let limit = Duration::from_millis(600);
    let took = unanswered_within(dir.path(), &acc, limit).await;
    assert!(took >= limit && took < limit + Duration::from_secs(2), "{took:?}");
    assert_eq!(wakes.load(Ordering::SeqCst), 1, "it was asked to open its window once");

    // The resting desk keeps the window's protections: no cookie, no window; garbage is refused.
    let cookie = cookie_of(dir.path());
    let reply =
        raw(resting.port(), line_with(&"0".repeat(64), "once-x", acc.as_str(), "read").as_bytes()).await;
    assert!(reply.contains("not authenticated"), "{reply}");
    for bytes in [&b"not json\n"[..], b"{}\n", b"no newline"] {
        assert!(raw(resting.port(), bytes).await.contains("\"error\""));
    }
    let long = line_with(&cookie, &"x".repeat(LINE_MAX), acc.as_str(), "read");
    assert!(raw(resting.port(), long.as_bytes()).await.contains("too long"));
    assert_eq!(wakes.load(Ordering::SeqCst), 1);
    // A proven request is told `waking`, with a proof, and never an answer.
    let reply = raw(resting.port(), line_with(&cookie, "once-x", acc.as_str(), "read").as_bytes()).await;
    let reply: serde_json::Value = serde_json::from_str(&reply).expect("json");
    assert_eq!(reply["status"], "waking");
    assert_eq!(reply["auth"].as_str(), Some(proof(&cookie, &["n".repeat(64).as_str(), "waking"]).as_str()));
    assert!(reply.get("answer").is_none());
    assert_eq!(wakes.load(Ordering::SeqCst), 2);

    // A resting file whose process is gone (killed in the tray): not running, at once.
    drop(resting);
    let mut child = std::process::Command::new("true").spawn().expect("spawn");
    let dead = child.id();
    child.wait().expect("wait");
    let port = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port();
    resting_file(dir.path(), port, dead, &"e".repeat(64));
    let started = std::time::Instant::now();
    assert_eq!(core.ask_app(&request("once-x", &acc)).await.expect("ask"), None);
    assert!(started.elapsed() < Duration::from_secs(2), "{:?}", started.elapsed());
}

/// A listener on a resting file's port that says `waking` without knowing the cookie is not
/// believed.
#[tokio::test]
async fn an_impostor_that_says_waking_without_the_proof_is_not_believed() {
    let dir = tempfile::tempdir().expect("tmp");
    let core = open(dir.path()).await;
    let acc = account(&core, "work").await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    resting_file(
        dir.path(),
        listener.local_addr().expect("addr").port(),
        std::process::id(),
        &"c".repeat(64),
    );
    tokio::spawn(async move {
        let (stream, _) = listener.accept().await.expect("accept");
        let mut reader = BufReader::new(stream);
        let mut line = String::new();
        reader.read_line(&mut line).await.expect("read");
        reader.get_mut().write_all(b"{\"status\":\"waking\",\"auth\":\"00\"}\n").await.expect("write");
    });
    let e = core.ask_app(&request("once-x", &acc)).await.expect_err("an impostor");
    assert!(e.to_string().contains("does not prove it is Latchkey's app"), "{e}");
}

/// The window closes to the tray: its process becomes `latchkey-tray` (the same pid), whose
/// resting desk comes up a moment later. A program asking in between waits for it, and the tray
/// brings the window back to answer.
#[tokio::test]
async fn a_question_during_the_windows_hand_over_to_the_tray_waits_for_the_tray() {
    let dir = tempfile::tempdir().expect("tmp");
    let core = open(dir.path()).await;
    let acc = account(&core, "work").await;
    let (window, _) = desk(&core, dir.path(), Duration::from_secs(30)).await;
    let before = address_of(dir.path());
    window.hand_over();
    let handed = address_of(dir.path());
    assert_eq!(
        (handed["wakes"].clone(), handed["pid"].clone()),
        (serde_json::json!(true), before["pid"].clone())
    );
    assert_ne!(handed["cookie"], before["cookie"]);

    let tray = {
        let (core, dir) = (core.clone(), dir.path().to_owned());
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(300)).await;
            resting_desk_waking_a_window(&core, &dir, Duration::from_millis(300)).await
        })
    };
    assert_eq!(core.ask_app(&request("once-agent", &acc)).await.expect("ask"), Some(ConsentAnswer::Once));
    let (_resting, wakes, opened) = tray.await.expect("tray");
    assert_eq!(wakes.load(Ordering::SeqCst), 1, "the tray opened the window");
    let (_window, asked) = opened.await.expect("the window's desk");
    assert_eq!(asked.load(Ordering::SeqCst), 1);
}

/// A hand-over whose tray never starts a desk ends within the bound; a tray that cannot start one
/// withdraws the handed-over address, and programs hear at once that the app is not running.
#[tokio::test]
async fn a_hand_over_without_a_next_desk_is_not_running() {
    let dir = tempfile::tempdir().expect("tmp");
    let core = open(dir.path()).await;
    let acc = account(&core, "work").await;
    desk(&core, dir.path(), Duration::from_secs(30)).await.0.hand_over();
    let limit = Duration::from_millis(500);
    assert!(unanswered_within(dir.path(), &acc, limit).await >= limit, "it waited for the next desk");

    latchkey_core::consent::withdraw(dir.path());
    assert!(!dir.path().join(DESK_FILE).exists());
    let started = std::time::Instant::now();
    assert_eq!(core.ask_app(&request("once-x", &acc)).await.expect("ask"), None);
    assert!(started.elapsed() < limit, "{:?}", started.elapsed());
}
