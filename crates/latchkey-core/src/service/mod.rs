//! `Latchkey`: the one API the app and the CLI call. It owns the configured connections, the
//! metadata store, the vault, the HTTP client and the table of pending sign-ins, and it is the only
//! code that moves an account between states.
//!
//! The five operations of the connected-accounts guide are, by name:
//! [`Latchkey::get_or_create_connected_account`], [`Latchkey::get_authorization_link`],
//! [`Latchkey::get_connected_account`], [`Latchkey::list_connected_accounts`] and
//! [`Latchkey::delete_connected_account`].
//!
//! Multi-step operations (connect, add or rotate a credential, revoke, delete) write in an order that
//! makes a crash harmless, and mark the account first so the next start can finish or undo them
//! (`reconcile.rs`).

mod api;
mod authorize;
pub(crate) mod changes;
mod clients;
mod credentials;
mod device;
mod lifecycle;
mod policy;
mod reconcile;
mod refresher;
mod revoke;
mod tokens;
mod view;
mod watch;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use crate::config::{Connection, Endpoints, ProviderMetadata};
use crate::error::{Error, Result};
use crate::http::Http;
use crate::model::{
    Account, AccountFilter, AccountId, Actor, ConnectionId, ConnectionStatus, check_identifier, check_label,
};
use crate::oauth::discovery;
use crate::oauth::pending::SignIns;
use crate::process_lock::Instance;
use crate::store::{AuditAction, AuditEntry, AuditOutcome, AuditQuery, Operation, Store};
use crate::vault::{SecretStore, Vault};

pub use authorize::{AuthorizationLink, CallbackError, LoopbackWait};
pub use changes::Change;
use changes::Changes;
pub use clients::{ConnectionChange, NewConnection};
pub use device::DeviceSignIn;
pub use lifecycle::{Background, open_standard};
pub use refresher::run_refresher;
pub use revoke::RevokeOutcome;
pub use tokens::AccessToken;
pub use view::{ConnectionView, ScopeChoice};
pub use watch::watch_outside_changes;

/// What the core needs to start.
pub struct Options {
    /// Where `latchkey.sqlite3` lives (the OS app-data folder, or a test's temporary folder).
    pub data_dir: PathBuf,
    pub connections: Vec<Connection>,
    /// The `connections.toml` the connections came from, which configuration changes rewrite
    /// (`None` in tests that give the connections directly: they cannot be changed then).
    pub connections_file: Option<PathBuf>,
    pub secrets: Arc<dyn SecretStore>,
    /// The app's private-use URI scheme (its reverse-domain identifier, RFC 8252 §7.1).
    pub redirect_scheme: String,
    pub http: Http,
    pub hooks: Hooks,
}

impl Options {
    /// What every Latchkey program opens: the data folder, the connections file and the keychain
    /// namespace given (see `paths` for the defaults), the platform's keychain, the app's URL scheme.
    pub fn standard(
        data_dir: PathBuf,
        connections_file: PathBuf,
        keychain_service: String,
    ) -> Result<Options> {
        Ok(Options {
            data_dir,
            connections: crate::config::load_connections(&connections_file)?,
            connections_file: Some(connections_file),
            secrets: crate::vault::system_store(keychain_service),
            redirect_scheme: crate::paths::IDENTIFIER.into(),
            http: Http::new()?,
            hooks: Hooks::default(),
        })
    }
}

