//! Connecting and re-authorizing OAuth accounts: the authorization link, and the callback.

use std::sync::Arc;
use std::time::{Duration, Instant};

use oauth2::basic::BasicClient;
use oauth2::{AuthUrl, ClientId, CsrfToken, PkceCodeChallenge, RedirectUrl, Scope};
use url::Url;

use super::Latchkey;
use crate::config::{Connection, Endpoints, OAuth2Settings, ProviderMetadata};
use crate::error::{Error, Result};
use crate::model::{Account, AccountId, Actor, ConnectionId, ConnectionStatus, Identity, check_identifier};
use crate::oauth::callback::{self, Outcome};
use crate::oauth::loopback::{Expected, Loopback};
use crate::oauth::pending::{FLOW_TTL, SignInFlow};
use crate::oauth::revoke::{ClientCredentials as RevokeClient, Revocation, revoke as oauth_revoke};
use crate::oauth::token::{TokenClient, TokenFailure, Tokens};
use crate::oauth::userinfo;
use crate::protocol::{Protocol, Redirect};
use crate::sanitize::{self, NAME_MAX};
use crate::secret::{Credential, Secret, TokenSet};
use crate::store::{AuditAction, AuditOutcome, Operation, now};

/// A sign-in that was started: the account (Pending until the callback arrives, or in its current
/// state for a re-authorization) and the URL to open in the system browser.
pub struct AuthorizationLink {
    pub account: Account,
    pub url: Url,
    /// For a connection whose redirect is a loopback one: the listener the browser comes back to.
    /// Open `url`, then hand this to [`Latchkey::finish_loopback`]. `None`: the answer arrives as a
    /// deep link, for [`Latchkey::complete_authorization`].
    pub loopback: Option<LoopbackWait>,
}

impl std::fmt::Debug for AuthorizationLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URL carries the sign-in's `state`: not for logs.
        f.debug_struct("AuthorizationLink")
            .field("account", &self.account.id)
            .field("loopback", &self.loopback.is_some())
            .finish_non_exhaustive()
    }
}

/// A loopback listener bound for one pending sign-in.
pub struct LoopbackWait {
    listener: Loopback,
    expected: Arc<Expected>,
    /// The sign-in's `state`: its flow, not the account's (a newer sign-in may replace it).
    state: String,
    connection: ConnectionId,
    account: AccountId,
    /// When the flow's lifetime ends.
    expires: Instant,
}

/// A sign-in just started: its account, the URL for the browser, and its flow's key and birth.
struct Started {
    account: Account,
    url: Url,
    state: String,
    created: Instant,
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

impl CallbackError {
    fn plain(error: Error) -> CallbackError {
        CallbackError { connection: None, account: None, error }
    }
}

impl Latchkey {
    /// Guide operation: a fresh authorization URL for a new account or a re-authorization of an
    /// existing one (also the way to take up changed scopes). With no identifier, a new account is
    /// named after its identity once the provider tells who it is. The redirect is the
    /// connection's: a deep link, or a loopback listener bound now (see [`AuthorizationLink`]).
    pub async fn get_authorization_link(
        &self,
        connection: &str,
        identifier: Option<&str>,
        actor: &Actor,
    ) -> Result<AuthorizationLink> {
        let conn = self.connection(connection)?;
        // Checked before a loopback listener takes its (possibly fixed) port.
        let oauth = self.ready_to_sign_in(&conn)?;
        match oauth.redirect {
            Redirect::DeepLink => {
                let uri = callback::redirect_uri(&self.redirect_scheme, &conn.id);
                let Started { account, url, .. } =
                    self.start_authorization(&conn, oauth, identifier, actor, uri).await?;
                Ok(AuthorizationLink { account, url, loopback: None })
            }
            Redirect::Loopback { host, port } => {
                let listener = Loopback::open(host, port).await?;
                let uri = listener.redirect_uri(&conn.id);
                let Started { account, url, state, created } =
                    self.start_authorization(&conn, oauth, identifier, actor, uri).await?;
                let wait = LoopbackWait {
                    expected: listener.expect(&conn.id, &state),
                    listener,
                    state,
                    connection: conn.id.clone(),
                    account: account.id.clone(),
                    expires: created + FLOW_TTL,
                };
                Ok(AuthorizationLink { account, url, loopback: Some(wait) })
            }
        }
    }

