//! Deep links: the provider's redirect to `<identifier>:/oauth/{connection}/callback`, delivered by
//! the OS (a second process forwarded by single-instance on Linux and Windows, an event on macOS).
//! A link is only a claim: the core accepts it only if its `state` matches a sign-in this process
//! started, and logs never echo its query.

use tauri::{App, AppHandle, Emitter, Manager};
use tauri_plugin_deep_link::DeepLinkExt;

use crate::commands::{emit_accounts, to_dto};
use crate::dto::ConnectFailedDto;
use crate::setup::AppState;

pub fn listen(app: &App) -> Result<(), Box<dyn std::error::Error>> {
    // Linux: write the scheme handler for this binary (needed for AppImage and development builds;
    // packages also ship it in their .desktop file).
    #[cfg(target_os = "linux")]
    if std::env::var_os("FLATPAK_ID").is_none()
        && let Err(e) = app.deep_link().register_all()
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

fn deliver(app: &AppHandle, url: String) {
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        let state = app.state::<AppState>();
        match state.core.complete_authorization(&url).await {
            Ok(account) => {
                tracing::info!(account = %account.id, "sign-in completed");
                let _ = app.emit("connect-succeeded", to_dto(&state, &account));
            }
            Err(e) => {
                tracing::warn!(connection = ?e.connection.as_ref().map(|c| c.as_str()), "sign-in response refused: {}", e.error);
                let _ = app.emit(
                    "connect-failed",
                    ConnectFailedDto {
                        connection_id: e.connection.map(|c| c.to_string()),
                        account_id: e.account.map(|a| a.id.to_string()),
                        code: e.error.code().as_str(),
                        message: e.error.to_string(),
                    },
                );
            }
        }
        emit_accounts(&app, &state);
        if let Some(window) = app.get_webview_window("main") {
            let _ = window.set_focus();
        }
    });
}
