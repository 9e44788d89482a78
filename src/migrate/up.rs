//! `migrate up`: look first, without the guard, so that a deploy that finds
//! nothing to do costs one round of reads; take the guard only when there is
//! something to do, look again under it, and deal with one migration at a
//! time, recording each before it starts.
//!
//! What a migration needs comes from its state ([`super::status`]): a
//! pending one is applied (through refinery, or by locksmith itself when it
//! comes before one already applied, which refinery refuses); one whose
//! tables are already there, identical, is adopted (recorded without
//! running); one whose tables are gone is re-created. Anything else (drift,
//! a half-applied migration, a divergent history) stops the run before it
//! changes anything.

use super::adapter::RefineryConn;
use super::guard::{Holder, RunGuard};
use super::schema::Quarantined;
use super::set::Versioned;
use super::set::{MigrationSet, Planned};
use super::status::{applied, check_consistent, observe, status, Action, MigrationStatus, State};
use crate::db::retry::{passing, Curve, Failure, Policy, Retry};
use crate::db::{sql, Lease};
use crate::db::{Deadline, Session};
use crate::error::{Kind, Result};
use refinery::{Runner, Target};
use std::time::Duration;

/// Options for `migrate up`.
#[derive(Clone, Debug)]
pub struct UpOptions {
    /// Stop after this version.
    pub target: Option<i32>,
    /// Only plan; change nothing.
    pub dry_run: bool,
    /// How long to wait while another run holds the migration guard.
    pub lock_timeout: Duration,
    /// How long a run's guard lives without a heartbeat (see
    /// [`super::guard`]).
    pub lease_ttl: Duration,
}

/// One migration `up` dealt with (or, for a dry run, would).
#[derive(Clone, Debug)]
pub struct Step {
    /// The migration, with the SQL it runs.
    pub migration: Planned,
    /// What was done with it.
    pub action: Action,
    /// Its state before.
    pub state: State,
    /// Why, in words (the status's detail).
    pub detail: Vec<String>,
    /// For [`Action::Restore`]: the tables renamed back.
    pub copies: Vec<Quarantined>,
}

/// What `migrate up` did (or, with `dry_run`, would do).
#[derive(Clone, Debug, Default)]
pub struct UpReport {
    /// What this run did (or planned, for a dry run), oldest first.
    pub steps: Vec<Step>,
    /// Migrations another run applied while this one waited to apply them.
    pub applied_elsewhere: Vec<String>,
    /// The highest applied version afterwards, if any.
    pub version: Option<i32>,
    /// The highest applied version before, if any.
    pub version_before: Option<i32>,
    /// The run whose guard this one took over (its heartbeat had stopped).
    pub took_over: Option<Holder>,
}

/// Applies what is pending.
pub(crate) async fn up(
    session: &Session,
    set: &MigrationSet,
    opts: &UpOptions,
    d: Deadline,
    on_wait: impl FnMut(&Holder),
) -> Result<UpReport> {
    let mut c = session.lease(d).await?;
    let seen = observe(&mut c.with(Policy::IDEMPOTENT), set, opts.lease_ttl).await?;
    let list = status(set, &seen);
    let blocked: Vec<&MigrationStatus> = list.iter().filter(|s| s.blocks()).collect();
    // What looks off without the guard may be another run midway through a
    // migration: then only a look under the guard decides.
    if opts.dry_run || !blocked.iter().all(|s| s.midway) {
        check_consistent(&list)?;
    }
    if blocked.is_empty() {
        let steps: Vec<Step> = steps(set, &list, opts.target);
        if steps.is_empty() || opts.dry_run {
            let version = seen.history.iter().map(|a| a.version).max();
            // What it would be after (for a dry run, planned): every
            // migration it would apply, adopt or restore is recorded then.
            let after = steps
                .iter()
                .map(|s| Some(s.migration.version))
                .fold(version, Ord::max);
            return Ok(UpReport {
                version: after,
                version_before: version,
                steps,
                ..UpReport::default()
            });
        }
    }
    let (mut report, took_over) = RunGuard::holding(
        &mut c,
        session,
        opts.lock_timeout,
        opts.lease_ttl,
        on_wait,
        async |c, guard| under_guard(c, guard, set, opts).await,
    )
    .await?;
    report.took_over = took_over;
    Ok(report)
}

