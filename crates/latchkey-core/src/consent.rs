//! The consent desk: how a program without a grant (the MCP server whose client cannot prompt, a
//! script under the `ask` hand-out policy) asks the person, in the running desktop app, whether a
//! consumer may use an account.
//!
//! The app ([`Desk::start`]) listens on 127.0.0.1 and writes `consent-desk.json` (`{port, cookie,
//! pid}`, 0600, in the 0700 data folder); the asker ([`Latchkey::ask_app`]) reads it, connects and
//! sends one JSON line: the request, a fresh `nonce` and `auth` = [`proof`]`(cookie, [nonce])`. The
//! desk answers `{"status":"asking"}` at once, then `{"answer":"once"|"always"|"deny", "auth":
//! proof(cookie, [nonce, answer])}` when the person has answered (or the deadline passed: deny),
//! or `{"error":…}`. "Always" is stored as a grant by the app before it answers.
//!
//! While the app rests in the tray without its window (Linux: `latchkey-tray`), a resting desk
//! ([`Desk::start_resting`]) writes the file with `"wakes": true`. It never answers: to a proven
//! request it replies `{"status":"waking", "auth": proof(cookie, [nonce, "waking"])}` and opens
//! the window, whose process starts the real desk and rewrites the file; the asker waits for that
//! (at most [`WAKE_LIMIT`]) and asks it. A resting desk that is gone mid-question (its process
//! became the window's) counts as waking too, and so does a window's desk handed over as its
//! process becomes the tray's ([`Desk::hand_over`]: a resting address with no port yet).
//!
//! The cookie itself never goes on the wire, and each side proves it knows it: a program of
//! another user that took the port of an app that is gone (its file left behind) learns nothing
//! and cannot answer for it.
//!
//! A process running as the same user can read the cookie and answer for the app: this is consent
//! and accounting for cooperating programs, not a wall (ARCHITECTURE.md, threat model).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

use crate::api::{Access, check_consumer};
use crate::error::{Error, Result};
use crate::model::{AccountId, Actor};
use crate::service::Latchkey;
use crate::store::{AuditAction, AuditOutcome};

/// The desk's address file, in the data folder.
pub const DESK_FILE: &str = "consent-desk.json";
/// The longest request line a desk reads: room for the longest consumer name, JSON-escaped.
pub const LINE_MAX: usize = 4 * crate::api::CONSUMER_MAX + 1024;
/// How long a desk waits for a connection's request line, and an asker for the desk's first reply.
pub const READ_LIMIT: Duration = Duration::from_secs(5);
/// How long the person has to answer; then the answer is Deny.
pub const ANSWER_DEADLINE: Duration = Duration::from_secs(120);
/// Connections a desk serves at once; more are refused.
pub const CONNECTIONS_MAX: usize = 16;
/// How long an asker waits for a resting app's window to start its desk; then the app counts as
/// not running.
pub const WAKE_LIMIT: Duration = Duration::from_secs(15);
/// How often an asker looks for the window's desk while it starts.
const WAKE_POLL: Duration = Duration::from_millis(50);
const WAKING: &str = "waking";

crate::names::named_enum!(
    "purpose",
    /// What the consumer wants the account for.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
    pub enum ConsentPurpose {
        /// To call the account's API through Latchkey (`call_api`): the token stays inside.
        ApiCall = "api_call",
        /// To take the raw token or credential (`latchkey token`, `exec`, `git-credential`).
        Token = "token",
    }
);

crate::names::named_enum!(
    "answer",
    /// The person's answer.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
    pub enum ConsentAnswer {
        /// Allowed this one time; nothing stored.
        Once = "once",
        /// Allowed from now on: the app has stored the grant (actor: the user) before answering.
        Always = "always",
        /// Refused; nothing stored.
        Deny = "deny",
    }
);

/// A question for the person: may `consumer` use `account` with `access`, for `purpose`?
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConsentRequest {
    pub consumer: String,
    pub account: AccountId,
    pub access: Access,
    pub purpose: ConsentPurpose,
}

