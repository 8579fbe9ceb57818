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

/// Creates `dir` (and any missing parent) readable by the user only, and tightens it if it exists:
/// the data folder holds account names, emails and the audit trail.
pub fn private_dir(dir: &std::path::Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)?;
    restrict(dir)
}

/// Options that create a file readable and writable by the user only (on Unix: mode 0600 from the
/// start, whatever the umask).
pub fn private_file() -> std::fs::OpenOptions {
    #[allow(unused_mut)]
    let mut options = std::fs::OpenOptions::new();
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options
}

/// Takes away group and other access from an existing file or folder (0700 / 0600); a missing one
/// is left missing. A no-op off Unix, where the per-user folders are private already.
pub fn restrict(path: &std::path::Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let meta = match std::fs::symlink_metadata(path) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e),
        };
        let mode = meta.permissions().mode() & 0o7777;
        if !meta.file_type().is_symlink() && mode & 0o077 != 0 {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode & 0o700))?;
        }
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

/// Makes the data folder private: creates it 0700, and tightens what earlier versions left readable
/// (the folder, `logs/`, `locks/`, `instances/` and their files; the database is `Store::open_in`'s).
pub fn prepare_data_dir(dir: &std::path::Path) -> std::io::Result<()> {
    private_dir(dir)?;
    for sub in ["logs", "locks", "instances"] {
        let sub = dir.join(sub);
        private_dir(&sub)?;
        for entry in std::fs::read_dir(&sub)?.flatten() {
            if let Err(e) = restrict(&entry.path()) {
                tracing::warn!("cannot make {} private: {e}", entry.path().display());
            }
        }
    }
    Ok(())
}
