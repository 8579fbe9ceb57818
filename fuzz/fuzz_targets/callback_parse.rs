//! `oauth::callback::parse` must never panic, whatever a browser or another app hands the deep link
//! or the loopback listener; and what it accepts must hold its invariants.
#![no_main]

use latchkey_core::oauth::callback::parse;
use libfuzzer_sys::fuzz_target;

const SCHEME: &str = "io.latchkey.desktop";
/// Prefixes that get past the scheme and path checks, so that the fuzzer reaches the query parsing
/// at once instead of having to find a valid callback URL first.
const PREFIXES: [&str; 2] =
    ["io.latchkey.desktop:/oauth/demo/callback?", "http://127.0.0.1:5000/oauth/demo/callback?"];

fn check(raw: &str) {
    if let Ok(cb) = parse(SCHEME, raw) {
        assert!(!cb.state.is_empty(), "accepted an empty state: {raw:?}");
        assert!(
            !cb.redirect_base.contains('?'),
            "redirect_base kept a query: {:?} from {raw:?}",
            cb.redirect_base
        );
    }
}

fuzz_target!(|data: &[u8]| {
    // Borrowed as is when the bytes are UTF-8; otherwise with U+FFFD for each bad sequence.
    let input = String::from_utf8_lossy(data);
    check(&input);
    for prefix in PREFIXES {
        check(&format!("{prefix}{input}"));
    }
});