/// The address file's content.
#[derive(Serialize, Deserialize)]
struct Address {
    port: u16,
    cookie: String,
    pid: u32,
    /// A resting desk: it opens the window rather than answer.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    wakes: bool,
}

/// A request line on the wire.
#[derive(Serialize, Deserialize)]
struct Wire {
    nonce: String,
    auth: String,
    consumer: String,
    account: String,
    access: Access,
    purpose: ConsentPurpose,
}

impl Wire {
    fn request(self) -> Result<ConsentRequest> {
        check_consumer(&self.consumer)?;
        Ok(ConsentRequest {
            consumer: self.consumer,
            account: AccountId::parse(&self.account)?,
            access: self.access,
            purpose: self.purpose,
        })
    }
}

/// A reply line on the wire: `status`, then `answer` with its `auth`, or `error`.
#[derive(Serialize, Deserialize, Default)]
struct Reply {
    #[serde(skip_serializing_if = "Option::is_none")]
    status: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    answer: Option<ConsentAnswer>,
    #[serde(skip_serializing_if = "Option::is_none")]
    auth: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

impl Reply {
    fn line(&self) -> Vec<u8> {
        let mut line = serde_json::to_vec(self).unwrap_or_default();
        line.push(b'\n');
        line
    }
    fn error(text: &str) -> Vec<u8> {
        Reply { error: Some(text.into()), ..Default::default() }.line()
    }
}

/// The running desk; stopping it (or dropping it) removes its address file.
pub struct Desk {
    file: PathBuf,
    cookie: String,
    port: u16,
    stop: tokio::sync::watch::Sender<bool>,
    task: Option<tokio::task::JoinHandle<()>>,
}

type Handler = Arc<
    dyn Fn(ConsentRequest) -> std::pin::Pin<Box<dyn Future<Output = ConsentAnswer> + Send>> + Send + Sync,
>;

/// What a desk does with a proven request.
#[derive(Clone)]
enum Mode {
    /// Asks the person (the handler) and answers.
    Answers(Handler),
    /// Opens the window (the callback) and replies `waking`.
    Wakes(Arc<dyn Fn() + Send + Sync>),
}

impl Desk {
    /// Listens on 127.0.0.1 (a free port), writes the address file into `data_dir` and answers each
    /// request with `handler`'s answer, Deny after [`ANSWER_DEADLINE`].
    pub async fn start<F, Fut>(data_dir: &Path, handler: F) -> Result<Desk>
    where
        F: Fn(ConsentRequest) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ConsentAnswer> + Send + 'static,
    {
        Desk::start_with_deadline(data_dir, ANSWER_DEADLINE, handler).await
    }

    /// [`Desk::start`] with another deadline (tests).
    pub async fn start_with_deadline<F, Fut>(data_dir: &Path, deadline: Duration, handler: F) -> Result<Desk>
    where
        F: Fn(ConsentRequest) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ConsentAnswer> + Send + 'static,
    {
        let handler: Handler = Arc::new(move |r| Box::pin(handler(r)));
        Desk::start_mode(data_dir, deadline, Mode::Answers(handler)).await
    }

    /// A resting desk (the app without its window): each proven request calls `wake`, which opens
    /// the window, and is told `waking`; nothing is answered here.
    pub async fn start_resting<F>(data_dir: &Path, wake: F) -> Result<Desk>
    where
        F: Fn() + Send + Sync + 'static,
    {
        Desk::start_mode(data_dir, ANSWER_DEADLINE, Mode::Wakes(Arc::new(wake))).await
    }

