//! Connecting and re-authorizing OAuth accounts: the authorization link, and the callback.

use std::time::Instant;

use oauth2::basic::BasicClient;
use oauth2::{
    AuthUrl, AuthorizationCode, ClientId, CsrfToken, PkceCodeChallenge, RedirectUrl, RequestTokenError,
    Scope, TokenResponse, TokenUrl,
};
use url::Url;

use super::Latchkey;
use crate::config::ProviderMetadata;
use crate::error::{Error, Result};
use crate::model::{Account, AccountId, Actor, ConnectionId, ConnectionStatus, check_identifier};
use crate::oauth::callback::{self, Outcome};
use crate::oauth::loopback::Loopback;
use crate::oauth::pending::{FLOW_TTL, PendingFlow};
use crate::oauth::userinfo;
use crate::secret::{Credential, Secret, TokenSet};
use crate::store::{PendingOp, now};

/// A sign-in that was started: the account (Pending until the callback arrives, or in its current
/// state for a re-authorization) and the URL to open in the system browser.
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

impl Latchkey {
    /// Guide operation: a fresh authorization URL for a new account or a re-authorization of an
    /// existing one (also the way to take up changed scopes). With no identifier, a new account is
    /// named after its identity once the provider tells who it is.
    pub async fn get_authorization_link(
        &self,
        connection: &str,
        identifier: Option<&str>,
        actor: &Actor,
    ) -> Result<AuthorizationLink> {
        let conn_id = self.connection(connection)?.id.clone();
        let redirect = callback::redirect_uri(&self.redirect_scheme, &conn_id);
        self.start_authorization(connection, identifier, actor, redirect).await
    }

    /// Connects (or re-authorizes) through the loopback redirect: listens on 127.0.0.1, hands the
    /// authorization URL to `open` (the system browser, or a printout), waits for the browser to
    /// come back, completes the sign-in and tells the browser how it went.
    pub async fn connect_via_loopback(
        &self,
        connection: &str,
        identifier: Option<&str>,
        actor: &Actor,
        open: impl FnOnce(&Url) -> Result<()>,
    ) -> Result<Account, CallbackError> {
        let plain = |error: Error| CallbackError { connection: None, account: None, error };
        let conn_id = self.connection(connection).map_err(plain)?.id.clone();
        let listener = Loopback::bind().map_err(plain)?;
        let redirect = listener.redirect_uri(&conn_id);
        let link = self.start_authorization(connection, identifier, actor, redirect).await.map_err(plain)?;
        if let Err(e) = open(&link.url) {
            self.cancel_authorization(&link.account.id);
            return Err(plain(e));
        }
        let id = conn_id.clone();
        let waited = tokio::task::spawn_blocking(move || {
            let pending = listener.wait(&id, FLOW_TTL);
            (listener, pending)
        })
        .await
        .map_err(|e| plain(Error::InvalidInput(format!("the sign-in listener stopped: {e}"))))?;
        let (_listener, pending) = waited;
        let pending = match pending {
            Ok(p) => p,
            Err(e) => {
                self.cancel_authorization(&link.account.id);
                return Err(plain(e));
            }
        };
        let outcome = self.complete_authorization(&pending.url).await;
        match &outcome {
            Ok(a) => pending.answer(true, &format!("{} is connected in Latchkey.", a.identifier)),
            Err(e) => pending.answer(false, &e.error.to_string()),
        }
        outcome
    }

