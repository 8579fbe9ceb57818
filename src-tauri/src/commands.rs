//! The IPC commands: each hands straight to the core and converts the result into DTOs.
//!
//! The `commands!` table at the end is the one list of commands: it registers them with Tauri
//! and describes their arguments and results for the generated TypeScript (`ui/src/lib/bindings/`).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Mutex;

use latchkey_core::config::ConnectionType;
use latchkey_core::model::{Account, AccountFilter, AccountId, Actor};
use latchkey_core::protocol::RedirectStrategy;
use latchkey_core::store::AuditQuery;
use tauri::{AppHandle, Manager, State};

use crate::dto::{
    AboutDto, AccountDetailDto, AccountDto, AuditEntryDto, AuditFilterDto, ConnectionChangeDto,
    ConnectionDto, ErrorDto, ExportDto, ExportFormatDto, FirstViewDto, IdentityDto, KeychainDto,
    NewConnectionDto, PreferencesDto, ProviderPageDto, RevokeDto,
};
use crate::setup::AppState;

type CmdResult<T> = Result<T, ErrorDto>;

/// The authorization URL of each sign-in still waiting for the browser, so "Open the link again"
/// can reopen it. Kept in the shell; it never crosses IPC (it carries the sign-in's `state`).
#[derive(Default)]
pub struct SignInLinks(Mutex<HashMap<String, String>>);