    async fn start_mode(data_dir: &Path, deadline: Duration, mode: Mode) -> Result<Desk> {
        let io =
            |what: &str, e: std::io::Error| Error::Storage(format!("the consent desk cannot {what}: {e}"));
        let listener = TcpListener::bind(("127.0.0.1", 0)).await.map_err(|e| io("listen", e))?;
        let port = listener.local_addr().map_err(|e| io("listen", e))?.port();
        let cookie = fresh_cookie();
        crate::paths::private_dir(data_dir).map_err(|e| io("use the data folder", e))?;
        let file = data_dir.join(DESK_FILE);
        let wakes = matches!(mode, Mode::Wakes(_));
        let address = Address { port, cookie: cookie.clone(), pid: std::process::id(), wakes };
        write_address(&file, &address).map_err(|e| io("write its address", e))?;
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let task = tokio::spawn(serve(listener, cookie.clone(), deadline, mode, stopped));
        tracing::debug!(port, wakes, "consent desk listening");
        Ok(Desk { file, cookie, port, stop, task: Some(task) })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Stops listening, ends the connections (their askers hear nothing more) and removes the
    /// address file.
    pub async fn stop(mut self) {
        let _ = self.stop.send(true);
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
        self.remove_file();
    }

    /// Stops listening, in a process about to become the resting app (`exec` of `latchkey-tray`,
    /// the same pid). The address file then says a resting app is on its way, with nothing to
    /// connect to yet: a program that asks meanwhile waits for the next desk, as for a woken
    /// window, instead of hearing that the app is not running.
    pub fn hand_over(self) {
        let address = Address { port: 0, cookie: fresh_cookie(), pid: std::process::id(), wakes: true };
        // Another cookie than this desk's, so its drop leaves the file.
        if let Err(e) = write_address(&self.file, &address) {
            tracing::debug!("the consent desk's address file was not handed over: {e}");
        }
    }

    /// Removes the address file if it is still this desk's.
    fn remove_file(&self) {
        let ours = std::fs::read(&self.file)
            .ok()
            .and_then(|b| serde_json::from_slice::<Address>(&b).ok())
            .is_some_and(|a| a.cookie == self.cookie);
        if ours {
            let _ = std::fs::remove_file(&self.file);
        }
    }
}

impl Drop for Desk {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
        if let Some(task) = self.task.take() {
            task.abort();
        }
        self.remove_file();
    }
}

/// Written whole under a temporary name, then renamed: a reader sees the old file or the new one.
fn write_address(file: &Path, address: &Address) -> std::io::Result<()> {
    use std::io::Write;
    let bytes = serde_json::to_vec(address).map_err(std::io::Error::other)?;
    let tmp = file.with_extension(format!("tmp{}", std::process::id()));
    let _ = std::fs::remove_file(&tmp);
    let mut f = crate::paths::private_file().write(true).create_new(true).open(&tmp)?;
    f.write_all(&bytes)?;
    f.sync_all()?;
    drop(f);
    std::fs::rename(&tmp, file)
}

/// Hex SHA-256 of the cookie and `parts`, each after a newline: shows the cookie is known without
/// giving it away.
pub fn proof(cookie: &str, parts: &[&str]) -> String {
    use sha2::Digest;
    let mut hash = sha2::Sha256::new();
    hash.update(cookie.as_bytes());
    for part in parts {
        hash.update(b"\n");
        hash.update(part.as_bytes());
    }
    hash.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// 256 random bits, as hex.
fn fresh_cookie() -> String {
    use rand::RngCore;
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Equal, in a time that does not depend on where they differ.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

async fn serve(
    listener: TcpListener,
    cookie: String,
    deadline: Duration,
    mode: Mode,
    mut stopped: tokio::sync::watch::Receiver<bool>,
) {
    let slots = Arc::new(tokio::sync::Semaphore::new(CONNECTIONS_MAX));
    let mut connections = tokio::task::JoinSet::new();
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = stopped.changed() => break,
            Some(_) = connections.join_next(), if !connections.is_empty() => continue,
        };
        let mut stream = match accepted {
            Ok((s, _)) => s,
            Err(e) => {
                tracing::debug!("consent desk: accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            connections.spawn(async move {
                let _ = stream.write_all(&Reply::error("busy: too many questions at once")).await;
            });
            continue;
        };
        let (cookie, mode) = (cookie.clone(), mode.clone());
        connections.spawn(async move {
            let _slot = slot;
            if let Err(e) = answer(stream, &cookie, deadline, &mode).await {
                tracing::debug!("consent desk: {e}");
            }
        });
    }
    connections.shutdown().await;
}

/// One connection: its request line, checked; then the handler's answer, unless the asker leaves.
async fn answer(stream: TcpStream, cookie: &str, deadline: Duration, mode: &Mode) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut reader = BufReader::new(read.take(LINE_MAX as u64 + 1));
    let mut line = Vec::new();
    let n = match tokio::time::timeout(READ_LIMIT, reader.read_until(b'\n', &mut line)).await {
        Ok(r) => r?,
        Err(_) => return write.write_all(&Reply::error("no request in time")).await,
    };
    if n == 0 || line.last() != Some(&b'\n') {
        let why = if line.len() > LINE_MAX { "the request is too long" } else { "the request has no end" };
        return write.write_all(&Reply::error(why)).await;
    }
    let Ok(wire) = serde_json::from_slice::<Wire>(&line) else {
        return write.write_all(&Reply::error("the request is not valid")).await;
    };
    if wire.nonce.len() < 32 || wire.nonce.len() > 128 || !same(&wire.auth, &proof(cookie, &[&wire.nonce])) {
        return write.write_all(&Reply::error("not authenticated")).await;
    }
    let nonce = wire.nonce.clone();
    let request = match wire.request() {
        Ok(r) => r,
        Err(e) => return write.write_all(&Reply::error(&e.to_string())).await,
    };
    let handler = match mode {
        Mode::Answers(handler) => handler,
        Mode::Wakes(wake) => {
            wake();
            let auth = proof(cookie, &[&nonce, WAKING]);
            let reply = Reply { status: Some(WAKING.into()), auth: Some(auth), ..Default::default() };
            write.write_all(&reply.line()).await?;
            return write.shutdown().await;
        }
    };
    write.write_all(&Reply { status: Some("asking".into()), ..Default::default() }.line()).await?;
    let mut rest = reader.into_inner();
    let mut scratch = [0u8; 64];
    let answer = tokio::select! {
        a = tokio::time::timeout(deadline, handler(request)) => a.unwrap_or(ConsentAnswer::Deny),
        // The asker went away (or sent more): the question is withdrawn.
        _ = rest.read(&mut scratch) => return Ok(()),
    };
    let auth = proof(cookie, &[&nonce, answer.as_str()]);
    write.write_all(&Reply { answer: Some(answer), auth: Some(auth), ..Default::default() }.line()).await?;
    write.shutdown().await
}

