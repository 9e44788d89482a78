//! [`LockTable`]: every public operation of the lock protocol, for the
//! command line and for Rust services alike. Each method is short: it
//! validates what it is given, settles what earlier operations owe, and
//! hands the work to the module that does it: reads to `read`, plain
//! acquire and release to `plain`, waiting to `wait`, operator changes to
//! `operator`; all writes go through `write`.
//!
//! Its methods are split by what they are about, one `impl` block per
//! file: this file holds the table itself (connecting, reading, plain
//! acquire and release, the releases cut-off acquisitions owe);
//! `holders.rs` its holders' liveness (registration, renewal, observing,
//! taking over from the dead); `changes.rs` an operator's planned, audited
//! changes.
//!
//! Every operation ends by its deadline: the table's own (see
//! [`LockTable::until`]), or else its timeout from when the operation
//! starts. Until then, passing failures are retried by the one policy of
//! [`crate::db::retry`]: a lost connection, a restarting server, a deadlock
//! or a cluster write conflict, a lost compare-and-swap race. A write whose
//! reply was lost is settled before anything else happens.

mod changes;
mod holders;

use super::audit::{self, AuditRecord};
use super::cache::Plain;
use super::data::{
    may_take, validate_entry, validate_row_id, validate_stored_row_id, validate_text, RowState,
};
use super::guard::{AcquireOptions, Acquired, LockGuard};
use super::write::{Stats, Writer};
use super::{plain, read, wait};
use crate::db::retry::Policy;
use crate::db::{ConnectOptions, DbUrl, Deadline, Session};
use crate::error::{Error, Kind, Result};
use crate::liveness::registry;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The `locks` table, reached through one connection of its own.
///
/// One connection is all a lock client needs: every operation is one or two
/// statements, and a pool would only add a hand-off per operation. Cloning
/// is cheap and shares the connection (operations on clones take turns);
/// for operations in parallel, connect several tables. A connection that
/// broke is replaced on next use.
#[derive(Clone)]
pub struct LockTable {
    inner: Arc<Inner>,
    /// The deadline of every operation through this handle, if it has one
    /// (see [`LockTable::until`]).
    until: Option<Deadline>,
}

struct Inner {
    session: Session,
    writer: Writer,
    /// Releases owed by [`LockGuard`] acquisitions that were cut off (their
    /// future dropped) after a write may have landed: (row, name, holder).
    /// Every operation finishes these first.
    pending: Mutex<Vec<Owed>>,
    /// The last lock this table released, and when: (row, name, time).
    released: Mutex<Option<(String, String, Instant)>>,
    /// Locks this table took through [`LockTable::lock`] and has not
    /// released: (row, name, holder). A hint that the holder may hold a
    /// lock it asks for again (see [`AcquireOptions::check_held_first`]).
    taken: Mutex<Vec<(String, String, String)>>,
}

impl std::fmt::Debug for LockTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LockTable")
            .field("url", self.inner.session.url())
            .finish_non_exhaustive()
    }
}

impl LockTable {
    /// Connects (in strict mode), checking that the server answers and that
    /// lock writes can work on the `locks` table, with the default timeout.
    pub async fn connect(url: &DbUrl) -> Result<LockTable> {
        LockTable::connect_with(url, &ConnectOptions::default()).await
    }

    /// Connects with these options: `timeout` bounds the connect, each
    /// statement, and each operation as a whole unless the table is given a
    /// deadline ([`LockTable::until`]); `first_node` is the node of the URL
    /// tried first.
    pub async fn connect_with(url: &DbUrl, opts: &ConnectOptions) -> Result<LockTable> {
        LockTable::connect_until(url, opts, Deadline::after(opts.timeout)).await
    }

    /// Connects by `d` (and each statement within `opts.timeout`).
    pub async fn connect_until(
        url: &DbUrl,
        opts: &ConnectOptions,
        d: Deadline,
    ) -> Result<LockTable> {
        let session = Session::open(url, opts, d).await?;
        // The server answered a moment ago: a connection lost now is
        // retried (the look is a read) like any operation's.
        let mut lease = session.lease(d).await?;
        super::check::check_table(&mut lease.with(Policy::OPERATION)).await?;
        drop(lease);
        Ok(LockTable {
            inner: Arc::new(Inner {
                writer: Writer::new(session.is_mariadb()),
                session,
                pending: Mutex::default(),
                released: Mutex::default(),
                taken: Mutex::default(),
            }),
            until: None,
        })
    }

