//! Latchkey's desktop shell: wires the core into Tauri (state, commands, deep links, the window and
//! the tray) and does nothing else. The domain lives in `crates/latchkey-core`.

mod background;
#[cfg(test)]
mod bindings;
#[cfg(test)]
mod boot_test;
mod changes;
mod commands;
mod consent;
mod deep_link;
mod dto;
mod events;
mod notify;
mod rendering;
mod resting;
mod setup;

use tauri::{Manager, RunEvent};

pub fn run() {
    setup::started();
    resting::background_start();
    rendering::choose();
    let builder = tauri::Builder::default()
        // First, so a second process started with a callback URL hands it over and exits before
        // anything else runs (Linux and Windows start a new process per deep link). Starting
        // Latchkey again, or a sign-in finishing in the browser, brings the window back.
        .plugin(tauri_plugin_single_instance::init(|app, _argv, _cwd| tray::open_window(app)))
        .plugin(tauri_plugin_deep_link::init())
        .plugin(tauri_plugin_opener::init());
    // Linux sends its notifications over D-Bus itself (notify.rs).
    #[cfg(not(target_os = "linux"))]
    let builder = builder.plugin(tauri_plugin_notification::init());
    let builder = builder
        .manage(notify::Notifier::default())
        .setup(|app| {
            // The data first (a few ms), so the window's page gets its first view with it, then the
            // window, whose web process starts while the tray is made.
            let ms = || setup::started().elapsed().as_millis() as u64;
            let setup_ms = ms();
            rendering::remember_font();
            let state = setup::open()?;
            app.manage(state);
            changes::forward(app.handle());
            let data_ms = ms();
            // `--background` (a login item, where there is no `latchkey-tray`, resting.rs): no
            // window, unless there is no tray to open it from.
            let background = resting::started_in_background();
            if !background {
                tray::open_window(app.handle());
            }
            let window_ms = ms();
            let tray = tray::create(app.handle());
            if background && !tray {
                tray::open_window(app.handle());
            }
            let tray_ms = ms();
            deep_link::listen(app)?;
            background::start(app.handle());
            consent::start(app.handle(), tray::open_window);
            // The tray's summary and the notifications' starting point.
            changes::track_accounts(app.handle(), &app.state::<setup::AppState>());
            // Where start-up's time goes (ms since the process started), for docs/performance.md.
            tracing::debug!(setup_ms, data_ms, window_ms, tray_ms, ready_ms = ms(), "start-up");
            Ok(())
        })
        .invoke_handler(commands::handler());
    let app = match builder.build(tauri::generate_context!()) {
        Ok(app) => app,
        Err(e) => {
            eprintln!("Latchkey could not start: {e}");
            std::process::exit(1);
        }
    };
    app.run(|app, event| match event {
        // The last window closed (its webview is destroyed with it): stay in the tray unless the
        // user turned that off or there is no tray to come back from. Quit (code 0) always exits.
        RunEvent::ExitRequested { code: None, api, .. } if tray::keeps_running(app) => {
            api.prevent_exit();
            resting::window_closed(app);
        }
        RunEvent::Exit => {
            consent::stop(app);
            background::stop_now(app);
        }
        // macOS: a click on the Dock icon with no window open.
        #[cfg(target_os = "macos")]
        RunEvent::Reopen { has_visible_windows: false, .. } => tray::open_window(app),
        _ => {}
    });
}

/// The tray icon (status summary, Open, Quit), the main window's life cycle, and the one
/// preference that governs it.
mod tray {
    use tauri::menu::{Menu, MenuItem, PredefinedMenuItem};
    use tauri::tray::TrayIconBuilder;
    use tauri::{AppHandle, Manager, Runtime, Wry};

    use crate::dto::PreferencesDto;

    const WINDOW: &str = "main";

    /// The summary line of the tray menu, kept to update it.
    struct Tray {
        summary: MenuItem<Wry>,
    }

    /// Whether there is a tray icon.
    pub fn create(app: &AppHandle) -> bool {
        match try_create(app) {
            Ok(()) => true,
            Err(e) => {
                tracing::warn!("no tray icon ({e}); closing the window will quit Latchkey");
                false
            }
        }
    }

    fn try_create(app: &AppHandle) -> tauri::Result<()> {
        let summary = MenuItem::with_id(app, "summary", "Latchkey", false, None::<&str>)?;
        let open = MenuItem::with_id(app, "open", "Open Latchkey", true, None::<&str>)?;
        let quit = MenuItem::with_id(app, "quit", "Quit Latchkey", true, None::<&str>)?;
        let separator = PredefinedMenuItem::separator(app)?;
        let menu = Menu::with_items(app, &[&summary, &separator, &open, &quit])?;
        let mut tray = TrayIconBuilder::with_id("latchkey").menu(&menu).tooltip("Latchkey").on_menu_event(
            |app, event| match event.id().as_ref() {
                "open" => open_window(app),
                "quit" => app.exit(0),
                _ => {}
            },
        );
        if let Some(icon) = app.default_window_icon() {
            tray = tray.icon(icon.clone());
        }
        tray.build(app)?;
        app.manage(Tray { summary });
        Ok(())
    }

    /// The core's summary ("All accounts are fine", …), in the menu and the tooltip.
    pub fn show_summary(app: &AppHandle, text: &str) {
        let Some(tray) = app.try_state::<Tray>() else { return };
        let _ = tray.summary.set_text(text);
        if let Some(icon) = app.tray_by_id("latchkey") {
            let _ = icon.set_tooltip(Some(format!("Latchkey: {text}")));
        }
    }

    /// Shows the window, making it (and its webview) again if it was closed.
    pub fn open_window(app: &AppHandle) {
        if let Some(window) = app.get_webview_window(WINDOW) {
            let _ = window.unminimize();
            let _ = window.show();
            let _ = window.set_focus();
            return;
        }
        let Some(config) = app.config().app.windows.iter().find(|w| w.label == WINDOW) else { return };
        // The page gets the lists as they are now, for its first frame.
        let first_view = app
            .try_state::<crate::setup::AppState>()
            .and_then(|state| crate::commands::first_view_script(&state));
        let scripts = [crate::rendering::font_script(), first_view];
        let builder = tauri::WebviewWindowBuilder::from_config(app, config)
            .map(|b| scripts.iter().flatten().fold(b, |b, script| b.initialization_script(script)));
        match builder.and_then(|b| b.build()) {
            Ok(window) => {
                let _ = window.set_focus();
            }
            Err(e) => tracing::error!("could not open the window: {e}"),
        }
    }

    /// Whether closing the last window leaves Latchkey running.
    pub fn keeps_running(app: &AppHandle) -> bool {
        app.try_state::<Tray>().is_some() && preferences(app).keep_running_in_tray
    }

    fn preferences_file<R: Runtime>(app: &AppHandle<R>) -> tauri::Result<std::path::PathBuf> {
        Ok(app.path().app_config_dir()?.join("preferences.json"))
    }

    pub fn preferences<R: Runtime>(app: &AppHandle<R>) -> PreferencesDto {
        preferences_file(app)
            .ok()
            .and_then(|p| std::fs::read(p).ok())
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .unwrap_or_default()
    }

    pub fn save_preferences<R: Runtime>(
        app: &AppHandle<R>,
        preferences: &PreferencesDto,
    ) -> Result<(), Box<dyn std::error::Error>> {
        let path = preferences_file(app)?;
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(&path, serde_json::to_vec_pretty(preferences)?)?;
        Ok(())
    }
}