    /// Waits for the browser to come back to the loopback listener with this sign-in's answer (until
    /// the flow's lifetime ends, or it is cancelled or replaced), completes the sign-in and tells the
    /// browser how it went. Requests that are not this sign-in's answer are refused meanwhile and
    /// change nothing. The listener closes when this returns.
    pub async fn finish_loopback(&self, wait: LoopbackWait) -> Result<Account, CallbackError> {
        let _working = self.working();
        let LoopbackWait { mut listener, expected, state, connection, account, expires } = wait;
        let fail = |error: Error| CallbackError {
            connection: Some(connection.clone()),
            account: self.store().account(&account).ok(),
            error,
        };
        let pending = loop {
            // Short waits, so a cancelled sign-in closes its port promptly.
            if let Some(pending) = listener.wait(&expected, Duration::from_millis(250)).await {
                break pending;
            }
            if let Some(error) = stopped_waiting(Instant::now(), expires, self.sign_ins.is_waiting(&state)) {
                self.sign_ins.take(&state);
                return Err(fail(error));
            }
        };
        let outcome = self.complete_authorization(&pending.url).await;
        match &outcome {
            Ok(a) => pending.answer(true, &format!("{} is connected in Latchkey.", a.identifier)).await,
            Err(e) => pending.answer(false, &e.error.to_string()).await,
        }
        outcome
    }

    /// Connects (or re-authorizes) an account of a loopback connection: hands the authorization URL
    /// to `open` (the system browser, or a printout), then [`Latchkey::finish_loopback`].
    pub async fn connect_via_loopback(
        &self,
        connection: &str,
        identifier: Option<&str>,
        actor: &Actor,
        open: impl FnOnce(&Url) -> Result<()>,
    ) -> Result<Account, CallbackError> {
        let _working = self.working();
        let link =
            self.get_authorization_link(connection, identifier, actor).await.map_err(CallbackError::plain)?;
        let Some(wait) = link.loopback else {
            self.cancel_authorization(&link.account.id);
            let name = self.connection(connection).map(|c| c.name).unwrap_or_default();
            return Err(CallbackError::plain(Error::ConnectionNotReady(
                name,
                "its provider sends the browser back to the Latchkey app (a deep link), not to this \
                 command. Connect it from the app."
                    .into(),
            )));
        };
        if let Err(e) = open(&link.url) {
            self.cancel_authorization(&link.account.id);
            return Err(CallbackError::plain(e));
        }
        self.finish_loopback(wait).await
    }

