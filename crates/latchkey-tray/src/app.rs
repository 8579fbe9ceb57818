//! The resting process: claims the single-instance name, opens the core, serves the resting consent
//! desk, shows the tray icon, runs the refresher and the watch, and leaves by Quit or by replacing
//! itself with the window's process.

use std::os::unix::process::CommandExt;
use std::process::ExitCode;
use std::sync::Arc;

use ksni::TrayMethods;
use latchkey_core::attention::{self, Incidents};
use latchkey_core::model::AccountFilter;
use latchkey_core::paths::{self, DESKTOP_BINARY};
use latchkey_core::{Background, Latchkey};
use tokio::sync::broadcast::error::{RecvError, TryRecvError};
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};

use crate::icon::TrayIcon;
use crate::single_instance::{self, Claim};

/// What the tray, the single-instance interface and the background tasks tell the main loop.
pub enum Event {
    /// The window is wanted, with these links for it.
    Open(Vec<String>),
    Quit,
    /// The accounts may have changed (the core announced it: a refresh, or another process).
    Changed,
}

pub fn main() -> ExitCode {
    crate::reap::inherited_children();
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("Latchkey could not start its tray: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run()) {
        Ok(code) => code,
        Err(e) => {
            tracing::error!("Latchkey's tray stops: {e}");
            eprintln!("Latchkey's tray stops: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<ExitCode, Box<dyn std::error::Error>> {
    let (events, mut inbox) = unbounded_channel();
    let bus = match single_instance::claim(events.clone()).await {
        Claim::Held(bus) => bus,
        Claim::Taken => {
            eprintln!("Latchkey is already running.");
            return Ok(ExitCode::SUCCESS);
        }
        Claim::Unavailable(e) => return Err(format!("no D-Bus session, so no tray ({e})").into()),
    };
    latchkey_core::signals::defer_termination()?;
    let core = Arc::new(latchkey_core::open_standard("info,latchkey_core=debug,latchkey_tray=debug").await?);
    forward_changes(&core, events.clone());
    // Kept through a failed opening of the window; the window's process replaces its file.
    let _desk = crate::desk::start(core.data_dir(), events.clone()).await;

    let tray = TrayIcon::new(String::new(), events.clone())
        // Also without a tray host yet: the icon appears when one starts.
        .assume_sni_available(true)
        .spawn()
        .await?;
    // The summary, and the incidents as they stand (never announced: they are older than this).
    let mut incidents = Incidents::default();
    accounts_changed(&core, &bus, &tray, &mut incidents).await;
    tracing::info!("Latchkey rests in the tray");

    loop {
        let background = Background::start(&core, &tokio::runtime::Handle::current());
        let leave = serve(&core, &bus, &tray, &mut incidents, &mut inbox).await;
        background.stop().await;
        match leave {
            Leave::Quit => {
                tracing::info!("Latchkey quits from the tray");
                tray.shutdown().await;
                return Ok(ExitCode::SUCCESS);
            }
            Leave::Window(links) => {
                let e = open_window(&core, links);
                tracing::error!("Latchkey could not open its window ({e}); it stays in the tray");
            }
        }
    }
}

enum Leave {
    Quit,
    Window(Vec<String>),
}

/// Handles events until the user opens the window or quits.
async fn serve(
    core: &Latchkey,
    bus: &zbus::Connection,
    tray: &ksni::Handle<TrayIcon>,
    incidents: &mut Incidents,
    inbox: &mut UnboundedReceiver<Event>,
) -> Leave {
    while let Some(event) = inbox.recv().await {
        match event {
            Event::Open(links) => return Leave::Window(links),
            Event::Quit => return Leave::Quit,
            Event::Changed => accounts_changed(core, bus, tray, incidents).await,
        }
    }
    Leave::Quit
}

/// Shows the accounts' summary in the tray, and notifies what changed since they were last seen.
async fn accounts_changed(
    core: &Latchkey,
    bus: &zbus::Connection,
    tray: &ksni::Handle<TrayIcon>,
    incidents: &mut Incidents,
) {
    let accounts = match core.list_connected_accounts(&AccountFilter::default()) {
        Ok(accounts) => accounts,
        Err(e) => return tracing::error!("cannot list accounts: {e}"),
    };
    let summary = attention::summary(&accounts);
    tray.update(|icon| icon.summary = summary).await;
    for notice in incidents.changes(&accounts, |a| core.connection_name(&a.connection)) {
        latchkey_core::notify::show(bus, &notice).await;
    }
}

/// Replaces this process by the window's (`latchkey-desktop`, with the links); returns only if
/// that could not start.
fn open_window(core: &Latchkey, links: Vec<String>) -> std::io::Error {
    let Some(desktop) = paths::sibling_executable(DESKTOP_BINARY) else {
        return std::io::Error::new(std::io::ErrorKind::NotFound, DESKTOP_BINARY);
    };
    tracing::info!(links = links.len(), "Latchkey opens its window");
    core.release_instance();
    std::process::Command::new(desktop).args(links).exec()
}

/// Tells the main loop each time the core announces a change (several waiting count as one).
fn forward_changes(core: &Latchkey, events: UnboundedSender<Event>) {
    let mut changes = core.subscribe();
    tokio::spawn(async move {
        while !matches!(changes.recv().await, Err(RecvError::Closed)) {
            while !matches!(changes.try_recv(), Err(TryRecvError::Empty | TryRecvError::Closed)) {}
            if events.send(Event::Changed).is_err() {
                return;
            }
        }
    });
}
