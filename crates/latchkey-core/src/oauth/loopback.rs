//! The loopback redirect (RFC 8252 §7.3) for providers that demand one (Google desktop clients):
//! `http://127.0.0.1:{port}/oauth/{connection}/callback` (or `http://localhost:…` where the
//! provider wants that name, as Microsoft does: then on 127.0.0.1 and ::1), a listener bound to
//! loopback only, on a port the OS picks (or the one the provider registered), open only while a
//! sign-in is pending. The page it serves is self-contained and sends `Referrer-Policy: no-referrer`.
//!
//! Anything on this computer can connect to the port, so the listener waits for this sign-in's
//! callback (its path, its `state`, a loopback `Host`) and answers everything else with a small
//! error page without ending the sign-in. Its reader is hand-written over tokio with hard bounds:
//! request line and headers within [`MAX_HEAD`] (414 or 431 past it), [`READ_TIMEOUT`] to send them,
//! at most [`MAX_CONNECTIONS`] connections at a time (more are closed at once), one task per
//! connection and no thread; [`judge`] decides from the bytes read so far, a pure function the fuzz
//! target runs.
//!
//! Socket options (the sockets are made with socket2; std's `TcpListener::bind` would set
//! SO_REUSEADDR on every Unix listener). RFC 8252 App. B asks for neither SO_REUSEADDR nor
//! SO_REUSEPORT on Linux, so that no other program can take the redirect port. A port the OS picks
//! gets neither. A provider's fixed port (Discord's) gets SO_REUSEADDR and only that, a deliberate
//! exception: the listener answers the browser and closes first, so its connection stays in
//! TIME_WAIT on that port for a minute, and without SO_REUSEADDR a second sign-in within that
//! minute could not open the port. On Linux SO_REUSEADDR never lets a socket bind a port another is
//! listening on, and without SO_REUSEPORT on ours nobody can share it; both are tested below.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::task::Poll;
use std::time::{Duration, Instant};

use socket2::{Domain, Protocol, Socket, Type};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;

use crate::error::{Error, Result};
use crate::model::ConnectionId;
use crate::oauth::callback;
use crate::protocol::LoopbackHost;

/// How long a provider's fixed port may stay taken before the sign-in gives up: outgoing
/// connections get their local ports from the same range, so a port can be held for a moment by a
/// connection that is about to close.
const FIXED_PORT_PATIENCE: Duration = Duration::from_secs(2);

/// The most bytes of request line and headers read from one connection.
pub const MAX_HEAD: usize = 8 * 1024;
/// How long a connection has to send its request line and headers, in all.
pub const READ_TIMEOUT: Duration = Duration::from_secs(5);
/// Connections read or answered at a time; one more is closed as soon as it is accepted.
pub const MAX_CONNECTIONS: usize = 16;
/// How long writing an answer may take.
const WRITE_TIMEOUT: Duration = Duration::from_secs(5);
/// After an answer, what the client still sends is read and dropped, up to these bounds, so that
/// closing with unread bytes does not reset the connection before the client has read the answer.
const DRAIN_BYTES: usize = 64 * 1024;
const DRAIN_TIME: Duration = Duration::from_secs(1);
/// The pause after a failed accept (no file descriptors left, say), so the loop does not spin.
const ACCEPT_PAUSE: Duration = Duration::from_millis(50);

pub struct Loopback {
    /// 127.0.0.1, and for `localhost` also ::1 on the same port (browsers may resolve either).
    listeners: Vec<TcpListener>,
    host: LoopbackHost,
    port: u16,
    /// One task per connection being read or answered; each ends with the callback or nothing.
    /// Kept across [`Loopback::wait`] calls, and aborted when the listener is dropped.
    connections: JoinSet<Option<Pending>>,
}

/// The callback the browser brought, its connection held open until [`Pending::answer`].
pub struct Pending {
    stream: TcpStream,
    /// The full callback URL, as the core's callback parser expects it. It carries the code.
    pub url: String,
}

