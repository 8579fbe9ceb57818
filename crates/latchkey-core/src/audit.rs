//! Exporting the audit trail: JSON lines (one object per entry) and CSV (RFC 4180). Entries hold no
//! secret by construction (see store/audit.rs), so an export is safe to share.

use crate::model::rfc3339;
use crate::store::AuditEntry;

const COLUMNS: [&str; 9] =
    ["id", "at", "account_id", "connection_id", "action", "actor", "caller", "outcome", "detail"];

fn fields(e: &AuditEntry) -> [String; 9] {
    let opt = |v: &Option<String>| v.clone().unwrap_or_default();
    [
        e.id.to_string(),
        rfc3339(e.at),
        opt(&e.account_id),
        opt(&e.connection_id),
        e.action.to_string(),
        e.actor.clone(),
        opt(&e.caller),
        e.outcome.to_string(),
        e.detail.clone(),
    ]
}

/// One JSON object per line, `at` as RFC 3339, absent values as `null`.
pub fn to_json_lines(entries: &[AuditEntry]) -> String {
    let mut out = String::new();
    for e in entries {
        let line = serde_json::json!({
            "id": e.id,
            "at": rfc3339(e.at),
            "account_id": e.account_id,
            "connection_id": e.connection_id,
            "action": e.action,
            "actor": e.actor,
            "caller": e.caller,
            "outcome": e.outcome,
            "detail": e.detail,
        });
        out.push_str(&line.to_string());
        out.push('\n');
    }
    out
}

/// A header row, then one row per entry; fields quoted when they need it.
pub fn to_csv(entries: &[AuditEntry]) -> String {
    let mut out = COLUMNS.join(",");
    out.push_str("\r\n");
    for e in entries {
        let row: Vec<String> = fields(e).iter().map(|f| csv_field(f)).collect();
        out.push_str(&row.join(","));
        out.push_str("\r\n");
    }
    out
}

fn csv_field(f: &str) -> String {
    // A leading = + - @ would make a spreadsheet evaluate the cell; prefix it with a quote.
    let f = if f.starts_with(['=', '+', '-', '@']) { format!("'{f}") } else { f.to_owned() };
    if f.contains([',', '"', '\n', '\r']) { format!("\"{}\"", f.replace('"', "\"\"")) } else { f }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(detail: &str) -> AuditEntry {
        AuditEntry {
            id: 7,
            at: 0,
            account_id: Some("a1".into()),
            connection_id: None,
            action: crate::store::AuditAction::StateChanged,
            actor: "cli".into(),
            caller: Some("deploy.sh".into()),
            outcome: crate::store::AuditOutcome::Ok,
            detail: detail.into(),
        }
    }

    #[test]
    fn json_lines_round_trip() {
        let text = to_json_lines(&[entry("a -> b"), entry("x")]);
        let lines: Vec<serde_json::Value> =
            text.lines().map(|l| serde_json::from_str(l).expect("json")).collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0]["at"], "1970-01-01T00:00:00Z");
        assert_eq!(lines[0]["caller"], "deploy.sh");
        assert!(lines[0]["connection_id"].is_null());
        assert_eq!(lines[1]["detail"], "x");
    }

    #[test]
    fn csv_quotes_what_needs_quoting_and_defuses_formulas() {
        let text = to_csv(&[entry("said \"hi\", then left\nfor good"), entry("=HYPERLINK(\"x\")")]);
        let rows: Vec<&str> = text.split("\r\n").collect();
        assert_eq!(rows[0], "id,at,account_id,connection_id,action,actor,caller,outcome,detail");
        assert_eq!(
            rows[1],
            "7,1970-01-01T00:00:00Z,a1,,state.changed,cli,deploy.sh,ok,\"said \"\"hi\"\", then left\nfor good\""
        );
        assert!(rows[2].ends_with(",\"'=HYPERLINK(\"\"x\"\")\""), "{}", rows[2]);
    }
}
