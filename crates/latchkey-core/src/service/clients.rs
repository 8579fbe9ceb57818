//! A connection's client and configuration: the user's own client id (in `connections.toml`) and
//! client secret (in the keychain, with only a "set" flag in SQLite so listing never touches the
//! keychain), and the changes the app and the CLI make to `connections.toml`.
//!
//! Changes rewrite the file with `toml_edit` (comments and order kept), under an exclusive lock
//! on `connections.toml.lock`, validated by the same parser that reads it, and replaced atomically
//! (write + rename). Every change is audited, without the secret.

use std::path::Path;

use toml_edit::{DocumentMut, Item, Table, value};

use super::Latchkey;
use crate::config::{Connection, ConnectionType, parse_connections};
use crate::error::{Error, Result};
use crate::model::{Actor, ConnectionId};
use crate::protocol::{RedirectStrategy, SecretNeed};
use crate::secret::Secret;
use crate::store::{AuditAction, AuditOutcome};

/// A change to a connection's configuration; `None` leaves a field as it is.
#[derive(Debug, Default)]
pub struct ConnectionChange {
    /// `Some(None)` clears it.
    pub client_id: Option<Option<String>>,
    /// `Some(None)` deletes it from the keychain.
    pub client_secret: Option<Option<Secret>>,
    pub scopes: Option<Vec<String>>,
    pub enabled: Option<bool>,
}

/// A custom connection to add.
#[derive(Debug, Default)]
pub struct NewConnection {
    pub id: String,
    pub name: Option<String>,
    pub kind: ConnectionType,
    pub issuer: Option<String>,
    pub authorize_url: Option<String>,
    pub token_url: Option<String>,
    pub revocation_url: Option<String>,
    pub userinfo_url: Option<String>,
    /// RFC 8628's endpoint, for a connection without an issuer whose discovery names it.
    pub device_authorization_url: Option<String>,
    pub client_id: Option<String>,
    pub client_secret: Option<Secret>,
    pub scopes: Option<Vec<String>>,
    pub redirect: Option<RedirectStrategy>,
    /// Where the connection's API lives (`Latchkey::call_api`).
    pub api_base: Option<String>,
}

impl Latchkey {
    /// The client secret to send, if the provider takes one: the user's (keychain), else one a
    /// distributor baked in. An error when the provider requires one and there is none.
    pub(super) async fn client_secret(&self, conn: &Connection) -> Result<Option<Secret>> {
        let Some(oauth) = conn.oauth() else { return Ok(None) };
        if oauth.protocol.client_secret == SecretNeed::None {
            return Ok(None);
        }
        if self.store().client_secret_set(&conn.id)?
            && let Some(secret) = self.vault.client_secret(&conn.id).await?
        {
            return Ok(Some(secret));
        }
        match conn.entry().and_then(|e| e.default_client_secret.as_ref()) {
            Some(baked) => Ok(Some(Secret::new(baked.expose()))),
            None if oauth.protocol.client_secret == SecretNeed::Required => Err(Error::ConnectionNotReady(
                conn.name.clone(),
                "its client secret is missing. Set it in Settings → Connections.".into(),
            )),
            None => Ok(None),
        }
    }

    /// Whether a secret the provider requires is there (from local metadata: no keychain access).
    pub(super) fn has_client_secret(&self, conn: &Connection) -> Result<bool> {
        match conn.oauth() {
            Some(o) if o.protocol.client_secret == SecretNeed::Required => {
                Ok(self.store().client_secret_set(&conn.id)?
                    || conn.entry().is_some_and(|e| e.default_client_secret.is_some()))
            }
            _ => Ok(true),
        }
    }

    /// Whether the user stored a client secret for the connection (from local metadata).
    pub fn client_secret_stored(&self, conn: &Connection) -> Result<bool> {
        self.store().client_secret_set(&conn.id)
    }

    /// Why a Pending connection cannot sign in yet, with what to do.
    pub(super) fn missing_client(&self, conn: &Connection) -> String {
        let setup = conn
            .entry()
            .and_then(|e| e.client_setup_url.as_ref())
            .map(|u| format!(" Create one at {u}, then"))
            .unwrap_or_else(|| " Then".into());
        let what = if conn.oauth().is_some_and(|o| o.client_id.is_none()) {
            "it needs your own client id"
        } else {
            "it needs its client secret"
        };
        format!(
            "{what}.{setup} set it in Settings → Connections (or `latchkey connections set {}`).",
            conn.id
        )
    }

    /// The provider's page where the user removes Latchkey's access by hand.
    pub fn connected_apps_url(&self, conn: &Connection) -> Option<String> {
        conn.entry()?.connected_apps_url(conn.oauth().and_then(|o| o.client_id.as_deref()))
    }

