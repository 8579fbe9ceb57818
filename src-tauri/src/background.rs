//! What runs while Latchkey is open, window or not: the background refresher (the core's), and a
//! watch for changes another process (the `latchkey` CLI) made to the data or to
//! `connections.toml`, so the window and the tray show them without being asked.

use std::time::Duration;

use tauri::{AppHandle, Emitter, Manager};

use crate::commands::emit_accounts;
use crate::setup::AppState;

/// How often the data is checked for another process's changes: one `PRAGMA data_version`.
const WATCH_EVERY: Duration = Duration::from_secs(1);

pub fn start(app: &AppHandle) {
    let core = app.state::<AppState>().core.clone();
    let (stop, stopped) = tokio::sync::watch::channel(false);
    app.manage(Stop(stop));

    let on_change = {
        let app = app.clone();
        move |_: &[latchkey_core::model::AccountId]| emit_accounts(&app, &app.state::<AppState>())
    };
    tauri::async_runtime::spawn(latchkey_core::run_refresher(core.clone(), on_change, stopped.clone()));

    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        let mut seen = core.data_version().ok();
        let file = latchkey_core::paths::connections_file().ok();
        let modified = |f: &Option<std::path::PathBuf>| {
            f.as_ref().and_then(|f| std::fs::metadata(f).and_then(|m| m.modified()).ok())
        };
        let mut file_seen = modified(&file);
        let mut stopped = stopped;
        loop {
            tokio::select! {
                _ = tokio::time::sleep(WATCH_EVERY) => {}
                _ = stopped.changed() => return,
            }
            let file_now = modified(&file);
            if file_now != file_seen {
                file_seen = file_now;
                match core.reload_connections() {
                    Ok(true) => {
                        tracing::info!("connections.toml changed; connections reloaded");
                        let _ = app.emit("connections-changed", ());
                    }
                    Ok(false) => {}
                    Err(e) => tracing::warn!("connections.toml changed but cannot be used: {e}"),
                }
            }
            let now = core.data_version().ok();
            if now != seen {
                seen = now;
                emit_accounts(&app, &app.state::<AppState>());
            }
        }
    });
}

/// Ends the background tasks when Latchkey exits.
pub struct Stop(tokio::sync::watch::Sender<bool>);

impl Stop {
    pub fn stop(&self) {
        let _ = self.0.send(true);
    }
}
