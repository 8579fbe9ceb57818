//! Linux: how the window draws on a machine without a GPU, and which font its page asks for.
//!
//! Without a GPU, WebKitGTK's default accelerated compositing runs on Mesa's software GL
//! (llvmpipe): each layer gets a GL backing store drawn by the CPU, which costs memory and frame
//! time and brings nothing. With GDK's GL off, WebKit draws without GL compositing, in less memory
//! and faster frames (docs/performance.md). So when the machine has no GPU render node
//! (`/dev/dri/renderD*`) and the user has not set `GDK_GL` themselves, Latchkey starts with
//! `GDK_GL=disable`. Machines with a GPU keep WebKit's defaults.
//! (`WEBKIT_DISABLE_COMPOSITING_MODE=1` reaches the same mode, but delayed the page's navigation in
//! most starts.)

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

/// Notes the CSS generic family of the GTK font when that font is one of fontconfig's aliases
/// rather than a font, for the page's `--font` (app.css). Called once at start, on the main thread
/// (GTK is used from no other), before the first window.
///
/// The page's font is `system-ui`, which WebKitGTK takes as the family of the `gtk-font-name`
/// setting (its SystemFontDatabaseGTK). Without a desktop setting it (a bare X session, many window
/// managers) that is "Sans", an alias no font is named: WebKit then looked among the installed fonts
/// for a family named "Sans", found none and fell back to `sans-serif`, which is where "Sans" leads
/// anyway, a search that slowed the page's first layout (docs/performance.md). Naming the generic
/// family spares it. A desktop's real font (Cantarell, Noto Sans, …) stays `system-ui`.
pub fn remember_font() {
    #[cfg(target_os = "linux")]
    {
        use gtk::prelude::*;
        let family = gtk::Settings::default()
            .and_then(|settings| settings.gtk_font_name())
            .and_then(|name| gtk::pango::FontDescription::from_string(&name).family());
        let _ = FONT.set(family.and_then(|f| generic_family(&f)));
    }
}

#[cfg(target_os = "linux")]
static FONT: std::sync::OnceLock<Option<&'static str>> = std::sync::OnceLock::new();

/// The initialization script that gives the page its font (`remember_font`), if it needs one.
pub fn font_script() -> Option<String> {
    #[cfg(target_os = "linux")]
    if let Some(family) = FONT.get().copied().flatten() {
        // Initialization scripts run once the document's root element exists, before any style.
        return Some(format!(
            "document.documentElement && document.documentElement.style.setProperty('--font', '{family}');"
        ));
    }
    None
}

/// The CSS generic family a fontconfig alias stands for; `None` for a font's own family.
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
fn generic_family(family: &str) -> Option<&'static str> {
    match family.trim().to_ascii_lowercase().as_str() {
        "sans" | "sans serif" | "sans-serif" => Some("sans-serif"),
        "serif" => Some("serif"),
        "monospace" | "mono" => Some("monospace"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::generic_family;

    #[test]
    fn aliases_become_generic_families_and_fonts_stay() {
        assert_eq!(generic_family("Sans"), Some("sans-serif"));
        assert_eq!(generic_family("sans serif"), Some("sans-serif"));
        assert_eq!(generic_family(" Sans-Serif "), Some("sans-serif"));
        assert_eq!(generic_family("Serif"), Some("serif"));
        assert_eq!(generic_family("Monospace"), Some("monospace"));
        for font in ["Cantarell", "Noto Sans", "Adwaita Sans", "DejaVu Sans", "Ubuntu", ""] {
            assert_eq!(generic_family(font), None, "{font}");
        }
    }
}