    /// Changes a connection's client, scopes or enabled state. A catalog entry the file does not
    /// mention yet gets its own `[[connection]]` table. Changed scopes mark the connection's
    /// accounts for re-authorization.
    pub async fn configure_connection(
        &self,
        id: &str,
        change: ConnectionChange,
        actor: &Actor,
    ) -> Result<Connection> {
        let _working = self.working();
        let conn = self.connection(id)?;
        let mut said = Vec::new();
        let edits_file = change.client_id.is_some() || change.scopes.is_some() || change.enabled.is_some();
        if conn.oauth().is_none()
            && (change.client_id.is_some() || change.client_secret.is_some() || change.scopes.is_some())
        {
            return Err(Error::WrongConnectionType {
                connection: conn.name.clone(),
                kind: "an API-key or basic-auth",
                what: "it has no client id, client secret or scopes.",
            });
        }
        // The keychain first: when it is locked, nothing is changed at all.
        if let Some(secret) = &change.client_secret {
            match secret {
                Some(s) if !s.expose().trim().is_empty() => {
                    self.vault.set_client_secret(&conn.id, &Secret::new(s.expose().trim())).await?;
                    self.store().set_client_secret_flag(&conn.id, true)?;
                    said.push("client secret stored in the keychain".to_owned());
                }
                _ => {
                    self.vault.delete_client_secret(&conn.id).await?;
                    self.store().set_client_secret_flag(&conn.id, false)?;
                    said.push("client secret deleted".to_owned());
                }
            }
        }
        if edits_file {
            let edited = self.edit_file(|doc| {
                let table = find_or_add(doc, id)?;
                if let Some(client_id) = &change.client_id {
                    match client_id.as_deref().map(str::trim).filter(|c| !c.is_empty()) {
                        Some(c) => {
                            table["client_id"] = value(c);
                            said.push("client id set".to_owned());
                        }
                        None => {
                            table.remove("client_id");
                            said.push("client id cleared".to_owned());
                        }
                    }
                }
                if let Some(scopes) = &change.scopes {
                    let mut array = toml_edit::Array::new();
                    scopes.iter().for_each(|s| array.push(s.as_str()));
                    table["scopes"] = value(array);
                    said.push(format!("scopes: {}", scopes.join(" ")));
                }
                if let Some(enabled) = change.enabled {
                    table["enabled"] = value(enabled);
                    said.push(if enabled { "enabled".to_owned() } else { "disabled".to_owned() });
                }
                Ok(())
            });
            if let Err(e) = edited {
                if change.client_secret.is_some() {
                    let done = said.first().cloned().unwrap_or_default();
                    let _ = self.audit_connection(&conn.id, AuditAction::ConnectionConfigured, actor, &done);
                }
                return Err(e);
            }
        }
        self.reload_connections()?;
        self.audit_connection(&conn.id, AuditAction::ConnectionConfigured, actor, &said.join("; "))?;
        self.announce(super::Change::Connections);
        self.connection(id)
    }

    /// Adds a custom connection to `connections.toml`.
    pub async fn add_connection(&self, new: NewConnection, actor: &Actor) -> Result<Connection> {
        let _working = self.working();
        let id = ConnectionId::new(&new.id)?;
        if self.connection(id.as_str()).is_ok() || crate::catalog::entry(id.as_str()).is_some() {
            return Err(Error::InvalidInput(format!("There already is a connection named “{id}”.")));
        }
        // The secret first, so a locked keychain leaves no connection behind; undone if the file
        // cannot be written.
        if let Some(secret) = &new.client_secret {
            self.vault.set_client_secret(&id, secret).await?;
            self.store().set_client_secret_flag(&id, true)?;
        }
        let written = self.edit_file(|doc| {
            let table = find_or_add(doc, id.as_str())?;
            let text = |k: &str, v: &Option<String>| v.as_deref().map(|v| (k.to_owned(), v.to_owned()));
            let fields = [
                text("name", &new.name),
                Some(("type".to_owned(), new.kind.as_str().to_owned())),
                text("issuer", &new.issuer),
                text("authorize_url", &new.authorize_url),
                text("token_url", &new.token_url),
                text("revocation_url", &new.revocation_url),
                text("userinfo_url", &new.userinfo_url),
                text("device_authorization_url", &new.device_authorization_url),
                text("client_id", &new.client_id),
                text("redirect", &new.redirect.map(|r| r.as_str().to_owned())),
                text("api_base", &new.api_base),
            ];
            for (k, v) in fields.into_iter().flatten() {
                table[k.as_str()] = value(v);
            }
            if let Some(scopes) = &new.scopes {
                let mut array = toml_edit::Array::new();
                scopes.iter().for_each(|s| array.push(s.as_str()));
                table["scopes"] = value(array);
            }
            Ok(())
        });
        if let Err(e) = written {
            if new.client_secret.is_some() {
                let _ = self.vault.delete_client_secret(&id).await;
                let _ = self.store().set_client_secret_flag(&id, false);
            }
            return Err(e);
        }
        self.reload_connections()?;
        self.audit_connection(&id, AuditAction::ConnectionAdded, actor, new.kind.as_str())?;
        self.connection(id.as_str())
    }

