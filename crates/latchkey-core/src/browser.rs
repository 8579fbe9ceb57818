//! Opening an authorization URL in the user's browser. The URL carries the sign-in's `state` and
//! PKCE challenge; any local user can read a process's argv (`/proc/*/cmdline`), so on Linux it
//! goes to the XDG desktop portal over the session bus (`org.freedesktop.portal.OpenURI`), and
//! only when no portal answers is an opener (`xdg-open` and the like) started with it as its
//! argument. The app and the CLI both open sign-ins here.

use crate::error::{Error, Result};

/// Opens `url` in the default browser.
pub fn open_in_browser(url: &str) -> Result<()> {
    #[cfg(target_os = "linux")]
    match portal::open_uri(url) {
        Ok(()) => return Ok(()),
        Err(why) => tracing::info!("the desktop portal did not open the browser ({why}); starting an opener"),
    }
    open::that_detached(url).map_err(|e| {
        Error::InvalidInput(format!(
            "Latchkey could not open a web browser ({e}). Check that a default browser is set."
        ))
    })
}

#[cfg(target_os = "linux")]
mod portal {
    use std::time::Duration;

    use dbus::arg::PropMap;
    use dbus::blocking::Connection;

    const DESTINATION: &str = "org.freedesktop.portal.Desktop";
    const PATH: &str = "/org/freedesktop/portal/desktop";
    const INTERFACE: &str = "org.freedesktop.portal.OpenURI";

    /// `OpenURI(parent_window, uri, options)`; the portal answers with a request handle at once
    /// and asks the browser to open the URI on its own.
    pub fn open_uri(uri: &str) -> Result<(), String> {
        if std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_none() {
            // libdbus would otherwise try to autolaunch a bus.
            return Err("no session bus".into());
        }
        let bus = Connection::new_session().map_err(|e| e.to_string())?;
        let portal = bus.with_proxy(DESTINATION, PATH, Duration::from_secs(5));
        let (_request,): (dbus::Path<'static>,) = portal
            .method_call(INTERFACE, "OpenURI", ("", uri, PropMap::new()))
            .map_err(|e| e.name().unwrap_or("an unnamed D-Bus error").to_owned())?;
        Ok(())
    }
}
