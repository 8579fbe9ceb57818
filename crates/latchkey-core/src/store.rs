//! Non-secret metadata and the audit trail, in SQLite under the app-data folder.
//!
//! Nothing here can hold a token: the functions take domain values whose fields are strings the
//! provider and the user chose (identifiers, scopes, identity), never a [`crate::secret::Secret`].

use std::path::Path;

use rusqlite::{Connection as Db, OptionalExtension, Row, params};

use crate::error::{Error, Result};
use crate::model::{Account, AccountId, AccountStatus, Actor, ConnectionId, Identity};

const MIGRATIONS: &[&str] = &[r#"
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
"#];

/// One row of the audit trail.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditEntry {
    pub at: i64,
    pub account_id: Option<String>,
    pub connection_id: Option<String>,
    pub action: String,
    pub actor: String,
    pub detail: String,
}

pub struct Store {
    db: Db,
}

pub(crate) fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

impl Store {
    /// Opens (creating if needed) `latchkey.sqlite3` in `dir`.
    pub fn open_in(dir: &Path) -> Result<Store> {
        std::fs::create_dir_all(dir)
            .map_err(|e| Error::Storage(format!("cannot create {}: {e}", dir.display())))?;
        Store::init(Db::open(dir.join("latchkey.sqlite3"))?)
    }

    pub fn open_in_memory() -> Result<Store> {
        Store::init(Db::open_in_memory()?)
    }

