//! The client's copy of the row it last wrote or read, so that an
//! uncontended acquire or release is one CAS with no read first and no JSON
//! work on the server. It is only a guess: the version check in the CAS
//! makes a stale guess a harmless conflict, after which the row is read.

use super::data::{LockData, RowState, Version};
use super::entries::{Entry, Locks};
use std::time::{Duration, Instant};

/// How long a cached copy of a row is trusted without a write or read.
const CACHE_TTL: Duration = Duration::from_secs(5);

/// A plain acquire (or release) of one lock for one holder.
#[derive(Clone, Copy)]
pub(crate) struct Plain<'a> {
    pub(crate) row: &'a str,
    pub(crate) name: &'a str,
    pub(crate) holder: &'a str,
    pub(crate) acquire: bool,
}

impl Plain<'_> {
    /// Applies this operation to `locks` in place; `false` (and `locks`
    /// untouched) where it does not apply: already held, or not held by this
    /// holder.
    pub(crate) fn apply(&self, locks: &mut Locks) -> bool {
        if self.acquire {
            if locks.contains(self.name) {
                return false;
            }
            locks.add(Entry::new(self.name, self.holder));
            true
        } else {
            match locks.get(self.name) {
                Some(e) if e.held_by(self.holder) => !locks.remove(self.name).is_empty(),
                _ => false,
            }
        }
    }
}

/// What this table last knew of one row: a CAS from it needs no read. It is
/// only a guess; the version check makes a stale guess a harmless conflict.
#[derive(Default)]
pub(crate) struct Cache {
    /// (row, version, locks at that version), and when that was learnt: a
    /// copy is trusted for [`CACHE_TTL`] only, so a row deleted and
    /// recreated (its version starting over) cannot be mistaken for it.
    known: Option<(String, i64, Locks)>,
    known_at: Option<Instant>,
    /// (row, version) our last write produced.
    last_write: Option<(String, i64)>,
}

impl Cache {
    /// Takes the cached row out, with `op` applied: the version to CAS
    /// against and the locks to write. (Taken, not copied: a large row is
    /// not cloned per operation; [`Cache::wrote`] puts it back.)
    pub(crate) fn take_next(&mut self, op: &Plain<'_>) -> Option<(i64, Locks)> {
        if self.known_at.is_none_or(|t| t.elapsed() > CACHE_TTL) {
            self.forget();
        }
        let (row, version, mut locks) = self.known.take()?;
        if row == op.row && op.apply(&mut locks) {
            Some((version, locks))
        } else {
            self.known = Some((row, version, locks));
            None
        }
    }

    /// Our write took `row` to `version`, leaving `locks` (if known).
    pub(crate) fn wrote(&mut self, row: &str, version: i64, locks: Option<Locks>) {
        self.known = locks.map(|l| (row.to_string(), version, l));
        self.known_at = Some(Instant::now());
        self.last_write = Some((row.to_string(), version));
    }

    /// A server-evaluated `op` took the row to `version`. Returns true when
    /// nobody else wrote since our previous write and nothing is cached:
    /// then a read pays off.
    pub(crate) fn applied(&mut self, op: &Plain<'_>, version: Option<i64>) -> bool {
        let Some(v) = version else {
            self.forget();
            return false;
        };
        let quiet = self
            .last_write
            .as_ref()
            .is_some_and(|(r, last)| r == op.row && *last == v - 1);
        let known = self
            .known
            .take()
            .filter(|(r, before, _)| r == op.row && *before == v - 1)
            .and_then(|(_, _, mut locks)| op.apply(&mut locks).then_some(locks));
        let want_read = quiet && known.is_none();
        self.wrote(op.row, v, known);
        want_read
    }

    /// Remembers a row as read.
    pub(crate) fn seen(&mut self, state: &RowState) {
        self.known_at = Some(Instant::now());
        // Only a sound row is worth a guess to write from.
        self.known = match (&state.data, &state.version, state.problem()) {
            (LockData::Locks(l), Version::Number(v), None) => {
                Some((state.id.clone(), *v, l.clone()))
            }
            _ => None,
        };
    }

    pub(crate) fn forget(&mut self) {
        self.known = None;
    }
}
