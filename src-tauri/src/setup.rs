//! Start-up: logging, and the core service the commands share. Where the data, the connections
//! file and the keychain namespace are comes from `latchkey_core::paths`, the same as the CLI's
//! (`LATCHKEY_DATA_DIR`, `LATCHKEY_CONNECTIONS`, `LATCHKEY_KEYCHAIN_SERVICE` override them, so the demo
//! mode and the tests never touch a user's real data or keychain entries).

use std::sync::Arc;

use latchkey_core::Latchkey;

/// When the process started (the first call, made first thing in `run`).
pub fn started() -> std::time::Instant {
    static STARTED: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    *STARTED.get_or_init(std::time::Instant::now)
}

pub struct AppState {
    /// Shared with the background refresher (background.rs).
    pub core: Arc<Latchkey>,
}

pub fn open() -> Result<AppState, Box<dyn std::error::Error>> {
    let core = tauri::async_runtime::block_on(async {
        // A refresh in flight finishes storing its answer before SIGTERM ends the app.
        if let Err(e) = latchkey_core::signals::defer_termination() {
            tracing::warn!("termination signals are not deferred: {e}");
        }
        latchkey_core::open_standard("info,latchkey_core=debug,latchkey_desktop=debug").await
    })?;
    Ok(AppState { core: Arc::new(core) })
}

#[cfg(test)]
mod tests {
    /// The app's identifier (its URL scheme) and the core's, which the CLI uses for the same
    /// folders and keychain namespace, are one.
    #[test]
    fn the_identifier_is_the_cores() {
        let conf: serde_json::Value =
            serde_json::from_str(include_str!("../../tauri.conf.json")).expect("tauri.conf.json");
        assert_eq!(conf["identifier"], latchkey_core::paths::IDENTIFIER);
        assert_eq!(conf["plugins"]["deep-link"]["desktop"]["schemes"][0], latchkey_core::paths::IDENTIFIER);
    }
}
