//! A bare Tauri 2 window: the baseline of tests/bench/desktop.sh. Its page calls `window_painted`
//! after its first frame, which prints the same line Latchkey prints under `LATCHKEY_BENCH_PAINT`,
//! with the page's own time from its script to that frame, and from the navigation to its script.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

#[tauri::command]
fn window_painted(render_ms: f64, loaded_ms: f64) {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    println!("LATCHKEY_PAINTED {} {render_ms:.2} {loaded_ms:.2}", now.as_nanos());
}

fn main() {
    if let Err(e) = tauri::Builder::default()
        .invoke_handler(tauri::generate_handler![window_painted])
        .run(tauri::generate_context!())
    {
        eprintln!("the baseline window failed: {e}");
        std::process::exit(1);
    }
}
