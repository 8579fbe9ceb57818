//! The connection list as the window and `latchkey connections list --json` show it: one view per
//! connection, built here from the configuration, the catalog and the local metadata (no keychain,
//! no network). The window receives it as it is (its TypeScript type is `ConnectionDto`); the CLI
//! writes the documented subset of its fields.

use serde::Serialize;

use super::Latchkey;
use crate::config::{Connection, ConnectionType};
use crate::error::Result;
use crate::model::ConnectionStatus;
use crate::protocol::{RedirectStrategy, SecretNeed};

/// One connection, for display. Holds no secret: a client secret is only "stored" or not.
#[derive(Serialize, Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(rename = "ConnectionDto"))]
pub struct ConnectionView {
    pub id: String,
    pub name: String,
    /// The catalog's provider (grouping, icon), or the connection's own name.
    pub provider: String,
    /// The catalog entry it was made from (the CLI's `catalog`).
    #[serde(skip)]
    pub catalog: Option<&'static str>,
    /// The catalog entry's one-line description.
    pub description: Option<String>,
    pub kind: ConnectionType,
    pub status: ConnectionStatus,
    /// Why the status is "error", as a sentence.
    pub error: Option<String>,
    pub enabled: bool,
    pub scopes: Vec<String>,
    /// Every scope the catalog knows for this provider (and any other requested one), each with a
    /// plain-language description and whether the connection requests it.
    pub scope_choices: Vec<ScopeChoice>,
    pub issuer: Option<String>,
    pub client_id: Option<String>,
    /// The provider needs a client secret (kept in the keychain, never sent back to the UI).
    pub needs_client_secret: bool,
    /// The provider takes a client secret at all (public clients take none).
    pub takes_client_secret: bool,
    pub client_secret_stored: bool,
    /// Where the user creates their own client, and what to do there.
    pub client_setup_url: Option<String>,
    pub client_setup: Option<String>,
    pub redirect: Option<RedirectStrategy>,
    /// The redirect URI to register at the provider.
    pub redirect_uri: Option<String>,
    /// `rfc7009`, `github-grant`, `bearer` or `none`.
    pub revocation: Option<String>,
}

#[derive(Serialize, Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(rename = "ScopeChoiceDto"))]
pub struct ScopeChoice {
    pub name: String,
    pub description: Option<String>,
    pub requested: bool,
}

impl Latchkey {
    /// Every connection's view, in the configuration's order.
    pub fn connection_views(&self) -> Result<Vec<ConnectionView>> {
        self.connections().iter().map(|c| self.connection_view(c)).collect()
    }

    pub fn connection_view(&self, c: &Connection) -> Result<ConnectionView> {
        let (status, error) = self.connection_status(c)?;
        let entry = c.entry();
        let oauth = c.oauth();
        let mut scope_choices: Vec<ScopeChoice> = entry
            .map(|e| {
                e.scopes
                    .iter()
                    .map(|s| ScopeChoice {
                        name: s.name.clone(),
                        description: Some(s.description.clone()),
                        requested: c.scopes().contains(&s.name),
                    })
                    .collect()
            })
            .unwrap_or_default();
        for s in c.scopes() {
            if !scope_choices.iter().any(|x| &x.name == s) {
                scope_choices.push(ScopeChoice { name: s.clone(), description: None, requested: true });
            }
        }
        Ok(ConnectionView {
            id: c.id.to_string(),
            name: c.name.clone(),
            provider: c.provider().to_owned(),
            catalog: c.catalog,
            description: entry.map(|e| e.description.clone()),
            kind: c.kind.connection_type(),
            status,
            error,
            enabled: c.enabled,
            scopes: c.scopes().to_vec(),
            scope_choices,
            issuer: c.issuer_hint().map(str::to_owned),
            client_id: oauth.and_then(|o| o.client_id.clone()),
            needs_client_secret: oauth.is_some_and(|o| o.protocol.client_secret == SecretNeed::Required),
            takes_client_secret: oauth.is_some_and(|o| o.protocol.client_secret != SecretNeed::None),
            client_secret_stored: self.client_secret_stored(c)?,
            client_setup_url: entry.and_then(|e| e.client_setup_url.as_ref().map(|u| u.to_string())),
            client_setup: entry.and_then(|e| e.client_setup.clone()),
            redirect: oauth.map(|o| o.redirect.strategy()),
            redirect_uri: oauth.map(|o| o.redirect.registered_uri(&self.redirect_scheme, c.id.as_str())),
            revocation: oauth.map(|o| o.protocol.revocation.as_str().to_owned()),
        })
    }
}