    fn init(mut db: Db) -> Result<Store> {
        db.busy_timeout(std::time::Duration::from_secs(5))?;
        db.pragma_update(None, "journal_mode", "WAL")?;
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

    /// The account keyed by (connection, identifier), created in Pending if it does not exist.
    /// Idempotent: `INSERT … ON CONFLICT DO NOTHING` then a read, so two callers (or two
    /// processes) racing on the same pair get the same account.
    pub fn get_or_create_account(
        &mut self,
        connection: &ConnectionId,
        identifier: &str,
        requested_scopes: &[String],
        auto_identifier: bool,
    ) -> Result<(Account, bool)> {
        let t = now();
        let tx = self.db.transaction()?;
        let id = AccountId::random();
        let created = tx.execute(
            "INSERT INTO accounts (id, connection_id, identifier, auto_identifier, status, requested_scopes, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, 'pending', ?5, ?6, ?6) ON CONFLICT (connection_id, identifier) DO NOTHING",
            params![id.as_str(), connection.as_str(), identifier, auto_identifier, requested_scopes.join(" "), t],
        )? == 1;
        if created {
            insert_audit(
                &tx,
                Some(&id),
                Some(connection),
                "account.created",
                Actor::User,
                "status pending",
            )?;
        }
        let account = tx.query_row(
            &format!("{SELECT_ACCOUNT} WHERE connection_id = ?1 AND identifier = ?2"),
            params![connection.as_str(), identifier],
            account_from_row,
        )?;
        tx.commit()?;
        Ok((account, created))
    }

    pub fn account(&self, id: &AccountId) -> Result<Account> {
        self.db
            .query_row(
                &format!("{SELECT_ACCOUNT} WHERE id = ?1"),
                [id.as_str()],
                account_from_row,
            )
            .optional()?
            .ok_or(Error::UnknownAccount)
    }

    pub fn accounts(&self) -> Result<Vec<Account>> {
        let mut stmt = self.db.prepare_cached(&format!(
            "{SELECT_ACCOUNT} ORDER BY connection_id, identifier"
        ))?;
        let rows = stmt.query_map([], account_from_row)?;
        rows.collect::<Result<_, _>>().map_err(Error::from)
    }

    /// Moves an account to `to` if the state machine allows it, with its audit row, atomically.
    pub fn transition(
        &mut self,
        id: &AccountId,
        to: AccountStatus,
        actor: Actor,
        reason: &str,
    ) -> Result<Account> {
        let tx = self.db.transaction()?;
        let account = tx
            .query_row(
                &format!("{SELECT_ACCOUNT} WHERE id = ?1"),
                [id.as_str()],
                account_from_row,
            )
            .optional()?
            .ok_or(Error::UnknownAccount)?;
        account.status.check_transition(to)?;
        tx.execute(
            "UPDATE accounts SET status = ?2, updated_at = ?3 WHERE id = ?1",
            params![id.as_str(), to.as_str(), now()],
        )?;
        let detail = format!("{} -> {}: {reason}", account.status.as_str(), to.as_str());
        insert_audit(
            &tx,
            Some(id),
            Some(&account.connection),
            "state.changed",
            actor,
            &detail,
        )?;
        let account = tx.query_row(
            &format!("{SELECT_ACCOUNT} WHERE id = ?1"),
            [id.as_str()],
            account_from_row,
        )?;
        tx.commit()?;
        Ok(account)
    }

    /// Records the outcome of an authorization: identity, granted scopes, expiry; and moves the
    /// account to Active (a re-authorization of an Active account keeps it Active).
    pub fn record_authorized(
        &mut self,
        id: &AccountId,
        identity: &Identity,
        granted_scopes: &[String],
        expires_at: Option<i64>,
    ) -> Result<Account> {
        let tx = self.db.transaction()?;
        let before = tx
            .query_row(
                &format!("{SELECT_ACCOUNT} WHERE id = ?1"),
                [id.as_str()],
                account_from_row,
            )
            .optional()?
            .ok_or(Error::UnknownAccount)?;
        if before.status != AccountStatus::Active {
            before.status.check_transition(AccountStatus::Active)?;
        }
        tx.execute(
            "UPDATE accounts SET status = 'active', identity_subject = ?2, identity_email = ?3, identity_name = ?4,
                 granted_scopes = ?5, expires_at = ?6, last_error = NULL, updated_at = ?7 WHERE id = ?1",
            params![
                id.as_str(),
                identity.subject,
                identity.email,
                identity.name,
                granted_scopes.join(" "),
                expires_at,
                now()
            ],
        )?;
        let detail = format!(
            "{} -> active: authorized; granted scopes: {}",
            before.status.as_str(),
            granted_scopes.join(" ")
        );
        insert_audit(
            &tx,
            Some(id),
            Some(&before.connection),
            "state.changed",
            Actor::User,
            &detail,
        )?;
        let account = tx.query_row(
            &format!("{SELECT_ACCOUNT} WHERE id = ?1"),
            [id.as_str()],
            account_from_row,
        )?;
        tx.commit()?;
        Ok(account)
    }

    /// Gives an account that was created without a name the name the provider knows it by (its
    /// email), or that name with a number when the connection already has an account of that name.
    pub fn name_after_identity(&mut self, id: &AccountId, name: &str) -> Result<()> {
        for n in 1..10 {
            let candidate = if n == 1 {
                name.to_owned()
            } else {
                format!("{name} ({n})")
            };
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

    pub fn audit(
        &mut self,
        account: Option<&AccountId>,
        connection: Option<&ConnectionId>,
        action: &str,
        actor: Actor,
        detail: &str,
    ) -> Result<()> {
        insert_audit(&self.db, account, connection, action, actor, detail)
    }

    /// The audit trail, oldest first; for one account when `account` is given.
    pub fn audit_entries(&self, account: Option<&AccountId>) -> Result<Vec<AuditEntry>> {
        let mut stmt = self.db.prepare_cached(
            "SELECT at, account_id, connection_id, action, actor, detail FROM audit
             WHERE ?1 IS NULL OR account_id = ?1 ORDER BY id",
        )?;
        let rows = stmt.query_map([account.map(AccountId::as_str)], |r| {
            Ok(AuditEntry {
                at: r.get(0)?,
                account_id: r.get(1)?,
                connection_id: r.get(2)?,
                action: r.get(3)?,
                actor: r.get(4)?,
                detail: r.get(5)?,
            })
        })?;
        rows.collect::<Result<_, _>>().map_err(Error::from)
    }
}

const SELECT_ACCOUNT: &str = "SELECT id, connection_id, identifier, status, identity_subject, identity_email,
    identity_name, requested_scopes, granted_scopes, expires_at, last_error, created_at, updated_at FROM accounts";

fn account_from_row(r: &Row<'_>) -> rusqlite::Result<Account> {
    let split = |s: String| s.split_whitespace().map(str::to_owned).collect::<Vec<_>>();
    let text = |i: usize| r.get::<_, String>(i);
    let invalid = |i: usize, e: Error| {
        rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Text, Box::new(e))
    };
    let subject: Option<String> = r.get(4)?;
    let email: Option<String> = r.get(5)?;
    let name: Option<String> = r.get(6)?;
    let identity = (subject.is_some() || email.is_some() || name.is_some()).then_some(Identity {
        subject,
        email,
        name,
    });
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
    })
}

