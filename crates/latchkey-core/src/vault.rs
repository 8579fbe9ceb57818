//! The token vault: the only place tokens are kept, the OS keychain: the Secret Service on Linux
//! (one kept D-Bus connection, [`SecretServiceStore`]), Keychain on macOS and Credential Manager on
//! Windows through the `keyring` crate ([`KeyringStore`]). [`system_store`] picks the platform's.
//!
//! Each account has up to two small entries, `{account_id}/access` and `{account_id}/refresh`,
//! under a service name that is namespaced by build channel (and per test run), so a development
//! build never touches a release build's secrets. Small entries keep under Windows Credential
//! Manager's 2,560-byte cap even with JWT access tokens.

use std::sync::{Arc, Mutex};

use crate::error::{Error, Result};
use crate::model::{AccountId, ConnectionId};
use crate::secret::{Credential, Secret, TokenSet};

#[cfg(target_os = "linux")]
mod secret_service;
#[cfg(target_os = "linux")]
pub use secret_service::SecretServiceStore;

/// Where secrets are stored. The real one is [`system_store`]'s; [`MemoryStore`] is for unit tests
/// and fault injection.
pub trait SecretStore: Send + Sync + 'static {
    fn put(&self, key: &str, value: &Secret) -> Result<()>;
    /// `Ok(None)` when there is no such entry.
    fn get(&self, key: &str) -> Result<Option<Secret>>;
    /// Deleting a missing entry is not an error.
    fn delete(&self, key: &str) -> Result<()>;
    /// A human description of the backend, for the UI ("Secret Service", …).
    fn describe(&self) -> String;
}

/// The OS keychain under the namespace `service`: [`SecretServiceStore`] on Linux, [`KeyringStore`]
/// elsewhere. Nothing connects until the first call.
pub fn system_store(service: impl Into<String>) -> Arc<dyn SecretStore> {
    #[cfg(target_os = "linux")]
    let store = SecretServiceStore::new(service);
    #[cfg(not(target_os = "linux"))]
    let store = KeyringStore::new(service);
    Arc::new(store)
}

/// The OS keychain through `keyring`, which on Linux connects to the Secret Service afresh for every
/// call (the app uses [`SecretServiceStore`] there; its items are the same).
pub struct KeyringStore {
    service: String,
}

impl KeyringStore {
    pub fn new(service: impl Into<String>) -> Self {
        KeyringStore { service: service.into() }
    }

    fn entry(&self, key: &str) -> Result<keyring::Entry> {
        keyring::Entry::new(&self.service, key).map_err(keychain_error)
    }
}

fn keychain_error(e: keyring::Error) -> Error {
    // keyring's messages describe the platform failure, never the secret.
    Error::Keychain(match e {
        keyring::Error::NoStorageAccess(inner) => format!("no access to the keychain: {inner}"),
        keyring::Error::PlatformFailure(inner) => format!("the keychain failed: {inner}"),
        other => other.to_string(),
    })
}

impl SecretStore for KeyringStore {
    fn put(&self, key: &str, value: &Secret) -> Result<()> {
        self.entry(key)?.set_password(value.expose()).map_err(keychain_error)
    }

    fn get(&self, key: &str) -> Result<Option<Secret>> {
        match self.entry(key)?.get_password() {
            Ok(v) => Ok(Some(Secret::new(v))),
            Err(keyring::Error::NoEntry) => Ok(None),
            Err(e) => Err(keychain_error(e)),
        }
    }

    fn delete(&self, key: &str) -> Result<()> {
        match self.entry(key)?.delete_credential() {
            Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
            Err(e) => Err(keychain_error(e)),
        }
    }

    fn describe(&self) -> String {
        let backend = if cfg!(target_os = "macos") {
            "macOS Keychain"
        } else if cfg!(windows) {
            "Windows Credential Manager"
        } else {
            "Secret Service"
        };
        format!("{backend} (service “{}”)", self.service)
    }
}

/// An in-process store whose next calls can be told to fail. Tests only; never used by the app.
#[derive(Default, Clone)]
pub struct MemoryStore {
    inner: Arc<Mutex<MemoryInner>>,
}