    /// `conn`'s OAuth settings, if a sign-in can start on it now: OAuth, enabled, with its client.
    fn ready_to_sign_in<'c>(&self, conn: &'c Connection) -> Result<&'c OAuth2Settings> {
        let oauth = conn.oauth().ok_or(Error::WrongConnectionType {
            connection: conn.name.clone(),
            kind: "an API-key or basic-auth",
            what: "enter its credential instead of signing in.",
        })?;
        match self.connection_status(conn)? {
            (ConnectionStatus::Active, _) => Ok(oauth),
            (ConnectionStatus::Inactive, _) => {
                Err(Error::ConnectionNotReady(conn.name.clone(), "it is disabled.".into()))
            }
            (ConnectionStatus::Pending, _) => {
                Err(Error::ConnectionNotReady(conn.name.clone(), self.missing_client(conn)))
            }
            // The client was rejected before; the user may have fixed it at the provider, so a new
            // attempt is allowed and clears the error when it succeeds.
            (ConnectionStatus::Error, _) => Ok(oauth),
        }
    }

    async fn start_authorization(
        &self,
        conn: &Connection,
        oauth: &OAuth2Settings,
        identifier: Option<&str>,
        actor: &Actor,
        redirect_uri: String,
    ) -> Result<Started> {
        let client_id = oauth.client_id.clone().unwrap_or_default();
        let metadata = self.metadata(conn).await?;
        let account = self.account_to_sign_in(conn, identifier, actor)?;
        let protocol = &oauth.protocol;
        let client = authorization_url_client(&client_id, &metadata, &redirect_uri)?;
        let mut request = client.authorize_url(CsrfToken::new_random);
        if !conn.scopes().is_empty() {
            let scopes = protocol.scope_separator.join(conn.scopes());
            request = if protocol.scope_param == "scope" {
                request.add_scope(Scope::new(scopes))
            } else {
                request.add_extra_param(protocol.scope_param.as_str(), scopes)
            };
        }
        for (name, value) in &protocol.extra_params {
            request = request.add_extra_param(name.as_str(), value.as_str());
        }
        // OpenID Connect Core §11: a provider may ignore `offline_access` (and issue no refresh
        // token) unless the request also has `prompt=consent`.
        let oidc = matches!(oauth.endpoints, Endpoints::Discover { .. });
        let consent_allowed =
            metadata.prompt_values_supported.as_ref().is_none_or(|v| v.iter().any(|p| p == "consent"));
        if oidc
            && consent_allowed
            && conn.scopes().iter().any(|s| s == OFFLINE_ACCESS)
            && !protocol.extra_params.iter().any(|(k, _)| k == "prompt")
        {
            request = request.add_extra_param("prompt", "consent");
        }
        let verifier = if protocol.pkce {
            let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
            request = request.set_pkce_challenge(challenge);
            Some(verifier)
        } else {
            None
        };
        let (url, state) = request.url();
        let created = Instant::now();
        self.sign_ins.insert(
            state.secret().clone(),
            SignInFlow {
                connection: conn.id.clone(),
                account: account.id.clone(),
                metadata,
                redirect_uri,
                url: url.clone(),
                verifier,
                created,
            },
        );
        self.audit(&account.id, &conn.id, AuditAction::AuthorizationStarted, actor, AuditOutcome::Ok, "")?;
        Ok(Started { account, url, state: state.secret().clone(), created })
    }

    /// The account a sign-in is for: the named one (made Pending if new), or an unnamed Pending
    /// placeholder that takes its name from the identity.
    pub(super) fn account_to_sign_in(
        &self,
        conn: &Connection,
        identifier: Option<&str>,
        actor: &Actor,
    ) -> Result<Account> {
        let mut store = self.store();
        Ok(match identifier {
            Some(name) => {
                store.get_or_create_account(&conn.id, check_identifier(name)?, conn.scopes(), false, actor)?
            }
            None => {
                let placeholder = format!("new-{}", &AccountId::random().as_str()[..8]);
                store.get_or_create_account(&conn.id, &placeholder, conn.scopes(), true, actor)?
            }
        }
        .0)
    }

    /// Forgets a sign-in the user gave up on; a late callback for it is then refused.
    pub fn cancel_authorization(&self, account: &AccountId) -> bool {
        self.sign_ins.cancel(account)
    }

    /// Handles the redirect the browser delivered (deep link or loopback): checks it against the
    /// pending sign-in, redeems the code, stores the tokens and moves the account to Active.
    pub async fn complete_authorization(&self, raw_url: &str) -> Result<Account, CallbackError> {
        let _working = self.working();
        let fail = |connection: Option<ConnectionId>, account: Option<Account>, error: Error| CallbackError {
            connection,
            account,
            error,
        };
        let cb = callback::parse(&self.redirect_scheme, raw_url).map_err(|e| fail(None, None, e))?;
        // A response for another connection or another redirect leaves the flow waiting, and names
        // no account: it is not that sign-in's answer, whatever `state` it carries.
        let flow = self
            .sign_ins
            .take_matching(&cb.state, |f| f.connection == cb.connection && f.redirect_uri == cb.redirect_base)
            .ok_or_else(|| fail(Some(cb.connection.clone()), None, Error::UnknownState))?;
        match self.redeem(cb, flow).await {
            Ok(account) => Ok(account),
            Err((id, conn, error)) => {
                // Whatever failed, the account keeps its state; the failure is recorded and shown.
                let sentence = error.to_string();
                let _ = self.store().set_last_error(&id, Some(&sentence));
                let _ = self.audit(
                    &id,
                    &conn,
                    AuditAction::AuthorizationFailed,
                    &Actor::Provider,
                    AuditOutcome::Failed,
                    &sentence,
                );
                let account = self.store().account(&id).ok();
                Err(fail(Some(conn), account, error))
            }
        }
    }

    async fn redeem(
        &self,
        cb: callback::Callback,
        flow: SignInFlow,
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
                let error = sanitize::error_text(&error);
                let detail =
                    description.map_or(error.clone(), |d| format!("{error}: {}", sanitize::error_text(&d)));
                return Err(err(Error::Provider { provider, detail }));
            }
        };

        let oauth = conn.oauth().ok_or_else(|| err(Error::UnknownState))?;
        let client_id = oauth.client_id.clone().unwrap_or_default();
        let secret = self.client_secret(&conn).await.map_err(err)?;
        let token_client = TokenClient {
            http: &self.http,
            metadata: &flow.metadata,
            protocol: &oauth.protocol,
            client_id: &client_id,
            client_secret: secret.as_ref(),
        };
        let response = match token_client.exchange_code(&code, &flow.redirect_uri, flow.verifier).await {
            Ok(r) => r,
            Err(failure) => return Err(err(self.token_failure(&conn, failure))),
        };
        self.store_sign_in(
            &conn,
            &flow.metadata,
            &id,
            secret.as_ref(),
            response,
            "authorization code redeemed",
        )
        .await
        .map_err(err)
    }

    /// A token request that failed, as the sign-in reports it; a rejected client puts the
    /// connection in error (its configuration is wrong, not the user's account).
    pub(super) fn token_failure(&self, conn: &Connection, failure: TokenFailure) -> Error {
        if let TokenFailure::ClientRejected { detail } = &failure {
            let sentence = format!("{} refused Latchkey's client: {detail}", conn.name);
            let _ = self.store().set_connection_error(&conn.id, Some(&sentence), &Actor::Provider);
        }
        failure.into_error(&conn.name)
    }

    /// Stores the tokens a sign-in got (a redeemed code, a device code): the identity checked
    /// against the account's, the tokens in the keychain, the account Active, with its audit rows.
    pub(super) async fn store_sign_in(
        &self,
        conn: &Connection,
        metadata: &ProviderMetadata,
        id: &AccountId,
        secret: Option<&Secret>,
        response: Tokens,
        how: &str,
    ) -> Result<Account> {
        let provider = conn.name.clone();
        let oauth = conn.oauth().ok_or(Error::UnknownState)?;
        let client_id = oauth.client_id.clone().unwrap_or_default();
        let received = now();
        self.store().set_connection_error(&conn.id, None, &Actor::Provider)?;

        // What the provider says was granted; no `scope` in the answer means as requested
        // (RFC 6749 §5.1).
        let granted: Vec<String> = response.scopes.clone().unwrap_or_else(|| conn.scopes().to_vec());
        let expires_at = response.expires_in.map(|d| received + d.as_secs() as i64);
        let (access_token, refresh_token) = (response.access_token, response.refresh_token);
        let no_refresh = refresh_token.is_none();
        let asked_offline = asks_offline(conn.scopes(), &oauth.protocol);

        let identity = match userinfo::spec(&oauth.protocol, metadata) {
            Some(spec) => {
                match userinfo::fetch(&self.http, &provider, &oauth.protocol, &spec, &access_token).await {
                    Ok(identity) => identity,
                    Err(e) => {
                        tracing::warn!(connection = %conn.id, "the identity call failed: {e}");
                        Identity::default()
                    }
                }
            }
            None => Identity::default(),
        };
        // Re-authorizing must not swap the person behind an account: the tokens of someone else
        // are dropped (not revoked: they may serve that person's own account here).
        let before = self.store().account(id)?;
        if let Some(known) = before.identity.as_ref()
            && let Some(mismatch) = identity_mismatch(known, &identity)
        {
            return Err(Error::IdentityMismatch { provider, expected: mismatch.0, got: mismatch.1 });
        }
        // An account named by an email address is that person's: anyone who saw the authorization
        // URL could finish it with their own sign-in, and their tokens must not land under this
        // name. They were issued to this client, so they are revoked, not only dropped.
        if let Some(expected) = named_email(&before.identifier)
            && let Some(got) = identity.email.as_deref()
            && !got.eq_ignore_ascii_case(expected)
        {
            let tokens = TokenSet { access_token, refresh_token };
            let client = RevokeClient { id: &client_id, secret };
            let revoked = oauth_revoke(&self.http, &oauth.protocol, metadata, &client, &tokens).await;
            let outcome = match &revoked {
                Revocation::Confirmed => "revoked",
                Revocation::NotConfirmed(_) | Revocation::Unsupported(_) => "not revoked",
            };
            tracing::warn!(connection = %conn.id, "a sign-in as another person was refused; its tokens: {outcome}");
            return Err(Error::IdentityMismatch {
                provider,
                expected: expected.to_owned(),
                got: got.to_owned(),
            });
        }

        // Crash-safe order: mark, write the secret, then record it (see reconcile.rs); under the
        // account's locks, so a refresh of the grant being replaced cannot write over it.
        let _lock = self.exclusive(id).await?;
        self.store().begin_op(id, Operation::Store, self.instance.id())?;
        self.checkpoint("store.marked");
        let stored = self.vault.put(id, Credential::OAuth(TokenSet { access_token, refresh_token })).await;
        if let Err(e) = stored {
            let _ = self.store().end_op(id);
            return Err(e);
        }
        self.checkpoint("store.after_vault");
        let mut store = self.store();
        store.audit(&crate::store::Audit {
            account: Some(id),
            connection: Some(&conn.id),
            action: AuditAction::TokenStored,
            actor: &Actor::Provider,
            outcome: AuditOutcome::Ok,
            detail: how,
        })?;
        if let Some(name) = name_for(&identity) {
            store.name_after_identity(id, name)?;
        }
        let account =
            store.record_authorized(id, &identity, conn.scopes(), &granted, expires_at, &Actor::User)?;
        if no_refresh && asked_offline {
            let minutes = expires_at.map(|at| ((at - received).max(0) + 59) / 60);
            let note = format!(
                "No refresh token was issued: this sign-in ends when its access token expires{}. \
                 Reconnect then, and allow offline access if the provider asks.",
                minutes.map_or(String::new(), |m| format!(" (in {m} min)")),
            );
            store.set_last_error(id, Some(&note))?;
            return store.account(id);
        }
        Ok(account)
    }
}

