//! The one place that writes lock rows. Every change is a compare-and-swap
//! on `version`, exactly as the seed's writers do:
//! `UPDATE … SET dataJson=?, version=version+1 WHERE id=? AND version=?`,
//! where 0 rows matched is a conflict. Plain acquire and release first try
//! one statement with no read: a CAS from the cached copy of the row, or a
//! conditional UPDATE the server evaluates under its row lock. Operator
//! changes write their audit record in the same transaction.
//!
//! A write whose reply never arrived is never repeated blindly: the session
//! that sent it is settled first (see [`crate::db::session`]), then a read
//! (or, for an audited write, the record's op id) tells whether it landed.

use super::audit::{self, AuditInfo};
use super::cache::{Cache, Plain};
use super::data::{encode, RowState, Version, TEXT_LIMIT};
use super::edit::{Change, Edit};
use crate::db::{deadline, sql, ConnectOptions, DbUrl, Lease, Session};
use crate::error::{Kind, Result};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Counters of what the protocol did, for the bench.
#[derive(Debug, Default)]
pub struct Stats {
    /// Operations answered by a single statement with no read first.
    pub fast: AtomicU64,
    /// Operations that needed the read-then-CAS path.
    pub slow: AtomicU64,
    /// Writes that lost to another writer and were tried again: CAS writes
    /// that matched no row, and statements the server refused for now
    /// (1213, 1205, 1047; counted in `transient` too).
    pub conflicts: AtomicU64,
    /// Statements the server refused for now and that were tried again: a
    /// cluster write conflict or deadlock (1213), a lock wait timeout
    /// (1205), a node not ready (1047).
    pub transient: AtomicU64,
}

/// Bounded, jittered exponential backoff between CAS retries.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Backoff {
    attempt: u32,
}

impl Backoff {
    /// Attempts before giving up with [`Kind::Contended`].
    const MAX_ATTEMPTS: u32 = 64;

    /// Waits before the next attempt; `false` when attempts (or the time
    /// before the deadline) are used up.
    pub(crate) async fn wait(&mut self) -> bool {
        self.attempt += 1;
        if self.attempt >= Self::MAX_ATTEMPTS {
            return false;
        }
        // Full jitter over 0.2 ms · 2^n, capped at 50 ms: contenders spread
        // out instead of colliding again in lockstep.
        let cap_us = (200u64 << self.attempt.min(8)).min(50_000);
        deadline::pause(Duration::from_micros(fastrand::u64(0..=cap_us))).await
    }
}

/// What became of one write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// It landed.
    Landed,
    /// It did not: a CAS conflict, or a conditional UPDATE that matched
    /// nothing. Nothing was written.
    Missed,
    /// It was sent, but the connection broke (or stopped answering) before
    /// the reply: it may or may not have landed. The caller settles it (see
    /// [`crate::db::session`]) by reading, never by repeating it blindly.
    Unknown,
}

/// The connection to the `locks` table, with what the protocol keeps
/// between operations: the cached row and the counters.
pub(crate) struct Writer {
    session: Session,
    stats: Stats,
    cache: Mutex<Cache>,
    /// The server edits JSON in place (MariaDB), so the server-evaluated
    /// acquire and release keep every other lock exactly as stored. On
    /// MySQL they would re-sort keys, so read + CAS does all the work there.
    server_json: bool,
}

impl Writer {
    /// Connects, checking that the `locks` table exists and that lock
    /// writes can work on it.
    pub(crate) async fn open(url: &DbUrl, opts: &ConnectOptions) -> Result<Writer> {
        let session = Session::open_at(url, opts.timeout, opts.first_node).await?;
        super::check::check_table(&mut session.lease().await?).await?;
        Ok(Writer {
            server_json: session.is_mariadb(),
            session,
            stats: Stats::default(),
            cache: Mutex::default(),
        })
    }

    pub(crate) fn session(&self) -> &Session {
        &self.session
    }