    /// The same table, whose operations all end by `d` (a command's own
    /// deadline, or a clean-up's grace) instead of each getting its timeout.
    pub fn until(&self, d: Deadline) -> LockTable {
        LockTable {
            inner: self.inner.clone(),
            until: Some(d),
        }
    }

    /// The deadline of an operation starting now.
    fn deadline(&self) -> Deadline {
        self.until
            .unwrap_or_else(|| Deadline::after(self.timeout()))
    }

    /// Starts an operation: its deadline, once what earlier ones owe is
    /// paid.
    async fn begin(&self) -> Result<Deadline> {
        let d = self.deadline();
        self.until(d).finish_pending().await?;
        Ok(d)
    }

    /// The node of the URL this table is connected to now.
    pub async fn node(&self) -> usize {
        self.inner.session.node().await
    }

    /// True when it is connected to a Galera cluster.
    pub fn is_galera(&self) -> bool {
        self.inner.session.is_galera()
    }

    /// The per-statement and per-operation limit this table was opened with.
    pub fn timeout(&self) -> Duration {
        self.inner.session.timeout()
    }

    /// What the protocol did so far.
    pub fn stats(&self) -> &Stats {
        self.inner.writer.stats()
    }

    /// The session, for the bench's writes on its scratch row.
    pub(crate) fn session(&self) -> &Session {
        &self.inner.session
    }

    /// Finishes what cut-off acquisitions left owed, then closes the
    /// connection cleanly (once no clone is using it).
    pub async fn disconnect(self) -> Result<()> {
        let owed = self.finish_pending().await;
        self.inner.session.close(self.deadline()).await?;
        owed
    }

    /// Reads one row; `None` when it does not exist.
    pub async fn read(&self, row: &str) -> Result<Option<RowState>> {
        let d = self.begin().await?;
        let mut c = self.inner.session.lease(d).await?;
        let read = read::row(&mut c.with(Policy::OPERATION), row).await;
        read
    }

    /// Reads every row, by id.
    pub async fn read_all(&self) -> Result<Vec<RowState>> {
        let d = self.begin().await?;
        let mut c = self.inner.session.lease(d).await?;
        let read = read::rows(&mut c.with(Policy::OPERATION)).await;
        read
    }

    /// Reads the named rows (every row when `rows` is empty), by id; fails
    /// with [`Kind::NoRow`] naming the first that does not exist.
    pub async fn read_rows(&self, rows: &[String]) -> Result<Vec<RowState>> {
        let mut states = self.read_all().await?;
        if rows.is_empty() {
            return Ok(states);
        }
        if let Some(missing) = rows.iter().find(|r| !states.iter().any(|s| &s.id == *r)) {
            return Err(Kind::NoRow(missing.clone()).into());
        }
        states.retain(|s| rows.contains(&s.id));
        Ok(states)
    }

    /// The audit trail, oldest first; only `row`'s records when given.
    pub async fn history(&self, row: Option<&str>) -> Result<Vec<AuditRecord>> {
        if let Some(r) = row {
            validate_stored_row_id(r)?;
        }
        let d = self.begin().await?;
        let mut c = self.inner.session.lease(d).await?;
        let read = audit::history(&mut c.with(Policy::OPERATION), row).await;
        match read {
            // Named with what an interrupted rollback left of it, if anything.
            Err(e) => Err(super::check::missing(&mut c, e).await),
            done => done,
        }
    }

    /// Creates the row with no locks unless it exists. Never deletes rows.
    pub async fn ensure_row(&self, row: &str) -> Result<()> {
        validate_row_id(row)?;
        let d = self.begin().await?;
        let mut c = self.inner.session.lease(d).await?;
        let made = self
            .inner
            .writer
            .ensure_row(&mut c.with(Policy::OPERATION), row)
            .await;
        made
    }

    /// Does `holder` hold `name` in `row` right now?
    pub async fn holds(&self, row: &str, name: &str, holder: &str) -> Result<bool> {
        let d = self.begin().await?;
        let mut c = self.inner.session.lease(d).await?;
        let read = read::holds(&mut c.with(Policy::OPERATION), row, name, holder).await;
        read
    }

