//! `Latchkey`: the one API the app and the CLI call. It owns the configured connections, the
//! metadata store, the vault, the HTTP client and the table of pending sign-ins, and it is the only
//! code that moves an account between states.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use oauth2::basic::BasicClient;
use oauth2::{
    AuthUrl, AuthorizationCode, ClientId, CsrfToken, PkceCodeChallenge, RedirectUrl,
    RequestTokenError, Scope, TokenResponse, TokenUrl,
};
use url::Url;

use crate::config::{Connection, Endpoints, ProviderMetadata};
use crate::error::{Error, Result};
use crate::http::Http;
use crate::model::{Account, AccountId, AccountStatus, Actor, ConnectionId, ConnectionStatus};
use crate::oauth::callback::{self, Outcome};
use crate::oauth::pending::{PendingFlow, PendingFlows};
use crate::oauth::revoke::{Revocation, revoke};
use crate::oauth::{discovery, userinfo};
use crate::secret::{Secret, TokenSet};
use crate::store::{AuditEntry, Store, now};
use crate::vault::{SecretStore, Vault};

/// What the core needs to start.
pub struct Options {
    /// Where `latchkey.sqlite3` lives (the OS app-data folder, or a test's temporary folder).
    pub data_dir: PathBuf,
    pub connections: Vec<Connection>,
    pub secrets: Arc<dyn SecretStore>,
    /// The app's private-use URI scheme (its reverse-domain identifier, RFC 8252 §7.1).
    pub redirect_scheme: String,
    pub http: Http,
}

pub struct Latchkey {
    connections: Vec<Connection>,
    store: Mutex<Store>,
    vault: Vault,
    http: Http,
    redirect_scheme: String,
    metadata: Mutex<HashMap<ConnectionId, ProviderMetadata>>,
    pending: PendingFlows,
}

/// A sign-in that was started: the account (Pending until the callback arrives) and the URL to
/// open in the system browser.
#[derive(Debug)]
pub struct AuthorizationLink {
    pub account: Account,
    pub url: Url,
}

