//! [`LockTable`]'s operator changes (see `operator`): planned, audited
//! edits of a row for people, as opposed to the plain operations programs
//! use.

use super::super::edit::{Change, Edit};
use super::super::operator::{self, WriteOpts};
use super::LockTable;
use crate::error::Result;

impl LockTable {
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
    /// fails with [`crate::Kind::VersionMoved`] and changes nothing.
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
