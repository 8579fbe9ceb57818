//! What the core announces: its accounts or its connections changed, by this process's own writes
//! or by another process's (seen by the watch, watch.rs). The window and the tray subscribe
//! ([`Latchkey::subscribe`]) instead of being told by each caller.

use tokio::sync::broadcast;

use super::Latchkey;

/// Announcements a subscriber has not read yet beyond this are dropped; it then hears
/// `RecvError::Lagged`, which means "something changed" as well.
const BACKLOG: usize = 64;

/// What changed. A subscriber reads the lists again; nothing else rides on it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change {
    /// The accounts (their states, tokens' metadata, labels, a sign-in started or ended…).
    Accounts,
    /// The connections' configuration (`connections.toml`, here or in another process).
    Connections,
}

/// The sending side, shared by the store's guard, the pending sign-ins and the watch.
#[derive(Clone)]
pub(crate) struct Changes(pub(crate) broadcast::Sender<Change>);

impl Default for Changes {
    fn default() -> Self {
        Changes(broadcast::channel(BACKLOG).0)
    }
}

impl Changes {
    /// Tells every subscriber; nobody listening is fine.
    pub(crate) fn announce(&self, change: Change) {
        let _ = self.0.send(change);
    }
}

impl Latchkey {
    /// Hears every change from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Change> {
        self.changes.0.subscribe()
    }

    /// Announces a change (one the store's guard cannot see: the connections, another process's).
    pub(crate) fn announce(&self, change: Change) {
        self.changes.announce(change);
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use std::path::Path;
    use std::sync::Arc;

    use super::*;
    use crate::model::{AccountFilter, Actor};

    /// A core over `dir` with one API-key connection, `demo`, and an in-memory keychain.
    pub(crate) async fn open_demo(dir: &Path) -> Latchkey {
        let file = dir.join("connections.toml");
        std::fs::write(&file, "[[connection]]\nid = \"demo\"\nname = \"Demo\"\ntype = \"api-key\"\n")
            .expect("connections file");
        let options = crate::service::Options {
            data_dir: dir.to_owned(),
            connections: crate::config::load_connections(&file).expect("connections"),
            connections_file: Some(file),
            secrets: Arc::new(crate::vault::MemoryStore::default()),
            redirect_scheme: "io.latchkey.test".into(),
            http: crate::http::Http::new().expect("http"),
            hooks: Default::default(),
        };
        Latchkey::open(options).await.expect("open").0
    }

    /// A write through the store is announced once it is done; a read is not.
    #[tokio::test]
    async fn the_cores_own_writes_are_announced_and_reads_are_not() {
        let dir = tempfile::tempdir().expect("temporary folder");
        let core = open_demo(dir.path()).await;
        let mut changes = core.subscribe();
        let account = core.get_or_create_connected_account("demo", "someone", &Actor::User).expect("account");
        assert_eq!(changes.try_recv(), Ok(Change::Accounts));
        while changes.try_recv().is_ok() {}
        core.list_connected_accounts(&AccountFilter::default()).expect("list");
        core.get_account(&account.id).expect("get");
        assert!(changes.try_recv().is_err(), "reading changes nothing");
        core.set_note(&account.id, Some("a note"), &Actor::User).expect("note");
        assert_eq!(changes.try_recv(), Ok(Change::Accounts));
    }
}
