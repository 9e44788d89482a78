//! Reading what a migration's state comes from (the history, the live
//! tables, the run guard) in as few round trips as a no-op `migrate up`
//! can afford, and checking that every history row is one refinery can use.

use crate::db::value::{Cells, Record};
use crate::db::{sql, Lease};
use crate::error::Result;
use crate::migrate::guard::{self, GuardState};
use crate::migrate::schema::{self, Live};
use crate::migrate::set::{MigrationSet, Planned};
use std::time::Duration;

/// One row of refinery's history.
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

/// Everything the states come from, read together.
#[derive(Clone, Debug, Default)]
pub struct Observed {
    /// The history, oldest first.
    pub history: Vec<Applied>,
    /// The tables the migrations make, as they are.
    pub live: Live,
    /// The run guard, and what a run recorded it was applying.
    pub guard: GuardState,
}

/// Reads the history, the live tables and the guard: two round trips when
/// the tables are as their recorded migrations made them, one more to
/// describe them exactly when not, one more for the tables an interrupted
/// `migrate down` left renamed (when there are any), and one for each
/// table `information_schema` does not list (to tell an absent table from
/// one this account may not see). A table dropped between the two round
/// trips (a `migrate down` on another host) means looking again.
pub(crate) async fn observe(c: &mut Lease, set: &MigrationSet, ttl: Duration) -> Result<Observed> {
    let mut tries = 0;
    loop {
        match observe_once(c, set, ttl).await {
            Err(e) if e.server_code() == Some(1146) && tries < 3 => tries += 1,
            done => return done,
        }
    }
}

async fn observe_once(c: &mut Lease, set: &MigrationSet, ttl: Duration) -> Result<Observed> {
    let mut tables: Vec<String> = vec![sql::HISTORY_TABLE.into(), sql::GUARD_TABLE.into()];
    let mut made_by: Vec<(i32, Vec<String>)> = Vec::new();
    for m in set.migrations() {
        let made = schema::tables_of(&Planned::up(m));
        for t in &made {
            if !tables.contains(t) {
                tables.push(t.clone());
            }
        }
        made_by.push((m.version(), made));
    }
    // Which tables exist (the history's and the guard's too) first, then,
    // in one more round trip, only the reads that cannot fail for a
    // missing table: locksmith's own tables described (no rows), the
    // history and the guard.
    let mut present = Vec::new();
    let mut copies = Vec::new();
    for row in c.query_rows(&sql::select_tables(&tables)).await? {
        let name: String = Cells::new(row, "information_schema.TABLES").take(0, "TABLE_NAME")?;
        if tables.contains(&name) {
            present.push(name);
        } else if sql::quarantined_table(&name).is_some() {
            copies.push(name);
        }
    }
    // `information_schema` lists only the tables this account has some
    // privilege on, so a table it does not list is either absent or hidden
    // from this account. One read tells which; a hidden table is an error
    // (it cannot be read), never taken for one that is not there.
    for t in &tables {
        if present.contains(t) {
            continue;
        }
        match c.query_drop(&sql::probe_table(t)).await {
            Err(e) if e.server_code() == Some(1146) => {}
            Err(e) => return Err(e),
            // Made since the look above: described with the others.
            Ok(()) => present.push(t.clone()),
        }
    }
    let there = |name: &str| present.iter().any(|p| p == name);
    let history_there = there(sql::HISTORY_TABLE);
    let guard_there = there(sql::GUARD_TABLE);
    let mut live = schema::Live::default();
    let mut described = Vec::new();
    for t in present.iter().filter(|t| tables[2..].contains(t)) {
        live.tables.insert(t.clone(), Vec::new());
        if schema::checkable(t) {
            described.push(t.clone());
        }
    }
    let mut reads = Vec::new();
    if !described.is_empty() {
        reads.push(sql::RESULTS_UNCONVERTED.to_string());
        reads.extend(described.iter().map(|t| sql::describe_table(t)));
        reads.push(sql::RESULTS_UTF8MB4.to_string());
    }
    if history_there {
        reads.push(sql::SELECT_HISTORY.to_string());
    }
    if guard_there {
        reads.push(sql::guard_read(ttl.as_secs_f64()));
    }
    let sets = match reads.is_empty() {
        true => Vec::new(),
        false => c.query_sets(&reads.join("; ")).await?,
    };
    // The `SET`s return no result set; every read returns one.
    let mut sets = sets.into_iter().filter(|s| s.has_columns());
    let descriptions: Vec<_> = described
        .iter()
        .map(|_| sets.next().unwrap_or_default())
        .collect();
    let history = match history_there {
        true => applied_from(sets.next().unwrap_or_default().rows)?,
        false => Vec::new(),
    };
    let guard = match guard_there {
        true => guard::from_rows(c, sets.next().unwrap_or_default().rows).await?,
        false => GuardState::default(),
    };
    // A result's column descriptions leave out what `SELECT *` does not
    // show (INVISIBLE columns), so they are trusted only for a table whose
    // migrations are all recorded: there, columns beyond the migration's
    // do not count anyway. A table that may be adopted is always described
    // exactly, as is one whose descriptions show a difference.
    let recorded = |t: &String| {
        made_by
            .iter()
            .filter(|(_, made)| made.contains(t))
            .all(|(v, _)| history.iter().any(|a| a.version == *v))
    };
    let mut unsure = Vec::new();
    for (t, d) in described.iter().zip(descriptions) {
        match d.described() {
            Some(cols) if recorded(t) && schema::differences(t, &cols, false).is_empty() => {
                live.tables.insert(t.clone(), cols);
            }
            _ => unsure.push(t.clone()),
        }
    }
    if !unsure.is_empty() {
        // Not as expected, or not described plainly enough to tell: the
        // exact description names what differs.
        let exact = schema::from_rows(c.query_rows(&sql::select_columns(&unsure)).await?)?;
        for t in &unsure {
            live.tables.remove(t);
        }
        live.tables.extend(exact);
    }
    live.quarantined = schema::read_quarantined(c, &copies).await?;
    Ok(Observed {
        history,
        live,
        guard,
    })
}