/// What is to be done (up to `target`), and the version applied now.
/// Fails, changing nothing, when any migration is in a state `up` must not
/// touch.
async fn plan(
    c: &mut Lease,
    set: &MigrationSet,
    opts: &UpOptions,
) -> Result<(Vec<Step>, Option<i32>)> {
    let seen = observe(&mut c.with(Policy::IDEMPOTENT), set, opts.lease_ttl).await?;
    let list = status(set, &seen);
    check_consistent(&list)?;
    Ok((
        steps(set, &list, opts.target),
        seen.history.iter().map(|a| a.version).max(),
    ))
}

/// What `up` does, migration by migration, up to `target`.
fn steps(set: &MigrationSet, list: &[MigrationStatus], target: Option<i32>) -> Vec<Step> {
    list.iter()
        .filter(|s| target.is_none_or(|t| s.version <= t))
        .filter_map(|s| step(set, s))
        .collect()
}

fn step(set: &MigrationSet, s: &MigrationStatus) -> Option<Step> {
    Some(Step {
        migration: Planned::up(set.find(s.version)?),
        action: s.next?,
        state: s.state,
        detail: s.detail.clone(),
        copies: s.copies.clone(),
    })
}

async fn under_guard(
    c: &mut Lease,
    guard: &RunGuard,
    set: &MigrationSet,
    opts: &UpOptions,
) -> Result<UpReport> {
    // Another run may have dealt with some while we waited for the guard.
    let (steps, mut current) = plan(c, set, opts).await?;
    let mut report = UpReport {
        version_before: current,
        ..UpReport::default()
    };
    for s in steps {
        let p = &s.migration;
        let Some(m) = set.find(p.version) else {
            continue;
        };
        guard.applying(c, p.version, m.name()).await?;
        let done = match s.action {
            Action::Apply => apply_one(c, set, p, current.is_some_and(|v| v > p.version)).await,
            Action::Adopt => adopt(c, m).await.map(|()| Done::Applied),
            Action::Recreate => c
                .with(Policy::STATEMENT)
                .query_drop(&p.sql)
                .await
                .map(|()| Done::Applied),
            Action::Restore => restore(c, m, &s).await.map(|()| Done::Applied),
        };
        // Done or failed, it is not in progress any more: only a run that
        // dies leaves it recorded.
        guard.applied(c).await?;
        match done {
            Ok(Done::Applied) => report.steps.push(s.clone()),
            Ok(Done::Elsewhere) => report.applied_elsewhere.push(p.label.clone()),
            Err(e) => {
                let e = super::denied(e);
                let applied = report
                    .steps
                    .iter()
                    .map(|s| s.migration.label.clone())
                    .collect();
                return Err(match e.kind() {
                    Kind::MigrationFailed {
                        migration, reason, ..
                    } => Kind::MigrationFailed {
                        migration: migration.clone(),
                        reason: reason.clone(),
                        applied,
                        left: Vec::new(),
                    }
                    .into(),
                    Kind::NoAccess { .. } => e,
                    _ => Kind::MigrationFailed {
                        migration: p.label.clone(),
                        reason: e.to_string(),
                        applied,
                        left: Vec::new(),
                    }
                    .into(),
                });
            }
        }
        current = current.max(Some(p.version));
    }
    report.version = current;
    Ok(report)
}

/// Renames back the tables an interrupted `migrate down` left renamed out
/// of reach (checked, under the guard, to be the one copy of each, made as
/// the migration makes it), and records the migration if it is not.
async fn restore(c: &mut Lease, m: &Versioned, s: &Step) -> Result<()> {
    for q in &s.copies {
        c.with(Policy::STATEMENT)
            .query_drop(&q.restore_sql())
            .await?;
    }
    if s.state != State::Missing {
        adopt(c, m).await?;
    }
    Ok(())
}

/// Who applied a migration in the end.
enum Done {
    Applied,
    /// Its history row was there when ours failed to go in: another run
    /// (which did not honour the guard) applied it.
    Elsewhere,
}

/// Records `m` as applied, in refinery's format, without running it. The
/// history table must exist ([`sql::CREATE_HISTORY`], which is DDL and so
/// commits: never inside the caller's transaction).
pub(crate) async fn record(c: &mut Lease, m: &Versioned) -> Result<()> {
    c.exec_drop(sql::INSERT_HISTORY, history_row(m)).await
}

