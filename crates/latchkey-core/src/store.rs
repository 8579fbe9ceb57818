//! Non-secret metadata and the audit trail, in SQLite (WAL, foreign keys on) under the app-data
//! folder. The app and the CLI may use the same file at the same time: every read-modify-write is
//! one transaction, and nothing is cached in memory.
//!
//! Nothing here can hold a token: the functions take domain values whose fields are strings the
//! provider and the user chose (identifiers, scopes, identity), never a [`crate::secret::Secret`].

use std::path::Path;

use rusqlite::{Connection as Db, OptionalExtension, Row, Transaction, params};

use crate::error::{Error, Result};
use crate::model::{Account, AccountFilter, AccountId, AccountStatus, Actor, ConnectionId, Identity};

const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE accounts (
    id               TEXT PRIMARY KEY,
    connection_id    TEXT NOT NULL,
    identifier       TEXT NOT NULL,
    auto_identifier  INTEGER NOT NULL DEFAULT 0,
    status           TEXT NOT NULL,
    identity_subject TEXT,
    identity_email   TEXT,
    identity_name    TEXT,
    requested_scopes TEXT NOT NULL DEFAULT '',
    granted_scopes   TEXT NOT NULL DEFAULT '',
    expires_at       INTEGER,
    last_error       TEXT,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL,
    UNIQUE (connection_id, identifier)
);
CREATE TABLE audit (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    at            INTEGER NOT NULL,
    account_id    TEXT,
    connection_id TEXT,
    action        TEXT NOT NULL,
    actor         TEXT NOT NULL,
    detail        TEXT NOT NULL DEFAULT ''
);
CREATE INDEX audit_by_account ON audit (account_id, at);
"#,
    r#"
ALTER TABLE accounts ADD COLUMN reauth_needed INTEGER NOT NULL DEFAULT 0;
ALTER TABLE accounts ADD COLUMN note TEXT;
-- A multi-step operation in progress ('store', 'revoke', 'delete'): what start-up reconciles
-- after a crash. See Latchkey::reconcile.
ALTER TABLE accounts ADD COLUMN pending_op TEXT;
-- The process (Latchkey instance) running that operation; see instance.rs.
ALTER TABLE accounts ADD COLUMN op_owner TEXT;
CREATE TABLE account_labels (
    account_id TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    label      TEXT NOT NULL,
    PRIMARY KEY (account_id, label)
);
CREATE TABLE connection_state (
    connection_id TEXT PRIMARY KEY,
    scopes        TEXT NOT NULL,
    error         TEXT
);
ALTER TABLE audit ADD COLUMN outcome TEXT NOT NULL DEFAULT 'ok';
ALTER TABLE audit ADD COLUMN caller TEXT;
CREATE INDEX audit_by_time ON audit (at);
-- The trail is append-only.
CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
"#,
    r#"
-- Token lifecycle (refresh, transient failures, revocations the provider has not confirmed yet).
ALTER TABLE accounts ADD COLUMN token_issued_at INTEGER;
ALTER TABLE accounts ADD COLUMN offline_reason TEXT;
ALTER TABLE accounts ADD COLUMN retry_at INTEGER;
ALTER TABLE accounts ADD COLUMN failure_count INTEGER NOT NULL DEFAULT 0;
ALTER TABLE accounts ADD COLUMN revocation_pending INTEGER NOT NULL DEFAULT 0;
-- Bumped with every new token set, so a waiter can tell whether someone refreshed meanwhile.
ALTER TABLE accounts ADD COLUMN token_version INTEGER NOT NULL DEFAULT 0;
"#,
    r#"
-- Whether the user put a client secret for the connection in the keychain (never the secret).
ALTER TABLE connection_state ADD COLUMN client_secret_set INTEGER NOT NULL DEFAULT 0;
"#,
    r#"
-- A refresh that asked the provider and has not stored its answer yet. A row left behind by a
-- process that died means the outcome is unknown: the provider may have rotated the refresh token.
-- `owner` is the instance that ran it, '' once start-up has reported it.
CREATE TABLE refresh_journal (
    account_id TEXT PRIMARY KEY REFERENCES accounts (id) ON DELETE CASCADE,
    owner      TEXT NOT NULL,
    started_at INTEGER NOT NULL
);
"#,
];

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

/// A multi-step operation recorded on the account before its first step.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PendingOp {
    /// Writing a credential to the keychain (connect, re-authorize, add, rotate).
    Store,
    Revoke,
    Delete,
}

impl PendingOp {
    fn as_str(self) -> &'static str {
        match self {
            PendingOp::Store => "store",
            PendingOp::Revoke => "revoke",
            PendingOp::Delete => "delete",
        }
    }
    fn parse(s: &str) -> Option<PendingOp> {
        [PendingOp::Store, PendingOp::Revoke, PendingOp::Delete].into_iter().find(|op| op.as_str() == s)
    }
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

pub struct Store {
    db: Db,
}

const DB_FILE: &str = "latchkey.sqlite3";

