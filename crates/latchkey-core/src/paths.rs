//! Where Latchkey keeps things by default, the same for the app and the CLI (the app's Tauri path
//! resolver gives the same folders for the identifier). Each can be overridden by an environment
//! variable, so tests and extra profiles never touch the real data:
//! `LATCHKEY_DATA_DIR`, `LATCHKEY_CONNECTIONS`, `LATCHKEY_KEYCHAIN_SERVICE`.

use std::path::PathBuf;

use crate::error::{Error, Result};

/// The app's identifier: its URL scheme and folder names.
pub const IDENTIFIER: &str = "io.latchkey.desktop";

fn env_path(name: &str) -> Option<PathBuf> {
    std::env::var_os(name).filter(|v| !v.is_empty()).map(PathBuf::from)
}

/// Metadata, audit trail and logs: `LATCHKEY_DATA_DIR`, else the OS app-data folder.
pub fn data_dir() -> Result<PathBuf> {
    env_path("LATCHKEY_DATA_DIR")
        .or_else(|| dirs::data_dir().map(|d| d.join(IDENTIFIER)))
        .ok_or_else(|| Error::InvalidInput("No data folder: set LATCHKEY_DATA_DIR.".into()))
}

/// The connections file: `LATCHKEY_CONNECTIONS`, else `connections.toml` in the OS config folder.
pub fn connections_file() -> Result<PathBuf> {
    env_path("LATCHKEY_CONNECTIONS")
        .or_else(|| dirs::config_dir().map(|d| d.join(IDENTIFIER).join("connections.toml")))
        .ok_or_else(|| Error::InvalidInput("No config folder: set LATCHKEY_CONNECTIONS.".into()))
}

/// The keychain service name: `LATCHKEY_KEYCHAIN_SERVICE`, else the identifier, with `.dev`
/// appended in debug builds so a development build never reads a release build's secrets.
pub fn keychain_service() -> String {
    std::env::var("LATCHKEY_KEYCHAIN_SERVICE").ok().filter(|s| !s.is_empty()).unwrap_or_else(|| {
        if cfg!(debug_assertions) { format!("{IDENTIFIER}.dev") } else { IDENTIFIER.to_owned() }
    })
}

/// The desktop app's executable (the window).
pub const DESKTOP_BINARY: &str = "latchkey-desktop";
/// Linux: the WebKit-free executable Latchkey rests in while its window is closed.
pub const TRAY_BINARY: &str = "latchkey-tray";

/// The executable `name` in the running one's folder (where the packages install all of
/// Latchkey's, and where cargo builds them), if it is there.
pub fn sibling_executable(name: &str) -> Option<PathBuf> {
    let path = std::env::current_exe().ok()?.parent()?.join(name);
    path.is_file().then_some(path)
}
