//! The loopback redirect (RFC 8252 §7.3) for providers that demand one (Google desktop clients):
//! `http://127.0.0.1:{port}/oauth/{connection}/callback` (or `http://localhost:…` where the
//! provider wants that name, as Microsoft does: then on 127.0.0.1 and ::1), a one-shot listener
//! bound to loopback only, on a port the OS picks (or the one the provider registered), open only
//! while a sign-in is pending, closed after one answer. The page it serves is self-contained and sends `Referrer-Policy: no-referrer`.
//!
//! Socket options (the sockets are made with socket2; std's `TcpListener::bind` would set
//! SO_REUSEADDR on every Unix listener). RFC 8252 App. B asks for neither SO_REUSEADDR nor
//! SO_REUSEPORT on Linux, so that no other program can take the redirect port. A port the OS picks
//! gets neither. A provider's fixed port (Discord's) gets SO_REUSEADDR and only that, a deliberate
//! exception: the listener answers the browser and closes first, so its connection stays in
//! TIME_WAIT on that port for a minute, and without SO_REUSEADDR a second sign-in within that
//! minute could not open the port. On Linux SO_REUSEADDR never lets a socket bind a port another is
//! listening on, and without SO_REUSEPORT on ours nobody can share it; both are tested below.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener};
use std::time::{Duration, Instant};

use socket2::{Domain, Protocol, Socket, Type};

use crate::error::{Error, Result};
use crate::model::ConnectionId;
use crate::protocol::LoopbackHost;

/// How long a provider's fixed port may stay taken before the sign-in gives up: outgoing
/// connections get their local ports from the same range, so a port can be held for a moment by a
/// connection that is about to close.
const FIXED_PORT_PATIENCE: Duration = Duration::from_secs(2);

pub struct Loopback {
    /// 127.0.0.1, and for `localhost` also ::1 on the same port (browsers may resolve either).
    servers: Vec<tiny_http::Server>,
    host: LoopbackHost,
    port: u16,
}

/// The request the browser made to the listener, held open until [`Pending::answer`].
pub struct Pending {
    request: tiny_http::Request,
    /// The full callback URL, as the core's callback parser expects it.
    pub url: String,
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
        let servers = listeners
            .into_iter()
            .map(|l| tiny_http::Server::from_listener(l, None))
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|e| Error::InvalidInput(format!("cannot listen for the sign-in: {e}")))?;
        Ok(Loopback { servers, host, port })
    }

    /// The listening sockets, and their port.
    fn bind(host: LoopbackHost, port: u16) -> std::io::Result<(Vec<TcpListener>, u16)> {
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

    /// Waits (blocking) up to `timeout` for the browser to arrive at the connection's callback
    /// path; `None` when it did not. Other requests (a favicon, a stray probe) get a 404.
    pub fn wait(&self, connection: &ConnectionId, timeout: Duration) -> Result<Option<Pending>> {
        let path = format!("/oauth/{connection}/callback");
        let deadline = Instant::now() + timeout;
        let slice = Duration::from_millis(50);
        loop {
            for server in &self.servers {
                let request = server
                    .recv_timeout(slice)
                    .map_err(|e| Error::InvalidInput(format!("the sign-in listener failed: {e}")))?;
                let Some(request) = request else { continue };
                let ok = request.method() == &tiny_http::Method::Get
                    && request.url().split('?').next() == Some(path.as_str());
                if ok {
                    let url = format!("http://{}:{}{}", self.host.as_str(), self.port, request.url());
                    return Ok(Some(Pending { request, url }));
                }
                let _ = request.respond(page(
                    404,
                    "Not found",
                    "This address only receives a sign-in for Latchkey.",
                ));
            }
            if Instant::now() >= deadline {
                return Ok(None);
            }
        }
    }
}

impl Pending {
    /// Answers the browser, once, with the outcome, and closes the connection.
    pub fn answer(self, ok: bool, message: &str) {
        let (status, title) =
            if ok { (200, "Signed in — you can close this tab") } else { (400, "Sign-in failed") };
        let _ = self.request.respond(page(status, title, message));
    }
}