/// Observation points for tests. Empty in the app and the CLI.
#[derive(Clone, Default)]
pub struct Hooks {
    /// Called between the steps of multi-step operations with the step's name (for example
    /// `"store.after_vault"`); the crash tests block there and SIGKILL the process.
    pub checkpoint: Option<Arc<dyn Fn(&'static str) + Send + Sync>>,
}

pub struct Latchkey {
    /// Replaced whole when the configuration changes (here or in another process).
    connections: RwLock<Arc<Vec<Connection>>>,
    connections_file: Option<PathBuf>,
    store: Mutex<Store>,
    vault: Vault,
    http: Http,
    redirect_scheme: String,
    metadata: Mutex<HashMap<ConnectionId, ProviderMetadata>>,
    sign_ins: SignIns,
    instance: Instance,
    data_dir: PathBuf,
    hooks: Hooks,
    /// One async mutex per account, for refreshes within this process (see tokens.rs).
    locks: Mutex<HashMap<AccountId, Arc<tokio::sync::Mutex<()>>>>,
    /// Operations under way that talk to a provider or write the keychain (see [`Latchkey::is_idle`]).
    working: AtomicUsize,
    /// Where [`Latchkey::subscribe`]rs hear of changes.
    changes: Changes,
}

/// Counts an operation as under way for as long as it is held.
pub(crate) struct Working<'a>(&'a AtomicUsize);

impl Drop for Working<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// The locked store; announces [`Change::Accounts`] on drop if rows were written meanwhile.
struct StoreGuard<'a> {
    store: std::sync::MutexGuard<'a, Store>,
    writes: u64,
    changes: &'a Changes,
}

impl std::ops::Deref for StoreGuard<'_> {
    type Target = Store;
    fn deref(&self) -> &Store {
        &self.store
    }
}

impl std::ops::DerefMut for StoreGuard<'_> {
    fn deref_mut(&mut self) -> &mut Store {
        &mut self.store
    }
}

impl Drop for StoreGuard<'_> {
    fn drop(&mut self) {
        if self.store.writes() != self.writes {
            self.changes.announce(Change::Accounts);
        }
    }
}

/// What start-up found and repaired.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct StartReport {
    /// Accounts marked "re-authorization needed" because their connection's scopes changed.
    pub reauth_marked: usize,
    /// Interrupted operations finished or undone.
    pub reconciled: usize,
}

impl Latchkey {
    /// Opens the store, records the connections' scopes (marking accounts whose connection's
    /// scopes changed), and reconciles operations interrupted by a crash.
    pub async fn open(options: Options) -> Result<(Latchkey, StartReport)> {
        crate::paths::prepare_data_dir(&options.data_dir).map_err(|e| {
            Error::Storage(format!("cannot make {} private: {e}", options.data_dir.display()))
        })?;
        if let Some(file) = &options.connections_file {
            crate::paths::restrict(file)
                .map_err(|e| Error::Storage(format!("cannot make {} private: {e}", file.display())))?;
        }
        let instance = Instance::claim(&options.data_dir)?;
        let changes = Changes::default();
        let core = Latchkey {
            store: Mutex::new(Store::open_in(&options.data_dir)?),
            connections: RwLock::new(Arc::new(options.connections)),
            connections_file: options.connections_file,
            vault: Vault::new(options.secrets),
            http: options.http,
            redirect_scheme: options.redirect_scheme,
            metadata: Mutex::default(),
            sign_ins: SignIns::new(changes.clone()),
            instance,
            data_dir: options.data_dir,
            hooks: options.hooks,
            locks: Mutex::default(),
            working: AtomicUsize::new(0),
            changes,
        };
        let reauth_marked = core.sync_scopes()?;
        let report = StartReport { reauth_marked, reconciled: core.reconcile().await? };
        Ok((core, report))
    }

