//! Schema migrations: the embedded up migrations (through refinery), their
//! down steps, and the run lock that makes racing deployers safe.
//!
//! Refinery applies migrations and owns the history table
//! (`refinery_schema_history`, in refinery's own format, so refinery's CLI
//! reads it as its own). Refinery has no down migrations and no guard against
//! two runs at once, so this module adds both:
//!
//! * every run holds a server-side named lock (`GET_LOCK`) on the one
//!   connection that also applies the migrations, so concurrent
//!   `migrate up` runs queue up and each migration is applied exactly once;
//! * `down` runs the matching step from `sql/` and deletes the history row.

use crate::error::{Error, Kind, Result};
use crate::sql;
use mysql_async::prelude::Queryable;
use mysql_async::{Conn, TxOpts};
use refinery::{Migration, Runner, Target};
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

mod embedded {
    refinery::embed_migrations!("migrations");
}

/// A set of up migrations with their down steps.
#[derive(Clone, Debug)]
pub struct MigrationSet {
    ups: Vec<Migration>,
    downs: BTreeMap<i32, String>,
}

impl MigrationSet {
    /// The migrations compiled into this binary.
    pub fn embedded() -> MigrationSet {
        let ups = embedded::migrations::runner().get_migrations().clone();
        let downs = ups
            .iter()
            .filter_map(|m| {
                let stem = m.to_string();
                sql::DOWN_STEPS
                    .iter()
                    .find(|(s, _)| *s == stem)
                    .map(|(_, sql)| (m.version(), sql.to_string()))
            })
            .collect();
        MigrationSet::new(ups, downs)
    }

    /// Migrations read from a directory: `V<n>__<name>.sql` up files, each
    /// with its `V<n>__<name>.down.sql` down step beside it.
    pub fn from_dir(dir: &Path) -> Result<MigrationSet> {
        let ups = refinery::load_sql_migrations(dir).map_err(|e| {
            Kind::Io(format!(
                "cannot read migrations from {}: {e}",
                dir.display()
            ))
        })?;
        let mut downs = BTreeMap::new();
        for m in &ups {
            let path = dir.join(format!("{m}.down.sql"));
            if let Ok(text) = std::fs::read_to_string(&path) {
                downs.insert(m.version(), text);
            }
        }
        Ok(MigrationSet::new(ups, downs))
    }

    fn new(mut ups: Vec<Migration>, downs: BTreeMap<i32, String>) -> MigrationSet {
        ups.sort();
        MigrationSet { ups, downs }
    }

    /// The up migrations, oldest first.
    pub fn migrations(&self) -> &[Migration] {
        &self.ups
    }

    /// The down step of a version, if there is one.
    pub fn down_sql(&self, version: i32) -> Option<&str> {
        self.downs.get(&version).map(String::as_str)
    }

    fn find(&self, version: i32) -> Option<&Migration> {
        self.ups.iter().find(|m| m.version() == version)
    }
}

/// One row of refinery's history table.
#[derive(Clone, Debug)]
pub struct Applied {
    /// Migration version.
    pub version: i32,
    /// Migration name, without the `V<n>__` prefix.
    pub name: String,
    /// When refinery recorded it, RFC 3339, as refinery wrote it.
    pub applied_on: String,
    /// Refinery's checksum, as text.
    pub checksum: String,
}

/// The state of one migration, as `migrate status` reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum State {
    /// In the history with the same checksum as this binary's copy.
    Applied,
    /// Known to this binary, not yet applied.
    Pending,
    /// Applied, but its checksum (or name) differs from this binary's copy.
    Divergent,
    /// In the history, but this binary does not carry it (a newer binary applied it).
    AppliedUnknown,
}

impl State {
    /// The label used in tables and JSON.
    pub fn label(self) -> &'static str {
        match self {
            State::Applied => "applied",
            State::Pending => "pending",
            State::Divergent => "divergent",
            State::AppliedUnknown => "applied-unknown",
        }
    }
}

/// One line of `migrate status`.
#[derive(Clone, Debug, Serialize)]
pub struct MigrationStatus {
    /// Migration version.
    pub version: i32,
    /// Migration name.
    pub name: String,
    /// Its state.
    pub state: State,
    /// When it was applied (refinery's text), if it was.
    pub applied_on: Option<String>,
}

/// What `migrate up` did (or, with `dry_run`, would do).
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

/// Reads the history table; a missing table means nothing is applied.
pub async fn applied(conn: &mut Conn) -> Result<Vec<Applied>> {
    match conn
        .query::<(i32, String, String, String), _>(sql::SELECT_HISTORY)
        .await
    {
        Ok(rows) => Ok(rows
            .into_iter()
            .map(|(version, name, applied_on, checksum)| Applied {
                version,
                name,
                applied_on,
                checksum,
            })
            .collect()),
        Err(e) if crate::db::server_code(&e) == Some(1146) => Ok(Vec::new()),
        Err(e) => Err(e.into()),
    }
}

