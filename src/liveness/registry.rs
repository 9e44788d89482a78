//! The holder registry (`locks_holders`, migration V3): one row for each
//! lock a holder that locksmith runs holds or waits for, saying who the
//! holder is (host, pid, the process's start time, the boot), how it proves
//! it is alive (a lease kept by heartbeats, or its process alone), and
//! since when. `locks.dataJson` keeps the seed's format, name → holder;
//! this table lives beside it, so that other writers of the seed's protocol
//! work on unchanged, and their holders are simply not registered.
//!
//! Every write here rides on the lease it is given, with that lease's
//! deadline and retry policy, like every other write.

use crate::db::value::{Args, Cells, Param, Record};
use crate::db::{sql, Lease};
use crate::error::{Kind, Result};
use crate::host::Process;
use std::time::Duration;

/// Whether a registered holder holds its lock or waits for it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    /// It waits for the lock (or is about to take it).
    Waits,
    /// It took the lock.
    Holds,
}

impl Stage {
    fn text(self) -> &'static str {
        match self {
            Stage::Waits => "waits",
            Stage::Holds => "holds",
        }
    }
}

/// One row of the registry, as read.
#[derive(Clone, Debug, PartialEq)]
pub struct Registration {
    /// The holder, as written into `dataJson` (a string holder's text).
    pub holder: String,
    /// The lock row.
    pub row: String,
    /// The lock's name.
    pub lock: String,
    /// Whether it holds the lock or waits for it.
    pub stage: Stage,
    /// Since when (it took the lock, or began to wait), by the server's
    /// clock, in microseconds since the epoch.
    pub since_us: i64,
    /// The host its process runs on.
    pub host: String,
    /// Its process.
    pub pid: i32,
    /// The process's start time, in clock ticks since its host booted.
    pub pid_start: Option<u64>,
    /// Its host's boot id when it registered.
    pub boot_id: Option<String>,
    /// When its process started, by its host's clock, in microseconds since
    /// the epoch.
    pub started_us: Option<i64>,
    /// Its lease: it is dead once this long has passed since its last
    /// heartbeat, by the server's clock. `None`: judged by its process
    /// alone.
    pub lease_ms: Option<i64>,
    /// Its last heartbeat (or registration), by the server's clock, in
    /// microseconds since the epoch.
    pub beat_us: i64,
    /// The lock's fencing token, once it holds it.
    pub fence: Option<i64>,
    /// The globs it also waits on (`--unless-held`), while it waits.
    pub unless_held: Vec<String>,
    /// Its command line, without secrets.
    pub command: Option<String>,
    /// The server's clock when this was read, in microseconds since the
    /// epoch.
    pub read_us: i64,
}

impl Registration {
    /// Reads one row of [`sql::SELECT_REGISTRY`].
    fn from_row(row: Record) -> Result<Registration> {
        let mut c = Cells::new(row, "locks_holders");
        let holder: String = c.take(0, "holder")?;
        c.name_row(holder.clone());
        let stage = match c.take::<String>(3, "state")?.as_str() {
            "holds" => Stage::Holds,
            _ => Stage::Waits,
        };
        let pid_start: Option<i64> = c.take(7, "pidStart")?;
        let unless: Option<String> = c.take(13, "unlessHeld")?;
        Ok(Registration {
            holder,
            row: c.take(1, "rowId")?,
            lock: c.take(2, "lockName")?,
            stage,
            since_us: c.take(4, "since")?,
            host: c.take(5, "host")?,
            pid: c.take(6, "pid")?,
            pid_start: pid_start.and_then(|s| u64::try_from(s).ok()),
            boot_id: c.take(8, "bootId")?,
            started_us: c.take(9, "started")?,
            lease_ms: c.take(10, "leaseMs")?,
            beat_us: c.take(11, "beat")?,
            fence: c.take(12, "fence")?,
            unless_held: unless
                .and_then(|u| serde_json::from_str(&u).ok())
                .unwrap_or_default(),
            command: c.take(14, "command")?,
            read_us: c.take(15, "UTC_TIMESTAMP(6)")?,
        })
    }
}

/// Who registers, and how it proves it is alive.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Registering {
    /// The process whose life the lock follows.
    pub process: Process,
    /// Its lease: without a heartbeat for this long it is dead. `None`:
    /// judged by its process alone (on its host; elsewhere it is unknown).
    pub lease: Option<Duration>,
    /// Its command line, without secrets.
    pub command: String,
}

/// The longest lease: the `leaseMs` column is an INT of milliseconds, and
/// a day is already far past any use.
pub const LEASE_MAX: Duration = Duration::from_secs(24 * 3600);

/// The longest holder and lock name the registry holds (its VARCHAR(255)
/// columns).
pub const TEXT_MAX: usize = 255;

impl Registering {
    /// Checks what the registry can hold: a lease of at least 1 ms and at
    /// most a day, a holder and lock name of at most 255 characters.
    pub fn validate(&self, holder: &str, lock: &str) -> Result<()> {
        if let Some(l) = self.lease {
            if l < Duration::from_millis(1) || l > LEASE_MAX {
                return Err(Kind::Invalid(format!(
                    "a lease must be between 1ms and 24h, not {}",
                    humantime::format_duration(l)
                ))
                .into());
            }
        }
        for (what, text) in [("holder", holder), ("lock name", lock)] {
            let n = text.chars().count();
            if n > TEXT_MAX {
                return Err(Kind::Invalid(format!(
                    "a {what} of {n} characters cannot be registered for liveness; the registry holds at most {TEXT_MAX}"
                ))
                .into());
            }
        }
        Ok(())
    }
}