    /// The connections as configured now.
    pub fn connections(&self) -> Arc<Vec<Connection>> {
        self.connections.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub fn connection(&self, id: &str) -> Result<Connection> {
        self.connections()
            .iter()
            .find(|c| c.id.as_str() == id)
            .cloned()
            .ok_or_else(|| Error::UnknownConnection(id.to_owned()))
    }

    /// The display name of a connection, or its id once it is no longer configured.
    pub fn connection_name(&self, id: &ConnectionId) -> String {
        self.connections().iter().find(|c| &c.id == id).map_or_else(|| id.to_string(), |c| c.name.clone())
    }

    /// Records each OAuth connection's scopes; accounts whose connection's scopes changed are
    /// marked for re-authorization. Returns how many were marked.
    fn sync_scopes(&self) -> Result<usize> {
        let mut marked = 0;
        for conn in self.connections().iter().filter(|c| c.oauth().is_some()) {
            marked += self.store().sync_connection_scopes(&conn.id, conn.scopes())?;
        }
        Ok(marked)
    }

    /// The connection's status: its configuration's (Pending while its client id, or a required
    /// client secret, is missing), or Error when the provider rejected the client. From local
    /// metadata only: no keychain access.
    pub fn connection_status(&self, conn: &Connection) -> Result<(ConnectionStatus, Option<String>)> {
        match conn.configured_status() {
            ConnectionStatus::Active if !self.has_client_secret(conn)? => {
                Ok((ConnectionStatus::Pending, None))
            }
            ConnectionStatus::Active => match self.store().connection_error(&conn.id)? {
                Some(e) => Ok((ConnectionStatus::Error, Some(e))),
                None => Ok((ConnectionStatus::Active, None)),
            },
            other => Ok((other, None)),
        }
    }

    pub fn keychain_description(&self) -> String {
        self.vault.describe()
    }

    /// Whether the keychain works now: a throw-away entry written, read back and deleted.
    pub async fn check_keychain(&self) -> Result<()> {
        self.vault.check().await
    }

    /// Guide operation: the accounts matching `filter`.
    pub fn list_connected_accounts(&self, filter: &AccountFilter) -> Result<Vec<Account>> {
        self.store().accounts(filter)
    }

    /// Guide operation: the account of `connection` named `identifier`.
    pub fn get_connected_account(&self, connection: &str, identifier: &str) -> Result<Account> {
        let conn = self.connection(connection)?;
        self.store().find(&conn.id, check_identifier(identifier)?)?.ok_or(Error::UnknownAccount)
    }

    pub fn get_account(&self, id: &AccountId) -> Result<Account> {
        self.store().account(id)
    }

    /// Whether a sign-in for this account is waiting for its callback in this process.
    pub fn is_signing_in(&self, id: &AccountId) -> bool {
        self.sign_ins.is_signing_in(id)
    }

    /// The authorization URL of the account's sign-in still waiting in this process, to open again.
    pub fn sign_in_link(&self, id: &AccountId) -> Option<url::Url> {
        self.sign_ins.link(id)
    }

    /// Whether nothing is under way in this process that ending it now would cut short: no sign-in
    /// waiting for its callback, no exchange, refresh, revocation or configuration change running.
    /// (Ending it anyway is safe, as a crash is, but would cost the user a sign-in or a refresh.)
    pub fn is_idle(&self) -> bool {
        self.working.load(Ordering::SeqCst) == 0 && !self.sign_ins.any()
    }

    /// The data folder (the consent desk's address file is there).
    pub fn data_dir(&self) -> &std::path::Path {
        &self.data_dir
    }

    /// Marks an operation as under way until the returned guard is dropped.
    pub(crate) fn working(&self) -> Working<'_> {
        self.working.fetch_add(1, Ordering::SeqCst);
        Working(&self.working)
    }

    /// The process is about to be replaced (`exec`): removes its instance's lock file now, as its
    /// drop would have (the lock itself goes with the old process image).
    pub fn release_instance(&self) {
        self.instance.release();
    }

    /// Guide operation: the account of `connection` named `identifier`, created in Pending if new.
    /// Idempotent, also across processes.
    pub fn get_or_create_connected_account(
        &self,
        connection: &str,
        identifier: &str,
        actor: &Actor,
    ) -> Result<Account> {
        let conn = self.connection(connection)?;
        let identifier = check_identifier(identifier)?;
        Ok(self.store().get_or_create_account(&conn.id, identifier, conn.scopes(), false, actor)?.0)
    }

    /// Replaces the account's labels (trimmed, de-duplicated, sorted).
    pub fn set_labels(&self, id: &AccountId, labels: &[&str], actor: &Actor) -> Result<Account> {
        let mut clean =
            labels.iter().map(|l| check_label(l).map(str::to_owned)).collect::<Result<Vec<_>>>()?;
        clean.sort();
        clean.dedup();
        self.store().set_labels(id, &clean, actor)
    }

