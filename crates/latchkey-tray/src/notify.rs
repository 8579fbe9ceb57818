//! Desktop notifications through `org.freedesktop.Notifications`, as the window's process sends
//! them (tauri-plugin-notification): the core's `attention` decides which.

use std::collections::HashMap;

use latchkey_core::attention::Notice;
use latchkey_core::paths::DESKTOP_BINARY;

#[zbus::proxy(
    interface = "org.freedesktop.Notifications",
    default_service = "org.freedesktop.Notifications",
    default_path = "/org/freedesktop/Notifications"
)]
trait Notifications {
    #[allow(clippy::too_many_arguments)]
    fn notify(
        &self,
        app_name: &str,
        replaces_id: u32,
        app_icon: &str,
        summary: &str,
        body: &str,
        actions: &[&str],
        hints: HashMap<&str, zbus::zvariant::Value<'_>>,
        expire_timeout: i32,
    ) -> zbus::Result<u32>;
}

/// Shows `notice`; a desktop without a notification service only costs a log line.
pub async fn show(bus: &zbus::Connection, notice: &Notice) {
    tracing::info!(title = %notice.title, "notification");
    let sent = async {
        NotificationsProxy::new(bus)
            .await?
            .notify("Latchkey", 0, DESKTOP_BINARY, &notice.title, &notice.body, &[], HashMap::new(), -1)
            .await
    };
    if let Err(e) = sent.await {
        tracing::warn!("cannot show a notification: {e}");
    }
}
