//! Output: the structs that `--format json` serialises, and the tables built
//! from the same structs. Fetching data happens elsewhere; this module only
//! turns it into text.
//!
//! Tables use colour only when stdout is a terminal and `NO_COLOR` is unset.

use crate::audit::AuditRecord;
use crate::migrate::{MigrationStatus, State};
use crate::row::{holder_text, LockData, RowState};
use comfy_table::{presets, Cell, Color, ContentArrangement, Table};
use serde::{Deserialize, Serialize};
use std::io::IsTerminal;

/// Output format of listing commands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// A table for people.
    Table,
    /// JSON for scripts (schema in README.md).
    Json,
}

/// Whether stdout gets colour: a terminal, and `NO_COLOR` unset or empty.
pub fn colour() -> bool {
    std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

fn table(headers: &[&str]) -> Table {
    let mut t = Table::new();
    if std::io::stdout().is_terminal() {
        t.load_preset(presets::UTF8_FULL_CONDENSED)
            .set_content_arrangement(ContentArrangement::Dynamic);
    } else {
        t.load_preset(presets::ASCII_BORDERS_ONLY_CONDENSED);
    }
    if !colour() {
        t.force_no_tty();
    } else {
        t.enforce_styling();
    }
    t.set_header(headers.iter().map(Cell::new));
    t
}

/// Seconds since the epoch (possibly with a fraction) as RFC 3339 UTC.
pub fn epoch_text(epoch: &str) -> String {
    let (secs, frac) = match epoch.split_once('.') {
        Some((s, f)) => (s, f.trim_end_matches('0')),
        None => (epoch, ""),
    };
    let Ok(secs) = secs.parse::<i64>() else {
        return epoch.to_string();
    };
    let Ok(t) = time::OffsetDateTime::from_unix_timestamp(secs) else {
        return epoch.to_string();
    };
    let base = t
        .format(&time::macros::format_description!(
            "[year]-[month]-[day]T[hour]:[minute]:[second]"
        ))
        .unwrap_or_else(|_| epoch.to_string());
    if frac.is_empty() {
        format!("{base}Z")
    } else {
        format!("{base}.{frac}Z")
    }
}

/// A duration in seconds as `1d02h`, `3h04m`, `5m06s` or `7s`.
pub fn age_text(secs: i64) -> String {
    let (d, h, m, s) = (secs / 86_400, secs / 3600 % 24, secs / 60 % 60, secs % 60);
    if d > 0 {
        format!("{d}d{h:02}h")
    } else if h > 0 {
        format!("{h}h{m:02}m")
    } else if m > 0 {
        format!("{m}m{s:02}s")
    } else {
        format!("{s}s")
    }
}

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
            changed_at: s.changed_at.map(|t| epoch_text(&t.to_string())),
            age_seconds: s.age_secs(),
            locks,
            raw,
        }
    }
}

/// Longest value a table cell shows; `--format json` always has all of it.
const CELL_MAX: usize = 120;

/// A value for a table cell, shortened when very long.
fn clip(s: &str) -> String {
    if s.chars().count() <= CELL_MAX {
        return s.to_string();
    }
    let head: String = s.chars().take(CELL_MAX).collect();
    format!("{head}… ({} bytes in all; see --format json)", s.len())
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_cells_are_clipped() {
        assert_eq!(clip("short"), "short");
        let long = "x".repeat(500);
        let c = clip(&long);
        assert!(
            c.starts_with(&"x".repeat(CELL_MAX))
                && c.ends_with("(500 bytes in all; see --format json)"),
            "{c}"
        );
    }

    #[test]
    fn times() {
        assert_eq!(epoch_text("0"), "1970-01-01T00:00:00Z");
        assert_eq!(epoch_text("1764129600.120"), "2025-11-26T04:00:00.12Z");
        assert_eq!(epoch_text("1764129600.000"), "2025-11-26T04:00:00Z");
        assert_eq!(age_text(7), "7s");
        assert_eq!(age_text(366), "6m06s");
        assert_eq!(age_text(3 * 3600 + 240), "3h04m");
        assert_eq!(age_text(90_000), "1d01h");
    }
}