/// Why a loopback sign-in stops waiting, if it does: its flow's lifetime is over (checked first: the
/// flow has expired too by then), or its flow is gone (cancelled, or replaced by a newer sign-in).
fn stopped_waiting(now: Instant, expires: Instant, flow_waiting: bool) -> Option<Error> {
    if now >= expires {
        Some(Error::SignInTimedOut(format!("{} minutes", FLOW_TTL.as_secs() / 60)))
    } else if !flow_waiting {
        Some(Error::Cancelled)
    } else {
        None
    }
}

type AuthorizationUrlClient = BasicClient<
    oauth2::EndpointSet,
    oauth2::EndpointNotSet,
    oauth2::EndpointNotSet,
    oauth2::EndpointNotSet,
    oauth2::EndpointNotSet,
>;

/// The `oauth2` client that builds the authorization URL (the token endpoint is `TokenClient`'s).
fn authorization_url_client(
    client_id: &str,
    metadata: &ProviderMetadata,
    redirect_uri: &str,
) -> Result<AuthorizationUrlClient> {
    let redirect = RedirectUrl::new(redirect_uri.to_owned())
        .map_err(|e| Error::InvalidInput(format!("bad redirect URI {redirect_uri}: {e}")))?;
    Ok(BasicClient::new(ClientId::new(client_id.to_owned()))
        .set_auth_uri(AuthUrl::from_url(metadata.authorization_endpoint.clone()))
        .set_redirect_uri(redirect))
}

