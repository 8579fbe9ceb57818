//! The refresh journal: a refresh that asked the provider and has not stored its answer yet.

use rusqlite::{OptionalExtension, params};

use super::{Store, now};
use crate::error::Result;
use crate::model::AccountId;

impl Store {
    /// Journals a refresh before the provider is asked (see `refresh_journaled`).
    pub fn begin_refresh(&mut self, id: &AccountId, owner: &str) -> Result<()> {
        self.db.execute(
            "INSERT INTO refresh_journal (account_id, owner, started_at) VALUES (?1, ?2, ?3)
             ON CONFLICT (account_id) DO UPDATE SET owner = ?2, started_at = ?3",
            params![id.as_str(), owner, now()],
        )?;
        Ok(())
    }

    /// The refresh's outcome is known (stored, or refused by the provider): its journal row goes.
    pub fn end_refresh(&mut self, id: &AccountId) -> Result<()> {
        self.db.execute("DELETE FROM refresh_journal WHERE account_id = ?1", [id.as_str()])?;
        Ok(())
    }

    /// Whether a refresh of the account is journaled. To a caller holding the account's refresh
    /// lock, a row means an earlier refresh was interrupted.
    pub fn refresh_journaled(&self, id: &AccountId) -> Result<bool> {
        Ok(self
            .db
            .query_row("SELECT 1 FROM refresh_journal WHERE account_id = ?1", [id.as_str()], |_| Ok(()))
            .optional()?
            .is_some())
    }

    /// Journaled refreshes not yet reported: (account, owner instance, started at).
    pub fn unreported_refreshes(&self) -> Result<Vec<(AccountId, String, i64)>> {
        let mut stmt =
            self.db.prepare("SELECT account_id, owner, started_at FROM refresh_journal WHERE owner != ''")?;
        let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get(1)?, r.get(2)?)))?;
        let mut out = Vec::new();
        for row in rows {
            let (id, owner, at) = row?;
            if let Ok(id) = AccountId::parse(&id) {
                out.push((id, owner, at));
            }
        }
        Ok(out)
    }

    /// Shows that a refresh was interrupted, and makes the account due for one at once (which
    /// tells whether the sign-in survived); the journal row stays until that refresh ends.
    pub fn report_interrupted_refresh(&mut self, id: &AccountId, reason: &str) -> Result<()> {
        let tx = self.write()?;
        tx.execute(
            "UPDATE accounts SET offline_reason = ?2, retry_at = ?3, updated_at = ?3 WHERE id = ?1",
            params![id.as_str(), reason, now()],
        )?;
        tx.execute("UPDATE refresh_journal SET owner = '' WHERE account_id = ?1", [id.as_str()])?;
        tx.commit()?;
        Ok(())
    }
}
