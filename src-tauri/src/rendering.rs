//! Linux: how the window draws on a machine without a GPU.
//!
//! Without a GPU, WebKitGTK's default accelerated compositing runs on Mesa's software GL
//! (llvmpipe): each layer gets a GL backing store drawn by the CPU, which costs memory and frame
//! time and brings nothing. Measured here (docs/performance.md): the window's processes 510 →
//! 410 MiB, `start()` to the painted list 260 → 140 ms, when GDK's GL is off, which makes WebKit
//! draw without GL compositing. So when the machine has no GPU render node (`/dev/dri/renderD*`)
//! and the user has not set `GDK_GL` themselves, Latchkey starts with `GDK_GL=disable`. Machines
//! with a GPU keep WebKit's defaults. (`WEBKIT_DISABLE_COMPOSITING_MODE=1` reaches the same mode,
//! but here it added half a second before the page's navigation in most starts.)

/// Called first thing at start, before any thread exists (GTK reads `GDK_GL` when it starts).
pub fn choose() {
    #[cfg(target_os = "linux")]
    if std::env::var_os("GDK_GL").is_none() && !has_gpu_render_node() {
        disable_gdk_gl();
    }
}

#[cfg(target_os = "linux")]
fn has_gpu_render_node() -> bool {
    std::fs::read_dir("/dev/dri")
        .into_iter()
        .flatten()
        .flatten()
        .any(|e| e.file_name().to_string_lossy().starts_with("renderD"))
}

#[cfg(target_os = "linux")]
#[allow(unsafe_code)]
fn disable_gdk_gl() {
    // SAFETY: `set_var` is unsound only while another thread may read the environment; this runs
    // first in `run`, before Tauri, GTK or any runtime has started a thread.
    unsafe { std::env::set_var("GDK_GL", "disable") };
}
