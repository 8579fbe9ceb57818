//! Output: aligned tables for people, stable JSON for scripts (documented in the README's "Use from
//! scripts"). Nothing here prints a token except `token`, whose whole job that is.

use latchkey_core::model::{Account, Identity, rfc3339};
use latchkey_core::model::{AccountStatus, HandoutPolicy};
use latchkey_core::store::{AuditEntry, Grant};
use latchkey_core::{AccessToken, Latchkey};
use serde_json::{Value, json};

type Result = crate::Outcome;

pub fn connections(core: &Latchkey, as_json: bool) -> Result {
    let mut rows = Vec::new();
    let mut values = Vec::new();
    for c in core.connection_views()? {
        let redirect = c.redirect.map(|r| r.as_str());
        values.push(json!({
            "id": c.id,
            "name": c.name,
            "provider": c.provider,
            "catalog": c.catalog,
            "type": c.kind,
            "status": c.status,
            "error": c.error,
            "scopes": c.scopes,
            "issuer": c.issuer,
            "client_id": c.client_id,
            "client_secret_stored": c.client_secret_stored,
            "redirect": c.redirect,
            "redirect_uri": c.redirect_uri,
            "client_setup_url": c.client_setup_url,
            "revocation": c.revocation,
            "api_base": c.api_base,
        }));
        rows.push(vec![
            c.id,
            c.name,
            c.kind.as_str().to_owned(),
            c.status.as_str().to_owned(),
            redirect.unwrap_or("-").to_owned(),
            c.scopes.join(" "),
        ]);
    }
    if as_json {
        outln!("{}", Value::Array(values));
    } else if rows.is_empty() {
        outln!("No connections are configured (see connections.toml).");
    } else {
        table(&["CONNECTION", "NAME", "TYPE", "STATUS", "REDIRECT", "SCOPES"], &rows)?;
    }
    Ok(())
}

pub fn account_json(core: &Latchkey, a: &Account) -> Value {
    let connection_name = core.connection(a.connection.as_str()).map(|c| c.name.clone()).ok();
    json!({
        "ref": format!("{}:{}", a.connection, a.identifier),
        "id": a.id.as_str(),
        "connection": a.connection.as_str(),
        "connection_name": connection_name,
        "identifier": a.identifier,
        "status": a.status.as_str(),
        "identity": a.identity.as_ref().map(|i| json!({"subject": i.subject, "email": i.email, "name": i.name})),
        "requested_scopes": a.requested_scopes,
        "granted_scopes": a.granted_scopes,
        "expires_at": live_expiry(a).map(rfc3339),
        "last_refresh": a.token_issued_at.map(rfc3339),
        "offline": a.offline,
        "last_error": a.last_error,
        "reauth_needed": a.reauth_needed,
        "labels": a.labels,
        "note": a.note,
        "handout": a.handout.as_str(),
    })
}

pub fn accounts(core: &Latchkey, list: &[Account], as_json: bool) -> Result {
    if as_json {
        outln!("{}", Value::Array(list.iter().map(|a| account_json(core, a)).collect()));
        return Ok(());
    }
    if list.is_empty() {
        outln!("No accounts.");
        return Ok(());
    }
    let rows: Vec<Vec<String>> = list
        .iter()
        .map(|a| {
            vec![
                format!("{}:{}", a.connection, a.identifier),
                status_words(a),
                a.handout.as_str().to_owned(),
                a.identity.as_ref().and_then(|i| i.email.clone().or(i.name.clone())).unwrap_or_default(),
                a.granted_scopes.join(" "),
            ]
        })
        .collect();
    table(&["ACCOUNT", "STATUS", "HAND-OUT", "IDENTITY", "GRANTED SCOPES"], &rows)
}

/// The grants, each with its account's reference (`?` when its account is gone).
pub fn grants(core: &Latchkey, list: &[Grant], as_json: bool) -> Result {
    let now =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64);
    let reference = |g: &Grant| {
        core.get_account(&g.account)
            .map(|a| format!("{}:{}", a.connection, a.identifier))
            .unwrap_or_else(|_| "?".into())
    };
    if as_json {
        let values = list
            .iter()
            .map(|g| {
                json!({
                    "consumer": g.consumer,
                    "account": reference(g),
                    "account_id": g.account.as_str(),
                    "access": g.access.as_str(),
                    "until": g.until.map(rfc3339),
                    "expired": !g.is_live(now),
                    "created_at": rfc3339(g.created_at),
                    "last_used": g.last_used.map(rfc3339),
                })
            })
            .collect();
        outln!("{}", Value::Array(values));
        return Ok(());
    }
    if list.is_empty() {
        outln!("No grants: no app or agent may call an account's API through Latchkey.");
        return Ok(());
    }
    let rows: Vec<Vec<String>> = list
        .iter()
        .map(|g| {
            let until = match g.until {
                Some(u) if !g.is_live(now) => format!("ended {}", rfc3339(u)),
                Some(u) => rfc3339(u),
                None => "—".into(),
            };
            vec![
                g.consumer.clone(),
                reference(g),
                g.access.as_str().to_owned(),
                until,
                g.last_used.map(rfc3339).unwrap_or_else(|| "never".into()),
            ]
        })
        .collect();
    table(&["CONSUMER", "ACCOUNT", "ACCESS", "UNTIL", "LAST USED"], &rows)
}

