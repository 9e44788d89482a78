//! `migrate mark-applied`: the operator's way out when a migration was
//! finished (or checked) by hand, after a run died halfway through it or
//! another tool made its tables differently. It records that one migration
//! as applied, with the checksum refinery would write, without running it;
//! like golang-migrate's `force` or Flyway's `repair`, but naming the exact
//! migration, under the run guard, and audited.

use super::guard::{Holder, RunGuard};
use super::schema;
use super::set::{MigrationSet, Planned};
use super::status::{observe, status, MigrationStatus, State};
use super::up::record;
use crate::db::retry::{Failure, Policy, Retry};
use crate::db::{sql, Lease};
use crate::db::{Deadline, Session};
use crate::error::{Error, Kind, Remedy, Result};
use crate::locks::audit::{self, AuditInfo};
use std::time::Duration;

/// Options for `migrate mark-applied`.
#[derive(Clone, Debug)]
pub struct MarkOptions {
    /// The migration to record.
    pub version: i32,
    /// How long to wait while another run holds the migration guard.
    pub lock_timeout: Duration,
    /// How long a run's guard lives without a heartbeat.
    pub lease_ttl: Duration,
    /// Who records it, for the audit trail.
    pub audit: AuditInfo,
    /// Record it even when nothing shows it took effect, or an earlier
    /// migration is not recorded (see [`markable`]).
    pub force: bool,
}

/// What `mark-applied` did.
#[derive(Clone, Debug)]
pub struct MarkReport {
    /// `V<n>__<name>`.
    pub migration: String,
    /// The checksum recorded (refinery's).
    pub checksum: u64,
    /// The migration's state before.
    pub state: State,
    /// Whether the audit trail has a record of it (`locks_audit` exists).
    pub audited: bool,
}

/// The migration's status, refusing one that cannot be marked: not in this
/// set, or already recorded; and, unless `force`, one whose work nothing
/// shows (it is pending: none of its tables exist, or it makes none that
/// locksmith could look at), or that comes after a migration not recorded
/// (out of order).
pub fn markable(
    set: &MigrationSet,
    list: &[MigrationStatus],
    version: i32,
    force: bool,
) -> Result<MigrationStatus> {
    if set.find(version).is_none() {
        let known: Vec<String> = set
            .migrations()
            .iter()
            .map(|m| format!("V{}", m.version()))
            .collect();
        return Err(Kind::Invalid(format!(
            "V{version} is not one of these migrations ({}); nothing was changed",
            known.join(", ")
        ))
        .into());
    }
    let Some(s) = list.iter().find(|s| s.version == version) else {
        return Err(Kind::Internal(format!("no status for V{version}")).into());
    };
    let unrecorded = matches!(
        s.state,
        State::Pending | State::PresentUnrecorded | State::Interrupted
    ) || (matches!(s.state, State::Drifted | State::Stranded)
        && s.applied_on.is_none());
    if unrecorded && !force {
        refuse_unproven(set, s)?;
        refuse_out_of_order(list, s)?;
    }
    match s.state {
        _ if unrecorded => Ok(s.clone()),
        _ => Err(Kind::Refused(format!(
            "{} is already recorded as applied{}; nothing was changed",
            s.label(),
            s.applied_on
                .as_deref()
                .map(|t| format!(" (on {t})"))
                .unwrap_or_default()
        ))
        .into()),
    }
}

/// Refuses to record a migration whose work nothing shows: it is pending
/// (its tables absent, or none that locksmith could look at), or every
/// table it makes is absent.
fn refuse_unproven(set: &MigrationSet, s: &MigrationStatus) -> Result<()> {
    let makes = set
        .find(s.version)
        .map(|m| schema::tables_of(&Planned::up(m)))
        .unwrap_or_default();
    let why = if !makes.is_empty() && s.absent.len() == makes.len() {
        let absent: Vec<String> = s.absent.iter().map(|t| format!("`{t}`")).collect();
        let renamed = match s.copies.is_empty() {
            true => String::new(),
            false => " (an interrupted `migrate down` left it renamed)".into(),
        };
        format!(
            "it has not taken effect: {} {} not exist{renamed}",
            absent.join(", "),
            if absent.len() == 1 { "does" } else { "do" }
        )
    } else if s.state == State::Pending {
        "nothing shows it took effect (it makes no table locksmith can look at)".into()
    } else {
        return Ok(());
    };
    Err(Error::from(Kind::Refused(format!(
        "refusing to record {} as applied: {why}; nothing was changed",
        s.label()
    )))
    .with_remedy(Remedy::ApplyOrForce {
        renamed: !s.copies.is_empty(),
    }))
}

