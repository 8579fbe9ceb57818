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
#[cfg_attr(feature = "bindings", derive(ts_rs::TS), ts(rename = "ConnectionDto"))]
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
    /// Where `call_api` sends the account's token: the provider's API base URL.
    pub api_base: Option<String>,
}

#[derive(Serialize, Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "bindings", derive(ts_rs::TS), ts(rename = "ScopeChoiceDto"))]
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
            api_base: c.api_base.as_ref().map(|u| u.to_string()),
        })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::service::{ConnectionChange, Hooks, Options};
    use crate::vault::MemoryStore;

    #[tokio::test]
    async fn the_view_follows_the_configuration_the_catalog_and_the_stored_secret() {
        let tmp = tempfile::tempdir().expect("tmp");
        let file = tmp.path().join("connections.toml");
        std::fs::write(
            &file,
            "[[connection]]\nid = \"gmail\"\nclient_id = \"123.apps\"\nscopes = [\"openid\", \"extra\"]\n\
             [[connection]]\nid = \"crm\"\ntype = \"api-key\"\nname = \"CRM\"\n",
        )
        .expect("connections file");
        let options = Options {
            data_dir: tmp.path().join("data"),
            connections: crate::config::load_connections(&file).expect("connections"),
            connections_file: Some(file),
            secrets: Arc::new(MemoryStore::default()),
            redirect_scheme: "io.latchkey.test".into(),
            http: crate::http::Http::new().expect("http"),
            hooks: Hooks::default(),
        };
        let (core, _) = Latchkey::open(options).await.expect("open");
        let view =
            |id: &str| core.connection_views().expect("views").into_iter().find(|v| v.id == id).expect(id);

        let gmail = view("gmail");
        assert_eq!(
            (gmail.kind, gmail.catalog, gmail.provider.as_str()),
            (ConnectionType::OAuth2, Some("gmail"), "Google")
        );
        assert_eq!(gmail.status, ConnectionStatus::Pending, "Google needs the client secret");
        assert!(gmail.needs_client_secret && gmail.takes_client_secret && !gmail.client_secret_stored);
        assert_eq!(gmail.redirect, Some(RedirectStrategy::Loopback));
        assert_eq!(gmail.redirect_uri.as_deref(), Some("http://127.0.0.1/oauth/gmail/callback (any port)"));
        assert_eq!(gmail.revocation.as_deref(), Some("rfc7009"));
        let requested: Vec<&str> =
            gmail.scope_choices.iter().filter(|s| s.requested).map(|s| s.name.as_str()).collect();
        assert_eq!(requested, ["openid", "extra"]);
        assert!(gmail.scope_choices.iter().any(|s| !s.requested && s.description.is_some()));
        assert_eq!(
            gmail.scope_choices.last().and_then(|s| s.description.clone()),
            None,
            "not in the catalog"
        );

        let change = ConnectionChange {
            client_secret: Some(Some(crate::secret::Secret::new("s3cret"))),
            ..Default::default()
        };
        core.configure_connection("gmail", change, &crate::model::Actor::User).await.expect("secret");
        let gmail = view("gmail");
        assert_eq!((gmail.status, gmail.client_secret_stored), (ConnectionStatus::Active, true));

        let crm = view("crm");
        assert_eq!(
            (crm.kind, crm.status, crm.catalog),
            (ConnectionType::ApiKey, ConnectionStatus::Active, None)
        );
        assert_eq!(
            (crm.redirect, crm.redirect_uri.as_deref(), crm.revocation.as_deref()),
            (None, None, None)
        );
        let json = serde_json::to_value(&crm).expect("json");
        assert_eq!((json["kind"].as_str(), json["status"].as_str()), (Some("api-key"), Some("active")));
        assert!(json.get("catalog").is_none(), "the window's DTO has no catalog field");
        let gmail = serde_json::to_string(&view("gmail")).expect("json");
        assert!(gmail.contains("\"client_secret_stored\":true") && !gmail.contains("s3cret"), "{gmail}");
    }
}
