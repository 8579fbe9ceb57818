//! Signing in: start it in the browser (deep link or loopback), open its link again, cancel it.
//! The authorization URL stays in the core's table of pending sign-ins; it never crosses IPC (it
//! carries the sign-in's `state`).

use latchkey_core::model::{AccountId, Actor};
use tauri::{AppHandle, Manager, Runtime, State};

use super::{CmdResult, open_in_browser, to_dto};
use crate::dto::{AccountDto, ErrorDto};
use crate::setup::AppState;

/// Starts a sign-in and opens the provider's page in the system browser; the outcome arrives later
/// through the deep link as `connect-succeeded` / `connect-failed` and `accounts-changed`.
/// With the identifier of an existing account, re-authorizes that account.
#[tauri::command]
pub async fn connect<R: Runtime>(
    app: AppHandle<R>,
    state: State<'_, AppState>,
    connection_id: String,
    identifier: Option<String>,
) -> CmdResult<AccountDto> {
    let identifier = identifier.as_deref().filter(|i| !i.trim().is_empty());
    let mut link = state.core.get_authorization_link(&connection_id, identifier, &Actor::User).await?;
    if let Err(e) = open_in_browser(link.url.as_str()) {
        state.core.cancel_authorization(&link.account.id);
        return Err(e);
    }
    tracing::info!(connection = %connection_id, account = %link.account.id, "sign-in started in the browser");
    // A loopback redirect comes back here, not through the deep link: wait for it in the background.
    if let Some(wait) = link.loopback.take() {
        let app = app.clone();
        tauri::async_runtime::spawn(async move {
            let core = app.state::<AppState>().core.clone();
            let result = core.finish_loopback(wait).await;
            crate::deep_link::report_sign_in(&app, result);
        });
    }
    Ok(to_dto(&state, &link.account))
}

/// "Open the link again": the same sign-in, in the browser once more.
#[tauri::command]
pub fn reopen_sign_in(state: State<'_, AppState>, account_id: String) -> CmdResult<()> {
    let id = AccountId::parse(&account_id)?;
    match state.core.sign_in_link(&id) {
        Some(url) => open_in_browser(url.as_str()),
        None => Err(ErrorDto::invalid(
            "This sign-in has already finished or expired. Start it again with Connect.",
        )),
    }
}

/// Forgets a sign-in the user gave up on; a late answer from the browser is then refused.
#[tauri::command]
pub fn cancel_sign_in(state: State<'_, AppState>, account_id: String) -> CmdResult<AccountDto> {
    let id = AccountId::parse(&account_id)?;
    state.core.cancel_authorization(&id);
    tracing::info!(account = %id, "sign-in cancelled");
    Ok(to_dto(&state, &state.core.get_account(&id)?))
}