fn insert_audit(
    db: &Db,
    account: Option<&AccountId>,
    connection: Option<&ConnectionId>,
    action: &str,
    actor: Actor,
    detail: &str,
) -> Result<()> {
    db.execute(
        "INSERT INTO audit (at, account_id, connection_id, action, actor, detail) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![now(), account.map(AccountId::as_str), connection.map(ConnectionId::as_str), action, actor.as_str(), detail],
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conn() -> ConnectionId {
        ConnectionId::new("demo").expect("valid")
    }

    #[test]
    fn get_or_create_is_idempotent_and_audited() {
        let mut store = Store::open_in_memory().expect("open");
        let scopes = vec!["openid".to_owned(), "email".to_owned()];
        let (a, created_a) = store
            .get_or_create_account(&conn(), "work", &scopes, false)
            .expect("create");
        let (b, created_b) = store
            .get_or_create_account(&conn(), "work", &scopes, false)
            .expect("again");
        assert!(created_a && !created_b);
        assert_eq!(a.id, b.id);
        assert_eq!(a.status, AccountStatus::Pending);
        assert_eq!(a.requested_scopes, scopes);
        assert_eq!(store.accounts().expect("list").len(), 1);
        let audit = store.audit_entries(Some(&a.id)).expect("audit");
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
                        .get_or_create_account(&conn(), "same", &[], false)
                        .expect("create")
                        .0
                        .id
                })
            })
            .collect();
        let ids: Vec<_> = handles
            .into_iter()
            .map(|h| h.join().expect("thread"))
            .collect();
        assert!(ids.windows(2).all(|w| w[0] == w[1]), "{ids:?}");
        assert_eq!(
            Store::open_in(dir.path())
                .expect("open")
                .accounts()
                .expect("list")
                .len(),
            1
        );
    }

    #[test]
    fn transitions_follow_the_state_machine_and_are_audited() {
        let mut store = Store::open_in_memory().expect("open");
        let (a, _) = store
            .get_or_create_account(&conn(), "x", &[], false)
            .expect("create");
        let err = store
            .transition(&a.id, AccountStatus::Revoked, Actor::User, "test")
            .expect_err("refused");
        assert!(matches!(err, Error::InvalidTransition { .. }));
        assert_eq!(
            store.account(&a.id).expect("get").status,
            AccountStatus::Pending
        );

        let active = store
            .record_authorized(
                &a.id,
                &Identity {
                    email: Some("a@b".into()),
                    ..Default::default()
                },
                &["openid".into()],
                Some(5),
            )
            .expect("authorized");
        assert_eq!(active.status, AccountStatus::Active);
        assert_eq!(active.granted_scopes, vec!["openid".to_owned()]);
        assert_eq!(
            active.identity.and_then(|i| i.email).as_deref(),
            Some("a@b")
        );
        let revoked = store
            .transition(&a.id, AccountStatus::Revoked, Actor::User, "revoked")
            .expect("revoke");
        assert_eq!(revoked.status, AccountStatus::Revoked);
        let actions: Vec<_> = store
            .audit_entries(Some(&a.id))
            .expect("audit")
            .into_iter()
            .map(|e| e.detail)
            .collect();
        assert_eq!(actions.len(), 3, "{actions:?}");
        assert!(actions[1].starts_with("pending -> active"));
        assert!(actions[2].starts_with("active -> revoked"));
    }

    #[test]
    fn unnamed_accounts_take_the_identity_name_without_clashing() {
        let mut store = Store::open_in_memory().expect("open");
        let (named, _) = store
            .get_or_create_account(&conn(), "a@b", &[], false)
            .expect("create");
        let (auto, _) = store
            .get_or_create_account(&conn(), "new-1", &[], true)
            .expect("create");
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
    fn unknown_account_is_a_typed_error() {
        let mut store = Store::open_in_memory().expect("open");
        let id = AccountId::random();
        assert!(matches!(store.account(&id), Err(Error::UnknownAccount)));
        assert!(matches!(
            store.transition(&id, AccountStatus::Active, Actor::User, ""),
            Err(Error::UnknownAccount)
        ));
    }
}