/// Compares what the binary carries with what the database has applied.
pub fn status(set: &MigrationSet, applied: &[Applied]) -> Vec<MigrationStatus> {
    let mut out: Vec<MigrationStatus> = set
        .migrations()
        .iter()
        .map(|m| {
            let found = applied.iter().find(|a| a.version == m.version());
            let state = match found {
                None => State::Pending,
                Some(a) if a.name == m.name() && a.checksum == m.checksum().to_string() => {
                    State::Applied
                }
                Some(_) => State::Divergent,
            };
            MigrationStatus {
                version: m.version(),
                name: m.name().to_string(),
                state,
                applied_on: found.map(|a| a.applied_on.clone()),
            }
        })
        .collect();
    for a in applied {
        if set.find(a.version).is_none() {
            out.push(MigrationStatus {
                version: a.version,
                name: a.name.clone(),
                state: State::AppliedUnknown,
                applied_on: Some(a.applied_on.clone()),
            });
        }
    }
    out.sort_by_key(|s| s.version);
    out
}

/// Refuses to go on when the history disagrees with this binary.
fn check_consistent(list: &[MigrationStatus]) -> Result<()> {
    let bad: Vec<String> = list
        .iter()
        .filter_map(|s| match s.state {
            State::Divergent => Some(format!(
                "V{}__{} was applied with different contents than this locksmith carries (divergent checksum)",
                s.version, s.name
            )),
            State::AppliedUnknown => Some(format!(
                "V{}__{} is applied but unknown to this locksmith (applied by a newer version?)",
                s.version, s.name
            )),
            _ => None,
        })
        .collect();
    if bad.is_empty() {
        Ok(())
    } else {
        Err(Kind::Diverged(format!(
            "the database's migration history does not match this locksmith; nothing was changed:\n  {}\nhint: see `locksmith migrate status`",
            bad.join("\n  ")
        ))
        .into())
    }
}

/// Applies pending migrations under the migration lock.
pub async fn up(conn: &mut Conn, set: &MigrationSet, opts: &UpOptions) -> Result<UpReport> {
    let lock = RunLock::acquire(conn, opts.lock_timeout).await?;
    let result = up_locked(conn, set, opts).await;
    lock.release(conn).await;
    result
}