    async fn start_authorization(
        &self,
        connection: &str,
        identifier: Option<&str>,
        actor: &Actor,
        redirect_uri: String,
    ) -> Result<AuthorizationLink> {
        let conn = self.connection(connection)?;
        let oauth = conn.oauth().ok_or(Error::WrongConnectionType {
            connection: conn.name.clone(),
            kind: "an API-key or basic-auth",
            what: "enter its credential instead of signing in.",
        })?;
        match self.connection_status(conn)? {
            (ConnectionStatus::Active, _) => {}
            (ConnectionStatus::Inactive, _) => {
                return Err(Error::ConnectionNotReady(conn.name.clone(), "it is disabled.".into()));
            }
            (ConnectionStatus::Pending, _) => {
                return Err(Error::ConnectionNotReady(conn.name.clone(), "it has no client id yet.".into()));
            }
            // The client was rejected before; the user may have fixed it at the provider, so a new
            // attempt is allowed and clears the error when it succeeds.
            (ConnectionStatus::Error, _) => {}
        }
        let client_id = oauth.client_id.clone().unwrap_or_default();
        let metadata = self.metadata(conn).await?;
        let account = {
            let mut store = self.store();
            match identifier {
                Some(name) => store.get_or_create_account(
                    &conn.id,
                    check_identifier(name)?,
                    conn.scopes(),
                    false,
                    actor,
                )?,
                None => {
                    let placeholder = format!("new-{}", &AccountId::random().as_str()[..8]);
                    store.get_or_create_account(&conn.id, &placeholder, conn.scopes(), true, actor)?
                }
            }
            .0
        };
        let client = oauth_client(&client_id, &metadata, &redirect_uri)?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let (url, state) = client
            .authorize_url(CsrfToken::new_random)
            .add_scopes(conn.scopes().iter().cloned().map(Scope::new))
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
        self.audit(&account.id, &conn.id, "authorization.started", actor, "ok", "")?;
        Ok(AuthorizationLink { account, url })
    }

    /// Forgets a sign-in the user gave up on; a late callback for it is then refused.
    pub fn cancel_authorization(&self, account: &AccountId) -> bool {
        self.pending.cancel(account)
    }

