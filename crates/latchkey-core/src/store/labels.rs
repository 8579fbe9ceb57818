//! The account's labels and note.

use rusqlite::params;

use super::accounts::by_id;
use super::audit::{AuditAction, audit_ok};
use super::{Store, now};
use crate::error::Result;
use crate::model::{Account, AccountId, Actor};

impl Store {
    /// Replaces the account's labels.
    pub fn set_labels(&mut self, id: &AccountId, labels: &[String], actor: &Actor) -> Result<Account> {
        let tx = self.write()?;
        let account = by_id(&tx, id)?;
        tx.execute("DELETE FROM account_labels WHERE account_id = ?1", [id.as_str()])?;
        for label in labels {
            tx.execute(
                "INSERT OR IGNORE INTO account_labels (account_id, label) VALUES (?1, ?2)",
                params![id.as_str(), label],
            )?;
        }
        tx.execute("UPDATE accounts SET updated_at = ?2 WHERE id = ?1", params![id.as_str(), now()])?;
        audit_ok(&tx, id, &account.connection, AuditAction::MetadataLabels, actor, &labels.join(", "))?;
        let account = by_id(&tx, id)?;
        tx.commit()?;
        Ok(account)
    }

    pub fn set_note(&mut self, id: &AccountId, note: Option<&str>, actor: &Actor) -> Result<Account> {
        let tx = self.write()?;
        let account = by_id(&tx, id)?;
        tx.execute(
            "UPDATE accounts SET note = ?2, updated_at = ?3 WHERE id = ?1",
            params![id.as_str(), note, now()],
        )?;
        audit_ok(
            &tx,
            id,
            &account.connection,
            AuditAction::MetadataNote,
            actor,
            if note.is_some() { "note set" } else { "note cleared" },
        )?;
        let account = by_id(&tx, id)?;
        tx.commit()?;
        Ok(account)
    }
}
