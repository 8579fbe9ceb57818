//! The IPC commands, by area: each hands straight to the core and converts the result into DTOs.
//! The core announces what they change (`changes.rs` forwards it to the window), so no command
//! emits an event itself.
//!
//! The `commands!` table at the end is the one list of commands: it registers them with Tauri
//! and describes their arguments and results for the generated TypeScript (`ui/src/lib/bindings/`).

mod accounts;
mod activity;
mod connections;
mod export;
mod first_view;
mod grants;
mod settings;
mod sign_in;

use latchkey_core::model::{Account, AccountFilter};
use tauri::Runtime;

pub use accounts::*;
pub use activity::*;
pub use connections::*;
pub use export::*;
pub use first_view::*;
pub use grants::*;
pub use settings::*;
pub use sign_in::*;

#[cfg(test)]
use crate::dto::{
    AboutDto, AccountDetailDto, AuditEntryDto, AuditFilterDto, ConnectionChangeDto, ConnectionDto,
    ConsentAnswerDto, ConsentRequestDto, ExportDto, ExportFormatDto, GrantDto, HandoutPolicyDto, IdentityDto,
    KeychainDto, NewConnectionDto, PreferencesDto, ProviderPageDto, RevokeDto,
};
use crate::dto::{AccountDto, ErrorDto};
use crate::setup::AppState;

type CmdResult<T> = Result<T, ErrorDto>;

pub fn to_dto(state: &AppState, account: &Account) -> AccountDto {
    AccountDto::new(
        account,
        &state.core.connection_name(&account.connection),
        state.core.is_signing_in(&account.id),
    )
}

pub(crate) fn account_dtos(state: &AppState) -> CmdResult<Vec<AccountDto>> {
    let accounts = state.core.list_connected_accounts(&AccountFilter::default())?;
    Ok(accounts.iter().map(|a| to_dto(state, a)).collect())
}

/// Through the core, which keeps the URL out of other processes' argv where it can (the portal).
pub(crate) fn open_in_browser(url: &str) -> CmdResult<()> {
    latchkey_core::browser::open_in_browser(url).map_err(|e| {
        tracing::warn!("could not open the browser: {e}");
        ErrorDto::internal("Latchkey could not open your web browser. Check that a default browser is set.")
    })
}

/// The command table: registration, and the TypeScript signatures (`bindings` test).
macro_rules! commands {
    ($($name:ident($($arg:ident: $ty:ty),*) -> $ret:ty;)*) => {
        /// Tauri's invoke handler for every command in the table.
        pub fn handler<R: Runtime>() -> impl Fn(tauri::ipc::Invoke<R>) -> bool + Send + Sync + 'static {
            tauri::generate_handler![$($name),*]
        }

        /// Each command's name, its arguments as the UI passes them, and its result type.
        #[cfg(test)]
        pub fn signatures(cfg: &ts_rs::Config) -> Vec<crate::bindings::Signature> {
            vec![$(crate::bindings::Signature {
                name: stringify!($name),
                args: vec![$((stringify!($arg), crate::bindings::ts::<$ty>(cfg))),*],
                result: crate::bindings::ts::<$ret>(cfg),
                types: {
                    let mut t = Vec::new();
                    $(crate::bindings::collect::<$ty>(cfg, &mut t);)*
                    crate::bindings::collect::<$ret>(cfg, &mut t);
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
    set_handout_policy(account_id: String, policy: HandoutPolicyDto) -> AccountDto;
    delete_account(account_id: String) -> ();
    audit_trail(filter: AuditFilterDto) -> Vec<AuditEntryDto>;
    export_audit(filter: AuditFilterDto, format: ExportFormatDto) -> ExportDto;
    keychain_status() -> KeychainDto;
    get_preferences() -> PreferencesDto;
    set_preferences(preferences: PreferencesDto) -> PreferencesDto;
    about() -> AboutDto;
    window_painted(accounts: u32, render_ms: f64, loaded_ms: f64) -> ();
    list_grants() -> Vec<GrantDto>;
    remove_grant(consumer: String, account_id: String) -> ();
    pending_consents() -> Vec<ConsentRequestDto>;
    answer_consent(id: u32, answer: ConsentAnswerDto) -> ();
}
