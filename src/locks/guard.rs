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

use super::table::LockTable;
use crate::error::Result;
use std::time::Duration;

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

    /// Releases the lock. On error the lock may still be held; it stays
    /// visible under its holder for `locks dump` and `force-release --holder`.
    pub async fn release(self) -> Result<()> {
        self.table
            .release(&self.row, &self.name, &self.holder)
            .await
    }
}

/// Owes a release if dropped while armed: the acquisition it watches was
/// cut off, and its write may have landed.
pub(super) struct CutOff<'a> {
    pub(super) table: &'a LockTable,
    pub(super) lock: Option<(&'a str, &'a str, &'a str)>,
}

impl CutOff<'_> {
    pub(super) fn disarm(&mut self) {
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
