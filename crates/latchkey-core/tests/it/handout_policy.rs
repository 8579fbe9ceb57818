//! Hand-out policies over a `MemoryStore` (no session): `open` hands out, `closed` refuses every
//! caller, `ask` refuses a program without a full-access grant (no app runs here to ask) and lets a
//! granted one through; each refusal is audited and names the command that allows it; the policy
//! is audited on change and survives a restart.

use std::path::Path;
use std::sync::Arc;

use latchkey_core::api::Access;
use latchkey_core::http::Http;
use latchkey_core::model::{AccountId, Actor, HandoutPolicy};
use latchkey_core::secret::{Credential, Secret};
use latchkey_core::store::{AuditAction, AuditOutcome, AuditQuery};
use latchkey_core::vault::MemoryStore;
use latchkey_core::{Error, ErrorCode, Hooks, Latchkey, Options};

const KEY: &str = "key-value-policy-5678";

async fn open(dir: &Path, keychain: &MemoryStore) -> Latchkey {
    let file = dir.join("connections.toml");
    std::fs::write(&file, "[[connection]]\nid = \"crm\"\ntype = \"api-key\"\n").expect("connections");
    let (core, _) = Latchkey::open(Options {
        data_dir: dir.to_owned(),
        connections: latchkey_core::config::load_connections(&file).expect("parse"),
        connections_file: Some(file),
        secrets: Arc::new(keychain.clone()),
        redirect_scheme: "io.latchkey.test".into(),
        http: Http::new().expect("http"),
        hooks: Hooks::default(),
    })
    .await
    .expect("open");
    core
}

fn rows(core: &Latchkey, id: &AccountId, action: AuditAction) -> Vec<(AuditOutcome, String, Option<String>)> {
    core.audit_trail(&AuditQuery { account: Some(id.clone()), ..Default::default() })
        .expect("audit")
        .into_iter()
        .filter(|e| e.action == action)
        .map(|e| (e.outcome, e.detail, e.caller))
        .collect()
}

async fn read(core: &Latchkey, id: &AccountId, actor: &Actor) -> Result<String, Error> {
    match core.read_credential(id, actor).await? {
        Credential::ApiKey(k) => Ok(k.expose().to_owned()),
        _ => panic!("not an API key"),
    }
}

