//! Token and sign-in times (issues #5 and #9), printed, not asserted: from "token requested" to
//! "token returned" for a valid cached token, and for one that needs a refresh minus the provider's
//! own time (the same refresh request sent straight to the provider, measured in the same run);
//! callback → Active minus the provider's time (the same code exchange and identity call made by a
//! plain HTTP client); and how many requests reach the provider for 100 concurrent token requests
//! on an expired account. Real keychain (Secret Service) and the real test provider on 127.0.0.1:
//!
//!     tests/with-session cargo bench -p latchkey-core --bench tokens

#[path = "../tests/it/support/mod.rs"]
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

    // Callback → Active: the browser's part (sign-in, consent) is outside the timing.
    let mut callback = Vec::new();
    for i in 0..15 {
        let link =
            h.core.get_authorization_link("test", Some(&format!("cb-{i}")), &user).await.expect("link");
        let url = browse(&provider, link.url.as_str(), Decision::Approve);
        let t = Instant::now();
        h.core.complete_authorization(&url).await.expect("connected");
        callback.push(t.elapsed());
    }
    // The provider's part of it: the same code exchange and identity call from a plain client.
    let doc: serde_json::Value = client
        .get(format!("{}/.well-known/openid-configuration", provider.issuer))
        .send()
        .await
        .expect("discovery")
        .json()
        .await
        .expect("json");
    let (auth, userinfo) = (
        doc["authorization_endpoint"].as_str().expect("auth"),
        doc["userinfo_endpoint"].as_str().expect("userinfo"),
    );
    let redirect = "io.latchkey.desktop:/oauth/test/callback";
    let mut exchange = Vec::new();
    for i in 0..15 {
        let (challenge, verifier) = oauth2::PkceCodeChallenge::new_random_sha256();
        let mut url = url::Url::parse(auth).expect("url");
        url.query_pairs_mut()
            .append_pair("response_type", "code")
            .append_pair("client_id", "latchkey")
            .append_pair("redirect_uri", redirect)
            .append_pair("scope", "openid email")
            .append_pair("state", &format!("bench-state-{i}-0123456789"))
            .append_pair("code_challenge", challenge.as_str())
            .append_pair("code_challenge_method", "S256");
        let back = url::Url::parse(&browse(&provider, url.as_str(), Decision::Approve)).expect("callback");
        let code = back.query_pairs().find(|(k, _)| k == "code").expect("code").1.into_owned();
        let t = Instant::now();
        let answer: serde_json::Value = client
            .post(&token_url)
            .form(&[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", redirect),
                ("client_id", "latchkey"),
                ("code_verifier", verifier.secret()),
            ])
            .send()
            .await
            .expect("exchange")
            .json()
            .await
            .expect("json");
        let access = answer["access_token"].as_str().expect("access token");
        client.get(userinfo).bearer_auth(access).send().await.expect("userinfo").bytes().await.expect("body");
        exchange.push(t.elapsed());
    }

    // 100 concurrent token requests on an expired account: requests reaching the provider.
    provider.control("ttl", serde_json::json!({"access_token": 2})).await;
    let link = h.core.get_authorization_link("test", Some("burst"), &user).await.expect("link");
    let burst = h
        .core
        .complete_authorization(&browse(&provider, link.url.as_str(), Decision::Approve))
        .await
        .expect("ok");
    tokio::time::sleep(Duration::from_secs(3)).await;
    provider.control("requests/clear", serde_json::json!({})).await;
    let core = std::sync::Arc::new(h.core);
    let tasks: Vec<_> = (0..100)
        .map(|_| {
            let (core, id) = (core.clone(), burst.id.clone());
            tokio::spawn(async move { core.access_token(&id, Duration::from_secs(60), &Actor::User).await })
        })
        .collect();
    for t in tasks {
        t.await.expect("task").expect("token");
    }
    let reached = provider.request_paths().await.iter().filter(|p| p.as_str() == "/token").count();

    let (callback, exchange) = (median(callback), median(exchange));
    println!("sign-in, medians:");
    println!("  callback → Active (15 runs):                    {}", ms(callback));
    println!("  the provider's exchange + identity, plain (15): {}", ms(exchange));
    println!("  callback → Active beyond the provider:          {}", ms(callback.saturating_sub(exchange)));
    println!(
        "100 concurrent token requests on an expired account: {reached} request(s) reached the provider"
    );

    let (valid, refreshing, raw) = (median(valid), median(refreshing), median(raw));
    println!("token hand-out, medians (real Secret Service, test provider on 127.0.0.1):");
    println!("  valid cached token (200 runs):                  {}", ms(valid));
    println!("  token needing a refresh (40 runs):              {}", ms(refreshing));
    println!("  the provider's refresh alone, plain client (40): {}", ms(raw));
    println!("  refresh overhead beyond the provider:           {}", ms(refreshing.saturating_sub(raw)));
}
