//! Latchkey's desktop shell: wires the core into Tauri (state, commands, deep links, the window)
//! and does nothing else. The domain lives in `crates/latchkey-core`.

mod commands;
mod deep_link;
mod dto;
mod setup;

use tauri::Manager;

pub fn run() {
    let builder = tauri::Builder::default()
        // First, so a second process started with a callback URL hands it over and exits before
        // anything else runs (Linux and Windows start a new process per deep link).
        .plugin(tauri_plugin_single_instance::init(|app, _argv, _cwd| {
            if let Some(window) = app.get_webview_window("main") {
                let _ = window.unminimize();
                let _ = window.set_focus();
            }
        }))
        .plugin(tauri_plugin_deep_link::init())
        .plugin(tauri_plugin_opener::init())
        .setup(|app| {
            let state = setup::open(app.handle())?;
            app.manage(state);
            deep_link::listen(app)?;
            Ok(())
        })
        .invoke_handler(tauri::generate_handler![
            commands::list_connections,
            commands::list_accounts,
            commands::connect,
            commands::revoke,
        ]);
    if let Err(e) = builder.run(tauri::generate_context!()) {
        eprintln!("Latchkey could not start: {e}");
        std::process::exit(1);
    }
}
