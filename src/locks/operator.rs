//! Operator changes on a lock row: plan one (read the row, work out the
//! change, write nothing), then carry it out by compare-and-swap against
//! the row as planned, with its audit record; conflicts are retried only
//! while the change still removes what the plan showed. Kept apart from the
//! plain operations in [`super::plain`], which serve programs rather than
//! people. [`super::LockTable`] offers these as its operator methods.

use super::audit::{self, AuditInfo};
use super::data::{validate_stored_row_id, Version};
use super::edit::{Change, Edit};
use super::plain::count;
use super::read;
use super::write::{Outcome, Writer};
use crate::db::retry::{Failure, Passing, Policy, Retry};
use crate::db::{Deadline, Lease, Session};
use crate::error::{Error, Kind, Pending, Result};
use crate::liveness::{judge, registry, Liveness, ThisHost};

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

/// Applies `edit` to `row` by CAS (or, with `opts.dry_run`, plans it).
/// With `planned`, conflicts are retried only while the edit still removes
/// exactly what the plan showed; otherwise it fails with
/// [`Kind::VersionMoved`] and changes nothing.
pub(super) async fn edit(
    s: &Session,
    w: &Writer,
    row: &str,
    edit: &Edit,
    opts: &WriteOpts,
    planned: Option<&Change>,
    d: Deadline,
) -> Result<Change> {
    validate_stored_row_id(row)?;
    edit.validate()?;
    w.forget_cache();
    let heard = |class: Passing, _: &Error| count(w, class);
    let retry = Retry::new(d, Policy::OPERATION)
        .pending(|| Pending::Changed { row: row.into() })
        .on_retry(&heard);
    // The change whose write was sent but not answered, handed from one
    // attempt to the next.
    retry
        .run_with(None, |mut sent, a| async move {
            let tried = attempt(s, w, (row, edit, opts, planned), d, a.unsure, &mut sent).await;
            (sent, tried)
        })
        .await
}

/// One attempt of [`edit`]: settles the write an earlier one sent (`sent`,
/// when `unsure`), then reads, plans and writes.
async fn attempt(
    s: &Session,
    w: &Writer,
    (row, edit, opts, planned): (&str, &Edit, &WriteOpts, Option<&Change>),
    d: Deadline,
    unsure: bool,
    sent: &mut Option<Change>,
) -> Result<Change, Failure> {
    let mut c = s.lease(d).await.map_err(|e| match unsure {
        true => Failure::unsure(e),
        false => Failure::from(e),
    })?;
    if let Some(change) = sent.take().filter(|_| unsure) {
        match landed(&mut c, &change, opts.audit.as_ref()).await {
            Ok(true) => return Ok(change),
            Ok(false) => {}
            Err(e) => {
                *sent = Some(change);
                return Err(Failure::unsure(e));
            }
        }
    }
    let state =
        read::exact(read::row(&mut c, row).await?, row)?.ok_or_else(|| Kind::NoRow(row.into()))?;
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
    let mut change = match edit {
        Edit::Dead(_) | Edit::TakeOver { .. } => {
            let regs = registry::read(&mut c, Some(row)).await?.unwrap_or_default();
            let now_us = regs
                .first()
                .map_or(state.read_at * 1_000_000, |r| r.read_us);
            let here = ThisHost::now();
            let verdict = |e: &super::entries::Entry| {
                let found = e.name().and_then(|n| {
                    let holder = e.holder_text();
                    regs.iter().find(|r| r.lock == n && r.holder == holder)
                });
                match (found, edit) {
                    (Some(r), _) if e.holder().get().trim_start().starts_with('"') => {
                        judge(r, now_us, &here)
                    }
                    (_, Edit::Dead(probed)) => edit.probed(e, probed),
                    _ => Liveness::unregistered(),
                }
            };
            match edit {
                Edit::TakeOver { .. } => edit.take_over(&state, verdict, now_us)?,
                _ => Edit::release_dead(&state, verdict, planned.map(|p| &p.removed))?,
            }
        }
        _ => edit.apply(&state)?,
    };
    if let Some(plan) = planned.filter(|p| !matches!(edit, Edit::Dead(_)) && !change.same_effect(p))
    {
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
        .write_change(&mut c, edit, &change, opts.audit.as_ref())
        .await?
    {
        Outcome::Landed(_) => Ok(change),
        Outcome::Unknown(e) => {
            *sent = Some(change);
            Err(Failure::unsure(e))
        }
        Outcome::Missed if opts.expect_version.is_some() => {
            let actual = read::row(&mut c, row).await?.map(|s| s.version);
            Err(Kind::VersionMoved {
                row: row.into(),
                expected: state.version.to_string(),
                actual: actual.map_or("(row gone)".into(), |v| v.to_string()),
            }
            .into())
        }
        Outcome::Missed => Err(Kind::Contended(row.into()).into()),
    }
}

/// After a dropped connection left an operator's write unresolved (its
/// session is settled by now): did it land? Audited writes are looked up
/// by op id; without a record, only a row that did not move shows for
/// certain that nothing landed.
async fn landed(c: &mut Lease, change: &Change, audit: Option<&AuditInfo>) -> Result<bool> {
    if let Some(audit) = audit {
        return audit::landed(c, &audit.op_id).await;
    }
    let row = &change.row;
    let now = read::row(c, row).await?.map(|s| s.version);
    if now.as_ref() != Some(&change.version_before) {
        return Err(Kind::Unsettled {
            pending: Pending::Changed { row: row.clone() },
            why: "the connection dropped while writing it, and the row has changed since".into(),
        }
        .into());
    }
    Ok(false)
}
