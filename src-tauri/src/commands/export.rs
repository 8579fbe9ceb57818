//! Exporting the audit trail to a new file in the user's Downloads folder.

use std::path::PathBuf;

use tauri::{AppHandle, Manager, Runtime, State};

use super::CmdResult;
use super::activity::audit_query;
use crate::dto::{AuditFilterDto, ErrorDto, ExportDto, ExportFormatDto};
use crate::setup::AppState;

/// Writes the (filtered) audit trail to a new file in the user's Downloads folder.
#[tauri::command]
pub fn export_audit<R: Runtime>(
    app: AppHandle<R>,
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

/// The user's Downloads folder; `~/Downloads` when the desktop names none.
fn downloads_dir<R: Runtime>(app: &AppHandle<R>) -> CmdResult<PathBuf> {
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
