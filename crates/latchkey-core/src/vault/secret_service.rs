//! The Linux keychain: the Secret Service (gnome-keyring, KWallet…) over D-Bus ([`client`]), with
//! one connection and one encrypted session kept for the life of the process. keyring 3.6 opens a
//! new connection and a new Diffie-Hellman session for every call (two for a write), which is most
//! of a keychain call's time.
//!
//! Items are found and written exactly as keyring 3.6 does (its `secret_service.rs`), so entries
//! written by either are read by the other and by `secret-tool lookup service S username K`:
//!
//! - attributes `service`, `username` (the key), `target` = `default`, `application` =
//!   `rust-keyring`, and keyring's label `{key}@{service}:default (keyring v3.6.3)`;
//! - a search of every collection by `target`, `service` and `username`; when that finds nothing,
//!   a search of the default collection by `service` and `username` alone (keyring v1's items);
//!   more than one match is an error; a locked match is unlocked (the Secret Service may prompt);
//! - a new item goes to the collection with the alias `default`, unlocked first if locked, with
//!   `replace` set.
//!
//! The connection is made on first use, so a process that never touches the keychain never pays
//! for it. When a call fails because the connection or the session went away (the Secret Service
//! restarted, the bus dropped the connection), the store connects again once and repeats the call;
//! every operation is safe to repeat. A locked keychain or a missing Secret Service is reported as
//! before, word for word.

mod client;

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

use dbus::strings::Path;
use zeroize::Zeroize;

use super::SecretStore;
use crate::error::{Error, Result};
use crate::secret::Secret;
use client::{SecretService, SsError};

/// keyring's `target` for entries made with `Entry::new` (the default collection).
const TARGET: &str = "default";
/// keyring's `application` attribute.
const APPLICATION: &str = "rust-keyring";
/// The keyring version in the labels keyring writes; the label is only the name a keychain viewer
/// shows, but items look the same whichever code wrote them (a test compares the two).
const KEYRING_VERSION: &str = "3.6.3";
const CONTENT_TYPE: &str = "text/plain";

/// D-Bus errors that mean the connection or the session is gone, not that the request was refused:
/// the bus connection closed, the Secret Service exited or restarted (our session and the objects
/// we knew are then unknown to it), or it never answered.
const CONNECTION_LOST: [&str; 8] = [
    "org.freedesktop.DBus.Error.Disconnected",
    "org.freedesktop.DBus.Error.NoReply",
    "org.freedesktop.DBus.Error.ServiceUnknown",
    "org.freedesktop.DBus.Error.NameHasNoOwner",
    "org.freedesktop.DBus.Error.UnknownObject",
    "org.freedesktop.DBus.Error.UnknownMethod",
    "org.freedesktop.DBus.Error.NoServer",
    "org.freedesktop.Secret.Error.NoSession",
];

/// The Secret Service, one connection and session per store. `Send + Sync`: the connection is
/// behind a mutex, so calls from several threads take turns (the Secret Service answers one at a
/// time anyway).
pub struct SecretServiceStore {
    service: String,
    connection: Mutex<Option<SecretService>>,
    connections_opened: AtomicUsize,
}

/// A failure, classified as keyring classifies it (and worded as `keychain_error` words keyring's).
enum Failure {
    /// keyring's `NoStorageAccess`: locked, dismissed prompt, no such collection.
    NoAccess(SsError),
    /// keyring's `PlatformFailure`: everything else, connection failures included.
    Platform(SsError),
    Ambiguous(usize),
    BadEncoding,
}

impl Failure {
    /// keyring's `decode_error`.
    fn decode(e: SsError) -> Failure {
        match e {
            SsError::NoResult | SsError::Prompt => Failure::NoAccess(e),
            _ => Failure::Platform(e),
        }
    }

    fn connection_lost(&self) -> bool {
        match self {
            Failure::NoAccess(SsError::Dbus(e)) | Failure::Platform(SsError::Dbus(e)) => {
                e.name().is_some_and(|name| CONNECTION_LOST.contains(&name))
            }
            _ => false,
        }
    }

    /// The same words `keychain_error` gives keyring's errors (the Secret Service's messages name
    /// the failure, never a secret).
    fn message(&self, service: &str, key: &str) -> String {
        match self {
            Failure::NoAccess(e) => format!("no access to the keychain: {e}"),
            Failure::Platform(e) => format!("the keychain failed: {e}"),
            Failure::Ambiguous(n) => {
                format!("Entry is matched by {n} credentials: service “{service}”, username “{key}”")
            }
            Failure::BadEncoding => "Data is not UTF-8 encoded".into(),
        }
    }
}

impl SecretServiceStore {
    pub fn new(service: impl Into<String>) -> Self {
        SecretServiceStore {
            service: service.into(),
            connection: Mutex::new(None),
            connections_opened: AtomicUsize::new(0),
        }
    }

    /// How many connections (each with its session) this store has opened: 0 before the first
    /// call, 1 after it, one more for each reconnection.
    pub fn connections_opened(&self) -> usize {
        self.connections_opened.load(Ordering::Relaxed)
    }