impl SignInLinks {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, String>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[tauri::command]
pub fn list_connections(state: State<'_, AppState>) -> CmdResult<Vec<ConnectionDto>> {
    connection_dtos(&state)
}

fn connection_dtos(state: &AppState) -> CmdResult<Vec<ConnectionDto>> {
    Ok(state.core.connection_views()?)
}

/// Settings → Connections: the client id and secret, the scopes, enabled or not.
#[tauri::command]
pub async fn configure_connection(
    app: AppHandle,
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
    crate::events::CONNECTIONS_CHANGED.emit(&app, ());
    emit_accounts(&app, &state);
    Ok(state.core.connection_view(&conn)?)
}

/// From local metadata only: no keychain, no network.
#[tauri::command]
pub fn list_accounts(state: State<'_, AppState>) -> CmdResult<Vec<AccountDto>> {
    account_dtos(&state)
}

/// Keeps the account's tokens but stops refreshing them and handing them out.
#[tauri::command]
pub async fn suspend_account(
    app: AppHandle,
    state: State<'_, AppState>,
    account_id: String,
) -> CmdResult<AccountDto> {
    let account = state.core.suspend(&AccountId::parse(&account_id)?, &Actor::User).await?;
    emit_accounts(&app, &state);
    Ok(to_dto(&state, &account))
}

/// Brings a suspended account back, refreshing its token first if it went stale.
#[tauri::command]
pub async fn resume_account(
    app: AppHandle,
    state: State<'_, AppState>,
    account_id: String,
) -> CmdResult<AccountDto> {
    let account = state.core.resume(&AccountId::parse(&account_id)?, &Actor::User).await?;
    emit_accounts(&app, &state);
    Ok(to_dto(&state, &account))
}

/// One harmless call to the provider's identity endpoint with the account's token (refreshing once
/// after a 401). The identity crosses IPC; the token does not.
#[tauri::command]
pub async fn test_account(
    app: AppHandle,
    state: State<'_, AppState>,
    account_id: String,
) -> CmdResult<IdentityDto> {
    let result = state.core.test_account(&AccountId::parse(&account_id)?, &Actor::User).await;
    emit_accounts(&app, &state);
    let i = result?;
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

/// Starts a sign-in and opens the provider's page in the system browser; the outcome arrives later
/// through the deep link as `connect-succeeded` / `connect-failed` and `accounts-changed`.
/// With the identifier of an existing account, re-authorizes that account.
#[tauri::command]
pub async fn connect(
    app: AppHandle,
    state: State<'_, AppState>,
    links: State<'_, SignInLinks>,
    connection_id: String,
    identifier: Option<String>,
) -> CmdResult<AccountDto> {
    let identifier = identifier.as_deref().filter(|i| !i.trim().is_empty());
    let mut link = state.core.get_authorization_link(&connection_id, identifier, &Actor::User).await?;
    if let Err(e) = open_in_browser(link.url.as_str()) {
        state.core.cancel_authorization(&link.account.id);
        return Err(e);
    }
    links.lock().insert(link.account.id.to_string(), link.url.to_string());
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
    emit_accounts(&app, &state);
    Ok(to_dto(&state, &link.account))
}

/// Adds a custom connection: OpenID Connect by issuer (loopback redirect, so it works from the
/// command line too), an API key or a basic-auth service.
#[tauri::command]
pub async fn add_connection(
    app: AppHandle,
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
    crate::events::CONNECTIONS_CHANGED.emit(&app, ());
    Ok(state.core.connection_view(&conn)?)
}

/// Removes a custom connection that has no accounts.
#[tauri::command]
pub async fn remove_connection(
    app: AppHandle,
    state: State<'_, AppState>,
    connection_id: String,
) -> CmdResult<()> {
    state.core.remove_connection(&connection_id, &Actor::User).await?;
    crate::events::CONNECTIONS_CHANGED.emit(&app, ());
    Ok(())
}

/// The window painted its first account list: logged with the time since the process started, the
/// page's loading (its navigation's start → its script's first statement) and its own render time
/// (that statement → the painted list), so slow starts show in the log. With `LATCHKEY_BENCH_PAINT` set
/// (tests/bench/desktop.sh), also printed on stdout as
/// `LATCHKEY_PAINTED <unix ns> <render ms> <loaded ms>`, the line the baseline window prints too.
#[tauri::command]
pub fn window_painted(accounts: u32, render_ms: f64, loaded_ms: f64) {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let since_start = crate::setup::started().elapsed();
        tracing::info!(
            accounts,
            render_ms,
            loaded_ms,
            since_start_ms = since_start.as_millis() as u64,
            "window painted"
        );
        if std::env::var_os("LATCHKEY_BENCH_PAINT").is_some() {
            let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
            println!("LATCHKEY_PAINTED {} {render_ms:.2} {loaded_ms:.2}", now.as_nanos());
        }
    });
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

/// "Open the link again": the same sign-in, in the browser once more.
#[tauri::command]
pub fn reopen_sign_in(
    state: State<'_, AppState>,
    links: State<'_, SignInLinks>,
    account_id: String,
) -> CmdResult<()> {
    let id = AccountId::parse(&account_id)?;
    let url = links.lock().get(id.as_str()).cloned();
    match url {
        Some(url) if state.core.is_signing_in(&id) => open_in_browser(&url),
        _ => {
            links.lock().remove(id.as_str());
            Err(ErrorDto::invalid(
                "This sign-in has already finished or expired. Start it again with Connect.",
            ))
        }
    }
}

/// Forgets a sign-in the user gave up on; a late answer from the browser is then refused.
#[tauri::command]
pub fn cancel_sign_in(
    app: AppHandle,
    state: State<'_, AppState>,
    links: State<'_, SignInLinks>,
    account_id: String,
) -> CmdResult<AccountDto> {
    let id = AccountId::parse(&account_id)?;
    state.core.cancel_authorization(&id);
    links.lock().remove(id.as_str());
    tracing::info!(account = %id, "sign-in cancelled");
    emit_accounts(&app, &state);
    Ok(to_dto(&state, &state.core.get_account(&id)?))
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
        connected_apps_url: outcome.connected_apps_url,
    })
}