#[tokio::test]
async fn open_ask_and_closed_decide_who_takes_the_credential() {
    let dir = tempfile::tempdir().expect("tmp");
    let keychain = MemoryStore::default();
    let core = open(dir.path(), &keychain).await;
    let id = core
        .add_credential_account("crm", "work", Credential::ApiKey(Secret::new(KEY)), &Actor::User)
        .await
        .expect("account")
        .id;
    let tool = Actor::Cli { caller: "/usr/local/bin/deploy tool (pid 4242)".into() };
    let mut said: Vec<String> = Vec::new();

    // Open, the default: any program, audited.
    assert_eq!(core.get_account(&id).expect("get").handout, HandoutPolicy::Open);
    assert_eq!(read(&core, &id, &tool).await.expect("open"), KEY);

    // Closed: nobody, not even the person; the sentence names the command that opens it.
    let changed = core.set_handout_policy(&id, HandoutPolicy::Closed, &Actor::User).expect("closed");
    assert_eq!(changed.handout, HandoutPolicy::Closed);
    for actor in [&tool, &Actor::User] {
        let e = read(&core, &id, actor).await.expect_err("closed refuses");
        assert!(matches!(e, Error::HandoutRefused(_)), "{e:?}");
        assert_eq!(e.code(), ErrorCode::InvalidInput);
        assert!(e.to_string().contains("To allow it: latchkey accounts policy crm:work open"), "{e}");
        said.push(e.to_string());
    }

    // Ask: a program without a grant is refused (no app runs to ask), with the grants command.
    core.set_handout_policy(&id, HandoutPolicy::Ask, &Actor::User).expect("ask");
    let e = read(&core, &id, &tool).await.expect_err("no grant");
    let allow = "latchkey grants add \"/usr/local/bin/deploy tool\" crm:work --access full";
    assert!(e.to_string().contains(allow) && e.to_string().contains("not running"), "{e}");
    said.push(e.to_string());
    // A read grant covers calls through Latchkey, not a raw credential.
    core.add_grant("/usr/local/bin/deploy tool", &id, Access::Read, None, &Actor::User).expect("read");
    let e = read(&core, &id, &tool).await.expect_err("read grant");
    assert!(e.to_string().contains("read-only") && e.to_string().contains(allow), "{e}");
    said.push(e.to_string());
    // Another program's full grant is not this one's.
    core.add_grant("/usr/bin/other", &id, Access::Full, None, &Actor::User).expect("other");
    assert!(read(&core, &id, &tool).await.is_err());
    // Its own full grant lets it through, and counts as a use of the grant.
    core.add_grant("/usr/local/bin/deploy tool", &id, Access::Full, None, &Actor::User).expect("full");
    assert_eq!(read(&core, &id, &tool).await.expect("granted"), KEY);
    let grant = core.grant_for("/usr/local/bin/deploy tool", &id).expect("grant").expect("live");
    assert!(grant.last_used.is_some(), "the use is kept");
    // The person in the app's window is the one who would be asked.
    assert_eq!(read(&core, &id, &Actor::User).await.expect("the person"), KEY);

    // The same policy again changes nothing; each change is one audit row.
    core.set_handout_policy(&id, HandoutPolicy::Ask, &Actor::User).expect("again");
    let changes: Vec<String> =
        rows(&core, &id, AuditAction::PolicyChanged).into_iter().map(|r| r.1).collect();
    assert_eq!(changes, ["hand-out policy open -> closed", "hand-out policy closed -> ask"]);

    // Each refusal is a refused token.read row with the caller; the reads that passed are ok rows.
    let reads = rows(&core, &id, AuditAction::TokenRead);
    let refused: Vec<_> = reads.iter().filter(|r| r.0 == AuditOutcome::Refused).collect();
    assert_eq!(refused.len(), 5, "{reads:?}");
    assert!(refused.iter().filter(|r| r.1 == "hand-out policy closed").count() == 2, "{refused:?}");
    assert!(
        refused.iter().any(|r| r.1.starts_with("hand-out policy ask")
            && r.2.as_deref() == Some("/usr/local/bin/deploy tool (pid 4242)")),
        "{refused:?}"
    );
    assert_eq!(reads.iter().filter(|r| r.0 == AuditOutcome::Ok).count(), 3, "{reads:?}");

    // The policy is kept across a restart; the key never shows in a message or the trail.
    drop(core);
    let core = open(dir.path(), &keychain).await;
    assert_eq!(core.get_account(&id).expect("get").handout, HandoutPolicy::Ask);
    let trail = core.audit_trail(&AuditQuery::default()).expect("audit");
    said.extend(trail.iter().map(|e| format!("{e:?}")));
    assert!(said.iter().all(|s| !s.contains(KEY)), "the key leaked");

    // An account that is not there is a clear error, and nothing is written.
    let gone = AccountId::random();
    let e = core.set_handout_policy(&gone, HandoutPolicy::Closed, &Actor::User).expect_err("unknown");
    assert_eq!(e.code(), ErrorCode::NotFound, "{e}");
    assert_eq!(
        "sealed".parse::<HandoutPolicy>().expect_err("bad"),
        "hand-out policy “sealed” is unknown (use open, ask or closed)"
    );
}

#[tokio::test]
async fn git_reporting_a_refused_key_is_recorded() {
    let dir = tempfile::tempdir().expect("tmp");
    let keychain = MemoryStore::default();
    let core = open(dir.path(), &keychain).await;
    let id = core
        .add_credential_account("crm", "ci", Credential::ApiKey(Secret::new(KEY)), &Actor::User)
        .await
        .expect("account")
        .id;
    let git = Actor::Cli { caller: "/usr/bin/git (pid 7)".into() };
    core.record_credential_refused(&id, "git", &git).expect("record");
    let rows = rows(&core, &id, AuditAction::CredentialRefused);
    assert_eq!(
        rows,
        [(
            AuditOutcome::Failed,
            "git reported that the server refused the credential".to_owned(),
            Some("/usr/bin/git (pid 7)".to_owned())
        )]
    );
    // The key stays, and the account stays usable.
    assert_eq!(read(&core, &id, &git).await.expect("still there"), KEY);
}