/// Asks the desk whose address file is in `data_dir`; a resting one's window within [`WAKE_LIMIT`].
/// `Ok(None)`: no desk there (no file, an unreadable file, nothing listening on its port), or a
/// resting app whose window did not start its desk in time.
pub async fn ask(data_dir: &Path, request: &ConsentRequest, wait: Duration) -> Result<Option<ConsentAnswer>> {
    ask_waking(data_dir, request, wait, WAKE_LIMIT).await
}

/// [`ask`], waiting at most `wake_limit` for a resting app's window.
pub async fn ask_waking(
    data_dir: &Path,
    request: &ConsentRequest,
    wait: Duration,
    wake_limit: Duration,
) -> Result<Option<ConsentAnswer>> {
    let file = data_dir.join(DESK_FILE);
    // The resting desk woken (its cookie and pid), and until when its window is awaited.
    let mut woken: Option<(String, u32, tokio::time::Instant)> = None;
    loop {
        let address = read_address(&file);
        let address = match (&woken, address) {
            (None, None) => return Ok(None),
            (None, Some(a)) => a,
            (Some((cookie, _, _)), Some(a)) if a.cookie != *cookie => a,
            (Some((_, pid, until)), _) => {
                if tokio::time::Instant::now() >= *until || !alive(*pid) {
                    tracing::debug!("the app's window did not start its consent desk in time");
                    return Ok(None);
                }
                tokio::time::sleep(WAKE_POLL).await;
                continue;
            }
        };
        match ask_once(&address, request, wait).await? {
            Asked::Answer(a) => return Ok(Some(a)),
            Asked::Nobody => return Ok(None),
            Asked::Waking => {
                let until = woken.map_or_else(|| tokio::time::Instant::now() + wake_limit, |w| w.2);
                woken = Some((address.cookie, address.pid, until));
            }
        }
    }
}