#[tauri::command]
pub fn set_labels(
    app: AppHandle,
    state: State<'_, AppState>,
    account_id: String,
    labels: Vec<String>,
) -> CmdResult<AccountDto> {
    let id = AccountId::parse(&account_id)?;
    let labels: Vec<&str> = labels.iter().map(String::as_str).collect();
    let account = state.core.set_labels(&id, &labels, &Actor::User)?;
    emit_accounts(&app, &state);
    Ok(to_dto(&state, &account))
}

#[tauri::command]
pub fn set_note(
    app: AppHandle,
    state: State<'_, AppState>,
    account_id: String,
    note: Option<String>,
) -> CmdResult<AccountDto> {
    let id = AccountId::parse(&account_id)?;
    let account = state.core.set_note(&id, note.as_deref(), &Actor::User)?;
    emit_accounts(&app, &state);
    Ok(to_dto(&state, &account))
}

/// Removes the account from Latchkey (an Active one is revoked at the provider first, best effort).
#[tauri::command]
pub async fn delete_account(app: AppHandle, state: State<'_, AppState>, account_id: String) -> CmdResult<()> {
    let id = AccountId::parse(&account_id)?;
    state.core.delete_connected_account(&id, &Actor::User).await?;
    tracing::info!(account = %id, "account deleted");
    emit_accounts(&app, &state);
    Ok(())
}

/// The audit trail, oldest first.
#[tauri::command]
pub fn audit_trail(state: State<'_, AppState>, filter: AuditFilterDto) -> CmdResult<Vec<AuditEntryDto>> {
    let entries = state.core.audit_trail(&audit_query(&filter)?)?;
    Ok(entries.iter().map(Into::into).collect())
}

/// Writes the (filtered) audit trail to a new file in the user's Downloads folder.
#[tauri::command]
pub fn export_audit(
    app: AppHandle,
    state: State<'_, AppState>,
    filter: AuditFilterDto,
    format: ExportFormatDto,
) -> CmdResult<ExportDto> {
    let entries = state.core.audit_trail(&audit_query(&filter)?)?;
    let (text, extension) = match format {
        ExportFormatDto::Csv => (latchkey_core::audit::to_csv(&entries), "csv"),
        ExportFormatDto::Jsonl => (latchkey_core::audit::to_json_lines(&entries), "jsonl"),
    };
    let path = write_new_file(&downloads_dir(&app)?, "latchkey-activity", extension, text.as_bytes())?;
    tracing::info!(path = %path.display(), entries = entries.len(), "audit trail exported");
    Ok(ExportDto {
        path: path.display().to_string(),
        entries: u32::try_from(entries.len()).unwrap_or(u32::MAX),
    })
}

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
pub fn get_preferences(app: AppHandle) -> PreferencesDto {
    crate::tray::preferences(&app)
}

#[tauri::command]
pub fn set_preferences(app: AppHandle, preferences: PreferencesDto) -> CmdResult<PreferencesDto> {
    crate::tray::save_preferences(&app, &preferences).map_err(|e| {
        ErrorDto::internal(format!("Latchkey could not save your settings ({e}). Try again."))
    })?;
    Ok(preferences)
}

#[tauri::command]
pub fn about(app: AppHandle) -> AboutDto {
    let info = app.package_info();
    AboutDto {
        name: info.name.clone(),
        version: info.version.to_string(),
        identifier: app.config().identifier.clone(),
        tauri_version: tauri::VERSION.to_owned(),
    }
}

pub fn to_dto(state: &AppState, account: &Account) -> AccountDto {
    AccountDto::new(
        account,
        &state.core.connection_name(&account.connection),
        state.core.is_signing_in(&account.id),
    )
}

fn account_dtos(state: &AppState) -> CmdResult<Vec<AccountDto>> {
    let accounts = state.core.list_connected_accounts(&AccountFilter::default())?;
    Ok(accounts.iter().map(|a| to_dto(state, a)).collect())
}

/// The global the window's page reads its first view from (ui/src/lib/ipc.ts `takeFirstView`).
const FIRST_VIEW_GLOBAL: &str = "__LATCHKEY_FIRST_VIEW__";

