//! The core's integration tests, in one test binary (one link, one compile of the support code).
//!
//! Two tiers. The service tier (`service`, `storage`, `providers`) runs with plain `cargo test`:
//! an in-memory keychain with fault injection and a local HTTPS stand-in for providers' hosts, no
//! D-Bus, keychain daemon, Node or display. The session tier is `#[ignore]`d with the reason
//! "needs a desktop session": the real test provider (Node), the scripted browser and the real
//! Secret Service, run by `scripts/test` inside `tests/with-session` with `--include-ignored`.
//!
//! Entry points a test runs in a child process of this binary end in `_child` (ignored, and
//! skipped with `--skip _child` when the ignored tests run).

mod support;

#[cfg(target_os = "linux")]
mod fake_https;

mod account_model;
mod api_calls;
mod consent;
mod crash_recovery;
mod device_flow;
mod grants;
mod handout_policy;
mod loopback_listener;
mod oauth_flow;
mod provider_text;
mod providers;
mod secret_service;
mod service;
mod storage;
mod token_lifecycle;
