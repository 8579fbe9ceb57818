//! What runs while Latchkey is open, window or not: the background refresher (the core's), and a
//! watch for changes another process (the `latchkey` CLI) made to the data or to
//! `connections.toml`, so the window and the tray show them without being asked.

use std::time::Duration;

use tauri::{AppHandle, Emitter, Manager};

use crate::commands::emit_accounts;
use crate::setup::AppState;

/// How often the data is checked for another process's changes: one `PRAGMA data_version`.
const WATCH_EVERY: Duration = Duration::from_secs(1);

/// The running background tasks, stopped when Latchkey exits or replaces itself (rest.rs).
#[derive(Default)]
pub struct Background(std::sync::Mutex<Option<Running>>);

struct Running {
    stop: tokio::sync::watch::Sender<bool>,
    tasks: Vec<tauri::async_runtime::JoinHandle<()>>,
}

impl Background {
    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Running>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Starts the refresher and the watch (again, after [`stop`]); does nothing if they run.
pub fn start(app: &AppHandle) {
    app.manage(Background::default());
    let background = app.state::<Background>();
    let mut running = background.lock();
    if running.is_some() {
        return;
    }
    let core = app.state::<AppState>().core.clone();
    let (stop, stopped) = tokio::sync::watch::channel(false);

    let on_change = {
        let app = app.clone();
        move |_: &[latchkey_core::model::AccountId]| emit_accounts(&app, &app.state::<AppState>())
    };
    let refresher =
        tauri::async_runtime::spawn(latchkey_core::run_refresher(core.clone(), on_change, stopped.clone()));

    let app = app.clone();
    let watch = tauri::async_runtime::spawn(async move {
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
    *running = Some(Running { stop, tasks: vec![refresher, watch] });
}

/// Stops the background tasks and waits until they have ended (a refresh under way finishes first).
pub async fn stop(app: &AppHandle) {
    let Some(running) = app.try_state::<Background>().and_then(|b| b.lock().take()) else { return };
    let _ = running.stop.send(true);
    for task in running.tasks {
        let _ = task.await;
    }
}

/// Tells the background tasks to end, without waiting (Latchkey is exiting).
pub fn stop_now(app: &AppHandle) {
    if let Some(running) = app.try_state::<Background>().and_then(|b| b.lock().take()) {
        let _ = running.stop.send(true);
    }
}
