//! The log of a Latchkey program with a window or a tray: stderr and `logs/latchkey.log` in the
//! data folder. `RUST_LOG` sets the level. Nothing logged carries a secret: `Secret` has no
//! `Display` and its `Debug` is redacted (secret.rs).

use std::path::Path;
use std::sync::Mutex;

use tracing_subscriber::fmt::writer::MakeWriterExt;

/// Starts logging, at `default_filter` unless `RUST_LOG` says otherwise. Once per process.
pub fn init(data_dir: &Path, default_filter: &str) -> std::io::Result<()> {
    let dir = data_dir.join("logs");
    std::fs::create_dir_all(&dir)?;
    let file = std::fs::OpenOptions::new().create(true).append(true).open(dir.join("latchkey.log"))?;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_filter));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(false)
        .with_writer(std::io::stderr.and(Mutex::new(file)))
        .try_init();
    Ok(())
}
