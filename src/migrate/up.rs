//! `migrate up`: look first, without the guard, so that a deploy that finds
//! nothing to do costs one read; take the guard only when something is
//! pending, look again under it, and apply one migration at a time through
//! refinery, recording each before it starts.

use super::adapter::RefineryConn;
use super::guard::{Holder, RunGuard};
use super::set::{MigrationSet, Planned};
use super::status::{applied, check_consistent, status, State};
use super::Migrator;
use crate::db::Lease;
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

/// What `migrate up` did (or, with `dry_run`, would do).
#[derive(Clone, Debug, Default)]
pub struct UpReport {
    /// Migrations applied by this run (or planned, for a dry run), oldest first.
    pub applied: Vec<Planned>,
    /// Migrations another run applied while this one waited to apply them.
    pub applied_elsewhere: Vec<String>,
    /// The highest applied version afterwards, if any.
    pub version: Option<i32>,
    /// The run whose guard this one took over (its heartbeat had stopped).
    pub took_over: Option<Holder>,
}

/// Applies what is pending.
pub(crate) async fn up(
    m: &Migrator,
    set: &MigrationSet,
    opts: &UpOptions,
    on_wait: impl FnMut(&Holder),
) -> Result<UpReport> {
    let mut c = m.session.lease().await?;
    let (pending, current) = pending(&mut c, set, opts.target).await?;
    if pending.is_empty() || opts.dry_run {
        return Ok(UpReport {
            version: current,
            applied: pending,
            ..UpReport::default()
        });
    }
    let guard = RunGuard::take(
        &mut c,
        m.session.url(),
        &m.connect,
        opts.lock_timeout,
        opts.lease_ttl,
        on_wait,
    )
    .await?;
    let result = under_guard(&mut c, &guard, set, opts).await;
    let took_over = guard.took_over.clone();
    let released = guard.release(&mut c).await;
    let mut report = result?;
    released?;
    report.took_over = took_over;
    Ok(report)
}

/// What is pending (up to `target`), and the version applied now.
async fn pending(
    c: &mut Lease,
    set: &MigrationSet,
    target: Option<i32>,
) -> Result<(Vec<Planned>, Option<i32>)> {
    let history = again!(applied(c))?;
    let list = status(set, &history);
    check_consistent(&list)?;
    let pending = set
        .migrations()
        .iter()
        .filter(|m| {
            list.iter()
                .any(|s| s.version == m.version() && s.state == State::Pending)
        })
        .filter(|m| target.is_none_or(|t| m.version() <= t))
        .map(Planned::up)
        .collect();
    Ok((pending, history.iter().map(|a| a.version).max()))
}

async fn under_guard(
    c: &mut Lease,
    guard: &RunGuard,
    set: &MigrationSet,
    opts: &UpOptions,
) -> Result<UpReport> {
    // Another run may have applied some while we waited for the guard.
    let (pending, mut current) = pending(c, set, opts.target).await?;
    let mut report = UpReport::default();
    for p in pending {
        let name = p.label.split_once("__").map_or("", |(_, n)| n).to_string();
        guard.applying(c, p.version, &name).await?;
        let done = apply_one(c, set, &p).await;
        // Done or failed, it is not in progress any more: only a run that
        // dies leaves it recorded.
        guard.applied(c).await?;
        match done {
            Ok(Done::Applied) => report.applied.push(p.clone()),
            Ok(Done::Elsewhere) => report.applied_elsewhere.push(p.label.clone()),
            Err(e) => {
                return Err(match e.kind() {
                    Kind::MigrationFailed {
                        migration, reason, ..
                    } => Kind::MigrationFailed {
                        migration: migration.clone(),
                        reason: reason.clone(),
                        applied: report.applied.iter().map(|p| p.label.clone()).collect(),
                    }
                    .into(),
                    _ => e,
                })
            }
        }
        current = Some(p.version);
    }
    report.version = current;
    Ok(report)
}

/// Who applied a migration in the end.
enum Done {
    Applied,
    /// Its history row was there when ours failed to go in: another run
    /// (which did not honour the guard) applied it.
    Elsewhere,
}

/// Applies one migration, with its history row, through refinery. A
/// duplicate history row (1062) or a cluster write conflict (1213) means
/// another run got there first, or nothing landed: the history, read again,
/// says which, and a migration that did not land is tried again.
async fn apply_one(c: &mut Lease, set: &MigrationSet, p: &Planned) -> Result<Done> {
    let mut conflicts = 0;
    loop {
        let runner = Runner::new(set.migrations())
            .set_target(Target::Version(p.version))
            .set_abort_divergent(true)
            .set_abort_missing(true);
        let e = match runner.run_async(&mut RefineryConn(c)).await {
            Ok(_) => return Ok(Done::Applied),
            Err(e) => e,
        };
        let cause = std::error::Error::source(&e)
            .and_then(|s| s.downcast_ref::<crate::Error>())
            .map(|s| (s.server_code(), s.is_transient(), s.to_string()));
        let reason = match &cause {
            Some((_, _, text)) => text.clone(),
            None => e.to_string(),
        };
        let raced = matches!(&cause, Some((Some(1062), _, _)) | Some((_, true, _)));
        if raced {
            let history = again!(applied(c))?;
            let recorded = set
                .find(p.version)
                .zip(history.iter().find(|a| a.version == p.version))
                .is_some_and(|(m, a)| a.checksum == m.checksum().to_string());
            if recorded {
                return Ok(Done::Elsewhere);
            }
            conflicts += 1;
            if conflicts < 10 {
                tokio::time::sleep(std::time::Duration::from_millis(5 * conflicts)).await;
                continue;
            }
        }
        return Err(Kind::MigrationFailed {
            migration: p.label.clone(),
            reason,
            applied: Vec::new(),
        }
        .into());
    }
}
