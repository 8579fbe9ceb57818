//! What crosses IPC to the web UI. Every type here is built field by field from a core value that
//! holds no secret, or is such a core value (`ConnectionDto`, the core's `ConnectionView`); none has a
//! token field, and none could: `Secret` does not implement `Serialize`.
//!
//! The UI's TypeScript types are generated from these with ts-rs into `ui/src/lib/bindings/`
//! (`bindings.rs`: `committed_bindings_are_current` fails when the committed copy drifts; run it
//! with `LATCHKEY_BLESS_BINDINGS=1` to rewrite them).

use latchkey_core::config::ConnectionType;
use latchkey_core::model::{Account, AccountStatus, HandoutPolicy, rfc3339};
use latchkey_core::store::{AuditAction, AuditEntry, AuditOutcome};
use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// A connection as the core's view of it (`ConnectionDto` in TypeScript), serialised as it is.
pub use latchkey_core::ConnectionView as ConnectionDto;

/// A custom connection to add (Add account → Custom OAuth / OpenID Connect, API key, basic auth).
#[derive(Deserialize, Clone, Debug, Default, TS)]
pub struct NewConnectionDto {
    /// The connection's name in lowercase letters, digits and dashes (used in the redirect path).
    pub id: String,
    pub name: Option<String>,
    pub kind: ConnectionType,
    /// OpenID Connect / RFC 8414 discovery.
    pub issuer: Option<String>,
    pub client_id: Option<String>,
    /// Typed by the user, stored in the keychain, never sent back.
    pub client_secret: Option<String>,
    pub scopes: Option<Vec<String>>,
}

/// A provider page the UI may ask the backend to open.
#[derive(Deserialize, Clone, Copy, Debug, TS)]
#[serde(rename_all = "kebab-case")]
pub enum ProviderPageDto {
    Setup,
    ConnectedApps,
}

/// A change to a connection's configuration from Settings → Connections. The client secret is the
/// one value that crosses IPC towards the backend (typed by the user); it is never sent back.
#[derive(Deserialize, Clone, Debug, Default, TS)]
pub struct ConnectionChangeDto {
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
    /// Deletes the stored client secret.
    #[serde(default)]
    pub clear_client_secret: bool,
    pub scopes: Option<Vec<String>>,
    pub enabled: Option<bool>,
}

/// The six account states. (A new core state fails to compile here until the UI learns it.)
#[derive(Serialize, Clone, Copy, Debug, PartialEq, Eq, TS)]
#[serde(rename_all = "lowercase")]
pub enum AccountStatusDto {
    Pending,
    Active,
    Expired,
    Revoked,
    Error,
    Suspended,
}

impl From<AccountStatus> for AccountStatusDto {
    fn from(s: AccountStatus) -> Self {
        match s {
            AccountStatus::Pending => AccountStatusDto::Pending,
            AccountStatus::Active => AccountStatusDto::Active,
            AccountStatus::Expired => AccountStatusDto::Expired,
            AccountStatus::Revoked => AccountStatusDto::Revoked,
            AccountStatus::Error => AccountStatusDto::Error,
            AccountStatus::Suspended => AccountStatusDto::Suspended,
        }
    }
}

/// Who may take an account's raw token or credential (the CLI's `token`, `exec`,
/// `git-credential`): any program (`open`), programs with a grant or that the person allows
/// (`ask`), or none (`closed`; agents still call its API through Latchkey).
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, TS)]
#[serde(rename_all = "lowercase")]
pub enum HandoutPolicyDto {
    Open,
    Ask,
    Closed,
}

impl From<HandoutPolicy> for HandoutPolicyDto {
    fn from(p: HandoutPolicy) -> Self {
        match p {
            HandoutPolicy::Open => HandoutPolicyDto::Open,
            HandoutPolicy::Ask => HandoutPolicyDto::Ask,
            HandoutPolicy::Closed => HandoutPolicyDto::Closed,
        }
    }
}

