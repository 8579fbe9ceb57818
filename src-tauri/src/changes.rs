//! The core's changes, forwarded from one subscription: the window hears `accounts-changed` (the
//! whole list) and `connections-changed`, and the tray's summary and the notifications follow the
//! accounts. Whatever changed them (a command, a sign-in's callback, the refresher, another
//! process), the core announces it; nothing else emits these events.

use latchkey_core::Change;
use latchkey_core::model::{Account, AccountFilter};
use tauri::{AppHandle, Manager};
use tokio::sync::broadcast::error::{RecvError, TryRecvError};

use crate::commands::to_dto;
use crate::dto::AccountDto;
use crate::setup::AppState;

/// Subscribes to the core's changes and forwards them for as long as the app runs.
pub fn forward(app: &AppHandle) {
    let mut changes = app.state::<AppState>().core.subscribe();
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        loop {
            // A lost announcement (the backlog overflowed) may have been either.
            let mut connections = match changes.recv().await {
                Ok(change) => change == Change::Connections,
                Err(RecvError::Lagged(_)) => true,
                Err(RecvError::Closed) => return,
            };
            // What is already waiting is covered by this one update.
            loop {
                match changes.try_recv() {
                    Ok(change) => connections |= change == Change::Connections,
                    Err(TryRecvError::Lagged(_)) => connections = true,
                    Err(_) => break,
                }
            }
            if connections {
                crate::events::CONNECTIONS_CHANGED.emit(&app, ());
            }
            emit_accounts(&app, &app.state::<AppState>());
        }
    });
}

/// Sends the whole account list to the UI (and the tray's summary, and the notifications).
fn emit_accounts(app: &AppHandle, state: &AppState) {
    if let Some(accounts) = track_accounts(app, state) {
        let list: Vec<AccountDto> = accounts.iter().map(|a| to_dto(state, a)).collect();
        crate::events::ACCOUNTS_CHANGED.emit(app, list);
    }
}

/// The tray's summary and the notifications' view of the accounts as they are now (at start-up, where
/// no page listens yet and the window's first view already carries the list); the list, if it could
/// be read.
pub fn track_accounts(app: &AppHandle, state: &AppState) -> Option<Vec<Account>> {
    match state.core.list_connected_accounts(&AccountFilter::default()) {
        Ok(accounts) => {
            crate::tray::show_summary(app, &latchkey_core::attention::summary(&accounts));
            crate::notify::on_accounts(app, state, &accounts);
            Some(accounts)
        }
        Err(e) => {
            tracing::error!("cannot list accounts: {e}");
            None
        }
    }
}
