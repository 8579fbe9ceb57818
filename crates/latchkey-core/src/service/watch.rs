//! Changes another process made (the `latchkey` CLI, or the desktop app while the tray runs, and
//! the other way round): to the data, seen by one `PRAGMA data_version` a second, and to
//! `connections.toml`, seen by its modification time and reloaded. The core announces them to its
//! subscribers as it announces its own ([`Latchkey::subscribe`]).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use super::{Change, Latchkey};

/// How often the data and the connections file are checked.
const WATCH_EVERY: Duration = Duration::from_secs(1);

/// Watches until `stop` turns true.
pub async fn watch_outside_changes(core: Arc<Latchkey>, mut stop: tokio::sync::watch::Receiver<bool>) {
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
                // Reloading announced it.
                Ok(true) => tracing::info!("connections.toml changed; connections reloaded"),
                Ok(false) => {}
                Err(e) => tracing::warn!("connections.toml changed but cannot be used: {e}"),
            }
        }
        let now = core.data_version().ok();
        if now != seen {
            seen = now;
            core.announce(Change::Accounts);
        }
    }
}