/// A callback that failed, with the account it concerned when that is known.
#[derive(Debug, thiserror::Error)]
#[error("{error}")]
pub struct CallbackError {
    pub connection: Option<ConnectionId>,
    pub account: Option<Account>,
    #[source]
    pub error: Error,
}

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
    pub fn open(options: Options) -> Result<Latchkey> {
        Ok(Latchkey {
            store: Mutex::new(Store::open_in(&options.data_dir)?),
            connections: options.connections,
            vault: Vault::new(options.secrets),
            http: options.http,
            redirect_scheme: options.redirect_scheme,
            metadata: Mutex::default(),
            pending: PendingFlows::default(),
        })
    }

    pub fn connections(&self) -> &[Connection] {
        &self.connections
    }

    pub fn connection(&self, id: &str) -> Result<&Connection> {
        self.connections
            .iter()
            .find(|c| c.id.as_str() == id)
            .ok_or_else(|| Error::UnknownConnection(id.to_owned()))
    }

    pub fn keychain_description(&self) -> String {
        self.vault.describe()
    }

    pub fn list_accounts(&self) -> Result<Vec<Account>> {
        self.store().accounts()
    }

    pub fn get_account(&self, id: &AccountId) -> Result<Account> {
        self.store().account(id)
    }

    /// Whether a sign-in for this account is waiting for its callback in this process.
    pub fn is_signing_in(&self, id: &AccountId) -> bool {
        self.pending.is_pending(id)
    }

    pub fn audit_trail(&self, account: Option<&AccountId>) -> Result<Vec<AuditEntry>> {
        self.store().audit_entries(account)
    }

    /// The account of `connection` named `identifier`, created in Pending if new. Idempotent, also
    /// across processes. With no identifier, a new account is named after its identity once the
    /// provider tells who it is.
    pub fn get_or_create_account(
        &self,
        connection: &str,
        identifier: Option<&str>,
    ) -> Result<Account> {
        let conn = self.connection(connection)?;
        let (identifier, auto) = match identifier.map(str::trim) {
            Some("") | None => (format!("new-{}", &AccountId::random().as_str()[..8]), true),
            Some(id) if id.len() > 200 || id.chars().any(char::is_control) => {
                return Err(Error::InvalidInput(
                    "An account name must be a short line of text.".into(),
                ));
            }
            Some(id) => (id.to_owned(), false),
        };
        Ok(self
            .store()
            .get_or_create_account(&conn.id, &identifier, &conn.scopes, auto)?
            .0)
    }

    /// Starts a sign-in: creates or reuses the account, remembers a single-use `state` and PKCE
    /// verifier, and returns the authorization URL for the system browser.
    pub async fn authorization_link(
        &self,
        connection: &str,
        identifier: Option<&str>,
    ) -> Result<AuthorizationLink> {
        let conn = self.connection(connection)?;
        let client_id = match (conn.status(), &conn.client_id) {
            (ConnectionStatus::Active, Some(id)) => id.clone(),
            (ConnectionStatus::Inactive, _) => {
                return Err(Error::ConnectionNotReady(
                    conn.name.clone(),
                    "it is disabled.".into(),
                ));
            }
            _ => {
                return Err(Error::ConnectionNotReady(
                    conn.name.clone(),
                    "it has no client id yet.".into(),
                ));
            }
        };
        let metadata = self.metadata(conn).await?;
        let account = self.get_or_create_account(connection, identifier)?;
        let redirect_uri = callback::redirect_uri(&self.redirect_scheme, &conn.id);
        let client = oauth_client(&client_id, &metadata, &redirect_uri)?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let (url, state) = client
            .authorize_url(CsrfToken::new_random)
            .add_scopes(conn.scopes.iter().cloned().map(Scope::new))
            .set_pkce_challenge(challenge)
            .url();
        self.pending.insert(
            state.secret().clone(),
            PendingFlow {
                connection: conn.id.clone(),
                account: account.id.clone(),
                metadata,
                redirect_uri,
                verifier,
                created: Instant::now(),
            },
        );
        self.store().audit(
            Some(&account.id),
            Some(&conn.id),
            "authorization.started",
            Actor::User,
            "",
        )?;
        Ok(AuthorizationLink { account, url })
    }

    /// Forgets a sign-in the user gave up on; a late callback for it is then refused.
    pub fn cancel_authorization(&self, account: &AccountId) -> bool {
        self.pending.cancel(account)
    }

    /// Handles the redirect the browser delivered (deep link or loopback): checks it against the
    /// pending sign-in, redeems the code, stores the tokens and moves the account to Active.
    pub async fn complete_authorization(&self, raw_url: &str) -> Result<Account, CallbackError> {
        let fail = |connection: Option<ConnectionId>, account: Option<Account>, error: Error| {
            CallbackError {
                connection,
                account,
                error,
            }
        };
        let cb =
            callback::parse(&self.redirect_scheme, raw_url).map_err(|e| fail(None, None, e))?;
        let flow = self
            .pending
            .take(&cb.state)
            .ok_or_else(|| fail(Some(cb.connection.clone()), None, Error::UnknownState))?;
        let account = self.store().account(&flow.account).ok();
        if flow.connection != cb.connection {
            return Err(fail(Some(flow.connection), account, Error::UnknownState));
        }
        match self.redeem(cb, flow).await {
            Ok(account) => Ok(account),
            Err((id, conn, error)) => {
                // Whatever failed, the account keeps its state; the failure is recorded and shown.
                let sentence = error.to_string();
                let mut store = self.store();
                let _ = store.set_last_error(&id, Some(&sentence));
                let _ = store.audit(
                    Some(&id),
                    Some(&conn),
                    "authorization.failed",
                    Actor::System,
                    &sentence,
                );
                let account = store.account(&id).ok();
                Err(fail(Some(conn), account, error))
            }
        }
    }

    async fn redeem(
        &self,
        cb: callback::Callback,
        flow: PendingFlow,
    ) -> std::result::Result<Account, (AccountId, ConnectionId, Error)> {
        let (id, conn_id) = (flow.account.clone(), flow.connection.clone());
        let err = |e: Error| (id.clone(), conn_id.clone(), e);
        let conn = self.connection(flow.connection.as_str()).map_err(err)?;
        let provider = conn.name.clone();

        // RFC 9207: a mismatched `iss`, or a missing one where the server promises it, means the
        // response may come from another server (mix-up): never redeem that code.
        if let Some(expected) = &flow.metadata.issuer {
            let ok = match &cb.iss {
                Some(iss) => iss == expected,
                None => !flow.metadata.iss_parameter_supported,
            };
            if !ok {
                return Err(err(Error::IssuerMismatch {
                    expected: provider.clone(),
                }));
            }
        }
        let code = match cb.outcome {
            Outcome::Code(code) => code,
            Outcome::Error { error, .. } if error == "access_denied" => {
                return Err(err(Error::Denied { provider }));
            }
            Outcome::Error { error, description } => {
                let detail = description.map_or(error.clone(), |d| format!("{error}: {d}"));
                return Err(err(Error::Provider { provider, detail }));
            }
        };

        let client_id = conn.client_id.clone().unwrap_or_default();
        let client = oauth_client(&client_id, &flow.metadata, &flow.redirect_uri).map_err(err)?;
        let response = client
            .exchange_code(AuthorizationCode::new(code.expose().to_owned()))
            .set_pkce_verifier(flow.verifier)
            .request_async(&self.http.client)
            .await
            .map_err(|e| err(token_error(&provider, e)))?;
        let received = now();

        let granted: Vec<String> = match response.scopes() {
            Some(scopes) => scopes.iter().map(|s| s.to_string()).collect(),
            // RFC 6749 §5.1: no `scope` in the response means the requested ones were granted.
            None => conn.scopes.clone(),
        };
        let expires_at = response.expires_in().map(|d| received + d.as_secs() as i64);
        let access_token = Secret::new(response.access_token().secret().as_str());
        let refresh_token = response
            .refresh_token()
            .map(|t| Secret::new(t.secret().as_str()));

        let identity = match &flow.metadata.userinfo_endpoint {
            Some(endpoint) => {
                match userinfo::fetch(&self.http, &provider, endpoint, &access_token).await {
                    Ok(identity) => identity,
                    Err(e) => {
                        tracing::warn!(connection = %conn.id, "userinfo failed: {e}");
                        Default::default()
                    }
                }
            }
            None => Default::default(),
        };

        self.vault
            .put(
                &id,
                TokenSet {
                    access_token,
                    refresh_token,
                },
            )
            .await
            .map_err(err)?;
        let mut store = self.store();
        store
            .audit(
                Some(&id),
                Some(&conn.id),
                "token.stored",
                Actor::Provider,
                "authorization code redeemed",
            )
            .map_err(err)?;
        if let Some(name) = identity
            .email
            .as_deref()
            .or(identity.name.as_deref())
            .or(identity.subject.as_deref())
        {
            store.name_after_identity(&id, name).map_err(err)?;
        }
        store
            .record_authorized(&id, &identity, &granted, expires_at)
            .map_err(err)
    }

    /// Revokes an Active account: asks the provider to invalidate its tokens (RFC 7009), deletes
    /// them from the keychain, and marks the account Revoked. The local tokens are deleted even
    /// when the provider cannot confirm; the outcome says so.
    pub async fn revoke(&self, id: &AccountId) -> Result<RevokeOutcome> {
        let account = self.get_account(id)?;
        account.status.check_transition(AccountStatus::Revoked)?;
        let conn = self.connection(account.connection.as_str())?;
        let tokens = self.vault.get(id).await?;

        let mut failures = Vec::new();
        let endpoint = match self.metadata(conn).await {
            Ok(m) => m.revocation_endpoint,
            Err(e) => {
                failures.push(e.to_string());
                None
            }
        };
        match (&endpoint, &tokens) {
            (Some(endpoint), Some(tokens)) => {
                let client_id = conn.client_id.as_deref().unwrap_or_default();
                // The refresh token first: at most providers that ends the whole grant.
                let mut calls = vec![(&tokens.access_token, "access_token")];
                if let Some(rt) = &tokens.refresh_token {
                    calls.insert(0, (rt, "refresh_token"));
                }
                for (token, hint) in calls {
                    if let Revocation::NotConfirmed(why) =
                        revoke(&self.http, endpoint, client_id, token, hint).await
                    {
                        failures.push(why);
                    }
                }
            }
            (None, _) if failures.is_empty() => {
                failures.push(format!("{} has no revocation endpoint", conn.name))
            }
            (_, None) => failures.push("no tokens were stored on this device".into()),
            _ => {}
        }
        drop(tokens);
        self.vault.delete(id).await?;

        let confirmed = failures.is_empty();
        let (message, detail) = if confirmed {
            (
                format!(
                    "Access revoked: {} confirmed the tokens are invalid, and they were deleted from this device.",
                    conn.name
                ),
                "confirmed by the provider".to_owned(),
            )
        } else {
            let why = failures.join("; ");
            (
                format!(
                    "Removed from this device; not confirmed by {} ({why}). You can also remove Latchkey in your {} account settings.",
                    conn.name, conn.name
                ),
                format!("not confirmed by the provider: {why}"),
            )
        };
        let mut store = self.store();
        store.audit(
            Some(id),
            Some(&conn.id),
            "token.revoked",
            Actor::User,
            &detail,
        )?;
        store.audit(
            Some(id),
            Some(&conn.id),
            "token.deleted",
            Actor::User,
            "keychain entries deleted",
        )?;
        store.set_last_error(id, None)?;
        let account = store.transition(id, AccountStatus::Revoked, Actor::User, &detail)?;
        Ok(RevokeOutcome {
            account,
            provider_confirmed: confirmed,
            message,
        })
    }

    /// The connection's endpoints, discovered once per process.
    async fn metadata(&self, conn: &Connection) -> Result<ProviderMetadata> {
        match &conn.endpoints {
            Endpoints::Explicit(m) => Ok((**m).clone()),
            Endpoints::Discover { issuer } => {
                if let Some(m) = self.lock_metadata().get(&conn.id) {
                    return Ok(m.clone());
                }
                let m = discovery::discover(&self.http, &conn.name, issuer).await?;
                self.lock_metadata().insert(conn.id.clone(), m.clone());
                Ok(m)
            }
        }
    }

    fn store(&self) -> std::sync::MutexGuard<'_, Store> {
        self.store.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn lock_metadata(&self) -> std::sync::MutexGuard<'_, HashMap<ConnectionId, ProviderMetadata>> {
        self.metadata.lock().unwrap_or_else(|p| p.into_inner())
    }
}

