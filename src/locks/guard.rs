//! Acquiring with a deadline, cleaning up after an acquisition that was cut
//! off, and the guard a Rust service holds a lock by.
//!
//! Waiting is polling: the protocol has no notifications (no session state,
//! no row locks held while waiting), so a waiter re-tries with backoff and
//! jitter until its deadline, and reports what it is waiting for.
//!
//! An acquisition can be cut off after its write was sent: Ctrl-C, a
//! timeout around it, its future dropped, or a connection that broke. The
//! write may have landed. So [`LockTable::lock`] owes a release in that case
//! (unless the holder held the lock before it started), and the table pays
//! it before its next operation, or in a task spawned on the spot: a cut-off
//! `lock()` leaves nothing held.
//!
//! A [`LockGuard`] is released explicitly with the async
//! [`LockGuard::release`]. Dropping it without releasing leaves the lock held
//! in the table, exactly as a crashed process would in the seed's design:
//! [`LockTable::release_by_holder`] (or `locksmith locks force-release ROW
//! --holder H`) cleans that up.

use super::table::LockTable;
use crate::db::deadline;
use crate::error::{Error, Kind, Result};
use std::time::{Duration, Instant};

/// How long the clean-up after a cut-off acquisition may take beyond the
/// acquisition's own deadline (a little under the 2 s a command may run
/// over its deadline, so that the command itself still ends in time).
pub const CLEANUP_GRACE: Duration = Duration::from_millis(1500);

/// How to acquire.
#[derive(Clone, Debug, Default)]
pub struct AcquireOptions {
    /// How long to keep trying while the lock is busy; `None` tries once.
    pub wait: Option<Duration>,
    /// Also refuse (and wait) while any other lock matching one of these
    /// globs is held, e.g. `app_task_*`.
    pub unless_held: Vec<glob::Pattern>,
}

/// A held lock. Release it with [`LockGuard::release`]; see the module docs
/// for what dropping it means.
#[derive(Debug)]
#[must_use = "a lock that is never released stays held in the table"]
pub struct LockGuard {
    table: LockTable,
    row: String,
    name: String,
    holder: String,
    held_before: bool,
}

impl LockGuard {
    /// Whether the holder held the lock already before this acquisition
    /// (taking a lock one holds is a success that changes nothing).
    pub fn held_before(&self) -> bool {
        self.held_before
    }

    /// The row the lock lives in.
    pub fn row(&self) -> &str {
        &self.row
    }
    /// The lock's name.
    pub fn name(&self) -> &str {
        &self.name
    }
    /// Who holds it.
    pub fn holder(&self) -> &str {
        &self.holder
    }
    /// The table it was taken through.
    pub fn table(&self) -> &LockTable {
        &self.table
    }

    /// Releases the lock. On error the lock may still be held; it stays
    /// visible under its holder for `locks dump` and `force-release --holder`.
    pub async fn release(self) -> Result<()> {
        self.table
            .release(&self.row, &self.name, &self.holder)
            .await
    }
}

/// How often a waiter looks, on average (each look is one read; with
/// jitter, every 20–60 ms).
const POLL: Duration = Duration::from_millis(40);
/// After this long, a waiter looks less often, to spare the server.
const POLL_PATIENT_AFTER: Duration = Duration::from_secs(30);
const POLL_PATIENT: Duration = Duration::from_millis(250);

/// A waiter's look that starts this close to the end of its wait and is
/// cut off by the deadline ends the wait as one that ran out while the lock
/// was held (as it was at the look before), not as a lost connection: a
/// healthy server needs well under this for one look, and an outage that
/// began earlier would have shown in an earlier look.
const LAST_LOOK: Duration = Duration::from_millis(300);

/// A holder that takes again a lock it has just released waits this long
/// first, so that a waiter, which looks at least this often, gets its turn.
/// (`locks run` waits as long after its release before it exits, for the
/// same reason: a loop of them re-takes the lock within milliseconds.)
pub const YIELD: Duration = Duration::from_millis(60);

/// The pause before the next look, with jitter (0.5–1.5×), so waiters do
/// not look in lockstep.
fn poll_pause(waited: Duration) -> Duration {
    let base = if waited < POLL_PATIENT_AFTER {
        POLL
    } else {
        POLL_PATIENT
    };
    base.mul_f64(0.5 + fastrand::f64())
}

/// Owes a release if dropped while armed: the acquisition it watches was
/// cut off, and its write may have landed.
struct CutOff<'a> {
    table: &'a LockTable,
    lock: Option<(&'a str, &'a str, &'a str)>,
}

impl CutOff<'_> {
    fn disarm(&mut self) {
        self.lock = None;
    }
}

impl Drop for CutOff<'_> {
    fn drop(&mut self) {
        if let Some((row, name, holder)) = self.lock {
            self.table.release_later(row, name, holder);
        }
    }
}