/// An initialization script for a new window that hands its page the connections and accounts as
/// they are now, so its first frame shows the list without waiting for two IPC round trips
/// (docs/performance.md). The page still subscribes and loads both again; this only saves the
/// wait. `None` when the lists cannot be read: the page then loads them as before and shows why.
/// The lists are the IPC DTOs, which hold no secret. They go as JSON text in a string, which the
/// page parses and records as it is: recording a parsed 1,000-account view meant copying it, which
/// cost more than parsing it (docs/performance.md).
pub fn first_view_script(state: &AppState) -> Option<String> {
    let view =
        FirstViewDto { connections: connection_dtos(state).ok()?, accounts: account_dtos(state).ok()? };
    let json = serde_json::to_string(&view).ok()?;
    // A JSON string is a JavaScript string literal (ES2019 allows U+2028 and U+2029 in it).
    let text = serde_json::to_string(&json).ok()?;
    Some(format!("window.{FIRST_VIEW_GLOBAL} = {text};"))
}

/// Sends the whole account list to the UI (and the tray's summary, and the notifications) after
/// any change.
pub fn emit_accounts(app: &AppHandle, state: &AppState) {
    if let Some(accounts) = track_accounts(app, state) {
        let list: Vec<AccountDto> = accounts.iter().map(|a| to_dto(state, a)).collect();
        crate::events::ACCOUNTS_CHANGED.emit(app, list);
    }
}

/// The tray's summary and the notifications' view of the accounts as they are now (at start-up, where
/// no page listens yet and the window's first view already carries the list); the list, if it could
/// be read.
pub fn track_accounts(app: &AppHandle, state: &AppState) -> Option<Vec<latchkey_core::model::Account>> {
    match state.core.list_connected_accounts(&AccountFilter::default()) {
        Ok(accounts) => {
            crate::tray::show_summary(app, &latchkey_core::attention::summary(&accounts));
            crate::notify::on_accounts(app, state, &accounts);
            Some(accounts)
        }
        Err(e) => {
            tracing::error!("cannot list accounts: {e}");
            None
        }
    }
}

/// Through the core, which keeps the URL out of other processes' argv where it can (the portal).
fn open_in_browser(url: &str) -> CmdResult<()> {
    latchkey_core::browser::open_in_browser(url).map_err(|e| {
        tracing::warn!("could not open the browser: {e}");
        ErrorDto::internal("Latchkey could not open your web browser. Check that a default browser is set.")
    })
}

fn audit_query(filter: &AuditFilterDto) -> CmdResult<AuditQuery> {
    Ok(AuditQuery {
        account: filter.account_id.as_deref().map(AccountId::parse).transpose()?,
        since: filter.since,
        until: filter.until,
    })
}

/// The user's Downloads folder; `~/Downloads` when the desktop names none.
fn downloads_dir(app: &AppHandle) -> CmdResult<PathBuf> {
    let dir = app
        .path()
        .download_dir()
        .or_else(|_| app.path().home_dir().map(|home| home.join("Downloads")))
        .map_err(|_| ErrorDto::internal("Latchkey could not find your Downloads folder."))?;
    std::fs::create_dir_all(&dir).map_err(|e| {
        ErrorDto::internal(format!(
            "Latchkey could not create {} ({e}). Check its permissions.",
            dir.display()
        ))
    })?;
    Ok(dir)
}