type Client = BasicClient<
    oauth2::EndpointSet,
    oauth2::EndpointNotSet,
    oauth2::EndpointNotSet,
    oauth2::EndpointNotSet,
    oauth2::EndpointSet,
>;

fn oauth_client(
    client_id: &str,
    metadata: &ProviderMetadata,
    redirect_uri: &str,
) -> Result<Client> {
    let redirect = RedirectUrl::new(redirect_uri.to_owned())
        .map_err(|e| Error::InvalidInput(format!("bad redirect URI {redirect_uri}: {e}")))?;
    Ok(BasicClient::new(ClientId::new(client_id.to_owned()))
        .set_auth_uri(AuthUrl::from_url(metadata.authorization_endpoint.clone()))
        .set_token_uri(TokenUrl::from_url(metadata.token_endpoint.clone()))
        .set_redirect_uri(redirect))
}

/// Reduces an `oauth2` token error to a sentence. The error's own `Debug` may hold the response
/// body (which can contain tokens), so it is never printed.
fn token_error<RE: std::error::Error + 'static>(
    provider: &str,
    e: RequestTokenError<RE, oauth2::basic::BasicErrorResponse>,
) -> Error {
    match e {
        RequestTokenError::ServerResponse(r) => {
            let code = r.error().to_string();
            let detail = match r.error_description() {
                Some(d) => format!("{code}: {d}"),
                None => code,
            };
            Error::Provider {
                provider: provider.to_owned(),
                detail,
            }
        }
        RequestTokenError::Request(_) => Error::Network {
            provider: provider.to_owned(),
            detail: "the token request failed".into(),
        },
        RequestTokenError::Parse(..) => Error::Provider {
            provider: provider.to_owned(),
            detail: "its token response could not be read".into(),
        },
        RequestTokenError::Other(_) => Error::Provider {
            provider: provider.to_owned(),
            detail: "its token response was unexpected".into(),
        },
    }
}
