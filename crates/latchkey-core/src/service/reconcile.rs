//! Start-up repair after a crash. Every multi-step operation marks its account (`pending_op`, with
//! the instance that runs it) before its first step and clears the mark with its last one, and the
//! steps run in an order that leaves, at any point, no secret without a record and no Active record
//! without its secret once this runs:
//!
//! | operation | steps | interrupted: what start-up does |
//! |---|---|---|
//! | connect (Pending) | mark → keychain write → Active | remove any secret written; stays Pending |
//! | add an API key or password | record (marked) → keychain write → Active | remove any secret written and the record |
//! | re-authorize, rotate (Active…) | mark → keychain write → record | keep the record; if the secret is missing → Error |
//! | revoke | mark → provider → keychain delete → Revoked | delete the secret; Active → Revoked |
//! | delete | mark (hidden) → provider → keychain delete → row delete | delete the secret and the row |
//! | refresh | journal → provider → refresh token → access token → record + end journal | mark it offline and due; the next refresh asks the provider whether the stored refresh token survived |
//!
//! An operation whose instance is still alive (the app and the CLI share the data) is left alone.

use super::Latchkey;
use crate::error::{Error, Result};
use crate::model::{AccountId, AccountStatus, Actor};
use crate::process_lock::Instance;
use crate::store::{AuditAction, AuditOutcome, Operation};

impl Latchkey {
    /// Finishes or undoes operations whose process died. Returns how many it repaired.
    pub(super) async fn reconcile(&self) -> Result<usize> {
        let ops = self.store().in_progress()?;
        let mut repaired = 0;
        for (account, op, owner) in ops {
            if owner == self.instance.id() || Instance::is_alive(&self.data_dir, &owner) {
                continue;
            }
            let id = &account.id;
            let note = |what: &str| format!("interrupted {} repaired at start: {what}", op_name(op));
            match op {
                Operation::Store if account.status == AccountStatus::Pending => {
                    self.vault.delete(id).await?;
                    let typed_in =
                        self.connection(account.connection.as_str()).is_ok_and(|c| c.oauth().is_none());
                    if typed_in {
                        // An API key or password that was never saved: the account never existed.
                        self.store().delete_account(
                            id,
                            &Actor::System,
                            &note("the unsaved account was removed"),
                        )?;
                    } else {
                        self.store().end_op(id)?;
                        self.audit(
                            id,
                            &account.connection,
                            AuditAction::Reconciled,
                            &Actor::System,
                            AuditOutcome::Ok,
                            &note("partial credentials removed"),
                        )?;
                    }
                }
                Operation::Store => {
                    let kind = match self.connection(account.connection.as_str()).map(|c| c.kind) {
                        Ok(crate::config::ConnectionKind::ApiKey) => crate::vault::CredentialKind::ApiKey,
                        Ok(crate::config::ConnectionKind::BasicAuth) => crate::vault::CredentialKind::Basic,
                        _ => crate::vault::CredentialKind::OAuth,
                    };
                    let present = self.vault.get(id, kind).await?.is_some();
                    let mut store = self.store();
                    store.end_op(id)?;
                    if present {
                        store.audit(&audit_row(&account, &note("the new credential was kept")))?;
                    } else {
                        store.set_last_error(id, Some(&Error::CredentialsMissing.to_string()))?;
                        if account.status.can_become(AccountStatus::Error) {
                            store.transition(
                                id,
                                AccountStatus::Error,
                                &Actor::System,
                                &note("credentials missing"),
                            )?;
                        } else {
                            store.audit(&audit_row(&account, &note("credentials missing")))?;
                        }
                    }
                }
                Operation::Revoke => {
                    self.vault.delete_usable(id).await?;
                    let parked = self.vault.parked(id).await?.is_some();
                    let mut store = self.store();
                    if parked {
                        store.set_revocation_pending(id, true)?;
                    }
                    if account.status.can_become(AccountStatus::Revoked) {
                        store.transition(
                            id,
                            AccountStatus::Revoked,
                            &Actor::System,
                            &note("tokens deleted"),
                        )?;
                    }
                    store.end_op(id)?;
                }
                Operation::Delete => {
                    self.vault.delete(id).await?;
                    self.store().delete_account(
                        id,
                        &Actor::System,
                        &note("keychain entries and record deleted"),
                    )?;
                }
            }
            repaired += 1;
        }
        let interrupted = self.store().unreported_refreshes()?;
        for (id, owner, started_at) in interrupted {
            if owner == self.instance.id() || Instance::is_alive(&self.data_dir, &owner) {
                continue;
            }
            let Ok(account) = self.get_account(&id) else { continue };
            let reason = format!(
                "a refresh begun at {} was interrupted; the next refresh checks that the sign-in survived it",
                crate::model::rfc3339(started_at)
            );
            let mut store = self.store();
            store.report_interrupted_refresh(&id, &reason)?;
            store.audit(&audit_row(&account, &format!("interrupted refresh found at start: {reason}")))?;
            repaired += 1;
        }
        self.remove_placeholders()?;
        Ok(repaired)
    }

    /// Removes the unnamed Pending accounts of sign-ins that can no longer complete: older than a
    /// flow lives (`FLOW_TTL`), with an hour's margin for a code exchange under way when it ended.
    fn remove_placeholders(&self) -> Result<()> {
        let before = crate::store::now() - (crate::oauth::pending::FLOW_TTL.as_secs() + 3600) as i64;
        let ids = self.store().placeholders(before)?;
        for id in ids {
            if !self.sign_ins.is_signing_in(&id) {
                self.store().delete_placeholder(
                    &id,
                    before,
                    &Actor::System,
                    "the sign-in that created it never completed",
                )?;
            }
        }
        Ok(())
    }

    /// Removes the account if it is the unnamed Pending placeholder of a sign-in that ended without
    /// success in this process (failed, timed out, interrupted). Returns whether it did.
    pub fn discard_placeholder(&self, id: &AccountId, actor: &Actor) -> Result<bool> {
        if self.sign_ins.is_signing_in(id) {
            return Ok(false);
        }
        self.store().delete_placeholder(id, i64::MAX, actor, "the sign-in that created it did not complete")
    }
}

fn op_name(op: Operation) -> &'static str {
    match op {
        Operation::Store => "credential write",
        Operation::Revoke => "revocation",
        Operation::Delete => "deletion",
    }
}

fn audit_row<'a>(account: &'a crate::model::Account, detail: &'a str) -> crate::store::Audit<'a> {
    crate::store::Audit {
        account: Some(&account.id),
        connection: Some(&account.connection),
        action: AuditAction::Reconciled,
        actor: &Actor::System,
        outcome: AuditOutcome::Ok,
        detail,
    }
}