/// Refuses to record a migration while one before it is not recorded:
/// refinery would then run that one after it (or call it missing).
fn refuse_out_of_order(list: &[MigrationStatus], s: &MigrationStatus) -> Result<()> {
    let before: Vec<String> = list
        .iter()
        .filter(|o| o.version < s.version && o.applied_on.is_none())
        .map(|o| format!("{} is {}", o.label(), o.state.label()))
        .collect();
    if before.is_empty() {
        return Ok(());
    }
    Err(Error::from(Kind::Refused(format!(
        "refusing to record {} as applied out of order: {} and not recorded; nothing was changed",
        s.label(),
        before.join(", ")
    )))
    .with_remedy(Remedy::EarlierFirst))
}

/// Records the migration as applied, under the guard.
pub(crate) async fn mark_applied(
    session: &Session,
    set: &MigrationSet,
    opts: &MarkOptions,
    d: Deadline,
    on_wait: impl FnMut(&Holder),
) -> Result<MarkReport> {
    let mut c = session.lease(d).await?;
    let (report, _) = RunGuard::holding(
        &mut c,
        session,
        opts.lock_timeout,
        opts.lease_ttl,
        on_wait,
        async |c, guard| under_guard(c, guard, set, opts).await,
    )
    .await?;
    Ok(report)
}

async fn under_guard(
    c: &mut Lease,
    guard: &RunGuard,
    set: &MigrationSet,
    opts: &MarkOptions,
) -> Result<MarkReport> {
    let seen = observe(&mut c.with(Policy::IDEMPOTENT), set, opts.lease_ttl).await?;
    let s = markable(set, &status(set, &seen), opts.version, opts.force)?;
    let Some(migration) = set.find(opts.version) else {
        return Err(Kind::Internal(format!("V{} vanished", opts.version)).into());
    };
    c.with(Policy::STATEMENT)
        .query_drop(sql::CREATE_HISTORY)
        .await?;
    let audited = write(c, migration, &opts.audit, &s.label()).await?;
    guard.forget(c, opts.version).await?;
    Ok(MarkReport {
        migration: s.label(),
        checksum: migration.checksum(),
        state: s.state,
        audited,
    })
}

/// The history row and its audit record, in one transaction; `false` when
/// there is no audit table to record in. A transaction the server refused
/// for now (1213 at any statement, on a cluster) was rolled back whole, and
/// is run again whole.
async fn write(
    c: &mut Lease,
    m: &super::set::Versioned,
    a: &AuditInfo,
    label: &str,
) -> Result<bool> {
    Retry::new(c.deadline(), Policy::STATEMENT)
        .run_with(c, |c, _| async move {
            let tried = write_once(c, m, a, label).await;
            (c, tried.map_err(Failure::from))
        })
        .await
}

/// One try of [`write`].
async fn write_once(
    c: &mut Lease,
    m: &super::set::Versioned,
    a: &AuditInfo,
    label: &str,
) -> Result<bool> {
    c.query_drop(sql::BEGIN).await?;
    let done = async {
        record(c, m).await?;
        let audited = match audit::insert_marked(c, a, label).await {
            Ok(()) => true,
            Err(e) if matches!(e.kind(), Kind::NoTable(_)) => false,
            Err(e) => return Err(e),
        };
        c.query_drop(sql::COMMIT).await?;
        Ok(audited)
    }
    .await;
    if done.is_err() {
        let _ = c.query_drop(sql::ROLLBACK).await;
    }
    done
}
