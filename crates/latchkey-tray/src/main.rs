//! `latchkey-tray`: Latchkey resting in the tray on Linux, in a process that links neither WebKit
//! nor GTK. `latchkey-desktop` replaces itself by this program (`exec`, same pid) once its window
//! is closed and nothing is under way, and this program replaces itself by `latchkey-desktop` when
//! the window is wanted again: from the tray's menu, a second launch, or a link (src-tauri/src/resting.rs).
//!
//! While it runs it is Latchkey for the rest of the desktop: it holds the app's single-instance
//! D-Bus name (the interface tauri-plugin-single-instance serves, so `latchkey-desktop` started
//! again hands its arguments here), shows the tray icon as a StatusNotifierItem with the same
//! summary and menu, runs the core's refresher and the watch for other processes' changes, and
//! sends the same notifications as the window's process; a program asking for consent brings the
//! window back to ask there (desk.rs). No sign-in is ever under way here.

#[cfg(target_os = "linux")]
mod app;
#[cfg(target_os = "linux")]
mod desk;
#[cfg(target_os = "linux")]
mod icon;
#[cfg(target_os = "linux")]
mod reap;
#[cfg(target_os = "linux")]
mod single_instance;

#[cfg(target_os = "linux")]
fn main() -> std::process::ExitCode {
    app::main()
}

#[cfg(not(target_os = "linux"))]
fn main() -> std::process::ExitCode {
    eprintln!("latchkey-tray is for Linux; elsewhere `latchkey-desktop --background` rests in the tray.");
    std::process::ExitCode::from(2)
}
