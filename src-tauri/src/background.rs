//! What runs while Latchkey is open, window or not: the background refresher (the core's), and a
//! watch for changes another process (the `latchkey` CLI) made to the data or to
//! `connections.toml`, so the window and the tray show them without being asked.

use latchkey_core::OutsideChange;
use tauri::{AppHandle, Manager};

use crate::commands::emit_accounts;
use crate::setup::AppState;

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

    let on_outside = {
        let app = app.clone();
        move |change| match change {
            OutsideChange::Connections => {
                crate::events::CONNECTIONS_CHANGED.emit(&app, ());
            }
            OutsideChange::Accounts => emit_accounts(&app, &app.state::<AppState>()),
        }
    };
    let watch = tauri::async_runtime::spawn(latchkey_core::watch_outside_changes(core, on_outside, stopped));
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
