//! The core's one error type. Every message is a sentence a person can act on, and none carries a
//! secret: provider responses are reduced to their `error` code and description before they get here.

use crate::model::AccountStatus;

/// A small closed set the UI and the CLI can branch on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorCode {
    ReauthNeeded,
    KeychainUnavailable,
    ProviderError,
    Network,
    InvalidInput,
    NotFound,
    Internal,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::ReauthNeeded => "reauth_needed",
            ErrorCode::KeychainUnavailable => "keychain_unavailable",
            ErrorCode::ProviderError => "provider_error",
            ErrorCode::Network => "network",
            ErrorCode::InvalidInput => "invalid_input",
            ErrorCode::NotFound => "not_found",
            ErrorCode::Internal => "internal",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    InvalidInput(String),
    #[error("There is no connection named “{0}”.")]
    UnknownConnection(String),
    #[error("There is no such account (it may have been deleted).")]
    UnknownAccount,
    #[error("The connection “{connection}” already has an account named “{identifier}”.")]
    Duplicate { connection: String, identifier: String },
    #[error("“{connection}” is {kind} connection: {what}")]
    WrongConnectionType { connection: String, kind: &'static str, what: &'static str },
    #[error("The credentials of this account are missing from the keychain. Reconnect it.")]
    CredentialsMissing,
    #[error(
        "This account is suspended: Latchkey keeps its tokens but does not hand them out. Resume it first."
    )]
    Suspended,
    #[error("{provider} no longer accepts this account's access token.")]
    TokenRejected { provider: String },
    #[error("This account needs to be reconnected ({0}).")]
    NeedsReconnect(String),
    #[error("{provider} cannot be reached right now ({reason}); Latchkey retries at {retry_at}.")]
    Offline { provider: String, reason: String, retry_at: String },
    #[error("The connection “{0}” is not ready: {1}")]
    ConnectionNotReady(String, String),
    #[error(
        "This sign-in response does not match a sign-in Latchkey started (it is unknown, expired or \
         was already used), so it was ignored. Start the connection again."
    )]
    UnknownState,
    #[error(
        "The sign-in response did not come from {expected} (issuer mismatch), so it was rejected and \
         nothing was stored. Start the connection again."
    )]
    IssuerMismatch { expected: String },
    #[error(
        "You signed in to {provider} as {got}, but this account is {expected}. Nothing was changed: \
         sign in as {expected} to reconnect it, or add {got} as a new account."
    )]
    IdentityMismatch { provider: String, expected: String, got: String },
    #[error("The sign-in was cancelled, or replaced by a newer one.")]
    Cancelled,
    #[error(
        "The sign-in timed out: Latchkey waited {0} for the browser to come back. Start the connection again."
    )]
    SignInTimedOut(String),
    #[error("You declined access at {provider}. Nothing was stored; connect again when you are ready.")]
    Denied { provider: String },
    #[error(
        "The sign-in code for {provider} expired before it was approved. Nothing was stored; start the \
         connection again."
    )]
    DeviceCodeExpired { provider: String },
    #[error("{provider} refused the request: {detail}")]
    Provider { provider: String, detail: String },
    #[error("Latchkey could not reach {provider} ({detail}). Check your network and try again.")]
    Network { provider: String, detail: String },
    #[error(
        "The system keychain is not available ({0}). Unlock it or start a Secret Service, then try again."
    )]
    Keychain(String),
    #[error("An account that is {from} cannot become {to}.")]
    InvalidTransition { from: AccountStatus, to: AccountStatus },
    #[error("Latchkey's local database failed: {0}")]
    Storage(String),
    #[error(
        "“{consumer}” is not allowed to use {account}. To allow it: latchkey grants add '{consumer}' {account} --access read|full"
    )]
    NoGrant { consumer: String, account: String },
    /// The account's hand-out policy keeps its raw token from this caller; the sentence says why
    /// and the command that allows it.
    #[error("{0}")]
    HandoutRefused(String),
    #[error("Latchkey's app could not be asked ({0}).")]
    AppUnreachable(String),
}

impl Error {
    pub fn code(&self) -> ErrorCode {
        match self {
            Error::InvalidInput(_) | Error::InvalidTransition { .. } => ErrorCode::InvalidInput,
            Error::UnknownConnection(_) | Error::UnknownAccount => ErrorCode::NotFound,
            Error::Duplicate { .. } | Error::WrongConnectionType { .. } => ErrorCode::InvalidInput,
            Error::CredentialsMissing | Error::NeedsReconnect(_) | Error::TokenRejected { .. } => {
                ErrorCode::ReauthNeeded
            }
            Error::Suspended => ErrorCode::InvalidInput,
            Error::Offline { .. } => ErrorCode::Network,
            Error::ConnectionNotReady(..) => ErrorCode::InvalidInput,
            Error::UnknownState | Error::IssuerMismatch { .. } | Error::IdentityMismatch { .. } => {
                ErrorCode::InvalidInput
            }
            Error::Denied { .. } | Error::DeviceCodeExpired { .. } => ErrorCode::ReauthNeeded,
            Error::Cancelled | Error::SignInTimedOut(_) => ErrorCode::InvalidInput,
            Error::Provider { .. } => ErrorCode::ProviderError,
            Error::Network { .. } => ErrorCode::Network,
            Error::Keychain(_) => ErrorCode::KeychainUnavailable,
            Error::Storage(_) => ErrorCode::Internal,
            Error::NoGrant { .. } | Error::HandoutRefused(_) => ErrorCode::InvalidInput,
            Error::AppUnreachable(_) => ErrorCode::Internal,
        }
    }
}

impl From<rusqlite::Error> for Error {
    fn from(e: rusqlite::Error) -> Self {
        Error::Storage(e.to_string())
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
