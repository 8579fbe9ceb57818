//! What crosses IPC to the web UI. Every type here is built field by field from a core value that
//! holds no secret; none has a token field, and none could: `Secret` does not implement `Serialize`.

use latchkey_core::config::Connection;
use latchkey_core::model::{Account, ConnectionStatus, rfc3339};
use serde::Serialize;

#[derive(Serialize, Clone, Debug)]
pub struct ConnectionDto {
    pub id: String,
    pub name: String,
    pub kind: &'static str,
    pub status: &'static str,
    /// Why the status is "error", as a sentence.
    pub error: Option<String>,
    pub scopes: Vec<String>,
    pub issuer: Option<String>,
}

impl ConnectionDto {
    pub fn new(c: &Connection, status: ConnectionStatus, error: Option<String>) -> Self {
        ConnectionDto {
            id: c.id.to_string(),
            name: c.name.clone(),
            kind: c.kind.as_str(),
            status: status.as_str(),
            error,
            scopes: c.scopes().to_vec(),
            issuer: c.issuer_hint().map(str::to_owned),
        }
    }
}

#[derive(Serialize, Clone, Debug)]
pub struct IdentityDto {
    pub subject: Option<String>,
    pub email: Option<String>,
    pub name: Option<String>,
}

#[derive(Serialize, Clone, Debug)]
pub struct AccountDto {
    pub id: String,
    pub connection_id: String,
    pub connection_name: String,
    pub identifier: String,
    pub status: &'static str,
    pub identity: Option<IdentityDto>,
    pub requested_scopes: Vec<String>,
    pub granted_scopes: Vec<String>,
    pub expires_at: Option<String>,
    pub last_error: Option<String>,
    /// The connection's scopes changed since this account was authorized.
    pub reauth_needed: bool,
    pub labels: Vec<String>,
    pub note: Option<String>,
    pub updated_at: String,
    /// A sign-in for this account is waiting for the browser.
    pub signing_in: bool,
}

impl AccountDto {
    pub fn new(a: &Account, connection_name: &str, signing_in: bool) -> Self {
        AccountDto {
            id: a.id.to_string(),
            connection_id: a.connection.to_string(),
            connection_name: connection_name.to_owned(),
            identifier: a.identifier.clone(),
            status: a.status.as_str(),
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
            updated_at: rfc3339(a.updated_at),
            signing_in,
        }
    }
}

#[derive(Serialize, Clone, Debug)]
pub struct RevokeDto {
    pub account: AccountDto,
    pub provider_confirmed: bool,
    pub message: String,
}

/// A failed command, as the UI receives it: a code it can branch on and a sentence to show.
#[derive(Serialize, Clone, Debug)]
pub struct ErrorDto {
    pub code: &'static str,
    pub message: String,
}

impl From<latchkey_core::Error> for ErrorDto {
    fn from(e: latchkey_core::Error) -> Self {
        ErrorDto { code: e.code().as_str(), message: e.to_string() }
    }
}

/// The `connect-failed` event.
#[derive(Serialize, Clone, Debug)]
pub struct ConnectFailedDto {
    pub connection_id: Option<String>,
    pub account_id: Option<String>,
    pub code: &'static str,
    pub message: String,
}
