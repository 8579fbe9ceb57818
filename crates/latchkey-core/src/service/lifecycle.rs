//! How a long-running Latchkey program (the window's process, `latchkey-tray`) opens the core and
//! runs its background tasks: the same for both, so they log, open and stop alike.

use std::sync::Arc;

use super::{Latchkey, Options};
use crate::paths;

/// Starts the log in the data folder (at `default_log_filter` unless `RUST_LOG` says otherwise),
/// opens the core over the standard folders, connections file and keychain namespace (`paths`),
/// and logs where they are and what start-up repaired.
pub async fn open_standard(default_log_filter: &str) -> Result<Latchkey, Box<dyn std::error::Error>> {
    let data_dir = paths::data_dir()?;
    let connections_file = paths::connections_file()?;
    crate::logging::init(&data_dir, default_log_filter)?;
    let service = paths::keychain_service();
    let options = Options::standard(data_dir.clone(), connections_file.clone(), service.clone())?;
    tracing::info!(
        data_dir = %data_dir.display(),
        connections_file = %connections_file.display(),
        connections = options.connections.len(),
        keychain_service = %service,
        "Latchkey starting"
    );
    let (core, report) = Latchkey::open(options).await?;
    if report != Default::default() {
        tracing::info!(?report, "start-up repairs");
    }
    Ok(core)
}

/// The background refresher and the watch for other processes' changes, running on `runtime`.
/// What they change the core announces itself ([`Latchkey::subscribe`]).
pub struct Background {
    stop: tokio::sync::watch::Sender<bool>,
    tasks: [tokio::task::JoinHandle<()>; 2],
}

impl Background {
    pub fn start(core: &Arc<Latchkey>, runtime: &tokio::runtime::Handle) -> Background {
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let refresher = runtime.spawn(super::run_refresher(core.clone(), |_| {}, stopped.clone()));
        let watch = runtime.spawn(super::watch_outside_changes(core.clone(), stopped));
        Background { stop, tasks: [refresher, watch] }
    }

    /// Stops both and waits until they have ended (a refresh under way finishes first).
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        for task in self.tasks {
            let _ = task.await;
        }
    }

    /// Tells both to end, without waiting (the process is exiting).
    pub fn stop_now(self) {
        let _ = self.stop.send(true);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::service::Change;
    use crate::service::changes::tests::open_demo;

    /// A write by another process (here a second core over the same folder) reaches the first
    /// core's subscribers through its background watch, and stopping the tasks ends them.
    #[tokio::test]
    async fn the_watch_announces_another_processs_writes_and_stops() {
        let dir = tempfile::tempdir().expect("temporary folder");
        let core = Arc::new(open_demo(dir.path()).await);
        let other = open_demo(dir.path()).await;
        let mut changes = core.subscribe();
        let background = Background::start(&core, &tokio::runtime::Handle::current());
        // The watch reads where the data stands when it starts; the write comes after that.
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        let account = other
            .get_or_create_connected_account("demo", "someone", &crate::model::Actor::User)
            .expect("account");
        let heard = tokio::time::timeout(std::time::Duration::from_secs(5), changes.recv()).await;
        assert_eq!(heard.expect("in time").expect("a change"), Change::Accounts);
        assert_eq!(core.get_account(&account.id).expect("seen here").identifier, "someone");
        tokio::time::timeout(std::time::Duration::from_secs(5), background.stop()).await.expect("stops");
    }
}
