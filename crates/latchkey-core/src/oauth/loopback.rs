//! The loopback redirect (RFC 8252 §7.3) for providers that demand one (Google desktop clients) and
//! for the CLI: `http://127.0.0.1:{port}/oauth/{connection}/callback`, a one-shot listener bound to
//! 127.0.0.1 only, on a port the OS picks, open only while a sign-in is pending, closed after one
//! answer. The page it serves is self-contained and sends `Referrer-Policy: no-referrer`.
//! (std's listener sets no SO_REUSEADDR, as §8.3 / App. B ask on Linux.)

use std::net::{Ipv4Addr, TcpListener};
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::model::ConnectionId;

pub struct Loopback {
    server: tiny_http::Server,
    port: u16,
}

/// The request the browser made to the listener, held open until [`Loopback::answer`].
pub struct Pending {
    request: tiny_http::Request,
    /// The full callback URL, as the core's callback parser expects it.
    pub url: String,
}

impl Loopback {
    pub fn bind() -> Result<Loopback> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .map_err(|e| Error::InvalidInput(format!("cannot open a local port for the sign-in: {e}")))?;
        let port = listener.local_addr().map_err(|e| Error::InvalidInput(e.to_string()))?.port();
        let server = tiny_http::Server::from_listener(listener, None)
            .map_err(|e| Error::InvalidInput(format!("cannot listen for the sign-in: {e}")))?;
        Ok(Loopback { server, port })
    }

    pub fn redirect_uri(&self, connection: &ConnectionId) -> String {
        redirect_uri(self.port, connection)
    }

    /// Waits (blocking) for the browser to arrive at the connection's callback path; other requests
    /// (a favicon, a stray probe) get a 404 and waiting goes on.
    pub fn wait(&self, connection: &ConnectionId, timeout: Duration) -> Result<Pending> {
        let path = format!("/oauth/{connection}/callback");
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(Error::InvalidInput(
                    "The sign-in was not finished in time. Start the connection again.".into(),
                ));
            }
            let request = self
                .server
                .recv_timeout(left)
                .map_err(|e| Error::InvalidInput(format!("the sign-in listener failed: {e}")))?;
            let Some(request) = request else { continue };
            let ok = request.method() == &tiny_http::Method::Get
                && request.url().split('?').next() == Some(path.as_str());
            if ok {
                let url = format!("http://127.0.0.1:{}{}", self.port, request.url());
                return Ok(Pending { request, url });
            }
            let _ =
                request.respond(page(404, "Not found", "This address only receives a sign-in for Latchkey."));
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

pub fn redirect_uri(port: u16, connection: &ConnectionId) -> String {
    format!("http://127.0.0.1:{port}/oauth/{connection}/callback")
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

    fn get(port: u16, path: &str) -> String {
        let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
        write!(s, "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n").expect("write");
        let mut out = String::new();
        s.read_to_string(&mut out).expect("read");
        out
    }

    #[test]
    fn answers_strays_with_404_and_returns_the_callback() {
        let lb = Loopback::bind().expect("bind");
        let conn = ConnectionId::new("demo").expect("id");
        assert!(lb.redirect_uri(&conn).starts_with("http://127.0.0.1:"));
        let port = lb.port;
        let browser = std::thread::spawn(move || {
            let stray = get(port, "/favicon.ico");
            let done = get(port, "/oauth/demo/callback?code=c&state=s");
            (stray, done)
        });
        let pending = lb.wait(&conn, Duration::from_secs(10)).expect("callback");
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
        let lb = Loopback::bind().expect("bind");
        let conn = ConnectionId::new("demo").expect("id");
        assert!(lb.wait(&conn, Duration::from_millis(200)).is_err());
    }
}