/// What the listener waits for: one sign-in's callback on this listener's address.
pub struct Expected {
    host: LoopbackHost,
    port: u16,
    path: String,
    /// The `Host` values accepted: the loopback names with this port (a web page cannot make a
    /// browser send them to a name of its own, as it can through DNS rebinding).
    hosts: [String; 3],
    state: String,
}

impl Expected {
    pub fn new(host: LoopbackHost, port: u16, connection: &ConnectionId, state: &str) -> Expected {
        Expected {
            host,
            port,
            path: format!("/oauth/{connection}/callback"),
            hosts: [format!("127.0.0.1:{port}"), format!("[::1]:{port}"), format!("localhost:{port}")],
            state: state.to_owned(),
        }
    }
}

/// What to do with the bytes a connection sent so far.
pub enum Verdict {
    /// No end of headers yet, within [`MAX_HEAD`]: read on.
    Incomplete,
    /// Not this sign-in's callback: answer with an error page and close; the listener keeps waiting.
    Refuse(Refusal),
    /// This sign-in's callback, as the full redirect URL (it carries the code: not for logs).
    Callback(String),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// Not an HTTP/1.x request line with headers, or no `Host`, or two.
    Malformed,
    /// A method other than GET.
    Method,
    /// The request line alone passes [`MAX_HEAD`].
    UriTooLong,
    /// The request line and headers pass [`MAX_HEAD`].
    HeadTooLarge,
    /// A `Host` that is not this listener's.
    Host,
    /// Another path.
    NotFound,
    /// The callback path, but not this sign-in's answer (another `state`, a code or `state`
    /// missing, a malformed query).
    NotThisSignIn,
}

impl Refusal {
    pub fn status(self) -> u16 {
        match self {
            Refusal::Malformed | Refusal::Host | Refusal::NotThisSignIn => 400,
            Refusal::NotFound => 404,
            Refusal::Method => 405,
            Refusal::UriTooLong => 414,
            Refusal::HeadTooLarge => 431,
        }
    }

    fn page(self) -> (&'static str, &'static str) {
        const ONLY: &str = "This address only receives a sign-in for Latchkey.";
        match self {
            Refusal::Malformed | Refusal::Host => ("Bad request", ONLY),
            Refusal::NotFound => ("Not found", ONLY),
            Refusal::Method => ("Method not allowed", ONLY),
            Refusal::UriTooLong | Refusal::HeadTooLarge => ("Request too large", ONLY),
            Refusal::NotThisSignIn => (
                "Not this sign-in",
                "This is not the answer to the sign-in Latchkey is waiting for, so it was ignored. \
                 The sign-in goes on.",
            ),
        }
    }
}

