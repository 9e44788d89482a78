//! `locks dump`: the JSON document `--format json` serialises, and the
//! tables (locks, waiters, deadlocks) built from the same structs, so that
//! both formats always say the same thing. Apart from the other listings
//! because `watch` and the `serve` page show the same document.

use super::style::{age_text, clip, render, table};
use crate::liveness::{Liveness, Registration, State as Verdict};
use crate::locks::{LockData, RowState, Snapshot, Version};
use crate::shown::{shown, shown_id};
use comfy_table::{Cell, Color};
use serde::{Deserialize, Serialize};

/// `locks dump --format json`: the whole document.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Dump {
    /// The rows, by id.
    pub rows: Vec<DumpRow>,
    /// Registered holders waiting for a lock, with what is in their way.
    pub waiters: Vec<DumpWaiter>,
    /// Deadlocks: cycles of holders, each waiting for a lock the next one
    /// holds (the last waits for the first's).
    pub deadlocks: Vec<Vec<String>>,
}

/// One row of `locks`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DumpRow {
    /// The row id, exactly as stored.
    pub row: String,
    /// Its version; null when it is NULL or not a number (see
    /// `version_text`).
    pub version: Option<i64>,
    /// The version as stored when it is not a number; otherwise null.
    pub version_text: Option<String>,
    /// Last change, RFC 3339 UTC, server clock (null if unknown).
    pub changed_at: Option<String>,
    /// Seconds since the last change, by the server's clock.
    pub age_seconds: Option<i64>,
    /// Held locks in stored order (empty when none, or when `raw` is set).
    /// A name written twice is listed twice.
    pub locks: Vec<DumpLock>,
    /// The verbatim dataJson when it is not a JSON object; otherwise null.
    pub raw: Option<String>,
    /// What is wrong with the row, when something is (lock writes refuse
    /// it; `locks repair` mends it); otherwise null.
    pub problem: Option<String>,
}

/// One held lock.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DumpLock {
    /// Lock name (the stored key text, quotes and escapes included, when
    /// it holds an escape no string can).
    pub name: String,
    /// Holder: any JSON value, exactly as stored (Cloudron stores a task
    /// id; other writers' numbers and escapes are kept as written).
    pub holder: Box<serde_json::value::RawValue>,
    /// Whether the holder is alive, and why it is judged so.
    pub liveness: DumpLiveness,
    /// When it was taken (RFC 3339 UTC, server clock), when the holder
    /// registry says; otherwise null (the row's `changed_at` is a lower
    /// bound).
    pub since: Option<String>,
    /// What the holder registry says of the holder; null when it did not
    /// register.
    pub registration: Option<DumpRegistration>,
}

/// A verdict on a holder.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct DumpLiveness {
    /// `alive`, `dead` or `unknown`.
    pub state: String,
    /// Why, in words: the evidence for `dead`.
    pub why: String,
}

impl From<&Liveness> for DumpLiveness {
    fn from(l: &Liveness) -> DumpLiveness {
        DumpLiveness {
            state: l.state.as_str().into(),
            why: l.why.clone(),
        }
    }
}

/// A holder as the holder registry knows it.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct DumpRegistration {
    /// Its host.
    pub host: String,
    /// Its process.
    pub pid: i32,
    /// Its lease in seconds; null: judged by its process alone.
    pub lease_seconds: Option<f64>,
    /// Seconds since its last heartbeat, by the server's clock.
    pub heartbeat_age_seconds: f64,
    /// The lock's fencing token (the row's version right after the
    /// acquire).
    pub fence: Option<i64>,
    /// When its process started (RFC 3339 UTC, its host's clock).
    pub started: Option<String>,
    /// Its command line, without secrets.
    pub command: Option<String>,
}

impl DumpRegistration {
    /// What the registry says of a holder, as `dump` shows it.
    pub fn of(r: &Registration) -> DumpRegistration {
        DumpRegistration {
            host: r.host.clone(),
            pid: r.pid,
            lease_seconds: r.lease_ms.map(|ms| ms as f64 / 1000.0),
            heartbeat_age_seconds: ((r.read_us - r.beat_us).max(0)) as f64 / 1e6,
            fence: r.fence,
            started: r.started_us.map(micros_text),
            command: r.command.clone(),
        }
    }
}