/// `started` as the registry stores it: UTC, microseconds.
fn utc_text(epoch_secs: f64) -> Option<String> {
    let t = time::OffsetDateTime::from_unix_timestamp_nanos((epoch_secs * 1e9) as i128).ok()?;
    t.format(&time::macros::format_description!(
        "[year]-[month]-[day] [hour]:[minute]:[second].[subsecond digits:6]"
    ))
    .ok()
}

/// Registers `holder`'s interest in `lock` of `row` at `stage`, with the
/// globs it also waits on.
pub(crate) async fn register(
    c: &mut Lease,
    who: &Registering,
    (holder, row, lock): (&str, &str, &str),
    stage: Stage,
    unless_held: &[String],
) -> Result<()> {
    let p = &who.process;
    let started = p.start.and_then(crate::host::started_at).and_then(utc_text);
    let unless =
        (!unless_held.is_empty()).then(|| serde_json::to_string(unless_held).unwrap_or_default());
    let args = Args(vec![
        holder.into(),
        row.into(),
        lock.into(),
        stage.text().into(),
        p.host.as_str().into(),
        Param::Int(i64::from(p.pid)),
        p.start.map(|s| s as i64).into(),
        p.boot_id.clone().into(),
        started.into(),
        who.lease.map(|l| l.as_millis() as i64).into(),
        unless.into(),
        Param::Text(who.command.clone()),
    ]);
    c.exec_drop(sql::REGISTER, args).await
}

/// The registered holder took its lock, with this fencing token.
pub(crate) async fn holds(
    c: &mut Lease,
    (holder, row, lock): (&str, &str, &str),
    fence: Option<i64>,
) -> Result<()> {
    c.exec_drop(sql::REGISTRY_HOLDS, (fence, holder, row, lock))
        .await
}

/// A heartbeat; `false` when the holder is not registered (any more).
pub(crate) async fn beat(c: &mut Lease, (holder, row, lock): (&str, &str, &str)) -> Result<bool> {
    c.exec_drop(sql::REGISTRY_BEAT, (holder, row, lock)).await?;
    Ok(c.affected_rows() > 0)
}

/// Forgets the holder's interest in the lock.
pub(crate) async fn forget(c: &mut Lease, (holder, row, lock): (&str, &str, &str)) -> Result<()> {
    c.exec_drop(sql::REGISTRY_FORGET, (holder, row, lock)).await
}

/// Every registration (only `row`'s, when given); `None` when there is no
/// registry (migration V3 is not applied), or this account may not read
/// it: then nobody is registered as far as this reader can tell, and every
/// holder is unknown, never dead.
pub(crate) async fn read(c: &mut Lease, row: Option<&str>) -> Result<Option<Vec<Registration>>> {
    let rows = match row {
        Some(r) => c.exec_rows(sql::SELECT_REGISTRY_ROW, (r,)).await,
        None => c.query_rows(sql::SELECT_REGISTRY).await,
    };
    match rows {
        Ok(rows) => rows
            .into_iter()
            .map(Registration::from_row)
            .collect::<Result<Vec<_>>>()
            .map(Some),
        // 1142, 1143: no SELECT on the table (or a column of it).
        Err(e)
            if matches!(e.kind(), Kind::NoTable(_) | Kind::NoAccess { .. })
                || matches!(e.server_code(), Some(1142 | 1143)) =>
        {
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

/// `row`'s registrations, locked until the transaction the lease is in
/// ends (see [`sql::SELECT_REGISTRY_ROW_LOCKED`]); none when there is no
/// registry, or this account may not read it.
pub(crate) async fn read_locked(c: &mut Lease, row: &str) -> Result<Vec<Registration>> {
    match c.exec_rows(sql::SELECT_REGISTRY_ROW_LOCKED, (row,)).await {
        Ok(rows) => rows.into_iter().map(Registration::from_row).collect(),
        // No registry, or this account may not read (or lock) it.
        Err(e)
            if matches!(e.kind(), Kind::NoTable(_))
                || matches!(e.server_code(), Some(1142 | 1143)) =>
        {
            Ok(Vec::new())
        }
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_the_registry_cannot_hold_is_refused() {
        let who = |lease| Registering {
            process: Process::this(),
            lease,
            command: "x".into(),
        };
        assert!(who(Some(Duration::from_secs(30)))
            .validate("h", "n")
            .is_ok());
        assert!(who(None).validate("h", "n").is_ok());
        let e = who(Some(Duration::ZERO)).validate("h", "n").unwrap_err();
        assert_eq!(e.to_string(), "a lease must be between 1ms and 24h, not 0s");
        assert!(who(Some(LEASE_MAX + Duration::from_secs(1)))
            .validate("h", "n")
            .is_err());
        let long = "h".repeat(256);
        let e = who(None).validate(&long, "n").unwrap_err();
        assert!(e.to_string().contains("holds at most 255"), "{e}");
    }

    #[test]
    fn start_times_are_utc_microseconds() {
        assert_eq!(
            utc_text(1_764_129_600.5).as_deref(),
            Some("2025-11-26 04:00:00.500000")
        );
    }
}
