//! The accounts: list, detail, suspend and resume, test, revoke, labels and note, delete. The core
//! announces what they change (setup.rs forwards it to the window).

use latchkey_core::model::{AccountId, Actor};
use latchkey_core::store::AuditQuery;
use tauri::State;

use super::{CmdResult, account_dtos, to_dto};
use crate::dto::{AccountDetailDto, AccountDto, HandoutPolicyDto, IdentityDto, RevokeDto};
use crate::setup::AppState;

/// From local metadata only: no keychain, no network.
#[tauri::command]
pub fn list_accounts(state: State<'_, AppState>) -> CmdResult<Vec<AccountDto>> {
    account_dtos(&state)
}

/// Keeps the account's tokens but stops refreshing them and handing them out.
#[tauri::command]
pub async fn suspend_account(state: State<'_, AppState>, account_id: String) -> CmdResult<AccountDto> {
    let account = state.core.suspend(&AccountId::parse(&account_id)?, &Actor::User).await?;
    Ok(to_dto(&state, &account))
}

/// Brings a suspended account back, refreshing its token first if it went stale.
#[tauri::command]
pub async fn resume_account(state: State<'_, AppState>, account_id: String) -> CmdResult<AccountDto> {
    let account = state.core.resume(&AccountId::parse(&account_id)?, &Actor::User).await?;
    Ok(to_dto(&state, &account))
}

/// One harmless call to the provider's identity endpoint with the account's token (refreshing once
/// after a 401). The identity crosses IPC; the token does not.
#[tauri::command]
pub async fn test_account(state: State<'_, AppState>, account_id: String) -> CmdResult<IdentityDto> {
    let i = state.core.test_account(&AccountId::parse(&account_id)?, &Actor::User).await?;
    Ok(IdentityDto { subject: i.subject, email: i.email, name: i.name })
}

/// One account and its history from the audit trail.
#[tauri::command]
pub fn get_account(state: State<'_, AppState>, account_id: String) -> CmdResult<AccountDetailDto> {
    let id = AccountId::parse(&account_id)?;
    let account = state.core.get_account(&id)?;
    let history = state.core.audit_trail(&AuditQuery { account: Some(id), ..Default::default() })?;
    Ok(AccountDetailDto {
        account: to_dto(&state, &account),
        history: history.iter().map(Into::into).collect(),
    })
}

#[tauri::command]
pub async fn revoke(state: State<'_, AppState>, account_id: String) -> CmdResult<RevokeDto> {
    let id = AccountId::parse(&account_id)?;
    let outcome = state.core.revoke(&id, &Actor::User).await?;
    tracing::info!(account = %id, confirmed = outcome.provider_confirmed, "account revoked");
    Ok(RevokeDto {
        account: to_dto(&state, &outcome.account),
        provider_confirmed: outcome.provider_confirmed,
        message: outcome.message,
        connected_apps_url: outcome.connected_apps_url,
    })
}

#[tauri::command]
pub fn set_labels(
    state: State<'_, AppState>,
    account_id: String,
    labels: Vec<String>,
) -> CmdResult<AccountDto> {
    let id = AccountId::parse(&account_id)?;
    let labels: Vec<&str> = labels.iter().map(String::as_str).collect();
    let account = state.core.set_labels(&id, &labels, &Actor::User)?;
    Ok(to_dto(&state, &account))
}

#[tauri::command]
pub fn set_note(
    state: State<'_, AppState>,
    account_id: String,
    note: Option<String>,
) -> CmdResult<AccountDto> {
    let id = AccountId::parse(&account_id)?;
    let account = state.core.set_note(&id, note.as_deref(), &Actor::User)?;
    Ok(to_dto(&state, &account))
}

/// Who may take the account's raw token or credential (audited when it changes).
#[tauri::command]
pub fn set_handout_policy(
    state: State<'_, AppState>,
    account_id: String,
    policy: HandoutPolicyDto,
) -> CmdResult<AccountDto> {
    let id = AccountId::parse(&account_id)?;
    let account = state.core.set_handout_policy(&id, policy.into(), &Actor::User)?;
    Ok(to_dto(&state, &account))
}

/// Removes the account from Latchkey (an Active one is revoked at the provider first, best effort).
#[tauri::command]
pub async fn delete_account(state: State<'_, AppState>, account_id: String) -> CmdResult<()> {
    let id = AccountId::parse(&account_id)?;
    state.core.delete_connected_account(&id, &Actor::User).await?;
    tracing::info!(account = %id, "account deleted");
    Ok(())
}
