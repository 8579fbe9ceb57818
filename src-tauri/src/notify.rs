//! Desktop notifications (tauri-plugin-notification) for what `latchkey_core::attention` finds: one
//! when an account comes to need the user, one when it works again, never more per incident.
//! Incidents older than the process are left to the banner and the tray.

use std::sync::Mutex;

use latchkey_core::attention::Incidents;
use latchkey_core::model::Account;
use tauri::{AppHandle, Manager};
use tauri_plugin_notification::NotificationExt;

use crate::setup::AppState;

/// The incidents seen so far.
#[derive(Default)]
pub struct Notifier(Mutex<Incidents>);

/// Called with every account list the window gets; shows what changed.
pub fn on_accounts(app: &AppHandle, state: &AppState, accounts: &[Account]) {
    let Some(notifier) = app.try_state::<Notifier>() else { return };
    let notices = notifier
        .0
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .changes(accounts, |a| state.core.connection_name(&a.connection));
    for n in notices {
        tracing::info!(title = %n.title, "notification");
        if let Err(e) = app.notification().builder().title(&n.title).body(&n.body).show() {
            tracing::warn!("cannot show a notification: {e}");
        }
    }
}
