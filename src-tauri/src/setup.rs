//! Start-up: logging, and the core service the commands share. Where the data, the connections
//! file and the keychain namespace are comes from `latchkey_core::paths`, the same as the CLI's
//! (`LATCHKEY_DATA_DIR`, `LATCHKEY_CONNECTIONS`, `LATCHKEY_KEYCHAIN_SERVICE` override them, so the demo
//! mode and the tests never touch a user's real data or keychain entries).

use std::sync::{Arc, Mutex};

use latchkey_core::vault::system_store;
use latchkey_core::{Latchkey, Options, paths};
use tauri::AppHandle;
use tracing_subscriber::fmt::writer::MakeWriterExt;

/// When the process started (the first call, made first thing in `run`).
pub fn started() -> std::time::Instant {
    static STARTED: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    *STARTED.get_or_init(std::time::Instant::now)
}

pub struct AppState {
    /// Shared with the background refresher (background.rs).
    pub core: Arc<Latchkey>,
}

pub fn open(app: &AppHandle) -> Result<AppState, Box<dyn std::error::Error>> {
    let identifier = app.config().identifier.clone();
    let data_dir = paths::data_dir()?;
    let connections_file = paths::connections_file()?;
    std::fs::create_dir_all(data_dir.join("logs"))?;
    init_logging(&data_dir)?;
    let service = paths::keychain_service();
    let connections = latchkey_core::config::load_connections(&connections_file)?;
    tracing::info!(
        data_dir = %data_dir.display(),
        connections_file = %connections_file.display(),
        connections = connections.len(),
        keychain_service = %service,
        "Latchkey starting"
    );
    let (core, report) = tauri::async_runtime::block_on(Latchkey::open(Options {
        data_dir,
        connections,
        connections_file: Some(connections_file),
        secrets: system_store(service),
        redirect_scheme: identifier,
        http: latchkey_core::http::Http::new()?,
        hooks: Default::default(),
    }))?;
    if report != Default::default() {
        tracing::info!(?report, "start-up repairs");
    }
    Ok(AppState { core: Arc::new(core) })
}

/// Logs to stderr and to `logs/latchkey.log` in the data folder. `RUST_LOG` sets the level.
fn init_logging(data_dir: &std::path::Path) -> std::io::Result<()> {
    let file =
        std::fs::OpenOptions::new().create(true).append(true).open(data_dir.join("logs/latchkey.log"))?;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new("info,latchkey_core=debug,latchkey_desktop=debug")
    });
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(false)
        .with_writer(std::io::stderr.and(Mutex::new(file)))
        .try_init();
    Ok(())
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
