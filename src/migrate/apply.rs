//! `migrate up` and `migrate down`, under the run lock: apply what is
//! pending through refinery, or roll back newest first with the down steps,
//! refusing to drop tables that still hold locks or audit records.

use super::adapter::RefineryConn;
use super::runlock::RunLock;
use super::set::MigrationSet;
use super::status::{applied, check_consistent, status, Applied, State};
use crate::db::value::Cells;
use crate::db::{sql, Lease};
use crate::error::{Error, Kind, Result};
use crate::locks::LockData;
use refinery::{Migration, Runner, Target};
use std::time::Duration;

#[derive(Clone, Debug, Default)]
pub struct UpReport {
    /// Migrations applied by this run (or planned, for a dry run), oldest first.
    pub applied: Vec<Planned>,
    /// The highest applied version afterwards, if any.
    pub version: Option<i32>,
}

/// What `migrate down` did (or would do).
#[derive(Clone, Debug, Default)]
pub struct DownReport {
    /// Migrations rolled back (or planned), newest first.
    pub rolled_back: Vec<Planned>,
    /// The highest applied version afterwards, if any.
    pub version: Option<i32>,
}

/// A migration that was run or is planned, with the SQL it runs.
#[derive(Clone, Debug)]
pub struct Planned {
    /// `V<n>__<name>`.
    pub label: String,
    /// Its version.
    pub version: i32,
    /// The SQL it runs.
    pub sql: String,
}

/// Options for `migrate up`.
#[derive(Clone, Debug)]
pub struct UpOptions {
    /// Stop after this version.
    pub target: Option<i32>,
    /// Only plan; change nothing.
    pub dry_run: bool,
    /// How long to wait for another run's migration lock.
    pub lock_timeout: Duration,
}

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
    /// How long to wait for another run's migration lock.
    pub lock_timeout: Duration,
}

/// Applies pending migrations under the migration lock.
pub(crate) async fn up(
    conn: &mut Lease,
    db: &str,
    set: &MigrationSet,
    opts: &UpOptions,
) -> Result<UpReport> {
    let lock = RunLock::acquire(conn, db, opts.lock_timeout).await?;
    let result = up_locked(conn, set, opts).await;
    lock.release(conn).await;
    result
}

async fn up_locked(conn: &mut Lease, set: &MigrationSet, opts: &UpOptions) -> Result<UpReport> {
    let history = applied(conn).await?;
    let list = status(set, &history);
    check_consistent(&list)?;
    let pending: Vec<Planned> = set
        .migrations()
        .iter()
        .filter(|m| {
            list.iter()
                .any(|s| s.version == m.version() && s.state == State::Pending)
        })
        .filter(|m| opts.target.is_none_or(|t| m.version() <= t))
        .map(planned)
        .collect();
    let current = history.iter().map(|a| a.version).max();
    if pending.is_empty() || opts.dry_run {
        return Ok(UpReport {
            version: current,
            applied: pending,
        });
    }
    let target = match opts.target {
        Some(v) => Target::Version(v),
        None => Target::Latest,
    };
    let runner = Runner::new(set.migrations())
        .set_target(target)
        .set_abort_divergent(true)
        .set_abort_missing(true);
    match runner.run_async(&mut RefineryConn(conn)).await {
        Ok(report) => {
            let done = report.applied_migrations().len();
            Ok(UpReport {
                version: pending[..done].last().map(|p| p.version).or(current),
                applied: pending[..done].to_vec(),
            })
        }
        Err(e) => {
            let done = e
                .report()
                .map(|r| r.applied_migrations().len())
                .unwrap_or(0);
            let failed = pending
                .get(done)
                .map(|p| p.label.clone())
                .unwrap_or_else(|| "(unknown)".into());
            let reason = match std::error::Error::source(&e) {
                Some(src) => src.to_string(),
                None => e.to_string(),
            };
            Err(Kind::MigrationFailed {
                migration: failed,
                reason,
                applied: pending[..done].iter().map(|p| p.label.clone()).collect(),
            }
            .into())
        }
    }
}

fn planned(m: &Migration) -> Planned {
    Planned {
        label: m.to_string(),
        version: m.version(),
        sql: m.sql().unwrap_or_default().to_string(),
    }
}