#[derive(Default)]
struct MemoryInner {
    entries: std::collections::HashMap<String, String>,
    fail_next: usize,
    fail_writes: usize,
}

impl MemoryStore {
    /// The next `n` calls fail as a locked keychain would.
    pub fn fail_next(&self, n: usize) {
        self.lock().fail_next = n;
    }
    /// The next `n` writes fail as a locked keychain would; reads still work (it locked after them).
    pub fn fail_next_writes(&self, n: usize) {
        self.lock().fail_writes = n;
    }
    pub fn keys(&self) -> Vec<String> {
        let mut keys: Vec<_> = self.lock().entries.keys().cloned().collect();
        keys.sort();
        keys
    }
    fn lock(&self) -> std::sync::MutexGuard<'_, MemoryInner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
    fn check(&self) -> Result<std::sync::MutexGuard<'_, MemoryInner>> {
        let mut g = self.lock();
        if g.fail_next > 0 {
            g.fail_next -= 1;
            return Err(Error::Keychain("the keychain is locked (injected fault)".into()));
        }
        Ok(g)
    }
}

impl SecretStore for MemoryStore {
    fn put(&self, key: &str, value: &Secret) -> Result<()> {
        let mut g = self.check()?;
        if g.fail_writes > 0 {
            g.fail_writes -= 1;
            return Err(Error::Keychain("the keychain is locked (injected fault)".into()));
        }
        g.entries.insert(key.to_owned(), value.expose().to_owned());
        Ok(())
    }
    fn get(&self, key: &str) -> Result<Option<Secret>> {
        Ok(self.check()?.entries.get(key).map(|v| Secret::new(v.clone())))
    }
    fn delete(&self, key: &str) -> Result<()> {
        self.check()?.entries.remove(key);
        Ok(())
    }
    fn describe(&self) -> String {
        "in-memory test store".into()
    }
}

/// Credentials by account, over a [`SecretStore`]. Keychain calls block (D-Bus,
/// Security.framework), so async callers go through `spawn_blocking`.
#[derive(Clone)]
pub struct Vault {
    store: Arc<dyn SecretStore>,
}

/// Which kind of credential to read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CredentialKind {
    OAuth,
    ApiKey,
    Basic,
}

/// The entries that make an account usable.
const USABLE_KEYS: [&str; 5] = ["access", "refresh", "api-key", "username", "password"];
/// Tokens kept, unusable, only to send to the provider's revocation endpoint again.
const PARKED_KEYS: [&str; 2] = ["revoke-access", "revoke-refresh"];

impl Vault {
    pub fn new(store: Arc<dyn SecretStore>) -> Self {
        Vault { store }
    }

    pub fn describe(&self) -> String {
        self.store.describe()
    }

    /// Stores the credential; OAuth tokens without a refresh token remove a stale one.
    pub async fn put(&self, account: &AccountId, credential: Credential) -> Result<()> {
        let store = self.store.clone();
        let account = account.clone();
        blocking(move || match &credential {
            Credential::OAuth(tokens) => put_tokens(store.as_ref(), &account, tokens),
            Credential::ApiKey(k) => store.put(&key(&account, "api-key"), k),
            Credential::Basic { username, password } => {
                store.put(&key(&account, "username"), &Secret::new(username.as_str()))?;
                store.put(&key(&account, "password"), password)
            }
        })
        .await
    }

    /// Stores a token set, keeping it for the caller (who may need to try again or revoke it).
    pub async fn put_tokens(&self, account: &AccountId, tokens: Arc<TokenSet>) -> Result<()> {
        let store = self.store.clone();
        let account = account.clone();
        blocking(move || put_tokens(store.as_ref(), &account, &tokens)).await
    }

    /// The stored credential of that kind, `None` when it is missing.
    pub async fn get(&self, account: &AccountId, kind: CredentialKind) -> Result<Option<Credential>> {
        let store = self.store.clone();
        let account = account.clone();
        blocking(move || {
            Ok(match kind {
                CredentialKind::OAuth => match store.get(&key(&account, "access"))? {
                    Some(access_token) => Some(Credential::OAuth(TokenSet {
                        access_token,
                        refresh_token: store.get(&key(&account, "refresh"))?,
                    })),
                    None => None,
                },
                CredentialKind::ApiKey => store.get(&key(&account, "api-key"))?.map(Credential::ApiKey),
                CredentialKind::Basic => {
                    match (store.get(&key(&account, "username"))?, store.get(&key(&account, "password"))?) {
                        (Some(u), Some(password)) => {
                            Some(Credential::Basic { username: u.expose().to_owned(), password })
                        }
                        _ => None,
                    }
                }
            })
        })
        .await
    }

