//! Fills a data folder with N API-key accounts of the connection `crm` (tests/bench/desktop.sh):
//! real keychain entries and real metadata, through the core like any other account.
//!
//!     LATCHKEY_DATA_DIR=… LATCHKEY_CONNECTIONS=… LATCHKEY_KEYCHAIN_SERVICE=… \
//!       cargo run --release -p latchkey-core --example seed -- 50

use latchkey_core::model::Actor;
use latchkey_core::secret::{Credential, Secret};
use latchkey_core::vault::system_store;
use latchkey_core::{Latchkey, Options, paths};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let count: usize = std::env::args().nth(1).as_deref().unwrap_or("50").parse()?;
    let file = paths::connections_file()?;
    let (core, _) = Latchkey::open(Options {
        data_dir: paths::data_dir()?,
        connections: latchkey_core::config::load_connections(&file)?,
        connections_file: Some(file),
        secrets: system_store(paths::keychain_service()),
        redirect_scheme: paths::IDENTIFIER.into(),
        http: latchkey_core::http::Http::new()?,
        hooks: Default::default(),
    })
    .await?;
    for i in 0..count {
        let key = Credential::ApiKey(Secret::new(format!("seed-key-{i:06}-0123456789abcdef")));
        core.add_credential_account("crm", &format!("user-{i:04}@example.com"), key, &Actor::System).await?;
    }
    println!("seeded {count} accounts");
    Ok(())
}
