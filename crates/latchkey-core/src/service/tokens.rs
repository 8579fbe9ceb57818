//! Handing out access tokens that are fresh, refreshing them one at a time, suspending and resuming.
//!
//! One refresh per account at a time, across tasks and processes: an in-process async mutex per
//! account, then an exclusive lock on `locks/<account>.lock` in the data folder (the app and the
//! CLI share it); hand-outs, revocations, suspensions and deletions take the same locks. Under the
//! lock the stored expiry is read again — someone may have just refreshed — and only then is the
//! provider asked, with the refresh journaled in SQLite first, so a refresh cut short is known as
//! such. The new refresh token is written to the keychain before the new access token, and both
//! before it is handed to anyone (RFC 9700 §4.14.2); a response without a refresh token keeps the
//! old one.

use std::fs::File;
use std::sync::Arc;
use std::time::Duration;

use super::Latchkey;
use crate::config::Connection;
use crate::error::{Error, Result};
use crate::model::{Account, AccountId, AccountStatus, Actor, rfc3339};
use crate::oauth::token::{TokenClient, TokenFailure as RefreshFailure};
use crate::oauth::userinfo;
use crate::secret::{Secret, TokenSet};
use crate::store::{AuditAction, AuditOutcome, now};

/// An access token, fresh enough for the caller.
#[derive(Debug)]
pub struct AccessToken {
    pub token: Secret,
    pub expires_at: Option<i64>,
    pub scopes: Vec<String>,
}

/// When a refresh under the lock should go ahead (another task or process may have just done it).
#[derive(Clone, Copy, Debug)]
pub(super) enum RefreshWhen {
    Always,
    /// Less than this remains — unless the token changed since the caller looked (`seen`, its
    /// `token_version`): then someone just refreshed, and that token is the freshest there is, even
    /// if the provider's tokens live shorter than `min_valid`.
    Below {
        min_valid: Duration,
        seen: i64,
    },
    /// The refresher's schedule says so (`Account::refresh_due_at`, or the end of a backoff).
    Due,
}

/// Held for as long as an operation needs the account to itself (see [`Latchkey::exclusive`]).
pub(super) struct AccountLock {
    _file: File,
    _guard: tokio::sync::OwnedMutexGuard<()>,
}

/// How long to wait before each attempt to store refreshed tokens: about 7 s in all, for a
/// keychain that is being unlocked.
const KEYCHAIN_RETRY_MS: [u64; 5] = [0, 250, 750, 2000, 4000];

/// After this many unexplained refresh failures in a row, the account goes to Error.
const UNEXPLAINED_LIMIT: i64 = 3;

impl Latchkey {
    /// An Active OAuth account's access token, refreshed first when less than `min_valid` remains.
    /// Every hand-out is audited with who asked. It runs under the account's locks, so a revocation
    /// or a suspension either comes after it or is seen by it.
    pub async fn access_token(
        &self,
        id: &AccountId,
        min_valid: Duration,
        actor: &Actor,
    ) -> Result<AccessToken> {
        self.access_token_with_scopes(id, min_valid, &[], actor).await
    }

    /// As [`Latchkey::access_token`], but refused (and audited as refused, naming the missing
    /// scopes) unless the account was granted every scope in `required`. Both hand the raw token
    /// out, so the account's hand-out policy decides first whether this caller may take it.
    pub async fn access_token_with_scopes(
        &self,
        id: &AccountId,
        min_valid: Duration,
        required: &[String],
        actor: &Actor,
    ) -> Result<AccessToken> {
        let account = self.get_account(id)?;
        self.check_handout(&account, actor).await?;
        self.token_for(id, min_valid, required, actor, true).await
    }

    /// The hand-out itself; `record` writes its `token.read` row (a caller that audits the use of
    /// the token in its own row passes false; refusals are recorded either way).
    pub(super) async fn token_for(
        &self,
        id: &AccountId,
        min_valid: Duration,
        required: &[String],
        actor: &Actor,
        record: bool,
    ) -> Result<AccessToken> {
        let _working = self.working();
        // The token as the caller found it: if it changes while we wait for the lock, someone just
        // refreshed, and that token is the freshest there is, even if the provider's tokens live
        // shorter than `min_valid`.
        let seen = self.get_account(id)?.token_version;
        let _lock = self.exclusive(id).await?;
        let mut account = self.get_account(id)?;
        self.check_granted(&account, required, actor)?;
        self.check_usable(&account, actor)?;
        if needs_refresh(&account, min_valid) || self.store().refresh_journaled(id)? {
            account = self.refresh_locked(id, RefreshWhen::Below { min_valid, seen }, actor).await?;
        }
        let token = match self.vault.access_token(id).await? {
            Some(t) => t,
            None => return Err(self.credentials_missing(&account)?),
        };
        if record {
            self.audit(id, &account.connection, AuditAction::TokenRead, actor, AuditOutcome::Ok, "")?;
        }
        Ok(AccessToken { token, expires_at: account.expires_at, scopes: account.granted_scopes })
    }