    /// Sets (or with `None` or blank text, clears) the account's note.
    pub fn set_note(&self, id: &AccountId, note: Option<&str>, actor: &Actor) -> Result<Account> {
        let note = note.map(str::trim).filter(|n| !n.is_empty());
        if note.is_some_and(|n| n.chars().count() > 2000) {
            return Err(Error::InvalidInput("A note can be at most 2,000 characters long.".into()));
        }
        self.store().set_note(id, note, actor)
    }

    /// A number that changes when another process (the CLI) changed the data; the app polls it to
    /// show such changes without re-reading everything.
    pub fn data_version(&self) -> Result<i64> {
        self.store().data_version()
    }

    /// The audit trail, oldest first.
    pub fn audit_trail(&self, query: &AuditQuery) -> Result<Vec<AuditEntry>> {
        self.store().audit_entries(query)
    }

    /// Guide operation: removes the account from Latchkey: its keychain entries and its record
    /// (the audit trail keeps its history). An Active OAuth account is revoked at the provider
    /// first, as far as the provider allows; the outcome is in the audit trail.
    pub async fn delete_connected_account(&self, id: &AccountId, actor: &Actor) -> Result<()> {
        let _working = self.working();
        self.get_account(id)?;
        let _lock = self.exclusive(id).await?;
        let account = self.get_account(id)?;
        self.store().begin_op(id, Operation::Delete, self.instance.id())?;
        self.checkpoint("delete.marked");
        if account.status == crate::model::AccountStatus::Active
            && let Ok(conn) = self.connection(account.connection.as_str())
            && conn.oauth().is_some()
        {
            let detail = match self.revoke_at_provider(&conn, id).await {
                Ok(()) => "confirmed by the provider".to_owned(),
                Err(why) => format!("not confirmed by the provider: {}", why.into_reason()),
            };
            self.audit(id, &account.connection, AuditAction::TokenRevoked, actor, AuditOutcome::Ok, &detail)?;
        }
        self.vault.delete(id).await?;
        self.checkpoint("delete.after_vault");
        self.store().delete_grants_of(id, actor, "the account was deleted")?;
        self.store().delete_account(id, actor, "keychain entries and record deleted")
    }

    /// The connection's endpoints, discovered once per process.
    async fn metadata(&self, conn: &Connection) -> Result<ProviderMetadata> {
        let oauth = conn.oauth().ok_or(Error::WrongConnectionType {
            connection: conn.name.clone(),
            kind: "not an OAuth 2.0",
            what: "it has no authorization server.",
        })?;
        match &oauth.endpoints {
            Endpoints::Explicit(m) => Ok((**m).clone()),
            Endpoints::Discover { issuer } => {
                if let Some(m) = self.lock_metadata().get(&conn.id) {
                    return Ok(m.clone());
                }
                let m = discovery::discover(&self.http, &conn.name, issuer).await?;
                self.lock_metadata().insert(conn.id.clone(), m.clone());
                Ok(m)
            }
        }
    }

    pub(crate) fn audit(
        &self,
        id: &AccountId,
        conn: &ConnectionId,
        action: AuditAction,
        actor: &Actor,
        outcome: AuditOutcome,
        detail: &str,
    ) -> Result<()> {
        self.store().audit(&crate::store::Audit {
            account: Some(id),
            connection: Some(conn),
            action,
            actor,
            outcome,
            detail,
        })
    }

    fn checkpoint(&self, step: &'static str) {
        if let Some(hook) = &self.hooks.checkpoint {
            hook(step);
        }
    }

    /// The store, for one call or a few. Every write through it is announced as a change of the
    /// accounts when the guard goes.
    fn store(&self) -> StoreGuard<'_> {
        let store = self.store.lock().unwrap_or_else(|p| p.into_inner());
        let writes = store.writes();
        StoreGuard { store, writes, changes: &self.changes }
    }

    fn lock_metadata(&self) -> std::sync::MutexGuard<'_, HashMap<ConnectionId, ProviderMetadata>> {
        self.metadata.lock().unwrap_or_else(|p| p.into_inner())
    }
}