impl Loopback {
    /// Binds 127.0.0.1 on `port` (0: a port the OS picks); for `localhost`, [::1] on the same port
    /// too where the machine has IPv6. A fixed port that is taken is tried again for up to
    /// [`FIXED_PORT_PATIENCE`] before the error says so.
    pub async fn open(host: LoopbackHost, port: u16) -> Result<Loopback> {
        let deadline = Instant::now() + FIXED_PORT_PATIENCE;
        let (listeners, port) = loop {
            match Self::bind(host, port) {
                Ok(bound) => break bound,
                Err(e) if port != 0 && e.kind() == std::io::ErrorKind::AddrInUse => {
                    if Instant::now() >= deadline {
                        return Err(Error::InvalidInput(format!(
                            "Port {port} on this computer is in use by another program, and this provider \
                             only accepts that port. Close the other program and try again."
                        )));
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(e) => {
                    return Err(Error::InvalidInput(format!(
                        "cannot open a local port for the sign-in: {e}"
                    )));
                }
            }
        };
        let listeners = listeners
            .into_iter()
            .map(|l| {
                l.set_nonblocking(true)?;
                TcpListener::from_std(l)
            })
            .collect::<std::io::Result<Vec<_>>>()
            .map_err(|e| Error::InvalidInput(format!("cannot listen for the sign-in: {e}")))?;
        Ok(Loopback { listeners, host, port, connections: JoinSet::new() })
    }

    /// The listening sockets, and their port.
    fn bind(host: LoopbackHost, port: u16) -> std::io::Result<(Vec<std::net::TcpListener>, u16)> {
        let fixed = port != 0;
        let v4 = listen(SocketAddr::from((Ipv4Addr::LOCALHOST, port)), fixed)?;
        let port = v4.local_addr()?.port();
        let mut listeners = vec![v4];
        if host == LoopbackHost::Localhost {
            match listen(SocketAddr::from((Ipv6Addr::LOCALHOST, port)), fixed) {
                Ok(v6) => listeners.push(v6),
                // No IPv6 here: browsers then resolve localhost to 127.0.0.1 only.
                Err(e) if e.kind() == std::io::ErrorKind::AddrNotAvailable => {}
                Err(e) => return Err(e),
            }
        }
        Ok((listeners, port))
    }

    pub fn redirect_uri(&self, connection: &ConnectionId) -> String {
        redirect_uri(self.host, self.port, connection)
    }

    /// What this listener must wait for: the callback of `connection` carrying `state`.
    pub fn expect(&self, connection: &ConnectionId, state: &str) -> Arc<Expected> {
        Arc::new(Expected::new(self.host, self.port, connection, state))
    }

    /// Waits up to `timeout` for the expected callback; `None` when it did not come. Every other
    /// request gets its error page meanwhile. Connections still being read when this returns carry
    /// on, for the next call.
    pub async fn wait(&mut self, expected: &Arc<Expected>, timeout: Duration) -> Option<Pending> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            while let Some(done) = self.connections.try_join_next() {
                if let Ok(Some(pending)) = done {
                    return Some(pending);
                }
            }
            tokio::select! {
                accepted = accept(&self.listeners) => match accepted {
                    Ok(stream) if self.connections.len() < MAX_CONNECTIONS => {
                        self.connections.spawn(serve(stream, Arc::clone(expected)));
                    }
                    // Over the bound: closed at once.
                    Ok(stream) => drop(stream),
                    Err(e) => {
                        tracing::debug!("the sign-in listener could not accept a connection: {e}");
                        tokio::time::sleep(ACCEPT_PAUSE).await;
                    }
                },
                Some(done) = self.connections.join_next() => {
                    if let Ok(Some(pending)) = done {
                        return Some(pending);
                    }
                }
                () = tokio::time::sleep_until(deadline) => return None,
            }
        }
    }
}

impl Pending {
    /// Answers the browser, once, with the outcome, and closes the connection.
    pub async fn answer(mut self, ok: bool, message: &str) {
        let (status, title) =
            if ok { (200, "Signed in — you can close this tab") } else { (400, "Sign-in failed") };
        respond(&mut self.stream, status, title, message).await;
    }
}

/// The first connection either listener accepts.
async fn accept(listeners: &[TcpListener]) -> std::io::Result<TcpStream> {
    std::future::poll_fn(|cx| {
        for listener in listeners {
            if let Poll::Ready(accepted) = listener.poll_accept(cx) {
                return Poll::Ready(accepted.map(|(stream, _)| stream));
            }
        }
        Poll::Pending
    })
    .await
}

/// One connection: reads its request line and headers (bounded in size and time), and hands back
/// the expected callback, or answers anything else and closes.
async fn serve(mut stream: TcpStream, expected: Arc<Expected>) -> Option<Pending> {
    let verdict = tokio::time::timeout(READ_TIMEOUT, read_head(&mut stream, &expected)).await;
    match verdict {
        Ok(Some(Verdict::Callback(url))) => Some(Pending { stream, url }),
        Ok(Some(Verdict::Refuse(refusal))) => {
            let (title, message) = refusal.page();
            respond(&mut stream, refusal.status(), title, message).await;
            None
        }
        // Closed, failed, or too slow: dropped without a word.
        Ok(Some(Verdict::Incomplete) | None) | Err(_) => None,
    }
}