    /// Whether `holder` could take `name` in `row` now (see
    /// [`super::data::may_take`]), by one read: how a waiter polls without
    /// writing.
    pub async fn may_take(
        &self,
        row: &str,
        name: &str,
        holder: &str,
        unless: &[glob::Pattern],
    ) -> Result<bool> {
        match self.read(row).await? {
            Some(state) => may_take(row, &state.locks_to_write()?, name, holder, unless),
            None => Ok(false),
        }
    }

    /// Takes `name` for `holder`; fails with [`Kind::Held`] when taken.
    /// Creates the row when it is missing. Acquiring a lock the holder
    /// already holds succeeds and writes nothing (`changed` is false).
    pub async fn acquire(&self, row: &str, name: &str, holder: &str) -> Result<Acquired> {
        self.acquire_unless(row, name, holder, &[]).await
    }

    /// Like [`LockTable::acquire`], but also refuses with [`Kind::Blocked`]
    /// while any other lock whose name matches one of `unless` is held.
    pub async fn acquire_unless(
        &self,
        row: &str,
        name: &str,
        holder: &str,
        unless: &[glob::Pattern],
    ) -> Result<Acquired> {
        let (op, d) = self.plain(row, name, holder, true).await?;
        plain::acquire(&self.inner.session, &self.inner.writer, op, unless, d).await
    }

    /// Acquires `name` in `row` for `holder`, waiting up to `opts.wait` while
    /// it (or an `unless_held` lock) is busy, or while the server cannot be
    /// reached. `on_wait` is called with the reason each time an attempt
    /// finds the lock busy. The whole acquisition ends by `opts.wait` (and
    /// by the table's deadline, if it has one; without either, by its
    /// timeout).
    ///
    /// If this future is dropped before it finishes, or fails with its
    /// outcome unknown, whatever it may have taken is released (see
    /// [`super::guard`]), unless `holder` held the lock before the call;
    /// that clean-up gets [`super::guard::CLEANUP_GRACE`] beyond the
    /// deadline.
    pub async fn lock(
        &self,
        row: &str,
        name: &str,
        holder: &str,
        opts: &AcquireOptions,
        on_wait: impl FnMut(&Error),
    ) -> Result<LockGuard> {
        let d = match (self.until, opts.wait.filter(|w| !w.is_zero())) {
            (Some(until), Some(wait)) => until.within(wait),
            (Some(until), None) => until,
            (None, Some(wait)) => Deadline::after(wait),
            (None, None) => Deadline::after(self.timeout()),
        };
        wait::lock(self, (row, name, holder), opts, d, on_wait).await
    }

    /// Releases `name` if `holder` holds it; otherwise fails, naming the real
    /// holder ([`Kind::WrongHolder`]) or saying it is not held.
    pub async fn release(&self, row: &str, name: &str, holder: &str) -> Result<()> {
        self.release_with(row, name, holder, Policy::OPERATION, None)
            .await
    }

    /// Like [`LockTable::release`], retrying patiently while the server
    /// cannot be reached (a release owed after a command ran), and telling
    /// `heard` of each failure it tries again.
    pub async fn release_patiently(
        &self,
        row: &str,
        name: &str,
        holder: &str,
        heard: &(dyn Fn(&Error) + Send + Sync),
    ) -> Result<()> {
        self.release_with(row, name, holder, Policy::RELEASE, Some(heard))
            .await
    }

