//! The log of a Latchkey program with a window or a tray: stderr and `logs/latchkey.log` in the
//! data folder. `RUST_LOG` sets the levels as `target=level` directives (`info,latchkey_core=trace`)
//! for a `Targets` filter; an `EnvFilter`'s span and field filters, which nothing here needs, would
//! link a regex engine. Nothing logged carries a secret: `Secret` has no `Display` and its `Debug`
//! is redacted (secret.rs).

use std::path::Path;
use std::sync::Mutex;

use tracing_subscriber::filter::Targets;
use tracing_subscriber::fmt::writer::MakeWriterExt;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// Starts logging, at `default_filter` unless `RUST_LOG` says otherwise. Once per process. What the
/// dependencies log through the `log` crate (Tauri, wry, tao) goes to the same places.
pub fn init(data_dir: &Path, default_filter: &str) -> std::io::Result<()> {
    start(data_dir, filter(std::env::var("RUST_LOG").ok().as_deref(), default_filter))
}

fn start(data_dir: &Path, filter: Targets) -> std::io::Result<()> {
    let dir = data_dir.join("logs");
    crate::paths::private_dir(data_dir)?;
    crate::paths::private_dir(&dir)?;
    let path = dir.join("latchkey.log");
    let file = crate::paths::private_file().create(true).append(true).open(&path)?;
    crate::paths::restrict(&path)?;
    let _ = tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                .with_ansi(false)
                .with_writer(std::io::stderr.and(Mutex::new(file))),
        )
        .with(filter)
        .try_init();
    Ok(())
}

/// `RUST_LOG`'s directives when there are some and they parse, else `default_filter`'s (which must).
fn filter(rust_log: Option<&str>, default_filter: &str) -> Targets {
    rust_log
        .filter(|directives| !directives.trim().is_empty())
        .and_then(|directives| directives.parse().ok())
        .unwrap_or_else(|| default_filter.parse().unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use tracing::Level;

    use super::{filter, start};

    #[test]
    fn rust_log_sets_levels_per_target_and_a_bad_one_falls_back_to_the_default() {
        let default = "info,latchkey_core=debug";
        let from_default = filter(None, default);
        assert!(from_default.would_enable("latchkey_core::vault", &Level::DEBUG));
        assert!(!from_default.would_enable("tao::platform", &Level::DEBUG));
        assert!(from_default.would_enable("tao::platform", &Level::INFO));

        let from_env = filter(Some("warn,latchkey_desktop=trace"), default);
        assert!(from_env.would_enable("latchkey_desktop::commands", &Level::TRACE));
        assert!(!from_env.would_enable("latchkey_core::vault", &Level::INFO));

        for bad in ["latchkey_core=loud", "", "  "] {
            let bad = filter(Some(bad), default);
            assert!(bad.would_enable("latchkey_core::vault", &Level::DEBUG));
            assert!(!bad.would_enable("tao::platform", &Level::DEBUG));
        }
    }

    /// The only test here that starts the process's logger.
    #[test]
    fn records_of_the_log_crate_and_of_tracing_reach_the_log_file_at_their_levels() {
        let dir = tempfile::tempdir().expect("temporary folder");
        start(dir.path(), filter(None, "info,chatty=warn")).expect("logging starts");
        log::info!(target: "some_dependency", "a record through the log crate");
        log::info!(target: "chatty", "below chatty's level");
        tracing::info!(target: "latchkey_core", "an event through tracing");
        let text =
            std::fs::read_to_string(dir.path().join("logs").join("latchkey.log")).expect("the log file");
        assert!(text.contains("a record through the log crate"), "{text}");
        assert!(text.contains("an event through tracing"), "{text}");
        assert!(!text.contains("below chatty's level"), "{text}");
    }
}
