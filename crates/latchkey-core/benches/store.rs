//! Core micro-benchmarks of the metadata store (issue #9), with criterion:
//! listing 10,000 accounts from SQLite, and one state transition with its audit row.
//!
//!     cargo bench -p latchkey-core --bench store

use criterion::{Criterion, criterion_group, criterion_main};
use latchkey_core::model::{AccountFilter, AccountStatus, Actor, ConnectionId};
use latchkey_core::store::Store;

fn store_with(n: usize) -> (tempfile::TempDir, Store, latchkey_core::model::AccountId) {
    let dir = tempfile::tempdir().expect("tmp");
    let mut store = Store::open_in(dir.path()).expect("store");
    let conn = ConnectionId::new("gmail").expect("id");
    let scopes = vec!["openid".to_owned(), "email".to_owned()];
    let mut last = None;
    for i in 0..n {
        let (a, _) = store
            .get_or_create_account(&conn, &format!("user-{i:05}@example.com"), &scopes, false, &Actor::System)
            .expect("create");
        let a = store.transition(&a.id, AccountStatus::Active, &Actor::System, "seeded").expect("active");
        last = Some(a.id);
    }
    (dir, store, last.expect("one account"))
}

fn benches(c: &mut Criterion) {
    let (_dir, mut store, id) = store_with(10_000);
    c.bench_function("list 10,000 accounts", |b| {
        b.iter(|| {
            let all = store.accounts(&AccountFilter::default()).expect("list");
            assert_eq!(all.len(), 10_000);
            all
        })
    });
    let mut active = true;
    c.bench_function("state transition with its audit row", |b| {
        b.iter(|| {
            let to = if active { AccountStatus::Suspended } else { AccountStatus::Active };
            store.transition(&id, to, &Actor::User, "benchmark").expect("transition");
            active = !active;
        })
    });
}

criterion_group! {
    name = store;
    config = Criterion::default().sample_size(30);
    targets = benches
}
criterion_main!(store);