/// Removes the address file if this process wrote it: a process that handed its desk over and then
/// could not start the next one (programs then hear that the app is not running).
pub fn withdraw(data_dir: &Path) {
    let file = data_dir.join(DESK_FILE);
    if read_address(&file).is_some_and(|a| a.pid == std::process::id()) {
        let _ = std::fs::remove_file(file);
    }
}

fn read_address(file: &Path) -> Option<Address> {
    let bytes = std::fs::read(file).ok()?;
    let address = serde_json::from_slice::<Address>(&bytes).ok();
    if address.is_none() {
        tracing::debug!("the consent desk's address file is not readable; taking the app as not running");
    }
    address
}

/// Whether process `pid` runs (a resting desk's process that is gone opens no window).
fn alive(pid: u32) -> bool {
    if cfg!(target_os = "linux") { Path::new(&format!("/proc/{pid}")).exists() } else { true }
}

enum Asked {
    Answer(ConsentAnswer),
    /// Nothing listens there: the app is not running.
    Nobody,
    /// A resting desk is opening the window (or its process just became the window's).
    Waking,
}

async fn ask_once(address: &Address, request: &ConsentRequest, wait: Duration) -> Result<Asked> {
    let unreachable = |what: String| Error::AppUnreachable(what);
    // A resting desk whose process is becoming the window's drops its connections: its window is
    // on the way.
    let gone = |e: Error| if address.wakes { Ok(Asked::Waking) } else { Err(e) };
    let connect = tokio::time::timeout(READ_LIMIT, TcpStream::connect(("127.0.0.1", address.port))).await;
    let stream = match connect {
        Ok(Ok(s)) => s,
        Ok(Err(_)) | Err(_) if address.wakes && alive(address.pid) => return Ok(Asked::Waking),
        // Refused (or nothing answers): the app that wrote the file is gone.
        Ok(Err(_)) | Err(_) => return Ok(Asked::Nobody),
    };
    let (read, mut write) = stream.into_split();
    let nonce = fresh_cookie();
    let wire = Wire {
        auth: proof(&address.cookie, &[&nonce]),
        nonce: nonce.clone(),
        consumer: request.consumer.clone(),
        account: request.account.to_string(),
        access: request.access,
        purpose: request.purpose,
    };
    let mut line = serde_json::to_vec(&wire).map_err(|e| unreachable(e.to_string()))?;
    line.push(b'\n');
    if let Err(e) = write.write_all(&line).await {
        return gone(unreachable(e.to_string()));
    }
    let mut reader = BufReader::new(read.take(LINE_MAX as u64));
    let first = match tokio::time::timeout(READ_LIMIT, reply(&mut reader)).await {
        Ok(Ok(first)) => first,
        Ok(Err(e)) => return gone(e),
        Err(_) => return Err(unreachable("it did not reply in time".into())),
    };
    match first.status.as_deref() {
        Some("asking") => {}
        Some(WAKING) if first.auth.is_some_and(|p| same(&p, &proof(&address.cookie, &[&nonce, WAKING]))) => {
            return Ok(Asked::Waking);
        }
        Some(WAKING) => return Err(unreachable("its reply does not prove it is Latchkey's app".into())),
        _ => return Err(unreachable(first.error.unwrap_or_else(|| "it replied with nothing usable".into()))),
    }
    let second = tokio::time::timeout(wait, reply(&mut reader))
        .await
        .map_err(|_| unreachable("no answer in time".into()))??;
    match second.answer {
        Some(a) if second.auth.is_some_and(|p| same(&p, &proof(&address.cookie, &[&nonce, a.as_str()]))) => {
            Ok(Asked::Answer(a))
        }
        Some(_) => Err(unreachable("its answer does not prove it is Latchkey's app".into())),
        None => Err(unreachable(second.error.unwrap_or_else(|| "it replied with nothing usable".into()))),
    }
}

