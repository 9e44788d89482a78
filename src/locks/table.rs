//! [`LockTable`]: the public operations of the lock protocol, for the
//! command line and for Rust services alike. Each operation reads the row
//! when it must and writes through the `write` module, retrying conflicts
//! with jittered, bounded backoff (or, for an operator's `--expect-version`,
//! reporting them).
//!
//! Every operation ends by its deadline (the one in force, see
//! [`crate::db::deadline`], or the table's timeout). Until then, passing
//! failures are retried: a lost connection, a restarting server, a deadlock
//! or a cluster write conflict. A write whose reply was lost is settled
//! before anything else happens: a read says whether it landed, and it is
//! only repeated if it did not. Waiting for a busy lock and the
//! [`super::LockGuard`] are built on these in [`super::guard`].

use super::audit::{self, AuditInfo, AuditRecord};
use super::cache::Plain;
use super::data::{
    may_take, new_entry, validate_entry, validate_row_id, validate_stored_row_id, validate_text,
    RowState,
};
use super::retry::{retrying, Retry};
use super::write::{read_with, Outcome, Stats, Writer};
use crate::db::{ConnectOptions, DbUrl};
use crate::error::{Kind, Result};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How an operator change deals with conflicts, and whether it is recorded.
#[derive(Clone, Debug, Default)]
pub struct WriteOpts {
    /// Fail with [`Kind::VersionMoved`] unless the row is at this version;
    /// never retry.
    pub expect_version: Option<i64>,
    /// Compute and return the change, but write nothing.
    pub dry_run: bool,
    /// Record the change in `locks_audit`, in the same transaction.
    pub audit: Option<AuditInfo>,
}

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
}

struct Inner {
    w: Writer,
    /// Releases owed by [`super::LockGuard`] acquisitions that were cut off
    /// (their future dropped) after a write may have landed: (row, name,
    /// holder). Every operation finishes these first.
    pending: Mutex<Vec<(String, String, String)>>,
    /// The last lock this table released, and when: (row, name, time).
    released: Mutex<Option<(String, String, Instant)>>,
}

impl std::fmt::Debug for LockTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LockTable")
            .field("url", self.inner.w.session().url())
            .finish_non_exhaustive()
    }
}

impl LockTable {
    /// Connects (in strict mode), checking that the server answers and the
    /// `locks` table exists, with the default timeout.
    pub async fn connect(url: &DbUrl) -> Result<LockTable> {
        LockTable::connect_with(url, &ConnectOptions::default()).await
    }

    /// Connects with these options: `timeout` bounds each connect, each
    /// statement, and each operation as a whole unless a deadline is
    /// already in force; `first_node` is the node of the URL tried first.
    pub async fn connect_with(url: &DbUrl, opts: &ConnectOptions) -> Result<LockTable> {
        Ok(LockTable {
            inner: Arc::new(Inner {
                w: Writer::open(url, opts).await?,
                pending: Mutex::default(),
                released: Mutex::default(),
            }),
        })
    }

    pub(crate) fn writer(&self) -> &Writer {
        &self.inner.w
    }

    /// The node of the URL this table is connected to now.
    pub async fn node(&self) -> usize {
        self.inner.w.session().node().await
    }

    /// True when it is connected to a Galera cluster.
    pub fn is_galera(&self) -> bool {
        self.inner.w.session().is_galera()
    }

    /// The per-statement and per-operation limit this table was opened with.
    pub fn timeout(&self) -> Duration {
        self.inner.w.session().timeout()
    }

    /// What the protocol did so far.
    pub fn stats(&self) -> &Stats {
        self.inner.w.stats()
    }

    /// Finishes what cut-off acquisitions left owed, then closes the
    /// connection cleanly (once no clone is using it).
    pub async fn disconnect(self) -> Result<()> {
        let owed = self.finish_pending().await;
        self.inner.w.session().close().await?;
        owed
    }

    /// Reads one row; `None` when it does not exist.
    pub async fn read(&self, row: &str) -> Result<Option<RowState>> {
        self.finish_pending().await?;
        retrying!(self, String::new, |r| self.inner.w.read(row).await)
    }

