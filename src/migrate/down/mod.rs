//! `migrate down`: roll back newest first with the down steps, under the
//! run guard, refusing to drop the `locks` table while a lock is held in it
//! and `locks_audit` while it holds records.
//!
//! The refusal must hold up against a lock taken at the last moment, on
//! any node of a cluster, where `LOCK TABLES` stops nobody. So a guarded
//! table is first renamed to a quarantine name (atomic, and ordered
//! cluster-wide): from then on no writer can reach it, and every write that
//! reached it before is in it. Then it is checked: if it holds anything, it
//! is renamed back and the down step refused; if not, it is dropped
//! ([`quarantine`]).
//!
//! A copy an earlier, interrupted `down` left under its quarantine name is
//! part of the table it was: `down` refuses while one holds locks or audit
//! records (unless `--force`), and drops the empty ones with their table.

mod quarantine;

use super::guard::{Holder, RunGuard};
use super::schema::{find_quarantined, held_in, Quarantined};
use super::set::{MigrationSet, Planned};
use super::status::{applied, Applied};
use crate::db::retry::Policy;
use crate::db::{sql, Lease};
use crate::db::{Deadline, Session};
use crate::error::{Kind, Remedy, Result};
use std::time::Duration;

/// How far `migrate down` goes.
#[derive(Clone, Copy, Debug)]
pub enum DownTo {
    /// Only the newest applied migration.
    One,
    /// Every applied migration above this version.
    Version(i32),
    /// Every applied migration.
    All,
}

/// Options for `migrate down`.
#[derive(Clone, Debug)]
pub struct DownOptions {
    /// How far to roll back.
    pub to: DownTo,
    /// Only plan; change nothing.
    pub dry_run: bool,
    /// Drop tables even when they still hold locks or audit records.
    pub force: bool,
    /// How long to wait while another run holds the migration guard.
    pub lock_timeout: Duration,
    /// How long a run's guard lives without a heartbeat.
    pub lease_ttl: Duration,
}

/// What `migrate down` did (or would do).
#[derive(Clone, Debug, Default)]
pub struct DownReport {
    /// Migrations rolled back (or planned), newest first.
    pub rolled_back: Vec<Planned>,
    /// The highest applied version before, if any.
    pub version_before: Option<i32>,
    /// The highest applied version afterwards, if any.
    pub version: Option<i32>,
    /// Tables an earlier, interrupted `down` had left renamed out of reach,
    /// dropped (or planned to be) with the table they were.
    pub dropped_copies: Vec<String>,
}

/// Tables whose contents the refusal protects: the locks, and the audit
/// trail (its records, and the evidence some of them rest on).
const GUARDED: [&str; 3] = ["locks", "locks_audit", "locks_audit_evidence"];

/// Rolls back, newest first.
pub(crate) async fn down(
    session: &Session,
    set: &MigrationSet,
    opts: &DownOptions,
    d: Deadline,
    on_wait: impl FnMut(&Holder),
) -> Result<DownReport> {
    let mut c = session.lease(d).await?;
    // Look (and refuse) first, without the guard.
    let (history, plan) = plan(&mut c, set, opts).await?;
    let copies = find_quarantined(&mut c.with(Policy::IDEMPOTENT)).await?;
    if !opts.force {
        refuse_copies(&copies)?;
        for p in &plan {
            refuse_if_kept(&mut c, p, &GUARDED.map(|t| (t, t))).await?;
        }
    }
    if opts.dry_run || plan.is_empty() {
        return Ok(DownReport {
            version: remaining(&history, &plan),
            version_before: history.iter().map(|a| a.version).max(),
            dropped_copies: plan
                .iter()
                .flat_map(|p| copies_dropped_by(p, &copies))
                .map(|q| q.name.clone())
                .collect(),
            rolled_back: plan,
        });
    }
    let (report, _) = RunGuard::holding(
        &mut c,
        session,
        opts.lock_timeout,
        opts.lease_ttl,
        on_wait,
        async |c, guard| under_guard(c, guard, set, opts, session.timeout()).await,
    )
    .await?;
    Ok(report)
}

