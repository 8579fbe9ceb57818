//! Deep links: the provider's redirect to `<identifier>:/oauth/{connection}/callback`, delivered by
//! the OS (a second process forwarded by single-instance on Linux and Windows, an event on macOS).
//! A link is only a claim: the core accepts it only if its `state` matches a sign-in this process
//! started, and logs never echo its query.

use tauri::{App, AppHandle, Manager, Runtime};
use tauri_plugin_deep_link::DeepLinkExt;

use crate::commands::to_dto;
use crate::dto::ConnectFailedDto;
use crate::setup::AppState;

pub fn listen(app: &App) -> Result<(), Box<dyn std::error::Error>> {
    #[cfg(target_os = "linux")]
    if registers_at_run_time(
        std::env::var_os("APPIMAGE").is_some(),
        std::env::var_os("FLATPAK_ID").is_some(),
        cfg!(debug_assertions),
    ) && let Err(e) = app.deep_link().register_all()
    {
        tracing::warn!("could not register the URL scheme handler: {e}");
    }
    let handle = app.handle().clone();
    app.deep_link().on_open_url(move |event| {
        for url in event.urls() {
            deliver(&handle, url.to_string());
        }
    });
    // A cold start by a link (macOS) carries the URL here. It cannot match a sign-in of this new
    // process, so it is reported like any unexpected link.
    if let Ok(Some(urls)) = app.deep_link().get_current() {
        for url in urls {
            deliver(app.handle(), url.to_string());
        }
    }
    Ok(())
}

/// Linux: whether this process writes its own URL scheme handler at start
/// (`register_all()`: `~/.local/share/applications/<bin>-handler.desktop` and `xdg-mime default`).
/// - An AppImage does, on every start: it ships no installed .desktop file and may have moved.
/// - A development build does, so `cargo run` and the end-to-end test receive links.
/// - Never under Flatpak: the sandbox cannot write the host's handlers; its exported .desktop file
///   carries the scheme.
/// - A .deb / .rpm build does not: the package's own .desktop file (`MimeType=x-scheme-handler/…`,
///   plain `Exec` line) is the handler. A per-user handler would shadow it, outlive an uninstall,
///   and its quoted `Exec` line is one Debian 12's generic `xdg-open` cannot run.
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
fn registers_at_run_time(appimage: bool, flatpak: bool, debug_build: bool) -> bool {
    !flatpak && (appimage || debug_build)
}

fn deliver(app: &AppHandle, url: String) {
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        let core = app.state::<AppState>().core.clone();
        let result = core.complete_authorization(&url).await;
        report_sign_in(&app, result);
    });
}

/// Tells the window how a sign-in ended (deep link or loopback), and brings it to the front.
pub fn report_sign_in<R: Runtime>(
    app: &AppHandle<R>,
    result: Result<latchkey_core::model::Account, latchkey_core::CallbackError>,
) {
    let state = app.state::<AppState>();
    match result {
        // The user gave up on it in the window, which knows.
        Err(e) if matches!(e.error, latchkey_core::Error::Cancelled) => {}
        Ok(account) => {
            tracing::info!(account = %account.id, "sign-in completed");
            crate::events::CONNECT_SUCCEEDED.emit(app, to_dto(&state, &account));
        }
        Err(e) => {
            tracing::warn!(connection = ?e.connection.as_ref().map(|c| c.as_str()), "sign-in response refused: {}", e.error);
            crate::events::CONNECT_FAILED.emit(
                app,
                ConnectFailedDto {
                    connection_id: e.connection.map(|c| c.to_string()),
                    account_id: e.account.map(|a| a.id.to_string()),
                    code: e.error.code().as_str(),
                    message: e.error.to_string(),
                },
            );
        }
    }
    if let Some(window) = app.get_webview_window("main") {
        let _ = window.set_focus();
    }
}

#[cfg(test)]
mod tests {
    use super::registers_at_run_time;

    #[test]
    fn only_appimages_and_development_builds_register_the_scheme_at_run_time() {
        // (APPIMAGE set, FLATPAK_ID set, debug build) → registers
        let cases = [
            ((false, false, false), false), // .deb / .rpm: the package's .desktop file
            ((true, false, false), true),   // release AppImage: every start
            ((false, false, true), true),   // development build
            ((true, false, true), true),
            ((false, true, false), false), // Flatpak: never
            ((true, true, false), false),
            ((false, true, true), false),
            ((true, true, true), false),
        ];
        for ((appimage, flatpak, debug), expected) in cases {
            assert_eq!(
                registers_at_run_time(appimage, flatpak, debug),
                expected,
                "APPIMAGE={appimage} FLATPAK_ID={flatpak} debug={debug}"
            );
        }
    }
}