    /// Handles the redirect the browser delivered (deep link or loopback): checks it against the
    /// pending sign-in, redeems the code, stores the tokens and moves the account to Active.
    pub async fn complete_authorization(&self, raw_url: &str) -> Result<Account, CallbackError> {
        let fail = |connection: Option<ConnectionId>, account: Option<Account>, error: Error| CallbackError {
            connection,
            account,
            error,
        };
        let cb = callback::parse(&self.redirect_scheme, raw_url).map_err(|e| fail(None, None, e))?;
        let flow = self
            .pending
            .take(&cb.state)
            .ok_or_else(|| fail(Some(cb.connection.clone()), None, Error::UnknownState))?;
        if flow.connection != cb.connection || flow.redirect_uri != cb.redirect_base {
            let account = self.store().account(&flow.account).ok();
            return Err(fail(Some(flow.connection), account, Error::UnknownState));
        }
        match self.redeem(cb, flow).await {
            Ok(account) => Ok(account),
            Err((id, conn, error)) => {
                // Whatever failed, the account keeps its state; the failure is recorded and shown.
                let sentence = error.to_string();
                let _ = self.store().set_last_error(&id, Some(&sentence));
                let _ = self.audit(&id, &conn, "authorization.failed", &Actor::Provider, "failed", &sentence);
                let account = self.store().account(&id).ok();
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
                return Err(err(Error::IssuerMismatch { expected: provider.clone() }));
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

        let client_id = conn.oauth().and_then(|o| o.client_id.clone()).unwrap_or_default();
        let client = oauth_client(&client_id, &flow.metadata, &flow.redirect_uri).map_err(err)?;
        let response = match client
            .exchange_code(AuthorizationCode::new(code.expose().to_owned()))
            .set_pkce_verifier(flow.verifier)
            .request_async(self.http.client())
            .await
        {
            Ok(r) => r,
            Err(e) => {
                let (error, client_rejected) = token_error(&provider, e);
                if client_rejected {
                    // The connection's configuration is wrong, not the user's account.
                    let _ = self.store().set_connection_error(
                        &conn.id,
                        Some(&error.to_string()),
                        &Actor::Provider,
                    );
                }
                return Err(err(error));
            }
        };
        let received = now();
        self.store().set_connection_error(&conn.id, None, &Actor::Provider).map_err(err)?;

        let granted: Vec<String> = match response.scopes() {
            Some(scopes) => scopes.iter().map(|s| s.to_string()).collect(),
            // RFC 6749 §5.1: no `scope` in the response means the requested ones were granted.
            None => conn.scopes().to_vec(),
        };
        let expires_at = response.expires_in().map(|d| received + d.as_secs() as i64);
        let access_token = Secret::new(response.access_token().secret().as_str());
        let refresh_token = response.refresh_token().map(|t| Secret::new(t.secret().as_str()));

        let identity = match &flow.metadata.userinfo_endpoint {
            Some(endpoint) => match userinfo::fetch(&self.http, &provider, endpoint, &access_token).await {
                Ok(identity) => identity,
                Err(e) => {
                    tracing::warn!(connection = %conn.id, "userinfo failed: {e}");
                    Default::default()
                }
            },
            None => Default::default(),
        };

        // Crash-safe order: mark, write the secret, then record it (see reconcile.rs).
        self.store().begin_op(&id, PendingOp::Store, self.instance.id()).map_err(err)?;
        self.checkpoint("store.marked");
        let stored = self.vault.put(&id, Credential::OAuth(TokenSet { access_token, refresh_token })).await;
        if let Err(e) = stored {
            let _ = self.store().end_op(&id);
            return Err(err(e));
        }
        self.checkpoint("store.after_vault");
        let mut store = self.store();
        store
            .audit(&crate::store::Audit {
                account: Some(&id),
                connection: Some(&conn.id),
                action: "token.stored",
                actor: &Actor::Provider,
                outcome: "ok",
                detail: "authorization code redeemed",
            })
            .map_err(err)?;
        if let Some(name) =
            identity.email.as_deref().or(identity.name.as_deref()).or(identity.subject.as_deref())
        {
            store.name_after_identity(&id, name).map_err(err)?;
        }
        store
            .record_authorized(&id, &identity, conn.scopes(), &granted, expires_at, &Actor::User)
            .map_err(err)
    }
}

type Client = BasicClient<
    oauth2::EndpointSet,
    oauth2::EndpointNotSet,
    oauth2::EndpointNotSet,
    oauth2::EndpointNotSet,
    oauth2::EndpointSet,
>;

fn oauth_client(client_id: &str, metadata: &ProviderMetadata, redirect_uri: &str) -> Result<Client> {
    let redirect = RedirectUrl::new(redirect_uri.to_owned())
        .map_err(|e| Error::InvalidInput(format!("bad redirect URI {redirect_uri}: {e}")))?;
    Ok(BasicClient::new(ClientId::new(client_id.to_owned()))
        .set_auth_uri(AuthUrl::from_url(metadata.authorization_endpoint.clone()))
        .set_token_uri(TokenUrl::from_url(metadata.token_endpoint.clone()))
        .set_redirect_uri(redirect))
}

/// Reduces an `oauth2` token error to a sentence, and says whether the provider rejected the client
/// itself (`invalid_client`, `unauthorized_client`). The error's own `Debug` may hold the response
/// body (which can contain tokens), so it is never printed.
fn token_error<RE: std::error::Error + 'static>(
    provider: &str,
    e: RequestTokenError<RE, oauth2::basic::BasicErrorResponse>,
) -> (Error, bool) {
    use oauth2::basic::BasicErrorResponseType as T;
    let provider = provider.to_owned();
    match e {
        RequestTokenError::ServerResponse(r) => {
            let client_rejected = matches!(r.error(), T::InvalidClient | T::UnauthorizedClient);
            let code = r.error().to_string();
            let detail = match r.error_description() {
                Some(d) => format!("{code}: {d}"),
                None => code,
            };
            (Error::Provider { provider, detail }, client_rejected)
        }
        RequestTokenError::Request(_) => {
            (Error::Network { provider, detail: "the token request failed".into() }, false)
        }
        RequestTokenError::Parse(..) => {
            (Error::Provider { provider, detail: "its token response could not be read".into() }, false)
        }
        RequestTokenError::Other(_) => {
            (Error::Provider { provider, detail: "its token response was unexpected".into() }, false)
        }
    }
}