/// Writes `{stem}-{timestamp}.{extension}` in `dir`, never over an existing file.
fn write_new_file(dir: &std::path::Path, stem: &str, extension: &str, bytes: &[u8]) -> CmdResult<PathBuf> {
    use std::io::Write;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(0));
    let stamp = latchkey_core::model::rfc3339(now).replace(':', "-");
    for n in 1..100 {
        let name = if n == 1 {
            format!("{stem}-{stamp}.{extension}")
        } else {
            format!("{stem}-{stamp}-{n}.{extension}")
        };
        let path = dir.join(name);
        match std::fs::OpenOptions::new().write(true).create_new(true).open(&path) {
            Ok(mut file) => {
                return file.write_all(bytes).map(|()| path.clone()).map_err(|e| {
                    ErrorDto::internal(format!(
                        "Latchkey could not write {} ({e}). Check the free space.",
                        path.display()
                    ))
                });
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => {
                return Err(ErrorDto::internal(format!(
                    "Latchkey could not write to {} ({e}). Check its permissions.",
                    dir.display()
                )));
            }
        }
    }
    Err(ErrorDto::internal("Latchkey could not pick a new file name in your Downloads folder."))
}

/// The command table: registration, and the TypeScript signatures (`bindings` test).
macro_rules! commands {
    ($($name:ident($($arg:ident: $ty:ty),*) -> $ret:ty;)*) => {
        /// Tauri's invoke handler for every command in the table.
        pub fn handler() -> impl Fn(tauri::ipc::Invoke) -> bool + Send + Sync + 'static {
            tauri::generate_handler![$($name),*]
        }

        /// Each command's name, its arguments as the UI passes them, and its result type.
        #[cfg(test)]
        pub fn signatures(cfg: &ts_rs::Config) -> Vec<crate::dto::bindings::Signature> {
            vec![$(crate::dto::bindings::Signature {
                name: stringify!($name),
                args: vec![$((stringify!($arg), crate::dto::bindings::ts::<$ty>(cfg))),*],
                result: crate::dto::bindings::ts::<$ret>(cfg),
                types: {
                    let mut t = Vec::new();
                    $(crate::dto::bindings::collect::<$ty>(cfg, &mut t);)*
                    crate::dto::bindings::collect::<$ret>(cfg, &mut t);
                    t
                },
            }),*]
        }
    };
}

commands! {
    list_connections() -> Vec<ConnectionDto>;
    configure_connection(connection_id: String, change: ConnectionChangeDto) -> ConnectionDto;
    add_connection(connection: NewConnectionDto) -> ConnectionDto;
    remove_connection(connection_id: String) -> ();
    list_accounts() -> Vec<AccountDto>;
    get_account(account_id: String) -> AccountDetailDto;
    connect(connection_id: String, identifier: Option<String>) -> AccountDto;
    reopen_sign_in(account_id: String) -> ();
    open_provider_page(connection_id: String, page: ProviderPageDto) -> ();
    cancel_sign_in(account_id: String) -> AccountDto;
    revoke(account_id: String) -> RevokeDto;
    suspend_account(account_id: String) -> AccountDto;
    resume_account(account_id: String) -> AccountDto;
    test_account(account_id: String) -> IdentityDto;
    set_labels(account_id: String, labels: Vec<String>) -> AccountDto;
    set_note(account_id: String, note: Option<String>) -> AccountDto;
    delete_account(account_id: String) -> ();
    audit_trail(filter: AuditFilterDto) -> Vec<AuditEntryDto>;
    export_audit(filter: AuditFilterDto, format: ExportFormatDto) -> ExportDto;
    keychain_status() -> KeychainDto;
    get_preferences() -> PreferencesDto;
    set_preferences(preferences: PreferencesDto) -> PreferencesDto;
    about() -> AboutDto;
    window_painted(accounts: u32, render_ms: f64, loaded_ms: f64) -> ();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exports_never_overwrite() {
        let dir = std::env::temp_dir().join(format!("latchkey-export-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let a = write_new_file(&dir, "x", "csv", b"one").expect("first");
        let b = write_new_file(&dir, "x", "csv", b"two").expect("second");
        assert_ne!(a, b);
        assert_eq!(std::fs::read(&a).expect("read"), b"one");
        assert_eq!(std::fs::read(&b).expect("read"), b"two");
        assert!(
            a.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with("x-") && !n.contains(':'))
        );
        std::fs::remove_dir_all(&dir).expect("cleanup");
    }
}