    /// Refreshes now, whatever the expiry (after a 401, or when the user asks).
    pub async fn refresh_now(&self, id: &AccountId, actor: &Actor) -> Result<Account> {
        let _working = self.working();
        self.refresh_account(id, RefreshWhen::Always, actor).await
    }

    fn check_usable(&self, account: &Account, actor: &Actor) -> Result<()> {
        if account.status != AccountStatus::Active {
            return Err(self.refuse_read(account, actor)?);
        }
        if self.connection(account.connection.as_str())?.oauth().is_none() {
            return Err(Error::WrongConnectionType {
                connection: account.connection.to_string(),
                kind: "an API-key or basic-auth",
                what: "read its credential instead.",
            });
        }
        Ok(())
    }

    /// Refuses, audited, a hand-out for scopes the account was not granted.
    fn check_granted(&self, account: &Account, required: &[String], actor: &Actor) -> Result<()> {
        let missing: Vec<String> =
            required.iter().filter(|s| !account.granted_scopes.contains(s)).map(|s| shorten(s)).collect();
        let Some(first) = missing.first() else { return Ok(()) };
        self.audit_refused_read(account, actor, &format!("not granted: {}", missing.join(" ")))?;
        Err(Error::NeedsReconnect(format!(
            "it was not granted the scope “{first}”; re-authorize it with that scope"
        )))
    }

    /// Records a refused credential read of a non-Active account and says why.
    pub(super) fn refuse_read(&self, account: &Account, actor: &Actor) -> Result<Error> {
        self.audit_refused_read(account, actor, &format!("account is {}", account.status))?;
        Ok(match account.status {
            AccountStatus::Suspended => Error::Suspended,
            other => Error::NeedsReconnect(format!("it is {other}")),
        })
    }

    pub(super) fn audit_refused_read(&self, account: &Account, actor: &Actor, detail: &str) -> Result<()> {
        self.audit(
            &account.id,
            &account.connection,
            AuditAction::TokenRead,
            actor,
            AuditOutcome::Refused,
            detail,
        )
    }

    /// The refresh, under the account's locks.
    pub(super) async fn refresh_account(
        &self,
        id: &AccountId,
        when: RefreshWhen,
        actor: &Actor,
    ) -> Result<Account> {
        let _lock = self.exclusive(id).await?;
        self.refresh_locked(id, when, actor).await
    }