async fn reply<R: tokio::io::AsyncBufRead + Unpin>(reader: &mut R) -> Result<Reply> {
    let mut line = Vec::new();
    reader.read_until(b'\n', &mut line).await.map_err(|e| Error::AppUnreachable(e.to_string()))?;
    if line.last() != Some(&b'\n') {
        return Err(Error::AppUnreachable("it closed the connection without an answer".into()));
    }
    serde_json::from_slice(&line)
        .map_err(|_| Error::AppUnreachable("its reply is not one Latchkey understands".into()))
}

impl Latchkey {
    /// Asks the person, in the running desktop app, whether `req.consumer` may use the account; an
    /// app resting in the tray opens its window for it first. `Ok(None)`: the app is not running.
    /// Waits for the answer (at most [`ANSWER_DEADLINE`], then the app answers Deny). After
    /// `Always` the grant is stored. Each ask is audited (`consent.asked`, with its answer).
    pub async fn ask_app(&self, req: &ConsentRequest) -> Result<Option<ConsentAnswer>> {
        check_consumer(&req.consumer)?;
        let account = self.get_account(&req.account)?;
        let result = ask(self.data_dir(), req, ANSWER_DEADLINE + READ_LIMIT).await;
        let (outcome, what) = match &result {
            Ok(Some(ConsentAnswer::Once)) => (AuditOutcome::Ok, "allowed once".to_owned()),
            Ok(Some(ConsentAnswer::Always)) => (AuditOutcome::Ok, "always allowed".to_owned()),
            Ok(Some(ConsentAnswer::Deny)) => (AuditOutcome::Refused, "denied".to_owned()),
            Ok(None) => (AuditOutcome::Failed, "the app is not running".to_owned()),
            Err(e) => (AuditOutcome::Failed, e.to_string()),
        };
        let purpose = match req.purpose {
            ConsentPurpose::ApiCall => "to call its API",
            ConsentPurpose::Token => "to take its token",
        };
        let detail =
            format!("consumer “{}”: {} access {purpose} → {what}", req.consumer, req.access.as_str());
        self.audit(
            &account.id,
            &account.connection,
            AuditAction::ConsentAsked,
            &Actor::Cli { caller: req.consumer.clone() },
            outcome,
            crate::sanitize::clean(&detail, 600).as_deref().unwrap_or(""),
        )?;
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_are_fresh_256_bit_hex_and_compared_whole() {
        let (a, b) = (fresh_cookie(), fresh_cookie());
        assert_eq!(a.len(), 64);
        assert!(a.bytes().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
        assert!(same(&a, &a.clone()));
        assert!(!same(&a, &b));
        assert!(!same(&a, &a[..63]));
        assert!(!same("", &a));
    }

    #[test]
    fn wire_lines_read_as_documented() {
        let line = r#"{"nonce":"n","auth":"a","consumer":"claude","account":"0b0c3f5e-1f2a-4c4f-9a53-35f0f5b6a001","access":"read","purpose":"token"}"#;
        let request = serde_json::from_str::<Wire>(line).expect("parse").request().expect("valid");
        assert_eq!(request.consumer, "claude");
        assert_eq!(request.access, Access::Read);
        assert_eq!(request.purpose, ConsentPurpose::Token);
        let answer =
            Reply { answer: Some(ConsentAnswer::Always), auth: Some("p".into()), ..Default::default() };
        assert_eq!(answer.line(), b"{\"answer\":\"always\",\"auth\":\"p\"}\n");
    }

    #[test]
    fn proofs_bind_the_cookie_and_every_part() {
        let p = proof("cookie", &["nonce", "once"]);
        assert_eq!(p.len(), 64);
        assert_eq!(p, proof("cookie", &["nonce", "once"]));
        for other in [
            proof("cookie2", &["nonce", "once"]),
            proof("cookie", &["nonce", "always"]),
            proof("cookie", &["nonceonce"]),
        ] {
            assert_ne!(p, other);
        }
    }
}
