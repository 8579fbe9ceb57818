//! Termination deferred while a refresh is in flight: between asking the provider and storing its
//! answer, a rotated refresh token exists only in this process's memory, and dying then loses it.
//!
//! [`critical`] marks such a section; [`defer_termination`] makes SIGINT, SIGTERM and SIGHUP end the
//! process (status 128 + the signal, as a shell reports a signal's death) only once no section is
//! open. SIGPIPE needs nothing: Rust programs ignore it, so a closed pipe is an error on write, never
//! a death. SIGKILL cannot be deferred; ARCHITECTURE.md names that window.

use std::sync::atomic::{AtomicBool, AtomicI32, AtomicUsize, Ordering};

use tokio::sync::Notify;

static OPEN: AtomicUsize = AtomicUsize::new(0);
/// The termination signal received, 0 before any.
static RECEIVED: AtomicI32 = AtomicI32::new(0);
static ANNOUNCE: Notify = Notify::const_new();
/// A task took the signal through [`termination_requested`] and ends the process itself.
static TAKEN: AtomicBool = AtomicBool::new(false);

/// An open critical section; dropping it closes it.
#[must_use = "the section ends when this is dropped"]
pub struct Critical(());

/// Opens a critical section: a termination signal arriving now waits until it ends.
pub fn critical() -> Critical {
    OPEN.fetch_add(1, Ordering::SeqCst);
    Critical(())
}

impl Drop for Critical {
    fn drop(&mut self) {
        OPEN.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Whether a critical section is open in this process.
pub fn in_critical_section() -> bool {
    OPEN.load(Ordering::SeqCst) > 0
}

/// Resolves with the signal's number once a termination signal arrived (after
/// [`defer_termination`]). The caller then owns the ending: it holds a [`critical`] section while
/// it cleans up, and ends the process itself (the handler no longer does).
pub async fn termination_requested() -> i32 {
    loop {
        let announced = ANNOUNCE.notified();
        match RECEIVED.load(Ordering::SeqCst) {
            0 => announced.await,
            number => {
                TAKEN.store(true, Ordering::SeqCst);
                return number;
            }
        }
    }
}

/// Takes over SIGINT, SIGTERM and SIGHUP for the rest of the process's life. Must be called within
/// a Tokio runtime. Elsewhere than Unix it does nothing.
pub fn defer_termination() -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        for (kind, number) in
            [(SignalKind::interrupt(), 2i32), (SignalKind::terminate(), 15), (SignalKind::hangup(), 1)]
        {
            let mut stream = signal(kind)?;
            tokio::spawn(async move {
                if stream.recv().await.is_some() {
                    RECEIVED.store(number, Ordering::SeqCst);
                    ANNOUNCE.notify_waiters();
                    while in_critical_section() {
                        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
                    }
                    if !TAKEN.load(Ordering::SeqCst) {
                        std::process::exit(128 + number);
                    }
                }
            });
        }
    }
    Ok(())
}