    /// The refresh; the caller holds the account's locks. Crash-safe order: journal the refresh,
    /// ask the provider, write the refresh token then the access token, record the refresh and end
    /// the journal in one transaction. Termination signals wait from the request to the record.
    async fn refresh_locked(&self, id: &AccountId, when: RefreshWhen, actor: &Actor) -> Result<Account> {
        // Re-read: another task or process may have refreshed, revoked or suspended while we waited.
        let account = self.get_account(id)?;
        if !matches!(account.status, AccountStatus::Active | AccountStatus::Error) {
            return Err(Error::NeedsReconnect(format!("it is {}", account.status)));
        }
        // A journal row seen under the lock is a refresh that never finished: only asking the
        // provider tells whether the stored refresh token survived it.
        let interrupted = self.store().refresh_journaled(id)?;
        let go = interrupted
            || match when {
                RefreshWhen::Always => true,
                RefreshWhen::Below { min_valid, seen } => {
                    needs_refresh(&account, min_valid) && account.token_version == seen
                }
                RefreshWhen::Due => match account.retry_at {
                    Some(retry_at) => retry_at <= now(),
                    None => account.refresh_due_at().is_some_and(|t| t <= now()),
                },
            };
        if !go {
            return Ok(account);
        }
        let force = interrupted || matches!(when, RefreshWhen::Always);
        let conn = self.connection(account.connection.as_str())?;
        if let Some(retry_at) = account.retry_at.filter(|&t| t > now() && !force) {
            return Err(Error::Offline {
                provider: conn.name.clone(),
                reason: account.offline.clone().unwrap_or_default(),
                retry_at: rfc3339(retry_at),
            });
        }
        // Only the refresh token is needed (one keychain read, not two); without one, the access
        // token tells a grant that never had one from credentials gone missing.
        let Some(refresh_token) = self.vault.refresh_token(id).await? else {
            if self.vault.access_token(id).await?.is_none() {
                return Err(self.credentials_missing(&account)?);
            }
            let sentence =
                "The provider gave no refresh token, so the expired sign-in cannot be renewed. Reconnect it.";
            self.fail_refresh(&account, AccountStatus::Expired, sentence)?;
            return Err(Error::NeedsReconnect("no refresh token".into()));
        };
        let metadata = match self.metadata(&conn).await {
            Ok(m) => m,
            Err(e) => {
                return Err(self.transient(&account, &conn.name, &e.to_string(), None, actor)?);
            }
        };
        let Some(oauth) = conn.oauth() else { return Err(Error::UnknownConnection(conn.name.clone())) };
        let client_id = oauth.client_id.clone().unwrap_or_default();
        let secret = self.client_secret(&conn).await?;
        let client = TokenClient {
            http: &self.http,
            metadata: &metadata,
            protocol: &oauth.protocol,
            client_id: &client_id,
            client_secret: secret.as_ref(),
        };

        let _critical = crate::signals::critical();
        self.store().begin_refresh(id, self.instance.id())?;
        self.checkpoint("refresh.journaled");
        let answer = client.refresh(&refresh_token).await;
        // The provider has answered; from here to the record, a rotated refresh token lives only
        // in this process (the window SIGKILL can still hit).
        self.checkpoint("refresh.answered");
        let r = match answer {
            Ok(r) => r,
            Err(failure) => {
                self.store().end_refresh(id)?;
                return Err(self.refresh_failed(&account, &conn, failure, interrupted, actor)?);
            }
        };
        let received = now();
        let rotated = r.refresh_token.is_some();
        let tokens = Arc::new(TokenSet {
            access_token: r.access_token,
            refresh_token: Some(r.refresh_token.unwrap_or(refresh_token)),
        });
        // The locks keep revocation, suspension and deletion out; should the account have left
        // Active anyway (a program that ignores them), what the provider gave is not kept.
        let still = self
            .store()
            .account(id)
            .ok()
            .filter(|a| matches!(a.status, AccountStatus::Active | AccountStatus::Error));
        if still.is_none() {
            self.store().end_refresh(id)?;
            let _ = self.send_revocation(&conn, &tokens).await;
            return Err(Error::NeedsReconnect(
                "it was revoked, suspended or deleted during the refresh".into(),
            ));
        }
        if let Err(e) = self.put_tokens_patiently(id, tokens.clone()).await {
            self.store().end_refresh(id)?;
            if rotated {
                // The stored refresh token was spent by this refresh: say so now, not at the next
                // expiry, and let the provider forget the tokens nobody can keep.
                let sentence = format!(
                    "{} renewed the sign-in, but the keychain could not store the renewed tokens ({e}). Reconnect it.",
                    conn.name
                );
                self.fail_refresh(&account, AccountStatus::Expired, &sentence)?;
                let _ = self.send_revocation(&conn, &tokens).await;
            }
            return Err(e);
        }
        self.checkpoint("refresh.stored");
        self.store().set_connection_error(&conn.id, None, &Actor::Provider)?;
        let expires_at = r.expires_in.map(|d| received + d.as_secs() as i64);
        self.store().record_refreshed(id, expires_at, r.scopes.as_deref(), actor)
    }

    /// Writes a refreshed token set, asking again for a while when the keychain refuses (it may be
    /// locked and the user unlocking it): the set exists nowhere else.
    async fn put_tokens_patiently(&self, id: &AccountId, tokens: Arc<TokenSet>) -> Result<()> {
        let mut last = None;
        for wait_ms in KEYCHAIN_RETRY_MS {
            tokio::time::sleep(Duration::from_millis(wait_ms)).await;
            match self.vault.put_tokens(id, tokens.clone()).await {
                Ok(()) => return Ok(()),
                Err(e @ Error::Keychain(_)) => {
                    tracing::warn!(account = %id, "the keychain refused the refreshed tokens: {e}");
                    last = Some(e);
                }
                Err(e) => return Err(e),
            }
        }
        Err(last.unwrap_or_else(|| Error::Keychain("the keychain refused the refreshed tokens".into())))
    }

