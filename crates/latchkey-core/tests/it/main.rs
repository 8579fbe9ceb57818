//! The core's integration tests, in one test binary (one link, one compile of the support code).

mod support;

#[cfg(target_os = "linux")]
mod fake_https;

mod account_model;
mod crash_recovery;
mod loopback_listener;
mod oauth_flow;
mod providers;
mod secret_service;
mod storage;
mod token_lifecycle;