fn has_content(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|m| m.len() > 0)
}

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
            Ok(m) if m.len() == 0 && !has_content(&dir.join(format!("{DB_FILE}-wal"))) => {
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
        Store::init(Db::open(&path)?)
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
        // Migrate under a write lock, so the app and the CLI starting together migrate once.
        let tx = db.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let version: usize = tx.pragma_query_value(None, "user_version", |r| r.get(0))?;
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(version) {
            tx.execute_batch(sql)?;
            tx.pragma_update(None, "user_version", i + 1)?;
        }
        tx.commit()?;
        Ok(Store { db })
    }

    /// A write transaction taken at once (`BEGIN IMMEDIATE`), so read-then-write sequences from
    /// two processes serialize instead of failing half-way.
    fn write(&mut self) -> Result<Transaction<'_>> {
        Ok(self.db.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?)
    }

    /// The account keyed by (connection, identifier), created in Pending if it does not exist.
    /// Idempotent: `INSERT … ON CONFLICT DO NOTHING` then a read, in one write transaction, so two
    /// callers (or two processes) racing on the same pair get the same account.
    pub fn get_or_create_account(
        &mut self,
        connection: &ConnectionId,
        identifier: &str,
        requested_scopes: &[String],
        auto_identifier: bool,
        actor: &Actor,
    ) -> Result<(Account, bool)> {
        let tx = self.write()?;
        let id = AccountId::random();
        let created = tx.execute(
            "INSERT INTO accounts (id, connection_id, identifier, auto_identifier, status, requested_scopes, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, 'pending', ?5, ?6, ?6) ON CONFLICT (connection_id, identifier) DO NOTHING",
            params![id.as_str(), connection.as_str(), identifier, auto_identifier, requested_scopes.join(" "), now()],
        )? == 1;
        if created {
            audit_ok(&tx, &id, connection, "account.created", actor, "status pending")?;
        }
        let account = select_one(
            &tx,
            "connection_id = ?1 AND identifier = ?2",
            params![connection.as_str(), identifier],
        )?
        .ok_or(Error::UnknownAccount)?;
        tx.commit()?;
        Ok((account, created))
    }

    /// Creates a new account that will hold a credential the user typed (API key, basic auth),
    /// marked as storing. Refuses a name the connection already has.
    pub fn create_credential_account(
        &mut self,
        connection: &ConnectionId,
        identifier: &str,
        actor: &Actor,
        owner: &str,
    ) -> Result<Account> {
        let tx = self.write()?;
        let id = AccountId::random();
        let inserted = tx.execute(
            "INSERT INTO accounts (id, connection_id, identifier, status, pending_op, op_owner, created_at, updated_at)
             VALUES (?1, ?2, ?3, 'pending', 'store', ?4, ?5, ?5) ON CONFLICT (connection_id, identifier) DO NOTHING",
            params![id.as_str(), connection.as_str(), identifier, owner, now()],
        )?;
        if inserted == 0 {
            return Err(Error::Duplicate {
                connection: connection.to_string(),
                identifier: identifier.to_owned(),
            });
        }
        audit_ok(&tx, &id, connection, "account.created", actor, "status pending")?;
        let account = by_id(&tx, &id)?;
        tx.commit()?;
        Ok(account)
    }

    pub fn account(&self, id: &AccountId) -> Result<Account> {
        select_one(&self.db, "id = ?1 AND coalesce(pending_op, '') != 'delete'", [id.as_str()])?
            .ok_or(Error::UnknownAccount)
    }

    pub fn find(&self, connection: &ConnectionId, identifier: &str) -> Result<Option<Account>> {
        select_one(
            &self.db,
            "connection_id = ?1 AND identifier = ?2 AND coalesce(pending_op, '') != 'delete'",
            params![connection.as_str(), identifier],
        )
    }

    /// Accounts matching `filter`, by connection then name; accounts being deleted are hidden.
    pub fn accounts(&self, filter: &AccountFilter) -> Result<Vec<Account>> {
        let mut stmt = self.db.prepare_cached(&format!(
            "{SELECT_ACCOUNT} WHERE coalesce(pending_op, '') != 'delete'
               AND (?1 IS NULL OR connection_id = ?1)
               AND (?2 IS NULL OR status = ?2)
               AND (?3 IS NULL OR EXISTS (SELECT 1 FROM account_labels l WHERE l.account_id = accounts.id AND l.label = ?3))
             ORDER BY connection_id, identifier"
        ))?;
        let rows = stmt.query_map(
            params![
                filter.connection.as_ref().map(ConnectionId::as_str),
                filter.status.map(AccountStatus::as_str),
                filter.label.as_deref()
            ],
            account_from_row,
        )?;
        rows.collect::<Result<_, _>>().map_err(Error::from)
    }

    /// Moves an account to `to` if the state machine allows it, with its audit row, atomically.
    pub fn transition(
        &mut self,
        id: &AccountId,
        to: AccountStatus,
        actor: &Actor,
        reason: &str,
    ) -> Result<Account> {
        let tx = self.write()?;
        let account = transition_in(&tx, id, to, actor, reason)?;
        tx.commit()?;
        Ok(account)
    }

    /// Records the outcome of an authorization: identity, granted and requested scopes, expiry;
    /// moves the account to Active (a re-authorization of an Active account keeps it Active) and
    /// ends the `store` operation, in one transaction.
    pub fn record_authorized(
        &mut self,
        id: &AccountId,
        identity: &Identity,
        requested_scopes: &[String],
        granted_scopes: &[String],
        expires_at: Option<i64>,
        actor: &Actor,
    ) -> Result<Account> {
        let tx = self.write()?;
        let before = by_id(&tx, id)?;
        tx.execute(
            "UPDATE accounts SET identity_subject = ?2, identity_email = ?3, identity_name = ?4,
                 requested_scopes = ?5, granted_scopes = ?6, expires_at = ?7, last_error = NULL,
                 token_issued_at = ?8, offline_reason = NULL, retry_at = NULL, failure_count = 0,
                 token_version = token_version + 1, reauth_needed = 0, pending_op = NULL, op_owner = NULL, updated_at = ?8 WHERE id = ?1",
            params![
                id.as_str(),
                identity.subject,
                identity.email,
                identity.name,
                requested_scopes.join(" "),
                granted_scopes.join(" "),
                expires_at,
                now()
            ],
        )?;
        let reason = format!("authorized; granted scopes: {}", granted_scopes.join(" "));
        let account = if before.status == AccountStatus::Active {
            audit_ok(&tx, id, &before.connection, "account.reauthorized", actor, &reason)?;
            by_id(&tx, id)?
        } else {
            transition_in(&tx, id, AccountStatus::Active, actor, &reason)?
        };
        tx.commit()?;
        Ok(account)
    }

    /// A refresh succeeded: the new expiry, the (possibly narrower) granted scopes; any offline
    /// mark is cleared, and an account in Error recovers to Active.
    pub fn record_refreshed(
        &mut self,
        id: &AccountId,
        expires_at: Option<i64>,
        granted_scopes: Option<&[String]>,
        actor: &Actor,
    ) -> Result<Account> {
        let tx = self.write()?;
        let before = by_id(&tx, id)?;
        tx.execute(
            "UPDATE accounts SET expires_at = ?2, token_issued_at = ?3, granted_scopes = coalesce(?4, granted_scopes),
                 token_version = token_version + 1,
                 offline_reason = NULL, retry_at = NULL, failure_count = 0, last_error = NULL, updated_at = ?3
             WHERE id = ?1",
            params![id.as_str(), expires_at, now(), granted_scopes.map(|g| g.join(" "))],
        )?;
        tx.execute("DELETE FROM refresh_journal WHERE account_id = ?1", [id.as_str()])?;
        let detail = match &before.offline {
            Some(why) => format!("refreshed; recovered from: {why}"),
            None => "refreshed".to_owned(),
        };
        audit_ok(&tx, id, &before.connection, "token.refreshed", actor, &detail)?;
        let account = if before.status == AccountStatus::Error {
            transition_in(&tx, id, AccountStatus::Active, actor, "refresh succeeded")?
        } else {
            by_id(&tx, id)?
        };
        tx.commit()?;
        Ok(account)
    }

    /// A refresh failed for a reason that may pass (network, 5xx, 429): the account stays as it is,
    /// marked offline until `retry_at`. Returns the account with its new failure count.
    pub fn record_transient_failure(
        &mut self,
        id: &AccountId,
        reason: &str,
        retry_at: i64,
        actor: &Actor,
    ) -> Result<Account> {
        let tx = self.write()?;
        let before = by_id(&tx, id)?;
        tx.execute(
            "UPDATE accounts SET offline_reason = ?2, retry_at = ?3, failure_count = failure_count + 1, updated_at = ?4
             WHERE id = ?1",
            params![id.as_str(), reason, retry_at, now()],
        )?;
        insert_audit(
            &tx,
            &Audit {
                account: Some(id),
                connection: Some(&before.connection),
                action: "token.refresh_failed",
                actor,
                outcome: "transient",
                detail: &format!("{reason}; retrying at {}", crate::model::rfc3339(retry_at)),
            },
        )?;
        let account = by_id(&tx, id)?;
        tx.commit()?;
        Ok(account)
    }

    /// Moves the account to `to` because of a failed refresh, with the sentence the user sees.
    pub fn record_refresh_failure(
        &mut self,
        id: &AccountId,
        to: AccountStatus,
        sentence: &str,
        actor: &Actor,
    ) -> Result<Account> {
        let tx = self.write()?;
        tx.execute(
            "UPDATE accounts SET last_error = ?2, offline_reason = NULL, retry_at = NULL, updated_at = ?3 WHERE id = ?1",
            params![id.as_str(), sentence, now()],
        )?;
        let account = transition_in(&tx, id, to, actor, sentence)?;
        tx.commit()?;
        Ok(account)
    }

    /// Marks (or clears) that the provider has not yet confirmed a revocation whose tokens wait,
    /// unusable, in the keychain for a retry.
    pub fn set_revocation_pending(&mut self, id: &AccountId, pending: bool) -> Result<()> {
        self.db.execute(
            "UPDATE accounts SET revocation_pending = ?2, updated_at = ?3 WHERE id = ?1",
            params![id.as_str(), pending, now()],
        )?;
        Ok(())
    }

    /// A typed-in credential is stored: the account becomes Active (or stays Active, for a
    /// rotation) and its `store` operation ends.
    pub fn record_credential_stored(
        &mut self,
        id: &AccountId,
        actor: &Actor,
        reason: &str,
    ) -> Result<Account> {
        let tx = self.write()?;
        let before = by_id(&tx, id)?;
        tx.execute(
            "UPDATE accounts SET pending_op = NULL, op_owner = NULL, last_error = NULL, updated_at = ?2 WHERE id = ?1",
            params![id.as_str(), now()],
        )?;
        let account = if before.status == AccountStatus::Active {
            audit_ok(&tx, id, &before.connection, "credential.rotated", actor, reason)?;
            by_id(&tx, id)?
        } else {
            transition_in(&tx, id, AccountStatus::Active, actor, reason)?
        };
        tx.commit()?;
        Ok(account)
    }

    /// Marks the start of a multi-step operation, so a crash before it ends is reconciled at the
    /// next start. A `delete` also hides the account at once.
    pub fn begin_op(&mut self, id: &AccountId, op: PendingOp, owner: &str) -> Result<()> {
        let n = self.db.execute(
            "UPDATE accounts SET pending_op = ?2, op_owner = ?3, updated_at = ?4 WHERE id = ?1",
            params![id.as_str(), op.as_str(), owner, now()],
        )?;
        if n == 0 { Err(Error::UnknownAccount) } else { Ok(()) }
    }

    pub fn end_op(&mut self, id: &AccountId) -> Result<()> {
        self.db
            .execute("UPDATE accounts SET pending_op = NULL, op_owner = NULL WHERE id = ?1", [id.as_str()])?;
        Ok(())
    }

    /// Journals a refresh before the provider is asked. Returns when an earlier one began if its
    /// row is still there: that refresh never finished, and its outcome is unknown.
    pub fn begin_refresh(&mut self, id: &AccountId, owner: &str) -> Result<Option<i64>> {
        let tx = self.write()?;
        let earlier: Option<i64> = tx
            .query_row("SELECT started_at FROM refresh_journal WHERE account_id = ?1", [id.as_str()], |r| {
                r.get(0)
            })
            .optional()?;
        tx.execute(
            "INSERT INTO refresh_journal (account_id, owner, started_at) VALUES (?1, ?2, ?3)
             ON CONFLICT (account_id) DO UPDATE SET owner = ?2, started_at = ?3",
            params![id.as_str(), owner, now()],
        )?;
        tx.commit()?;
        Ok(earlier)
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

    /// Accounts with an operation in progress, with the instance running it (it may have died).
    pub fn in_progress(&self) -> Result<Vec<(Account, PendingOp, String)>> {
        let mut stmt = self.db.prepare(&format!("{SELECT_ACCOUNT} WHERE pending_op IS NOT NULL"))?;
        let rows = stmt.query_map([], |r| {
            let op: String = r.get("pending_op")?;
            let owner: Option<String> = r.get("op_owner")?;
            Ok((account_from_row(r)?, op, owner.unwrap_or_default()))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (account, op, owner) = row?;
            if let Some(op) = PendingOp::parse(&op) {
                out.push((account, op, owner));
            }
        }
        Ok(out)
    }

    /// Removes the account's row (its labels go with it); the audit trail keeps its history.
    pub fn delete_account(&mut self, id: &AccountId, actor: &Actor, detail: &str) -> Result<()> {
        let tx = self.write()?;
        let account = by_id(&tx, id)?;
        tx.execute("DELETE FROM accounts WHERE id = ?1", [id.as_str()])?;
        audit_ok(&tx, id, &account.connection, "account.deleted", actor, detail)?;
        tx.commit()?;
        Ok(())
    }

    /// Removes the account if it is the placeholder of a sign-in that never completed: Pending (so
    /// never Active), still named by Latchkey (`new-…`, from a connect without a name), no operation
    /// under way (so no keychain entry), created before `before` (unix seconds). Returns whether it
    /// did; the audit row says why.
    pub fn delete_placeholder(
        &mut self,
        id: &AccountId,
        before: i64,
        actor: &Actor,
        detail: &str,
    ) -> Result<bool> {
        let tx = self.write()?;
        let Some(account) = select_one(
            &tx,
            &format!("id = ?1 AND {PLACEHOLDER} AND created_at < ?2"),
            params![id.as_str(), before],
        )?
        else {
            return Ok(false);
        };
        tx.execute("DELETE FROM accounts WHERE id = ?1", [id.as_str()])?;
        audit_ok(&tx, id, &account.connection, "account.deleted", actor, detail)?;
        tx.commit()?;
        Ok(true)
    }

    /// The placeholders (see [`Store::delete_placeholder`]) created before `before`.
    pub fn placeholders(&self, before: i64) -> Result<Vec<AccountId>> {
        let mut stmt =
            self.db.prepare(&format!("SELECT id FROM accounts WHERE {PLACEHOLDER} AND created_at < ?1"))?;
        let ids = stmt.query_map([before], |r| r.get::<_, String>(0))?.collect::<Result<Vec<_>, _>>()?;
        ids.iter().map(|id| AccountId::parse(id)).collect()
    }

    /// Gives an account that was created without a name the name the provider knows it by (its
    /// email), or that name with a number when the connection already has an account of that name.
    pub fn name_after_identity(&mut self, id: &AccountId, name: &str) -> Result<()> {
        for n in 1..10 {
            let candidate = if n == 1 { name.to_owned() } else { format!("{name} ({n})") };
            match self.db.execute(
                "UPDATE accounts SET identifier = ?2, auto_identifier = 0 WHERE id = ?1 AND auto_identifier = 1",
                params![id.as_str(), candidate],
            ) {
                Ok(_) => return Ok(()),
                Err(rusqlite::Error::SqliteFailure(e, _)) if e.code == rusqlite::ErrorCode::ConstraintViolation => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    /// Sets or clears the sentence shown for the account's last failure.
    pub fn set_last_error(&mut self, id: &AccountId, error: Option<&str>) -> Result<()> {
        self.db.execute(
            "UPDATE accounts SET last_error = ?2, updated_at = ?3 WHERE id = ?1",
            params![id.as_str(), error, now()],
        )?;
        Ok(())
    }

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
        audit_ok(&tx, id, &account.connection, "metadata.labels", actor, &labels.join(", "))?;
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
            "metadata.note",
            actor,
            if note.is_some() { "note set" } else { "note cleared" },
        )?;
        let account = by_id(&tx, id)?;
        tx.commit()?;
        Ok(account)
    }

    /// Compares a connection's configured scopes with the ones last seen. When they changed, its
    /// accounts that were authorized for the old ones are marked "re-authorization needed".
    /// Returns how many accounts were marked.
    pub fn sync_connection_scopes(&mut self, connection: &ConnectionId, scopes: &[String]) -> Result<usize> {
        let now_scopes = scopes.join(" ");
        // The usual case, unchanged scopes, needs no write lock.
        let seen: Option<String> = self
            .db
            .query_row(
                "SELECT scopes FROM connection_state WHERE connection_id = ?1",
                [connection.as_str()],
                |r| r.get(0),
            )
            .optional()?;
        if seen.as_deref() == Some(now_scopes.as_str()) {
            return Ok(0);
        }
        let tx = self.write()?;
        let before: Option<String> = tx
            .query_row(
                "SELECT scopes FROM connection_state WHERE connection_id = ?1",
                [connection.as_str()],
                |r| r.get(0),
            )
            .optional()?;
        let mut marked = 0;
        match before {
            None => {
                tx.execute(
                    "INSERT INTO connection_state (connection_id, scopes) VALUES (?1, ?2)",
                    params![connection.as_str(), now_scopes],
                )?;
            }
            Some(old) if old != now_scopes => {
                tx.execute(
                    "UPDATE connection_state SET scopes = ?2 WHERE connection_id = ?1",
                    params![connection.as_str(), now_scopes],
                )?;
                marked = tx.execute(
                    "UPDATE accounts SET reauth_needed = 1, updated_at = ?3
                     WHERE connection_id = ?1 AND requested_scopes != ?2 AND status != 'pending'",
                    params![connection.as_str(), now_scopes, now()],
                )?;
                insert_audit(
                    &tx,
                    &Audit {
                        account: None,
                        connection: Some(connection),
                        action: "config.scopes_changed",
                        actor: &Actor::System,
                        outcome: "ok",
                        detail: &format!(
                            "“{old}” -> “{now_scopes}”; {marked} account(s) need re-authorization"
                        ),
                    },
                )?;
            }
            Some(_) => {}
        }
        tx.commit()?;
        Ok(marked)
    }

    /// The provider's verdict on the connection's client (`invalid_client`, …), or `None`.
    pub fn connection_error(&self, connection: &ConnectionId) -> Result<Option<String>> {
        Ok(self
            .db
            .query_row(
                "SELECT error FROM connection_state WHERE connection_id = ?1",
                [connection.as_str()],
                |r| r.get(0),
            )
            .optional()?
            .flatten())
    }

    /// Whether the user stored a client secret for the connection in the keychain.
    pub fn client_secret_set(&self, connection: &ConnectionId) -> Result<bool> {
        Ok(self
            .db
            .query_row(
                "SELECT client_secret_set FROM connection_state WHERE connection_id = ?1",
                [connection.as_str()],
                |r| r.get::<_, bool>(0),
            )
            .optional()?
            .unwrap_or(false))
    }

    pub fn set_client_secret_flag(&mut self, connection: &ConnectionId, set: bool) -> Result<()> {
        self.db.execute(
            "INSERT INTO connection_state (connection_id, scopes, client_secret_set) VALUES (?1, '', ?2)
             ON CONFLICT (connection_id) DO UPDATE SET client_secret_set = excluded.client_secret_set",
            params![connection.as_str(), set],
        )?;
        Ok(())
    }

    /// Sets or clears the connection's error, audited when it changes.
    pub fn set_connection_error(
        &mut self,
        connection: &ConnectionId,
        error: Option<&str>,
        actor: &Actor,
    ) -> Result<()> {
        let tx = self.write()?;
        let before: Option<String> = tx
            .query_row(
                "SELECT error FROM connection_state WHERE connection_id = ?1",
                [connection.as_str()],
                |r| r.get(0),
            )
            .optional()?
            .flatten();
        if before.as_deref() != error {
            tx.execute(
                "INSERT INTO connection_state (connection_id, scopes, error) VALUES (?1, '', ?2)
                 ON CONFLICT (connection_id) DO UPDATE SET error = excluded.error",
                params![connection.as_str(), error],
            )?;
            insert_audit(
                &tx,
                &Audit {
                    account: None,
                    connection: Some(connection),
                    action: if error.is_some() { "connection.error" } else { "connection.recovered" },
                    actor,
                    outcome: if error.is_some() { "failed" } else { "ok" },
                    detail: error.unwrap_or("the provider accepts the client again"),
                },
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    pub fn audit(&mut self, entry: &Audit<'_>) -> Result<()> {
        insert_audit(&self.db, entry)
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

const SELECT_ACCOUNT: &str = "SELECT id, connection_id, identifier, status, identity_subject, identity_email,
    identity_name, requested_scopes, granted_scopes, expires_at, last_error, created_at, updated_at,
    reauth_needed, note, pending_op,
    (SELECT group_concat(label, char(31)) FROM (SELECT label FROM account_labels l WHERE l.account_id = accounts.id ORDER BY label)) AS labels,
    op_owner, token_issued_at, offline_reason, retry_at, failure_count, revocation_pending, token_version
    FROM accounts";

/// A sign-in's unnamed Pending account with nothing under way (see `Store::delete_placeholder`).
const PLACEHOLDER: &str =
    "status = 'pending' AND auto_identifier = 1 AND pending_op IS NULL AND token_version = 0";

fn select_one<P: rusqlite::Params>(db: &Db, condition: &str, params: P) -> Result<Option<Account>> {
    Ok(db.query_row(&format!("{SELECT_ACCOUNT} WHERE {condition}"), params, account_from_row).optional()?)
}

/// The account with this id, deleted-in-progress ones included (for the steps of an operation).
fn by_id(db: &Db, id: &AccountId) -> Result<Account> {
    select_one(db, "id = ?1", [id.as_str()])?.ok_or(Error::UnknownAccount)
}

fn transition_in(tx: &Db, id: &AccountId, to: AccountStatus, actor: &Actor, reason: &str) -> Result<Account> {
    let account = by_id(tx, id)?;
    account.status.check_transition(to)?;
    tx.execute(
        "UPDATE accounts SET status = ?2, updated_at = ?3 WHERE id = ?1",
        params![id.as_str(), to.as_str(), now()],
    )?;
    let detail = format!("{} -> {}: {reason}", account.status.as_str(), to.as_str());
    audit_ok(tx, id, &account.connection, "state.changed", actor, &detail)?;
    by_id(tx, id)
}

fn account_from_row(r: &Row<'_>) -> rusqlite::Result<Account> {
    let split = |s: String| s.split_whitespace().map(str::to_owned).collect::<Vec<_>>();
    let text = |i: usize| r.get::<_, String>(i);
    let invalid = |i: usize, e: Error| {
        rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Text, Box::new(e))
    };
    let subject: Option<String> = r.get(4)?;
    let email: Option<String> = r.get(5)?;
    let name: Option<String> = r.get(6)?;
    let identity =
        (subject.is_some() || email.is_some() || name.is_some()).then_some(Identity { subject, email, name });
    let labels: Option<String> = r.get(16)?;
    Ok(Account {
        id: AccountId::parse(&text(0)?).map_err(|e| invalid(0, e))?,
        connection: ConnectionId::new(&text(1)?).map_err(|e| invalid(1, e))?,
        identifier: text(2)?,
        status: text(3)?.parse().map_err(|e| invalid(3, e))?,
        identity,
        requested_scopes: split(text(7)?),
        granted_scopes: split(text(8)?),
        expires_at: r.get(9)?,
        last_error: r.get(10)?,
        created_at: r.get(11)?,
        updated_at: r.get(12)?,
        reauth_needed: r.get(13)?,
        note: r.get(14)?,
        labels: labels.map(|l| l.split('\u{1f}').map(str::to_owned).collect()).unwrap_or_default(),
        token_issued_at: r.get(18)?,
        offline: r.get(19)?,
        retry_at: r.get(20)?,
        failure_count: r.get(21)?,
        revocation_pending: r.get(22)?,
        token_version: r.get(23)?,
    })
}

/// An audit row for a successful step on an account.
fn audit_ok(
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

fn insert_audit(db: &Db, e: &Audit<'_>) -> Result<()> {
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

    fn conn() -> ConnectionId {
        ConnectionId::new("demo").expect("valid")
    }

    fn all(store: &Store) -> Vec<Account> {
        store.accounts(&AccountFilter::default()).expect("list")
    }

    #[test]
    fn get_or_create_is_idempotent_and_audited() {
        let mut store = Store::open_in_memory().expect("open");
        let scopes = vec!["openid".to_owned(), "email".to_owned()];
        let (a, created_a) =
            store.get_or_create_account(&conn(), "work", &scopes, false, &Actor::User).expect("create");
        let (b, created_b) =
            store.get_or_create_account(&conn(), "work", &scopes, false, &Actor::User).expect("again");
        assert!(created_a && !created_b);
        assert_eq!(a.id, b.id);
        assert_eq!(a.status, AccountStatus::Pending);
        assert_eq!(a.requested_scopes, scopes);
        assert_eq!(all(&store).len(), 1);
        let audit = store
            .audit_entries(&AuditQuery { account: Some(a.id.clone()), ..Default::default() })
            .expect("audit");
        assert_eq!(audit.len(), 1);
        assert_eq!(audit[0].action, "account.created");
    }

    #[test]
    fn get_or_create_races_across_connections_to_one_file() {
        let dir = tempfile::tempdir().expect("tmp");
        let handles: Vec<_> = (0..8)
            .map(|_| {
                let path = dir.path().to_owned();
                std::thread::spawn(move || {
                    let mut store = Store::open_in(&path).expect("open");
                    store
                        .get_or_create_account(&conn(), "same", &[], false, &Actor::User)
                        .expect("create")
                        .0
                        .id
                })
            })
            .collect();
        let ids: Vec<_> = handles.into_iter().map(|h| h.join().expect("thread")).collect();
        assert!(ids.windows(2).all(|w| w[0] == w[1]), "{ids:?}");
        assert_eq!(all(&Store::open_in(dir.path()).expect("open")).len(), 1);
    }

    #[test]
    fn transitions_follow_the_state_machine_and_are_audited() {
        let mut store = Store::open_in_memory().expect("open");
        let (a, _) = store.get_or_create_account(&conn(), "x", &[], false, &Actor::User).expect("create");
        let err = store.transition(&a.id, AccountStatus::Revoked, &Actor::User, "test").expect_err("refused");
        assert!(matches!(err, Error::InvalidTransition { .. }));
        assert_eq!(store.account(&a.id).expect("get").status, AccountStatus::Pending);

        let identity = Identity { email: Some("a@b".into()), ..Default::default() };
        let active = store
            .record_authorized(
                &a.id,
                &identity,
                &["openid".into()],
                &["openid".into()],
                Some(5),
                &Actor::User,
            )
            .expect("authorized");
        assert_eq!(active.status, AccountStatus::Active);
        assert_eq!(active.granted_scopes, vec!["openid".to_owned()]);
        assert_eq!(active.identity.and_then(|i| i.email).as_deref(), Some("a@b"));
        let revoked =
            store.transition(&a.id, AccountStatus::Revoked, &Actor::User, "revoked").expect("revoke");
        assert_eq!(revoked.status, AccountStatus::Revoked);
        let details: Vec<_> = store
            .audit_entries(&AuditQuery { account: Some(a.id.clone()), ..Default::default() })
            .expect("audit")
            .into_iter()
            .map(|e| e.detail)
            .collect();
        assert_eq!(details.len(), 3, "{details:?}");
        assert!(details[1].starts_with("pending -> active"));
        assert!(details[2].starts_with("active -> revoked"));
    }

    #[test]
    fn unnamed_accounts_take_the_identity_name_without_clashing() {
        let mut store = Store::open_in_memory().expect("open");
        let (named, _) =
            store.get_or_create_account(&conn(), "a@b", &[], false, &Actor::User).expect("create");
        let (auto, _) =
            store.get_or_create_account(&conn(), "new-1", &[], true, &Actor::User).expect("create");
        store.name_after_identity(&auto.id, "a@b").expect("rename");
        assert_eq!(store.account(&auto.id).expect("get").identifier, "a@b (2)");
        store.name_after_identity(&named.id, "zzz").expect("no-op");
        assert_eq!(
            store.account(&named.id).expect("get").identifier,
            "a@b",
            "named accounts keep their name"
        );
    }

    #[test]
    fn labels_and_notes_are_editable_and_filterable() {
        let mut store = Store::open_in_memory().expect("open");
        let (a, _) = store.get_or_create_account(&conn(), "a", &[], false, &Actor::User).expect("create");
        let (b, _) = store.get_or_create_account(&conn(), "b", &[], false, &Actor::User).expect("create");
        let a = store.set_labels(&a.id, &["work".into(), "ci".into()], &Actor::User).expect("labels");
        assert_eq!(a.labels, ["ci", "work"]);
        store.set_labels(&b.id, &["home".into()], &Actor::User).expect("labels");
        let a = store.set_note(&a.id, Some("used by the nightly job"), &Actor::User).expect("note");
        assert_eq!(a.note.as_deref(), Some("used by the nightly job"));
        let work = store
            .accounts(&AccountFilter { label: Some("work".into()), ..Default::default() })
            .expect("filter");
        assert_eq!(work.iter().map(|x| x.identifier.as_str()).collect::<Vec<_>>(), ["a"]);
        let pending = store
            .accounts(&AccountFilter {
                status: Some(AccountStatus::Pending),
                connection: Some(conn()),
                ..Default::default()
            })
            .expect("filter");
        assert_eq!(pending.len(), 2);
        let none = store
            .accounts(&AccountFilter { status: Some(AccountStatus::Active), ..Default::default() })
            .expect("filter");
        assert!(none.is_empty());
        let a = store.set_labels(&a.id, &[], &Actor::User).expect("clear");
        assert!(a.labels.is_empty());
    }

    #[test]
    fn changing_a_connections_scopes_marks_its_authorized_accounts() {
        let mut store = Store::open_in_memory().expect("open");
        let old = vec!["openid".to_owned()];
        assert_eq!(store.sync_connection_scopes(&conn(), &old).expect("first"), 0);
        let (a, _) = store.get_or_create_account(&conn(), "a", &old, false, &Actor::User).expect("create");
        store.record_authorized(&a.id, &Identity::default(), &old, &old, None, &Actor::User).expect("auth");
        let (p, _) = store.get_or_create_account(&conn(), "p", &old, false, &Actor::User).expect("pending");
        assert_eq!(store.sync_connection_scopes(&conn(), &old).expect("same"), 0);
        let new = vec!["openid".to_owned(), "email".to_owned()];
        assert_eq!(store.sync_connection_scopes(&conn(), &new).expect("changed"), 1);
        assert!(store.account(&a.id).expect("get").reauth_needed);
        assert!(
            !store.account(&p.id).expect("get").reauth_needed,
            "a pending account asks for the new scopes anyway"
        );
        let a = store
            .record_authorized(&a.id, &Identity::default(), &new, &new, None, &Actor::User)
            .expect("reauth");
        assert!(!a.reauth_needed && a.granted_scopes == new && a.status == AccountStatus::Active);
        let audit = store.audit_entries(&AuditQuery::default()).expect("audit");
        assert!(audit.iter().any(|e| e.action == "config.scopes_changed"));
        assert!(audit.iter().any(|e| e.action == "account.reauthorized"));
    }

    #[test]
    fn the_audit_trail_is_append_only_and_queryable_by_time() {
        let mut store = Store::open_in_memory().expect("open");
        store
            .get_or_create_account(&conn(), "a", &[], false, &Actor::Cli { caller: "backup.sh".into() })
            .expect("create");
        let entries = store.audit_entries(&AuditQuery::default()).expect("audit");
        assert_eq!(entries[0].actor, "cli");
        assert_eq!(entries[0].caller.as_deref(), Some("backup.sh"));
        assert!(store.db.execute("UPDATE audit SET detail = 'x'", []).is_err());
        assert!(store.db.execute("DELETE FROM audit", []).is_err());
        let future = AuditQuery { since: Some(now() + 3600), ..Default::default() };
        assert!(store.audit_entries(&future).expect("audit").is_empty());
        let past = AuditQuery { until: Some(now() - 3600), ..Default::default() };
        assert!(store.audit_entries(&past).expect("audit").is_empty());
    }

    #[test]
    fn deleting_hides_at_once_and_removes_the_row_but_not_its_history() {
        let mut store = Store::open_in_memory().expect("open");
        let (a, _) = store.get_or_create_account(&conn(), "a", &[], false, &Actor::User).expect("create");
        store.set_labels(&a.id, &["x".into()], &Actor::User).expect("labels");
        store.begin_op(&a.id, PendingOp::Delete, "me").expect("begin");
        assert!(all(&store).is_empty() && matches!(store.account(&a.id), Err(Error::UnknownAccount)));
        let ops = store.in_progress().expect("in progress");
        assert_eq!((ops.len(), ops[0].1, ops[0].2.as_str()), (1, PendingOp::Delete, "me"));
        store.delete_account(&a.id, &Actor::User, "deleted").expect("delete");
        assert!(store.in_progress().expect("in progress").is_empty());
        let history = store
            .audit_entries(&AuditQuery { account: Some(a.id.clone()), ..Default::default() })
            .expect("audit");
        assert_eq!(history.last().map(|e| e.action.as_str()), Some("account.deleted"));
        // The same name can be used again afterwards.
        store.create_credential_account(&conn(), "a", &Actor::User, "me").expect("recreate");
        let dup = store.create_credential_account(&conn(), "a", &Actor::User, "me").expect_err("duplicate");
        assert!(matches!(dup, Error::Duplicate { .. }), "{dup}");
    }

    #[test]
    fn unknown_account_is_a_typed_error() {
        let mut store = Store::open_in_memory().expect("open");
        let id = AccountId::random();
        assert!(matches!(store.account(&id), Err(Error::UnknownAccount)));
        assert!(matches!(
            store.transition(&id, AccountStatus::Active, &Actor::User, ""),
            Err(Error::UnknownAccount)
        ));
    }
}
