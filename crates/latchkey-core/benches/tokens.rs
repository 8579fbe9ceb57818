//! Token hand-out time (issue #5), printed, not asserted: from "token requested" to "token
//! returned" for a valid cached token, and for one that needs a refresh minus the provider's own
//! time (the same refresh request sent straight to the provider, measured in the same run).
//! Real keychain (Secret Service) and the real test provider on 127.0.0.1:
//!
//!     tests/with-session cargo bench -p latchkey-core --bench tokens

#[path = "../tests/support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use latchkey_core::model::Actor;
use support::{Decision, Provider, browse, core, entry};

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let provider = Provider::start();
    let h = core(&provider, &["openid", "email"]).await;
    let user = Actor::User;
    let mut ids = Vec::new();
    for name in ["bench", "baseline"] {
        let link = h.core.get_authorization_link("test", Some(name), &user).await.expect("link");
        let a = h
            .core
            .complete_authorization(&browse(&provider, link.url.as_str(), Decision::Approve))
            .await
            .expect("connected");
        ids.push(a.id);
    }
    let (id, baseline) = (&ids[0], &ids[1]);

    // A valid token: SQLite, one keychain read, one audit row.
    for _ in 0..10 {
        h.core.access_token(id, Duration::from_secs(60), &user).await.expect("warm-up");
    }
    let valid: Vec<Duration> = {
        let mut v = Vec::new();
        for _ in 0..200 {
            let t = Instant::now();
            h.core.access_token(id, Duration::from_secs(60), &user).await.expect("token");
            v.push(t.elapsed());
        }
        v
    };

    // A token that needs a refresh: asking for more validity than any token has refreshes every time.
    let refreshing: Vec<Duration> = {
        let mut v = Vec::new();
        for _ in 0..40 {
            let t = Instant::now();
            h.core.access_token(id, Duration::from_secs(10 * 365 * 86400), &user).await.expect("token");
            v.push(t.elapsed());
        }
        v
    };

    // The provider's own time: the same refresh request, straight from a plain HTTP client, with
    // the other account's refresh token (rotated each time, as the provider requires).
    let client = provider.client();
    let mut refresh_token = entry(&h.keychain, baseline, "refresh").expect("refresh token");
    let token_url = format!("{}/token", provider.issuer);
    let mut raw = Vec::new();
    for _ in 0..40 {
        let t = Instant::now();
        let answer: serde_json::Value = client
            .post(&token_url)
            .form(&[
                ("grant_type", "refresh_token"),
                ("refresh_token", &refresh_token),
                ("client_id", "latchkey"),
            ])
            .send()
            .await
            .expect("refresh")
            .json()
            .await
            .expect("json");
        raw.push(t.elapsed());
        refresh_token = answer["refresh_token"].as_str().expect("rotated refresh token").to_owned();
    }

    // Where the rest goes: one keychain write and one read (Secret Service over D-Bus).
    use latchkey_core::vault::SecretStore;
    let (mut writes, mut reads) = (Vec::new(), Vec::new());
    for i in 0..40 {
        let value = latchkey_core::secret::Secret::new(format!("bench-value-{i:040}"));
        let t = Instant::now();
        h.keychain.put("bench/probe", &value).expect("put");
        writes.push(t.elapsed());
        let t = Instant::now();
        h.keychain.get("bench/probe").expect("get");
        reads.push(t.elapsed());
    }
    h.keychain.delete("bench/probe").expect("delete");
    println!(
        "  one keychain write / read:                      {} / {}",
        ms(median(writes)),
        ms(median(reads))
    );

    let (valid, refreshing, raw) = (median(valid), median(refreshing), median(raw));
    println!("token hand-out, medians (real Secret Service, test provider on 127.0.0.1):");
    println!("  valid cached token (200 runs):                  {}", ms(valid));
    println!("  token needing a refresh (40 runs):              {}", ms(refreshing));
    println!("  the provider's refresh alone, plain client (40): {}", ms(raw));
    println!("  refresh overhead beyond the provider:           {}", ms(refreshing.saturating_sub(raw)));
}
