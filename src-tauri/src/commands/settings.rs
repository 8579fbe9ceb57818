//! Settings: the keychain's health, the window and tray preferences, About.

use tauri::{AppHandle, Runtime, State};

use super::CmdResult;
use crate::dto::{AboutDto, ErrorDto, KeychainDto, PreferencesDto};
use crate::setup::AppState;

/// Which keychain Latchkey uses and whether it answers. The probe writes and deletes an entry of
/// its own under a separate service name; it never reads an account's entries.
#[tauri::command]
pub async fn keychain_status(state: State<'_, AppState>) -> CmdResult<KeychainDto> {
    let description = state.core.keychain_description();
    Ok(match state.core.check_keychain().await {
        Ok(()) => KeychainDto {
            description,
            healthy: true,
            message: "The keychain is unlocked and accepts new entries.".into(),
        },
        Err(latchkey_core::Error::Keychain(why)) => KeychainDto {
            description,
            healthy: false,
            message: format!(
                "The keychain is not usable ({why}). Unlock it, or start your desktop's keyring \
                 (for example GNOME Keyring or KWallet), then check again."
            ),
        },
        Err(e) => KeychainDto { description, healthy: false, message: e.to_string() },
    })
}

#[tauri::command]
pub fn get_preferences<R: Runtime>(app: AppHandle<R>) -> PreferencesDto {
    crate::tray::preferences(&app)
}

#[tauri::command]
pub fn set_preferences<R: Runtime>(
    app: AppHandle<R>,
    preferences: PreferencesDto,
) -> CmdResult<PreferencesDto> {
    crate::tray::save_preferences(&app, &preferences).map_err(|e| {
        ErrorDto::internal(format!("Latchkey could not save your settings ({e}). Try again."))
    })?;
    Ok(preferences)
}

#[tauri::command]
pub fn about<R: Runtime>(app: AppHandle<R>) -> AboutDto {
    let info = app.package_info();
    AboutDto {
        name: info.name.clone(),
        version: info.version.to_string(),
        identifier: app.config().identifier.clone(),
        tauri_version: tauri::VERSION.to_owned(),
    }
}