/// A registered holder waiting for a lock.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct DumpWaiter {
    /// The row of the lock it waits for.
    pub row: String,
    /// The lock it waits for.
    pub lock: String,
    /// The globs it also waits on (`--unless-held`).
    pub unless_held: Vec<String>,
    /// Who waits.
    pub holder: String,
    /// Since when (RFC 3339 UTC, server clock).
    pub since: String,
    /// How long it has waited, in seconds.
    pub waited_seconds: f64,
    /// Whether the waiter is alive (a dead one waits for nothing).
    pub liveness: DumpLiveness,
    /// The locks in its way: name and holder.
    pub blocked_by: Vec<DumpBlocker>,
}

/// A lock in a waiter's way.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct DumpBlocker {
    pub lock: String,
    pub holder: String,
}

/// Microseconds since the epoch as RFC 3339 UTC.
fn micros_text(us: i64) -> String {
    crate::db::value::epoch_text(&us.div_euclid(1_000_000).to_string())
}

impl Dump {
    /// The document of a snapshot.
    pub fn of(s: &Snapshot) -> Dump {
        Dump {
            rows: s.rows.iter().map(|r| DumpRow::of(r, s)).collect(),
            waiters: s
                .waiters
                .iter()
                .map(|w| DumpWaiter {
                    row: w.registration.row.clone(),
                    lock: w.registration.lock.clone(),
                    unless_held: w.registration.unless_held.clone(),
                    holder: w.registration.holder.clone(),
                    since: micros_text(w.registration.since_us),
                    waited_seconds: ((s.now_us - w.registration.since_us).max(0)) as f64 / 1e6,
                    liveness: (&w.liveness).into(),
                    blocked_by: w
                        .blocked_by
                        .iter()
                        .map(|(lock, holder)| DumpBlocker {
                            lock: lock.clone(),
                            holder: holder.clone(),
                        })
                        .collect(),
                })
                .collect(),
            deadlocks: s.deadlocks.clone(),
        }
    }
}

impl DumpRow {
    /// Row `s` of snapshot `snap`, each lock with its holder judged.
    fn of(s: &RowState, snap: &Snapshot) -> DumpRow {
        let (locks, raw) = match &s.data {
            LockData::Locks(_) => (
                snap.held_in(&s.id)
                    .map(|h| DumpLock {
                        name: h.entry.shown_name().into_owned(),
                        holder: h.entry.holder().to_owned(),
                        liveness: (&h.liveness).into(),
                        since: h.since_us.filter(|_| h.since_exact).map(micros_text),
                        registration: h.registration.as_ref().map(DumpRegistration::of),
                    })
                    .collect(),
                None,
            ),
            LockData::Null => (Vec::new(), None),
            LockData::Raw { text, .. } => (Vec::new(), Some(text.clone())),
        };
        DumpRow {
            row: s.id.clone(),
            version: s.version.number(),
            version_text: match &s.version {
                Version::Text(t) => Some(t.clone()),
                _ => None,
            },
            changed_at: s.changed_at_text(),
            age_seconds: s.age_secs(),
            locks,
            raw,
            problem: s.problem(),
        }
    }

    /// When the row last changed, or `-`.
    pub fn changed_cell(&self) -> String {
        self.changed_at.clone().unwrap_or_else(|| "-".into())
    }

    /// How long ago the row last changed, or `-`.
    pub fn age_cell(&self) -> String {
        self.age_seconds.map(age_text).unwrap_or_else(|| "-".into())
    }

    /// The version: a number, a text that is not one in backquotes
    /// (through `escape`, the medium's own), or `NULL`.
    pub fn version_cell(&self, escape: impl Fn(&str) -> String) -> String {
        match (self.version, &self.version_text) {
            (Some(v), _) => v.to_string(),
            (None, Some(t)) => format!("`{}`", escape(t)),
            (None, None) => "NULL".into(),
        }
    }
}

/// The columns of the dump's table, in the terminal and on `serve`'s page.
pub const COLUMNS: [&str; 7] = [
    "ROW",
    "LOCK",
    "HOLDER",
    "LIVENESS",
    "VERSION",
    "LAST CHANGE",
    "AGE",
];