/// The history, and what this down would roll back, with its SQL.
async fn plan(
    c: &mut Lease,
    set: &MigrationSet,
    opts: &DownOptions,
) -> Result<(Vec<Applied>, Vec<Planned>)> {
    let history = applied(&mut c.with(Policy::IDEMPOTENT)).await?;
    let mut newest_first: Vec<&Applied> = history.iter().collect();
    newest_first.sort_by_key(|a| std::cmp::Reverse(a.version));
    let chosen: Vec<&Applied> = match opts.to {
        DownTo::One => newest_first.into_iter().take(1).collect(),
        DownTo::Version(v) => newest_first.into_iter().filter(|a| a.version > v).collect(),
        DownTo::All => newest_first,
    };
    let mut plan = Vec::new();
    for a in &chosen {
        let label = format!("V{}__{}", a.version, a.name);
        let Some(m) = set.find(a.version) else {
            return Err(Kind::Diverged(format!(
                "cannot roll back {label}: this locksmith does not carry it (applied by a newer version?); nothing was changed"
            ))
            .into());
        };
        if m.checksum().to_string() != a.checksum && !opts.force {
            return Err(crate::Error::from(Kind::Diverged(format!(
                "cannot roll back {label}: it was applied with different contents than this locksmith carries; nothing was changed"
            )))
            .with_remedy(Remedy::ForceRollBack));
        }
        let Some(sql) = set.down_sql(a.version) else {
            return Err(Kind::Diverged(format!(
                "cannot roll back {label}: it has no down step; nothing was changed"
            ))
            .into());
        };
        plan.push(Planned {
            label,
            version: a.version,
            sql: sql.to_string(),
        });
    }
    Ok((history, plan))
}

/// The newest version still applied once `done` is rolled back.
fn remaining(history: &[Applied], done: &[Planned]) -> Option<i32> {
    history
        .iter()
        .map(|a| a.version)
        .filter(|v| !done.iter().any(|p| p.version == *v))
        .max()
}

async fn under_guard(
    c: &mut Lease,
    guard: &RunGuard,
    set: &MigrationSet,
    opts: &DownOptions,
    timeout: Duration,
) -> Result<DownReport> {
    // Waits for a table's metadata lock end on the server too, not only
    // at our statement timeout.
    c.with(Policy::IDEMPOTENT)
        .query_drop(&sql::lock_wait_timeout(timeout))
        .await?;
    let (history, plan) = plan(c, set, opts).await?;
    let copies = find_quarantined(&mut c.with(Policy::IDEMPOTENT)).await?;
    if !opts.force {
        refuse_copies(&copies)?;
    }
    let mut done: Vec<Planned> = Vec::new();
    let mut dropped_copies = Vec::new();
    for p in plan {
        guard.check()?;
        let old: Vec<&Quarantined> = copies_dropped_by(&p, &copies).collect();
        let step = match (opts.force, only_drops_guarded(&p)) {
            (false, Some(tables)) => {
                quarantine::quarantine_and_drop(c, &p, &tables, &old, timeout).await
            }
            (force, _) => {
                async {
                    if !force {
                        refuse_if_kept(c, &p, &GUARDED.map(|t| (t, t))).await?;
                    }
                    c.query_drop(&p.sql).await?;
                    quarantine::drop_copies(c, &old).await
                }
                .await
            }
        };
        step.map_err(super::denied).map_err(|e| match e.kind() {
            Kind::Refused(_) | Kind::NoAccess { .. } => e,
            Kind::MigrationFailed {
                migration,
                reason,
                left,
                ..
            } => Kind::MigrationFailed {
                migration: migration.clone(),
                reason: reason.clone(),
                applied: done.iter().map(|d| d.label.clone()).collect(),
                left: left.clone(),
            }
            .into(),
            _ => Kind::MigrationFailed {
                migration: format!("{} (down)", p.label),
                reason: first_line(&e),
                applied: done.iter().map(|d| d.label.clone()).collect(),
                left: Vec::new(),
            }
            .into(),
        })?;
        dropped_copies.extend(old.iter().map(|q| q.name.clone()));
        forget(c, &p)
            .await
            .map_err(|e| Kind::MigrationFailed {
                migration: format!("{} (down)", p.label),
                reason: format!(
                    "its down step ran, but its history row could not be removed: {}",
                    first_line(&e)
                ),
                applied: done.iter().map(|d| d.label.clone()).collect(),
                left: Vec::new(),
            })
            .map_err(|e| crate::Error::from(e).with_remedy(Remedy::RollBackAgain))?;
        done.push(p);
    }
    Ok(DownReport {
        version: remaining(&history, &done),
        version_before: history.iter().map(|a| a.version).max(),
        rolled_back: done,
        dropped_copies,
    })
}

/// What went wrong, without the hint lines under it (a failed step's
/// message says what to do itself).
fn first_line(e: &crate::Error) -> String {
    e.to_string().lines().next().unwrap_or_default().to_string()
}

/// Deletes a rolled-back migration's history row. The statement is
/// idempotent, so a connection lost on the way is simply tried again, once,
/// on a new one.
async fn forget(c: &mut Lease, p: &Planned) -> Result<()> {
    c.with(Policy::IDEMPOTENT)
        .exec_drop(sql::DELETE_HISTORY, (p.version,))
        .await
}

/// The copies a step drops with their table: those of the guarded tables
/// its down step drops.
fn copies_dropped_by<'a>(
    p: &'a Planned,
    copies: &'a [Quarantined],
) -> impl Iterator<Item = &'a Quarantined> {
    copies.iter().filter(|q| drops(p, &q.of, false))
}