impl From<HandoutPolicyDto> for HandoutPolicy {
    fn from(p: HandoutPolicyDto) -> Self {
        match p {
            HandoutPolicyDto::Open => HandoutPolicy::Open,
            HandoutPolicyDto::Ask => HandoutPolicy::Ask,
            HandoutPolicyDto::Closed => HandoutPolicy::Closed,
        }
    }
}

#[derive(Serialize, Clone, Debug, TS)]
pub struct IdentityDto {
    pub subject: Option<String>,
    pub email: Option<String>,
    pub name: Option<String>,
}

#[derive(Serialize, Clone, Debug, TS)]
pub struct AccountDto {
    pub id: String,
    pub connection_id: String,
    pub connection_name: String,
    pub identifier: String,
    pub status: AccountStatusDto,
    pub identity: Option<IdentityDto>,
    pub requested_scopes: Vec<String>,
    pub granted_scopes: Vec<String>,
    /// RFC 3339.
    pub expires_at: Option<String>,
    pub last_error: Option<String>,
    /// The connection's scopes changed since this account was authorized.
    pub reauth_needed: bool,
    pub labels: Vec<String>,
    pub note: Option<String>,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339.
    pub updated_at: String,
    /// A sign-in for this account is waiting for the browser.
    pub signing_in: bool,
    /// Refreshing fails for a reason that may pass ("Offline — retrying"): why, as a phrase.
    pub offline: Option<String>,
    /// RFC 3339: when Latchkey tries again after such a failure.
    pub retry_at: Option<String>,
    /// RFC 3339: when the current access token was received (the last refresh).
    pub last_refresh: Option<String>,
    /// Revoked here, but the provider has not confirmed yet; Latchkey keeps asking.
    pub revocation_pending: bool,
    /// Who may take its raw token or credential.
    pub handout: HandoutPolicyDto,
}

impl AccountDto {
    pub fn new(a: &Account, connection_name: &str, signing_in: bool) -> Self {
        AccountDto {
            id: a.id.to_string(),
            connection_id: a.connection.to_string(),
            connection_name: connection_name.to_owned(),
            identifier: a.identifier.clone(),
            status: a.status.into(),
            identity: a.identity.as_ref().map(|i| IdentityDto {
                subject: i.subject.clone(),
                email: i.email.clone(),
                name: i.name.clone(),
            }),
            requested_scopes: a.requested_scopes.clone(),
            granted_scopes: a.granted_scopes.clone(),
            expires_at: a.expires_at.map(rfc3339),
            last_error: a.last_error.clone(),
            reauth_needed: a.reauth_needed,
            labels: a.labels.clone(),
            note: a.note.clone(),
            created_at: rfc3339(a.created_at),
            updated_at: rfc3339(a.updated_at),
            signing_in,
            offline: a.offline.clone(),
            retry_at: a.retry_at.map(rfc3339),
            last_refresh: a.token_issued_at.map(rfc3339),
            revocation_pending: a.revocation_pending,
            handout: a.handout.into(),
        }
    }
}

/// One row of the audit trail (no secret by construction, see the core's `store/audit.rs`).
#[derive(Serialize, Clone, Debug, TS)]
pub struct AuditEntryDto {
    /// Ordinal of the row; JSON numbers are exact up to 2^53, far beyond any audit trail.
    #[ts(type = "number")]
    pub id: i64,
    /// RFC 3339.
    pub at: String,
    pub account_id: Option<String>,
    pub connection_id: Option<String>,
    pub action: AuditAction,
    /// `user`, `provider`, `system`, `refresher` or `cli`.
    pub actor: String,
    /// Who ran the CLI, when the actor is `cli`.
    pub caller: Option<String>,
    pub outcome: AuditOutcome,
    pub detail: String,
}

impl From<&AuditEntry> for AuditEntryDto {
    fn from(e: &AuditEntry) -> Self {
        AuditEntryDto {
            id: e.id,
            at: rfc3339(e.at),
            account_id: e.account_id.clone(),
            connection_id: e.connection_id.clone(),
            action: e.action,
            actor: e.actor.clone(),
            caller: e.caller.clone(),
            outcome: e.outcome,
            detail: e.detail.clone(),
        }
    }
}

