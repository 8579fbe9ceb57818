//! The background refresher: refreshes each Active OAuth account before its token expires, retries
//! after transient failures when their backoff ends, retries revocations the provider has not
//! confirmed, and treats every token as stale after the machine wakes from sleep.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use super::Latchkey;
use super::tokens::RefreshWhen;
use crate::error::Result;
use crate::model::{AccountFilter, AccountId, AccountStatus, Actor};
use crate::store::now;

/// How long the refresher sleeps at most between passes.
const MAX_SLEEP: Duration = Duration::from_secs(30);

impl Latchkey {
    /// The accounts due for work at `at` (refresh, or a revocation retry), and the earliest time
    /// any account is due (possibly already past). With `stale`, every token with an expiry counts as due.
    pub fn due(&self, at: i64, stale: bool) -> Result<(Vec<AccountId>, Option<i64>)> {
        let mut due = Vec::new();
        let mut next: Option<i64> = None;
        for a in self.list_connected_accounts(&AccountFilter::default())? {
            let oauth = self.connection(a.connection.as_str()).is_ok_and(|c| c.oauth().is_some());
            let when = if a.revocation_pending {
                Some(a.retry_at.unwrap_or(at))
            } else if oauth && matches!(a.status, AccountStatus::Active | AccountStatus::Error) {
                match (a.retry_at, stale && a.expires_at.is_some()) {
                    (Some(retry), _) => Some(retry),
                    (None, true) => Some(at),
                    (None, false) => a.refresh_due_at(),
                }
            } else {
                None
            };
            if let Some(t) = when {
                next = Some(next.map_or(t, |n| n.min(t)));
                if t <= at {
                    due.push(a.id);
                }
            }
        }
        Ok((due, next))
    }

    /// One pass over what is due. Returns the accounts it touched (whatever the outcome: a
    /// failure is recorded on the account).
    pub async fn refresh_pass(&self, stale: bool) -> Result<Vec<AccountId>> {
        let _working = self.working();
        let (due, _) = self.due(now(), stale)?;
        for id in &due {
            let account = self.get_account(id)?;
            let outcome = if account.revocation_pending {
                self.retry_revocation(id, &Actor::Refresher).await.map(drop)
            } else {
                let when = if stale { RefreshWhen::Always } else { RefreshWhen::Due };
                self.refresh_account(id, when, &Actor::Refresher).await.map(drop)
            };
            if let Err(e) = outcome {
                tracing::info!(account = %id, "background refresh: {e}");
            }
        }
        Ok(due)
    }
}

/// Runs the refresher until `stop` turns true. `on_change` hears which accounts a pass touched.
pub async fn run_refresher(
    core: Arc<Latchkey>,
    on_change: impl Fn(&[AccountId]) + Send + Sync + 'static,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let mut stale = true; // at start, as after a wake-up: tokens may have aged while we were not running
    loop {
        match core.refresh_pass(stale).await {
            Ok(touched) if !touched.is_empty() => on_change(&touched),
            Ok(_) => {}
            Err(e) => tracing::warn!("refresher: {e}"),
        }
        let next = core.due(now(), false).ok().and_then(|(_, next)| next);
        let wait =
            next.map(|t| Duration::from_secs((t - now()).max(1) as u64)).unwrap_or(MAX_SLEEP).min(MAX_SLEEP);
        let wall_before = SystemTime::now();
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = stop.changed() => {}
        }
        if *stop.borrow() {
            return;
        }
        // The monotonic clock stops while the machine sleeps; the wall clock does not.
        let wall = SystemTime::now().duration_since(wall_before).unwrap_or_default();
        stale = wall > wait + Duration::from_secs(60);
        if stale {
            tracing::info!("the machine slept: treating tokens as stale");
        }
    }
}
