//! Revoking an account: the provider invalidates the grant (by its method, `oauth/revoke.rs`), the
//! keychain entries go, the account becomes Revoked. Local deletion happens even when the provider
//! cannot confirm; the user then gets the provider's page for removing access by hand.

use super::Latchkey;
use crate::config::Connection;
use crate::error::Result;
use crate::model::{Account, AccountId, AccountStatus, Actor};
use crate::oauth::revoke::{ClientCredentials, Revocation, revoke};
use crate::secret::TokenSet;
use crate::store::{AuditAction, AuditOutcome, Operation, now};

/// How a revocation went.
#[derive(Debug)]
pub struct RevokeOutcome {
    pub account: Account,
    /// The provider confirmed the tokens are invalid (RFC 7009 HTTP 200).
    pub provider_confirmed: bool,
    /// A sentence for the user.
    pub message: String,
    /// Where the user can remove Latchkey's access by hand (when the provider did not confirm).
    pub connected_apps_url: Option<String>,
}

impl Latchkey {
    /// Revokes an Active account. Crash-safe order: mark, ask the provider, delete the keychain
    /// entries, then record Revoked. Under the account's locks: a refresh or hand-out in flight
    /// finishes first, and the tokens it stored are the ones revoked.
    pub async fn revoke(&self, id: &AccountId, actor: &Actor) -> Result<RevokeOutcome> {
        let _working = self.working();
        self.get_account(id)?;
        let _lock = self.exclusive(id).await?;
        let account = self.get_account(id)?;
        account.status.check_transition(AccountStatus::Revoked)?;
        let conn = self.connection(account.connection.as_str())?;
        self.store().begin_op(id, Operation::Revoke, self.instance.id())?;
        self.checkpoint("revoke.marked");

        let provider = if conn.oauth().is_some() {
            self.revoke_at_provider(&conn, id).await
        } else {
            Err(Unconfirmed::NoMethod(format!(
                "{} has no way for Latchkey to revoke a credential",
                conn.name
            )))
        };
        // Tokens the provider may still honour are parked, unusable, for a later retry; the usable
        // entries go either way.
        let mut parked = false;
        if let Err(Unconfirmed::Unreachable(_)) = &provider
            && let Ok(Some(tokens)) = self.vault.tokens(id).await
        {
            self.vault.park_for_revocation(id, &tokens).await?;
            parked = true;
        }
        if let Err(e) = self.vault.delete_usable(id).await {
            let _ = self.store().end_op(id);
            return Err(e);
        }
        self.checkpoint("revoke.after_vault");
        if parked {
            self.store().set_revocation_pending(id, true)?;
        }
        let provider = provider.map_err(Unconfirmed::into_reason);
        let confirmed = provider.is_ok();
        let connected_apps_url = if confirmed { None } else { self.connected_apps_url(&conn) };
        let (message, detail) = match provider {
            Ok(()) => (
                format!(
                    "Access revoked: {} confirmed the tokens are invalid, and they were deleted from this device.",
                    conn.name
                ),
                "confirmed by the provider".to_owned(),
            ),
            Err(why) => (
                format!(
                    "Removed from this device; not confirmed by {} ({why}).{} You can also remove Latchkey's access in your {} account settings{}.",
                    conn.name,
                    if parked { " Latchkey will ask again when it can." } else { "" },
                    conn.name,
                    connected_apps_url.as_deref().map(|u| format!(" ({u})")).unwrap_or_default()
                ),
                format!("not confirmed by the provider: {why}"),
            ),
        };
        let mut store = self.store();
        store.audit(&crate::store::Audit {
            account: Some(id),
            connection: Some(&conn.id),
            action: AuditAction::TokenRevoked,
            actor,
            outcome: if confirmed { AuditOutcome::Ok } else { AuditOutcome::Unconfirmed },
            detail: &detail,
        })?;
        store.set_last_error(id, None)?;
        store.transition(id, AccountStatus::Revoked, actor, &detail)?;
        store.delete_grants_of(id, actor, "the account was revoked")?;
        store.end_op(id)?;
        Ok(RevokeOutcome {
            account: store.account(id)?,
            provider_confirmed: confirmed,
            message,
            connected_apps_url,
        })
    }

    /// Asks the provider to invalidate the account's tokens (RFC 7009), refresh token first (at most
    /// providers that ends the whole grant).
    pub(super) async fn revoke_at_provider(
        &self,
        conn: &Connection,
        id: &AccountId,
    ) -> Result<(), Unconfirmed> {
        let tokens = match self.vault.tokens(id).await {
            Ok(Some(tokens)) => tokens,
            Ok(None) => return Err(Unconfirmed::NoMethod("no tokens were stored on this device".into())),
            Err(e) => return Err(Unconfirmed::NoMethod(e.to_string())),
        };
        self.send_revocation(conn, &tokens).await
    }

    pub(super) async fn send_revocation(
        &self,
        conn: &Connection,
        tokens: &TokenSet,
    ) -> Result<(), Unconfirmed> {
        let Some(oauth) = conn.oauth() else {
            return Err(Unconfirmed::NoMethod(format!("{} is not an OAuth connection", conn.name)));
        };
        let metadata = self.metadata(conn).await.map_err(|e| Unconfirmed::Unreachable(e.to_string()))?;
        let secret = self.client_secret(conn).await.map_err(|e| Unconfirmed::NoMethod(e.to_string()))?;
        let client =
            ClientCredentials { id: oauth.client_id.as_deref().unwrap_or_default(), secret: secret.as_ref() };
        match revoke(&self.http, &oauth.protocol, &metadata, &client, tokens).await {
            Revocation::Confirmed => Ok(()),
            Revocation::NotConfirmed(why) => Err(Unconfirmed::Unreachable(why)),
            Revocation::Unsupported(why) => Err(Unconfirmed::NoMethod(why)),
        }
    }

    /// Sends parked tokens of a revoked account to the provider again. `Ok(true)` once confirmed
    /// (the parked tokens are then deleted), `Ok(false)` while it still is not.
    pub async fn retry_revocation(&self, id: &AccountId, actor: &Actor) -> Result<bool> {
        let _working = self.working();
        let account = self.get_account(id)?;
        let conn = self.connection(account.connection.as_str())?;
        let Some(tokens) = self.vault.parked(id).await? else {
            self.store().set_revocation_pending(id, false)?;
            return Ok(true);
        };
        match self.send_revocation(&conn, &tokens).await {
            Ok(()) => {
                self.vault.delete_parked(id).await?;
                let mut store = self.store();
                store.set_revocation_pending(id, false)?;
                store.audit(&crate::store::Audit {
                    account: Some(id),
                    connection: Some(&conn.id),
                    action: AuditAction::TokenRevoked,
                    actor,
                    outcome: AuditOutcome::Ok,
                    detail: "confirmed by the provider on a retry",
                })?;
                Ok(true)
            }
            Err(why) => {
                let why = why.into_reason();
                self.store().record_transient_failure(
                    id,
                    &format!("revocation not confirmed: {why}"),
                    now() + 60,
                    actor,
                )?;
                Ok(false)
            }
        }
    }
}

/// Why a revocation is not confirmed.
#[derive(Debug)]
pub(super) enum Unconfirmed {
    /// Worth retrying later: the provider could not be reached or did not answer 200.
    Unreachable(String),
    /// Retrying cannot help: no endpoint, or nothing to send.
    NoMethod(String),
}

impl Unconfirmed {
    pub(super) fn into_reason(self) -> String {
        match self {
            Unconfirmed::Unreachable(s) | Unconfirmed::NoMethod(s) => s,
        }
    }
}