/// Reads the history table; a missing table means nothing is applied.
pub(crate) async fn applied(c: &mut Lease) -> Result<Vec<Applied>> {
    match c.query_rows(sql::SELECT_HISTORY).await {
        Ok(rows) => applied_from(rows),
        Err(e) if e.server_code() == Some(1146) => Ok(Vec::new()),
        Err(e) => Err(e),
    }
}

/// The history as [`sql::SELECT_HISTORY`]'s rows hold it. Every row must be
/// one refinery can use: a version, a name, an RFC 3339 time and a numeric
/// checksum.
fn applied_from(rows: Vec<Record>) -> Result<Vec<Applied>> {
    rows.into_iter()
        .map(|row| {
            let mut c = Cells::new(row, sql::HISTORY_TABLE);
            let version: i32 = c.take(0, "version")?;
            c.name_row(format!("version {version}"));
            let a = Applied {
                version,
                name: c.take(1, "name")?,
                applied_on: c.take(2, "applied_on")?,
                checksum: c.take(3, "checksum")?,
            };
            if time::OffsetDateTime::parse(
                &a.applied_on,
                &time::format_description::well_known::Rfc3339,
            )
            .is_err()
            {
                return Err(c.invalid(
                    "applied_on",
                    &format!(
                        "the text {:?}, not an RFC 3339 time as refinery writes it",
                        a.applied_on
                    ),
                ));
            }
            if a.checksum.parse::<u64>().is_err() {
                return Err(c.invalid(
                    "checksum",
                    &format!(
                        "the text {:?}, not a refinery checksum (a number)",
                        a.checksum
                    ),
                ));
            }
            Ok(a)
        })
        .collect()
}
