//! Acquiring with a deadline, and the guard a Rust service holds a lock by.
//!
//! Waiting is polling: the protocol has no notifications (no session state,
//! no row locks held while waiting), so a waiter re-tries with backoff and
//! jitter until its deadline, and reports what it is waiting for.
//!
//! A [`LockGuard`] is released explicitly with the async
//! [`LockGuard::release`]. Dropping it without releasing leaves the lock held
//! in the table, exactly as a crashed process would in the seed's design:
//! `LockTable::release_by_holder` (or `locksmith locks force-release ROW
//! --holder H`) cleans that up.

use crate::error::{Error, Kind, Result};
use crate::row::LockTable;
use std::time::{Duration, Instant};

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
}

impl LockGuard {
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

    /// Releases the lock. On error the lock may still be held; it stays
    /// visible under its holder for `locks dump` and `force-release --holder`.
    pub async fn release(self) -> Result<()> {
        self.table
            .release(&self.row, &self.name, &self.holder)
            .await
    }
}

/// Polling intervals: start quick, back off to this ceiling.
const POLL_START: Duration = Duration::from_millis(20);
const POLL_MAX: Duration = Duration::from_millis(500);

impl LockTable {
    /// Acquires `name` in `row` for `holder`, waiting up to `opts.wait` while
    /// it (or an `unless_held` lock) is busy. `on_wait` is called with the
    /// reason each time an attempt finds the lock busy.
    pub async fn lock(
        &self,
        row: &str,
        name: &str,
        holder: &str,
        opts: &AcquireOptions,
        mut on_wait: impl FnMut(&Error),
    ) -> Result<LockGuard> {
        let start = Instant::now();
        let deadline = opts.wait.map(|w| start + w);
        let mut pause = POLL_START;
        loop {
            match self
                .acquire_unless(row, name, holder, &opts.unless_held)
                .await
            {
                Ok(()) => {
                    return Ok(LockGuard {
                        table: self.clone(),
                        row: row.into(),
                        name: name.into(),
                        holder: holder.into(),
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
                    let jittered = pause.mul_f64(0.5 + fastrand::f64());
                    tokio::time::sleep(jittered.min(deadline - now)).await;
                    pause = (pause * 2).min(POLL_MAX);
                }
                Err(e) => return Err(e),
            }
        }
    }
}