    /// Removes a custom connection that has no accounts (and its client secret).
    pub async fn remove_connection(&self, id: &str, actor: &Actor) -> Result<()> {
        let _working = self.working();
        let conn = self.connection(id)?;
        if conn.catalog.is_some() && conn.entry().is_some_and(|e| e.id == conn.id.as_str()) {
            return Err(Error::InvalidInput(format!(
                "{} is built into Latchkey and cannot be removed; disable it instead.",
                conn.name
            )));
        }
        let accounts = self.store().accounts(&crate::model::AccountFilter {
            connection: Some(conn.id.clone()),
            ..Default::default()
        })?;
        if !accounts.is_empty() {
            return Err(Error::InvalidInput(format!(
                "{} still has {} account(s): revoke or delete them first.",
                conn.name,
                accounts.len()
            )));
        }
        // The secret first: a locked keychain then leaves the connection as it was, rather than
        // gone from the file with its secret left behind in the keychain.
        self.vault.delete_client_secret(&conn.id).await?;
        self.store().set_client_secret_flag(&conn.id, false)?;
        self.edit_file(|doc| {
            if let Some(tables) = doc.get_mut("connection").and_then(Item::as_array_of_tables_mut) {
                tables.retain(|t| t.get("id").and_then(Item::as_str) != Some(id));
            }
            Ok(())
        })?;
        self.reload_connections()?;
        self.audit_connection(&conn.id, AuditAction::ConnectionRemoved, actor, "")
    }

    /// Reads `connections.toml` again (another process may have changed it). Returns whether the
    /// connections changed; changed scopes mark accounts for re-authorization as at start-up.
    pub fn reload_connections(&self) -> Result<bool> {
        let Some(path) = &self.connections_file else { return Ok(false) };
        let fresh = crate::config::load_connections(path)?;
        let changed = *self.connections() != fresh;
        if changed {
            *self.connections.write().unwrap_or_else(|p| p.into_inner()) = std::sync::Arc::new(fresh);
            self.lock_metadata().clear();
            self.sync_scopes()?;
            self.announce(super::Change::Connections);
        }
        Ok(changed)
    }

    fn edit_file(&self, edit: impl FnOnce(&mut DocumentMut) -> Result<()>) -> Result<()> {
        let path = self.connections_file.as_deref().ok_or_else(|| {
            Error::InvalidInput("This Latchkey was started without a connections file to change.".into())
        })?;
        let io = |e: std::io::Error| Error::Storage(format!("cannot write {}: {e}", path.display()));
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty() && !d.exists()) {
            crate::paths::private_dir(dir).map_err(io)?;
        }
        let lock = crate::paths::private_file()
            .create(true)
            .truncate(false)
            .write(true)
            .open(path.with_extension("toml.lock"))
            .map_err(io)?;
        lock.lock().map_err(io)?;
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(e) => return Err(io(e)),
        };
        let mut doc: DocumentMut =
            text.parse().map_err(|e| Error::InvalidInput(format!("connections.toml is not valid: {e}")))?;
        edit(&mut doc)?;
        let out = doc.to_string();
        parse_connections(&out)?;
        write_atomically(path, &out).map_err(io)
    }

    fn audit_connection(
        &self,
        conn: &ConnectionId,
        action: AuditAction,
        actor: &Actor,
        detail: &str,
    ) -> Result<()> {
        self.store().audit(&crate::store::Audit {
            account: None,
            connection: Some(conn),
            action,
            actor,
            outcome: AuditOutcome::Ok,
            detail,
        })
    }
}

/// The `[[connection]]` table with this id, appended if there is none.
fn find_or_add<'d>(doc: &'d mut DocumentMut, id: &str) -> Result<&'d mut Table> {
    if !doc.contains_key("connection") {
        doc["connection"] = Item::ArrayOfTables(toml_edit::ArrayOfTables::new());
    }
    let tables = doc["connection"].as_array_of_tables_mut().ok_or_else(|| {
        Error::InvalidInput(
            "connections.toml is not valid: `connection` must be [[connection]] tables.".into(),
        )
    })?;
    let found = tables.iter().position(|t| t.get("id").and_then(Item::as_str) == Some(id));
    let at = match found {
        Some(i) => i,
        None => {
            let mut t = Table::new();
            t["id"] = value(id);
            tables.push(t);
            tables.len() - 1
        }
    };
    tables.get_mut(at).ok_or_else(|| Error::Storage("connections.toml changed while it was edited".into()))
}

fn write_atomically(path: &Path, text: &str) -> std::io::Result<()> {
    let tmp = path.with_extension("toml.tmp");
    let mut file = crate::paths::private_file().create(true).write(true).truncate(true).open(&tmp)?;
    crate::paths::restrict(&tmp)?;
    std::io::Write::write_all(&mut file, text.as_bytes())?;
    drop(file);
    std::fs::rename(&tmp, path)
}
