//! The structs that `--format json` serialises, and the tables built from
//! the same structs, so that both formats always say the same thing.

use super::style::{age_text, clip, table};
use crate::bench::BenchReport;
use crate::locks::data::holder_text;
use crate::locks::{AuditRecord, LockData, RowState};
use crate::migrate::{Holder, MigrationStatus, State};
use comfy_table::{Cell, Color};
use serde::{Deserialize, Serialize};

// ---- locks dump -----------------------------------------------------------

/// `locks dump --format json`: the whole document.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Dump {
    /// The rows, by id.
    pub rows: Vec<DumpRow>,
}

/// One row of `locks`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct DumpRow {
    /// The row id.
    pub row: String,
    /// Its version.
    pub version: i64,
    /// Last change, RFC 3339 UTC, server clock (null if unknown).
    pub changed_at: Option<String>,
    /// Seconds since the last change, by the server's clock.
    pub age_seconds: Option<i64>,
    /// Held locks in stored order (empty when none, or when `raw` is set).
    pub locks: Vec<DumpLock>,
    /// The verbatim dataJson when it is not a JSON object; otherwise null.
    pub raw: Option<String>,
}

/// One held lock.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct DumpLock {
    /// Lock name.
    pub name: String,
    /// Holder, any JSON value (Cloudron stores a task id).
    pub holder: serde_json::Value,
}

impl From<&RowState> for DumpRow {
    fn from(s: &RowState) -> DumpRow {
        let (locks, raw) = match &s.data {
            LockData::Locks(m) => (
                m.iter()
                    .map(|(k, v)| DumpLock {
                        name: k.clone(),
                        holder: v.clone(),
                    })
                    .collect(),
                None,
            ),
            LockData::Null => (Vec::new(), None),
            LockData::Raw(r) => (Vec::new(), Some(r.clone())),
        };
        DumpRow {
            row: s.id.clone(),
            version: s.version,
            changed_at: s.changed_at_text(),
            age_seconds: s.age_secs(),
            locks,
            raw,
        }
    }
}

/// The dump as a table: one line per held lock.
pub fn dump_table(d: &Dump) -> String {
    let mut t = table(&["ROW", "LOCK", "HOLDER", "VERSION", "LAST CHANGE", "AGE"]);
    for r in &d.rows {
        let changed = r.changed_at.clone().unwrap_or_else(|| "-".into());
        let age = r.age_seconds.map(age_text).unwrap_or_else(|| "-".into());
        let mut line = |lock: Cell, holder: String| {
            t.add_row(vec![
                Cell::new(&r.row),
                lock,
                Cell::new(holder),
                Cell::new(r.version),
                Cell::new(&changed),
                Cell::new(&age),
            ]);
        };
        if let Some(raw) = &r.raw {
            line(Cell::new("(not a JSON object)").fg(Color::Red), clip(raw));
        } else if r.locks.is_empty() {
            line(Cell::new("(no locks)").fg(Color::DarkGrey), String::new());
        } else {
            for l in &r.locks {
                line(Cell::new(clip(&l.name)), clip(&holder_text(&l.holder)));
            }
        }
    }
    t.to_string()
}

// ---- migrate status -------------------------------------------------------

/// `migrate status --format json`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct StatusDoc {
    /// Every migration, known or found in the history, by version.
    pub migrations: Vec<StatusLine>,
    /// The run holding the migration guard, if one does.
    pub guard: Option<GuardDoc>,
}

/// Who holds the migration guard.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct GuardDoc {
    /// `HOST:PID` of the run.
    pub holder: String,
    /// Since when, RFC 3339 UTC.
    pub since: Option<String>,
    /// Its heartbeat has stopped; the next run takes over.
    pub stale: bool,
}

impl From<&Holder> for GuardDoc {
    fn from(h: &Holder) -> GuardDoc {
        GuardDoc {
            holder: h.holder.clone(),
            since: h.since.clone(),
            stale: h.stale,
        }
    }
}

