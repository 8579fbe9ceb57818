//! Grants: which consumer (an agent, a script) may use which account through Latchkey, with what
//! access and until when. Every change is audited in the same transaction.

use rusqlite::{OptionalExtension, params};

use super::accounts::by_id;
use super::audit::{AuditAction, audit_ok};
use super::{Store, now};
use crate::api::Access;
use crate::error::{Error, Result};
use crate::model::{AccountId, Actor};

/// One consumer's consent to use one account.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Grant {
    pub consumer: String,
    pub account: AccountId,
    pub access: Access,
    /// Unix seconds; `None`: until removed.
    pub until: Option<i64>,
    pub created_at: i64,
    /// The last call made under it (unix seconds).
    pub last_used: Option<i64>,
}

impl Grant {
    /// Whether it still counts at `at` (unix seconds).
    pub fn is_live(&self, at: i64) -> bool {
        self.until.is_none_or(|u| at < u)
    }
}

fn describe(consumer: &str, access: Access, until: Option<i64>) -> String {
    let until = until.map(|u| format!(" until {}", crate::model::rfc3339(u))).unwrap_or_default();
    format!("consumer “{consumer}”: {} access{until}", access.as_str())
}

/// A row as stored: consumer, account id, access, until, created at, last used.
type RawGrant = (String, String, String, Option<i64>, i64, Option<i64>);

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<RawGrant> {
    Ok((
        r.get("consumer")?,
        r.get("account_id")?,
        r.get("access")?,
        r.get("until")?,
        r.get("created_at")?,
        r.get("last_used")?,
    ))
}

fn grant(raw: RawGrant) -> Result<Grant> {
    let (consumer, account, access, until, created_at, last_used) = raw;
    Ok(Grant {
        consumer,
        account: AccountId::parse(&account)?,
        access: access.parse().map_err(Error::Storage)?,
        until,
        created_at,
        last_used,
    })
}

impl Store {
    /// Adds the grant, or replaces the consumer's grant on the account.
    pub fn put_grant(
        &mut self,
        consumer: &str,
        account: &AccountId,
        access: Access,
        until: Option<i64>,
        actor: &Actor,
    ) -> Result<Grant> {
        let tx = self.write()?;
        let acc = by_id(&tx, account)?;
        let at = now();
        tx.execute(
            "INSERT INTO grants (consumer, account_id, access, until, created_at) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (consumer, account_id) DO UPDATE SET access = ?3, until = ?4, created_at = ?5",
            params![consumer, account.as_str(), access.as_str(), until, at],
        )?;
        audit_ok(
            &tx,
            account,
            &acc.connection,
            AuditAction::GrantAdded,
            actor,
            &describe(consumer, access, until),
        )?;
        let g = grant_in(&tx, consumer, account)?
            .ok_or_else(|| Error::Storage("the grant was not kept".into()))?;
        tx.commit()?;
        Ok(g)
    }

    /// Removes the consumer's grant on the account; whether there was one.
    pub fn delete_grant(&mut self, consumer: &str, account: &AccountId, actor: &Actor) -> Result<bool> {
        let tx = self.write()?;
        let Some(g) = grant_in(&tx, consumer, account)? else { return Ok(false) };
        let acc = by_id(&tx, account)?;
        tx.execute(
            "DELETE FROM grants WHERE consumer = ?1 AND account_id = ?2",
            params![consumer, account.as_str()],
        )?;
        audit_ok(
            &tx,
            account,
            &acc.connection,
            AuditAction::GrantRemoved,
            actor,
            &describe(consumer, g.access, g.until),
        )?;
        tx.commit()?;
        Ok(true)
    }

    /// Removes every grant on the account, one audit row each (`why` says what ended them).
    pub fn delete_grants_of(&mut self, account: &AccountId, actor: &Actor, why: &str) -> Result<usize> {
        let tx = self.write()?;
        let grants: Vec<Grant> = {
            let mut stmt =
                tx.prepare_cached("SELECT * FROM grants WHERE account_id = ?1 ORDER BY consumer")?;
            let raw = stmt.query_map([account.as_str()], row)?.collect::<rusqlite::Result<Vec<_>>>()?;
            raw.into_iter().map(grant).collect::<Result<_>>()?
        };
        if grants.is_empty() {
            return Ok(0);
        }
        let acc = by_id(&tx, account)?;
        tx.execute("DELETE FROM grants WHERE account_id = ?1", [account.as_str()])?;
        for g in &grants {
            let detail = format!("{} ({why})", describe(&g.consumer, g.access, g.until));
            audit_ok(&tx, account, &acc.connection, AuditAction::GrantRemoved, actor, &detail)?;
        }
        tx.commit()?;
        Ok(grants.len())
    }

    /// Every grant, expired ones included, by consumer then account.
    pub fn grants(&self) -> Result<Vec<Grant>> {
        let mut stmt = self.db.prepare_cached("SELECT * FROM grants ORDER BY consumer, account_id")?;
        let raw = stmt.query_map([], row)?.collect::<rusqlite::Result<Vec<_>>>()?;
        raw.into_iter().map(grant).collect()
    }

    /// The consumer's grant on the account, expired or not.
    pub fn grant(&self, consumer: &str, account: &AccountId) -> Result<Option<Grant>> {
        grant_in(&self.db, consumer, account)
    }

    /// Records a use of the grant, if there is one.
    pub fn touch_grant(&mut self, consumer: &str, account: &AccountId) -> Result<()> {
        self.db.execute(
            "UPDATE grants SET last_used = ?3 WHERE consumer = ?1 AND account_id = ?2",
            params![consumer, account.as_str(), now()],
        )?;
        Ok(())
    }
}

fn grant_in(db: &rusqlite::Connection, consumer: &str, account: &AccountId) -> Result<Option<Grant>> {
    let raw = db
        .prepare_cached("SELECT * FROM grants WHERE consumer = ?1 AND account_id = ?2")?
        .query_row(params![consumer, account.as_str()], row)
        .optional()?;
    raw.map(grant).transpose()
}
