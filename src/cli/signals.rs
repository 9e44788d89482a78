//! What SIGINT, SIGTERM and SIGHUP do to a command: whatever it is doing
//! (a connect, a read that hangs, a wait for a lock), it stops within
//! [`GRACE`], pays back what it owes (a lock an interrupted acquire may
//! have taken), and exits with 128+N.
//!
//! Signals are caught once, for the whole run, by [`Stop::listen`]; each
//! command races its work against [`Stop::guard`], or watches
//! [`Stop::next`] itself when it forwards signals (`locks run`).

use crate::error::{Error, Kind, Result};
use std::future::Future;
use std::time::Duration;
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::watch;

/// How long a command may take to clean up after a signal.
pub(super) const GRACE: Duration = Duration::from_secs(2);

/// The signals received so far: how many, and the last one.
#[derive(Clone)]
pub(super) struct Stop {
    rx: watch::Receiver<(u32, i32)>,
    seen: u32,
}

impl Stop {
    /// Catches SIGINT, SIGTERM and SIGHUP from now on.
    pub(super) fn listen() -> Result<Stop> {
        let mut int = signal(SignalKind::interrupt())?;
        let mut term = signal(SignalKind::terminate())?;
        let mut hup = signal(SignalKind::hangup())?;
        let (tx, rx) = watch::channel((0u32, 0i32));
        tokio::spawn(async move {
            loop {
                let sig = tokio::select! {
                    Some(()) = int.recv() => libc_signal::INT,
                    Some(()) = term.recv() => libc_signal::TERM,
                    Some(()) = hup.recv() => libc_signal::HUP,
                    else => return,
                };
                tx.send_modify(|(n, last)| {
                    *n += 1;
                    *last = sig;
                });
            }
        });
        Ok(Stop { rx, seen: 0 })
    }

    /// The last signal received, if any.
    pub(super) fn received(&self) -> Option<i32> {
        let (n, sig) = *self.rx.borrow();
        (n > 0).then_some(sig)
    }

    /// Waits for the next signal this handle has not seen yet.
    pub(super) async fn next(&mut self) -> i32 {
        loop {
            let (n, sig) = *self.rx.borrow_and_update();
            if n > self.seen {
                self.seen = n;
                return sig;
            }
            if self.rx.changed().await.is_err() {
                // The listener is gone: no signal will come.
                std::future::pending::<()>().await;
            }
        }
    }

    /// Runs `f`, unless a signal comes first: then `f` is dropped (which
    /// ends whatever it was waiting for) and the result is
    /// [`Kind::Interrupted`].
    pub(super) async fn guard<T>(&self, f: impl Future<Output = Result<T>>) -> Result<T> {
        let mut me = self.clone();
        if let Some(sig) = self.received() {
            return Err(interrupted(sig, ""));
        }
        tokio::select! {
            r = f => r,
            sig = me.next() => Err(interrupted(sig, "")),
        }
    }
}

/// The error of a command ended by signal `sig`; `note` says what that
/// left behind.
pub(super) fn interrupted(sig: i32, note: &str) -> Error {
    Kind::Interrupted {
        signal: sig,
        note: note.into(),
    }
    .into()
}

/// The numbers of the signals caught.
pub(super) mod libc_signal {
    use nix::sys::signal::Signal;
    pub const INT: i32 = Signal::SIGINT as i32;
    pub const TERM: i32 = Signal::SIGTERM as i32;
    pub const HUP: i32 = Signal::SIGHUP as i32;
}
