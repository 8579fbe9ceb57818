//! What runs while Latchkey is open, window or not: the core's background refresher and its watch
//! for changes another process (the `latchkey` CLI) made to the data or to `connections.toml`
//! (`latchkey_core::Background`). What they change reaches the window through changes.rs.

use tauri::{AppHandle, Manager};

use crate::setup::AppState;

/// The running background tasks, stopped when Latchkey exits or replaces itself (resting.rs).
#[derive(Default)]
pub struct Background(std::sync::Mutex<Option<latchkey_core::Background>>);

impl Background {
    fn lock(&self) -> std::sync::MutexGuard<'_, Option<latchkey_core::Background>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Starts the refresher and the watch (again, after [`stop`]); does nothing if they run.
pub fn start(app: &AppHandle) {
    app.manage(Background::default());
    let background = app.state::<Background>();
    let mut running = background.lock();
    if running.is_none() {
        let core = &app.state::<AppState>().core;
        *running = Some(latchkey_core::Background::start(core, tauri::async_runtime::handle().inner()));
    }
}

/// Stops the background tasks and waits until they have ended (a refresh under way finishes first).
pub async fn stop(app: &AppHandle) {
    let Some(running) = app.try_state::<Background>().and_then(|b| b.lock().take()) else { return };
    running.stop().await;
}

/// Tells the background tasks to end, without waiting (Latchkey is exiting).
pub fn stop_now(app: &AppHandle) {
    if let Some(running) = app.try_state::<Background>().and_then(|b| b.lock().take()) {
        running.stop_now();
    }
}