    /// The access token alone (one keychain read instead of two).
    pub async fn access_token(&self, account: &AccountId) -> Result<Option<Secret>> {
        let store = self.store.clone();
        let account = account.clone();
        blocking(move || store.get(&key(&account, "access"))).await
    }

    /// The refresh token alone.
    pub async fn refresh_token(&self, account: &AccountId) -> Result<Option<Secret>> {
        let store = self.store.clone();
        let account = account.clone();
        blocking(move || store.get(&key(&account, "refresh"))).await
    }

    /// The OAuth tokens, `None` when there is no access token.
    pub async fn tokens(&self, account: &AccountId) -> Result<Option<TokenSet>> {
        Ok(match self.get(account, CredentialKind::OAuth).await? {
            Some(Credential::OAuth(tokens)) => Some(tokens),
            _ => None,
        })
    }

    /// Deletes every entry of the account, parked ones included; repeating it is harmless.
    pub async fn delete(&self, account: &AccountId) -> Result<()> {
        self.delete_keys(account, &[&USABLE_KEYS[..], &PARKED_KEYS[..]].concat()).await
    }

    /// Deletes the entries that make the account usable; parked tokens stay.
    pub async fn delete_usable(&self, account: &AccountId) -> Result<()> {
        self.delete_keys(account, &USABLE_KEYS).await
    }

    /// Keeps tokens whose revocation the provider has not confirmed, under names nothing reads
    /// except the revocation retry.
    pub async fn park_for_revocation(&self, account: &AccountId, tokens: &TokenSet) -> Result<()> {
        let store = self.store.clone();
        let account = account.clone();
        let access = Secret::new(tokens.access_token.expose());
        let refresh = tokens.refresh_token.as_ref().map(|r| Secret::new(r.expose()));
        blocking(move || {
            store.put(&key(&account, "revoke-access"), &access)?;
            match &refresh {
                Some(r) => store.put(&key(&account, "revoke-refresh"), r),
                None => store.delete(&key(&account, "revoke-refresh")),
            }
        })
        .await
    }

    pub async fn parked(&self, account: &AccountId) -> Result<Option<TokenSet>> {
        let store = self.store.clone();
        let account = account.clone();
        blocking(move || {
            Ok(match store.get(&key(&account, "revoke-access"))? {
                Some(access_token) => Some(TokenSet {
                    access_token,
                    refresh_token: store.get(&key(&account, "revoke-refresh"))?,
                }),
                None => None,
            })
        })
        .await
    }

    pub async fn delete_parked(&self, account: &AccountId) -> Result<()> {
        self.delete_keys(account, &PARKED_KEYS).await
    }

    /// The connection's client secret (the user's own), under `client/{connection}/secret`.
    pub async fn client_secret(&self, connection: &ConnectionId) -> Result<Option<Secret>> {
        let store = self.store.clone();
        let key = client_key(connection);
        blocking(move || store.get(&key)).await
    }

    pub async fn set_client_secret(&self, connection: &ConnectionId, secret: &Secret) -> Result<()> {
        let store = self.store.clone();
        let key = client_key(connection);
        let secret = Secret::new(secret.expose());
        blocking(move || store.put(&key, &secret)).await
    }

    pub async fn delete_client_secret(&self, connection: &ConnectionId) -> Result<()> {
        let store = self.store.clone();
        let key = client_key(connection);
        blocking(move || store.delete(&key)).await
    }