async fn up_locked(conn: &mut Conn, set: &MigrationSet, opts: &UpOptions) -> Result<UpReport> {
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
pub async fn down(conn: &mut Conn, set: &MigrationSet, opts: &DownOptions) -> Result<DownReport> {
    let lock = RunLock::acquire(conn, opts.lock_timeout).await?;
    let result = down_locked(conn, set, opts).await;
    lock.release(conn).await;
    result
}

async fn down_locked(
    conn: &mut Conn,
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
                    reason: Error::from(e).to_string(),
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
async fn lock_guarded_tables(conn: &mut Conn, p: &Planned) -> Result<bool> {
    let tables: Vec<&str> = GUARDED.into_iter().filter(|t| drops(p, t)).collect();
    if tables.is_empty() {
        return Ok(false);
    }
    match conn.query_drop(sql::lock_tables_write(&tables)).await {
        Ok(()) => Ok(true),
        Err(e) if matches!(crate::db::server_code(&e), Some(1044 | 1142 | 1146)) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// Refuses to drop a table that still holds data worth keeping: the `locks`
/// table while any lock is held, `locks_audit` while it holds records.
async fn guard(conn: &mut Conn, p: &Planned) -> Result<()> {
    if drops(p, "locks") {
        let rows: Vec<(String, Option<String>)> = match conn.query(sql::SELECT_ALL_LOCK_DATA).await
        {
            Ok(r) => r,
            Err(e) if crate::db::server_code(&e) == Some(1146) => Vec::new(),
            Err(e) => return Err(e.into()),
        };
        let held: Vec<String> = rows
            .into_iter()
            .filter_map(|(id, data)| {
                let desc = crate::row::LockData::parse(data.as_deref()).held_summary()?;
                Some(format!("{id}: {desc}"))
            })
            .collect();
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
        let count: Option<u64> = match conn.query_first(sql::COUNT_AUDIT).await {
            Ok(c) => c,
            Err(e) if crate::db::server_code(&e) == Some(1146) => None,
            Err(e) => return Err(e.into()),
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

/// The named server lock that serialises migration runs on one database.
/// It belongs to the connection that took it, which is also the connection
/// that applies the migrations.
struct RunLock {
    name: String,
}

impl RunLock {
    async fn acquire(conn: &mut Conn, timeout: Duration) -> Result<RunLock> {
        let db = conn.opts().db_name().unwrap_or_default().to_string();
        let name = run_lock_name(&db);
        let secs = timeout.as_secs().max(if timeout.is_zero() { 0 } else { 1 });
        let got: Option<Option<i64>> = conn.query_first(sql::get_lock(&name, secs)).await?;
        match got.flatten() {
            Some(1) => Ok(RunLock { name }),
            _ => Err(Kind::MigrationLockTimeout {
                lock: name,
                seconds: secs,
            }
            .into()),
        }
    }

    async fn release(self, conn: &mut Conn) {
        // Closing the connection would free it too; releasing keeps a
        // pooled connection clean.
        let _ = conn.query_drop(sql::release_lock(&self.name)).await;
    }
}

/// `GET_LOCK` names are server-wide and at most 64 characters.
fn run_lock_name(db: &str) -> String {
    let name = format!("locksmith.migrate.{db}");
    if name.len() <= 64 {
        return name;
    }
    // FNV-1a: stable across builds, unlike std's hasher.
    let hash = db.bytes().fold(0xcbf29ce484222325u64, |h, b| {
        (h ^ b as u64).wrapping_mul(0x100000001b3)
    });
    let mut short: String = db.chars().take(20).collect();
    short.push('.');
    format!("locksmith.migrate.{short}{hash:016x}")
}

/// Lets refinery's runner drive one of our connections, so the connection
/// holding the run lock is the one applying migrations.
struct RefineryConn<'c>(&'c mut Conn);

impl refinery_core::traits::r#async::AsyncTransaction for RefineryConn<'_> {
    type Error = mysql_async::Error;

    async fn execute<'a, T: Iterator<Item = &'a str> + Send + 'a>(
        &mut self,
        queries: T,
    ) -> Result<usize, Self::Error> {
        let mut tx = self.0.start_transaction(TxOpts::default()).await?;
        let mut count = 0;
        for q in queries {
            tx.query_drop(q).await?;
            count += 1;
        }
        tx.commit().await?;
        Ok(count)
    }
}

impl refinery_core::traits::r#async::AsyncQuery<Vec<Migration>> for RefineryConn<'_> {
    async fn query(&mut self, query: &str) -> Result<Vec<Migration>, Self::Error> {
        let rows: Vec<(i32, String, String, String)> = self.0.query(query).await?;
        Ok(rows
            .into_iter()
            .filter_map(|(version, name, applied_on, checksum)| {
                let applied_on = time::OffsetDateTime::parse(
                    &applied_on,
                    &time::format_description::well_known::Rfc3339,
                )
                .ok()?;
                Some(Migration::applied(
                    version,
                    name,
                    applied_on,
                    checksum.parse().ok()?,
                ))
            })
            .collect())
    }
}

impl refinery::AsyncMigrate for RefineryConn<'_> {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_embedded_migration_has_a_down_step() {
        let set = MigrationSet::embedded();
        assert!(!set.migrations().is_empty());
        for m in set.migrations() {
            let down = set.down_sql(m.version());
            assert!(
                down.is_some_and(|s| !s.trim().is_empty()),
                "{m} has no down step in sql/"
            );
        }
        assert_eq!(
            sql::DOWN_STEPS.len(),
            set.migrations().len(),
            "a down step without its up migration"
        );
    }

    #[test]
    fn v1_is_the_seed_ddl() {
        let set = MigrationSet::embedded();
        let v1 = &set.migrations()[0];
        assert_eq!(v1.to_string(), "V1__locks_create_table");
        let sql = v1.sql().unwrap();
        for part in [
            "CREATE TABLE IF NOT EXISTS locks(",
            "id VARCHAR(128) NOT NULL UNIQUE",
            "dataJson TEXT",
            "version INT DEFAULT 1",
            "ts TIMESTAMP DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP",
            "CHARACTER SET utf8 COLLATE utf8_bin",
        ] {
            assert!(sql.contains(part), "V1 lacks `{part}`");
        }
    }

    #[test]
    fn run_lock_names_fit_mysql_limit() {
        assert_eq!(run_lock_name("app"), "locksmith.migrate.app");
        let long = "d".repeat(64);
        let n = run_lock_name(&long);
        assert!(n.len() <= 64, "{n}");
        assert_ne!(n, run_lock_name(&"e".repeat(64)));
    }

    #[test]
    fn status_classifies_every_state() {
        let set = MigrationSet::embedded();
        let v1 = &set.migrations()[0];
        let applied = vec![
            Applied {
                version: 1,
                name: v1.name().into(),
                applied_on: "2024-01-01T00:00:00Z".into(),
                checksum: v1.checksum().to_string(),
            },
            Applied {
                version: 2,
                name: "locks_audit_create_table".into(),
                applied_on: "x".into(),
                checksum: "1".into(),
            },
            Applied {
                version: 9,
                name: "future".into(),
                applied_on: "x".into(),
                checksum: "1".into(),
            },
        ];
        let st: Vec<State> = status(&set, &applied).iter().map(|s| s.state).collect();
        assert_eq!(
            st,
            vec![State::Applied, State::Divergent, State::AppliedUnknown]
        );
        let none: Vec<State> = status(&set, &[]).iter().map(|s| s.state).collect();
        assert!(none.iter().all(|s| *s == State::Pending));
        assert!(check_consistent(&status(&set, &applied)).is_err());
    }
}
