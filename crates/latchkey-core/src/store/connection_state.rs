//! What the store remembers of a connection: the scopes last seen, the provider's verdict on its
//! client, whether a client secret is in the keychain.

use rusqlite::types::FromSql;
use rusqlite::{Connection as Db, OptionalExtension, params};

use super::audit::{Audit, AuditAction, AuditOutcome, insert_audit};
use super::{Store, now};
use crate::error::Result;
use crate::model::{Actor, ConnectionId};

impl Store {
    /// Compares a connection's configured scopes with the ones last seen. When they changed, its
    /// accounts that were authorized for the old ones are marked "re-authorization needed".
    /// Returns how many accounts were marked.
    pub fn sync_connection_scopes(&mut self, connection: &ConnectionId, scopes: &[String]) -> Result<usize> {
        let now_scopes = scopes.join(" ");
        // The usual case, unchanged scopes, needs no write lock.
        let seen: Option<String> = column(&self.db, "scopes", connection)?;
        if seen.as_deref() == Some(now_scopes.as_str()) {
            return Ok(0);
        }
        let tx = self.write()?;
        let before: Option<String> = column(&tx, "scopes", connection)?;
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
                        action: AuditAction::ConfigScopesChanged,
                        actor: &Actor::System,
                        outcome: AuditOutcome::Ok,
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
        Ok(column::<Option<String>>(&self.db, "error", connection)?.flatten())
    }

    /// Whether the user stored a client secret for the connection in the keychain.
    pub fn client_secret_set(&self, connection: &ConnectionId) -> Result<bool> {
        Ok(column(&self.db, "client_secret_set", connection)?.unwrap_or(false))
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
        let before: Option<String> = column::<Option<String>>(&tx, "error", connection)?.flatten();
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
                    action: if error.is_some() {
                        AuditAction::ConnectionError
                    } else {
                        AuditAction::ConnectionRecovered
                    },
                    actor,
                    outcome: if error.is_some() { AuditOutcome::Failed } else { AuditOutcome::Ok },
                    detail: error.unwrap_or("the provider accepts the client again"),
                },
            )?;
        }
        tx.commit()?;
        Ok(())
    }
}

/// One column of the connection's row; `None` when the store has no row for it yet.
fn column<T: FromSql>(db: &Db, name: &str, connection: &ConnectionId) -> Result<Option<T>> {
    let sql = format!("SELECT {name} FROM connection_state WHERE connection_id = ?1");
    Ok(db.query_row(&sql, [connection.as_str()], |r| r.get(0)).optional()?)
}
