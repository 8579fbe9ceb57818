//! The OAuth 2.0 authorization-code flow for a native app (RFC 8252): PKCE S256, a single-use
//! `state`, `iss` checked (RFC 9207), discovery with the issuer checked (RFC 8414), the token
//! endpoint and revocation with each provider's protocol details (`protocol.rs`), and the callback
//! URL's strict parsing; the device authorization grant (RFC 8628) for sessions without a browser.

pub mod callback;
pub mod device;
pub mod discovery;
pub mod loopback;
pub mod pending;
pub mod revoke;
pub mod token;
pub mod userinfo;
