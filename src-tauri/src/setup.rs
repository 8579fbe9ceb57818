//! Start-up: where the data, the configuration and the keychain namespace are, logging, and the
//! core service the commands share.
//!
//! Environment overrides (used by the demo mode and the tests, so they never touch a user's real
//! data or keychain entries):
//! - `LATCHKEY_DATA_DIR`: the app-data folder (default: the OS app-data folder).
//! - `LATCHKEY_CONNECTIONS`: the connections file (default: `connections.toml` in the OS config folder).
//! - `LATCHKEY_KEYCHAIN_SERVICE`: the keychain service name (default: the identifier, with `.dev`
//!   appended in debug builds so a development build never reads a release build's secrets).

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use latchkey_core::vault::KeyringStore;
use latchkey_core::{Latchkey, Options};
use tauri::{AppHandle, Manager};
use tracing_subscriber::fmt::writer::MakeWriterExt;

pub struct AppState {
    /// Shared with the background refresher (background.rs).
    pub core: Arc<Latchkey>,
}

pub fn open(app: &AppHandle) -> Result<AppState, Box<dyn std::error::Error>> {
    let identifier = app.config().identifier.clone();
    let data_dir = env_path("LATCHKEY_DATA_DIR").map_or_else(|| app.path().app_data_dir(), Ok)?;
    let connections_file = match env_path("LATCHKEY_CONNECTIONS") {
        Some(p) => p,
        None => app.path().app_config_dir()?.join("connections.toml"),
    };
    std::fs::create_dir_all(data_dir.join("logs"))?;
    init_logging(&data_dir)?;

    let service = std::env::var("LATCHKEY_KEYCHAIN_SERVICE").unwrap_or_else(|_| {
        if cfg!(debug_assertions) { format!("{identifier}.dev") } else { identifier.clone() }
    });
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
        secrets: Arc::new(KeyringStore::new(service)),
        redirect_scheme: identifier,
        http: latchkey_core::http::Http::new()?,
        hooks: Default::default(),
    }))?;
    if report != Default::default() {
        tracing::info!(?report, "start-up repairs");
    }
    Ok(AppState { core: Arc::new(core) })
}

fn env_path(name: &str) -> Option<PathBuf> {
    std::env::var_os(name).filter(|v| !v.is_empty()).map(PathBuf::from)
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
