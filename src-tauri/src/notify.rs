//! Desktop notifications (tauri-plugin-notification): one when an account comes to need the user
//! (Expired, Error, or re-authorization for changed scopes), one when it works again; never more
//! than one per account per incident. Incidents that already existed when Latchkey started are
//! not announced (the window's banner and the tray show them).

use std::collections::HashMap;
use std::sync::Mutex;

use tauri::{AppHandle, Manager};
use tauri_plugin_notification::NotificationExt;

use crate::dto::{AccountDto, AccountStatusDto};

/// Whether each account needed attention when last seen; `None` until the first list.
#[derive(Default)]
pub struct Notifier(Mutex<Option<HashMap<String, bool>>>);

/// One notification.
#[derive(Debug, PartialEq, Eq)]
pub struct Notice {
    pub title: String,
    pub body: String,
}

/// The rule of the window's attention banner (`ui/src/lib/status.ts`) and the tray's summary.
pub fn needs_attention(a: &AccountDto) -> bool {
    matches!(a.status, AccountStatusDto::Expired | AccountStatusDto::Error)
        || (a.status == AccountStatusDto::Active && a.reauth_needed)
}

/// Called with every account list the window gets; shows what changed.
pub fn on_accounts(app: &AppHandle, accounts: &[AccountDto]) {
    let Some(notifier) = app.try_state::<Notifier>() else { return };
    let notices = {
        let mut seen = notifier.0.lock().unwrap_or_else(|p| p.into_inner());
        changes(&mut seen, accounts)
    };
    for n in notices {
        tracing::info!(title = %n.title, "notification");
        if let Err(e) = app.notification().builder().title(&n.title).body(&n.body).show() {
            tracing::warn!("cannot show a notification: {e}");
        }
    }
}

/// The notifications that `accounts` calls for, given what was seen before; updates `seen`.
pub fn changes(seen: &mut Option<HashMap<String, bool>>, accounts: &[AccountDto]) -> Vec<Notice> {
    let now: HashMap<String, bool> = accounts.iter().map(|a| (a.id.clone(), needs_attention(a))).collect();
    let Some(before) = seen.replace(now) else { return Vec::new() };
    let mut out = Vec::new();
    for a in accounts {
        let was = before.get(&a.id).copied().unwrap_or(false);
        let who = format!("{} — {}", a.connection_name, a.identifier);
        match (was, needs_attention(a)) {
            (false, true) => out.push(Notice { title: format!("{who} needs you"), body: reason(a) }),
            (true, false) if a.status == AccountStatusDto::Active => out.push(Notice {
                title: format!("{who} works again"),
                body: "Latchkey keeps it fresh in the background again.".into(),
            }),
            _ => {}
        }
    }
    out
}

fn reason(a: &AccountDto) -> String {
    match a.status {
        AccountStatusDto::Expired => "Its sign-in has expired. Open Latchkey to reconnect it.".into(),
        AccountStatusDto::Error => a
            .last_error
            .clone()
            .unwrap_or_else(|| "Latchkey cannot use it right now. Open Latchkey to see why.".into()),
        _ => "Its connection asks for other permissions now. Open Latchkey to re-authorize it.".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn account(id: &str, status: AccountStatusDto, reauth: bool) -> AccountDto {
        AccountDto {
            id: id.into(),
            connection_id: "gmail".into(),
            connection_name: "Gmail".into(),
            identifier: format!("{id}@example.com"),
            status,
            identity: None,
            requested_scopes: vec![],
            granted_scopes: vec![],
            expires_at: None,
            last_error: None,
            reauth_needed: reauth,
            labels: vec![],
            note: None,
            created_at: String::new(),
            updated_at: String::new(),
            signing_in: false,
            offline: None,
            retry_at: None,
            last_refresh: None,
            revocation_pending: false,
        }
    }

    #[test]
    fn one_notification_per_incident_and_one_for_the_recovery() {
        use AccountStatusDto::*;
        let mut seen = None;
        // At start: an incident that already existed is not announced.
        assert!(changes(&mut seen, &[account("a", Expired, false), account("b", Active, false)]).is_empty());
        // b expires: one notice; the same state again (every refresh emits a list): nothing more.
        let n = changes(&mut seen, &[account("a", Expired, false), account("b", Expired, false)]);
        assert_eq!(n.len(), 1);
        assert_eq!(n[0].title, "Gmail — b@example.com needs you");
        assert!(n[0].body.contains("reconnect"));
        assert!(changes(&mut seen, &[account("a", Expired, false), account("b", Expired, false)]).is_empty());
        // b goes to Error while still needing attention: the same incident, no new notice.
        assert!(changes(&mut seen, &[account("a", Expired, false), account("b", Error, false)]).is_empty());
        // Both recover.
        let n = changes(&mut seen, &[account("a", Active, false), account("b", Active, false)]);
        assert_eq!(n.len(), 2);
        assert!(n.iter().all(|n| n.title.ends_with("works again")));
        // Changed scopes: a new incident; revoking it (the user's own act) is no recovery notice.
        let n = changes(&mut seen, &[account("a", Active, true)]);
        assert_eq!(n.len(), 1);
        assert!(n[0].body.contains("re-authorize"));
        assert!(changes(&mut seen, &[account("a", Revoked, false)]).is_empty());
    }
}
