//! The append-only audit trail (triggers refuse UPDATE and DELETE).

use rusqlite::types::{FromSql, FromSqlError, FromSqlResult, ToSql, ToSqlOutput, ValueRef};
use rusqlite::{Connection as Db, params};

use super::{Store, now};
use crate::error::{Error, Result};
use crate::model::{AccountId, Actor, ConnectionId};

/// A closed vocabulary stored as text: each variant's name in SQLite, JSON and the UI's bindings is
/// the string beside it (so trails written before the type existed read as they are).
macro_rules! vocabulary {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident = $text:literal,)+ }) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
        #[cfg_attr(feature = "bindings", derive(ts_rs::TS))]
        pub enum $name {
            $($(#[$vdoc])* #[serde(rename = $text)] $variant,)+
        }

        impl $name {
            pub const ALL: &[$name] = &[$($name::$variant,)+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)+
                }
            }
        }

        impl std::str::FromStr for $name {
            type Err = Error;
            fn from_str(s: &str) -> Result<$name> {
                $name::ALL
                    .iter()
                    .copied()
                    .find(|v| v.as_str() == s)
                    .ok_or_else(|| Error::Storage(format!(concat!("unknown ", stringify!($name), " {:?}"), s)))
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        /// Reads as its stored name (`action.starts_with("token.")`).
        impl std::ops::Deref for $name {
            type Target = str;
            fn deref(&self) -> &str {
                self.as_str()
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.as_str() == *other
            }
        }

        impl ToSql for $name {
            fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
                Ok(ToSqlOutput::from(self.as_str()))
            }
        }

        impl FromSql for $name {
            fn column_result(value: ValueRef<'_>) -> FromSqlResult<$name> {
                value.as_str()?.parse().map_err(|e: Error| FromSqlError::Other(Box::new(e)))
            }
        }
    };
}

vocabulary! {
    /// What an audit row records.
    AuditAction {
        AccountCreated = "account.created",
        AccountReauthorized = "account.reauthorized",
        AccountDeleted = "account.deleted",
        AuthorizationStarted = "authorization.started",
        AuthorizationFailed = "authorization.failed",
        /// The account moved in the state machine (`model.rs`); the detail says from where to where.
        StateChanged = "state.changed",
        TokenStored = "token.stored",
        /// A token or credential handed out, or refused.
        TokenRead = "token.read",
        TokenRefreshed = "token.refreshed",
        TokenRefreshFailed = "token.refresh_failed",
        TokenRevoked = "token.revoked",
        /// Written only by the first versions (keychain entries deleted); their trails still hold it.
        TokenDeleted = "token.deleted",
        CredentialRotated = "credential.rotated",
        MetadataLabels = "metadata.labels",
        MetadataNote = "metadata.note",
        /// A connection's configured scopes changed; its accounts need re-authorization.
        ConfigScopesChanged = "config.scopes_changed",
        ConnectionAdded = "connection.added",
        ConnectionConfigured = "connection.configured",
        ConnectionRemoved = "connection.removed",
        /// The provider refused the connection's client (`invalid_client`, …).
        ConnectionError = "connection.error",
        ConnectionRecovered = "connection.recovered",
        /// Start-up finished or undid an operation a crashed process left.
        Reconciled = "reconciled",
        /// A consumer (agent, script) was allowed to call the account's API; the detail says which
        /// consumer, what access, until when.
        GrantAdded = "grant.added",
        /// That consent was removed (by the person, or with the account's revocation or deletion).
        GrantRemoved = "grant.removed",
        /// A call to the account's API on a consumer's behalf (the caller): method, host and path,
        /// the response's status and size; never a query value, a body or a token.
        ApiCall = "api.call",
        /// Who may take the account's raw token changed (`open`, `ask`, `closed`); the detail says
        /// from what to what.
        PolicyChanged = "policy.changed",
        /// A program reported that the server refused the credential it was handed (git's
        /// `erase`); an API key or password cannot be renewed by Latchkey, so it is only recorded.
        CredentialRefused = "credential.refused",
        /// A consumer without a grant was asked about in the desktop app (consent.rs); the detail
        /// says which consumer, what access for what, and the answer.
        ConsentAsked = "consent.asked",
    }
}

vocabulary! {
    /// How the step an audit row records ended.
    AuditOutcome {
        Ok = "ok",
        Failed = "failed",
        /// Not done, by rule (a suspended account, a missing scope, …).
        Refused = "refused",
        /// Failed for a reason that may pass; tried again later.
        Transient = "transient",
        /// Done on this device; the provider has not confirmed.
        Unconfirmed = "unconfirmed",
    }
}

/// One row of the audit trail.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditEntry {
    pub id: i64,
    pub at: i64,
    pub account_id: Option<String>,
    pub connection_id: Option<String>,
    pub action: AuditAction,
    pub actor: String,
    pub caller: Option<String>,
    pub outcome: AuditOutcome,
    pub detail: String,
}

