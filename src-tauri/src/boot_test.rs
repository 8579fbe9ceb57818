//! The shell booted on Tauri's mock runtime: the app's command table and state over a core in a
//! temporary folder (in-memory keychain), commands invoked through IPC as the page invokes them,
//! with no display, WebKit or D-Bus.

use std::sync::Arc;

use latchkey_core::model::Actor;
use latchkey_core::vault::MemoryStore;
use latchkey_core::{Change, Latchkey, Options};
use serde_json::{Value, json};
use tauri::ipc::{CallbackFn, InvokeBody};
use tauri::test::{INVOKE_KEY, MockRuntime, get_ipc_response, mock_builder, mock_context, noop_assets};
use tauri::webview::InvokeRequest;
use tauri::{App, WebviewWindow};

use crate::setup::AppState;

/// The app over `dir`, with one API-key connection `demo`, and a (mock) main window.
fn boot(dir: &std::path::Path) -> (App<MockRuntime>, WebviewWindow<MockRuntime>, Arc<Latchkey>) {
    let file = dir.join("connections.toml");
    std::fs::write(&file, "[[connection]]\nid = \"demo\"\nname = \"Demo\"\ntype = \"api-key\"\n")
        .expect("connections file");
    let options = Options {
        data_dir: dir.to_owned(),
        connections: latchkey_core::config::load_connections(&file).expect("connections"),
        connections_file: Some(file),
        secrets: Arc::new(MemoryStore::default()),
        redirect_scheme: latchkey_core::paths::IDENTIFIER.into(),
        http: latchkey_core::http::Http::new().expect("http"),
        hooks: Default::default(),
    };
    let (core, _) = tauri::async_runtime::block_on(Latchkey::open(options)).expect("core");
    let core = Arc::new(core);
    let app = mock_builder()
        .manage(AppState { core: core.clone() })
        .invoke_handler(crate::commands::handler())
        .build(mock_context(noop_assets()))
        .expect("the app builds");
    let window =
        tauri::WebviewWindowBuilder::new(&app, "main", Default::default()).build().expect("mock window");
    (app, window, core)
}

fn invoke(window: &WebviewWindow<MockRuntime>, cmd: &str, args: Value) -> Result<Value, Value> {
    let request = InvokeRequest {
        cmd: cmd.into(),
        callback: CallbackFn(0),
        error: CallbackFn(1),
        url: "tauri://localhost".parse().expect("url"),
        body: InvokeBody::Json(args),
        headers: Default::default(),
        invoke_key: INVOKE_KEY.to_string(),
    };
    get_ipc_response(window, request).map(|body| body.deserialize::<Value>().expect("json"))
}

#[test]
fn the_app_boots_and_answers_its_commands_over_ipc() {
    let dir = tempfile::tempdir().expect("temporary folder");
    let (_app, window, core) = boot(dir.path());
    let account = core.get_or_create_connected_account("demo", "someone", &Actor::User).expect("account");
    let mut changes = core.subscribe();

    let list = invoke(&window, "list_accounts", json!({})).expect("list_accounts");
    let list = list.as_array().expect("a list");
    assert_eq!(list.len(), 1, "{list:?}");
    assert_eq!(list[0]["identifier"], "someone");
    assert_eq!(list[0]["connection_name"], "Demo");

    let noted = invoke(&window, "set_note", json!({ "accountId": account.id.as_str(), "note": "work" }))
        .expect("set_note");
    assert_eq!(noted["note"], "work");
    assert_eq!(changes.try_recv(), Ok(Change::Accounts), "the core announced the change");

    // No sign-in was started here, so there is no link to open again.
    let refused = invoke(&window, "reopen_sign_in", json!({ "accountId": account.id.as_str() }))
        .expect_err("no sign-in under way");
    assert_eq!(refused["code"], "invalid_input", "{refused}");
    assert!(refused["message"].as_str().is_some_and(|m| m.contains("already finished or expired")));

    let missing = invoke(&window, "get_account", json!({ "accountId": "not-an-id" })).expect_err("bad id");
    assert_eq!(missing["code"], "not_found", "{missing}");
}