/// Reads until [`judge`] decides, never holding more than [`MAX_HEAD`] bytes; `None` when the
/// connection closes or fails first.
async fn read_head(stream: &mut TcpStream, expected: &Expected) -> Option<Verdict> {
    let mut head = Vec::new();
    let mut chunk = [0u8; 2048];
    loop {
        let room = (MAX_HEAD - head.len()).min(chunk.len());
        let n = stream.read(&mut chunk[..room]).await.ok()?;
        if n == 0 {
            return None;
        }
        let searched = head.len().saturating_sub(3);
        head.extend_from_slice(&chunk[..n]);
        // Only the new bytes can complete the end of the headers: no search of the whole head
        // after every read of a client that sends a byte at a time.
        if head.len() < MAX_HEAD && find(&head[searched..], b"\r\n\r\n").is_none() {
            continue;
        }
        match judge(&head, expected) {
            Verdict::Incomplete => {}
            decided => return Some(decided),
        }
    }
}

/// Decides what the bytes a connection sent so far are: the expected callback, something to
/// refuse, or not yet complete. Pure, for the fuzz target; never panics on any input.
pub fn judge(input: &[u8], expected: &Expected) -> Verdict {
    let head = match find(input, b"\r\n\r\n") {
        Some(end) if end + 4 <= MAX_HEAD => &input[..end],
        None if input.len() < MAX_HEAD => return Verdict::Incomplete,
        _ => {
            let line_fits = find(&input[..input.len().min(MAX_HEAD)], b"\r\n").is_some();
            return Verdict::Refuse(if line_fits { Refusal::HeadTooLarge } else { Refusal::UriTooLong });
        }
    };
    match check(head, expected) {
        Ok(url) => Verdict::Callback(url),
        Err(refusal) => Verdict::Refuse(refusal),
    }
}

/// The request line and headers (without the blank line) against what the listener waits for.
fn check(head: &[u8], expected: &Expected) -> std::result::Result<String, Refusal> {
    use Refusal::*;
    let mut lines = lines(head);
    let request_line = lines.next().unwrap_or_default();
    let mut parts = request_line.split(|&b| b == b' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(Malformed);
    };
    if !matches!(version, b"HTTP/1.1" | b"HTTP/1.0")
        || method.is_empty()
        || !method.iter().all(|&b| is_tchar(b))
        || target.first() != Some(&b'/')
        || !target.iter().all(|b| (0x21..=0x7e).contains(b))
    {
        return Err(Malformed);
    }
    if method != b"GET" {
        return Err(Method);
    }
    let mut host = None;
    for line in lines {
        // A bare CR or LF, or a folded line (leading whitespace), or no name: not a header line.
        let colon = line.iter().position(|&b| b == b':').ok_or(Malformed)?;
        let (name, value) = (&line[..colon], &line[colon + 1..]);
        if name.is_empty()
            || !name.iter().all(|&b| is_tchar(b))
            || value.iter().any(|&b| b == b'\r' || b == b'\n')
        {
            return Err(Malformed);
        }
        if name.eq_ignore_ascii_case(b"host") && host.replace(value.trim_ascii()).is_some() {
            return Err(Malformed);
        }
    }
    let host = host.ok_or(Malformed)?;
    if !expected.hosts.iter().any(|h| h.as_bytes().eq_ignore_ascii_case(host)) {
        return Err(Host);
    }
    // Visible ASCII, checked above.
    let target = std::str::from_utf8(target).map_err(|_| Malformed)?;
    if target.split('?').next() != Some(expected.path.as_str()) {
        return Err(NotFound);
    }
    let url = format!("http://{}:{}{target}", expected.host.as_str(), expected.port);
    let cb = callback::parse("", &url).map_err(|_| NotThisSignIn)?;
    if !same(cb.state.as_bytes(), expected.state.as_bytes()) {
        return Err(NotThisSignIn);
    }
    Ok(url)
}