pub fn account(core: &Latchkey, a: &Account, as_json: bool) -> Result {
    if as_json {
        outln!("{}", account_json(core, a));
        return Ok(());
    }
    let identity = a.identity.as_ref().map(|i| {
        [i.name.as_deref(), i.email.as_deref(), i.subject.as_deref()]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(", ")
    });
    let mut lines = vec![
        ("Account", format!("{}:{}", a.connection, a.identifier)),
        ("Status", status_words(a)),
        ("Identity", identity.unwrap_or_else(|| "unknown".into())),
        ("Granted", a.granted_scopes.join(" ")),
        ("Requested", a.requested_scopes.join(" ")),
        ("Expires", live_expiry(a).map(rfc3339).unwrap_or_else(|| "—".into())),
        ("Hand-out", handout_words(a.handout).into()),
    ];
    if let Some(e) = &a.last_error {
        lines.push(("Problem", e.clone()));
    }
    if !a.labels.is_empty() {
        lines.push(("Labels", a.labels.join(", ")));
    }
    if let Some(n) = &a.note {
        lines.push(("Note", n.clone()));
    }
    for (k, v) in lines {
        outln!("{k:<10} {}", printable(&v));
    }
    Ok(())
}

/// The policy with what it means, for `accounts show` and `accounts policy`.
pub fn handout_words(policy: HandoutPolicy) -> &'static str {
    match policy {
        HandoutPolicy::Open => "open (any local program may take its token; every hand-out is audited)",
        HandoutPolicy::Ask => "ask (only programs with a full-access grant, or that you allow in the app)",
        HandoutPolicy::Closed => "closed (its token never leaves Latchkey; agents use it through Latchkey)",
    }
}

/// The access token's expiry, unless the account's tokens are gone (revoked): a dead token's time
/// would read as if it still worked.
fn live_expiry(a: &Account) -> Option<i64> {
    a.expires_at.filter(|_| a.status != AccountStatus::Revoked)
}

fn status_words(a: &Account) -> String {
    let mut s = a.status.to_string();
    if a.offline.is_some() {
        s += " (offline — retrying)";
    }
    if a.reauth_needed {
        s += " (re-authorize for new scopes)";
    }
    s
}

pub fn identity(i: &Identity, as_json: bool) -> Result {
    if as_json {
        outln!("{}", json!({"ok": true, "subject": i.subject, "email": i.email, "name": i.name}));
    } else {
        let who = [i.name.as_deref(), i.email.as_deref(), i.subject.as_deref()]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>();
        outln!("OK: the provider knows this token as {}.", printable(&who.join(", ")));
    }
    Ok(())
}

pub fn token(t: &AccessToken, as_json: bool) -> Result {
    if as_json {
        outln!(
            "{}",
            json!({"access_token": t.token.expose(), "expires_at": t.expires_at.map(rfc3339), "scopes": t.scopes})
        );
    } else {
        outln!("{}", t.token.expose());
    }
    Ok(())
}

pub fn audit(entries: &[AuditEntry]) -> Result {
    let rows: Vec<Vec<String>> = entries
        .iter()
        .map(|e| {
            let who = match &e.caller {
                Some(c) => format!("{} {c}", e.actor),
                None => e.actor.clone(),
            };
            vec![rfc3339(e.at), e.action.to_string(), who, e.outcome.to_string(), e.detail.clone()]
        })
        .collect();
    table(&["TIME", "ACTION", "BY", "OUTCOME", "DETAIL"], &rows)
}

/// `s` with every control and bidi character shown as an escape (`\u{1b}`), so stored text (a
/// provider's, an older version's) cannot move the cursor, recolour the terminal, forge a row or
/// reorder what is read.
pub fn printable(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if latchkey_core::sanitize::is_unsafe(c) {
            out.extend(c.escape_unicode());
        } else {
            out.push(c);
        }
    }
    out
}

/// Columns padded to their widest cell; the last column is not padded.
fn table(header: &[&str], rows: &[Vec<String>]) -> Result {
    let rows: Vec<Vec<String>> = rows.iter().map(|r| r.iter().map(|c| printable(c)).collect()).collect();
    let rows = &rows;
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| -> Result {
        let last = cells.len().saturating_sub(1);
        let out: Vec<String> = cells
            .iter()
            .enumerate()
            .map(|(i, c)| if i == last { (*c).to_owned() } else { format!("{c:<w$}", w = widths[i]) })
            .collect();
        outln!("{}", out.join("  ").trim_end());
        Ok(())
    };
    line(header.to_vec())?;
    for row in rows {
        line(row.iter().map(String::as_str).collect())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::printable;

    #[test]
    fn control_and_bidi_characters_are_escaped() {
        assert_eq!(printable("a\u{1b}[31mb\nc\u{202E}d\u{9b}"), "a\\u{1b}[31mb\\u{a}c\\u{202e}d\\u{9b}");
        assert_eq!(printable("alice@example.test — Ålice"), "alice@example.test — Ålice");
    }
}