/// Records `m` as applied, creating the history table first if need be.
async fn adopt(c: &mut Lease, m: &Versioned) -> Result<()> {
    c.with(Policy::STATEMENT)
        .query_drop(sql::CREATE_HISTORY)
        .await?;
    record(&mut c.with(Policy::STATEMENT), m).await
}

/// The history row refinery writes for `m`.
fn history_row(m: &Versioned) -> (i32, String, String, String) {
    let now = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    (
        m.version(),
        m.name().to_string(),
        now,
        m.checksum().to_string(),
    )
}

/// How a migration is tried again when another run may have got there
/// first, or nothing of it landed: up to 10 times, 5–50 ms apart.
const APPLY: Policy = Policy {
    lost: Curve::new(5_000, 50, Some(10)),
    refused: Curve::new(5_000, 50, Some(10)),
    conflict: None,
    unresolved: None,
    says_timeout: false,
};

/// Applies one migration, with its history row: through refinery, or,
/// `out_of_order` (a later version is recorded, and refinery would call
/// this one missing), by locksmith in refinery's way. A duplicate history
/// row (1062), a cluster write conflict (1213) or a lost connection means
/// another run got there first, or nothing landed: the history, read
/// again, says which, and a migration that did not land is tried again.
async fn apply_one(
    c: &mut Lease,
    set: &MigrationSet,
    p: &Planned,
    out_of_order: bool,
) -> Result<Done> {
    let d = c.deadline();
    let failed = |reason: String| -> crate::Error {
        Kind::MigrationFailed {
            migration: p.label.clone(),
            reason,
            applied: Vec::new(),
            left: Vec::new(),
        }
        .into()
    };
    let failed = &failed;
    let result = Retry::new(d, APPLY)
        .run_with(c, |c, _| async move {
            let tried = async {
                let (code, may_pass, reason) = match try_apply(c, set, p, out_of_order).await {
                    Ok(()) => return Ok(Done::Applied),
                    Err(why) => why,
                };
                if code != Some(1062) && !may_pass {
                    return Err(Failure::from(failed(reason)));
                }
                let history = applied(&mut c.with(Policy::IDEMPOTENT)).await?;
                let recorded = set
                    .find(p.version)
                    .zip(history.iter().find(|a| a.version == p.version))
                    .is_some_and(|(m, a)| a.checksum == m.checksum().to_string());
                if recorded {
                    return Ok(Done::Elsewhere);
                }
                // Nothing of it landed: try it again.
                Err(Failure::from(crate::Error::from(Kind::Transient(reason))))
            }
            .await;
            (c, tried)
        })
        .await;
    result.map_err(|e| match e.kind() {
        Kind::Transient(reason) => failed(reason.clone()),
        _ => e,
    })
}

/// One try of [`apply_one`]; why it failed: the server's error code,
/// whether the failure may pass, and in words.
async fn try_apply(
    c: &mut Lease,
    set: &MigrationSet,
    p: &Planned,
    out_of_order: bool,
) -> std::result::Result<(), (Option<u16>, bool, String)> {
    let said = |e: &crate::Error| (e.server_code(), passing(e).is_some(), e.to_string());
    if out_of_order {
        return apply_alone(c, set, p).await.map_err(|e| said(&e));
    }
    let runner = Runner::new(set.refinery().map_err(|e| said(&e))?)
        .set_target(Target::Version(p.version))
        .set_abort_divergent(true)
        .set_abort_missing(true);
    match runner.run_async(&mut RefineryConn(c)).await {
        Ok(_) => Ok(()),
        Err(e) => Err(std::error::Error::source(&e)
            .and_then(|s| s.downcast_ref::<crate::Error>())
            .map(said)
            .unwrap_or((None, false, e.to_string()))),
    }
}

/// Runs a migration and writes its history row in one transaction, as
/// refinery does.
async fn apply_alone(c: &mut Lease, set: &MigrationSet, p: &Planned) -> Result<()> {
    let Some(m) = set.find(p.version) else {
        return Ok(());
    };
    c.with(Policy::STATEMENT)
        .query_drop(sql::CREATE_HISTORY)
        .await?;
    c.query_drop(sql::BEGIN).await?;
    let run = async {
        c.query_drop(&p.sql).await?;
        c.exec_drop(sql::INSERT_HISTORY, history_row(m)).await?;
        c.query_drop(sql::COMMIT).await
    }
    .await;
    if run.is_err() {
        let _ = c.query_drop(sql::ROLLBACK).await;
    }
    run
}
