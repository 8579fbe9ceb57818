//! Non-secret metadata and the audit trail, in SQLite (WAL, foreign keys on) under the app-data
//! folder. The app and the CLI may use the same file at the same time: every read-modify-write is
//! one transaction, and nothing is cached in memory.
//!
//! Nothing here can hold a token: the functions take domain values whose fields are strings the
//! provider and the user chose (identifiers, scopes, identity), never a [`crate::secret::Secret`].

use std::path::Path;

use rusqlite::{Connection as Db, Transaction};

use crate::error::{Error, Result};

mod accounts;
mod audit;
mod connection_state;
mod grants;
mod journal;
mod labels;
mod migrations;

pub use accounts::Operation;
pub use audit::{Audit, AuditAction, AuditEntry, AuditOutcome, AuditQuery};
pub use grants::Grant;

pub struct Store {
    db: Db,
}

impl Drop for Store {
    fn drop(&mut self) {
        self.trim_wal();
    }
}

/// 64 pages of 4 KiB.
const WAL_KEEP_BYTES: u64 = 256 * 1024;

const DB_FILE: &str = "latchkey.sqlite3";

/// Creates the database under a temporary name with mode 0600 (SQLite gives its `-wal` and `-shm`
/// the database's mode), migrates it, and links it into place: `latchkey.sqlite3` never exists
/// empty, so an empty one is always damage. A process that loses a race to create it uses the
/// winner's.
fn create_database(path: &Path) -> std::io::Result<()> {
    let tmp = path.with_file_name(format!("{DB_FILE}.{}.new", uuid::Uuid::new_v4()));
    crate::paths::private_file().create_new(true).write(true).open(&tmp)?;
    let made = Db::open(&tmp).map_err(Error::from).and_then(Store::init).map(drop);
    let linked = match made {
        Err(e) => Err(std::io::Error::other(e.to_string())),
        Ok(()) => match std::fs::hard_link(&tmp, path) {
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
            Err(_) if !path.exists() => std::fs::rename(&tmp, path),
            other => other,
        },
    };
    let _ = std::fs::remove_file(&tmp);
    linked
}

pub(crate) fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

impl Store {
    /// Opens (creating if needed) `latchkey.sqlite3` in `dir`, readable by the user only. Refuses
    /// an empty file: SQLite would take it for a new database, and the accounts whose tokens are
    /// in the keychain would be forgotten.
    pub fn open_in(dir: &Path) -> Result<Store> {
        crate::paths::private_dir(dir)
            .map_err(|e| Error::Storage(format!("cannot create {}: {e}", dir.display())))?;
        let path = dir.join(DB_FILE);
        let io = |e: std::io::Error| Error::Storage(format!("cannot use {}: {e}", path.display()));
        match std::fs::metadata(&path) {
            // Whatever the WAL holds: it is kept between runs, so it may hold the last changes
            // of a database that has since been emptied.
            Ok(m) if m.len() == 0 => {
                return Err(Error::Storage(format!(
                    "{} is empty (0 bytes): the list of accounts is gone, while their tokens may still be \
                     in the keychain. Latchkey does not start over on it. Restore the file from a backup, \
                     or delete it to start with no accounts.",
                    path.display()
                )));
            }
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => create_database(&path).map_err(io)?,
            Err(e) => return Err(io(e)),
        }
        for suffix in ["", "-wal", "-shm", "-journal"] {
            crate::paths::restrict(&dir.join(format!("{DB_FILE}{suffix}"))).map_err(io)?;
        }
        let store = Store::init(Db::open(&path)?)?;
        // The last connection to close would otherwise checkpoint the WAL into the database and
        // delete it, with four syncs: a cost every short-lived CLI run paid at exit. The WAL is
        // kept instead, and trimmed on close once it is long (`trim_wal`). (`create_database`
        // still checkpoints on close, so the file is never born empty.)
        store.db.set_db_config(rusqlite::config::DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, true)?;
        store.db.pragma_update(None, "wal_autocheckpoint", 64)?;
        Ok(store)
    }

    /// A process that opens the file alone rebuilds the WAL's index by reading the whole WAL, and
    /// that index says nothing was checkpointed yet, so a WAL that only ever grew would make every
    /// short run slower (and autocheckpoint all of it again). Once it is over `WAL_KEEP_BYTES` it
    /// is checkpointed and truncated; not when another connection is busy: waiting would delay
    /// this process's exit, and the next closing store tries again.
    fn trim_wal(&mut self) {
        let Some(wal) = self.db.path().filter(|p| !p.is_empty()).map(|p| format!("{p}-wal")) else {
            return;
        };
        if std::fs::metadata(wal).is_ok_and(|m| m.len() > WAL_KEEP_BYTES)
            && self.db.busy_timeout(std::time::Duration::ZERO).is_ok()
        {
            let _ = self.db.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()));
        }
    }

    pub fn open_in_memory() -> Result<Store> {
        Store::init(Db::open_in_memory()?)
    }

    fn init(mut db: Db) -> Result<Store> {
        db.busy_timeout(std::time::Duration::from_secs(5))?;
        db.pragma_update(None, "journal_mode", "WAL")?;
        // In WAL mode NORMAL cannot corrupt the file; a power cut may lose the last commits, never
        // a secret (those are in the keychain) — and it spares an fsync per audit row.
        db.pragma_update(None, "synchronous", "NORMAL")?;
        db.pragma_update(None, "foreign_keys", true)?;
        migrations::migrate(&mut db)?;
        Ok(Store { db })
    }

    /// A write transaction taken at once (`BEGIN IMMEDIATE`), so read-then-write sequences from
    /// two processes serialize instead of failing half-way.
    fn write(&mut self) -> Result<Transaction<'_>> {
        Ok(self.db.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?)
    }

    /// Changes whenever another connection (another process: the CLI, a second app) commits to the
    /// file; this connection's own commits leave it as it is.
    pub fn data_version(&self) -> Result<i64> {
        Ok(self.db.pragma_query_value(None, "data_version", |r| r.get(0))?)
    }

    /// Rows this process has written since the store opened (the core announces a change when it grows).
    pub fn writes(&self) -> u64 {
        self.db.total_changes()
    }
}

#[cfg(test)]
mod tests;