    /// Records what the provider's refusal means for the account and returns the caller's error.
    fn refresh_failed(
        &self,
        account: &Account,
        conn: &Connection,
        failure: RefreshFailure,
        interrupted: bool,
        actor: &Actor,
    ) -> Result<Error> {
        let id = &account.id;
        // After an interrupted refresh, a dead grant most likely means that refresh rotated it.
        let why = if interrupted {
            " An earlier refresh was interrupted (Latchkey was stopped while the provider answered), which may have spent the sign-in."
        } else {
            ""
        };
        Ok(match failure {
            RefreshFailure::Transient { reason, retry_after } => {
                self.transient(account, &conn.name, &reason, retry_after, actor)?
            }
            RefreshFailure::GrantDead { detail } => {
                // The provider judged the grant, so it accepted the client.
                self.store().set_connection_error(&conn.id, None, &Actor::Provider)?;
                let sentence = format!(
                    "{} no longer accepts this account's sign-in (it may have been revoked there): reconnect it.{why} ({detail})",
                    conn.name
                );
                self.fail_refresh(account, AccountStatus::Expired, &sentence)?;
                Error::NeedsReconnect(format!("{} refused the refresh", conn.name))
            }
            RefreshFailure::SignInRequired { detail } => {
                self.store().set_connection_error(&conn.id, None, &Actor::Provider)?;
                let sentence = format!("{} asks you to sign in again.{why} ({detail})", conn.name);
                self.fail_refresh(account, AccountStatus::Expired, &sentence)?;
                Error::NeedsReconnect(format!("{} asks you to sign in again", conn.name))
            }
            RefreshFailure::ClientRejected { detail } => {
                // The connection's configuration, not the account: no state change, no retry loop.
                let sentence = format!("{} refused Latchkey's client: {detail}", conn.name);
                self.store().set_connection_error(&conn.id, Some(&sentence), &Actor::Provider)?;
                Error::Provider { provider: conn.name.clone(), detail }
            }
            RefreshFailure::Unexplained { detail } => {
                let updated = self.store().record_transient_failure(id, &detail, now() + 60, actor)?;
                if updated.failure_count >= UNEXPLAINED_LIMIT && updated.status == AccountStatus::Active {
                    let sentence =
                        format!("Refreshing failed {} times in a row ({detail}).", updated.failure_count);
                    self.fail_refresh(&updated, AccountStatus::Error, &sentence)?;
                }
                Error::Provider { provider: conn.name.clone(), detail }
            }
        })
    }

    /// Records a failure that may pass: the account stays, marked offline, retried with backoff.
    fn transient(
        &self,
        account: &Account,
        provider: &str,
        reason: &str,
        retry_after: Option<Duration>,
        actor: &Actor,
    ) -> Result<Error> {
        let wait = retry_after.unwrap_or_else(|| backoff(account.failure_count));
        let retry_at = now() + wait.as_secs().max(1) as i64;
        self.store().record_transient_failure(&account.id, reason, retry_at, actor)?;
        Ok(Error::Offline {
            provider: provider.to_owned(),
            reason: reason.to_owned(),
            retry_at: rfc3339(retry_at),
        })
    }

    /// Moves the account to `to` after a failed refresh if the state machine allows it; otherwise
    /// (an account already in Error) records the sentence only.
    fn fail_refresh(&self, account: &Account, to: AccountStatus, sentence: &str) -> Result<()> {
        let mut store = self.store();
        if account.status.can_become(to) {
            store.record_refresh_failure(&account.id, to, sentence, &Actor::Provider)?;
        } else {
            store.set_last_error(&account.id, Some(sentence))?;
        }
        Ok(())
    }

    fn credentials_missing(&self, account: &Account) -> Result<Error> {
        self.fail_refresh(account, AccountStatus::Error, &Error::CredentialsMissing.to_string())?;
        Ok(Error::CredentialsMissing)
    }

    /// Suspends an Active account: its tokens stay, but nothing refreshes or hands them out.
    pub async fn suspend(&self, id: &AccountId, actor: &Actor) -> Result<Account> {
        let _working = self.working();
        // After any refresh or hand-out in flight, in this process or another.
        let _lock = self.exclusive(id).await?;
        self.store().transition(id, AccountStatus::Suspended, actor, "suspended")
    }

