//! The IPC commands: each hands straight to the core and converts the result into DTOs.

use latchkey_core::model::{Account, AccountFilter, AccountId, Actor};
use tauri::{AppHandle, Emitter, State};
use tauri_plugin_opener::OpenerExt;

use crate::dto::{AccountDto, ConnectionDto, ErrorDto, RevokeDto};
use crate::setup::AppState;

type CmdResult<T> = Result<T, ErrorDto>;

#[tauri::command]
pub fn list_connections(state: State<'_, AppState>) -> CmdResult<Vec<ConnectionDto>> {
    let core = &state.core;
    core.connections()
        .iter()
        .map(|c| {
            let (status, error) = core.connection_status(c)?;
            Ok(ConnectionDto::new(c, status, error))
        })
        .collect()
}

#[tauri::command]
pub fn list_accounts(state: State<'_, AppState>) -> CmdResult<Vec<AccountDto>> {
    account_dtos(&state)
}

/// Starts a sign-in and opens the provider's page in the system browser; the outcome arrives later
/// through the deep link as `connect-succeeded` / `connect-failed` and `accounts-changed`.
#[tauri::command]
pub async fn connect(
    app: AppHandle,
    state: State<'_, AppState>,
    connection_id: String,
    identifier: Option<String>,
) -> CmdResult<AccountDto> {
    let identifier = identifier.as_deref().filter(|i| !i.trim().is_empty());
    let link = state.core.get_authorization_link(&connection_id, identifier, &Actor::User).await?;
    if let Err(e) = app.opener().open_url(link.url.as_str(), None::<&str>) {
        state.core.cancel_authorization(&link.account.id);
        tracing::warn!("could not open the browser: {e}");
        return Err(ErrorDto {
            code: "internal",
            message: "Latchkey could not open your web browser. Check that a default browser is set.".into(),
        });
    }
    tracing::info!(connection = %connection_id, account = %link.account.id, "sign-in started in the browser");
    emit_accounts(&app, &state);
    Ok(to_dto(&state, &link.account))
}

#[tauri::command]
pub async fn revoke(app: AppHandle, state: State<'_, AppState>, account_id: String) -> CmdResult<RevokeDto> {
    let id = AccountId::parse(&account_id)?;
    let outcome = state.core.revoke(&id, &Actor::User).await?;
    tracing::info!(account = %id, confirmed = outcome.provider_confirmed, "account revoked");
    emit_accounts(&app, &state);
    Ok(RevokeDto {
        account: to_dto(&state, &outcome.account),
        provider_confirmed: outcome.provider_confirmed,
        message: outcome.message,
    })
}

pub fn to_dto(state: &AppState, account: &Account) -> AccountDto {
    let name =
        state.core.connection(account.connection.as_str()).map_or(account.connection.as_str(), |c| &c.name);
    AccountDto::new(account, name, state.core.is_signing_in(&account.id))
}

fn account_dtos(state: &AppState) -> CmdResult<Vec<AccountDto>> {
    let accounts = state.core.list_connected_accounts(&AccountFilter::default())?;
    Ok(accounts.iter().map(|a| to_dto(state, a)).collect())
}

/// Sends the whole account list to the UI after any change.
pub fn emit_accounts(app: &AppHandle, state: &AppState) {
    match account_dtos(state) {
        Ok(list) => {
            let _ = app.emit("accounts-changed", list);
        }
        Err(e) => tracing::error!("cannot list accounts: {}", e.message),
    }
}