const OFFLINE_ACCESS: &str = "offline_access";

/// Whether the request asks for a refresh token: OpenID Connect's `offline_access` scope, or a
/// provider's own parameter for it (Google's `access_type=offline`).
fn asks_offline(scopes: &[String], protocol: &Protocol) -> bool {
    scopes.iter().any(|s| s == OFFLINE_ACCESS)
        || protocol.extra_params.iter().any(|(k, v)| k == "access_type" && v == "offline")
}

/// The email address an account is named after (a name with an `@` and no space), if any.
fn named_email(identifier: &str) -> Option<&str> {
    let id = identifier.trim();
    (id.contains('@') && !id.contains(char::is_whitespace)).then_some(id)
}

/// The name an unnamed account takes from its identity: the email, else the name, else the
/// subject, the first that is a valid account name with room for a " (9)" suffix. `None` keeps
/// the generated name.
fn name_for(identity: &Identity) -> Option<&str> {
    [&identity.email, &identity.name, &identity.subject]
        .into_iter()
        .flatten()
        .map(String::as_str)
        .find(|n| check_identifier(n).is_ok_and(|ok| ok == *n) && n.chars().count() <= NAME_MAX - 4)
}

/// `(expected, got)` when `got` is another person than `known`: compared by subject when both have
/// one, else by email. Unknown on either side is not a mismatch.
fn identity_mismatch(known: &Identity, got: &Identity) -> Option<(String, String)> {
    let differs = match (&known.subject, &got.subject) {
        (Some(a), Some(b)) => a != b,
        _ => matches!((&known.email, &got.email), (Some(a), Some(b)) if !a.eq_ignore_ascii_case(b)),
    };
    let show = |i: &Identity| {
        i.email.clone().or_else(|| i.name.clone()).or_else(|| i.subject.clone()).unwrap_or_default()
    };
    differs.then(|| (show(known), show(got)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn who(subject: Option<&str>, email: Option<&str>) -> Identity {
        Identity { subject: subject.map(Into::into), email: email.map(Into::into), name: None }
    }

    #[test]
    fn a_loopback_sign_in_that_runs_out_of_time_says_it_timed_out() {
        let expires = Instant::now();
        let later = expires + Duration::from_millis(1);
        // At the end of its lifetime the flow is no longer waiting either: a timeout all the same.
        for now in [expires, later] {
            let timed_out = stopped_waiting(now, expires, false).expect("stopped");
            assert!(matches!(timed_out, Error::SignInTimedOut(_)), "{timed_out}");
            let message = timed_out.to_string();
            assert!(message.contains("timed out") && message.contains("10 minutes"), "{message}");
            assert!(!message.contains("cancelled"), "{message}");
        }
        let earlier = expires - Duration::from_millis(1);
        assert!(matches!(stopped_waiting(earlier, expires, false), Some(Error::Cancelled)));
        assert!(stopped_waiting(earlier, expires, true).is_none());
    }

    #[test]
    fn accounts_named_by_email_and_names_taken_from_identities() {
        assert_eq!(named_email(" Alice@Example.test "), Some("Alice@Example.test"));
        assert_eq!(named_email("alice@example.test (2)"), None);
        assert_eq!(named_email("work"), None);
        let i = |email: &str, name: &str, sub: &str| Identity {
            subject: Some(sub.into()),
            email: Some(email.into()),
            name: Some(name.into()),
        };
        assert_eq!(name_for(&i("a@x", "A", "1")), Some("a@x"));
        assert_eq!(name_for(&i(&"e".repeat(254), "Ann", "1")), Some("Ann"), "too long for a name");
        assert_eq!(name_for(&i(&"e".repeat(254), &"n".repeat(200), "s1")), Some("s1"));
        assert_eq!(name_for(&i(" a@x", "a\nb", "s")), Some("s"), "not valid as they are");
        assert_eq!(name_for(&Identity::default()), None);
    }

    #[test]
    fn identity_mismatch_compares_subjects_then_emails() {
        assert_eq!(identity_mismatch(&who(Some("1"), Some("a@x")), &who(Some("1"), Some("b@x"))), None);
        assert_eq!(
            identity_mismatch(&who(Some("1"), Some("a@x")), &who(Some("2"), Some("b@x"))),
            Some(("a@x".into(), "b@x".into()))
        );
        assert_eq!(identity_mismatch(&who(None, Some("A@x")), &who(None, Some("a@x"))), None);
        assert!(identity_mismatch(&who(None, Some("a@x")), &who(None, Some("b@x"))).is_some());
        assert_eq!(identity_mismatch(&who(Some("1"), None), &Identity::default()), None);
    }
}
