//! The loopback listener under attack from this computer, against the real listener on 127.0.0.1,
//! the real test provider and the real keychain: requests that are not the sign-in's answer are
//! refused without ending it, oversize and slow ones are cut off, and the process's memory and
//! thread count stay bounded; then the real callback completes the sign-in.
//!
//! The tests here read the process's own figures (/proc/self/status), so they take turns.

use crate::support;

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::Duration;

use latchkey_core::model::{AccountStatus, Actor};
use latchkey_core::oauth::loopback::{MAX_CONNECTIONS, READ_TIMEOUT};
use latchkey_core::vault::SecretStore;
use latchkey_core::{Error, Hooks, Latchkey};
use support::Provider;

const SCOPES: &[&str] = &["openid", "email", "profile", "demo.read"];
const CALLBACK: &str = "/oauth/test/callback";

static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// A core whose "test" connection redirects to the loopback listener.
async fn loopback_core(provider: &Provider) -> (Latchkey, Arc<dyn SecretStore>, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut spec = support::spec(Some(provider), SCOPES, dir.path());
    spec.redirect = "loopback";
    let (core, _, keychain) = support::open(&spec, Hooks::default()).await;
    (core, keychain, dir)
}

/// The listener's port and the sign-in's `state`, from the authorization URL.
fn port_and_state(url: &url::Url) -> (u16, String) {
    let param = |name: &str| url.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned());
    let redirect = url::Url::parse(&param("redirect_uri").expect("redirect_uri")).expect("url");
    assert_eq!(redirect.host_str(), Some("127.0.0.1"));
    (redirect.port().expect("port"), param("state").expect("state"))
}

/// VmRSS (KiB) and Threads of this process.
#[derive(Clone, Copy, Debug)]
struct Figures {
    rss_kib: u64,
    threads: u64,
}

fn figures() -> Figures {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no {name} in /proc/self/status"))
    };
    Figures { rss_kib: field("VmRSS:"), threads: field("Threads:") }
}

fn connect(port: u16) -> TcpStream {
    let s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(20))).expect("timeout");
    s.set_write_timeout(Some(Duration::from_secs(20))).expect("timeout");
    s
}

/// Sends `request` and reads the answer until the listener closes (what arrived before a reset
/// counts).
fn send(port: u16, request: &[u8]) -> String {
    let mut s = connect(port);
    let _ = s.write_all(request);
    read_answer(&mut s)
}