    /// Writes, reads back and deletes a throw-away entry (`health-check`, never an account's):
    /// proves the keychain is reachable, unlocked and writable, through the same store as the tokens.
    pub async fn check(&self) -> Result<()> {
        const KEY: &str = "health-check";
        const VALUE: &str = "Latchkey keychain check (not a secret)";
        let store = self.store.clone();
        blocking(move || {
            store.put(KEY, &Secret::new(VALUE))?;
            let back = store.get(KEY)?;
            store.delete(KEY)?;
            match back {
                Some(v) if v.expose() == VALUE => Ok(()),
                _ => Err(Error::Keychain("an entry written to the keychain did not read back".into())),
            }
        })
        .await
    }

    async fn delete_keys(&self, account: &AccountId, keys: &[&'static str]) -> Result<()> {
        let store = self.store.clone();
        let account = account.clone();
        let keys = keys.to_vec();
        blocking(move || keys.iter().try_for_each(|k| store.delete(&key(&account, k)))).await
    }
}

/// The refresh token first: once it is written, a death before the access token is written costs
/// nothing but a refresh (the old access token stays, its expiry is recorded as before).
fn put_tokens(store: &dyn SecretStore, account: &AccountId, tokens: &TokenSet) -> Result<()> {
    match &tokens.refresh_token {
        Some(rt) => store.put(&key(account, "refresh"), rt)?,
        None => store.delete(&key(account, "refresh"))?,
    }
    store.put(&key(account, "access"), &tokens.access_token)
}

fn key(account: &AccountId, which: &str) -> String {
    format!("{account}/{which}")
}

/// Account ids are UUIDs, so `client/…` never collides with an account's entries.
fn client_key(connection: &ConnectionId) -> String {
    format!("client/{connection}/secret")
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| Error::Keychain(format!("the keychain call did not finish: {e}")))?
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens(a: &str, r: Option<&str>) -> Credential {
        Credential::OAuth(TokenSet { access_token: Secret::new(a), refresh_token: r.map(Secret::new) })
    }

    #[tokio::test]
    async fn put_get_delete_round_trip() {
        let mem = MemoryStore::default();
        let vault = Vault::new(Arc::new(mem.clone()));
        let id = AccountId::random();
        assert!(vault.tokens(&id).await.expect("get").is_none());
        vault.put(&id, tokens("a1", Some("r1"))).await.expect("put");
        let got = vault.tokens(&id).await.expect("get").expect("some");
        assert_eq!(got.access_token.expose(), "a1");
        assert_eq!(got.refresh_token.as_ref().map(Secret::expose), Some("r1"));
        vault.put(&id, tokens("a2", None)).await.expect("put");
        assert!(vault.tokens(&id).await.expect("get").expect("some").refresh_token.is_none());

        vault.put(&id, Credential::ApiKey(Secret::new("k1"))).await.expect("put key");
        let basic = Credential::Basic { username: "u".into(), password: Secret::new("p") };
        vault.put(&id, basic).await.expect("put basic");
        let key = vault.get(&id, CredentialKind::ApiKey).await.expect("get");
        assert!(matches!(key, Some(Credential::ApiKey(ref k)) if k.expose() == "k1"), "{key:?}");
        let basic = vault.get(&id, CredentialKind::Basic).await.expect("get");
        assert!(
            matches!(basic, Some(Credential::Basic { ref username, ref password }) if username == "u" && password.expose() == "p"),
            "{basic:?}"
        );

        vault.delete(&id).await.expect("delete");
        vault.delete(&id).await.expect("delete twice");
        assert!(mem.keys().is_empty());
    }

    #[tokio::test]
    async fn the_health_check_writes_reads_and_leaves_nothing() {
        let store = Arc::new(MemoryStore::default());
        let vault = Vault::new(store.clone());
        vault.check().await.expect("a working store passes");
        assert!(store.keys().is_empty(), "{:?}", store.keys());
        store.fail_next(1);
        assert!(matches!(vault.check().await, Err(Error::Keychain(_))));
    }

    #[tokio::test]
    async fn a_locked_keychain_is_a_clear_error() {
        let mem = MemoryStore::default();
        let vault = Vault::new(Arc::new(mem.clone()));
        mem.fail_next(1);
        let err = vault.put(&AccountId::random(), tokens("a", None)).await.expect_err("locked");
        assert_eq!(err.code(), crate::error::ErrorCode::KeychainUnavailable);
        assert!(err.to_string().contains("keychain"), "{err}");
    }
}
