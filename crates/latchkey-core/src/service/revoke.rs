//! Revoking an account: the provider invalidates the grant (RFC 7009), the keychain entries go,
//! the account becomes Revoked. Local deletion happens even when the provider cannot confirm.

use super::Latchkey;
use crate::config::Connection;
use crate::error::Result;
use crate::model::{Account, AccountId, AccountStatus, Actor};
use crate::oauth::revoke::{Revocation, revoke};
use crate::store::PendingOp;

/// How a revocation went.
#[derive(Debug)]
pub struct RevokeOutcome {
    pub account: Account,
    /// The provider confirmed the tokens are invalid (RFC 7009 HTTP 200).
    pub provider_confirmed: bool,
    /// A sentence for the user.
    pub message: String,
}

impl Latchkey {
    /// Revokes an Active account. Crash-safe order: mark, ask the provider, delete the keychain
    /// entries, then record Revoked.
    pub async fn revoke(&self, id: &AccountId, actor: &Actor) -> Result<RevokeOutcome> {
        let account = self.get_account(id)?;
        account.status.check_transition(AccountStatus::Revoked)?;
        let conn = self.connection(account.connection.as_str())?;
        self.store().begin_op(id, PendingOp::Revoke, self.instance.id())?;
        self.checkpoint("revoke.marked");

        let provider = if conn.oauth().is_some() {
            self.revoke_at_provider(conn, id).await
        } else {
            Err(format!("{} has no way for Latchkey to revoke a credential", conn.name))
        };
        if let Err(e) = self.vault.delete(id).await {
            let _ = self.store().end_op(id);
            return Err(e);
        }
        self.checkpoint("revoke.after_vault");

        let confirmed = provider.is_ok();
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
                    "Removed from this device; not confirmed by {} ({why}). You can also remove Latchkey's access in your {} account settings.",
                    conn.name, conn.name
                ),
                format!("not confirmed by the provider: {why}"),
            ),
        };
        let mut store = self.store();
        store.audit(&crate::store::Audit {
            account: Some(id),
            connection: Some(&conn.id),
            action: "token.revoked",
            actor,
            outcome: if confirmed { "ok" } else { "unconfirmed" },
            detail: &detail,
        })?;
        store.set_last_error(id, None)?;
        store.transition(id, AccountStatus::Revoked, actor, &detail)?;
        store.end_op(id)?;
        Ok(RevokeOutcome { account: store.account(id)?, provider_confirmed: confirmed, message })
    }

    /// Asks the provider to invalidate the account's tokens (RFC 7009), refresh token first (at most
    /// providers that ends the whole grant). `Err` says why it is not confirmed.
    pub(super) async fn revoke_at_provider(&self, conn: &Connection, id: &AccountId) -> Result<(), String> {
        let endpoint = match self.metadata(conn).await {
            Ok(m) => {
                m.revocation_endpoint.ok_or_else(|| format!("{} has no revocation endpoint", conn.name))?
            }
            Err(e) => return Err(e.to_string()),
        };
        let tokens = match self.vault.tokens(id).await {
            Ok(Some(tokens)) => tokens,
            Ok(None) => return Err("no tokens were stored on this device".into()),
            Err(e) => return Err(e.to_string()),
        };
        let client_id = conn.oauth().and_then(|o| o.client_id.as_deref()).unwrap_or_default();
        let mut calls = vec![(&tokens.access_token, "access_token")];
        if let Some(rt) = &tokens.refresh_token {
            calls.insert(0, (rt, "refresh_token"));
        }
        let mut failures = Vec::new();
        for (token, hint) in calls {
            if let Revocation::NotConfirmed(why) = revoke(&self.http, &endpoint, client_id, token, hint).await
            {
                failures.push(why);
            }
        }
        if failures.is_empty() { Ok(()) } else { Err(failures.join("; ")) }
    }
}
