//! [`LockTable`]: the public operations of the lock protocol, for the
//! command line and for Rust services alike. Each operation reads the row
//! when it must and writes through the `write` module, retrying conflicts with
//! jittered, bounded backoff (or, for an operator's `--expect-version`,
//! reporting them). Waiting with a deadline and the [`super::LockGuard`]
//! are built on these in [`super::guard`].

use super::audit::{self, AuditInfo, AuditRecord};
use super::cache::Plain;
use super::data::{holder_matches, holder_text, validate_row_id, validate_text, RowState};
use super::edit::{Change, Edit};
use super::write::{read_with, Backoff, Cas, Stats, WriteError, Writer};

use crate::db::DbUrl;
use crate::error::{Kind, Result};
use serde_json::Value;
use std::sync::{Arc, Mutex};

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
    /// `locks` table exists.
    pub async fn connect(url: &DbUrl) -> Result<LockTable> {
        Ok(LockTable {
            inner: Arc::new(Inner {
                w: Writer::open(url).await?,
                pending: Mutex::default(),
            }),
        })
    }

    pub(crate) fn writer(&self) -> &Writer {
        &self.inner.w
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
        self.inner.w.read(row).await
    }

    /// Reads every row, by id.
    pub async fn read_all(&self) -> Result<Vec<RowState>> {
        self.finish_pending().await?;
        self.inner.w.read_all().await
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
        self.finish_pending().await?;
        audit::history(&mut self.inner.w.lease().await?, row).await
    }

    /// Creates the row with no locks unless it exists. Never deletes rows.
    pub async fn ensure_row(&self, row: &str) -> Result<()> {
        validate_row_id(row)?;
        self.finish_pending().await?;
        let mut c = self.inner.w.lease().await?;
        self.inner.w.ensure_row(&mut c, row).await
    }

    /// Does `holder` hold `name` in `row` right now?
    pub async fn holds(&self, row: &str, name: &str, holder: &str) -> Result<bool> {
        self.finish_pending().await?;
        self.inner.w.holds(row, name, holder).await
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
        self.finish_pending().await?;
        let w = &self.inner.w;
        let op = Plain {
            row,
            name,
            holder,
            acquire: true,
        };
        let try_plain = || async {
            if unless.is_empty() {
                w.plain(op).await
            } else {
                Ok(false)
            }
        };
        if try_plain().await? {
            return Ok(());
        }
        w.count_slow();
        let mut backoff = Backoff::default();
        loop {
            let mut c = w.lease().await?;
            let Some(state) = read_with(&mut c, row).await? else {
                // A new row: create it, then the usual single UPDATE.
                w.ensure_row(&mut c, row).await?;
                drop(c);
                if try_plain().await? {
                    return Ok(());
                }
                continue;
            };
            let mut locks = state.locks_or_corrupt()?;
            for p in unless {
                if let Some((k, v)) = locks.iter().find(|(k, _)| *k != name && p.matches(k)) {
                    return Err(Kind::Blocked {
                        row: row.into(),
                        name: k.clone(),
                        pattern: p.as_str().into(),
                        holder: holder_text(v),
                    }
                    .into());
                }
            }
            if let Some(h) = locks.get(name) {
                if holder_matches(h, holder) {
                    // Already ours: acquiring is idempotent. (This is also
                    // how a write whose reply was lost turns out to have
                    // landed after all.)
                    return Ok(());
                }
                return Err(Kind::Held {
                    row: row.into(),
                    name: name.into(),
                    holder: holder_text(h),
                }
                .into());
            }
            locks.insert(name.into(), Value::String(holder.into()));
            if w.cas_plain(c, &op, state.version, locks).await? {
                return Ok(());
            }
            w.count_conflict();
            if !backoff.wait().await {
                return Err(Kind::Contended(row.into()).into());
            }
        }
    }

    /// Releases `name` if `holder` holds it; otherwise fails, naming the real
    /// holder ([`Kind::WrongHolder`]) or saying it is not held.
    pub async fn release(&self, row: &str, name: &str, holder: &str) -> Result<()> {
        validate_row_id(row)?;
        validate_text("lock name", name)?;
        self.finish_pending().await?;
        self.release_now(row, name, holder).await
    }

    async fn release_now(&self, row: &str, name: &str, holder: &str) -> Result<()> {
        let w = &self.inner.w;
        let op = Plain {
            row,
            name,
            holder,
            acquire: false,
        };
        if w.plain(op).await? {
            return Ok(());
        }
        w.count_slow();
        let mut backoff = Backoff::default();
        loop {
            let mut c = w.lease().await?;
            let state = read_with(&mut c, row)
                .await?
                .ok_or_else(|| Kind::NoRow(row.into()))?;
            let mut locks = state.locks_or_corrupt()?;
            match locks.get(name) {
                None => {
                    return Err(Kind::NotHeld {
                        row: row.into(),
                        name: name.into(),
                    }
                    .into())
                }
                Some(h) if !holder_matches(h, holder) => {
                    return Err(Kind::WrongHolder {
                        row: row.into(),
                        name: name.into(),
                        holder: holder_text(h),
                        wanted: holder.into(),
                    }
                    .into())
                }
                Some(_) => {}
            }
            locks.shift_remove(name);
            if w.cas_plain(c, &op, state.version, locks).await? {
                return Ok(());
            }
            w.count_conflict();
            if !backoff.wait().await {
                return Err(Kind::Contended(row.into()).into());
            }
        }
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

    /// Applies an operator edit by CAS, retrying conflicts (unless
    /// `opts.expect_version` pins the version).
    pub async fn edit(&self, row: &str, edit: &Edit, opts: &WriteOpts) -> Result<Change> {
        self.edit_from(row, edit, opts, None).await
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
        self.edit_from(row, edit, &opts, None).await
    }

    /// Carries out a planned edit. Conflicts are retried only while the
    /// edit still removes exactly what the plan showed (the same locks from
    /// the same holders); if the row moved on in any way that matters, it
    /// fails with [`Kind::VersionMoved`] and changes nothing.
    pub async fn carry_out(&self, plan: &Change, edit: &Edit, opts: &WriteOpts) -> Result<Change> {
        self.edit_from(&plan.row, edit, opts, Some(plan)).await
    }

    async fn edit_from(
        &self,
        row: &str,
        edit: &Edit,
        opts: &WriteOpts,
        planned: Option<&Change>,
    ) -> Result<Change> {
        validate_row_id(row)?;
        edit.validate()?;
        self.finish_pending().await?;
        let w = &self.inner.w;
        w.forget_cache();
        let mut backoff = Backoff::default();
        loop {
            let mut c = w.lease().await?;
            let state = read_with(&mut c, row)
                .await?
                .ok_or_else(|| Kind::NoRow(row.into()))?;
            if let Some(expected) = opts.expect_version.filter(|v| *v != state.version) {
                return Err(Kind::VersionMoved {
                    row: row.into(),
                    expected,
                    actual: state.version,
                }
                .into());
            }
            let mut change = edit.apply(&state)?;
            if let Some(plan) = planned.filter(|p| !change.same_effect(p)) {
                return Err(Kind::VersionMoved {
                    row: row.into(),
                    expected: plan.version_before,
                    actual: state.version,
                }
                .into());
            }
            if opts.dry_run {
                change.dry_run = true;
                return Ok(change);
            }
            match w.write_change(c, edit, &change, opts.audit.as_ref()).await {
                Ok(Cas::Landed) => return Ok(change),
                Ok(Cas::Conflict) => {}
                Err(WriteError::Failed(e)) => return Err(e),
                // By the time a new connection is leased, the session that
                // sent the write has been settled: this answer is final, and
                // a write that did not land can be retried.
                Err(WriteError::Ambiguous) => {
                    if w.landed(&change, opts.audit.as_ref()).await? {
                        return Ok(change);
                    }
                    if !backoff.wait().await {
                        return Err(Kind::Contended(row.into()).into());
                    }
                    continue;
                }
            }
            w.count_conflict();
            if opts.expect_version.is_some() {
                let actual = w.read(row).await?.map(|s| s.version).unwrap_or(-1);
                return Err(Kind::VersionMoved {
                    row: row.into(),
                    expected: state.version,
                    actual,
                }
                .into());
            }
            if !backoff.wait().await {
                return Err(Kind::Contended(row.into()).into());
            }
        }
    }
}
