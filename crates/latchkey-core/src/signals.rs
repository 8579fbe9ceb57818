//! Termination deferred while a refresh is in flight: between asking the provider and storing its
//! answer, a rotated refresh token exists only in this process's memory, and dying then loses it.
//!
//! [`critical`] marks such a section; [`defer_termination`] makes SIGINT, SIGTERM and SIGHUP end the
//! process (status 128 + the signal, as a shell reports a signal's death) only once no section is
//! open. SIGPIPE needs nothing: Rust programs ignore it, so a closed pipe is an error on write, never
//! a death. SIGKILL cannot be deferred; ARCHITECTURE.md names that window.

use std::sync::atomic::{AtomicUsize, Ordering};

static OPEN: AtomicUsize = AtomicUsize::new(0);

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

/// Takes over SIGINT, SIGTERM and SIGHUP for the rest of the process's life. Must be called within
/// a Tokio runtime. Elsewhere than Unix it does nothing.
pub fn defer_termination() -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        for (kind, number) in
            [(SignalKind::interrupt(), 2), (SignalKind::terminate(), 15), (SignalKind::hangup(), 1)]
        {
            let mut stream = signal(kind)?;
            tokio::spawn(async move {
                if stream.recv().await.is_some() {
                    while in_critical_section() {
                        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
                    }
                    std::process::exit(128 + number);
                }
            });
        }
    }
    Ok(())
}
