//! Apps and agents: the grants (Settings → Apps & agents) and the answers to the consent desk's
//! questions (consent.rs).

use latchkey_core::model::{AccountId, Actor, rfc3339};
use tauri::State;

use super::CmdResult;
use crate::consent::Consents;
use crate::dto::{ConsentAnswerDto, ConsentRequestDto, GrantDto};
use crate::setup::AppState;

/// Every grant, ended ones too, by consumer then account, with its account as the window names it.
#[tauri::command]
pub fn list_grants(state: State<'_, AppState>) -> CmdResult<Vec<GrantDto>> {
    let now =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64);
    let grants = state.core.grants()?;
    Ok(grants
        .into_iter()
        .map(|g| {
            let account = state.core.get_account(&g.account).ok();
            GrantDto {
                account_ref: account.as_ref().map(|a| format!("{}:{}", a.connection, a.identifier)),
                connection_name: account.as_ref().map(|a| state.core.connection_name(&a.connection)),
                identity: account.as_ref().map(|a| {
                    a.identity.as_ref().and_then(|i| i.email.clone()).unwrap_or_else(|| a.identifier.clone())
                }),
                expired: !g.is_live(now),
                consumer: g.consumer,
                account_id: g.account.to_string(),
                access: g.access.into(),
                until: g.until.map(rfc3339),
                created_at: rfc3339(g.created_at),
                last_used: g.last_used.map(rfc3339),
            }
        })
        .collect())
}

/// Removes the consumer's grant on the account (audited, by the user).
#[tauri::command]
pub fn remove_grant(state: State<'_, AppState>, consumer: String, account_id: String) -> CmdResult<()> {
    let id = AccountId::parse(&account_id)?;
    state.core.remove_grant(&consumer, &id, &Actor::User)?;
    tracing::info!(account = %id, "grant removed");
    Ok(())
}

/// The consent questions waiting for the person, oldest first.
#[tauri::command]
pub fn pending_consents(consents: State<'_, Consents>) -> Vec<ConsentRequestDto> {
    consents.pending()
}

/// The person's answer to consent question `id`; "always" stores the grant before the program
/// hears it.
#[tauri::command]
pub fn answer_consent(
    state: State<'_, AppState>,
    consents: State<'_, Consents>,
    id: u32,
    answer: ConsentAnswerDto,
) -> CmdResult<()> {
    consents.answer(&state.core, id, answer)
}
