//! Calling a provider's API on an account's behalf: where the request may go ([`resolve`]), what a
//! consumer may do ([`Access`], [`Consent`]) and the shapes of a request and its answer. The call
//! itself is `Latchkey::call_api` (service/api.rs); grants are `store::Grant`.

pub mod resolve;
mod scrub;

pub use resolve::resolve;
pub use scrub::scrub;

use crate::error::{Error, Result};

crate::names::named_enum!(
    "access",
    /// What a consumer may do with an account's API.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
    pub enum Access {
        /// GET and HEAD only, refused before anything is sent otherwise.
        Read = "read",
        /// Any method.
        Full = "full",
    }
);

impl Access {
    /// Whether this access allows `method` (already upper-case).
    pub fn allows(self, method: &str) -> bool {
        self == Access::Full || matches!(method, "GET" | "HEAD")
    }
}

/// How the caller stands with the person's consent for this call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Consent {
    /// A stored, unexpired grant must exist (`latchkey grants add`).
    Granted,
    /// The caller asked the person just now and was allowed this once, with this access.
    Once(Access),
}

/// A request to an account's API. `path` is relative to the connection's API base
/// ([`resolve`]); `query` is encoded by Latchkey.
#[derive(Clone, Debug, Default)]
pub struct ApiRequest {
    pub method: String,
    pub path: String,
    pub query: Vec<(String, String)>,
    pub headers: Vec<(String, String)>,
    pub body: Option<String>,
}

/// What the provider answered. The body is text (JSON as text), cut at [`RESPONSE_MAX`] bytes.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct ApiResponse {
    pub status: u16,
    pub content_type: Option<String>,
    pub body: String,
    /// The provider sent more than [`RESPONSE_MAX`] bytes; the rest was not read.
    pub truncated: bool,
    /// The bytes of body read (at most [`RESPONSE_MAX`]).
    pub bytes: usize,
    /// A redirect's `Location`, as sent (cleaned): returned, never followed.
    pub location: Option<String>,
}

/// The most of a response body read and returned: 1 MiB.
pub const RESPONSE_MAX: usize = 1024 * 1024;
/// The largest request body sent: 1 MiB.
pub const REQUEST_BODY_MAX: usize = 1024 * 1024;
/// A consumer's name: 1 to this many characters. A command-line consumer is its program's path,
/// so any path Linux can hand out (PATH_MAX, 4096 bytes with its NUL) fits.
pub const CONSUMER_MAX: usize = 4096;

/// A consumer's name is 1–[`CONSUMER_MAX`] printable characters: no control or bidirectional
/// characters.
pub fn check_consumer(name: &str) -> Result<()> {
    let count = name.chars().count();
    if count == 0 || count > CONSUMER_MAX || name.trim().is_empty() {
        return Err(Error::InvalidInput(format!(
            "A consumer's name must be 1 to {CONSUMER_MAX} characters (not only spaces)."
        )));
    }
    if name.chars().any(crate::sanitize::is_unsafe) {
        return Err(Error::InvalidInput("A consumer's name cannot contain control characters.".into()));
    }
    Ok(())
}

/// Headers Latchkey sets or that would change where or how the request goes: a caller cannot send
/// them.
pub fn forbidden_header(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    matches!(
        name.as_str(),
        "authorization"
            | "cookie"
            | "host"
            | "content-length"
            | "transfer-encoding"
            | "connection"
            | "te"
            | "upgrade"
            | "forwarded"
            | "x-forwarded-for"
            | "x-forwarded-host"
    ) || name.starts_with("proxy-")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_access_allows_get_and_head_only() {
        for m in ["GET", "HEAD"] {
            assert!(Access::Read.allows(m));
        }
        for m in ["POST", "PUT", "PATCH", "DELETE", "OPTIONS", "get"] {
            assert!(!Access::Read.allows(m), "{m}");
            assert!(Access::Full.allows(m), "{m}");
        }
        assert_eq!("read".parse::<Access>(), Ok(Access::Read));
        assert!("write".parse::<Access>().is_err());
    }

    #[test]
    fn consumer_names_are_short_printable_lines() {
        for ok in ["claude-code", "Claude Desktop", "é", &"x".repeat(CONSUMER_MAX)] {
            assert!(check_consumer(ok).is_ok(), "{ok}");
        }
        for bad in ["", "  ", "a\nb", "a\u{1b}[31m", "a\u{202e}b", "a\0", &"x".repeat(CONSUMER_MAX + 1)] {
            assert!(check_consumer(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn headers_that_steer_the_request_are_forbidden() {
        for h in [
            "Authorization",
            "authorization",
            "COOKIE",
            "Host",
            "Proxy-Authorization",
            "proxy-x",
            "Content-Length",
        ] {
            assert!(forbidden_header(h), "{h}");
        }
        for h in ["Accept", "Content-Type", "X-GitHub-Api-Version", "Notion-Version"] {
            assert!(!forbidden_header(h), "{h}");
        }
    }
}