    fn lock(&self) -> MutexGuard<'_, Option<SecretService>> {
        // A panic in a call leaves nothing half-done in the connection worth refusing.
        self.connection.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn connect(&self) -> std::result::Result<SecretService, Failure> {
        let ss = SecretService::connect().map_err(Failure::Platform)?;
        self.connections_opened.fetch_add(1, Ordering::Relaxed);
        Ok(ss)
    }

    /// Runs `op` on the kept connection, connecting first if there is none. If the connection was
    /// an old one and `op` failed because it or its session is gone, connects again and runs `op`
    /// once more. A connection found gone is dropped, so the next call starts afresh.
    fn with_service<T>(
        &self,
        key: &str,
        op: impl Fn(&SecretService) -> std::result::Result<T, Failure>,
    ) -> Result<T> {
        let mut slot = self.lock();
        let reused = slot.is_some();
        let mut outcome = self.run(&mut slot, &op);
        if reused
            && let Err(f) = &outcome
            && f.connection_lost()
        {
            tracing::debug!(
                reason = %f.message(&self.service, key),
                "the Secret Service connection went away; connecting again"
            );
            *slot = None;
            outcome = self.run(&mut slot, &op);
        }
        if matches!(&outcome, Err(f) if f.connection_lost()) {
            *slot = None;
        }
        outcome.map_err(|f| Error::Keychain(f.message(&self.service, key)))
    }

    fn run<T>(
        &self,
        slot: &mut Option<SecretService>,
        op: impl Fn(&SecretService) -> std::result::Result<T, Failure>,
    ) -> std::result::Result<T, Failure> {
        match slot {
            Some(ss) => op(ss),
            None => op(slot.insert(self.connect()?)),
        }
    }

    /// The one item keyring would use for `key`, unlocked; `None` when there is none.
    fn find(&self, ss: &SecretService, key: &str) -> std::result::Result<Option<Path<'static>>, Failure> {
        let attributes =
            HashMap::from([("target", TARGET), ("service", self.service.as_str()), ("username", key)]);
        let mut found = ss.search_items(&attributes).map_err(Failure::decode)?;
        let count = found.unlocked.len() + found.locked.len();
        if count == 0 {
            // Items of keyring v1 (no `target`), in the default collection only, used as found.
            let collection = ss.default_collection().map_err(Failure::decode)?;
            let attributes = HashMap::from([("service", self.service.as_str()), ("username", key)]);
            let mut legacy = ss.search_collection(&collection, &attributes).map_err(Failure::decode)?;
            return match legacy.len() {
                0 | 1 => Ok(legacy.pop()),
                more => Err(Failure::Ambiguous(more)),
            };
        }
        if count > 1 {
            return Err(Failure::Ambiguous(count));
        }
        match (found.unlocked.pop(), found.locked.pop()) {
            (Some(item), _) => Ok(Some(item)),
            (None, Some(item)) => {
                ss.unlock(&item).map_err(Failure::decode)?;
                Ok(Some(item))
            }
            (None, None) => Ok(None),
        }
    }

    fn put_once(&self, ss: &SecretService, key: &str, value: &[u8]) -> std::result::Result<(), Failure> {
        if let Some(item) = self.find(ss, key)? {
            return ss.set_secret(&item, value, CONTENT_TYPE).map_err(Failure::decode);
        }
        // As keyring: the default collection, unlocked if need be; failing that, the default
        // collection as it is (creating the item may then prompt, or fail).
        let collection = ss
            .default_collection()
            .and_then(|c| {
                if ss.is_locked(&c)? {
                    ss.unlock(&c)?;
                }
                Ok(c)
            })
            .or_else(|_| ss.default_collection())
            .map_err(Failure::decode)?;
        let label = format!("{key}@{}:{TARGET} (keyring v{KEYRING_VERSION})", self.service);
        let attributes = HashMap::from([
            ("service", self.service.as_str()),
            ("username", key),
            ("target", TARGET),
            ("application", APPLICATION),
        ]);
        ss.create_item(&collection, &label, &attributes, value, CONTENT_TYPE).map_err(Failure::Platform)
    }

    fn get_once(&self, ss: &SecretService, key: &str) -> std::result::Result<Option<Secret>, Failure> {
        let Some(item) = self.find(ss, key)? else { return Ok(None) };
        let mut bytes = ss.get_secret(&item).map_err(Failure::decode)?;
        match String::from_utf8(std::mem::take(&mut *bytes)) {
            Ok(value) => Ok(Some(Secret::new(value))),
            Err(e) => {
                e.into_bytes().zeroize();
                Err(Failure::BadEncoding)
            }
        }
    }

    fn delete_once(&self, ss: &SecretService, key: &str) -> std::result::Result<(), Failure> {
        match self.find(ss, key)? {
            Some(item) => ss.delete(&item).map_err(Failure::decode),
            None => Ok(()),
        }
    }
}

impl SecretStore for SecretServiceStore {
    fn put(&self, key: &str, value: &Secret) -> Result<()> {
        self.with_service(key, |ss| self.put_once(ss, key, value.expose().as_bytes()))
    }

    fn get(&self, key: &str) -> Result<Option<Secret>> {
        self.with_service(key, |ss| self.get_once(ss, key))
    }

    fn delete(&self, key: &str) -> Result<()> {
        self.with_service(key, |ss| self.delete_once(ss, key))
    }

    fn describe(&self) -> String {
        format!("Secret Service (service “{}”)", self.service)
    }
}
