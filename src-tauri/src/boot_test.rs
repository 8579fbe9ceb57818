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

/// Polls `check` every 20 ms for up to 10 s.
fn eventually<T>(what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let start = std::time::Instant::now();
    loop {
        if let Some(v) = check() {
            return v;
        }
        assert!(start.elapsed() < std::time::Duration::from_secs(10), "{what}: not in time");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

#[test]
fn consent_questions_reach_the_window_and_its_answers_the_asker() {
    use latchkey_core::api::Access;
    use latchkey_core::consent::{ConsentAnswer, ConsentPurpose, ConsentRequest, DESK_FILE};

    let dir = tempfile::tempdir().expect("temporary folder");
    let (app, window, core) = boot(dir.path());
    let account = core.get_or_create_connected_account("demo", "someone", &Actor::User).expect("account");
    crate::consent::start(app.handle(), |_| {});
    eventually("the desk's address file", || dir.path().join(DESK_FILE).exists().then_some(()));

    for (answer, expected) in
        [("once", ConsentAnswer::Once), ("always", ConsentAnswer::Always), ("deny", ConsentAnswer::Deny)]
    {
        let consumer = format!("agent-{answer}");
        let request = ConsentRequest {
            consumer: consumer.clone(),
            account: account.id.clone(),
            access: Access::Full,
            purpose: ConsentPurpose::Token,
        };
        let asker = {
            let core = core.clone();
            tauri::async_runtime::spawn(async move { core.ask_app(&request).await })
        };
        let question = eventually("the question", || {
            let list = invoke(&window, "pending_consents", json!({})).expect("pending_consents");
            list.as_array().and_then(|l| l.first().cloned())
        });
        assert_eq!(question["consumer"], consumer.as_str());
        assert_eq!(question["account_ref"], "demo:someone");
        assert_eq!(question["connection_name"], "Demo");
        assert_eq!(question["identity"], "someone");
        assert_eq!(
            (question["access"].as_str(), question["purpose"].as_str()),
            (Some("full"), Some("token"))
        );
        invoke(&window, "answer_consent", json!({ "id": question["id"], "answer": answer })).expect("answer");
        let heard = tauri::async_runtime::block_on(asker).expect("task").expect("ask");
        assert_eq!(heard, Some(expected), "{answer}");
        assert_eq!(core.grant_for(&consumer, &account.id).expect("grant").is_some(), answer == "always");
        let again = invoke(&window, "answer_consent", json!({ "id": question["id"], "answer": "once" }))
            .expect_err("answered already");
        assert_eq!(again["code"], "invalid_input", "{again}");
        eventually("the question to go", || {
            let list = invoke(&window, "pending_consents", json!({})).expect("pending_consents");
            list.as_array().is_some_and(Vec::is_empty).then_some(())
        });
    }

    let grants = invoke(&window, "list_grants", json!({})).expect("list_grants");
    let grants = grants.as_array().expect("a list");
    assert_eq!(grants.len(), 1, "{grants:?}");
    assert_eq!(grants[0]["consumer"], "agent-always");
    assert_eq!(
        (grants[0]["access"].as_str(), grants[0]["account_ref"].as_str()),
        (Some("full"), Some("demo:someone"))
    );
    assert!(grants[0]["until"].is_null() && grants[0]["last_used"].is_null(), "{grants:?}");
    invoke(&window, "remove_grant", json!({ "consumer": "agent-always", "accountId": account.id.as_str() }))
        .expect("remove_grant");
    assert_eq!(invoke(&window, "list_grants", json!({})).expect("list_grants"), json!([]));

    crate::consent::stop(app.handle());
    assert!(!dir.path().join(DESK_FILE).exists(), "stopping removes the address file");
}
