//! The one type that holds a token or a client secret.
//!
//! `Secret` can be read only through [`Secret::expose`], prints as `<redacted>` in `Debug`, has no
//! `Display`, and implements neither `Serialize` nor `Clone`-into-a-string conversions, so a token
//! cannot end up in a log line, an error message, a DTO or the SQLite file by accident: each of those
//! would have to call `expose()`, and the only callers are the vault and the HTTP requests that must
//! send the token.

use zeroize::Zeroizing;

/// A token or credential. Zeroed when dropped.
pub struct Secret(Zeroizing<String>);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(Zeroizing::new(value.into()))
    }

    /// The secret's value. Call it only where the value must leave the process: an HTTP request to
    /// the provider, the OS keychain, or the CLI's stdout.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

/// The tokens of one account, as the provider issued them.
#[derive(Debug)]
pub struct TokenSet {
    pub access_token: Secret,
    pub refresh_token: Option<Secret>,
}

/// What an account authenticates with, by connection type.
#[derive(Debug)]
pub enum Credential {
    OAuth(TokenSet),
    ApiKey(Secret),
    /// The username is not secret, but it is part of the credential and lives beside the password.
    Basic {
        username: String,
        password: Secret,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    static_assertions::assert_not_impl_any!(Secret: serde::Serialize, std::fmt::Display, Clone);
    static_assertions::assert_not_impl_any!(TokenSet: serde::Serialize, std::fmt::Display, Clone);
    static_assertions::assert_not_impl_any!(Credential: serde::Serialize, std::fmt::Display, Clone);

    #[test]
    fn debug_never_shows_the_value() {
        let tokens = TokenSet {
            access_token: Secret::new("at-very-secret"),
            refresh_token: Some(Secret::new("rt-very-secret")),
        };
        let printed = format!("{tokens:?} {:?}", tokens.access_token);
        assert!(!printed.contains("very-secret"), "{printed}");
        assert!(printed.contains("<redacted>"));
        assert_eq!(tokens.access_token.expose(), "at-very-secret");
    }
}