/// Rolls back migrations, newest first, under the migration lock.
pub(crate) async fn down(
    conn: &mut Lease,
    db: &str,
    set: &MigrationSet,
    opts: &DownOptions,
) -> Result<DownReport> {
    let lock = RunLock::acquire(conn, db, opts.lock_timeout).await?;
    let result = down_locked(conn, set, opts).await;
    lock.release(conn).await;
    result
}

async fn down_locked(
    conn: &mut Lease,
    set: &MigrationSet,
    opts: &DownOptions,
) -> Result<DownReport> {
    let history = applied(conn).await?;
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
    if !opts.force {
        for p in &plan {
            guard(conn, p).await?;
        }
    }
    let remaining = |done: &[Planned]| {
        history
            .iter()
            .map(|a| a.version)
            .filter(|v| !done.iter().any(|p| p.version == *v))
            .max()
    };
    if opts.dry_run {
        return Ok(DownReport {
            version: remaining(&plan),
            rolled_back: plan,
        });
    }
    let mut done = Vec::new();
    for p in plan {
        // Lock clients never wait on the migration lock, so a lock could be
        // taken between the check above and the DROP. Hold the guarded
        // tables still (this connection only; they wait on the metadata
        // lock and then find the table gone) and check again. An account
        // that may not lock tables still gets the second, closer check.
        let locked = lock_guarded_tables(conn, &p).await?;
        let step = async {
            if !opts.force {
                guard(conn, &p).await?;
            }
            conn.query_drop(p.sql.as_str()).await.map_err(|e| {
                Error::from(Kind::MigrationFailed {
                    migration: format!("{} (down)", p.label),
                    reason: e.to_string(),
                    applied: done.iter().map(|d: &Planned| d.label.clone()).collect(),
                })
            })
        }
        .await;
        if locked {
            conn.query_drop(sql::UNLOCK_TABLES).await?;
        }
        step?;
        conn.exec_drop(sql::DELETE_HISTORY, (p.version,)).await?;
        done.push(p);
    }
    Ok(DownReport {
        version: remaining(&done),
        rolled_back: done,
    })
}

/// Tables whose contents [`guard`] protects.
const GUARDED: [&str; 2] = ["locks", "locks_audit"];

/// Does this down step drop `table`?
fn drops(p: &Planned, table: &str) -> bool {
    let sql = p.sql.to_ascii_lowercase();
    sql.contains("drop table")
        && sql
            .split(|c: char| !c.is_alphanumeric() && c != '_')
            .any(|w| w == table)
}

/// `LOCK TABLES … WRITE` on the guarded tables this step drops. `false`
/// when there is nothing to lock (no such table) or the account may not
/// lock tables; the check just before the DROP then runs unlocked.
async fn lock_guarded_tables(conn: &mut Lease, p: &Planned) -> Result<bool> {
    let tables: Vec<&str> = GUARDED.into_iter().filter(|t| drops(p, t)).collect();
    if tables.is_empty() {
        return Ok(false);
    }
    match conn.query_drop(&sql::lock_tables_write(&tables)).await {
        Ok(()) => Ok(true),
        Err(e) if matches!(e.server_code(), Some(1044 | 1142 | 1146)) => Ok(false),
        Err(e) => Err(e),
    }
}

/// Refuses to drop a table that still holds data worth keeping: the `locks`
/// table while any lock is held, `locks_audit` while it holds records.
async fn guard(conn: &mut Lease, p: &Planned) -> Result<()> {
    if drops(p, "locks") {
        let rows = match conn.query_rows(sql::SELECT_ALL_LOCK_DATA).await {
            Ok(r) => r,
            Err(e) if e.server_code() == Some(1146) => Vec::new(),
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
        if !held.is_empty() {
            return Err(Kind::Refused(format!(
                "refusing to roll back {}: table `locks` still holds locks:\n  {}\nhint: release them first (`locksmith locks dump`), or pass --force to drop them",
                p.label,
                held.join("\n  ")
            ))
            .into());
        }
    }
    if drops(p, "locks_audit") {
        let count = match conn.exec_number(sql::COUNT_AUDIT, (), "locks_audit").await {
            Ok(c) => c,
            Err(e) if matches!(e.kind(), Kind::NoTable(_)) => None,
            Err(e) => return Err(e),
        };
        if let Some(n) = count.filter(|n| *n > 0) {
            return Err(Kind::Refused(format!(
                "refusing to roll back {}: table `locks_audit` holds {n} audit record(s)\nhint: export them first (`locksmith locks history --format json`), or pass --force to drop them",
                p.label
            ))
            .into());
        }
    }
    Ok(())
}
