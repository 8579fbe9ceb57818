//! Latchkey's core: the whole domain of connected accounts, with no Tauri (and no GUI) dependency.
//! The desktop shell and the CLI are thin callers of [`Latchkey`]. See ARCHITECTURE.md.

pub mod api;
pub mod attention;
pub mod audit;
pub mod browser;
pub mod catalog;
pub mod config;
pub mod consent;
pub mod error;
pub mod http;
pub mod logging;
pub mod model;
mod names;
#[cfg(all(target_os = "linux", feature = "notifications"))]
pub mod notify;
pub mod oauth;
pub mod paths;
pub mod process_lock;
pub mod protocol;
pub mod sanitize;
pub mod secret;
pub mod service;
pub mod signals;
pub mod store;
mod toml_data;
pub mod vault;

pub use error::{Error, ErrorCode, Result};
pub use service::{
    AccessToken, AuthorizationLink, Background, CallbackError, Change, ConnectionChange, ConnectionView,
    DeviceSignIn, Hooks, Latchkey, LoopbackWait, NewConnection, Options, RevokeOutcome, StartReport,
    open_standard, run_refresher, watch_outside_changes,
};
