//! `api::resolve` must never panic, and whatever it accepts stays on the base's origin (scheme,
//! host, port) under the base's path: the only place an account's token may be sent.
#![no_main]

use latchkey_core::api::resolve;
use libfuzzer_sys::fuzz_target;
use url::Url;

const BASES: [&str; 5] = [
    "https://api.example",
    "https://slack.com/api",
    "https://slack.com/api/",
    "http://127.0.0.1:8443/oidc",
    "https://[::1]:9/a/b",
];

fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else { return };
    let base = Url::parse(BASES[usize::from(pick) % BASES.len()]).expect("base");
    let input = String::from_utf8_lossy(rest);
    // A NUL splits the input into the path and one query value, so the query is fuzzed too.
    let (path, query) = match input.split_once('\0') {
        Some((p, q)) => (p, vec![("q".to_owned(), q.to_owned())]),
        None => (&*input, Vec::new()),
    };
    if let Ok(url) = resolve(&base, path, &query) {
        assert_eq!(url.scheme(), base.scheme(), "{path:?} → {url}");
        assert_eq!(url.host(), base.host(), "{path:?} → {url}");
        assert_eq!(url.port_or_known_default(), base.port_or_known_default(), "{path:?} → {url}");
        let prefix = format!("{}/", base.path().trim_end_matches('/'));
        assert!(url.path().starts_with(&prefix), "{path:?} → {url}");
        assert!(url.username().is_empty() && url.password().is_none(), "{path:?} → {url}");
        assert!(url.fragment().is_none(), "{path:?} → {url}");
        // Parsed again from its text, it is the same URL (nothing hides in how it prints).
        assert_eq!(Url::parse(url.as_str()).as_ref(), Ok(&url), "{path:?} → {url}");
    }
});
