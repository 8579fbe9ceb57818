//! `oauth::loopback::judge` must never panic on whatever bytes a connection to the sign-in listener
//! sends, and its verdicts must hold their bounds: nothing is taken past `MAX_HEAD`, and only a
//! complete GET of the callback path on a loopback `Host`, with the expected `state`, is the
//! callback.
#![no_main]

use latchkey_core::model::ConnectionId;
use latchkey_core::oauth::callback::parse;
use latchkey_core::oauth::loopback::{Expected, MAX_HEAD, Refusal, Verdict, judge};
use latchkey_core::protocol::LoopbackHost;
use libfuzzer_sys::fuzz_target;

const PORT: u16 = 5000;
const STATE: &str = "st4te";
/// Prefixes that get past the request line, or past it and the `Host`, so that the fuzzer reaches
/// the header and query checks at once.
const PREFIXES: [&[u8]; 3] = [
    b"GET /oauth/demo/callback?",
    b"GET /oauth/demo/callback?code=c&state=st4te HTTP/1.1\r\n",
    b"GET /oauth/demo/callback?code=c&state=st4te HTTP/1.1\r\nHost: 127.0.0.1:5000\r\n",
];

fn check(input: &[u8], expected: &Expected) {
    let end = input.windows(4).position(|w| w == b"\r\n\r\n");
    let within = end.is_some_and(|e| e + 4 <= MAX_HEAD);
    match judge(input, expected) {
        Verdict::Incomplete => {
            assert!(end.is_none() && input.len() < MAX_HEAD, "waited for more: {input:?}");
        }
        Verdict::Refuse(Refusal::UriTooLong | Refusal::HeadTooLarge) => {
            assert!(!within && input.len() >= MAX_HEAD, "refused as too large: {input:?}");
        }
        Verdict::Refuse(_) => assert!(within, "judged a head not yet complete: {input:?}"),
        Verdict::Callback(url) => {
            assert!(within, "a callback past the bound: {input:?}");
            assert!(input.starts_with(b"GET /oauth/demo/callback"), "{input:?}");
            assert!(url.starts_with("http://127.0.0.1:5000/oauth/demo/callback"), "{url:?}");
            let cb = parse("io.latchkey.desktop", &url).expect("the accepted URL parses");
            assert_eq!(cb.state, STATE, "{url:?}");
            assert_eq!(cb.connection.as_str(), "demo");
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let connection = ConnectionId::new("demo").expect("id");
    let expected = Expected::new(LoopbackHost::Ip, PORT, &connection, STATE);
    check(data, &expected);
    for prefix in PREFIXES {
        check(&[prefix, data].concat(), &expected);
    }
});
