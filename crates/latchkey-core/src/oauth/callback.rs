//! Parsing the redirect that comes back from the browser: `<scheme>:/oauth/{connection}/callback?…`.
//! Anything else (another scheme, a host part, another path, a missing `state`) is refused before
//! any lookup happens. Nothing here is trusted: only `state` + PKCE make a callback genuine.

use url::Url;

use crate::error::{Error, Result};
use crate::model::ConnectionId;

/// What the provider sent back, not yet trusted.
#[derive(Debug)]
pub struct Callback {
    pub connection: ConnectionId,
    pub state: String,
    pub iss: Option<String>,
    pub outcome: Outcome,
    /// The URL without its query: must equal the redirect URI the sign-in was started with.
    pub redirect_base: String,
}

#[derive(Debug)]
pub enum Outcome {
    /// The authorization code. Short-lived and single use, but still not for logs.
    Code(crate::secret::Secret),
    Error {
        error: String,
        description: Option<String>,
    },
}

/// The redirect URI registered for `connection`.
pub fn redirect_uri(scheme: &str, connection: &ConnectionId) -> String {
    format!("{scheme}:/oauth/{connection}/callback")
}

pub fn parse(scheme: &str, raw: &str) -> Result<Callback> {
    let not_ours =
        || Error::InvalidInput("That link is not a Latchkey sign-in response, so it was ignored.".into());
    if raw.len() > 8192 {
        return Err(not_ours());
    }
    let url = Url::parse(raw).map_err(|_| not_ours())?;
    // Either the app's private-use scheme with no authority (`scheme:/oauth/…`), or the loopback
    // redirect `http://127.0.0.1:{port}/oauth/…` (`localhost` for providers that want the name). Which one a sign-in used is checked against its
    // pending flow by `redirect_base`.
    let deep_link = url.scheme() == scheme && url.host().is_none();
    let loopback_host = match url.host() {
        Some(url::Host::Ipv4(ip)) => ip == std::net::Ipv4Addr::LOCALHOST,
        Some(url::Host::Domain(name)) => name == "localhost",
        _ => false,
    };
    let loopback = url.scheme() == "http"
        && loopback_host
        && url.port().is_some()
        && url.username().is_empty()
        && url.password().is_none();
    if !(deep_link || loopback) || url.fragment().is_some() {
        return Err(not_ours());
    }
    let mut segments = url.path().strip_prefix('/').ok_or_else(not_ours)?.split('/');
    let (Some("oauth"), Some(conn), Some("callback"), None) =
        (segments.next(), segments.next(), segments.next(), segments.next())
    else {
        return Err(not_ours());
    };
    let connection = ConnectionId::new(conn).map_err(|_| not_ours())?;
    // Percent-escapes that decode to something other than UTF-8 are malformed, not "repaired".
    if !url.query().is_none_or(decodes_to_utf8) {
        return Err(not_ours());
    }

    let (mut state, mut code, mut iss, mut error, mut description) = (None, None, None, None, None);
    for (k, v) in url.query_pairs() {
        let slot = match k.as_ref() {
            "state" => &mut state,
            "code" => &mut code,
            "iss" => &mut iss,
            "error" => &mut error,
            "error_description" => &mut description,
            _ => continue,
        };
        if slot.replace(v.into_owned()).is_some() {
            // A repeated parameter is a malformed response (RFC 6749 §3.1).
            return Err(not_ours());
        }
    }
    let state = state.filter(|s| !s.is_empty()).ok_or_else(not_ours)?;
    let outcome = match (code, error) {
        (Some(code), None) if !code.is_empty() => Outcome::Code(crate::secret::Secret::new(code)),
        (None, Some(error)) => Outcome::Error { error, description },
        _ => return Err(not_ours()),
    };
    let mut base = url.clone();
    base.set_query(None);
    Ok(Callback { connection, state, iss, outcome, redirect_base: base.to_string() })
}