    pub(crate) fn stats(&self) -> &Stats {
        &self.stats
    }

    pub(crate) fn count_slow(&self) {
        self.stats.slow.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn count_conflict(&self) {
        self.stats.conflicts.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn count_transient(&self) {
        self.stats.transient.fetch_add(1, Ordering::Relaxed);
        self.count_conflict();
    }

    /// The cached row is no longer trusted (an operator edit is coming).
    pub(crate) fn forget_cache(&self) {
        self.cache().forget();
    }

    fn cache(&self) -> std::sync::MutexGuard<'_, Cache> {
        // The cache is a guess; one poisoned by a panicking thread is as
        // good as any other guess.
        self.cache.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Exclusive use of the connection for one step of an operation.
    pub(crate) async fn lease(&self) -> Result<Lease> {
        self.session.lease().await
    }

    /// Reads one row; `None` when it does not exist.
    pub(crate) async fn read(&self, row: &str) -> Result<Option<RowState>> {
        read_with(&mut self.lease().await?, row).await
    }

    /// Reads every row, by id.
    pub(crate) async fn read_all(&self) -> Result<Vec<RowState>> {
        let rows = self.lease().await?.query_rows(sql::SELECT_ROWS).await?;
        rows.into_iter().map(RowState::from_row).collect()
    }

    /// Creates the row with no locks unless it exists. Never deletes rows.
    pub(crate) async fn ensure_row(&self, c: &mut Lease, row: &str) -> Result<()> {
        c.exec_drop(sql::ENSURE_ROW, (row,)).await?;
        Ok(())
    }

    /// Does `holder` hold `name` in `row` right now? (Also how a dropped
    /// connection is resolved, once its session is settled.)
    pub(crate) async fn holds(&self, row: &str, name: &str, holder: &str) -> Result<bool> {
        Ok(self
            .read(row)
            .await?
            .and_then(|s| s.data.locks())
            .and_then(|l| l.get(name).map(|e| e.held_by(holder)))
            .unwrap_or(false))
    }

    /// A plain acquire or release in one statement, with no read: a CAS
    /// from the cached copy of the row when there is one (no JSON work on
    /// the server), else, on MariaDB, the server-evaluated conditional
    /// UPDATE. [`Outcome::Missed`]: the read + CAS path must decide.
    pub(crate) async fn plain(&self, op: Plain<'_>) -> Result<Outcome> {
        let cached = self.cache().take_next(&op);
        if let Some((version, next)) = cached {
            let c = self.lease().await?;
            match self.cas_plain(c, &op, version, next).await? {
                Outcome::Missed => {
                    self.count_conflict();
                    self.cache().forget();
                }
                done => {
                    self.stats.fast.fetch_add(1, Ordering::Relaxed);
                    return Ok(done);
                }
            }
        }
        if !self.server_json {
            return Ok(Outcome::Missed);
        }
        let mut c = self.lease().await?;
        let path = sql::json_path(op.name);
        // The name as its key is spelled in the text, to check it is there
        // at most once.
        let key = sql::json_string(op.name);
        let sent = if op.acquire {
            let params = (&path, op.holder, op.row, &key, &key, &path);
            c.exec_drop(sql::FAST_ACQUIRE, params).await
        } else {
            let params = (
                &path,
                op.row,
                &key,
                &key,
                &path,
                sql::json_string(op.holder),
            );
            c.exec_drop(sql::FAST_RELEASE, params).await
        };
        match sent {
            Ok(()) if c.affected_rows() == 1 => {
                self.stats.fast.fetch_add(1, Ordering::Relaxed);
                let version = c.last_insert_id().map(|v| v as i64);
                let quiet = self.cache().applied(&op, version);
                if quiet {
                    // Nobody else wrote between our last two writes: worth
                    // one read so the next operations can skip the JSON work.
                    // Only a cache refill: the operation has landed, and a
                    // failed read must not turn it into an error.
                    if let Ok(Some(state)) = read_with(&mut c, op.row).await {
                        self.cache().seen(&state);
                    }
                }
                Ok(Outcome::Landed)
            }
            Ok(()) => Ok(Outcome::Missed),
            Err(e) if e.is_lost() => {
                self.cache().forget();
                Ok(Outcome::Unknown)
            }
            // Nothing was written: unparsable data made a JSON function fail,
            // or the server's spacing made the value too long for TEXT (1406).
            // The read + CAS path decides, and reports exactly; the limit is
            // on locksmith's own compact JSON, whichever path writes it.
            Err(e) if e.server_code().is_some() && !e.is_transient() => Ok(Outcome::Missed),
            Err(e) => Err(e),
        }
    }

    /// Writes `locks`, the result of a plain acquire or release, by CAS
    /// against `version`.
    pub(crate) async fn cas_plain(
        &self,
        c: Lease,
        op: &Plain<'_>,
        version: i64,
        locks: super::entries::Locks,
    ) -> Result<Outcome> {
        let json = encode(op.row, &locks)?;
        let outcome = self.cas(c, op.row, version, &json).await?;
        match outcome {
            Outcome::Landed => self.cache().wrote(op.row, version + 1, Some(locks)),
            _ => self.cache().forget(),
        }
        Ok(outcome)
    }

    /// Writes an operator's planned change by CAS against the row as it
    /// was planned from, with its audit record in the same transaction.
    pub(crate) async fn write_change(
        &self,
        c: Lease,
        edit: &Edit,
        change: &Change,
        audit: Option<&AuditInfo>,
    ) -> Result<Outcome> {
        let row = change.row.as_str();
        let audited = audit.map(|a| (a, change));
        let (stmt, params): (&str, mysql_async::Params) = match (edit, &change.version_before) {
            // A repair matches the row exactly as it was read, whatever its
            // version holds (NULL, text, the INT maximum).
            (Edit::Repair, before) => {
                let json = encode(row, &change.remaining)?;
                let data = change.replaced_raw.clone();
                let p = (json, change.version_after, row, before.sql_value(), data);
                (sql::REPAIR_WRITE, p.into())
            }
            (_, Version::Number(v)) => match edit {
                Edit::Bump(by) => (sql::CAS_BUMP, (*by, row, *v).into()),
                _ => {
                    let json = encode(row, &change.remaining)?;
                    (sql::CAS_WRITE, (json, row, *v).into())
                }
            },
            // Plans from a row whose version is not a number are refused
            // before they get here (only a repair can write such a row).
            (_, other) => {
                return Err(Kind::Damaged {
                    row: row.into(),
                    what: format!("its version is {other}"),
                }
                .into())
            }
        };
        match self.write(c, row, stmt, params, audited).await {
            Err(e) if matches!(e.kind(), Kind::NoTable(_)) => {
                Err(super::check::missing(&mut self.lease().await?, e).await)
            }
            done => done,
        }
    }

    /// After a dropped connection left an operator's write unresolved (its
    /// session is settled by now): did it land? Audited writes are looked
    /// up by op id; without a record, only a row that did not move shows
    /// for certain that nothing landed.
    pub(crate) async fn landed(&self, change: &Change, audit: Option<&AuditInfo>) -> Result<bool> {
        if let Some(audit) = audit {
            return audit::landed(&mut self.lease().await?, &audit.op_id).await;
        }
        let row = &change.row;
        let now = self.read(row).await?.map(|s| s.version);
        if now.as_ref() != Some(&change.version_before) {
            return Err(Kind::Unsettled(format!(
                "the connection dropped while writing row `{row}`, and the row has changed since; the change may or may not be ours, check with `locksmith locks dump {row}`"
            ))
            .into());
        }
        Ok(false)
    }

    /// One CAS write, not recorded.
    async fn cas(&self, c: Lease, row: &str, version: i64, json: &str) -> Result<Outcome> {
        self.write(c, row, sql::CAS_WRITE, (json, row, version).into(), None)
            .await
    }

    /// One conditional write (one row affected: it landed), with its audit
    /// record in the same transaction when there is one.
    async fn write(
        &self,
        mut c: Lease,
        row: &str,
        stmt: &str,
        params: mysql_async::Params,
        audit: Option<(&AuditInfo, &Change)>,
    ) -> Result<Outcome> {
        let r: Result<bool> = async {
            let Some((a, change)) = audit else {
                c.exec_drop(stmt, params).await?;
                return Ok(c.affected_rows() == 1);
            };
            c.query_drop(sql::BEGIN).await?;
            c.exec_drop(stmt, params).await?;
            if c.affected_rows() != 1 {
                c.query_drop(sql::ROLLBACK).await?;
                return Ok(false);
            }
            audit::insert(&mut c, a, change).await?;
            c.query_drop(sql::COMMIT).await?;
            Ok(true)
        }
        .await;
        finish(r, row, &mut c, audit.is_some()).await
    }

    // ---- for the bench only: its scratch row, never a real one ----------

    /// Fills a freshly created scratch row with `locks`, by CAS.
    pub(crate) async fn bench_fill(&self, row: &str, locks: &super::entries::Locks) -> Result<()> {
        let mut c = self.lease().await?;
        let state = read_with(&mut c, row)
            .await?
            .ok_or_else(|| Kind::NoRow(row.into()))?;
        let json = encode(row, locks)?;
        c.exec_drop(sql::CAS_WRITE, (json, row, state.number()?))
            .await?;
        if c.affected_rows() != 1 {
            return Err(Kind::Contended(row.into()).into());
        }
        Ok(())
    }

    /// The bench's ceiling: plain single-row commits on the scratch row
    /// until `until`. Returns how many landed. On a cluster node, a commit
    /// the cluster refuses for now (1213: another node's write was being
    /// applied) is counted and tried again, as the lock protocol would.
    pub(crate) async fn bench_ceiling(&self, row: &str, until: Instant) -> Result<u64> {
        let mut c = self.lease().await?;
        let mut n = 0u64;
        while Instant::now() < until {
            match c.exec_drop(sql::BENCH_CEILING, (row,)).await {
                Ok(()) => n += c.affected_rows(),
                Err(e) if matches!(e.kind(), Kind::Transient(_)) => self.count_transient(),
                Err(e) => return Err(e),
            }
        }
        Ok(n)
    }

    /// Removes the bench's scratch row.
    pub(crate) async fn bench_remove(&self, row: &str) -> Result<()> {
        self.lease()
            .await?
            .exec_drop(sql::DELETE_ROW, (row,))
            .await?;
        Ok(())
    }
}

/// Classifies a write's outcome. A failed audited write rolls its
/// transaction back; a connection whose outcome is unknown is not reused.
async fn finish(
    r: Result<bool>,
    row: &str,
    c: &mut Lease,
    in_transaction: bool,
) -> Result<Outcome> {
    if let Err(e) = &r {
        if e.is_lost() || (in_transaction && c.query_drop(sql::ROLLBACK).await.is_err()) {
            c.discard();
        }
    }
    match r {
        Ok(true) => Ok(Outcome::Landed),
        Ok(false) => Ok(Outcome::Missed),
        Err(e) if e.is_lost() => Ok(Outcome::Unknown),
        Err(e) if e.server_code() == Some(1406) => Err(Kind::TooLarge {
            row: row.into(),
            bytes: TEXT_LIMIT + 1,
            limit: TEXT_LIMIT,
        }
        .into()),
        Err(e) => Err(e),
    }
}

/// Reads one row on a leased connection.
pub(crate) async fn read_with(c: &mut Lease, row: &str) -> Result<Option<RowState>> {
    c.exec_first_row(sql::SELECT_ROW, (row,))
        .await?
        .map(RowState::from_row)
        .transpose()
}
