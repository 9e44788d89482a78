//! The structs that `--format json` serialises for `migrate status`,
//! `locks history` and `bench`, and the tables built from the same structs,
//! so that both formats always say the same thing (`locks dump`'s are in
//! [`super::dump`]).

use super::style::{clip, render, table};
use crate::bench::BenchReport;
use crate::locks::AuditRecord;
use crate::migrate::{Holder, MigrationStatus, State};
use crate::shown::{shown, shown_id};
use comfy_table::{Cell, Color};
use serde::{Deserialize, Serialize};

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
    /// `applied`, `pending`, `divergent`, `applied-unknown`, `missing`,
    /// `present-unrecorded`, `drifted` or `interrupted`.
    pub state: String,
    /// When applied, as refinery recorded it.
    pub applied_on: Option<String>,
    /// What is off, in words (empty when nothing is).
    pub detail: Vec<String>,
    /// What `migrate up` does about it: `apply`, `adopt`, `re-create`, or
    /// null (nothing to do, or `up` refuses).
    pub next: Option<String>,
}

impl From<&MigrationStatus> for StatusLine {
    fn from(s: &MigrationStatus) -> StatusLine {
        StatusLine {
            version: s.version,
            name: s.name.clone(),
            state: s.state.label().into(),
            applied_on: s.applied_on.clone(),
            detail: s.detail.clone(),
            next: s.next.map(|a| a.label().into()),
        }
    }
}

/// The status as a table.
pub fn status_table(list: &[MigrationStatus]) -> String {
    let mut t = table(&["VERSION", "NAME", "STATE", "APPLIED ON"]);
    for s in list {
        let colour = match s.state {
            State::Applied => Color::Green,
            State::Pending | State::PresentUnrecorded | State::Missing => Color::Yellow,
            State::Divergent
            | State::AppliedUnknown
            | State::Drifted
            | State::Interrupted
            | State::Stranded => Color::Red,
        };
        t.add_row(vec![
            Cell::new(s.version),
            Cell::new(&s.name),
            Cell::new(s.state.label()).fg(colour),
            Cell::new(s.applied_on.as_deref().map_or("-".into(), to_the_second)),
        ]);
    }
    render(t, &[])
}

// ---- locks history --------------------------------------------------------

/// `locks history --format json`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HistoryDoc {
    /// Records, oldest first.
    pub records: Vec<AuditRecord>,
}

/// The audit records as a table: free text (who, what changed) wraps on a
/// narrow terminal; times are to the second (`--format json` has the
/// milliseconds).
pub fn history_table(records: &[AuditRecord]) -> String {
    let mut t = table(&["#", "AT", "WHO", "ACTION", "ROW", "CHANGE"]);
    for r in records {
        t.add_row(vec![
            Cell::new(r.id),
            Cell::new(to_the_second(&r.at)),
            Cell::new(format!("{} ({})", shown(&r.os_user), shown(&r.db_user))),
            Cell::new(shown(&r.action)),
            Cell::new(shown_id(&r.row)),
            Cell::new(audit_change(r)),
        ]);
    }
    render(t, &[2, 5])
}

/// What an audit record changed, in words (`locks history`'s CHANGE), every
/// stored text escaped:
/// `4 -> 5: released backup (held by vm:15380)`, one line per lock.
pub fn audit_change(r: &AuditRecord) -> String {
    let version = match (r.version_before, r.version_after) {
        (Some(b), Some(a)) => format!("{b} -> {a}"),
        _ => "-".into(),
    };
    let evidence: serde_json::Map<String, serde_json::Value> = r
        .evidence
        .as_ref()
        .and_then(|e| serde_json::from_str(e.get()).ok())
        .unwrap_or_default();
    let mut change: Vec<String> = r
        .removed_locks()
        .iter()
        .map(|e| {
            let name = e.shown_name();
            let dead = evidence
                .get(name.as_ref())
                .and_then(|w| w.as_str())
                .map(|why| format!(": dead: {}", shown(why)))
                .unwrap_or_default();
            format!(
                "released {} (held by {}){dead}",
                shown(&name),
                shown(&e.holder_text())
            )
        })
        .collect();
    if let Some(raw) = &r.replaced_raw {
        let what = match r.action.as_str() {
            "repair" => "repaired; the data was",
            _ => "replaced unparsable data:",
        };
        change.push(format!("{what} {}", clip(&shown(raw))));
    }
    if change.is_empty() {
        change.push(match r.action.as_str() {
            "mark-applied" => "recorded as applied".into(),
            _ => "version only".into(),
        });
    }
    match r.action.as_str() {
        "mark-applied" => change.join("\n"),
        _ => format!("{version}: {}", change.join("\n")),
    }
}

/// An audit record on one line (its change's lines joined with `; `), for
/// `locks watch`'s detail: `#3 2026-11-26T06:41:12Z root@vm (box@%)
/// release-dead platform: 4 -> 5: released backup (held by vm:15380)`.
pub fn audit_line(r: &AuditRecord) -> String {
    format!(
        "#{} {} {} ({}) {} {}: {}",
        r.id,
        to_the_second(&r.at),
        shown(&r.os_user),
        shown(&r.db_user),
        shown(&r.action),
        shown_id(&r.row),
        audit_change(r).replace('\n', "; ")
    )
}

/// `2026-11-26T04:30:12.362Z` → `2026-11-26T04:30:12Z`.
fn to_the_second(at: &str) -> String {
    match at.split_once('.') {
        Some((secs, _)) if at.ends_with('Z') => format!("{secs}Z"),
        _ => at.to_string(),
    }
}

// ---- bench ----------------------------------------------------------------

/// A bench report as a two-column table.
pub fn bench_table(r: &BenchReport) -> String {
    let mut t = table(&["METRIC", "VALUE"]);
    let rows: Vec<(&str, String)> = vec![
        ("workers", r.workers.to_string()),
        ("held locks (K)", r.held.to_string()),
        (
            "holders' lease",
            r.lease_seconds
                .map_or("none (unregistered)".into(), |l| format!("{l}s")),
        ),
        ("lock ops/s", format!("{:.0}", r.ops_per_sec)),
        (
            "row ceiling (same-size rewrite)/s",
            format!("{:.0}", r.row_ceiling_per_sec),
        ),
        ("ratio to row ceiling", format!("{:.2}", r.row_ratio)),
        (
            "INT ceiling (version+1)/s",
            format!("{:.0}", r.ceiling_per_sec),
        ),
        ("ratio to INT ceiling", format!("{:.2}", r.ratio)),
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
    render(t, &[0])
}
