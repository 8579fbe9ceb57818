//! Where an API call goes: a caller's `path` joined under a connection's API base, so that the
//! account's token can only ever reach that base's origin, under its path.
//!
//! `path` is relative to the base (one leading `/` is allowed and means the same). Refused: an
//! absolute or scheme-relative URL, empty segments (`//`), `.` and `..` segments however
//! percent-encoded (`%2e`, `%2E`, `%252e`, `..%2f`), `@`, backslashes (raw or `%5c`), `?` and `#`
//! (the query goes in `query`), control characters (raw or encoded), malformed `%` escapes, and a
//! path longer than [`PATH_MAX`]. The result is then checked again: same scheme, host and port as
//! the base, and a path under the base's path.

use url::Url;

use crate::error::{Error, Result};

/// The longest `path` accepted, in bytes.
pub const PATH_MAX: usize = 2048;
/// The longest query accepted (keys and values together), in bytes.
pub const QUERY_MAX: usize = 8192;
/// Percent-decoding rounds tried before a segment counts as encoded too deep to judge.
const DECODE_ROUNDS: usize = 4;

fn refuse(why: &str) -> Error {
    Error::InvalidInput(format!(
        "The API path was refused: {why}. Give a path relative to the account's API base."
    ))
}

/// The URL of `path` (with `query`) under `base`; see the module's documentation.
pub fn resolve(base: &Url, path: &str, query: &[(String, String)]) -> Result<Url> {
    check_base(base)?;
    let rel = path.strip_prefix('/').unwrap_or(path);
    if rel.is_empty() {
        return Err(refuse("it is empty"));
    }
    if path.len() > PATH_MAX {
        return Err(refuse(&format!("it is longer than {PATH_MAX} bytes")));
    }
    if let Some(c) = rel.chars().find(|&c| matches!(c, '@' | '\\' | '?' | '#') || c.is_control()) {
        return Err(refuse(&match c {
            '@' => "it contains “@”".to_owned(),
            '\\' => "it contains a backslash".to_owned(),
            '?' => "it contains “?” (pass the query separately)".to_owned(),
            '#' => "it contains a fragment (“#”)".to_owned(),
            _ => "it contains a control character".to_owned(),
        }));
    }
    let segments: Vec<&str> = rel.split('/').collect();
    for (i, segment) in segments.iter().enumerate() {
        if segment.is_empty() && i + 1 < segments.len() {
            return Err(refuse("it has an empty segment (“//”)"));
        }
        if i == 0 && segment.contains(':') && segment.split(':').next().is_some_and(looks_like_scheme) {
            return Err(refuse("it looks like an absolute URL"));
        }
        check_segment(segment)?;
    }
    let query_len: usize = query.iter().map(|(k, v)| k.len() + v.len()).sum();
    if query_len > QUERY_MAX {
        return Err(refuse(&format!("its query is longer than {QUERY_MAX} bytes")));
    }

    let prefix = base_prefix(base);
    let mut url = base.clone();
    url.set_path(&format!("{prefix}{rel}"));
    url.set_query(None);
    url.set_fragment(None);
    if !query.is_empty() {
        url.query_pairs_mut().extend_pairs(query.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    }
    if !same_origin(base, &url) || !url.path().starts_with(&prefix) {
        return Err(refuse("it leads outside the account's API base"));
    }
    Ok(url)
}

/// The base's path with one trailing `/`: what every resolved path starts with.
fn base_prefix(base: &Url) -> String {
    format!("{}/", base.path().trim_end_matches('/'))
}

fn same_origin(a: &Url, b: &Url) -> bool {
    a.scheme() == b.scheme() && a.host() == b.host() && a.port_or_known_default() == b.port_or_known_default()
}

/// An API base is an http(s) URL with a host, no credentials, query or fragment.
pub fn check_base(base: &Url) -> Result<()> {
    let ok = matches!(base.scheme(), "https" | "http")
        && base.host().is_some()
        && base.username().is_empty()
        && base.password().is_none()
        && base.query().is_none()
        && base.fragment().is_none();
    if ok { Ok(()) } else { Err(Error::InvalidInput(format!("“{base}” is not a usable API base URL."))) }
}

fn looks_like_scheme(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
}

/// Refuses a segment that is, or hides, a dot segment, a backslash or a control character, at any
/// depth of percent-encoding. An encoded `@`, `?` or `#` is data inside the path (Discord's
/// `users/%40me`), never read as a URL's delimiter, so it passes.
fn check_segment(segment: &str) -> Result<()> {
    let mut current = segment.to_owned();
    for round in 0..=DECODE_ROUNDS {
        for piece in current.split('/') {
            if piece == "." || piece == ".." {
                return Err(refuse("it contains a “.” or “..” segment"));
            }
        }
        if round > 0 && current.chars().any(|c| c == '\\' || c.is_control()) {
            return Err(refuse("it hides a backslash or a control character in percent-encoding"));
        }
        if !current.contains('%') {
            return Ok(());
        }
        current = percent_decode(&current)?;
    }
    Err(refuse("it is percent-encoded too many times over"))
}

/// One round of percent-decoding; a `%` not followed by two hex digits is refused, and so are
/// bytes that do not decode to UTF-8.
fn percent_decode(s: &str) -> Result<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3).and_then(|h| std::str::from_utf8(h).ok());
            match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                Some(b) if hex.is_some_and(|h| h.bytes().all(|c| c.is_ascii_hexdigit())) => out.push(b),
                _ => return Err(refuse("it has a malformed “%” escape")),
            }
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| refuse("it percent-encodes bytes that are not UTF-8"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base(s: &str) -> Url {
        Url::parse(s).expect("base")
    }

    fn ok(b: &str, path: &str) -> String {
        resolve(&base(b), path, &[]).unwrap_or_else(|e| panic!("{path:?} refused: {e}")).to_string()
    }

    fn refused(b: &str, path: &str) {
        if let Ok(url) = resolve(&base(b), path, &[]) {
            panic!("{path:?} under {b} was accepted as {url}");
        }
    }

    #[test]
    fn paths_join_under_the_base_path() {
        assert_eq!(ok("https://api.github.com", "user"), "https://api.github.com/user");
        assert_eq!(ok("https://api.github.com/", "/user/repos"), "https://api.github.com/user/repos");
        assert_eq!(ok("https://slack.com/api", "chat.postMessage"), "https://slack.com/api/chat.postMessage");
        assert_eq!(ok("https://slack.com/api/", "/users.list"), "https://slack.com/api/users.list");
        assert_eq!(
            ok("https://discord.com/api", "v10/users/@me".replace('@', "%40").as_str()),
            "https://discord.com/api/v10/users/%40me"
        );
        assert_eq!(
            ok("https://www.googleapis.com", "calendar/v3/calendars/primary/events"),
            "https://www.googleapis.com/calendar/v3/calendars/primary/events"
        );
        assert_eq!(ok("http://127.0.0.1:8443/oidc", "me"), "http://127.0.0.1:8443/oidc/me");
        assert_eq!(ok("https://api.example", "dir/"), "https://api.example/dir/");
        assert_eq!(ok("https://api.example", "a b"), "https://api.example/a%20b");
        assert_eq!(
            ok("https://api.example", "files/r%C3%A9sum%C3%A9"),
            "https://api.example/files/r%C3%A9sum%C3%A9"
        );
        assert_eq!(ok("https://api.example", "v1/a...b/.well"), "https://api.example/v1/a...b/.well");
        // Encoded delimiters are data inside a segment, not delimiters.
        assert_eq!(ok("https://api.example", "f/a%23b%3Fc%40d"), "https://api.example/f/a%23b%3Fc%40d");
    }

    #[test]
    fn the_query_is_encoded_and_a_base_query_dropped() {
        let q = vec![("q".to_owned(), "a&b=c #d".to_owned()), ("maxResults".to_owned(), "5".to_owned())];
        let url =
            resolve(&base("https://gmail.googleapis.com"), "gmail/v1/users/me/messages", &q).expect("ok");
        assert_eq!(
            url.as_str(),
            "https://gmail.googleapis.com/gmail/v1/users/me/messages?q=a%26b%3Dc+%23d&maxResults=5"
        );
        assert_eq!(url.fragment(), None);
        let pairs: Vec<_> = url.query_pairs().into_owned().collect();
        assert_eq!(pairs, q);
        let long = vec![("q".to_owned(), "x".repeat(QUERY_MAX + 1))];
        assert!(resolve(&base("https://a.example"), "x", &long).is_err());
    }

    #[test]
    fn every_way_out_of_the_base_is_refused() {
        let b = "https://api.example/v1";
        for path in [
            "",
            "/",
            "https://evil.example/x",
            "http://127.0.0.1:9/",
            "HTTPS://evil.example",
            "javascript:alert(1)",
            "mailto:a",
            "//evil.example/x",
            "///evil.example",
            "/\\evil.example",
            "\\\\evil.example",
            "%5c%5cevil.example",
            "%5Cevil",
            "a\\b",
            "..",
            ".",
            "../x",
            "a/../../x",
            "a/./b",
            "a/..",
            "%2e%2e/x",
            "%2E%2E/x",
            "%2e%2E",
            ".%2e/x",
            "%2e./x",
            "%2e",
            "%252e%252e/x",
            "%25252e%25252e/x",
            "%2525252e%2525252e/x",
            "..%2fx",
            "..%2Fx",
            "a%2f..%2f..%2fx",
            "%2e%2e%2fx",
            "a%2f%2e%2e",
            "..%5cx",
            "@evil.example",
            "user@evil.example/x",
            "a/b@c",
            "%40%5c",
            "a#frag",
            "a?x=1",
            "a\nb",
            "a\rb",
            "a\tb",
            "a\0b",
            "a%00b",
            "a%0d%0aHost:%20evil",
            "a%7f",
            "a%c2%85",
            "a%",
            "a%2",
            "a%zz",
            "a%%32e",
            "a%ff",
            "a//b",
            "a/b//",
        ] {
            refused(b, path);
            refused("https://api.example", path);
        }
        refused(b, &"a".repeat(PATH_MAX + 1));
        assert!(resolve(&base(b), &"a".repeat(PATH_MAX), &[]).is_ok());
    }

    #[test]
    fn unusable_bases_are_refused() {
        for b in [
            "https://u:p@api.example/",
            "https://api.example/?x=1",
            "https://api.example/#f",
            "ftp://api.example/",
            "file:///etc",
        ] {
            assert!(resolve(&base(b), "x", &[]).is_err(), "{b}");
        }
    }

    #[test]
    fn results_stay_on_the_origin_and_under_the_path() {
        let b = base("https://api.example:8443/root/v2");
        for path in
            ["x", "x/y/z", "x%2fy", "%2e%2e%2e", "...", "a.b", "~user", "a;b=c", "a:b", "x:y", "é", "%2520"]
        {
            let Ok(url) = resolve(&b, path, &[]) else { continue };
            assert!(same_origin(&b, &url), "{path} → {url}");
            assert!(url.path().starts_with("/root/v2/"), "{path} → {url}");
        }
    }
}
