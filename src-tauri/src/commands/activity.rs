//! The activity screen: the audit trail, read with a filter.

use latchkey_core::model::AccountId;
use latchkey_core::store::AuditQuery;
use tauri::State;

use super::CmdResult;
use crate::dto::{AuditEntryDto, AuditFilterDto};
use crate::setup::AppState;

/// The audit trail, oldest first.
#[tauri::command]
pub fn audit_trail(state: State<'_, AppState>, filter: AuditFilterDto) -> CmdResult<Vec<AuditEntryDto>> {
    let entries = state.core.audit_trail(&audit_query(&filter)?)?;
    Ok(entries.iter().map(Into::into).collect())
}

pub(super) fn audit_query(filter: &AuditFilterDto) -> CmdResult<AuditQuery> {
    Ok(AuditQuery {
        account: filter.account_id.as_deref().map(AccountId::parse).transpose()?,
        since: filter.since,
        until: filter.until,
    })
}