/// Which audit rows to read.
#[derive(Clone, Debug, Default)]
pub struct AuditQuery {
    pub account: Option<AccountId>,
    /// Unix seconds, inclusive.
    pub since: Option<i64>,
    pub until: Option<i64>,
}

/// One audit row to write.
pub struct Audit<'a> {
    pub account: Option<&'a AccountId>,
    pub connection: Option<&'a ConnectionId>,
    pub action: AuditAction,
    pub actor: &'a Actor,
    pub outcome: AuditOutcome,
    pub detail: &'a str,
}

impl Store {
    pub fn audit(&mut self, entry: &Audit<'_>) -> Result<()> {
        insert_audit(&self.db, entry)
    }

    /// The audit trail, oldest first.
    pub fn audit_entries(&self, query: &AuditQuery) -> Result<Vec<AuditEntry>> {
        let mut stmt = self.db.prepare_cached(
            "SELECT id, at, account_id, connection_id, action, actor, caller, outcome, detail FROM audit
             WHERE (?1 IS NULL OR account_id = ?1) AND (?2 IS NULL OR at >= ?2) AND (?3 IS NULL OR at <= ?3)
             ORDER BY id",
        )?;
        let rows = stmt.query_map(
            params![query.account.as_ref().map(AccountId::as_str), query.since, query.until],
            |r| {
                Ok(AuditEntry {
                    id: r.get("id")?,
                    at: r.get("at")?,
                    account_id: r.get("account_id")?,
                    connection_id: r.get("connection_id")?,
                    action: r.get("action")?,
                    actor: r.get("actor")?,
                    caller: r.get("caller")?,
                    outcome: r.get("outcome")?,
                    detail: r.get("detail")?,
                })
            },
        )?;
        rows.collect::<Result<_, _>>().map_err(Error::from)
    }
}

/// An audit row for a successful step on an account.
pub(super) fn audit_ok(
    db: &Db,
    account: &AccountId,
    connection: &ConnectionId,
    action: AuditAction,
    actor: &Actor,
    detail: &str,
) -> Result<()> {
    insert_audit(
        db,
        &Audit {
            account: Some(account),
            connection: Some(connection),
            action,
            actor,
            outcome: AuditOutcome::Ok,
            detail,
        },
    )
}

pub(super) fn insert_audit(db: &Db, e: &Audit<'_>) -> Result<()> {
    db.execute(
        "INSERT INTO audit (at, account_id, connection_id, action, actor, caller, outcome, detail)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![
            now(),
            e.account.map(AccountId::as_str),
            e.connection.map(ConnectionId::as_str),
            e.action,
            e.actor.as_str(),
            e.actor.caller(),
            e.outcome,
            e.detail
        ],
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The names in SQLite, JSON and the bindings are one and the same, and each reads back.
    #[test]
    fn the_vocabulary_keeps_its_stored_names() {
        for &a in AuditAction::ALL {
            assert_eq!(serde_json::to_value(a).expect("json"), serde_json::Value::from(a.as_str()));
            assert_eq!(a.as_str().parse::<AuditAction>().expect("parse"), a);
        }
        for &o in AuditOutcome::ALL {
            assert_eq!(serde_json::to_value(o).expect("json"), serde_json::Value::from(o.as_str()));
            assert_eq!(o.as_str().parse::<AuditOutcome>().expect("parse"), o);
        }
        assert_eq!(AuditAction::ALL.len(), 28);
        assert_eq!(AuditAction::TokenRefreshFailed.as_str(), "token.refresh_failed");
        assert_eq!(AuditOutcome::Unconfirmed.as_str(), "unconfirmed");
        assert!("token.secret".parse::<AuditAction>().is_err());
    }

    #[test]
    fn rows_written_as_text_read_back_typed() {
        let mut store = Store::open_in_memory().expect("open");
        let conn = ConnectionId::new("demo").expect("valid");
        store.db
            .execute(
                "INSERT INTO audit (at, connection_id, action, actor, outcome) VALUES (1, 'demo', 'token.deleted', 'user', 'unconfirmed')",
                [],
            )
            .expect("an old row");
        store
            .audit(&Audit {
                account: None,
                connection: Some(&conn),
                action: AuditAction::ConnectionAdded,
                actor: &Actor::User,
                outcome: AuditOutcome::Ok,
                detail: "",
            })
            .expect("audit");
        let text: Vec<(String, String)> = store
            .db
            .prepare("SELECT action, outcome FROM audit ORDER BY id")
            .expect("prepare")
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .expect("query")
            .collect::<rusqlite::Result<_>>()
            .expect("rows");
        assert_eq!(text[1], ("connection.added".to_owned(), "ok".to_owned()));
        let typed: Vec<_> = store
            .audit_entries(&AuditQuery::default())
            .expect("read")
            .into_iter()
            .map(|e| (e.action, e.outcome))
            .collect();
        assert_eq!(
            typed,
            [
                (AuditAction::TokenDeleted, AuditOutcome::Unconfirmed),
                (AuditAction::ConnectionAdded, AuditOutcome::Ok)
            ]
        );
    }
}