    /// Reads every row, by id.
    pub async fn read_all(&self) -> Result<Vec<RowState>> {
        self.finish_pending().await?;
        retrying!(self, String::new, |r| self.inner.w.read_all().await)
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
        self.finish_pending().await?;
        retrying!(self, String::new, |r| self.history_once(row).await)
    }

    /// Creates the row with no locks unless it exists. Never deletes rows.
    pub async fn ensure_row(&self, row: &str) -> Result<()> {
        validate_row_id(row)?;
        self.finish_pending().await?;
        retrying!(self, String::new, |r| self.ensure_row_once(row).await)
    }

    /// Does `holder` hold `name` in `row` right now?
    pub async fn holds(&self, row: &str, name: &str, holder: &str) -> Result<bool> {
        self.finish_pending().await?;
        retrying!(self, String::new, |r| self
            .inner
            .w
            .holds(row, name, holder)
            .await)
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
    /// already holds succeeds and writes nothing.
    pub async fn acquire(&self, row: &str, name: &str, holder: &str) -> Result<()> {
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
    ) -> Result<()> {
        validate_row_id(row)?;
        validate_text("lock name", name)?;
        validate_text("holder", holder)?;
        validate_entry(row, name, holder)?;
        self.finish_pending().await?;
        let op = Plain {
            row,
            name,
            holder,
            acquire: true,
        };
        let unknown = || {
            format!(
                "lock `{name}` in row `{row}` may be held by {holder}\nhint: check with `locksmith locks dump {row}`; `locksmith locks release {row} '{name}' --holder '{holder}'` frees it"
            )
        };
        retrying!(self, unknown, |r| self
            .try_acquire(op, unless, &mut r)
            .await)
    }

    /// Releases `name` if `holder` holds it; otherwise fails, naming the real
    /// holder ([`Kind::WrongHolder`]) or saying it is not held.
    pub async fn release(&self, row: &str, name: &str, holder: &str) -> Result<()> {
        validate_row_id(row)?;
        validate_text("lock name", name)?;
        validate_text("holder", holder)?;
        self.finish_pending().await?;
        self.release_now(row, name, holder).await?;
        self.note_released(row, name);
        Ok(())
    }

    async fn release_now(&self, row: &str, name: &str, holder: &str) -> Result<()> {
        let op = Plain {
            row,
            name,
            holder,
            acquire: false,
        };
        let unknown = || {
            format!(
                "lock `{name}` in row `{row}` may still be held by {holder}\nhint: check with `locksmith locks dump {row}`; `locksmith locks release {row} '{name}' --holder '{holder}'` frees it"
            )
        };
        retrying!(self, unknown, |r| self.try_release(op, &mut r).await)
    }

    /// When this table last released `name` in `row`, if lately.
    pub(crate) fn released_at(&self, row: &str, name: &str) -> Option<Instant> {
        let last = self
            .inner
            .released
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        last.as_ref()
            .filter(|(r, n, _)| r == row && n == name)
            .map(|(_, _, at)| *at)
    }

    fn note_released(&self, row: &str, name: &str) {
        *self
            .inner
            .released
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = Some((row.into(), name.into(), Instant::now()));
    }

    /// Owes a release of `name` by `holder` in `row`: an acquisition was cut
    /// off after its write may have landed. The next operation on this
    /// table (or a task spawned now, when there is a runtime) finishes it.
    pub(crate) fn release_later(&self, row: &str, name: &str, holder: &str) {
        self.pending()
            .push((row.into(), name.into(), holder.into()));
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            let table = self.clone();
            rt.spawn(async move {
                let _ = table.finish_pending().await;
            });
        }
    }

