//! Linux: Latchkey resting in the tray in a process that never made a webview.
//!
//! A process that has shown the window keeps what WebKit and GTK's GL set-up brought in after the
//! window is destroyed: WebKit's network process, the pages of WebKit's libraries it touched, and
//! Mesa's GL driver (about 200 MiB measured, docs/performance.md). So once the window is closed and
//! nothing is under way (`Latchkey::is_idle`: no sign-in waiting, no exchange, refresh or revocation
//! running), the process replaces itself (`exec`, same pid) with `latchkey-desktop --background`,
//! which starts the tray and the refresher, never creates a webview and skips GDK's GL set-up
//! (`GDK_GL=disable`). Opening the window from there replaces the process again, with a normal
//! start (and any link it was handed on the command line, where the deep-link plugin finds it).
//!
//! Elsewhere (macOS, Windows) closing the window only destroys its webview; `--background` still
//! starts without a window, which is opened in the same process.

use tauri::AppHandle;

/// The command-line flag for a start in the tray, without the window.
pub const BACKGROUND: &str = "--background";

/// Whether this process was started in the tray (`--background`).
pub fn started_in_background() -> bool {
    std::env::args().skip(1).any(|a| a == BACKGROUND)
}

/// Whether this process is the light one: started in the tray and never to create a webview
/// itself (Linux). Set once the tray exists.
pub fn is_light() -> bool {
    imp::is_light()
}

/// Called once the tray icon exists: a `--background` start becomes the light process.
pub fn tray_ready() {
    imp::tray_ready();
}

/// The window was closed and Latchkey stays in the tray: rest in a light process when idle.
pub fn window_closed(app: &AppHandle) {
    imp::window_closed(app);
}

/// From the light process: start the window (in a new process image), handing it `urls`.
pub fn wake(app: &AppHandle, urls: Vec<String>) {
    imp::wake(app, urls);
}

#[cfg(target_os = "linux")]
mod imp {
    use std::os::unix::process::CommandExt;
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::Duration;

    use tauri::{AppHandle, Manager};

    use crate::setup::AppState;

    /// How long a closed window waits before resting: reopening it within this costs nothing.
    const GRACE: Duration = Duration::from_secs(2);
    /// How often an under-way operation is checked for having ended.
    const POLL: Duration = Duration::from_millis(250);
    /// Where the user's own `GDK_GL` waits while the light process runs without GL.
    const SAVED_GDK_GL: &str = "LATCHKEY_SAVED_GDK_GL";

    static LIGHT: AtomicBool = AtomicBool::new(false);
    /// A replacement is being prepared (at most one at a time).
    static SWITCHING: AtomicBool = AtomicBool::new(false);
    /// Links for the window process, gathered while the switch is prepared.
    static URLS: Mutex<Vec<String>> = Mutex::new(Vec::new());

    pub fn is_light() -> bool {
        LIGHT.load(Ordering::SeqCst)
    }

    pub fn tray_ready() {
        if super::started_in_background() {
            LIGHT.store(true, Ordering::SeqCst);
            reap_inherited_children();
        }
    }