    /// Brings a Suspended account back, refreshing first if its token is stale. The account is
    /// Active again even if that refresh fails for a passing reason (it then shows as offline).
    pub async fn resume(&self, id: &AccountId, actor: &Actor) -> Result<Account> {
        let _working = self.working();
        let account = self.store().transition(id, AccountStatus::Active, actor, "resumed")?;
        if needs_refresh(&account, Duration::from_secs(60)) {
            let when = RefreshWhen::Below { min_valid: Duration::from_secs(60), seen: account.token_version };
            match self.refresh_account(id, when, actor).await {
                Ok(a) => return Ok(a),
                Err(e) => tracing::info!(account = %id, "refresh after resume failed: {e}"),
            }
        }
        self.get_account(id)
    }

    /// One harmless call to the provider's identity endpoint with the account's token; on a 401,
    /// one forced refresh and one retry. Returns the identity the provider reports.
    pub async fn test_account(&self, id: &AccountId, actor: &Actor) -> Result<crate::model::Identity> {
        let account = self.get_account(id)?;
        let conn = self.connection(account.connection.as_str())?;
        let protocol = conn.oauth().map(|o| o.protocol.clone()).unwrap_or_default();
        let spec =
            userinfo::spec(&protocol, &self.metadata(&conn).await?).ok_or_else(|| Error::Provider {
                provider: conn.name.clone(),
                detail: "it has no identity endpoint to test with".into(),
            })?;
        // The token stays inside Latchkey: no hand-out policy applies.
        let token = self.token_for(id, Duration::from_secs(30), &[], actor, true).await?;
        match userinfo::fetch(&self.http, &conn.name, &protocol, &spec, &token.token).await {
            Err(Error::TokenRejected { .. }) => {
                self.refresh_now(id, actor).await?;
                let token = self.token_for(id, Duration::ZERO, &[], actor, true).await?;
                userinfo::fetch(&self.http, &conn.name, &protocol, &spec, &token.token).await
            }
            other => other,
        }
    }

    /// The account's locks: one async mutex per account within the process, then an exclusive
    /// lock on `locks/<account>.lock` across processes. Refresh, hand-out, revoke, suspend and
    /// delete all take them, so none overtakes another.
    pub(super) async fn exclusive(&self, id: &AccountId) -> Result<AccountLock> {
        let in_process = {
            let mut locks = self.locks.lock().unwrap_or_else(|p| p.into_inner());
            locks.entry(id.clone()).or_default().clone()
        };
        let guard = in_process.lock_owned().await;
        let file = self.cross_process_lock(id).await?;
        Ok(AccountLock { _file: file, _guard: guard })
    }

    /// An exclusive lock on `locks/<account>.lock`, held until the returned file is dropped; the
    /// OS releases it if the process dies.
    async fn cross_process_lock(&self, id: &AccountId) -> Result<File> {
        let failed = |e: &dyn std::fmt::Display| Error::Storage(format!("the refresh lock failed: {e}"));
        let dir = self.data_dir.join("locks");
        let path = dir.join(format!("{id}.lock"));
        let open = move || -> std::io::Result<File> {
            if !dir.is_dir() {
                crate::paths::private_dir(&dir)?;
            }
            crate::paths::private_file().create(true).truncate(false).write(true).open(&path)
        };
        // Uncontended, the usual case, it is taken here; only a wait goes to a blocking thread.
        let file = open().map_err(|e| failed(&e))?;
        match file.try_lock() {
            Ok(()) => return Ok(file),
            Err(std::fs::TryLockError::WouldBlock) => {}
            Err(std::fs::TryLockError::Error(e)) => return Err(failed(&e)),
        }
        tokio::task::spawn_blocking(move || file.lock().map(|()| file))
            .await
            .map_err(|e| failed(&e))?
            .map_err(|e| failed(&e))
    }
}

/// Whether the account's token has less than `min_valid` left. A token with no expiry never does.
pub(super) fn needs_refresh(account: &Account, min_valid: Duration) -> bool {
    account.expires_at.is_some_and(|e| e - now() < min_valid.as_secs() as i64)
}

/// 5 s, 10 s, 20 s … up to 15 minutes, with up to 20% jitter.
fn backoff(failures: i64) -> Duration {
    let base = 5u64.saturating_mul(1 << failures.clamp(0, 8)).min(900);
    let jitter = rand::random::<u64>() % (base / 5 + 1);
    Duration::from_secs(base + jitter)
}

/// A value from the caller, cut to 60 characters for a message or an audit row.
fn shorten(value: &str) -> String {
    match value.char_indices().nth(60) {
        Some((at, _)) => format!("{}…", &value[..at]),
        None => value.to_owned(),
    }
}
