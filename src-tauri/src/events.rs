//! The events the shell sends to the window: one table of names and payloads. The emitters use its
//! constants, and the bindings generator writes it out for the UI (`EVENTS` and `Events` in
//! `ui/src/lib/bindings/commands.ts`), so both sides name an event from here.

use std::marker::PhantomData;

use serde::Serialize;
use tauri::{AppHandle, Emitter, Runtime};

use crate::dto::{AccountDto, ConnectFailedDto, ConsentRequestDto};

/// An event the window listens to, and the type of its payload.
pub struct Event<P> {
    pub name: &'static str,
    payload: PhantomData<fn(P)>,
}

impl<P: Serialize + Clone> Event<P> {
    const fn new(name: &'static str) -> Self {
        Event { name, payload: PhantomData }
    }

    /// Sends it to the window, if there is one: a window made later loads everything afresh.
    pub fn emit<R: Runtime>(&self, app: &AppHandle<R>, payload: P) {
        if let Err(e) = app.emit(self.name, payload) {
            tracing::debug!("event {} not sent: {e}", self.name);
        }
    }
}

/// The event table: each constant, its name on the wire and its payload (`bindings` test).
macro_rules! events {
    ($($(#[$doc:meta])* $konst:ident = $name:literal: $payload:ty;)*) => {
        $($(#[$doc])* pub const $konst: Event<$payload> = Event::new($name);)*

        /// Each event's constant, its name and its payload's TypeScript type.
        #[cfg(test)]
        pub fn signatures(cfg: &ts_rs::Config) -> Vec<crate::bindings::EventSignature> {
            vec![$(crate::bindings::EventSignature {
                constant: stringify!($konst),
                name: $name,
                payload: crate::bindings::ts::<$payload>(cfg),
                types: {
                    let mut t = Vec::new();
                    crate::bindings::collect::<$payload>(cfg, &mut t);
                    t
                },
            }),*]
        }
    };
}

events! {
    /// The whole account list, after any change.
    ACCOUNTS_CHANGED = "accounts-changed": Vec<AccountDto>;
    /// A sign-in ended with the account connected.
    CONNECT_SUCCEEDED = "connect-succeeded": AccountDto;
    /// A sign-in ended without it.
    CONNECT_FAILED = "connect-failed": ConnectFailedDto;
    /// The connections changed (here or in another process): the window lists them again.
    CONNECTIONS_CHANGED = "connections-changed": ();
    /// A program asks the person whether it may use an account (consent.rs).
    CONSENT_REQUESTED = "consent-requested": ConsentRequestDto;
    /// That question is over (answered, timed out, or its asker left): its id.
    CONSENT_ENDED = "consent-ended": u32;
}
