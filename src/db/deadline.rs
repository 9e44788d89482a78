//! Deadlines: every operation ends in time, whatever the server or the
//! network does. mysql_async has no connect, read or write timeouts of its
//! own, so every connect and every statement is raced against the time
//! left, and a whole operation (or a whole command) has a [`Deadline`] that
//! its retries cannot outlive.
//!
//! A deadline is a value, passed explicitly: to each lease of a session
//! (which bounds its statements by it), to each retry loop, and to each task
//! an operation spawns. Nothing is ambient, so a spawned task (a heartbeat,
//! a clean-up) has exactly the deadline it was given.

use std::future::Future;
use std::time::{Duration, Instant};

/// The moment by which something must be done.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Deadline(Instant);

impl Deadline {
    /// `after` from now.
    pub fn after(after: Duration) -> Deadline {
        Deadline(Instant::now() + after)
    }

    /// None to speak of: for an operation bounded by its steps' own limits
    /// (each statement's timeout, a wait's own deadline) rather than as a
    /// whole.
    pub fn unbounded() -> Deadline {
        let far = Duration::from_secs(10 * 365 * 86_400);
        Deadline(
            Instant::now()
                .checked_add(far)
                .unwrap_or_else(|| Instant::now() + Duration::from_secs(86_400)),
        )
    }

    /// At `at`.
    pub fn at(at: Instant) -> Deadline {
        Deadline(at)
    }

    /// The moment itself.
    pub fn instant(self) -> Instant {
        self.0
    }

    /// The sooner of the two.
    pub fn min(self, other: Deadline) -> Deadline {
        Deadline(self.0.min(other.0))
    }

    /// This deadline, or `after` from now if that comes sooner.
    pub fn within(self, after: Duration) -> Deadline {
        self.min(Deadline::after(after))
    }

    /// Time left (zero once it has passed).
    pub fn remaining(self) -> Duration {
        self.0.saturating_duration_since(Instant::now())
    }

    /// True once it has passed.
    pub fn passed(self) -> bool {
        Instant::now() >= self.0
    }

    /// How long the next step may take: `limit`, or less if the deadline
    /// comes sooner.
    pub fn bound(self, limit: Duration) -> Duration {
        self.remaining().min(limit)
    }

    /// Sleeps `pause`, cut short by the deadline; `false` if the deadline
    /// has passed (so there is no time for another attempt).
    pub async fn pause(self, pause: Duration) -> bool {
        let left = self.remaining();
        if left.is_zero() {
            return false;
        }
        tokio::time::sleep(pause.min(left)).await;
        !self.passed()
    }

    /// Runs `f` until the deadline; `None` when the deadline came first
    /// (and `f` was dropped).
    pub async fn run<F: Future>(self, f: F) -> Option<F::Output> {
        tokio::time::timeout_at(self.0.into(), f).await.ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "current_thread")]
    async fn the_sooner_deadline_wins_and_pauses_stop_at_it() {
        let outer = Deadline::after(Duration::from_secs(10));
        assert_eq!(outer.within(Duration::from_secs(60)), outer);
        let inner = outer.within(Duration::from_millis(50));
        assert!(inner < outer);
        assert!(inner.bound(Duration::from_secs(30)) <= Duration::from_millis(50));
        let t = Instant::now();
        assert!(!inner.pause(Duration::from_secs(5)).await, "cut short");
        assert!(t.elapsed() < Duration::from_secs(1), "{:?}", t.elapsed());
        assert!(inner.passed());
        assert_eq!(inner.remaining(), Duration::ZERO);
        assert!(!inner.pause(Duration::from_millis(1)).await, "no time left");
        assert_eq!(
            inner.run(tokio::time::sleep(Duration::from_secs(5))).await,
            None
        );
        assert_eq!(outer.run(async { 7 }).await, Some(7));
    }
}