/// The account detail screen: the account and its history, oldest first.
#[derive(Serialize, Clone, Debug, TS)]
pub struct AccountDetailDto {
    pub account: AccountDto,
    pub history: Vec<AuditEntryDto>,
}

/// Which audit rows to read (and export). Absent fields do not filter.
#[derive(Deserialize, Clone, Debug, Default, TS)]
pub struct AuditFilterDto {
    #[ts(optional)]
    pub account_id: Option<String>,
    /// Unix seconds, inclusive.
    #[ts(optional, type = "number")]
    pub since: Option<i64>,
    /// Unix seconds, inclusive.
    #[ts(optional, type = "number")]
    pub until: Option<i64>,
}

#[derive(Deserialize, Clone, Copy, Debug, PartialEq, Eq, TS)]
#[serde(rename_all = "lowercase")]
pub enum ExportFormatDto {
    /// RFC 4180, with a header row.
    Csv,
    /// One JSON object per line.
    Jsonl,
}

/// A written export.
#[derive(Serialize, Clone, Debug, TS)]
pub struct ExportDto {
    /// Where the file was written (the user's Downloads folder).
    pub path: String,
    pub entries: u32,
}

#[derive(Serialize, Clone, Debug, TS)]
pub struct RevokeDto {
    pub account: AccountDto,
    pub provider_confirmed: bool,
    pub message: String,
    /// Where the user can remove Latchkey's access by hand when the provider did not confirm.
    pub connected_apps_url: Option<String>,
}

/// The keychain backend and whether it answers.
#[derive(Serialize, Clone, Debug, TS)]
pub struct KeychainDto {
    /// For example "Secret Service (service “io.latchkey.desktop”)".
    pub description: String,
    pub healthy: bool,
    /// What the probe found, as a sentence with a next step when unhealthy.
    pub message: String,
}

/// Window and tray preferences.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, TS)]
pub struct PreferencesDto {
    /// Closing the window keeps Latchkey running in the tray (the window's page is destroyed and
    /// made again on Open). Off: closing the window quits.
    pub keep_running_in_tray: bool,
}

impl Default for PreferencesDto {
    fn default() -> Self {
        PreferencesDto { keep_running_in_tray: true }
    }
}

#[derive(Serialize, Clone, Debug, TS)]
pub struct AboutDto {
    pub name: String,
    pub version: String,
    pub identifier: String,
    pub tauri_version: String,
}

/// What a consumer may do with an account's API: `read` (GET and HEAD) or `full`.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, TS)]
#[serde(rename_all = "lowercase")]
pub enum AccessDto {
    Read,
    Full,
}

impl From<latchkey_core::api::Access> for AccessDto {
    fn from(a: latchkey_core::api::Access) -> Self {
        match a {
            latchkey_core::api::Access::Read => AccessDto::Read,
            latchkey_core::api::Access::Full => AccessDto::Full,
        }
    }
}

/// One consumer's grant on one account (Settings → Apps & agents).
#[derive(Serialize, Clone, Debug, TS)]
pub struct GrantDto {
    /// The agent's name (an MCP client's) or the program's path.
    pub consumer: String,
    pub account_id: String,
    /// `connection:identifier`; `None` when the account is gone.
    pub account_ref: Option<String>,
    pub connection_name: Option<String>,
    /// The account's email, else its name.
    pub identity: Option<String>,
    pub access: AccessDto,
    /// RFC 3339; `None`: until removed.
    pub until: Option<String>,
    pub expired: bool,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339: the last call made under it.
    pub last_used: Option<String>,
}

/// What the consumer wants the account for.
#[derive(Serialize, Clone, Copy, Debug, PartialEq, Eq, TS)]
#[serde(rename_all = "snake_case")]
pub enum ConsentPurposeDto {
    /// To call its API through Latchkey (the token stays inside).
    ApiCall,
    /// To take its token or credential.
    Token,
}

