//! The guard a Rust service holds a lock by, and what acquiring it takes:
//! [`AcquireOptions`], and the release owed when an acquisition is cut off.
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
//! [`LockTable::release_by_holder`] cleans that up.
//!
//! A holder registered with a lease ([`AcquireOptions::register`]) is kept
//! alive by its guard: a task of the guard's own heartbeats every third of
//! the lease, and each time also checks that the lock is still the
//! holder's. When it is not (an operator released it, another holder took
//! it over after the lease ran out), [`LockGuard::lost`] completes, saying
//! who holds it now. A guard dropped without release stops heartbeating,
//! so its lease runs out and the lock's holder becomes dead.

use super::table::LockTable;
use crate::error::Result;
use crate::liveness::Registering;
use std::time::Duration;
use tokio::sync::watch;

/// How long the clean-up after a cut-off acquisition may take beyond the
/// acquisition's own deadline (a little under the 2 s a command may run
/// over its deadline, so that the command itself still ends in time).
pub const CLEANUP_GRACE: Duration = Duration::from_millis(1500);

/// A holder that takes again a lock it has just released waits this long
/// first, so that a waiter, which looks at least this often, gets its turn.
/// (`locks run` waits as long after its release before it exits, for the
/// same reason: a loop of them re-takes the lock within milliseconds.)
pub const YIELD: Duration = Duration::from_millis(60);

/// What an acquire found and did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Acquired {
    /// It wrote: the holder did not hold the lock before. (False when it
    /// held it already, which makes acquiring a success that changes
    /// nothing.)
    pub changed: bool,
    /// The row's version right after the acquire (or as found, when it
    /// held the lock already): the lock's fencing token. Every later
    /// acquire on the row gets a greater one, since every write raises the
    /// version. `None` only when an earlier attempt's write was found to
    /// have landed by a read that could not tell the version it made.
    pub fence: Option<i64>,
}

/// How to acquire.
#[derive(Clone, Debug, Default)]
pub struct AcquireOptions {
    /// How long to keep trying while the lock is busy; `None` tries once.
    pub wait: Option<Duration>,
    /// Also refuse (and wait) while any other lock matching one of these
    /// globs is held, e.g. `app_task_*`.
    pub unless_held: Vec<glob::Pattern>,
    /// Read the row first, to learn whether the holder holds the lock
    /// already, so that an acquisition cut off before it knows whether it
    /// took the lock never releases one the holder held before it began
    /// (another process using the same holder). Costs a read; without it,
    /// only this table's own record of what it took for the holder is
    /// consulted. `locks acquire` sets it.
    pub check_held_first: bool,
    /// Register the holder in the holder registry, so that others can tell
    /// whether it is alive: who it is (the process whose life the lock
    /// follows) and its lease. With a lease, the guard heartbeats it and
    /// watches for the lock being lost. `None`: not registered (its
    /// liveness is unknown to others).
    pub register: Option<Registering>,
    /// Take over a lock whose holder is dead (not unknown), through an
    /// audited change, once this long (the lock-delay) has passed since its
    /// lease expired, so that a paused holder waking up has a moment to
    /// notice. `None`: never take over.
    pub take_over_dead: Option<Duration>,
}

/// Why a lock was lost while its guard held it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lost {
    /// Who holds it now, as people read it (`None`: nobody).
    pub now_held_by: Option<String>,
    /// Why, in words: who released it and when, as the audit trail says,
    /// when it says.
    pub why: String,
}

/// The guard's heartbeat task, and what it has found.
#[derive(Debug)]
pub(super) struct Keeper {
    pub(super) task: tokio::task::JoinHandle<()>,
    pub(super) lost: watch::Receiver<Option<Lost>>,
}

impl Drop for Keeper {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A held lock. Release it with [`LockGuard::release`]; see the module docs
/// for what dropping it means.
#[derive(Debug)]
#[must_use = "a lock that is never released stays held in the table"]
pub struct LockGuard {
    pub(super) table: LockTable,
    pub(super) row: String,
    pub(super) name: String,
    pub(super) holder: String,
    pub(super) held_before: bool,
    pub(super) fence: Option<i64>,
    /// Whether the holder is in the holder registry for this lock.
    pub(super) registered: bool,
    pub(super) keeper: Option<Keeper>,
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
    /// The lock's fencing token: the row's version right after the
    /// acquire. Every later acquire on the row gets a greater one, so a
    /// store that remembers the greatest token it has seen can refuse a
    /// write from a holder that lost the lock meanwhile.
    pub fn fence(&self) -> Option<i64> {
        self.fence
    }

    /// The table it was taken through.
    pub fn table(&self) -> &LockTable {
        &self.table
    }

    /// Whether the holder is in the holder registry for this lock (it was
    /// asked for, and the registry exists).
    pub fn registered(&self) -> bool {
        self.registered
    }

    /// Completes when the lock is found lost (its heartbeat checks, every
    /// third of the lease), saying who holds it now. Never completes for a
    /// guard without a lease, which has no heartbeat.
    pub async fn lost(&self) -> Lost {
        let Some(k) = &self.keeper else {
            return std::future::pending().await;
        };
        let mut rx = k.lost.clone();
        loop {
            if let Some(l) = rx.borrow_and_update().clone() {
                return l;
            }
            if rx.changed().await.is_err() {
                // The heartbeat task is gone without finding it lost.
                return std::future::pending().await;
            }
        }
    }

    /// Whether the lock was found lost, and how, so far.
    pub fn is_lost(&self) -> Option<Lost> {
        self.keeper.as_ref().and_then(|k| k.lost.borrow().clone())
    }

    /// Stops heartbeating (the lease runs out from here), keeping the lock.
    pub fn stop_heartbeat(&mut self) {
        self.keeper = None;
    }

    /// Releases the lock, and then its holder's registration. On error the
    /// lock may still be held; it stays visible under its holder for
    /// `locks dump` and `force-release --holder`, and so does the
    /// registration that tells whether the holder is alive.
    pub async fn release(mut self) -> Result<()> {
        self.keeper = None;
        self.table
            .release(&self.row, &self.name, &self.holder)
            .await?;
        if self.registered {
            // Best effort: a registration left behind without its lock
            // holds nothing, and is written anew at the next acquire.
            let _ = self
                .table
                .unregister(&self.row, &self.name, &self.holder)
                .await;
        }
        Ok(())
    }
}

/// Owes a release if dropped while armed: the acquisition it watches was
/// cut off, and its write may have landed.
pub(super) struct CutOff<'a> {
    pub(super) table: &'a LockTable,
    pub(super) lock: Option<(&'a str, &'a str, &'a str)>,
    /// The holder registered for the lock: that is owed too.
    pub(super) registered: bool,
}

impl CutOff<'_> {
    pub(super) fn disarm(&mut self) {
        self.lock = None;
    }
}

impl Drop for CutOff<'_> {
    fn drop(&mut self) {
        if let Some((row, name, holder)) = self.lock {
            self.table.release_later(row, name, holder, self.registered);
        }
    }
}
