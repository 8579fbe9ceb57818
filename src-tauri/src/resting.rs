//! Linux: Latchkey resting in the tray in a process without WebKit.
//!
//! A process that has shown the window keeps what WebKit and GTK brought in after the window is
//! destroyed: WebKit's network process, the pages of WebKit's libraries it touched, Mesa's GL
//! driver (docs/performance.md). So once the window is closed and nothing
//! is under way (`Latchkey::is_idle`: no sign-in waiting, no exchange, refresh or revocation
//! running), the process replaces itself (`exec`, same pid) with `latchkey-tray`, a program that
//! links neither WebKit nor GTK: the tray icon over D-Bus, the refresher, the notifications
//! (crates/latchkey-tray). Opening the window from there replaces that process by
//! `latchkey-desktop` again. `latchkey-desktop --background` (a login item) goes straight to it.
//!
//! Without `latchkey-tray` beside the executable (a `cargo build -p latchkey-desktop` alone), and
//! on macOS and Windows, closing the window only destroys its webview, and `--background` starts
//! the tray in this process.

use tauri::AppHandle;

/// The command-line flag for a start in the tray, without the window.
pub const BACKGROUND: &str = "--background";

/// Whether this process was started in the tray (`--background`).
pub fn started_in_background() -> bool {
    std::env::args().skip(1).any(|a| a == BACKGROUND)
}

/// First thing at start: a `--background` start becomes `latchkey-tray` when there is one (Linux).
pub fn background_start() {
    imp::background_start();
}

/// The window was closed and Latchkey stays in the tray: rest in `latchkey-tray` when idle.
pub fn window_closed(app: &AppHandle) {
    imp::window_closed(app);
}

#[cfg(target_os = "linux")]
mod imp {
    use std::os::unix::process::CommandExt;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::Duration;

    use latchkey_core::paths::{TRAY_BINARY, sibling_executable};
    use tauri::{AppHandle, Manager};

    use crate::setup::AppState;

    /// How long a closed window waits before resting: reopening it within this costs nothing.
    const GRACE: Duration = Duration::from_secs(2);
    /// How often an under-way operation is checked for having ended.
    const POLL: Duration = Duration::from_millis(250);

    /// A replacement is being prepared (at most one at a time).
    static SWITCHING: AtomicBool = AtomicBool::new(false);

    pub fn background_start() {
        if super::started_in_background()
            && let Some(tray) = sibling_executable(TRAY_BINARY)
        {
            // Only returns when the new image could not start; then this process is the tray.
            let e = std::process::Command::new(tray).exec();
            eprintln!("Latchkey could not start {TRAY_BINARY} ({e}); it starts in the tray itself");
        }
    }

    fn has_window(app: &AppHandle) -> bool {
        !app.webview_windows().is_empty()
    }

    pub fn window_closed(app: &AppHandle) {
        if sibling_executable(TRAY_BINARY).is_none() || SWITCHING.swap(true, Ordering::SeqCst) {
            return;
        }
        let app = app.clone();
        tauri::async_runtime::spawn(async move {
            tokio::time::sleep(GRACE).await;
            let core = app.state::<AppState>().core.clone();
            loop {
                // Opened again meanwhile: stay as we are.
                if has_window(&app) {
                    SWITCHING.store(false, Ordering::SeqCst);
                    return;
                }
                if core.is_idle() && !crate::consent::waiting(&app) {
                    break;
                }
                tokio::time::sleep(POLL).await;
            }
            crate::background::stop(&app).await;
            let main = app.clone();
            if app.run_on_main_thread(move || replace(&main)).is_err() {
                crate::background::start(&app);
                SWITCHING.store(false, Ordering::SeqCst);
            }
        });
    }

    /// On the main thread, where the window is opened: nothing can open it between this check and
    /// the `exec`.
    fn replace(app: &AppHandle) {
        let core = app.state::<AppState>().core.clone();
        let busy = !core.is_idle() || crate::consent::waiting(app);
        if has_window(app) || busy {
            crate::background::start(app);
            SWITCHING.store(false, Ordering::SeqCst);
            if busy && !has_window(app) {
                window_closed(app);
            }
            return;
        }
        // After an upgrade removed it, or replaced it while this runs: stay as we are.
        let Some(tray) = sibling_executable(TRAY_BINARY) else {
            return failed(app, &std::io::Error::new(std::io::ErrorKind::NotFound, TRAY_BINARY));
        };
        tracing::info!("Latchkey rests in {TRAY_BINARY}");
        core.release_instance();
        // The tray serves a resting desk of its own, which brings the window back for a question.
        crate::consent::hand_over(app);
        // Only returns when the new image could not start.
        let e = std::process::Command::new(tray).exec();
        failed(app, &e);
    }

    fn failed(app: &AppHandle, e: &std::io::Error) {
        tracing::warn!("Latchkey could not rest in {TRAY_BINARY} ({e}); it stays as it is");
        crate::background::start(app);
        crate::consent::start(app, crate::tray::open_window);
        SWITCHING.store(false, Ordering::SeqCst);
    }
}

#[cfg(not(target_os = "linux"))]
mod imp {
    use tauri::AppHandle;

    pub fn background_start() {}

    pub fn window_closed(_app: &AppHandle) {}
}