/// A question for the person from the consent desk (the `consent-requested` event): nothing secret.
#[derive(Serialize, Clone, Debug, TS)]
pub struct ConsentRequestDto {
    /// This question's number, for `answer_consent`.
    pub id: u32,
    pub consumer: String,
    pub account_id: String,
    /// `connection:identifier`.
    pub account_ref: String,
    pub connection_name: String,
    /// The account's email, else its name.
    pub identity: String,
    pub access: AccessDto,
    pub purpose: ConsentPurposeDto,
}

/// The person's answer to a consent question.
#[derive(Deserialize, Clone, Copy, Debug, PartialEq, Eq, TS)]
#[serde(rename_all = "lowercase")]
pub enum ConsentAnswerDto {
    /// This once; nothing stored.
    Once,
    /// From now on: a grant is stored (until removed).
    Always,
    Deny,
}

/// The closed set of error codes the UI branches on.
#[derive(Serialize, Clone, Copy, Debug, PartialEq, Eq, TS)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCodeDto {
    ReauthNeeded,
    KeychainUnavailable,
    ProviderError,
    Network,
    InvalidInput,
    NotFound,
    Internal,
}

impl From<latchkey_core::ErrorCode> for ErrorCodeDto {
    fn from(c: latchkey_core::ErrorCode) -> Self {
        use latchkey_core::ErrorCode as C;
        match c {
            C::ReauthNeeded => ErrorCodeDto::ReauthNeeded,
            C::KeychainUnavailable => ErrorCodeDto::KeychainUnavailable,
            C::ProviderError => ErrorCodeDto::ProviderError,
            C::Network => ErrorCodeDto::Network,
            C::InvalidInput => ErrorCodeDto::InvalidInput,
            C::NotFound => ErrorCodeDto::NotFound,
            C::Internal => ErrorCodeDto::Internal,
        }
    }
}

/// A failed command, as the UI receives it: a code it can branch on and a sentence to show.
#[derive(Serialize, Clone, Debug, TS)]
pub struct ErrorDto {
    pub code: ErrorCodeDto,
    pub message: String,
}

impl ErrorDto {
    pub fn internal(message: impl Into<String>) -> Self {
        ErrorDto { code: ErrorCodeDto::Internal, message: message.into() }
    }
    pub fn invalid(message: impl Into<String>) -> Self {
        ErrorDto { code: ErrorCodeDto::InvalidInput, message: message.into() }
    }
}

impl From<latchkey_core::Error> for ErrorDto {
    fn from(e: latchkey_core::Error) -> Self {
        ErrorDto { code: e.code().into(), message: e.to_string() }
    }
}

/// What the window shows first, handed to its page with the page itself (an initialization script,
/// `commands::first_view_script`) so the first frame already has the list: the same lists
/// `list_connections` and `list_accounts` answer, taken when the window is made.
#[derive(Serialize, Clone, Debug, TS)]
pub struct FirstViewDto {
    pub connections: Vec<ConnectionDto>,
    pub accounts: Vec<AccountDto>,
}

/// The `connect-failed` event.
#[derive(Serialize, Clone, Debug, TS)]
pub struct ConnectFailedDto {
    pub connection_id: Option<String>,
    pub account_id: Option<String>,
    /// `ErrorCode::as_str`: the same strings as `ErrorCodeDto` (tested in dto.rs).
    #[ts(as = "ErrorCodeDto")]
    pub code: &'static str,
    pub message: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use latchkey_core::ErrorCode;

    #[test]
    fn error_code_strings_are_the_same_on_both_paths() {
        let all = [
            ErrorCode::ReauthNeeded,
            ErrorCode::KeychainUnavailable,
            ErrorCode::ProviderError,
            ErrorCode::Network,
            ErrorCode::InvalidInput,
            ErrorCode::NotFound,
            ErrorCode::Internal,
        ];
        for code in all {
            let json = serde_json::to_value(ErrorCodeDto::from(code)).expect("serialize");
            assert_eq!(json, serde_json::Value::from(code.as_str()), "{code:?}");
        }
    }

    #[test]
    fn status_strings_match_the_core() {
        for st in AccountStatus::ALL {
            let json = serde_json::to_value(AccountStatusDto::from(st)).expect("serialize");
            assert_eq!(json, serde_json::Value::from(st.as_str()));
        }
    }
}
