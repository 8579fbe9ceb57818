//! Desktop notifications on Linux, through `org.freedesktop.Notifications` on the session bus: the
//! window's process and latchkey-tray send them alike (`attention` decides which). Behind the
//! `notifications` feature, so the CLI links no D-Bus client. zbus's executor is the caller's choice
//! (latchkey-tray: tokio; the window's process: the async-io one its Tauri plugins already use).

use std::collections::HashMap;

use tokio::sync::OnceCell;

use crate::attention::Notice;
use crate::paths::DESKTOP_BINARY;

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

/// Shows `notice` on `bus`; a desktop without a notification service only costs a log line.
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

/// For a process with no session-bus connection of its own (the window's): one made on the first
/// notification and kept.
#[derive(Default)]
pub struct SessionBus(OnceCell<zbus::Connection>);

impl SessionBus {
    /// Shows `notices` in order.
    pub async fn show(&self, notices: &[Notice]) {
        match self.0.get_or_try_init(zbus::Connection::session).await {
            Ok(bus) => {
                for notice in notices {
                    show(bus, notice).await;
                }
            }
            Err(e) => tracing::warn!("cannot show a notification: no session bus: {e}"),
        }
    }
}