/// Refuses while a copy an interrupted `down` left holds locks or audit
/// records: rolling back would leave them in a table nobody reads (or drop
/// them, with `--force`).
fn refuse_copies(copies: &[Quarantined]) -> Result<()> {
    let full: Vec<&Quarantined> = copies.iter().filter(|q| q.holds_something()).collect();
    if full.is_empty() {
        return Ok(());
    }
    let what: Vec<String> = full
        .iter()
        .map(|q| {
            format!(
                "`{}`, what an interrupted `migrate down` left of `{}`, still holds {}",
                q.name,
                q.of,
                q.holding()
            )
        })
        .collect();
    let mut e = crate::Error::from(Kind::Refused(format!(
        "refusing to roll back: {}",
        what.join("; ")
    )));
    for q in full {
        e = e.with_remedy(Remedy::ClearCopy {
            table: q.of.clone(),
            restore: q.restore_sql(),
            beside: q.beside,
        });
    }
    Err(e)
}

/// The guarded tables a down step drops, when dropping them is all it does
/// (`DROP TABLE [IF EXISTS] t, …;` statements): such a step is carried out
/// by quarantine. `None` for any other step.
fn only_drops_guarded(p: &Planned) -> Option<Vec<&'static str>> {
    let mut tables = Vec::new();
    for stmt in p.sql.split(';').map(str::trim).filter(|s| !s.is_empty()) {
        let words: Vec<String> = stmt
            .split(|c: char| c.is_whitespace() || c == ',')
            .filter(|w| !w.is_empty())
            .map(|w| w.trim_matches('`').to_ascii_lowercase())
            .collect();
        let names = match words.as_slice() {
            [d, t, i, e, rest @ ..]
                if d == "drop" && t == "table" && i == "if" && e == "exists" =>
            {
                rest
            }
            [d, t, rest @ ..] if d == "drop" && t == "table" => rest,
            _ => return None,
        };
        for n in names {
            tables.push(*GUARDED.iter().find(|g| *g == n)?);
        }
    }
    (!tables.is_empty()).then_some(tables)
}

/// Does this down step drop `table` (a `DROP TABLE` naming it), or, with
/// `columns`, lose part of what it holds (also an `ALTER TABLE` of it that
/// drops a column)?
fn drops(p: &Planned, table: &str, columns: bool) -> bool {
    let sql = p.sql.to_ascii_lowercase();
    sql.split(';').any(|stmt| {
        let words: Vec<&str> = stmt
            .split(|c: char| !c.is_alphanumeric() && c != '_')
            .filter(|w| !w.is_empty())
            .collect();
        match words.as_slice() {
            ["drop", "table", rest @ ..] => rest.contains(&table),
            ["alter", "table", t, rest @ ..] => columns && *t == table && rest.contains(&"drop"),
            _ => false,
        }
    })
}

/// Refuses to drop a table that still holds data worth keeping: `locks`
/// while any lock is held in it, `locks_audit` while it holds records.
/// `tables` pairs each guarded name with the name it has now.
async fn refuse_if_kept(c: &mut Lease, p: &Planned, tables: &[(&str, &str)]) -> Result<()> {
    for (guarded, now) in tables {
        if !drops(p, guarded, true) {
            continue;
        }
        match *guarded {
            "locks" => {
                let held = held_locks(c, now).await?;
                if !held.is_empty() {
                    return Err(crate::Error::from(Kind::Refused(format!(
                        "refusing to roll back {}: table `locks` still holds locks:\n  {}",
                        p.label,
                        held.join("\n  ")
                    )))
                    .with_remedy(Remedy::ReleaseLocksFirst));
                }
            }
            _ => {
                let r = c
                    .with(Policy::IDEMPOTENT)
                    .exec_number(&sql::count_rows(now), (), "audit trail")
                    .await;
                let n = match r {
                    Ok(n) => n.unwrap_or(0),
                    Err(e) if matches!(e.kind(), Kind::NoTable(_)) => 0,
                    Err(e) => return Err(e),
                };
                if n > 0 {
                    let what = match *guarded {
                        "locks_audit" => "audit record(s)",
                        _ => "audit record(s)' evidence",
                    };
                    return Err(crate::Error::from(Kind::Refused(format!(
                        "refusing to roll back {}: table `{guarded}` holds {n} {what}",
                        p.label
                    )))
                    .with_remedy(Remedy::ExportAuditFirst));
                }
            }
        }
    }
    Ok(())
}

/// The rows of a locks table (named `table` now) that hold something.
async fn held_locks(c: &mut Lease, table: &str) -> Result<Vec<String>> {
    let r = c
        .with(Policy::IDEMPOTENT)
        .query_rows(&sql::select_lock_data(table))
        .await;
    match r {
        Ok(rows) => held_in(rows),
        Err(e) if matches!(e.kind(), Kind::NoTable(_)) => Ok(Vec::new()),
        Err(e) => Err(e),
    }
}