    /// The window's process image started WebKit's processes as its children; after the `exec`
    /// they end (their connection to it is gone) with nobody left to wait for them. This process
    /// starts no children of its own before this runs, so every child it has now is such a one:
    /// wait for each on a thread, so none stays behind as a zombie.
    fn reap_inherited_children() {
        let me = std::process::id();
        let children: Vec<i32> = std::fs::read_dir("/proc")
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
            .filter(|pid| parent_of(*pid) == Some(me))
            .collect();
        if children.is_empty() {
            return;
        }
        let _ = std::thread::Builder::new().name("reap".into()).spawn(move || {
            for pid in children {
                let _ = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(pid), None);
            }
        });
    }

    /// The parent pid in `/proc/<pid>/stat` (the field after the parenthesised command name).
    fn parent_of(pid: i32) -> Option<u32> {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        stat.get(stat.rfind(')')? + 1..)?.split_whitespace().nth(1)?.parse().ok()
    }

    #[derive(Clone, Copy, PartialEq)]
    enum Target {
        Tray,
        Window,
    }

    pub fn window_closed(app: &AppHandle) {
        if !is_light() {
            switch(app, Target::Tray);
        }
    }

    pub fn wake(app: &AppHandle, urls: Vec<String>) {
        URLS.lock().unwrap_or_else(|p| p.into_inner()).extend(urls);
        switch(app, Target::Window);
    }

    fn has_window(app: &AppHandle) -> bool {
        !app.webview_windows().is_empty()
    }

    fn switch(app: &AppHandle, target: Target) {
        if SWITCHING.swap(true, Ordering::SeqCst) {
            return;
        }
        let app = app.clone();
        tauri::async_runtime::spawn(async move {
            if target == Target::Tray {
                tokio::time::sleep(GRACE).await;
            }
            let core = app.state::<AppState>().core.clone();
            loop {
                // Opened again meanwhile: stay as we are.
                if target == Target::Tray && has_window(&app) {
                    SWITCHING.store(false, Ordering::SeqCst);
                    return;
                }
                if core.is_idle() {
                    break;
                }
                tokio::time::sleep(POLL).await;
            }
            crate::background::stop(&app).await;
            let main = app.clone();
            let scheduled = app.run_on_main_thread(move || replace(&main, target));
            if scheduled.is_err() {
                crate::background::start(&app);
                SWITCHING.store(false, Ordering::SeqCst);
            }
        });
    }

    /// On the main thread, where the window is opened: nothing can open it between this check and
    /// the `exec`.
    fn replace(app: &AppHandle, target: Target) {
        let core = app.state::<AppState>().core.clone();
        if (target == Target::Tray && has_window(app)) || !core.is_idle() {
            crate::background::start(app);
            SWITCHING.store(false, Ordering::SeqCst);
            if target == Target::Window || !has_window(app) {
                switch(app, target);
            }
            return;
        }
        // After an upgrade replaced the binary, the running one is gone from disk: stay as we are.
        let exe = match std::env::current_exe() {
            Ok(exe) if exe.exists() => exe,
            Ok(exe) => {
                return failed(
                    app,
                    &std::io::Error::new(std::io::ErrorKind::NotFound, exe.display().to_string()),
                );
            }
            Err(e) => return failed(app, &e),
        };
        let mut command = std::process::Command::new(exe);
        match target {
            Target::Tray => {
                command.arg(super::BACKGROUND).env("GDK_GL", "disable");
                match std::env::var_os("GDK_GL") {
                    Some(own) => command.env(SAVED_GDK_GL, own),
                    None => command.env_remove(SAVED_GDK_GL),
                };
            }
            Target::Window => {
                command.args(std::mem::take(&mut *URLS.lock().unwrap_or_else(|p| p.into_inner())));
                match std::env::var_os(SAVED_GDK_GL) {
                    Some(own) => command.env("GDK_GL", own),
                    None => command.env_remove("GDK_GL"),
                };
                command.env_remove(SAVED_GDK_GL);
            }
        }
        tracing::info!(
            to = if target == Target::Tray { "tray" } else { "window" },
            "Latchkey replaces its process"
        );
        core.release_instance();
        // Only returns when the new image could not start.
        let e = command.exec();
        failed(app, &e);
    }

    fn failed(app: &AppHandle, e: &std::io::Error) {
        tracing::warn!("Latchkey could not replace its process ({e}); it stays as it is");
        crate::background::start(app);
        SWITCHING.store(false, Ordering::SeqCst);
    }
}

#[cfg(not(target_os = "linux"))]
mod imp {
    use tauri::AppHandle;

    pub fn is_light() -> bool {
        false
    }

    pub fn tray_ready() {}

    pub fn window_closed(_app: &AppHandle) {}

    pub fn wake(_app: &AppHandle, _urls: Vec<String>) {}
}