/// The dump as a table: one line per held lock (a name written twice, on
/// two lines), every value escaped for the terminal.
pub fn dump_table(d: &Dump) -> String {
    let mut t = table(&COLUMNS);
    for r in &d.rows {
        let (changed, age) = (r.changed_cell(), r.age_cell());
        let version = r.version_cell(|t| shown(t).into_owned());
        let bad = r.problem.is_some();
        let mut line = |lock: Cell, holder: String, liveness: Cell| {
            let version = match bad {
                true => Cell::new(&version).fg(Color::Red),
                false => Cell::new(&version),
            };
            t.add_row(vec![
                Cell::new(shown_id(&r.row)),
                lock,
                Cell::new(holder),
                liveness,
                version,
                Cell::new(&changed),
                Cell::new(&age),
            ]);
        };
        if let Some(raw) = &r.raw {
            line(
                Cell::new("(not a JSON object)").fg(Color::Red),
                clip(&shown(raw)),
                Cell::new(""),
            );
        } else if r.locks.is_empty() {
            line(
                Cell::new("(no locks)").fg(Color::DarkGrey),
                String::new(),
                Cell::new(""),
            );
        } else {
            for l in &r.locks {
                let holder = crate::locks::entries::holder_text(l.holder.get());
                line(
                    Cell::new(clip(&shown(&l.name))),
                    clip(&shown(&holder)),
                    liveness_cell(&l.liveness),
                );
            }
        }
    }
    render(t, &[2, 3])
}

/// A verdict in a table: `dead: why`, coloured by state.
pub fn liveness_cell(l: &DumpLiveness) -> Cell {
    let text = shown(&format!("{}: {}", l.state, l.why)).into_owned();
    match l.state.as_str() {
        s if s == Verdict::Dead.as_str() => Cell::new(text).fg(Color::Red),
        s if s == Verdict::Alive.as_str() => Cell::new(text).fg(Color::Green),
        _ => Cell::new(text).fg(Color::Yellow),
    }
}

/// The columns of the waiters' table, in the terminal and on `serve`'s page.
pub const WAITER_COLUMNS: [&str; 6] = [
    "WAITER",
    "WAITS FOR",
    "SINCE",
    "WAITED",
    "BLOCKED BY",
    "LIVENESS",
];

impl DumpWaiter {
    /// What it waits for: the lock in its row, and any `--unless-held`
    /// patterns; stored text through `text`, ids through `id` (the
    /// medium's escapes).
    pub fn wants_cell(&self, text: impl Fn(&str) -> String, id: impl Fn(&str) -> String) -> String {
        let mut wants = format!("{} in {}", text(&self.lock), id(&self.row));
        for p in &self.unless_held {
            wants.push_str(&format!(", any {}", text(p)));
        }
        wants
    }

    /// What is in its way: each lock and its holder.
    pub fn blocked_cell(
        &self,
        text: impl Fn(&str) -> String,
        id: impl Fn(&str) -> String,
    ) -> String {
        let blocked: Vec<String> = self
            .blocked_by
            .iter()
            .map(|b| format!("{} (held by {})", text(&b.lock), id(&b.holder)))
            .collect();
        blocked.join(", ")
    }
}

/// The waiters, and the deadlocks among them, as a table and lines (empty
/// when nobody waits).
pub fn waiters_table(d: &Dump) -> String {
    let mut out = String::new();
    if d.waiters.is_empty() {
        out.push_str("Nobody waits.\n");
    } else {
        let mut t = table(&WAITER_COLUMNS);
        let (text, id) = (
            |s: &str| shown(s).into_owned(),
            |s: &str| shown_id(s).into_owned(),
        );
        for w in &d.waiters {
            t.add_row(vec![
                Cell::new(id(&w.holder)),
                Cell::new(w.wants_cell(text, id)),
                Cell::new(&w.since),
                Cell::new(age_text(w.waited_seconds as i64)),
                Cell::new(w.blocked_cell(text, id)),
                liveness_cell(&w.liveness),
            ]);
        }
        out.push_str(&render(t, &[4, 5]));
        out.push('\n');
    }
    for cycle in &d.deadlocks {
        out.push_str(&deadlock_line(cycle));
        out.push('\n');
    }
    out
}

/// A deadlock in words, its holders escaped: `DEADLOCK: a -> b -> a (…)`.
pub fn deadlock_line(cycle: &[String]) -> String {
    deadlock_text(cycle, |h| shown_id(h).into_owned())
}

/// A deadlock in words, its holders through `id` (the medium's escape).
pub fn deadlock_text(cycle: &[String], id: impl Fn(&str) -> String) -> String {
    let mut names: Vec<String> = cycle.iter().map(|h| id(h)).collect();
    if let Some(first) = names.first().cloned() {
        names.push(first);
    }
    format!(
        "DEADLOCK: {} (each waits for a lock the next holds; none can go on)",
        names.join(" -> ")
    )
}
