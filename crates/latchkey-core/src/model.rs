//! Connections, accounts and the account state machine of the connected-accounts guide.
//!
//! Domain types here derive no `Serialize`: what crosses a process boundary is a DTO built by the
//! shell or the CLI from these, field by field.

use std::fmt;
use std::str::FromStr;

use crate::error::{Error, Result};

/// A connection's name, as written in the configuration and used in redirect paths
/// (`<scheme>:/oauth/{connection}/callback`): lowercase ASCII letters, digits and `-`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnectionId(String);

impl ConnectionId {
    pub fn new(id: &str) -> Result<Self> {
        let ok = !id.is_empty()
            && id.len() <= 64
            && id.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !id.starts_with('-');
        if ok {
            Ok(ConnectionId(id.to_owned()))
        } else {
            Err(Error::InvalidInput(format!(
                "“{id}” is not a valid connection name: use lowercase letters, digits and dashes."
            )))
        }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ConnectionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An account's stable id (a UUID), also the key of its keychain entries.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct AccountId(String);

impl AccountId {
    pub fn random() -> Self {
        AccountId(uuid::Uuid::new_v4().to_string())
    }
    pub fn parse(s: &str) -> Result<Self> {
        uuid::Uuid::parse_str(s).map(|u| AccountId(u.to_string())).map_err(|_| Error::UnknownAccount)
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for AccountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Checks a name the user or a script gives an account: one short line of text.
pub fn check_identifier(identifier: &str) -> Result<&str> {
    let id = identifier.trim();
    if id.is_empty() {
        Err(Error::InvalidInput("An account name cannot be empty.".into()))
    } else if id.chars().count() > 200 {
        Err(Error::InvalidInput("An account name can be at most 200 characters long.".into()))
    } else if id.chars().any(char::is_control) {
        Err(Error::InvalidInput(
            "An account name cannot contain control characters (such as a line break).".into(),
        ))
    } else {
        Ok(id)
    }
}

/// Checks a label: a short word or phrase, no control characters.
pub fn check_label(label: &str) -> Result<&str> {
    let l = label.trim();
    if l.is_empty() || l.chars().count() > 64 || l.chars().any(char::is_control) {
        Err(Error::InvalidInput(format!(
            "“{}” is not a valid label: use up to 64 characters on one line.",
            label.escape_debug()
        )))
    } else {
        Ok(l)
    }
}

/// Which accounts to list.
#[derive(Clone, Debug, Default)]
pub struct AccountFilter {
    pub connection: Option<ConnectionId>,
    pub status: Option<AccountStatus>,
    pub label: Option<String>,
}

/// The six account states.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AccountStatus {
    Pending,
    Active,
    Expired,
    Revoked,
    Error,
    Suspended,
}

impl AccountStatus {
    pub const ALL: [AccountStatus; 6] = [
        AccountStatus::Pending,
        AccountStatus::Active,
        AccountStatus::Expired,
        AccountStatus::Revoked,
        AccountStatus::Error,
        AccountStatus::Suspended,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AccountStatus::Pending => "pending",
            AccountStatus::Active => "active",
            AccountStatus::Expired => "expired",
            AccountStatus::Revoked => "revoked",
            AccountStatus::Error => "error",
            AccountStatus::Suspended => "suspended",
        }
    }

    /// The guide's transitions, plus the deliberate extensions listed in ARCHITECTURE.md:
    /// - `Revoked → Active`: connecting a revoked account again re-authorizes the same account
    ///   (same id, labels and history) instead of leaving a dead row beside a new one.
    pub fn can_become(self, to: AccountStatus) -> bool {
        use AccountStatus::*;
        matches!(
            (self, to),
            (Pending, Active)
                | (Active, Expired)
                | (Expired, Active)
                | (Active, Revoked)
                | (Active, Error)
                | (Error, Active)
                | (Active, Suspended)
                | (Suspended, Active)
                // Extension: re-connecting a revoked account.
                | (Revoked, Active)
        )
    }

    /// `Ok(())` when the move is allowed, the typed refusal otherwise.
    pub fn check_transition(self, to: AccountStatus) -> Result<()> {
        if self.can_become(to) { Ok(()) } else { Err(Error::InvalidTransition { from: self, to }) }
    }
}

impl fmt::Display for AccountStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            AccountStatus::Pending => "Pending",
            AccountStatus::Active => "Active",
            AccountStatus::Expired => "Expired",
            AccountStatus::Revoked => "Revoked",
            AccountStatus::Error => "Error",
            AccountStatus::Suspended => "Suspended",
        })
    }
}

impl FromStr for AccountStatus {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        AccountStatus::ALL
            .into_iter()
            .find(|st| st.as_str() == s)
            .ok_or_else(|| Error::Storage(format!("unknown account status “{s}”")))
    }
}

/// Who or what caused a change or asked for a secret, recorded in the audit trail.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Actor {
    /// The person, through the app's window.
    User,
    /// The provider's answer (consent denied, a token rejected).
    Provider,
    /// Latchkey itself (start-up reconciliation, configuration changes).
    System,
    /// The background refresher.
    Refresher,
    /// The command-line companion, and who ran it (for example the parent process).
    Cli { caller: String },
}

impl Actor {
    pub fn as_str(&self) -> &'static str {
        match self {
            Actor::User => "user",
            Actor::Provider => "provider",
            Actor::System => "system",
            Actor::Refresher => "refresher",
            Actor::Cli { .. } => "cli",
        }
    }

    pub fn caller(&self) -> Option<&str> {
        match self {
            Actor::Cli { caller } => Some(caller),
            _ => None,
        }
    }
}

