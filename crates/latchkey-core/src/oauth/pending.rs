//! The table of authorization requests this process started and is waiting for, keyed by `state`.
//! An entry is taken out exactly once (single use) and only within its lifetime (RFC 9700 §4.7).
//! It also keeps each sign-in's authorization URL, so the window can open it again. A sign-in
//! starting or ending is announced as a change of the accounts (whether one is signing in shows).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use oauth2::PkceCodeVerifier;

use crate::config::ProviderMetadata;
use crate::model::{AccountId, ConnectionId};
use crate::service::Change;
use crate::service::changes::Changes;

/// How long a sign-in may take in the browser.
pub const FLOW_TTL: Duration = Duration::from_secs(10 * 60);

pub struct SignInFlow {
    pub connection: ConnectionId,
    pub account: AccountId,
    pub metadata: ProviderMetadata,
    pub redirect_uri: String,
    /// The authorization URL the user opens; it carries the `state`, so it never crosses IPC.
    pub url: url::Url,
    /// `None` for the few providers that reject PKCE.
    pub verifier: Option<PkceCodeVerifier>,
    pub created: Instant,
}

#[derive(Default)]
pub struct SignIns {
    flows: Mutex<HashMap<String, SignInFlow>>,
    changes: Changes,
}

impl SignIns {
    pub(crate) fn new(changes: Changes) -> SignIns {
        SignIns { flows: Mutex::default(), changes }
    }

    pub fn insert(&self, state: String, flow: SignInFlow) {
        let mut flows = self.lock();
        flows.retain(|_, f| f.created.elapsed() < FLOW_TTL);
        // A new sign-in for the same account replaces the old one: only the latest link works.
        flows.retain(|_, f| f.account != flow.account);
        flows.insert(state, flow);
        self.changes.announce(Change::Accounts);
    }

    /// Removes and returns the flow for `state` if it exists and has not expired.
    pub fn take(&self, state: &str) -> Option<SignInFlow> {
        self.take_matching(state, |_| true)
    }

    /// As [`SignIns::take`], but only a flow `matches` accepts; any other stays as it was.
    pub fn take_matching(
        &self,
        state: &str,
        matches: impl FnOnce(&SignInFlow) -> bool,
    ) -> Option<SignInFlow> {
        let mut flows = self.lock();
        let flow = flows.get(state)?;
        if flow.created.elapsed() >= FLOW_TTL {
            flows.remove(state);
            return None;
        }
        if !matches(flow) {
            return None;
        }
        let taken = flows.remove(state);
        self.changes.announce(Change::Accounts);
        taken
    }

    /// Whether the flow for `state` is still waiting (not taken, cancelled, replaced or expired).
    pub fn is_waiting(&self, state: &str) -> bool {
        self.lock().get(state).is_some_and(|f| f.created.elapsed() < FLOW_TTL)
    }

    /// Forgets the pending sign-in of `account`, if any (the user cancelled).
    pub fn cancel(&self, account: &AccountId) -> bool {
        let mut flows = self.lock();
        let before = flows.len();
        flows.retain(|_, f| &f.account != account);
        let cancelled = flows.len() != before;
        if cancelled {
            self.changes.announce(Change::Accounts);
        }
        cancelled
    }

    /// Whether any sign-in is still waiting (within its lifetime).
    pub fn any(&self) -> bool {
        self.lock().values().any(|f| f.created.elapsed() < FLOW_TTL)
    }

    pub fn is_signing_in(&self, account: &AccountId) -> bool {
        self.link(account).is_some()
    }

    /// The authorization URL of the account's sign-in still waiting (within its lifetime).
    pub fn link(&self, account: &AccountId) -> Option<url::Url> {
        self.lock()
            .values()
            .find(|f| &f.account == account && f.created.elapsed() < FLOW_TTL)
            .map(|f| f.url.clone())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, SignInFlow>> {
        self.flows.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flow(account: &AccountId, age: Duration) -> SignInFlow {
        let url = |s: &str| url::Url::parse(s).expect("url");
        SignInFlow {
            connection: ConnectionId::new("demo").expect("id"),
            account: account.clone(),
            metadata: ProviderMetadata {
                issuer: None,
                authorization_endpoint: url("https://a.example/auth"),
                token_endpoint: url("https://a.example/token"),
                revocation_endpoint: None,
                userinfo_endpoint: None,
                iss_parameter_supported: false,
                prompt_values_supported: None,
                device_authorization_endpoint: None,
            },
            redirect_uri: "x:/oauth/demo/callback".into(),
            url: url("https://a.example/auth?state=s"),
            verifier: Some(PkceCodeVerifier::new("v".repeat(43))),
            created: Instant::now().checked_sub(age).expect("instant"),
        }
    }

    #[test]
    fn single_use_and_expiring() {
        let flows = SignIns::default();
        let a = AccountId::random();
        flows.insert("s1".into(), flow(&a, Duration::ZERO));
        assert!(flows.is_signing_in(&a));
        assert!(flows.take("unknown").is_none());
        assert!(flows.take("s1").is_some());
        assert!(flows.take("s1").is_none(), "a state works once");

        flows.insert("old".into(), flow(&a, FLOW_TTL + Duration::from_secs(1)));
        assert!(!flows.is_waiting("old"));
        assert!(flows.take("old").is_none(), "an expired state is refused");
    }

    #[test]
    fn a_flow_that_does_not_match_stays() {
        let flows = SignIns::default();
        let a = AccountId::random();
        flows.insert("s".into(), flow(&a, Duration::ZERO));
        assert!(flows.take_matching("s", |f| f.connection.as_str() == "other").is_none());
        assert!(flows.is_waiting("s") && flows.is_signing_in(&a), "a mismatch leaves the flow waiting");
        assert!(flows.take_matching("s", |f| f.connection.as_str() == "demo").is_some());
        assert!(!flows.is_waiting("s"));
    }

    #[test]
    fn a_new_link_replaces_the_old_one_for_the_same_account() {
        let flows = SignIns::default();
        let a = AccountId::random();
        flows.insert("first".into(), flow(&a, Duration::ZERO));
        flows.insert("second".into(), flow(&a, Duration::ZERO));
        assert!(!flows.is_waiting("first") && flows.is_waiting("second"));
        assert!(flows.take("first").is_none());
        assert!(flows.take("second").is_some());
        flows.insert("third".into(), flow(&a, Duration::ZERO));
        assert!(flows.cancel(&a));
        assert!(!flows.is_signing_in(&a));
    }

    #[test]
    fn the_link_lives_as_long_as_its_sign_in_and_each_change_is_announced() {
        let changes = Changes::default();
        let mut heard = changes.0.subscribe();
        let flows = SignIns::new(changes);
        let a = AccountId::random();
        assert!(flows.link(&a).is_none());
        flows.insert("s".into(), flow(&a, Duration::ZERO));
        assert_eq!(flows.link(&a).map(String::from).as_deref(), Some("https://a.example/auth?state=s"));
        assert!(flows.cancel(&a));
        assert!(flows.link(&a).is_none(), "a cancelled sign-in has no link");
        assert!(!flows.cancel(&a), "nothing left to cancel");
        flows.insert("old".into(), flow(&a, FLOW_TTL + Duration::from_secs(1)));
        assert!(flows.link(&a).is_none(), "an expired sign-in has no link");
        let mut count = 0;
        while heard.try_recv() == Ok(Change::Accounts) {
            count += 1;
        }
        assert_eq!(count, 3, "two sign-ins started, one cancelled");
    }
}
