//! The window's first view: the lists handed to a new window's page with the page itself, and the
//! page's report of when it painted them.

use super::account_dtos;
use super::connections::connection_dtos;
use crate::dto::FirstViewDto;
use crate::setup::AppState;

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