/// One migration.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct StatusLine {
    /// Version.
    pub version: i32,
    /// Name.
    pub name: String,
    /// `applied`, `pending`, `divergent` or `applied-unknown`.
    pub state: String,
    /// When applied, as refinery recorded it.
    pub applied_on: Option<String>,
}

impl From<&MigrationStatus> for StatusLine {
    fn from(s: &MigrationStatus) -> StatusLine {
        StatusLine {
            version: s.version,
            name: s.name.clone(),
            state: s.state.label().into(),
            applied_on: s.applied_on.clone(),
        }
    }
}

/// The status as a table.
pub fn status_table(list: &[MigrationStatus]) -> String {
    let mut t = table(&["VERSION", "NAME", "STATE", "APPLIED ON"]);
    for s in list {
        let colour = match s.state {
            State::Applied => Color::Green,
            State::Pending => Color::Yellow,
            State::Divergent | State::AppliedUnknown => Color::Red,
        };
        t.add_row(vec![
            Cell::new(s.version),
            Cell::new(&s.name),
            Cell::new(s.state.label()).fg(colour),
            Cell::new(s.applied_on.as_deref().unwrap_or("-")),
        ]);
    }
    t.to_string()
}

// ---- locks history --------------------------------------------------------

/// `locks history --format json`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct HistoryDoc {
    /// Records, oldest first.
    pub records: Vec<AuditRecord>,
}

/// The audit records as a table.
pub fn history_table(records: &[AuditRecord]) -> String {
    let mut t = table(&["#", "AT", "WHO", "ACTION", "ROW", "VERSION", "CHANGE"]);
    for r in records {
        let version = match (r.version_before, r.version_after) {
            (Some(b), Some(a)) => format!("{b} -> {a}"),
            _ => "-".into(),
        };
        let mut change: Vec<String> = r
            .removed
            .iter()
            .map(|(k, v)| format!("released {k} (held by {})", holder_text(v)))
            .collect();
        if let Some(raw) = &r.replaced_raw {
            change.push(format!("replaced unparsable data: {raw}"));
        }
        if change.is_empty() {
            change.push("version only".into());
        }
        t.add_row(vec![
            Cell::new(r.id),
            Cell::new(&r.at),
            Cell::new(format!("{} ({})", r.os_user, r.db_user)),
            Cell::new(&r.action),
            Cell::new(&r.row),
            Cell::new(version),
            Cell::new(change.join("\n")),
        ]);
    }
    t.to_string()
}

// ---- bench ----------------------------------------------------------------

/// A bench report as a two-column table.
pub fn bench_table(r: &BenchReport) -> String {
    let mut t = table(&["METRIC", "VALUE"]);
    let rows: Vec<(&str, String)> = vec![
        ("workers", r.workers.to_string()),
        ("held locks (K)", r.held.to_string()),
        ("lock ops/s", format!("{:.0}", r.ops_per_sec)),
        (
            "ceiling UPDATE commits/s",
            format!("{:.0}", r.ceiling_per_sec),
        ),
        ("ratio", format!("{:.2}", r.ratio)),
        ("acquire p50", format!("{:.2} ms", r.p50_ms)),
        ("acquire p99", format!("{:.2} ms", r.p99_ms)),
        ("acquire max", format!("{:.2} ms", r.max_ms)),
        ("conflicts/op", format!("{:.4}", r.conflicts_per_op)),
        ("slow path/op", format!("{:.4}", r.slow_path_per_op)),
        ("retried (1213 …)/op", format!("{:.4}", r.retried_per_op)),
        ("errors", r.errors.to_string()),
        (
            "end-of-run check",
            if r.check_passed { "passed" } else { "FAILED" }.to_string(),
        ),
    ];
    for (k, v) in rows {
        t.add_row(vec![k.to_string(), v]);
    }
    if r.nodes.len() > 1 {
        for n in &r.nodes {
            t.add_row(vec![
                format!("node {}", n.node),
                format!(
                    "{} workers, {:.0} lock ops/s, {:.4} retried/op",
                    n.workers, n.ops_per_sec, n.retried_per_op
                ),
            ]);
        }
    }
    t.to_string()
}
