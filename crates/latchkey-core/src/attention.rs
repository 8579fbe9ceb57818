//! Which accounts need the user, said the same way wherever Latchkey says it: the tray's summary
//! (the desktop shell's tray and `latchkey-tray`'s), the desktop notifications, and the window's
//! attention banner (`ui/src/lib/status.ts` keeps the same rule for the banner).
//!
//! Notifications: one when an account comes to need the user (Expired, Error, or re-authorization
//! for changed scopes), one when it works again; never more than one per account per incident.
//! Incidents that already existed when the watching process started are not announced (the
//! window's banner and the tray show them).

use std::collections::HashMap;

use crate::model::{Account, AccountStatus};

/// Expired, Error, or Active with scopes the connection no longer asks for.
pub fn needs_attention(a: &Account) -> bool {
    matches!(a.status, AccountStatus::Expired | AccountStatus::Error)
        || (a.status == AccountStatus::Active && a.reauth_needed)
}

/// "All accounts are fine" or "N accounts need attention": the tray's menu line and tooltip.
pub fn summary(accounts: &[Account]) -> String {
    let needs = accounts.iter().filter(|a| needs_attention(a)).count();
    match (accounts.len(), needs) {
        (0, _) => "No accounts connected".to_owned(),
        (_, 0) => "All accounts are fine".to_owned(),
        (_, 1) => "1 account needs attention".to_owned(),
        (_, n) => format!("{n} accounts need attention"),
    }
}

/// One desktop notification.
#[derive(Debug, PartialEq, Eq)]
pub struct Notice {
    pub title: String,
    pub body: String,
}

/// Whether each account needed attention when last seen; nothing until the first list.
#[derive(Debug, Default)]
pub struct Incidents(Option<HashMap<String, bool>>);

impl Incidents {
    /// The notifications that `accounts` calls for, given what was seen before; remembers them.
    /// `connection_name` names an account's connection for the title.
    pub fn changes(
        &mut self,
        accounts: &[Account],
        connection_name: impl Fn(&Account) -> String,
    ) -> Vec<Notice> {
        let now: HashMap<String, bool> =
            accounts.iter().map(|a| (a.id.to_string(), needs_attention(a))).collect();
        let Some(before) = self.0.replace(now) else { return Vec::new() };
        let mut out = Vec::new();
        for a in accounts {
            let was = before.get(&a.id.to_string()).copied().unwrap_or(false);
            let who = format!("{} — {}", connection_name(a), a.identifier);
            match (was, needs_attention(a)) {
                (false, true) => out.push(Notice { title: format!("{who} needs you"), body: reason(a) }),
                (true, false) if a.status == AccountStatus::Active => out.push(Notice {
                    title: format!("{who} works again"),
                    body: "Latchkey keeps it fresh in the background again.".into(),
                }),
                _ => {}
            }
        }
        out
    }
}

fn reason(a: &Account) -> String {
    match a.status {
        AccountStatus::Expired => "Its sign-in has expired. Open Latchkey to reconnect it.".into(),
        AccountStatus::Error => a
            .last_error
            .clone()
            .unwrap_or_else(|| "Latchkey cannot use it right now. Open Latchkey to see why.".into()),
        _ => "Its connection asks for other permissions now. Open Latchkey to re-authorize it.".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{AccountId, ConnectionId};

    fn account(id: &AccountId, status: AccountStatus, reauth_needed: bool) -> Account {
        Account {
            id: id.clone(),
            connection: ConnectionId::new("gmail").expect("connection id"),
            identifier: format!("{}@example.com", &id.as_str()[..8]),
            status,
            identity: None,
            requested_scopes: vec![],
            granted_scopes: vec![],
            expires_at: None,
            last_error: None,
            reauth_needed,
            labels: vec![],
            note: None,
            token_issued_at: None,
            offline: None,
            retry_at: None,
            failure_count: 0,
            revocation_pending: false,
            token_version: 0,
            handout: Default::default(),
            created_at: 0,
            updated_at: 0,
        }
    }

    #[test]
    fn the_summary_counts_the_accounts_that_need_attention() {
        use AccountStatus::*;
        let id = AccountId::random;
        assert_eq!(summary(&[]), "No accounts connected");
        assert_eq!(
            summary(&[
                account(&id(), Active, false),
                account(&id(), Revoked, false),
                account(&id(), Pending, false)
            ]),
            "All accounts are fine"
        );
        assert_eq!(
            summary(&[account(&id(), Active, false), account(&id(), Expired, false)]),
            "1 account needs attention"
        );
        assert_eq!(
            summary(&[
                account(&id(), Error, false),
                account(&id(), Active, true),
                account(&id(), Suspended, false)
            ]),
            "2 accounts need attention"
        );
    }

    #[test]
    fn one_notification_per_incident_and_one_for_the_recovery() {
        use AccountStatus::*;
        let (a, b) = (AccountId::random(), AccountId::random());
        let name = |_: &Account| "Gmail".to_owned();
        let mut seen = Incidents::default();
        // At start: an incident that already existed is not announced.
        assert!(seen.changes(&[account(&a, Expired, false), account(&b, Active, false)], name).is_empty());
        // b expires: one notice; the same state again (every refresh lists them): nothing more.
        let n = seen.changes(&[account(&a, Expired, false), account(&b, Expired, false)], name);
        assert_eq!(n.len(), 1);
        assert_eq!(n[0].title, format!("Gmail — {} needs you", account(&b, Active, false).identifier));
        assert!(n[0].body.contains("reconnect"));
        assert!(seen.changes(&[account(&a, Expired, false), account(&b, Expired, false)], name).is_empty());
        // b goes to Error while still needing attention: the same incident, no new notice.
        assert!(seen.changes(&[account(&a, Expired, false), account(&b, Error, false)], name).is_empty());
        // Both recover.
        let n = seen.changes(&[account(&a, Active, false), account(&b, Active, false)], name);
        assert_eq!(n.len(), 2);
        assert!(n.iter().all(|n| n.title.ends_with("works again")));
        // Changed scopes: a new incident; revoking it (the user's own act) is no recovery notice.
        let n = seen.changes(&[account(&a, Active, true)], name);
        assert_eq!(n.len(), 1);
        assert!(n[0].body.contains("re-authorize"));
        assert!(seen.changes(&[account(&a, Revoked, false)], name).is_empty());
    }
}
