//! Operator changes on a lock row, as [`LockTable`] methods: plan one
//! (read the row, work out the change, write nothing), then carry it out by
//! compare-and-swap against the row as planned, with its audit record;
//! conflicts are retried only while the change still removes what the plan
//! showed. Kept apart from the lock operations in [`super::table`], which
//! serve programs rather than people.

use super::data::{validate_stored_row_id, Version};
use super::edit::{Change, Edit};
use super::retry::{retrying, Retry};
use super::table::{exact, LockTable, WriteOpts};
use super::write::{read_with, Outcome};
use crate::error::{Kind, Result};

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
        validate_stored_row_id(row)?;
        edit.validate()?;
        self.finish_pending().await?;
        let w = self.writer();
        w.forget_cache();
        // The change whose write was sent but not answered.
        let mut sent: Option<Change> = None;
        let unknown = || {
            format!(
                "the change to row `{row}` may or may not have been made\nhint: check with `locksmith locks history {row}` and `locksmith locks dump {row}`"
            )
        };
        retrying!(self, unknown, |r| self
            .try_edit(row, edit, opts, planned, &mut sent, &mut r)
            .await)
    }

    /// One attempt of an edit; `sent` is the change whose write was sent
    /// but not answered.
    async fn try_edit(
        &self,
        row: &str,
        edit: &Edit,
        opts: &WriteOpts,
        planned: Option<&Change>,
        sent: &mut Option<Change>,
        r: &mut Retry,
    ) -> Result<Change> {
        let w = self.writer();
        loop {
            if r.unsure {
                if let Some(change) = sent.take() {
                    if w.landed(&change, opts.audit.as_ref()).await? {
                        return Ok(change);
                    }
                }
                r.unsure = false;
            }
            let mut c = w.lease().await?;
            let state = exact(read_with(&mut c, row).await?, row)?
                .ok_or_else(|| Kind::NoRow(row.into()))?;
            if let Some(expected) = opts
                .expect_version
                .filter(|v| state.version != Version::Number(*v))
            {
                return Err(Kind::VersionMoved {
                    row: row.into(),
                    expected: expected.to_string(),
                    actual: state.version.to_string(),
                }
                .into());
            }
            let mut change = edit.apply(&state)?;
            if let Some(plan) = planned.filter(|p| !change.same_effect(p)) {
                return Err(Kind::VersionMoved {
                    row: row.into(),
                    expected: plan.version_before.to_string(),
                    actual: state.version.to_string(),
                }
                .into());
            }
            if opts.dry_run || change.is_noop() {
                change.dry_run = true;
                return Ok(change);
            }
            match w
                .write_change(c, edit, &change, opts.audit.as_ref())
                .await?
            {
                Outcome::Landed => return Ok(change),
                Outcome::Unknown => {
                    *sent = Some(change);
                    r.unsure = true;
                }
                Outcome::Missed => {
                    w.count_conflict();
                    if opts.expect_version.is_some() {
                        let actual = w.read(row).await?.map(|s| s.version);
                        return Err(Kind::VersionMoved {
                            row: row.into(),
                            expected: state.version.to_string(),
                            actual: actual.map_or("(row gone)".into(), |v| v.to_string()),
                        }
                        .into());
                    }
                    if !r.conflicts.wait().await {
                        return Err(Kind::Contended(row.into()).into());
                    }
                }
            }
        }
    }
}
