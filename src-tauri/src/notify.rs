//! Desktop notifications for what `latchkey_core::attention` finds: one when an account comes to
//! need the user, one when it works again, never more per incident. Incidents older than the
//! process are left to the banner and the tray. On Linux they go over D-Bus as latchkey-tray sends
//! them (`latchkey_core::notify`, on the zbus the Tauri plugins already link); elsewhere through
//! tauri-plugin-notification.

use std::sync::Mutex;

use latchkey_core::attention::Incidents;
use latchkey_core::model::Account;
use tauri::{AppHandle, Manager};

use crate::setup::AppState;

/// The incidents seen so far, and on Linux the session bus the notifications go over.
#[derive(Default)]
pub struct Notifier {
    incidents: Mutex<Incidents>,
    #[cfg(target_os = "linux")]
    bus: std::sync::Arc<latchkey_core::notify::SessionBus>,
}

/// Called with every account list the window gets; shows what changed.
pub fn on_accounts(app: &AppHandle, state: &AppState, accounts: &[Account]) {
    let Some(notifier) = app.try_state::<Notifier>() else { return };
    let notices = notifier
        .incidents
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .changes(accounts, |a| state.core.connection_name(&a.connection));
    if notices.is_empty() {
        return;
    }
    #[cfg(target_os = "linux")]
    {
        let bus = notifier.bus.clone();
        tauri::async_runtime::spawn(async move { bus.show(&notices).await });
    }
    #[cfg(not(target_os = "linux"))]
    {
        use tauri_plugin_notification::NotificationExt;
        for n in notices {
            tracing::info!(title = %n.title, "notification");
            if let Err(e) = app.notification().builder().title(&n.title).body(&n.body).show() {
                tracing::warn!("cannot show a notification: {e}");
            }
        }
    }
}