/// The provider's own idea of who the account is (from userinfo).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Identity {
    pub subject: Option<String>,
    pub email: Option<String>,
    pub name: Option<String>,
}

/// A connected account's non-secret metadata, as kept in SQLite.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Account {
    pub id: AccountId,
    pub connection: ConnectionId,
    pub identifier: String,
    pub status: AccountStatus,
    pub identity: Option<Identity>,
    pub requested_scopes: Vec<String>,
    pub granted_scopes: Vec<String>,
    /// Unix seconds, from local receipt time + `expires_in`.
    pub expires_at: Option<i64>,
    /// The last failure, as a sentence, for the UI.
    pub last_error: Option<String>,
    /// The connection's scopes changed since this account was authorized: re-authorize it.
    pub reauth_needed: bool,
    /// Free-form, non-secret metadata.
    pub labels: Vec<String>,
    pub note: Option<String>,
    /// When the current access token was received (for the token's lifetime).
    pub token_issued_at: Option<i64>,
    /// Set while refreshes fail for a reason that may pass ("Offline — retrying"): why.
    pub offline: Option<String>,
    /// When the next refresh attempt is due after a transient failure.
    pub retry_at: Option<i64>,
    /// Consecutive failed refreshes.
    pub failure_count: i64,
    /// Revoked locally, but the provider has not confirmed yet; Latchkey retries.
    pub revocation_pending: bool,
    /// Bumped with every new token set (authorization or refresh).
    pub token_version: i64,
    /// Who may take its raw token or credential.
    pub handout: HandoutPolicy,
    pub created_at: i64,
    pub updated_at: i64,
}

crate::names::named_enum!(
    "hand-out policy",
    /// Who may take an account's raw token or credential (`latchkey token`, `exec`,
    /// `git-credential`). Calls through Latchkey (`call_api`) are governed by grants alone.
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
    pub enum HandoutPolicy {
        /// Any local program, audited.
        #[default]
        Open = "open",
        /// A program with a live grant on the account, or one the person allows in the running app.
        Ask = "ask",
        /// None: the token is used only inside Latchkey.
        Closed = "closed",
    }
);

/// A connection's status.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "bindings", derive(ts_rs::TS), ts(rename = "ConnectionStatusDto"))]
#[serde(rename_all = "lowercase")]
pub enum ConnectionStatus {
    Active,
    /// Disabled by the user.
    Inactive,
    /// Set-up incomplete (for example no client id yet).
    Pending,
    /// The configuration or the provider rejects the client.
    Error,
}

impl ConnectionStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ConnectionStatus::Active => "active",
            ConnectionStatus::Inactive => "inactive",
            ConnectionStatus::Pending => "pending",
            ConnectionStatus::Error => "error",
        }
    }
}

impl Account {
    /// When the background refresher should refresh this account's token: once less than
    /// max(60 s, 10% of its lifetime) remains — but never before half the lifetime has passed, so
    /// very short-lived tokens are not refreshed in a loop. A token without expiry is checked
    /// daily. `None` for accounts with no token.
    pub fn refresh_due_at(&self) -> Option<i64> {
        let issued = self.token_issued_at?;
        match self.expires_at {
            Some(expires_at) => {
                let lifetime = (expires_at - issued).max(0);
                Some((expires_at - (lifetime / 10).max(60)).max(issued + lifetime / 2))
            }
            None => Some(issued + 86_400),
        }
    }
}

/// Unix seconds as an RFC 3339 UTC timestamp, for DTOs and exports.
pub fn rfc3339(unix_seconds: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(unix_seconds)
        .ok()
        .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exactly_the_guide_transitions_plus_documented_extensions() {
        use AccountStatus::*;
        let allowed = [
            (Pending, Active),
            (Active, Expired),
            (Expired, Active),
            (Active, Revoked),
            (Active, Error),
            (Error, Active),
            (Active, Suspended),
            (Suspended, Active),
            (Revoked, Active), // extension, see ARCHITECTURE.md
        ];
        for from in AccountStatus::ALL {
            for to in AccountStatus::ALL {
                let expected = allowed.contains(&(from, to));
                assert_eq!(from.can_become(to), expected, "{from} -> {to}");
                match from.check_transition(to) {
                    Ok(()) => assert!(expected),
                    Err(crate::error::Error::InvalidTransition { from: f, to: t }) => {
                        assert!(!expected);
                        assert_eq!((f, t), (from, to));
                    }
                    Err(other) => panic!("unexpected error {other}"),
                }
            }
        }
    }

    #[test]
    fn status_names_round_trip() {
        for st in AccountStatus::ALL {
            assert_eq!(st.as_str().parse::<AccountStatus>().ok(), Some(st));
        }
        assert!("bogus".parse::<AccountStatus>().is_err());
    }

    #[test]
    fn identifiers_are_one_short_line() {
        assert_eq!(check_identifier("  work ").ok(), Some("work"));
        assert_eq!(check_identifier("me@example.com").ok(), Some("me@example.com"));
        for bad in ["", "   ", "a\nb", "tab\there", &"x".repeat(201)] {
            let err = check_identifier(bad).expect_err(bad);
            assert!(matches!(err, Error::InvalidInput(_)), "{bad}");
        }
        assert!(check_label("team-a").is_ok());
        assert!(check_label("").is_err() && check_label("a\u{7}").is_err());
    }

    #[test]
    fn connection_names_are_path_safe() {
        assert!(ConnectionId::new("demo").is_ok());
        assert!(ConnectionId::new("google-mail2").is_ok());
        for bad in ["", "Demo", "a/b", "-x", "a b", "../x", "é"] {
            assert!(ConnectionId::new(bad).is_err(), "{bad}");
        }
    }
}
