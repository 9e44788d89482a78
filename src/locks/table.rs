//! [`LockTable`]: every public operation of the lock protocol, for the
//! command line and for Rust services alike, in one place. Each method is
//! short: it validates what it is given, settles what earlier operations
//! owe, and hands the work to the module that does it: reads to `read`,
//! plain acquire and release to `plain`, waiting to `wait`, operator
//! changes to `operator`; all writes go through `write`.
//!
//! Every operation ends by its deadline: the table's own (see
//! [`LockTable::until`]), or else its timeout from when the operation
//! starts. Until then, passing failures are retried by the one policy of
//! [`crate::db::retry`]: a lost connection, a restarting server, a deadlock
//! or a cluster write conflict, a lost compare-and-swap race. A write whose
//! reply was lost is settled before anything else happens.

use super::audit::{self, AuditInfo, AuditRecord};
use super::cache::Plain;
use super::data::{
    may_take, validate_entry, validate_row_id, validate_stored_row_id, validate_text, RowState,
};
use super::edit::{Change, Edit};
use super::guard::{AcquireOptions, Acquired, LockGuard};
use super::observe::Snapshot;
use super::operator::{self, WriteOpts};
use super::write::{Stats, Writer};
use super::{plain, read, wait};
use crate::db::retry::Policy;
use crate::db::{ConnectOptions, DbUrl, Deadline, Session};
use crate::error::{Error, Kind, Result};
use crate::liveness::{registry, Probe, Registering, Stage, ThisHost};
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
        validate_row_id(row)?;
        validate_text("lock name", name)?;
        validate_text("holder", holder)?;
        validate_entry(row, name, holder)?;
        let d = self.deadline();
        self.until(d).finish_pending().await?;
        let op = Plain {
            row,
            name,
            holder,
            acquire: true,
        };
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

    async fn release_with(
        &self,
        row: &str,
        name: &str,
        holder: &str,
        policy: Policy,
        heard: Option<&(dyn Fn(&Error) + Send + Sync)>,
    ) -> Result<()> {
        validate_row_id(row)?;
        validate_text("lock name", name)?;
        validate_text("holder", holder)?;
        let d = self.deadline();
        self.until(d).finish_pending().await?;
        let op = Plain {
            row,
            name,
            holder,
            acquire: false,
        };
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

    // ---- the holder registry (see `crate::liveness`) -------------------

    /// The same table without a deadline of its own: each operation gets
    /// its timeout (for a guard's heartbeat, which outlives any deadline).
    pub(crate) fn unbounded(&self) -> LockTable {
        LockTable {
            inner: self.inner.clone(),
            until: None,
        }
    }

    /// Registers `holder`'s interest in `name` of `row` (waiting for it, or
    /// holding it); `false` when there is no registry (migration V3 is not
    /// applied), in which case nothing is registered.
    pub(crate) async fn register(
        &self,
        who: &Registering,
        (row, name, holder): (&str, &str, &str),
        stage: Stage,
        unless_held: &[String],
    ) -> Result<bool> {
        let d = self.begin().await?;
        let mut c = self.inner.session.lease(d).await?;
        let mut c = c.with(Policy::OPERATION);
        match registry::register(&mut c, who, (holder, row, name), stage, unless_held).await {
            Ok(()) => Ok(true),
            Err(e) if matches!(e.kind(), Kind::NoTable(_)) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// The registered `holder` took `name` in `row`, with this token.
    pub(crate) async fn registered_holds(
        &self,
        (row, name, holder): (&str, &str, &str),
        fence: Option<i64>,
    ) -> Result<()> {
        let d = self.begin().await?;
        let mut c = self.inner.session.lease(d).await?;
        let done =
            registry::holds(&mut c.with(Policy::OPERATION), (holder, row, name), fence).await;
        done
    }

    /// A waiter's heartbeat: `holder`'s registration for `name` in `row`
    /// is fresh (a waiter that polls is alive, however long it waits);
    /// `false` when it is not registered.
    pub(crate) async fn beat(&self, row: &str, name: &str, holder: &str) -> Result<bool> {
        let d = self.begin().await?;
        let mut c = self.inner.session.lease(d).await?;
        let done = registry::beat(&mut c.with(Policy::OPERATION), (holder, row, name)).await;
        done
    }

    /// Forgets `holder`'s registration for `name` in `row`.
    pub(crate) async fn unregister(&self, row: &str, name: &str, holder: &str) -> Result<()> {
        let d = self.begin().await?;
        let mut c = self.inner.session.lease(d).await?;
        let done = registry::forget(&mut c.with(Policy::OPERATION), (holder, row, name)).await;
        done
    }

    /// A heartbeat of `holder`'s registration for `name` in `row`: fails
    /// with [`Kind::NotRegistered`] when there is none, and with
    /// [`Kind::NotHeld`] or [`Kind::WrongHolder`] when `holder` does not
    /// hold the lock (any more): a holder that renews a lock it lost must
    /// hear so.
    pub async fn renew(&self, row: &str, name: &str, holder: &str) -> Result<()> {
        validate_stored_row_id(row)?;
        let d = self.begin().await?;
        let mut c = self.inner.session.lease(d).await?;
        let mut c = c.with(Policy::OPERATION);
        let beat = registry::beat(&mut c, (holder, row, name)).await;
        let state = read::row(&mut c, row).await?;
        drop(c);
        match state
            .as_ref()
            .and_then(|s| s.data.locks())
            .and_then(|l| l.get(name).cloned())
        {
            None if state.is_none() => return Err(Kind::NoRow(row.into()).into()),
            None => {
                return Err(Kind::NotHeld {
                    row: row.into(),
                    name: name.into(),
                }
                .into())
            }
            Some(e) if !e.held_by(holder) => {
                return Err(Kind::WrongHolder {
                    row: row.into(),
                    name: name.into(),
                    holder: e.holder_text(),
                    wanted: holder.into(),
                }
                .into())
            }
            Some(_) => {}
        }
        match beat {
            Ok(true) => Ok(()),
            Ok(false) => Err(Kind::NotRegistered {
                row: row.into(),
                name: name.into(),
                holder: holder.into(),
            }
            .into()),
            Err(e) if matches!(e.kind(), Kind::NoTable(_)) => Err(Kind::NotRegistered {
                row: row.into(),
                name: name.into(),
                holder: holder.into(),
            }
            .into()),
            Err(e) => Err(e),
        }
    }

    /// The named rows (every row when `rows` is empty) and the holder
    /// registry, read together, with every holder judged (holders locksmith
    /// did not register asked about with `probe`, when given).
    pub async fn observe(&self, rows: &[String], probe: Option<&Probe>) -> Result<Snapshot> {
        let states = self.read_rows(rows).await?;
        let d = self.begin().await?;
        let mut c = self.inner.session.lease(d).await?;
        let registry = registry::read(&mut c.with(Policy::OPERATION), None).await?;
        drop(c);
        let now_us = registry
            .as_ref()
            .and_then(|r| r.first().map(|r| r.read_us))
            .or_else(|| states.first().map(|s| s.read_at * 1_000_000))
            .unwrap_or_default();
        Ok(Snapshot::judge(states, registry, now_us, &ThisHost::now(), probe).await)
    }

    /// Why `holder` lost `name` in `row`, as the audit trail tells it: the
    /// last change that removed it. `None` when no record says.
    pub(crate) async fn why_lost(&self, row: &str, name: &str, holder: &str) -> Option<String> {
        let records = self.history(Some(row)).await.ok()?;
        let r = records.iter().rev().find(|r| {
            r.removed_locks()
                .get(name)
                .is_some_and(|e| e.held_by(holder))
        })?;
        let evidence = r
            .evidence
            .as_ref()
            .and_then(|e| {
                serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(e.get()).ok()
            })
            .and_then(|m| m.get(name).and_then(|v| v.as_str().map(str::to_string)))
            .map(|why| format!(" ({why})"))
            .unwrap_or_default();
        let what = match r.action.as_str() {
            "release-dead" => "released as dead",
            "take-over" => "taken over",
            "release-by-holder" | "release-all" | "force-release" => "force-released",
            other => other,
        };
        Some(format!(
            "{what} by {} ({}) at {}{evidence}",
            r.os_user, r.db_user, r.at
        ))
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

    // ---- operator changes (see `operator`) -------------------------------

    /// Releases every lock `holder` holds in `row` (what a crashed holder
    /// left behind). Returns what was removed.
    pub async fn release_by_holder(
        &self,
        row: &str,
        holder: &str,
        opts: &WriteOpts,
    ) -> Result<Change> {
        self.edit(row, &Edit::Holder(holder.into()), opts).await
    }

    /// Releases the named locks, whoever holds them.
    pub async fn force_release(
        &self,
        row: &str,
        names: &[String],
        opts: &WriteOpts,
    ) -> Result<Change> {
        self.edit(row, &Edit::Names(names.to_vec()), opts).await
    }

    /// Writes `{}`: releases everything, and repairs unparsable data (the old
    /// text is returned in [`Change::replaced_raw`]).
    pub async fn release_all(&self, row: &str, opts: &WriteOpts) -> Result<Change> {
        self.edit(row, &Edit::All, opts).await
    }

    /// Adds `by` (at least 1) to the version without touching the locks, so
    /// that any writer still holding the old version can no longer commit.
    pub async fn bump(&self, row: &str, by: i64, opts: &WriteOpts) -> Result<Change> {
        self.edit(row, &Edit::Bump(by), opts).await
    }

    /// Takes `name` in `row` over for `holder` from a holder that is dead
    /// (by the registry's evidence, re-checked in the write's transaction),
    /// once `delay` has passed since a lease-based death began: an audited
    /// change (`take-over`) that removes the dead holder's entry and adds
    /// `holder`'s. Fails with [`Kind::Held`] while the holder in the way is
    /// alive, unknown or within the lock-delay, and with [`Kind::NotHeld`]
    /// when nobody holds the lock any more.
    pub async fn take_over(
        &self,
        (row, name, holder): (&str, &str, &str),
        delay: Duration,
        command: &str,
    ) -> Result<Acquired> {
        let edit = Edit::TakeOver {
            name: name.into(),
            holder: holder.into(),
            delay,
        };
        let opts = WriteOpts {
            audit: Some(AuditInfo::new(edit.action(), command.into())),
            ..WriteOpts::default()
        };
        let change = self.edit(row, &edit, &opts).await?;
        Ok(Acquired {
            changed: true,
            fence: Some(change.version_after),
        })
    }

    /// Applies an operator edit by CAS, retrying conflicts (unless
    /// `opts.expect_version` pins the version).
    pub async fn edit(&self, row: &str, edit: &Edit, opts: &WriteOpts) -> Result<Change> {
        self.editing(row, edit, opts, None).await
    }

    /// Plans an edit: reads the row and returns what [`LockTable::edit`]
    /// would change, writing nothing. Hand the plan to
    /// [`LockTable::carry_out`] once it has been looked at.
    pub async fn plan(
        &self,
        row: &str,
        edit: &Edit,
        expect_version: Option<i64>,
    ) -> Result<Change> {
        let opts = WriteOpts {
            expect_version,
            dry_run: true,
            audit: None,
        };
        self.editing(row, edit, &opts, None).await
    }

    /// Carries out a planned edit. Conflicts are retried only while the
    /// edit still removes exactly what the plan showed (the same locks from
    /// the same holders); if the row moved on in any way that matters, it
    /// fails with [`Kind::VersionMoved`] and changes nothing.
    pub async fn carry_out(&self, plan: &Change, edit: &Edit, opts: &WriteOpts) -> Result<Change> {
        self.editing(&plan.row, edit, opts, Some(plan)).await
    }

    async fn editing(
        &self,
        row: &str,
        edit: &Edit,
        opts: &WriteOpts,
        planned: Option<&Change>,
    ) -> Result<Change> {
        let d = self.deadline();
        self.until(d).finish_pending().await?;
        let (s, w) = (&self.inner.session, &self.inner.writer);
        let change = operator::edit(s, w, row, edit, opts, planned, d).await?;
        if !change.dry_run {
            for e in change.removed.iter() {
                if let Some(name) = e.name() {
                    self.forget(row, name, &e.holder_text());
                }
            }
        }
        Ok(change)
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
