//! `migrate down`: roll back newest first with the down steps, under the
//! run guard, refusing to drop the `locks` table while a lock is held in it
//! and `locks_audit` while it holds records.
//!
//! The refusal must hold up against a lock taken at the last moment, on
//! any node of a cluster, where `LOCK TABLES` stops nobody. So a guarded
//! table is first renamed to a quarantine name (atomic, and ordered
//! cluster-wide): from then on no writer can reach it, and every write that
//! reached it before is in it. Then it is checked: if it holds anything, it
//! is renamed back and the down step refused; if not, it is dropped.

use super::guard::{Holder, RunGuard};
use super::set::{MigrationSet, Planned};
use super::status::{applied, Applied};
use crate::db::value::Cells;
use crate::db::{sql, Lease};
use crate::db::{ConnectOptions, Session};
use crate::error::{Kind, Result};
use crate::locks::LockData;
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
}

/// Tables whose contents the refusal protects.
const GUARDED: [&str; 2] = ["locks", "locks_audit"];

/// Rolls back, newest first.
pub(crate) async fn down(
    session: &Session,
    connect: &ConnectOptions,
    set: &MigrationSet,
    opts: &DownOptions,
    on_wait: impl FnMut(&Holder),
) -> Result<DownReport> {
    let mut c = session.lease().await?;
    // Look (and refuse) first, without the guard.
    let (history, plan) = plan(&mut c, set, opts).await?;
    if !opts.force {
        for p in &plan {
            refuse_if_kept(&mut c, p, &GUARDED.map(|t| (t, t))).await?;
        }
    }
    if opts.dry_run || plan.is_empty() {
        return Ok(DownReport {
            version: remaining(&history, &plan),
            version_before: history.iter().map(|a| a.version).max(),
            rolled_back: plan,
        });
    }
    let (report, _) = RunGuard::holding(
        &mut c,
        session.url(),
        connect,
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
    let history = again!(applied(c))?;
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
            return Err(Kind::Diverged(format!(
                "cannot roll back {label}: it was applied with different contents than this locksmith carries; nothing was changed\nhint: --force rolls it back with this locksmith's down step anyway"
            ))
            .into());
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
    c.query_drop(&sql::lock_wait_timeout(timeout)).await?;
    let (history, plan) = plan(c, set, opts).await?;
    let mut done: Vec<Planned> = Vec::new();
    for p in plan {
        guard.check()?;
        let dropped = only_drops_guarded(&p);
        let step = match (opts.force, dropped) {
            (false, Some(tables)) => quarantine_and_drop(c, &p, &tables).await,
            (force, _) => {
                async {
                    if !force {
                        refuse_if_kept(c, &p, &GUARDED.map(|t| (t, t))).await?;
                    }
                    c.query_drop(&p.sql).await
                }
                .await
            }
        };
        step.map_err(|e| match e.kind() {
            Kind::Refused(_) => e,
            _ => Kind::MigrationFailed {
                migration: format!("{} (down)", p.label),
                reason: e.to_string(),
                applied: done.iter().map(|d| d.label.clone()).collect(),
            }
            .into(),
        })?;
        again!(c.exec_drop(sql::DELETE_HISTORY, (p.version,)))?;
        done.push(p);
    }
    Ok(DownReport {
        version: remaining(&history, &done),
        version_before: history.iter().map(|a| a.version).max(),
        rolled_back: done,
    })
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

/// Does this down step drop `table`?
fn drops(p: &Planned, table: &str) -> bool {
    let sql = p.sql.to_ascii_lowercase();
    sql.contains("drop table")
        && sql
            .split(|c: char| !c.is_alphanumeric() && c != '_')
            .any(|w| w == table)
}

/// Renames each table out of every writer's reach, checks it, and drops it;
/// or, when one still holds something, renames them all back and refuses.
async fn quarantine_and_drop(c: &mut Lease, p: &Planned, tables: &[&'static str]) -> Result<()> {
    let tag = format!("{:08x}", fastrand::u32(..));
    let mut moved: Vec<(&str, String)> = Vec::new();
    for t in tables {
        let q = format!("{t}_dropping_{tag}");
        match again!(c.query_drop(&sql::rename_table(t, &q))) {
            Ok(()) => moved.push((t, q)),
            // Not there (IF EXISTS): nothing to drop.
            Err(e) if matches!(e.kind(), Kind::NoTable(_)) => {}
            Err(e) => {
                restore(c, &moved).await;
                return Err(e);
            }
        }
    }
    let checked: Vec<(&str, &str)> = moved.iter().map(|(t, q)| (*t, q.as_str())).collect();
    if let Err(e) = refuse_if_kept(c, p, &checked).await {
        restore(c, &moved).await;
        return Err(e);
    }
    for (_, q) in &moved {
        again!(c.query_drop(&sql::drop_table(q)))?;
    }
    Ok(())
}

/// Renames quarantined tables back. A failure here is said loudly: the
/// table would be left under its quarantine name.
async fn restore(c: &mut Lease, moved: &[(&str, String)]) {
    for (t, q) in moved.iter().rev() {
        if let Err(e) = again!(c.query_drop(&sql::rename_table(q, t))) {
            eprintln!(
                "locksmith: ERROR: could not rename `{q}` back to `{t}`: {e}\nlocksmith: rename it back with: RENAME TABLE `{q}` TO `{t}`"
            );
        }
    }
}

/// Refuses to drop a table that still holds data worth keeping: `locks`
/// while any lock is held in it, `locks_audit` while it holds records.
/// `tables` pairs each guarded name with the name it has now.
async fn refuse_if_kept(c: &mut Lease, p: &Planned, tables: &[(&str, &str)]) -> Result<()> {
    for (guarded, now) in tables {
        if !drops(p, guarded) {
            continue;
        }
        match *guarded {
            "locks" => {
                let held = held_locks(c, now).await?;
                if !held.is_empty() {
                    return Err(Kind::Refused(format!(
                        "refusing to roll back {}: table `locks` still holds locks:\n  {}\nhint: release them first (`locksmith locks dump`), or pass --force to drop them",
                        p.label,
                        held.join("\n  ")
                    ))
                    .into());
                }
            }
            _ => {
                let n = match c
                    .exec_number(&sql::count_rows(now), (), "locks_audit")
                    .await
                {
                    Ok(n) => n.unwrap_or(0),
                    Err(e) if matches!(e.kind(), Kind::NoTable(_)) => 0,
                    Err(e) => return Err(e),
                };
                if n > 0 {
                    return Err(Kind::Refused(format!(
                        "refusing to roll back {}: table `locks_audit` holds {n} audit record(s)\nhint: export them first (`locksmith locks history --format json`), or pass --force to drop them",
                        p.label
                    ))
                    .into());
                }
            }
        }
    }
    Ok(())
}

/// The rows of a locks table (named `table` now) that hold something.
async fn held_locks(c: &mut Lease, table: &str) -> Result<Vec<String>> {
    let rows = match again!(c.query_rows(&sql::select_lock_data(table))) {
        Ok(r) => r,
        Err(e) if matches!(e.kind(), Kind::NoTable(_)) => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut held = Vec::new();
    for row in rows {
        let mut c = Cells::new(row, "locks");
        let id: String = c.take(0, "id")?;
        c.name_row(id.clone());
        let data: Option<String> = c.take(1, "dataJson")?;
        if let Some(desc) = LockData::parse(data.as_deref()).held_summary() {
            held.push(format!("{id}: {desc}"));
        }
    }
    Ok(held)
}
