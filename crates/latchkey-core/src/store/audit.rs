//! The append-only audit trail (triggers refuse UPDATE and DELETE).

use rusqlite::{Connection as Db, params};

use super::{Store, now};
use crate::error::{Error, Result};
use crate::model::{AccountId, Actor, ConnectionId};

/// One row of the audit trail.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditEntry {
    pub id: i64,
    pub at: i64,
    pub account_id: Option<String>,
    pub connection_id: Option<String>,
    pub action: String,
    pub actor: String,
    pub caller: Option<String>,
    pub outcome: String,
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
    pub action: &'a str,
    pub actor: &'a Actor,
    pub outcome: &'a str,
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
                    id: r.get(0)?,
                    at: r.get(1)?,
                    account_id: r.get(2)?,
                    connection_id: r.get(3)?,
                    action: r.get(4)?,
                    actor: r.get(5)?,
                    caller: r.get(6)?,
                    outcome: r.get(7)?,
                    detail: r.get(8)?,
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
    action: &str,
    actor: &Actor,
    detail: &str,
) -> Result<()> {
    insert_audit(
        db,
        &Audit { account: Some(account), connection: Some(connection), action, actor, outcome: "ok", detail },
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
