//! Deadlines: every operation ends in time, whatever the server or the
//! network does. mysql_async has no connect, read or write timeouts of its
//! own, so every connect and every statement is raced against the time
//! left, and a whole operation (or a whole command) runs inside a deadline
//! that its retries cannot outlive.
//!
//! The deadline of the operation in progress travels with the task
//! ([`within`]); each connect and statement is bounded by the smaller of
//! that and the session's own per-statement limit.

use std::future::Future;
use std::time::{Duration, Instant};

tokio::task_local! {
    static DEADLINE: Instant;
}

/// Runs `f` with a deadline `after` from now, or the one already in force
/// if that comes sooner.
pub async fn within<F: Future>(after: Duration, f: F) -> F::Output {
    within_until(Instant::now() + after, f).await
}

/// Runs `f` with the deadline `at`, or the one already in force if that
/// comes sooner.
pub async fn within_until<F: Future>(at: Instant, f: F) -> F::Output {
    let at = current().map_or(at, |d| d.min(at));
    DEADLINE.scope(at, f).await
}

/// Runs `f` within the deadline in force, or, if there is none, with one
/// `after` from now: how a library operation bounds itself by default.
pub async fn within_or<F: Future>(after: Duration, f: F) -> F::Output {
    match current() {
        Some(_) => f.await,
        None => DEADLINE.scope(Instant::now() + after, f).await,
    }
}

/// Runs `f` with a deadline `after` from now, whatever deadline is in
/// force, even one that has passed: the grace period a clean-up gets (a
/// release owed after an interrupted acquire, a scratch row to remove).
pub async fn grace<F: Future>(after: Duration, f: F) -> F::Output {
    DEADLINE.scope(Instant::now() + after, f).await
}

/// The deadline in force, if any.
pub fn current() -> Option<Instant> {
    DEADLINE.try_with(|d| *d).ok()
}

/// Time left before the deadline in force (`None`: no deadline).
pub fn remaining() -> Option<Duration> {
    current().map(|d| d.saturating_duration_since(Instant::now()))
}

/// How long the next step may take: `limit`, or less if the deadline comes
/// sooner.
pub(crate) fn bound(limit: Duration) -> Duration {
    remaining().map_or(limit, |r| r.min(limit))
}

/// Sleeps `pause`, cut short by the deadline; `false` if the deadline has
/// passed (so there is no time for another attempt).
pub(crate) async fn pause(pause: Duration) -> bool {
    match remaining() {
        Some(left) if left.is_zero() => false,
        Some(left) => {
            tokio::time::sleep(pause.min(left)).await;
            !remaining().is_some_and(|r| r.is_zero())
        }
        None => {
            tokio::time::sleep(pause).await;
            true
        }
    }
}

/// Full-jitter exponential backoff between retries of something that failed
/// for a moment (a conflict, a lost connection, a restarting server).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Backoff {
    next: Duration,
    max: Duration,
}

impl Backoff {
    /// Starting at `first`, doubling up to `max`.
    pub(crate) fn new(first: Duration, max: Duration) -> Backoff {
        Backoff { next: first, max }
    }

    /// The next pause: uniformly random up to the current step.
    pub(crate) fn next_pause(&mut self) -> Duration {
        let step = self.next;
        self.next = (self.next * 2).min(self.max);
        step.mul_f64(fastrand::f64())
    }

    /// Waits the next pause within the deadline; `false` once it has passed.
    pub(crate) async fn wait(&mut self) -> bool {
        pause(self.next_pause()).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "current_thread")]
    async fn the_sooner_deadline_wins_and_pauses_stop_at_it() {
        assert!(current().is_none());
        within(Duration::from_secs(10), async {
            let outer = current().unwrap();
            within(Duration::from_secs(60), async {
                assert_eq!(current(), Some(outer), "a later one does not extend it");
            })
            .await;
            within(Duration::from_millis(50), async {
                assert!(current().unwrap() < outer);
                assert!(bound(Duration::from_secs(30)) <= Duration::from_millis(50));
                let t = Instant::now();
                assert!(!pause(Duration::from_secs(5)).await, "cut short");
                assert!(t.elapsed() < Duration::from_secs(1), "{:?}", t.elapsed());
            })
            .await;
            within_or(Duration::from_secs(60), async {
                assert_eq!(current(), Some(outer), "the one in force stays");
            })
            .await;
            grace(Duration::from_secs(60), async {
                assert!(current().unwrap() > outer, "a grace period stands alone");
            })
            .await;
        })
        .await;
        within_or(Duration::from_secs(5), async {
            assert!(remaining().unwrap() <= Duration::from_secs(5));
        })
        .await;
    }
}
