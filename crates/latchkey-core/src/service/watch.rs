//! Changes another process made (the `latchkey` CLI, or the desktop app while the tray runs, and
//! the other way round): to the data, seen by one `PRAGMA data_version` a second, and to
//! `connections.toml`, seen by its modification time and reloaded.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use super::Latchkey;

/// How often the data and the connections file are checked.
const WATCH_EVERY: Duration = Duration::from_secs(1);

/// What changed outside this process.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutsideChange {
    /// The accounts (their states, tokens' metadata, labels…).
    Accounts,
    /// `connections.toml`, reloaded.
    Connections,
}

/// Watches until `stop` turns true; `on_change` hears each change.
pub async fn watch_outside_changes(
    core: Arc<Latchkey>,
    on_change: impl Fn(OutsideChange) + Send + 'static,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let file = core.connections_file.clone();
    let modified = |f: &Option<PathBuf>| -> Option<SystemTime> {
        std::fs::metadata(f.as_ref()?).and_then(|m| m.modified()).ok()
    };
    let mut seen = core.data_version().ok();
    let mut file_seen = modified(&file);
    loop {
        tokio::select! {
            _ = tokio::time::sleep(WATCH_EVERY) => {}
            _ = stop.changed() => return,
        }
        let file_now = modified(&file);
        if file_now != file_seen {
            file_seen = file_now;
            match core.reload_connections() {
                Ok(true) => {
                    tracing::info!("connections.toml changed; connections reloaded");
                    on_change(OutsideChange::Connections);
                }
                Ok(false) => {}
                Err(e) => tracing::warn!("connections.toml changed but cannot be used: {e}"),
            }
        }
        let now = core.data_version().ok();
        if now != seen {
            seen = now;
            on_change(OutsideChange::Accounts);
        }
    }
}
