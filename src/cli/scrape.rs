//! One bounded read of everything the metrics and the status page show:
//! the locks (a [`Snapshot`], every holder judged) and the migration
//! status, by one deadline. `locks dump --format prometheus` reads once;
//! `locksmith serve` keeps a [`Reader`] and its two connections across
//! scrapes, and drops them after any failure (a read cut off midway leaves
//! a connection in no known state), so that the next scrape connects
//! afresh.

use crate::db::{ConnectOptions, DbUrl, Deadline};
use crate::error::{Kind, Result};
use crate::liveness::Probe;
use crate::locks::{LockTable, Snapshot};
use crate::migrate::guard::DEFAULT_TTL;
use crate::migrate::{Holder, MigrationSet, MigrationStatus, Migrator};
use std::collections::HashMap;
use std::time::Duration;

/// What one read found.
#[derive(Clone, Debug)]
pub struct Reading {
    /// The locks; `None` when there is no `locks` table yet (its migration
    /// is pending: the migrations say so).
    pub snapshot: Option<Snapshot>,
    /// Every migration's state.
    pub migrations: Vec<MigrationStatus>,
    /// The migration run holding the run guard, if one does.
    pub guard: Option<Holder>,
    /// The server's clock when the locks were read (microseconds since the
    /// epoch), or this host's when there are none.
    pub now_us: i64,
}

impl Reading {
    /// How long the migration guard has been held, by the server's clock,
    /// and whether its holder is stale.
    pub fn guard_age(&self) -> Option<(Duration, bool)> {
        let g = self.guard.as_ref()?;
        let since = time::OffsetDateTime::parse(
            g.since.as_deref()?,
            &time::format_description::well_known::Rfc3339,
        )
        .ok()?;
        let since_us = i64::try_from(since.unix_timestamp_nanos() / 1000).ok()?;
        let held = u64::try_from((self.now_us - since_us).max(0)).unwrap_or(0);
        Some((Duration::from_micros(held), g.stale))
    }
}

/// Reads the database, keeping its connections between reads.
pub struct Reader {
    url: DbUrl,
    connect: ConnectOptions,
    probe: Option<Probe>,
    rows: Vec<String>,
    set: MigrationSet,
    table: Option<LockTable>,
    migrator: Option<Migrator>,
    /// A read is under way: still true when one starts, the last one was
    /// cut off (its future dropped) and its connections are not to be
    /// trusted.
    busy: bool,
    /// Since when each lock the registry does not date has been held at
    /// least, by what earlier reads saw: (row, lock, holder as stored) ->
    /// microseconds since the epoch, server clock.
    seen: HashMap<(String, String, String), i64>,
}

impl Reader {
    /// A reader of `rows` (every row when empty), asking `probe` about
    /// holders locksmith did not register; it connects on its first read.
    pub fn new(
        url: DbUrl,
        connect: ConnectOptions,
        probe: Option<Probe>,
        rows: Vec<String>,
    ) -> Reader {
        Reader {
            url,
            connect,
            probe,
            rows,
            set: MigrationSet::embedded(),
            table: None,
            migrator: None,
            busy: false,
            seen: HashMap::new(),
        }
    }

    /// Reads the migrations and the locks, all by `d`. After a failure the
    /// connections are dropped, to be made again by the next read.
    pub async fn read(&mut self, d: Deadline) -> Result<Reading> {
        if self.busy {
            self.table = None;
            self.migrator = None;
        }
        self.busy = true;
        let mut read = self.read_once(d).await;
        match &mut read {
            Ok(r) => {
                if let Some(snap) = &mut r.snapshot {
                    self.remember(snap);
                }
            }
            Err(_) => {
                self.table = None;
                self.migrator = None;
            }
        }
        self.busy = false;
        read
    }

    /// Dates each lock the registry does not date by the earliest of what
    /// this read and the earlier ones saw. Without it, such a lock is held
    /// only "since the row's last change", which any other lock taken or
    /// released in the row moves on: a lock held for hours in a busy row
    /// would look young. Forgets the locks no longer held.
    fn remember(&mut self, snap: &mut Snapshot) {
        let mut seen = HashMap::new();
        for h in snap.held.iter_mut() {
            let key = (
                h.row.clone(),
                h.entry.shown_name().into_owned(),
                h.entry.holder().get().to_string(),
            );
            if !h.since_exact {
                let earliest = match (self.seen.get(&key), h.since_us) {
                    (Some(&before), Some(now)) => Some(before.min(now)),
                    (before, now) => before.copied().or(now),
                };
                h.since_us = earliest;
            }
            if let Some(t) = h.since_us {
                seen.insert(key, t);
            }
        }
        self.seen = seen;
    }

    async fn read_once(&mut self, d: Deadline) -> Result<Reading> {
        if self.migrator.is_none() {
            self.migrator = Some(Migrator::connect_until(&self.url, &self.connect, d).await?);
        }
        let Some(m) = &self.migrator else {
            return Err(Kind::Internal("no migrator after connecting".into()).into());
        };
        let seen = m.until(d).observe(&self.set, DEFAULT_TTL).await?;
        let migrations = crate::migrate::status(&self.set, &seen);
        let guard = seen.guard.holder.clone();
        if self.table.is_none() {
            match LockTable::connect_until(&self.url, &self.connect, d).await {
                Ok(t) => self.table = Some(t),
                // No `locks` table yet: the migrations say so.
                Err(e) if matches!(e.kind(), Kind::NoTable(_)) => {
                    return Ok(Reading {
                        snapshot: None,
                        migrations,
                        guard,
                        now_us: now_here(),
                    })
                }
                Err(e) => return Err(e),
            }
        }
        let Some(t) = &self.table else {
            return Err(Kind::Internal("no lock table after connecting".into()).into());
        };
        let snapshot = t.until(d).observe(&self.rows, self.probe.as_ref()).await?;
        Ok(Reading {
            // No row and no registration to read the server's clock from.
            now_us: match snapshot.now_us {
                0 => now_here(),
                t => t,
            },
            snapshot: Some(snapshot),
            migrations,
            guard,
        })
    }

    /// Closes both connections, by `d`.
    pub async fn close(&mut self, d: Deadline) {
        if let Some(t) = self.table.take() {
            let _ = t.until(d).disconnect().await;
        }
        if let Some(m) = self.migrator.take() {
            let _ = m.close(d).await;
        }
    }
}

/// This host's clock, in microseconds since the epoch.
fn now_here() -> i64 {
    let t = time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1000;
    i64::try_from(t).unwrap_or_default()
}