/// A listening socket on `addr`: never SO_REUSEPORT, SO_REUSEADDR only for a provider's fixed port
/// (see the module's notes); close-on-exec, as socket2 makes every socket.
fn listen(addr: SocketAddr, fixed_port: bool) -> std::io::Result<TcpListener> {
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

fn page(status: u16, title: &str, message: &str) -> tiny_http::Response<std::io::Cursor<Vec<u8>>> {
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
    let header = |k: &str, v: &str| tiny_http::Header::from_bytes(k.as_bytes(), v.as_bytes()).ok();
    let mut response = tiny_http::Response::from_data(body.into_bytes()).with_status_code(status);
    for h in [
        header("Content-Type", "text/html; charset=utf-8"),
        header("Referrer-Policy", "no-referrer"),
        header("Cache-Control", "no-store"),
        header("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'"),
    ]
    .into_iter()
    .flatten()
    {
        response.add_header(h);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    fn open(host: LoopbackHost, port: u16) -> Result<Loopback> {
        let rt = tokio::runtime::Builder::new_current_thread().enable_time().build().expect("runtime");
        rt.block_on(Loopback::open(host, port))
    }

    /// A port nobody listens on, as a provider's fixed port.
    fn free_port() -> u16 {
        let probe = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind");
        probe.local_addr().expect("addr").port()
    }

    fn get(port: u16, path: &str) -> String {
        let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
        write!(s, "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n").expect("write");
        let mut out = String::new();
        s.read_to_string(&mut out).expect("read");
        out
    }

    #[test]
    fn answers_strays_with_404_and_returns_the_callback() {
        let lb = open(LoopbackHost::Ip, 0).expect("bind");
        let conn = ConnectionId::new("demo").expect("id");
        assert!(lb.redirect_uri(&conn).starts_with("http://127.0.0.1:"));
        let port = lb.port;
        let browser = std::thread::spawn(move || {
            let stray = get(port, "/favicon.ico");
            let done = get(port, "/oauth/demo/callback?code=c&state=s");
            (stray, done)
        });
        let pending = lb.wait(&conn, Duration::from_secs(10)).expect("listening").expect("callback");
        assert_eq!(pending.url, format!("http://127.0.0.1:{port}/oauth/demo/callback?code=c&state=s"));
        pending.answer(true, "Connected <you>.");
        let (stray, done) = browser.join().expect("browser");
        assert!(stray.starts_with("HTTP/1.1 404"), "{stray}");
        assert!(done.starts_with("HTTP/1.1 200"), "{done}");
        assert!(
            done.contains("Referrer-Policy: no-referrer") && done.contains("Connected &lt;you&gt;."),
            "{done}"
        );
    }

    #[test]
    fn gives_up_after_the_timeout() {
        let lb = open(LoopbackHost::Ip, 0).expect("bind");
        let conn = ConnectionId::new("demo").expect("id");
        assert!(lb.wait(&conn, Duration::from_millis(200)).expect("listening").is_none());
    }

    #[test]
    fn localhost_listens_on_both_loopback_addresses_on_one_port() {
        let lb = open(LoopbackHost::Localhost, 0).expect("bind");
        let conn = ConnectionId::new("ms").expect("id");
        assert!(lb.redirect_uri(&conn).starts_with("http://localhost:"));
        let port = lb.port;
        let v6 = std::net::TcpStream::connect((Ipv6Addr::LOCALHOST, port)).is_ok();
        let browser = std::thread::spawn(move || {
            let addr: (&str, u16) = if v6 { ("::1", port) } else { ("127.0.0.1", port) };
            let mut s = std::net::TcpStream::connect(addr).expect("connect");
            write!(s, "GET /oauth/ms/callback?code=c&state=s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
                .expect("write");
            let mut out = String::new();
            s.read_to_string(&mut out).expect("read");
            out
        });
        let pending = lb.wait(&conn, Duration::from_secs(10)).expect("listening").expect("callback");
        assert_eq!(pending.url, format!("http://localhost:{port}/oauth/ms/callback?code=c&state=s"));
        pending.answer(true, "ok");
        assert!(browser.join().expect("browser").starts_with("HTTP/1.1 200"));
    }

    #[test]
    fn a_fixed_port_in_use_is_a_clear_error() {
        let taken = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind");
        let port = taken.local_addr().expect("addr").port();
        let began = Instant::now();
        let err = open(LoopbackHost::Localhost, port).err().expect("in use").to_string();
        assert!(err.contains(&format!("Port {port}")), "{err}");
        assert!(began.elapsed() >= FIXED_PORT_PATIENCE, "gave up after {:?}", began.elapsed());
    }

    #[test]
    fn a_fixed_port_freed_in_a_moment_is_taken() {
        let taken = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind");
        let port = taken.local_addr().expect("addr").port();
        let holder = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(300));
            drop(taken);
        });
        let lb = open(LoopbackHost::Ip, port).expect("the port, once freed");
        assert_eq!(lb.port, port);
        holder.join().expect("holder");
    }

    #[test]
    fn a_fixed_port_opens_again_right_after_a_sign_in() {
        let conn = ConnectionId::new("demo").expect("id");
        let port = free_port();
        let first = open(LoopbackHost::Ip, port).expect("bind");
        let browser = std::thread::spawn(move || get(port, "/oauth/demo/callback?code=c&state=s"));
        first.wait(&conn, Duration::from_secs(10)).expect("listening").expect("callback").answer(true, "ok");
        assert!(browser.join().expect("browser").starts_with("HTTP/1.1 200"));
        drop(first);
        let again = open(LoopbackHost::Ip, port).expect("the same port again");
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
            let std_listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind");
            assert!(SockRef::from(&std_listener).reuse_address().expect("getsockopt"));
        }
    }

    /// The fixed port's SO_REUSEADDR lets no other socket in while Latchkey listens, with either
    /// option set on the intruder.
    #[cfg(target_os = "linux")]
    #[test]
    fn no_one_else_can_listen_on_a_fixed_port_while_it_is_open() {
        let port = free_port();
        let ours = open(LoopbackHost::Ip, port).expect("bind");
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
