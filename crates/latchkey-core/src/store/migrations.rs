//! The schema, as the list of migrations applied in order; `PRAGMA user_version` counts those done.

use rusqlite::Connection as Db;

use crate::error::Result;

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
    r#"
-- Which consumer (an agent, a script) may call which account's API, with what access ('read' or
-- 'full'), until when (NULL: until removed). The service removes them, audited, on revoke and
-- delete; the cascade only covers a record removed some other way.
CREATE TABLE grants (
    consumer   TEXT NOT NULL,
    account_id TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    access     TEXT NOT NULL,
    until      INTEGER,
    created_at INTEGER NOT NULL,
    last_used  INTEGER,
    PRIMARY KEY (consumer, account_id)
);
"#,
    r#"
-- Who may take the account's raw token or credential: 'open', 'ask' or 'closed' (HandoutPolicy).
ALTER TABLE accounts ADD COLUMN handout TEXT NOT NULL DEFAULT 'open';
"#,
];

/// Applies the migrations the file has not had yet, under a write lock, so the app and the CLI
/// starting together migrate once. A file that has them all is not locked.
pub(super) fn migrate(db: &mut Db) -> Result<()> {
    let done: usize = db.pragma_query_value(None, "user_version", |r| r.get(0))?;
    if done >= MIGRATIONS.len() {
        return Ok(());
    }
    let tx = db.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let version: usize = tx.pragma_query_value(None, "user_version", |r| r.get(0))?;
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(version) {
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", i + 1)?;
    }
    tx.commit()?;
    Ok(())
}