/// The lines of `head`, split at CRLF.
fn lines(head: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut rest = Some(head);
    std::iter::from_fn(move || {
        let r = rest?;
        match find(r, b"\r\n") {
            Some(i) => {
                rest = Some(&r[i + 2..]);
                Some(&r[..i])
            }
            None => {
                rest = None;
                Some(r)
            }
        }
    })
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// RFC 9110 §5.6.2 token characters.
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// Equality in time that does not depend on where the two differ.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Writes the page, closes the sending side, and reads (bounded) what the client still sends.
async fn respond(stream: &mut TcpStream, status: u16, title: &str, message: &str) {
    let response = page(status, title, message);
    let written = tokio::time::timeout(WRITE_TIMEOUT, async {
        stream.write_all(&response).await?;
        stream.shutdown().await
    })
    .await;
    if !matches!(written, Ok(Ok(()))) {
        return;
    }
    let _ = tokio::time::timeout(DRAIN_TIME, async {
        let mut sink = [0u8; 2048];
        let mut left = DRAIN_BYTES;
        while left > 0 {
            match stream.read(&mut sink).await {
                Ok(0) | Err(_) => break,
                Ok(n) => left = left.saturating_sub(n),
            }
        }
    })
    .await;
}

/// A listening socket on `addr`: never SO_REUSEPORT, SO_REUSEADDR only for a provider's fixed port
/// (see the module's notes); close-on-exec, as socket2 makes every socket.
fn listen(addr: SocketAddr, fixed_port: bool) -> std::io::Result<std::net::TcpListener> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    // Not on Windows, where SO_REUSEADDR would let another socket take a port in use.
    if cfg!(unix) && fixed_port {
        socket.set_reuse_address(true)?;
    }
    if addr.is_ipv6() {
        socket.set_only_v6(true)?;
    }
    socket.bind(&addr.into())?;
    socket.listen(128)?;
    Ok(socket.into())
}

pub fn redirect_uri(host: LoopbackHost, port: u16, connection: &ConnectionId) -> String {
    format!("http://{}:{port}/oauth/{connection}/callback", host.as_str())
}