/// Whether every percent-escaped byte sequence in `query` is UTF-8.
fn decodes_to_utf8(query: &str) -> bool {
    let bytes = query.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (bytes[i], bytes.get(i + 1).and_then(|&b| hex(b)), bytes.get(i + 2).and_then(|&b| hex(b))) {
            (b'%', Some(h), Some(l)) => {
                out.push((h * 16 + l) as u8);
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    std::str::from_utf8(&out).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: &str = "io.latchkey.desktop";

    #[test]
    fn parses_a_code_response() {
        let cb = parse(S, "io.latchkey.desktop:/oauth/demo/callback?code=abc&state=xyz&iss=https%3A%2F%2Fa")
            .expect("ok");
        assert_eq!(cb.connection.as_str(), "demo");
        assert_eq!(cb.state, "xyz");
        assert_eq!(cb.iss.as_deref(), Some("https://a"));
        assert!(matches!(cb.outcome, Outcome::Code(ref c) if c.expose() == "abc"));
        assert!(!format!("{cb:?}").contains("abc"), "the code is redacted in Debug");
    }

    #[test]
    fn parses_a_loopback_response() {
        let cb = parse(S, "http://127.0.0.1:5123/oauth/demo/callback?code=abc&state=xyz").expect("ok");
        assert_eq!(cb.redirect_base, "http://127.0.0.1:5123/oauth/demo/callback");
        let cb = parse(S, "io.latchkey.desktop:/oauth/demo/callback?code=abc&state=xyz").expect("ok");
        assert_eq!(cb.redirect_base, "io.latchkey.desktop:/oauth/demo/callback");
        let cb = parse(S, "http://localhost:5123/oauth/ms/callback?code=abc&state=xyz").expect("ok");
        assert_eq!(cb.redirect_base, "http://localhost:5123/oauth/ms/callback");
    }

    #[test]
    fn parses_an_error_response() {
        let cb = parse(
            S,
            "io.latchkey.desktop:/oauth/demo/callback?error=access_denied&error_description=no&state=x",
        )
        .expect("ok");
        assert!(matches!(cb.outcome, Outcome::Error { ref error, .. } if error == "access_denied"));
    }

    #[test]
    fn refuses_anything_else() {
        for bad in [
            "",
            "not a url",
            "https://evil.example/oauth/demo/callback?code=a&state=b",
            "http://10.0.0.1:8080/oauth/demo/callback?code=a&state=b",
            "http://localhost.evil.example:8080/oauth/demo/callback?code=a&state=b",
            "http://[::1]:8080/oauth/demo/callback?code=a&state=b",
            "http://127.0.0.1/oauth/demo/callback?code=a&state=b",
            "https://127.0.0.1:9/oauth/demo/callback?code=a&state=b",
            "http://user@127.0.0.1:9/oauth/demo/callback?code=a&state=b",
            "io.latchkey.desktop://oauth/demo/callback?code=a&state=b",
            "io.latchkey.desktop:/oauth/demo/other?code=a&state=b",
            "io.latchkey.desktop:/oauth/Demo/callback?code=a&state=b",
            "io.latchkey.desktop:/oauth/demo/callback/x?code=a&state=b",
            "io.latchkey.desktop:/oauth/demo/callback?code=a",
            "io.latchkey.desktop:/oauth/demo/callback?state=b",
            "io.latchkey.desktop:/oauth/demo/callback?code=a&state=b&state=c",
            "io.latchkey.desktop:/oauth/demo/callback?code=a&error=x&state=b",
            "io.latchkey.desktop:/oauth/demo/callback?code=a&state=b#frag",
            "other.scheme:/oauth/demo/callback?code=a&state=b",
            "io.latchkey.desktop:/oauth/demo/callback?code=%FF%FE&state=b",
            "io.latchkey.desktop:/oauth/demo/callback?code=a&state=%C3",
            "io.latchkey.desktop:/oauth/demo/callback?code=a&state=b&iss=%E2%82",
        ] {
            let err = parse(S, bad).expect_err(bad);
            assert_eq!(err.code(), crate::error::ErrorCode::InvalidInput, "{bad}");
        }
        // Oversize: a whole callback over 8 KiB, or one huge value.
        let huge = format!("io.latchkey.desktop:/oauth/demo/callback?code={}&state=b", "a".repeat(9000));
        assert!(parse(S, &huge).is_err());
        // UTF-8 that is escaped properly is fine.
        let cb = parse(S, "io.latchkey.desktop:/oauth/demo/callback?code=a&state=b&error_description=%C3%A9")
            .expect("ok");
        assert_eq!(cb.state, "b");
    }
}
