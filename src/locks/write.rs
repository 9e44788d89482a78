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
use super::data::{encode, Version, TEXT_LIMIT};
use super::edit::{Change, Edit};
use super::entries::Locks;
use super::read;
use crate::db::retry::passing;
use crate::db::value::{Args, Param};
use crate::db::{sql, Lease};
use crate::error::{Error, Kind, Result};
use crate::liveness::{registry, ThisHost};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

/// Counters of what the protocol did, for the bench.
#[derive(Debug, Default)]
pub struct Stats {
    /// Operations answered by a single statement with no read first: the
    /// server's splice, or a CAS from the client's copy of the row.
    pub fast: AtomicU64,
    /// Of those, the CAS from the client's copy of the row.
    pub cached: AtomicU64,
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

/// What became of one write.
#[derive(Debug)]
pub(crate) enum Outcome {
    /// It landed, taking the row to this version when it is known (the
    /// server's splice hands it back; a CAS knows it).
    Landed(Option<i64>),
    /// It did not: a CAS conflict, or a conditional UPDATE that matched
    /// nothing. Nothing was written.
    Missed,
    /// It was sent, but the connection broke (or stopped answering) before
    /// the reply (the error says how): it may or may not have landed. The
    /// caller settles it (see [`crate::db::session`]) by reading, never by
    /// repeating it blindly.
    Unknown(Error),
}

/// What lock writes keep between operations: the client's copy of the
/// row, the counters, and whether the server may splice the row's text. It
/// writes through the lease it is given; it reads only to refill its copy.
pub(crate) struct Writer {
    stats: Stats,
    cache: Mutex<Cache>,
    /// The server splices the row's text for an acquire or release with
    /// no read first ([`sql::FAST_ACQUIRE`]): on MariaDB, where that
    /// statement is tested. On MySQL (which deprecates `LIKE BINARY`) read
    /// + CAS does all the work; the bytes written are the same.
    splice_on_server: bool,
}

impl Writer {
    /// A writer for a server that is MariaDB (`splice_on_server`) or not.
    pub(crate) fn new(splice_on_server: bool) -> Writer {
        Writer {
            splice_on_server,
            stats: Stats::default(),
            cache: Mutex::default(),
        }
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

    /// Creates the row with no locks unless it exists. Never deletes rows.
    pub(crate) async fn ensure_row(&self, c: &mut Lease, row: &str) -> Result<()> {
        c.exec_drop(sql::ENSURE_ROW, (row,)).await
    }

    /// A plain acquire or release in one statement, with no read: a CAS
    /// from the cached copy of the row when there is one (the server only
    /// compares the version), else, on MariaDB, the server splices the
    /// text under its row lock. Both write the same bytes (see
    /// [`super::entries`]). [`Outcome::Missed`]: the read + CAS path must
    /// decide.
    pub(crate) async fn plain(&self, c: &mut Lease, op: Plain<'_>) -> Result<Outcome> {
        let cached = self.cache().take_next(&op);
        if let Some((version, next)) = cached {
            match self.cas_plain(c, &op, version, next).await? {
                Outcome::Missed => {
                    self.count_conflict();
                    self.cache().forget();
                }
                done => {
                    self.stats.fast.fetch_add(1, Ordering::Relaxed);
                    self.stats.cached.fetch_add(1, Ordering::Relaxed);
                    return Ok(done);
                }
            }
        }
        if !self.splice_on_server {
            return Ok(Outcome::Missed);
        }
        // The entry as every writer of locksmith spells it, and the name's
        // key, to find it written elsewhere.
        let key = sql::json_string(op.name);
        let entry = format!("{key}:{}", sql::json_string(op.holder));
        let sent = if op.acquire {
            let with_comma = format!("{entry},");
            let absent = sql::like_pattern(&[&key]);
            let params = (&entry, &with_comma, op.row, &absent);
            c.exec_drop(sql::FAST_ACQUIRE, params).await
        } else {
            let chars = entry.chars().count() as i64;
            let twice = sql::like_pattern(&[&key, &key]);
            let params = sql::fast_release_params(&entry, chars, &twice, op.row);
            c.exec_drop(sql::FAST_RELEASE, Args(params)).await
        };
        match sent {
            Ok(()) if c.affected_rows() == 1 => {
                self.stats.fast.fetch_add(1, Ordering::Relaxed);
                let version = c.last_insert_id().map(|v| v as i64);
                let quiet = self.cache().applied(&op, version);
                if quiet {
                    // Nobody else wrote between our last two writes: worth
                    // one read so the next operations can skip the server's
                    // scans.
                    // Only a cache refill: the operation has landed, and a
                    // failed read must not turn it into an error.
                    if let Ok(Some(state)) = read::row(c, op.row).await {
                        self.cache().seen(&state);
                    }
                }
                Ok(Outcome::Landed(version))
            }
            Ok(()) => Ok(Outcome::Missed),
            Err(e) if e.is_lost() => {
                self.cache().forget();
                Ok(Outcome::Unknown(e))
            }
            // Nothing was written: what the row holds made the statement
            // fail (strict mode): the spliced value would not fit in TEXT
            // (1406), a version that is not a number (1292). The read + CAS
            // path decides, and reports exactly. A statement the server
            // cannot parse or bind (1064, 1210) is locksmith's own bug, and
            // is never taken for a row that merely needs the slow path.
            Err(e)
                if passing(&e).is_none()
                    && e.server_code().is_some_and(|c| !matches!(c, 1064 | 1210)) =>
            {
                Ok(Outcome::Missed)
            }
            Err(e) => Err(e),
        }
    }

    /// Writes `locks`, the result of a plain acquire or release, by CAS
    /// against `version`.
    pub(crate) async fn cas_plain(
        &self,
        c: &mut Lease,
        op: &Plain<'_>,
        version: i64,
        locks: Locks,
    ) -> Result<Outcome> {
        let json = encode(op.row, &locks)?;
        let params = Args(vec![json.into(), op.row.into(), version.into()]);
        let outcome = self
            .write(c, op.row, sql::CAS_WRITE, params, None, None)
            .await?;
        match outcome {
            Outcome::Landed(_) => {
                self.cache().wrote(op.row, version + 1, Some(locks));
                return Ok(Outcome::Landed(Some(version + 1)));
            }
            _ => self.cache().forget(),
        }
        Ok(outcome)
    }

    /// Writes an operator's planned change by CAS against the row as it
    /// was planned from, with its audit record in the same transaction.
    pub(crate) async fn write_change(
        &self,
        c: &mut Lease,
        edit: &Edit,
        change: &Change,
        audit: Option<&AuditInfo>,
    ) -> Result<Outcome> {
        let row = change.row.as_str();
        let audited = audit.map(|a| (a, change));
        let (stmt, params): (&str, Vec<Param>) = match (edit, &change.version_before) {
            // A repair matches the row exactly as it was read, whatever its
            // version holds (NULL, text, the INT maximum).
            (Edit::Repair, before) => {
                let json = encode(row, &change.remaining)?;
                let data = change.replaced_raw.clone();
                let p = vec![
                    json.into(),
                    change.version_after.into(),
                    row.into(),
                    before.sql_value(),
                    data.into(),
                ];
                (sql::REPAIR_WRITE, p)
            }
            (_, Version::Number(v)) => match edit {
                Edit::Bump(by) => (sql::CAS_BUMP, vec![(*by).into(), row.into(), (*v).into()]),
                _ => {
                    let json = encode(row, &change.remaining)?;
                    (sql::CAS_WRITE, vec![json.into(), row.into(), (*v).into()])
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
        // A release of dead holders checks its evidence again in the
        // transaction of the write, with the registrations locked.
        let recheck = matches!(edit, Edit::Dead(_) | Edit::TakeOver { .. }).then_some(change);
        match self
            .write(c, row, stmt, Args(params), audited, recheck)
            .await
        {
            Err(e) if matches!(e.kind(), Kind::NoTable(_)) => {
                Err(super::check::missing(c, e).await)
            }
            done => done,
        }
    }

    /// One conditional write (one row affected: it landed), with its audit
    /// record in the same transaction when there is one. With `dead` (a
    /// release of dead holders), the same transaction first locks the
    /// row's registrations and judges them again: a holder that renewed its
    /// lease since the change was worked out makes it miss (the caller
    /// works it out anew). The registrations of the locks an audited
    /// change removes go with them: one left behind would judge the next
    /// holder of that name by the last one's process.
    async fn write(
        &self,
        c: &mut Lease,
        row: &str,
        stmt: &str,
        params: Args,
        audit: Option<(&AuditInfo, &Change)>,
        dead: Option<&Change>,
    ) -> Result<Outcome> {
        let in_transaction = audit.is_some() || dead.is_some();
        let r: Result<bool> = async {
            if !in_transaction {
                c.exec_drop(stmt, params).await?;
                return Ok(c.affected_rows() == 1);
            }
            c.query_drop(sql::BEGIN).await?;
            let removing = dead
                .or(audit.map(|(_, change)| change))
                .filter(|change| !change.removed.is_empty());
            let mut regs = Vec::new();
            if removing.is_some() {
                regs = registry::read_locked(c, row).await?;
            }
            if let Some(change) = dead {
                let now_us = regs.first().map(|r| r.read_us).unwrap_or_default();
                if !change.still_dead(&regs, now_us, &ThisHost::now()) {
                    c.query_drop(sql::ROLLBACK).await?;
                    return Ok(false);
                }
            }
            c.exec_drop(stmt, params).await?;
            if c.affected_rows() != 1 {
                c.query_drop(sql::ROLLBACK).await?;
                return Ok(false);
            }
            if let Some((a, change)) = audit {
                audit::insert(c, a, change).await?;
            }
            if let Some(change) = removing {
                for e in change.removed.iter() {
                    let holder = e.holder_text();
                    // (A repair that drops a name written twice may leave
                    // it with the same holder.)
                    let registered = e.name().filter(|n| {
                        regs.iter().any(|r| r.lock == *n && r.holder == holder)
                            && !change.remaining.get(n).is_some_and(|k| k.held_by(&holder))
                    });
                    if let Some(name) = registered {
                        registry::forget(c, (&holder, row, name)).await?;
                    }
                }
            }
            c.query_drop(sql::COMMIT).await?;
            Ok(true)
        }
        .await;
        finish(r, row, c, in_transaction).await
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
        Ok(true) => Ok(Outcome::Landed(None)),
        Ok(false) => Ok(Outcome::Missed),
        Err(e) if e.is_lost() => Ok(Outcome::Unknown(e)),
        Err(e) if e.server_code() == Some(1406) => Err(Kind::TooLarge {
            row: row.into(),
            bytes: TEXT_LIMIT + 1,
            limit: TEXT_LIMIT,
        }
        .into()),
        Err(e) => Err(e),
    }
}