fn read_answer(s: &mut TcpStream) -> String {
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

fn get(port: u16, target: &str, host: &str) -> String {
    send(port, format!("GET {target} HTTP/1.1\r\nHost: {host}\r\nAccept: text/html\r\n\r\n").as_bytes())
}

fn status_line(answer: &str) -> &str {
    answer.lines().next().unwrap_or_default()
}

/// Whether the listener has closed `s` (without waiting).
fn closed(s: &mut TcpStream) -> bool {
    s.set_nonblocking(true).expect("nonblocking");
    let closed = match s.read(&mut [0u8; 1]) {
        Ok(0) => true,
        Ok(_) => panic!("the listener sent something to an idle connection"),
        Err(e) if e.kind() == ErrorKind::WouldBlock => false,
        Err(_) => true,
    };
    s.set_nonblocking(false).expect("blocking");
    closed
}

/// Runs `attack` (blocking) beside `finish_loopback`; if the attack fails, the sign-in is cancelled
/// so that the listener stops too, and the attack's panic is the test's.
async fn beside_the_sign_in<T: Send + 'static>(
    core: &Latchkey,
    link: latchkey_core::AuthorizationLink,
    attack: impl FnOnce() -> T + Send + 'static,
) -> (Result<latchkey_core::model::Account, latchkey_core::CallbackError>, T) {
    let wait = link.loopback.expect("a loopback sign-in");
    let account = link.account.id.clone();
    let attacker = async {
        let outcome = tokio::task::spawn_blocking(attack).await;
        if outcome.is_err() {
            core.cancel_authorization(&account);
        }
        outcome
    };
    let (done, attacked) = tokio::join!(core.finish_loopback(wait), attacker);
    match attacked {
        Ok(report) => (done, report),
        Err(e) => std::panic::resume_unwind(e.into_panic()),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a desktop session: tests/with-session cargo test -- --include-ignored"]
async fn the_listener_outlasts_hostile_requests_and_the_real_callback_still_completes() {
    let _turn = ONE_AT_A_TIME.lock().await;
    // It measures the process's threads and memory: no other test may run beside it.
    let _alone = support::alone();
    let provider = Provider::start();
    let (core, keychain, _dir) = loopback_core(&provider).await;
    let link = core.get_authorization_link("test", None, &Actor::User).await.expect("link");
    let (port, state) = port_and_state(&link.url);
    let url = link.url.to_string();
    let browser = Provider::attach(provider.issuer.clone(), provider.ca_file.clone());

    let (done, (before, during, after)) = beside_the_sign_in(&core, link, move || {
        let before = figures();
        let host = format!("127.0.0.1:{port}");
        // Not this sign-in's answer: refused, and the sign-in goes on. Each carries a code that
        // would end the sign-in with a failed exchange if it were taken.
        for (what, target, host, status) in [
            ("an unknown state", format!("{CALLBACK}?code=forged&state=forged"), host.clone(), 400),
            ("a missing code", format!("{CALLBACK}?state={state}"), host.clone(), 400),
            (
                "a repeated state",
                format!("{CALLBACK}?code=forged&state={state}&state={state}"),
                host.clone(),
                400,
            ),
            ("another path", format!("/oauth/other/callback?code=forged&state={state}"), host.clone(), 404),
            (
                "a rebound name",
                format!("{CALLBACK}?code=forged&state={state}"),
                format!("evil.example:{port}"),
                400,
            ),
            (
                "another port",
                format!("{CALLBACK}?code=forged&state={state}"),
                format!("127.0.0.1:{}", port + 1),
                400,
            ),
        ] {
            let answer = get(port, &target, &host);
            assert!(status_line(&answer).starts_with(&format!("HTTP/1.1 {status} ")), "{what}: {answer}");
        }
        let answer = send(
            port,
            format!("POST {CALLBACK}?code=forged&state={state} HTTP/1.1\r\nHost: {host}\r\n\r\n").as_bytes(),
        );
        assert!(status_line(&answer).starts_with("HTTP/1.1 405 "), "a POST: {answer}");

        // A 1 MiB query: 414 once the request line passes the bound.
        let huge = format!(
            "GET {CALLBACK}?code={}&state={state} HTTP/1.1\r\nHost: {host}\r\n\r\n",
            "q".repeat(1 << 20)
        );
        let answer = send(port, huge.as_bytes());
        drop(huge);
        assert!(status_line(&answer).starts_with("HTTP/1.1 414 "), "a 1 MiB query: {}", status_line(&answer));

        // A header streamed without CRLF: 431 at the bound, then the connection is closed, long
        // before 200 MB are sent.
        let mut s = connect(port);
        write!(s, "GET {CALLBACK}?code=forged&state={state} HTTP/1.1\r\nHost: {host}\r\nX-Stream: ")
            .expect("write");
        let chunk = [b'a'; 64 * 1024];
        let mut sent = 0usize;
        while sent < 200 << 20 {
            match s.write(&chunk) {
                Ok(n) => sent += n,
                Err(_) => break,
            }
        }
        let answer = read_answer(&mut s);
        assert!(
            status_line(&answer).starts_with("HTTP/1.1 431 "),
            "a streamed header: {}",
            status_line(&answer)
        );
        assert!(sent < 32 << 20, "the listener read on: {sent} bytes were taken");
        eprintln!("streamed header: the listener closed the connection after {sent} bytes were sent");
        drop(s);

        // Let the answered connections finish their bounded drain.
        std::thread::sleep(Duration::from_millis(1500));

        // 300 connections that send nothing: all but MAX_CONNECTIONS are closed at once, and
        // those after READ_TIMEOUT.
        let mut idle: Vec<TcpStream> = (0..300).map(|_| connect(port)).collect();
        std::thread::sleep(Duration::from_millis(500));
        let during = figures();
        let mut open: Vec<TcpStream> = Vec::new();
        for mut s in idle.drain(..) {
            if !closed(&mut s) {
                open.push(s);
            }
        }
        assert_eq!(open.len(), MAX_CONNECTIONS, "connections the listener kept");
        for s in &mut open {
            s.set_read_timeout(Some(READ_TIMEOUT + Duration::from_secs(5))).expect("timeout");
            let mut byte = [0u8; 1];
            match s.read(&mut byte) {
                Ok(0) => {}
                Err(e) if e.kind() == ErrorKind::ConnectionReset => {}
                other => panic!("an idle connection outlived the read timeout: {other:?}"),
            }
        }
        drop(open);
        let after = figures();

        // The real answer.
        support::browse_loopback(&browser, &url);
        (before, during, after)
    })
    .await;

    let account = done.expect("the real callback completes the sign-in");
    assert_eq!(account.status, AccountStatus::Active);
    assert_eq!(account.identifier, "alice@example.test");
    assert!(keychain.get(&format!("{}/access", account.id)).expect("read").is_some());
    eprintln!("before {before:?}, with 300 idle connections {during:?}, after {after:?}");
    for (when, f) in [("with 300 idle connections", during), ("after", after)] {
        assert!(f.threads < before.threads + 10, "threads {when}: {} -> {}", before.threads, f.threads);
        assert!(
            f.rss_kib < before.rss_kib + 20 * 1024,
            "RSS {when}: {} KiB -> {} KiB",
            before.rss_kib,
            f.rss_kib
        );
    }
    core.revoke(&account.id, &Actor::User).await.expect("clean up");
}

/// A callback with the sign-in's `state` and `error=` is the provider's answer and ends it; the same
/// with another `state` is refused and changes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a desktop session: tests/with-session cargo test -- --include-ignored"]
async fn an_error_with_the_right_state_ends_the_sign_in_and_a_forged_one_does_not() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let provider = Provider::start();
    let (core, keychain, _dir) = loopback_core(&provider).await;
    let link = core.get_authorization_link("test", Some("denied"), &Actor::User).await.expect("link");
    let id = link.account.id.clone();
    let (port, state) = port_and_state(&link.url);
    let iss: String = url::form_urlencoded::byte_serialize(provider.issuer.as_bytes()).collect();

    let (done, (forged, real)) = beside_the_sign_in(&core, link, move || {
        let host = format!("127.0.0.1:{port}");
        let forged = get(port, &format!("{CALLBACK}?error=access_denied&state=forged&iss={iss}"), &host);
        let real = get(port, &format!("{CALLBACK}?error=access_denied&state={state}&iss={iss}"), &host);
        (forged, real)
    })
    .await;
    assert!(
        status_line(&forged).starts_with("HTTP/1.1 400 ") && forged.contains("Not this sign-in"),
        "{forged}"
    );
    assert!(status_line(&real).starts_with("HTTP/1.1 400 ") && real.contains("declined"), "{real}");
    let err = done.expect_err("denied");
    assert!(matches!(err.error, Error::Denied { .. }), "{err}");
    let account = err.account.expect("the account is reported");
    assert_eq!((account.id.clone(), account.status), (id, AccountStatus::Pending));
    assert!(keychain.get(&format!("{}/access", account.id)).expect("read").is_none());
    assert!(!core.is_signing_in(&account.id), "the sign-in ended");
}

/// The desktop shell waits for a loopback sign-in on a task of its own.
#[allow(dead_code)]
fn finish_loopback_can_run_on_a_spawned_task(core: Arc<Latchkey>, wait: latchkey_core::LoopbackWait) {
    tokio::spawn(async move { core.finish_loopback(wait).await });
}