    /// A plain acquire or release of checked names (and, to acquire, an
    /// entry that fits the row), and its deadline, once what an earlier
    /// cut-off write owes is settled.
    async fn plain<'a>(
        &self,
        row: &'a str,
        name: &'a str,
        holder: &'a str,
        acquire: bool,
    ) -> Result<(Plain<'a>, Deadline)> {
        validate_row_id(row)?;
        validate_text("lock name", name)?;
        validate_text("holder", holder)?;
        if acquire {
            validate_entry(row, name, holder)?;
        }
        let d = self.deadline();
        self.until(d).finish_pending().await?;
        let op = Plain {
            row,
            name,
            holder,
            acquire,
        };
        Ok((op, d))
    }

    async fn release_with(
        &self,
        row: &str,
        name: &str,
        holder: &str,
        policy: Policy,
        heard: Option<&(dyn Fn(&Error) + Send + Sync)>,
    ) -> Result<()> {
        let (op, d) = self.plain(row, name, holder, false).await?;
        plain::release(
            &self.inner.session,
            &self.inner.writer,
            op,
            d,
            policy,
            heard,
        )
        .await?;
        *lock(&self.inner.released) = Some((row.into(), name.into(), Instant::now()));
        self.forget(row, name, holder);
        Ok(())
    }

    /// Notes that this table took `name` in `row` for `holder`.
    pub(crate) fn remember(&self, row: &str, name: &str, holder: &str) {
        let mut taken = lock(&self.inner.taken);
        if !taken
            .iter()
            .any(|(r, n, h)| r == row && n == name && h == holder)
        {
            taken.push((row.into(), name.into(), holder.into()));
        }
    }

    /// Whether this table took `name` in `row` for `holder` and has not
    /// released it (as far as it knows).
    pub(crate) fn remembers(&self, row: &str, name: &str, holder: &str) -> bool {
        lock(&self.inner.taken)
            .iter()
            .any(|(r, n, h)| r == row && n == name && h == holder)
    }

    /// Forgets that this table took `name` in `row` for `holder`.
    fn forget(&self, row: &str, name: &str, holder: &str) {
        lock(&self.inner.taken).retain(|(r, n, h)| !(r == row && n == name && h == holder));
    }

    /// When this table last released `name` in `row`, if lately.
    pub(crate) fn released_at(&self, row: &str, name: &str) -> Option<Instant> {
        lock(&self.inner.released)
            .as_ref()
            .filter(|(r, n, _)| r == row && n == name)
            .map(|(_, _, at)| *at)
    }

    /// Owes a release of `name` by `holder` in `row` (and the holder's
    /// registration for it, when `registered`): an acquisition was cut off
    /// after its write may have landed. The next operation on this table
    /// (or a task spawned now, when there is a runtime, with the table's
    /// timeout) finishes it.
    pub(crate) fn release_later(&self, row: &str, name: &str, holder: &str, registered: bool) {
        lock(&self.inner.pending).push(Owed {
            row: row.into(),
            name: name.into(),
            holder: holder.into(),
            registered,
        });
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            let table = LockTable {
                inner: self.inner.clone(),
                until: None,
            };
            rt.spawn(async move {
                let _ = table.finish_pending().await;
            });
        }
    }

    /// Finishes the releases owed by cut-off acquisitions (see
    /// [`LockGuard`]): each lock is released if its holder still holds it.
    /// What cannot be reached now stays owed.
    pub async fn finish_pending(&self) -> Result<()> {
        let owed = std::mem::take(&mut *lock(&self.inner.pending));
        let mut first_err = None;
        let d = self.deadline();
        for owed in owed {
            let op = Plain {
                row: &owed.row,
                name: &owed.name,
                holder: &owed.holder,
                acquire: false,
            };
            let (s, w) = (&self.inner.session, &self.inner.writer);
            match plain::release(s, w, op, d, Policy::OPERATION, None).await {
                Ok(()) => {}
                Err(e)
                    if matches!(
                        e.kind(),
                        Kind::NotHeld { .. } | Kind::WrongHolder { .. } | Kind::NoRow(_)
                    ) => {}
                Err(e) => {
                    lock(&self.inner.pending).push(owed);
                    first_err.get_or_insert(e);
                    continue;
                }
            }
            if owed.registered {
                // Best effort: a registration without its lock holds nothing.
                if let Ok(mut c) = s.lease(d).await {
                    let who = (owed.holder.as_str(), owed.row.as_str(), owed.name.as_str());
                    let _ = registry::forget(&mut c, who).await;
                }
            }
        }
        first_err.map_or(Ok(()), Err)
    }
}

/// A release owed by a cut-off acquisition.
struct Owed {
    row: String,
    name: String,
    holder: String,
    /// The holder registered for the lock: forget that too.
    registered: bool,
}

/// A mutex that a panicking thread may have poisoned: what it guards is
/// bookkeeping, as good after a panic elsewhere as before.
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}
