//! Account rows: creation, reads, the state machine's moves with their audit rows, the crash-safe
//! operation marks, deletion.

use rusqlite::{Connection as Db, OptionalExtension, Row, params};

use super::audit::{Audit, AuditAction, AuditOutcome, audit_ok, insert_audit};
use super::{Store, now};
use crate::error::{Error, Result};
use crate::model::{
    Account, AccountFilter, AccountId, AccountStatus, Actor, ConnectionId, HandoutPolicy, Identity,
};

/// A multi-step operation recorded on the account (its `pending_op` column) before its first step.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operation {
    /// Writing a credential to the keychain (connect, re-authorize, add, rotate).
    Store,
    Revoke,
    Delete,
}

impl Operation {
    fn as_str(self) -> &'static str {
        match self {
            Operation::Store => "store",
            Operation::Revoke => "revoke",
            Operation::Delete => "delete",
        }
    }
    fn parse(s: &str) -> Option<Operation> {
        [Operation::Store, Operation::Revoke, Operation::Delete].into_iter().find(|op| op.as_str() == s)
    }
}

impl Store {
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
            audit_ok(&tx, &id, connection, AuditAction::AccountCreated, actor, "status pending")?;
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
        audit_ok(&tx, &id, connection, AuditAction::AccountCreated, actor, "status pending")?;
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
            audit_ok(&tx, id, &before.connection, AuditAction::AccountReauthorized, actor, &reason)?;
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
        audit_ok(&tx, id, &before.connection, AuditAction::TokenRefreshed, actor, &detail)?;
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
                action: AuditAction::TokenRefreshFailed,
                actor,
                outcome: AuditOutcome::Transient,
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
            audit_ok(&tx, id, &before.connection, AuditAction::CredentialRotated, actor, reason)?;
            by_id(&tx, id)?
        } else {
            transition_in(&tx, id, AccountStatus::Active, actor, reason)?
        };
        tx.commit()?;
        Ok(account)
    }

    /// Marks the start of a multi-step operation, so a crash before it ends is reconciled at the
    /// next start. A `delete` also hides the account at once.
    pub fn begin_op(&mut self, id: &AccountId, op: Operation, owner: &str) -> Result<()> {
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

    /// Accounts with an operation in progress, with the instance running it (it may have died).
    pub fn in_progress(&self) -> Result<Vec<(Account, Operation, String)>> {
        let mut stmt = self.db.prepare(&format!("{SELECT_ACCOUNT} WHERE pending_op IS NOT NULL"))?;
        let rows = stmt.query_map([], |r| {
            let op: String = r.get("pending_op")?;
            let owner: Option<String> = r.get("op_owner")?;
            Ok((account_from_row(r)?, op, owner.unwrap_or_default()))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (account, op, owner) = row?;
            if let Some(op) = Operation::parse(&op) {
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
        audit_ok(&tx, id, &account.connection, AuditAction::AccountDeleted, actor, detail)?;
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
        audit_ok(&tx, id, &account.connection, AuditAction::AccountDeleted, actor, detail)?;
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
            // A name that is not a valid account name could not be addressed later: keep the
            // generated one.
            if crate::model::check_identifier(&candidate).ok() != Some(candidate.as_str()) {
                return Ok(());
            }
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

    /// Sets who may take the account's raw token or credential, audited with the change; a policy
    /// that is already set changes nothing and writes no row.
    pub fn set_handout_policy(
        &mut self,
        id: &AccountId,
        policy: HandoutPolicy,
        actor: &Actor,
    ) -> Result<Account> {
        let tx = self.write()?;
        let before = select_one(&tx, "id = ?1 AND coalesce(pending_op, '') != 'delete'", [id.as_str()])?
            .ok_or(Error::UnknownAccount)?;
        if before.handout == policy {
            return Ok(before);
        }
        tx.execute(
            "UPDATE accounts SET handout = ?2, updated_at = ?3 WHERE id = ?1",
            params![id.as_str(), policy.as_str(), now()],
        )?;
        let detail = format!("hand-out policy {} -> {}", before.handout.as_str(), policy.as_str());
        audit_ok(&tx, id, &before.connection, AuditAction::PolicyChanged, actor, &detail)?;
        let account = by_id(&tx, id)?;
        tx.commit()?;
        Ok(account)
    }

    /// Sets or clears the sentence shown for the account's last failure.
    pub fn set_last_error(&mut self, id: &AccountId, error: Option<&str>) -> Result<()> {
        self.db.execute(
            "UPDATE accounts SET last_error = ?2, updated_at = ?3 WHERE id = ?1",
            params![id.as_str(), error, now()],
        )?;
        Ok(())
    }
}

const SELECT_ACCOUNT: &str = "SELECT id, connection_id, identifier, status, identity_subject, identity_email,
    identity_name, requested_scopes, granted_scopes, expires_at, last_error, created_at, updated_at,
    reauth_needed, note, pending_op,
    (SELECT group_concat(label, char(31)) FROM (SELECT label FROM account_labels l WHERE l.account_id = accounts.id ORDER BY label)) AS labels,
    op_owner, token_issued_at, offline_reason, retry_at, failure_count, revocation_pending, token_version, handout
    FROM accounts";

/// A sign-in's unnamed Pending account with nothing under way (see `Store::delete_placeholder`).
const PLACEHOLDER: &str =
    "status = 'pending' AND auto_identifier = 1 AND pending_op IS NULL AND token_version = 0";

fn select_one<P: rusqlite::Params>(db: &Db, condition: &str, params: P) -> Result<Option<Account>> {
    Ok(db.query_row(&format!("{SELECT_ACCOUNT} WHERE {condition}"), params, account_from_row).optional()?)
}

/// The account with this id, deleted-in-progress ones included (for the steps of an operation).
pub(super) fn by_id(db: &Db, id: &AccountId) -> Result<Account> {
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
    audit_ok(tx, id, &account.connection, AuditAction::StateChanged, actor, &detail)?;
    by_id(tx, id)
}

fn account_from_row(r: &Row<'_>) -> rusqlite::Result<Account> {
    let split = |s: String| s.split_whitespace().map(str::to_owned).collect::<Vec<_>>();
    let text = |column: &str| r.get::<_, String>(column);
    let invalid = |column: &str, e: Error| match r.as_ref().column_index(column) {
        Ok(i) => rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Text, Box::new(e)),
        Err(lookup) => lookup,
    };
    let subject: Option<String> = r.get("identity_subject")?;
    let email: Option<String> = r.get("identity_email")?;
    let name: Option<String> = r.get("identity_name")?;
    let identity =
        (subject.is_some() || email.is_some() || name.is_some()).then_some(Identity { subject, email, name });
    let labels: Option<String> = r.get("labels")?;
    Ok(Account {
        id: AccountId::parse(&text("id")?).map_err(|e| invalid("id", e))?,
        connection: ConnectionId::new(&text("connection_id")?).map_err(|e| invalid("connection_id", e))?,
        identifier: text("identifier")?,
        status: text("status")?.parse().map_err(|e| invalid("status", e))?,
        identity,
        requested_scopes: split(text("requested_scopes")?),
        granted_scopes: split(text("granted_scopes")?),
        expires_at: r.get("expires_at")?,
        last_error: r.get("last_error")?,
        created_at: r.get("created_at")?,
        updated_at: r.get("updated_at")?,
        reauth_needed: r.get("reauth_needed")?,
        note: r.get("note")?,
        labels: labels.map(|l| l.split('\u{1f}').map(str::to_owned).collect()).unwrap_or_default(),
        token_issued_at: r.get("token_issued_at")?,
        offline: r.get("offline_reason")?,
        retry_at: r.get("retry_at")?,
        failure_count: r.get("failure_count")?,
        revocation_pending: r.get("revocation_pending")?,
        token_version: r.get("token_version")?,
        handout: text("handout")?.parse().map_err(|e: String| invalid("handout", Error::Storage(e)))?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every column read back into its own field, whatever the order the query lists them in.
    #[test]
    fn account_rows_are_read_by_column_name() {
        let mut store = Store::open_in_memory().expect("open");
        let conn = ConnectionId::new("demo").expect("valid");
        let (a, _) =
            store.get_or_create_account(&conn, "x", &["openid".into()], false, &Actor::User).expect("create");
        let identity =
            Identity { subject: Some("s".into()), email: Some("e@x".into()), name: Some("N".into()) };
        let granted = ["openid".to_owned(), "email".to_owned()];
        store
            .record_authorized(&a.id, &identity, &["openid".into()], &granted, Some(5), &Actor::User)
            .expect("auth");
        store.set_labels(&a.id, &["l1".into(), "l2".into()], &Actor::User).expect("labels");
        store.set_note(&a.id, Some("note"), &Actor::User).expect("note");
        store.record_transient_failure(&a.id, "offline", 77, &Actor::System).expect("offline");
        store.set_revocation_pending(&a.id, true).expect("flag");
        let expected = store.account(&a.id).expect("read");

        let mut columns: Vec<&str> = vec![
            "id",
            "connection_id",
            "identifier",
            "status",
            "identity_subject",
            "identity_email",
            "identity_name",
            "requested_scopes",
            "granted_scopes",
            "expires_at",
            "last_error",
            "created_at",
            "updated_at",
            "reauth_needed",
            "note",
            "pending_op",
            "labels",
            "op_owner",
            "token_issued_at",
            "offline_reason",
            "retry_at",
            "failure_count",
            "revocation_pending",
            "token_version",
            "handout",
        ];
        columns.reverse();
        let reordered = format!("SELECT {} FROM ({SELECT_ACCOUNT} WHERE id = ?1)", columns.join(", "));
        let read = store.db.query_row(&reordered, [a.id.as_str()], account_from_row).expect("reordered");
        assert_eq!(read, expected);
        assert_eq!(read.identity, Some(identity));
        assert_eq!(
            (read.offline.as_deref(), read.retry_at, read.failure_count),
            (Some("offline"), Some(77), 1)
        );
        assert!(read.revocation_pending);
    }
}