// `lock` lives here, with the guard it returns and the clean-up it owes; it
// is built only on LockTable's public operations.
impl LockTable {
    /// Acquires `name` in `row` for `holder`, waiting up to `opts.wait` while
    /// it (or an `unless_held` lock) is busy, or while the server cannot be
    /// reached. `on_wait` is called with the reason each time an attempt
    /// finds the lock busy. The whole acquisition ends by `opts.wait` (or by
    /// the deadline in force, or the table's timeout, when there is no
    /// wait).
    ///
    /// If this future is dropped before it finishes, or fails with its
    /// outcome unknown, whatever it may have taken is released (see the
    /// module docs), unless `holder` held the lock before the call; that
    /// clean-up gets [`CLEANUP_GRACE`] beyond the deadline.
    pub async fn lock(
        &self,
        row: &str,
        name: &str,
        holder: &str,
        opts: &AcquireOptions,
        on_wait: impl FnMut(&Error),
    ) -> Result<LockGuard> {
        let attempt = async {
            let held_before = self.holds(row, name, holder).await?;
            let mut cut_off = CutOff {
                table: self,
                lock: (!held_before).then_some((row, name, holder)),
            };
            let result = self.lock_waiting(row, name, holder, opts, on_wait).await;
            cut_off.disarm();
            Ok::<_, Error>((held_before, result))
        };
        let started = Instant::now();
        // A wait of zero is one try, as no wait is.
        let (held_before, result) = match opts.wait.filter(|w| !w.is_zero()) {
            Some(wait) => deadline::within(wait, attempt).await?,
            None => attempt.await?,
        };
        match result {
            Ok(mut guard) => {
                guard.held_before = held_before;
                Ok(guard)
            }
            Err(e) if matches!(e.kind(), Kind::Unsettled(_)) && !held_before => {
                self.release_later(row, name, holder);
                match deadline::grace(CLEANUP_GRACE, self.finish_pending()).await {
                    Ok(()) => Err(Kind::TimedOut {
                        after: started.elapsed(),
                        what: format!(
                            "whether lock `{name}` in row `{row}` was taken could not be told in time; it is released again, nothing is left held"
                        ),
                    }
                    .into()),
                    Err(cleanup) => Err(Kind::Unsettled(format!(
                        "{e}; and could not make sure lock `{name}` in row `{row}` is not left held by {holder}: {cleanup}\nhint: check with `locksmith locks dump {row}`; `locksmith locks force-release {row} --holder '{holder}'` frees it"
                    ))
                    .into()),
                }
            }
            other => other,
        }
    }

    async fn lock_waiting(
        &self,
        row: &str,
        name: &str,
        holder: &str,
        opts: &AcquireOptions,
        mut on_wait: impl FnMut(&Error),
    ) -> Result<LockGuard> {
        let start = Instant::now();
        let deadline = opts.wait.and(deadline::current());
        // Just released by us: let a waiter have its turn first.
        if let Some(at) = self.released_at(row, name) {
            let left = YIELD.saturating_sub(at.elapsed());
            if !left.is_zero() {
                deadline::pause(left).await;
            }
        }
        // Why the last look found it busy.
        let mut busy: Option<Error> = None;
        loop {
            let looked = Instant::now();
            // Once it was busy, look (one read) before trying (a write).
            let attempt = async {
                if busy.is_some() {
                    self.may_take(row, name, holder, &opts.unless_held).await?;
                }
                self.acquire_unless(row, name, holder, &opts.unless_held)
                    .await
            };
            match attempt.await {
                Ok(()) => {
                    return Ok(LockGuard {
                        table: self.clone(),
                        row: row.into(),
                        name: name.into(),
                        holder: holder.into(),
                        held_before: false,
                    })
                }
                Err(e) if e.is_busy() => {
                    let now = Instant::now();
                    let Some(deadline) = deadline.filter(|d| *d > now) else {
                        if opts.wait.is_none() {
                            return Err(e);
                        }
                        return Err(Kind::WaitTimeout {
                            waited: now - start,
                            what: e.to_string(),
                        }
                        .into());
                    };
                    on_wait(&e);
                    busy = Some(e);
                    tokio::time::sleep(poll_pause(now - start).min(deadline - now)).await;
                }
                // The wait ran out during a look that began at its very end
                // (see LAST_LOOK); nothing of it landed (that would be
                // `Unsettled`).
                Err(e)
                    if matches!(e.kind(), Kind::TimedOut { .. } | Kind::Lost(_))
                        && busy.is_some()
                        && deadline.is_some_and(|d| {
                            Instant::now() >= d && d.saturating_duration_since(looked) < LAST_LOOK
                        }) =>
                {
                    return Err(Kind::WaitTimeout {
                        waited: start.elapsed(),
                        what: busy.map(|b| b.to_string()).unwrap_or_default(),
                    }
                    .into());
                }
                Err(e) => return Err(e),
            }
        }
    }
}
