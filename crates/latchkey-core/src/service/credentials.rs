//! Credentials the user types in (API keys, basic auth), and handing any account's credential to
//! a caller, audited.

use super::Latchkey;
use crate::config::ConnectionKind;
use crate::error::{Error, Result};
use crate::model::{Account, AccountId, AccountStatus, Actor, check_identifier};
use crate::secret::Credential;
use crate::store::{AuditAction, AuditOutcome, Operation};
use crate::vault::CredentialKind;

impl Latchkey {
    /// Adds an account of an API-key or basic-auth connection with the credential the user entered.
    /// The account is Active at once. A name the connection already has is refused.
    pub async fn add_credential_account(
        &self,
        connection: &str,
        identifier: &str,
        credential: Credential,
        actor: &Actor,
    ) -> Result<Account> {
        let _working = self.working();
        let conn = self.connection(connection)?;
        check_credential(&conn.kind, &conn.name, &credential)?;
        let identifier = check_identifier(identifier)?;
        // Crash-safe order: the record (marked as storing), the secret, then Active.
        let account =
            self.store().create_credential_account(&conn.id, identifier, actor, self.instance.id())?;
        self.checkpoint("store.marked");
        if let Err(e) = self.vault.put(&account.id, credential).await {
            // Nothing was stored: take the half-made account back out.
            let _ = self.store().delete_account(
                &account.id,
                &Actor::System,
                &format!("the keychain refused: {e}"),
            );
            return Err(e);
        }
        self.checkpoint("store.after_vault");
        self.store().record_credential_stored(&account.id, actor, "credential entered")
    }

    /// Replaces the credential of an API-key or basic-auth account (rotation). The account keeps its
    /// id, name, labels and history.
    pub async fn rotate_credential(
        &self,
        id: &AccountId,
        credential: Credential,
        actor: &Actor,
    ) -> Result<Account> {
        let _working = self.working();
        let account = self.get_account(id)?;
        let conn = self.connection(account.connection.as_str())?;
        check_credential(&conn.kind, &conn.name, &credential)?;
        if account.status != AccountStatus::Active {
            return Err(Error::InvalidInput(format!(
                "Only an Active account's credential can be replaced; this one is {}.",
                account.status
            )));
        }
        self.store().begin_op(id, Operation::Store, self.instance.id())?;
        self.checkpoint("store.marked");
        if let Err(e) = self.vault.put(id, credential).await {
            let _ = self.store().end_op(id);
            return Err(e);
        }
        self.checkpoint("store.after_vault");
        self.store().record_credential_stored(id, actor, "credential replaced")
    }

    /// Hands out an Active account's credential, and records who asked. The account's hand-out
    /// policy decides first whether this caller may take it; a Suspended account (and any other
    /// state) refuses. If the keychain lost the credential, the account goes to Error.
    pub async fn read_credential(&self, id: &AccountId, actor: &Actor) -> Result<Credential> {
        let account = self.get_account(id)?;
        self.check_handout(&account, actor).await?;
        let conn = self.connection(account.connection.as_str())?;
        if account.status != AccountStatus::Active {
            return Err(self.refuse_read(&account, actor)?);
        }
        let kind = match conn.kind {
            ConnectionKind::OAuth2(_) => CredentialKind::OAuth,
            ConnectionKind::ApiKey => CredentialKind::ApiKey,
            ConnectionKind::BasicAuth => CredentialKind::Basic,
        };
        match self.vault.get(id, kind).await? {
            Some(credential) => {
                self.audit(id, &account.connection, AuditAction::TokenRead, actor, AuditOutcome::Ok, "")?;
                Ok(credential)
            }
            None => {
                self.audit(
                    id,
                    &account.connection,
                    AuditAction::TokenRead,
                    actor,
                    AuditOutcome::Failed,
                    "credentials missing from the keychain",
                )?;
                let mut store = self.store();
                store.set_last_error(id, Some(&Error::CredentialsMissing.to_string()))?;
                store.transition(
                    id,
                    AccountStatus::Error,
                    &Actor::System,
                    "credentials missing from the keychain",
                )?;
                Err(Error::CredentialsMissing)
            }
        }
    }
}

fn check_credential(kind: &ConnectionKind, name: &str, credential: &Credential) -> Result<()> {
    let bad = |what: &str| Error::InvalidInput(what.to_owned());
    let line = |s: &str| !s.trim().is_empty() && !s.chars().any(char::is_control);
    match (kind, credential) {
        (ConnectionKind::ApiKey, Credential::ApiKey(key)) if !line(key.expose()) => {
            Err(bad("The API key is empty or spans several lines."))
        }
        (ConnectionKind::ApiKey, Credential::ApiKey(_)) => Ok(()),
        (ConnectionKind::BasicAuth, Credential::Basic { username, password }) => {
            if !line(username) {
                Err(bad("The username is empty or spans several lines."))
            } else if password.expose().is_empty() {
                Err(bad("The password is empty."))
            } else {
                Ok(())
            }
        }
        (ConnectionKind::OAuth2(_), _) => Err(Error::WrongConnectionType {
            connection: name.to_owned(),
            kind: "an OAuth 2.0",
            what: "connect it by signing in instead.",
        }),
        (ConnectionKind::ApiKey, _) => Err(bad("This connection takes an API key.")),
        (ConnectionKind::BasicAuth, _) => Err(bad("This connection takes a username and password.")),
    }
}