/// The whole HTTP/1.1 response: a self-contained page, and the connection closes after it.
fn page(status: u16, title: &str, message: &str) -> Vec<u8> {
    let esc =
        |s: &str| s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;");
    let body = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Latchkey</title>\
         <style>body{{font:16px system-ui,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem;color:#1f2330}}\
         @media(prefers-color-scheme:dark){{body{{background:#16181d;color:#e6e8ee}}}}</style></head>\
         <body><h1>{}</h1><p>{}</p><p>Return to Latchkey.</p></body></html>",
        esc(title),
        esc(message)
    );
    let reason = match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        414 => "URI Too Long",
        431 => "Request Header Fields Too Large",
        _ => "",
    };
    format!(
        "HTTP/1.1 {status} {reason}\r\n\
         Content-Type: text/html; charset=utf-8\r\n\
         Content-Length: {}\r\n\
         Referrer-Policy: no-referrer\r\n\
         Cache-Control: no-store\r\n\
         Content-Security-Policy: default-src 'none'; style-src 'unsafe-inline'\r\n\
         X-Content-Type-Options: nosniff\r\n\
         Connection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    /// A port nobody listens on, as a provider's fixed port.
    fn free_port() -> u16 {
        let probe = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind");
        probe.local_addr().expect("addr").port()
    }

    /// Sends `request` as is and reads the answer until the listener closes.
    fn send(port: u16, request: &[u8]) -> String {
        let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
        s.write_all(request).expect("write");
        let mut out = Vec::new();
        let _ = s.read_to_end(&mut out);
        String::from_utf8_lossy(&out).into_owned()
    }

    fn get(port: u16, path: &str) -> String {
        send(
            port,
            format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n").as_bytes(),
        )
    }

    fn demo() -> ConnectionId {
        ConnectionId::new("demo").expect("id")
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn answers_strays_and_forged_answers_and_returns_the_callback() {
        let mut lb = Loopback::open(LoopbackHost::Ip, 0).await.expect("bind");
        assert!(lb.redirect_uri(&demo()).starts_with("http://127.0.0.1:"));
        let expected = lb.expect(&demo(), "s");
        let port = lb.port;
        let browser = std::thread::spawn(move || {
            let stray = get(port, "/favicon.ico");
            let forged = get(port, "/oauth/demo/callback?code=c&state=forged");
            let no_code = get(port, "/oauth/demo/callback?state=s");
            let done = get(port, "/oauth/demo/callback?code=c&state=s");
            (stray, forged, no_code, done)
        });
        let pending = lb.wait(&expected, Duration::from_secs(10)).await.expect("callback");
        assert_eq!(pending.url, format!("http://127.0.0.1:{port}/oauth/demo/callback?code=c&state=s"));
        pending.answer(true, "Connected <you>.").await;
        let (stray, forged, no_code, done) =
            tokio::task::spawn_blocking(move || browser.join()).await.expect("join").expect("browser");
        assert!(stray.starts_with("HTTP/1.1 404 "), "{stray}");
        assert!(forged.starts_with("HTTP/1.1 400 ") && forged.contains("Not this sign-in"), "{forged}");
        assert!(no_code.starts_with("HTTP/1.1 400 "), "{no_code}");
        assert!(done.starts_with("HTTP/1.1 200 "), "{done}");
        assert!(
            done.contains("Referrer-Policy: no-referrer") && done.contains("Connected &lt;you&gt;."),
            "{done}"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn refuses_oversize_requests_with_414_and_431() {
        let mut lb = Loopback::open(LoopbackHost::Ip, 0).await.expect("bind");
        let expected = lb.expect(&demo(), "s");
        let port = lb.port;
        let browser = std::thread::spawn(move || {
            let long_line = get(port, &format!("/oauth/demo/callback?code={}&state=s", "a".repeat(10_000)));
            let long_header = send(
                port,
                format!("GET /oauth/demo/callback?code=c&state=s HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nX: {}\r\n\r\n", "b".repeat(10_000))
                    .as_bytes(),
            );
            (long_line, long_header)
        });
        assert!(lb.wait(&expected, Duration::from_secs(3)).await.is_none(), "neither is the callback");
        let (long_line, long_header) =
            tokio::task::spawn_blocking(move || browser.join()).await.expect("join").expect("browser");
        assert!(long_line.starts_with("HTTP/1.1 414 "), "{long_line}");
        assert!(long_header.starts_with("HTTP/1.1 431 "), "{long_header}");
    }

    #[tokio::test]
    async fn gives_up_after_the_timeout() {
        let mut lb = Loopback::open(LoopbackHost::Ip, 0).await.expect("bind");
        let expected = lb.expect(&demo(), "s");
        assert!(lb.wait(&expected, Duration::from_millis(200)).await.is_none());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn localhost_listens_on_both_loopback_addresses_on_one_port() {
        let ms = ConnectionId::new("ms").expect("id");
        let mut lb = Loopback::open(LoopbackHost::Localhost, 0).await.expect("bind");
        assert!(lb.redirect_uri(&ms).starts_with("http://localhost:"));
        let expected = lb.expect(&ms, "s");
        let port = lb.port;
        let v6 = std::net::TcpStream::connect((Ipv6Addr::LOCALHOST, port)).is_ok();
        let browser = std::thread::spawn(move || {
            let addr: (&str, u16) = if v6 { ("::1", port) } else { ("127.0.0.1", port) };
            let mut s = std::net::TcpStream::connect(addr).expect("connect");
            write!(s, "GET /oauth/ms/callback?code=c&state=s HTTP/1.1\r\nHost: localhost:{port}\r\nConnection: close\r\n\r\n")
                .expect("write");
            let mut out = String::new();
            s.read_to_string(&mut out).expect("read");
            out
        });
        let pending = lb.wait(&expected, Duration::from_secs(10)).await.expect("callback");
        assert_eq!(pending.url, format!("http://localhost:{port}/oauth/ms/callback?code=c&state=s"));
        pending.answer(true, "ok").await;
        let page = tokio::task::spawn_blocking(move || browser.join()).await.expect("join").expect("browser");
        assert!(page.starts_with("HTTP/1.1 200 "), "{page}");
    }

    fn verdict(head: &str) -> std::result::Result<String, Option<Refusal>> {
        let expected = Expected::new(LoopbackHost::Ip, 5000, &demo(), "st");
        match judge(head.as_bytes(), &expected) {
            Verdict::Callback(url) => Ok(url),
            Verdict::Refuse(r) => Err(Some(r)),
            Verdict::Incomplete => Err(None),
        }
    }

    #[test]
    fn judges_the_request_line_host_path_and_state() {
        let req = |line: &str, host: &str| format!("{line}\r\nHost: {host}\r\nAccept: */*\r\n\r\n");
        let good = "GET /oauth/demo/callback?code=c&state=st HTTP/1.1";
        assert_eq!(
            verdict(&req(good, "127.0.0.1:5000")),
            Ok("http://127.0.0.1:5000/oauth/demo/callback?code=c&state=st".into())
        );
        for host in ["[::1]:5000", "LOCALHOST:5000", "localhost:5000 "] {
            assert!(verdict(&req(good, host)).is_ok(), "{host}");
        }
        let error = "GET /oauth/demo/callback?error=access_denied&state=st HTTP/1.1";
        assert!(verdict(&req(error, "127.0.0.1:5000")).is_ok(), "the provider's error is the answer");

        use Refusal::*;
        for (head, want) in [
            (req(good, "127.0.0.1:5001"), Host),
            (req(good, "evil.example:5000"), Host),
            (req(good, "127.0.0.1"), Host),
            (req(good, ""), Host),
            (format!("{good}\r\nAccept: */*\r\n\r\n"), Malformed),
            (format!("{good}\r\nHost: 127.0.0.1:5000\r\nHost: 127.0.0.1:5000\r\n\r\n"), Malformed),
            (format!("{good}\r\n Host: 127.0.0.1:5000\r\n\r\n"), Malformed),
            (format!("{good}\r\nHost 127.0.0.1:5000\r\n\r\n"), Malformed),
            (req("GET /oauth/demo/callback?code=c&state=st HTTP/2.0", "127.0.0.1:5000"), Malformed),
            (req("GET  /oauth/demo/callback?code=c&state=st HTTP/1.1", "127.0.0.1:5000"), Malformed),
            (
                req(
                    "GET http://127.0.0.1:5000/oauth/demo/callback?code=c&state=st HTTP/1.1",
                    "127.0.0.1:5000",
                ),
                Malformed,
            ),
            (req("POST /oauth/demo/callback?code=c&state=st HTTP/1.1", "127.0.0.1:5000"), Method),
            (req("GET /favicon.ico HTTP/1.1", "127.0.0.1:5000"), NotFound),
            (req("GET /oauth/other/callback?code=c&state=st HTTP/1.1", "127.0.0.1:5000"), NotFound),
            (req("GET /oauth/demo/callback?code=c&state=other HTTP/1.1", "127.0.0.1:5000"), NotThisSignIn),
            (req("GET /oauth/demo/callback?code=c&state=s HTTP/1.1", "127.0.0.1:5000"), NotThisSignIn),
            (req("GET /oauth/demo/callback?state=st HTTP/1.1", "127.0.0.1:5000"), NotThisSignIn),
            (
                req("GET /oauth/demo/callback?code=c&state=st&state=st HTTP/1.1", "127.0.0.1:5000"),
                NotThisSignIn,
            ),
            (req("GET /oauth/demo/callback HTTP/1.1", "127.0.0.1:5000"), NotThisSignIn),
        ] {
            assert_eq!(verdict(&head), Err(Some(want)), "{head:?}");
        }
    }

    #[test]
    fn judges_size_before_content() {
        assert_eq!(
            verdict("GET /oauth/demo/callback?code=c&state=st HTTP/1.1\r\nHost: 127.0.0.1:5000\r\n"),
            Err(None)
        );
        assert_eq!(verdict(""), Err(None));
        let line = format!("GET /?{} HTTP/1.1", "a".repeat(MAX_HEAD));
        assert_eq!(verdict(&line[..MAX_HEAD - 1]), Err(None));
        assert_eq!(verdict(&line[..MAX_HEAD]), Err(Some(Refusal::UriTooLong)));
        let header = format!("GET / HTTP/1.1\r\nX: {}", "a".repeat(MAX_HEAD));
        assert_eq!(verdict(&header[..MAX_HEAD]), Err(Some(Refusal::HeadTooLarge)));
        // The end of the headers exactly at the bound is within it; one byte past is not.
        let fill = |n: usize| {
            let start = "GET /oauth/demo/callback?code=c&state=st HTTP/1.1\r\nHost: 127.0.0.1:5000\r\nX: ";
            format!("{start}{}\r\n\r\n", "a".repeat(n - start.len() - 4))
        };
        assert!(verdict(&fill(MAX_HEAD)).is_ok());
        assert_eq!(verdict(&fill(MAX_HEAD + 1)), Err(Some(Refusal::HeadTooLarge)));
    }

    #[tokio::test]
    async fn a_fixed_port_in_use_is_a_clear_error() {
        let taken = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind");
        let port = taken.local_addr().expect("addr").port();
        let began = Instant::now();
        let err = Loopback::open(LoopbackHost::Localhost, port).await.err().expect("in use").to_string();
        assert!(err.contains(&format!("Port {port}")), "{err}");
        assert!(began.elapsed() >= FIXED_PORT_PATIENCE, "gave up after {:?}", began.elapsed());
    }

    #[tokio::test]
    async fn a_fixed_port_freed_in_a_moment_is_taken() {
        let taken = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind");
        let port = taken.local_addr().expect("addr").port();
        let holder = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(300));
            drop(taken);
        });
        let lb = Loopback::open(LoopbackHost::Ip, port).await.expect("the port, once freed");
        assert_eq!(lb.port, port);
        holder.join().expect("holder");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_fixed_port_opens_again_right_after_a_sign_in() {
        let port = free_port();
        let mut first = Loopback::open(LoopbackHost::Ip, port).await.expect("bind");
        let expected = first.expect(&demo(), "s");
        let browser = std::thread::spawn(move || get(port, "/oauth/demo/callback?code=c&state=s"));
        first.wait(&expected, Duration::from_secs(10)).await.expect("callback").answer(true, "ok").await;
        let page = tokio::task::spawn_blocking(move || browser.join()).await.expect("join").expect("browser");
        assert!(page.starts_with("HTTP/1.1 200 "), "{page}");
        drop(first);
        let again = Loopback::open(LoopbackHost::Ip, port).await.expect("the same port again");
        assert_eq!(again.port, port);
    }

    #[test]
    fn a_port_the_os_picks_has_no_address_reuse() {
        use socket2::SockRef;
        let ours = listen(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)), false).expect("listen");
        assert!(!SockRef::from(&ours).reuse_address().expect("getsockopt"));
        // What std's listener would have set, and this module avoids.
        #[cfg(unix)]
        {
            let std_listener = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind");
            assert!(SockRef::from(&std_listener).reuse_address().expect("getsockopt"));
        }
    }

    /// The fixed port's SO_REUSEADDR lets no other socket in while Latchkey listens, with either
    /// option set on the intruder.
    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn no_one_else_can_listen_on_a_fixed_port_while_it_is_open() {
        let port = free_port();
        let ours = Loopback::open(LoopbackHost::Ip, port).await.expect("bind");
        for (reuse_addr, reuse_port) in [(true, false), (false, true), (true, true)] {
            let intruder = Socket::new(Domain::IPV4, Type::STREAM, None).expect("socket");
            intruder.set_reuse_address(reuse_addr).expect("SO_REUSEADDR");
            intruder.set_reuse_port(reuse_port).expect("SO_REUSEPORT");
            let err = intruder
                .bind(&SocketAddr::from((Ipv4Addr::LOCALHOST, port)).into())
                .expect_err("the port is Latchkey's while it listens");
            assert_eq!(err.kind(), std::io::ErrorKind::AddrInUse, "{reuse_addr} {reuse_port}");
        }
        drop(ours);
    }
}
