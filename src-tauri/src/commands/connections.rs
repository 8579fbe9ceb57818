//! The connections: list, configure (Settings → Connections), add and remove custom ones, and
//! their provider pages.

use latchkey_core::config::ConnectionType;
use latchkey_core::model::Actor;
use latchkey_core::protocol::RedirectStrategy;
use tauri::State;

use super::{CmdResult, open_in_browser};
use crate::dto::{ConnectionChangeDto, ConnectionDto, ErrorDto, NewConnectionDto, ProviderPageDto};
use crate::setup::AppState;

#[tauri::command]
pub fn list_connections(state: State<'_, AppState>) -> CmdResult<Vec<ConnectionDto>> {
    connection_dtos(&state)
}

pub(super) fn connection_dtos(state: &AppState) -> CmdResult<Vec<ConnectionDto>> {
    Ok(state.core.connection_views()?)
}

/// Settings → Connections: the client id and secret, the scopes, enabled or not.
#[tauri::command]
pub async fn configure_connection(
    state: State<'_, AppState>,
    connection_id: String,
    change: ConnectionChangeDto,
) -> CmdResult<ConnectionDto> {
    let client_secret = match (change.client_secret, change.clear_client_secret) {
        (_, true) => Some(None),
        (Some(s), false) if !s.trim().is_empty() => Some(Some(latchkey_core::secret::Secret::new(s))),
        _ => None,
    };
    let change = latchkey_core::ConnectionChange {
        client_id: change.client_id.map(|c| Some(c).filter(|c| !c.trim().is_empty())),
        client_secret,
        scopes: change.scopes,
        enabled: change.enabled,
    };
    let conn = state.core.configure_connection(&connection_id, change, &Actor::User).await?;
    tracing::info!(connection = %connection_id, "connection configured");
    Ok(state.core.connection_view(&conn)?)
}

/// Adds a custom connection: OpenID Connect by issuer (loopback redirect, so it works from the
/// command line too), an API key or a basic-auth service.
#[tauri::command]
pub async fn add_connection(
    state: State<'_, AppState>,
    connection: NewConnectionDto,
) -> CmdResult<ConnectionDto> {
    let kind = connection.kind;
    let blank = |v: Option<String>| v.filter(|s| !s.trim().is_empty());
    let new = latchkey_core::NewConnection {
        id: connection.id.trim().to_owned(),
        name: blank(connection.name),
        kind,
        issuer: blank(connection.issuer),
        client_id: blank(connection.client_id),
        client_secret: blank(connection.client_secret).map(latchkey_core::secret::Secret::new),
        scopes: connection.scopes,
        redirect: (kind == ConnectionType::OAuth2).then_some(RedirectStrategy::Loopback),
        ..Default::default()
    };
    let conn = state.core.add_connection(new, &Actor::User).await?;
    tracing::info!(connection = %conn.id, "connection added");
    Ok(state.core.connection_view(&conn)?)
}

/// Removes a custom connection that has no accounts.
#[tauri::command]
pub async fn remove_connection(state: State<'_, AppState>, connection_id: String) -> CmdResult<()> {
    state.core.remove_connection(&connection_id, &Actor::User).await?;
    Ok(())
}

/// Opens one of a connection's provider pages in the browser: where the user creates their own
/// client (`setup`), or where they remove Latchkey's access by hand (`connected-apps`). The UI
/// names the page, never a URL, so nothing in the window can open an arbitrary address.
#[tauri::command]
pub fn open_provider_page(
    state: State<'_, AppState>,
    connection_id: String,
    page: ProviderPageDto,
) -> CmdResult<()> {
    let conn = state.core.connection(&connection_id)?;
    let url = match page {
        ProviderPageDto::Setup => {
            conn.entry().and_then(|e| e.client_setup_url.as_ref()).map(|u| u.to_string())
        }
        ProviderPageDto::ConnectedApps => state.core.connected_apps_url(&conn),
    };
    match url {
        Some(url) => open_in_browser(&url),
        None => Err(ErrorDto::invalid("Latchkey knows no such page for this provider.")),
    }
}