    fn pending(&self) -> std::sync::MutexGuard<'_, Vec<(String, String, String)>> {
        self.inner.pending.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Finishes the releases owed by cut-off acquisitions (see
    /// [`super::LockGuard`]): each lock is released if its holder still
    /// holds it. What cannot be reached now stays owed.
    pub async fn finish_pending(&self) -> Result<()> {
        let owed = std::mem::take(&mut *self.pending());
        let mut first_err = None;
        for (row, name, holder) in owed {
            match self.release_now(&row, &name, &holder).await {
                Ok(()) => {}
                Err(e)
                    if matches!(
                        e.kind(),
                        Kind::NotHeld { .. } | Kind::WrongHolder { .. } | Kind::NoRow(_)
                    ) => {}
                Err(e) => {
                    self.pending().push((row, name, holder));
                    first_err.get_or_insert(e);
                }
            }
        }
        first_err.map_or(Ok(()), Err)
    }

    async fn history_once(&self, row: Option<&str>) -> Result<Vec<AuditRecord>> {
        let mut c = self.inner.w.lease().await?;
        match audit::history(&mut c, row).await {
            Err(e) => Err(super::check::missing(&mut c, e).await),
            done => done,
        }
    }

    async fn ensure_row_once(&self, row: &str) -> Result<()> {
        let mut c = self.inner.w.lease().await?;
        self.inner.w.ensure_row(&mut c, row).await
    }

    /// One attempt of [`LockTable::acquire_unless`].
    async fn try_acquire(
        &self,
        op: Plain<'_>,
        unless: &[glob::Pattern],
        r: &mut Retry,
    ) -> Result<()> {
        let (w, row, name, holder) = (&self.inner.w, op.row, op.name, op.holder);
        loop {
            // An earlier attempt's outcome first: if it landed, we are done.
            if r.unsure {
                if w.holds(row, name, holder).await? {
                    return Ok(());
                }
                r.unsure = false;
            }
            if unless.is_empty() {
                match w.plain(op).await? {
                    Outcome::Landed => return Ok(()),
                    Outcome::Unknown => {
                        r.unsure = true;
                        continue;
                    }
                    Outcome::Missed => {}
                }
            }
            if !std::mem::replace(&mut r.counted, true) {
                w.count_slow();
            }
            let mut c = w.lease().await?;
            let Some(state) = exact(read_with(&mut c, row).await?, row)? else {
                // A new row: create it, then the usual single UPDATE.
                w.ensure_row(&mut c, row).await?;
                continue;
            };
            let mut locks = state.locks_to_write()?;
            let version = state.number()?;
            if may_take(row, &locks, name, holder, unless)? {
                // Already ours: acquiring is idempotent.
                return Ok(());
            }
            locks.push(new_entry(name, holder));
            match w.cas_plain(c, &op, version, locks).await? {
                Outcome::Landed => return Ok(()),
                Outcome::Unknown => r.unsure = true,
                Outcome::Missed => {
                    w.count_conflict();
                    if !r.conflicts.wait().await {
                        return Err(Kind::Contended(row.into()).into());
                    }
                }
            }
        }
    }

    /// One attempt of a release.
    async fn try_release(&self, op: Plain<'_>, r: &mut Retry) -> Result<()> {
        let (w, row, name, holder) = (&self.inner.w, op.row, op.name, op.holder);
        loop {
            // An earlier attempt's outcome first: if it landed, we are done.
            if r.unsure {
                if !w.holds(row, name, holder).await? {
                    return Ok(());
                }
                r.unsure = false;
            }
            match w.plain(op).await? {
                Outcome::Landed => return Ok(()),
                Outcome::Unknown => {
                    r.unsure = true;
                    continue;
                }
                Outcome::Missed => {}
            }
            if !std::mem::replace(&mut r.counted, true) {
                w.count_slow();
            }
            let mut c = w.lease().await?;
            let state = exact(read_with(&mut c, row).await?, row)?
                .ok_or_else(|| Kind::NoRow(row.into()))?;
            let mut locks = state.locks_to_write()?;
            let version = state.number()?;
            match locks.get(name) {
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
            locks.remove(name);
            match w.cas_plain(c, &op, version, locks).await? {
                Outcome::Landed => return Ok(()),
                Outcome::Unknown => r.unsure = true,
                Outcome::Missed => {
                    w.count_conflict();
                    if !r.conflicts.wait().await {
                        return Err(Kind::Contended(row.into()).into());
                    }
                }
            }
        }
    }
}

/// A row read by id, which must be exactly that id: the `id` column's
/// collation ignores trailing spaces, so `WHERE id = 'plat'` also finds a
/// row `"plat "` another writer created. Such a row is not silently taken
/// for this one.
pub(super) fn exact(state: Option<RowState>, row: &str) -> Result<Option<RowState>> {
    match state {
        Some(s) if s.id != row => Err(Kind::Invalid(format!(
            "row `{row}` cannot be used: the table holds {:?}, which its collation takes for the same id; name that row exactly",
            s.id
        ))
        .into()),
        other => Ok(other),
    }
}
