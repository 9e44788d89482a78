//! The structs that `--format json` serialises, and the tables built from
//! the same structs, so that both formats always say the same thing.

use super::style::{age_text, clip, render, table};
use crate::bench::BenchReport;
use crate::liveness::{Liveness, Registration, State as Verdict};
use crate::locks::{AuditRecord, LockData, RowState, Snapshot, Version};
use crate::migrate::{Holder, MigrationStatus, State};
use crate::shown::{shown, shown_id};
use comfy_table::{Cell, Color};
use serde::{Deserialize, Serialize};

// ---- locks dump -----------------------------------------------------------

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
}

/// The dump as a table: one line per held lock (a name written twice, on
/// two lines), every value escaped for the terminal.
pub fn dump_table(d: &Dump) -> String {
    let mut t = table(&[
        "ROW",
        "LOCK",
        "HOLDER",
        "LIVENESS",
        "VERSION",
        "LAST CHANGE",
        "AGE",
    ]);
    for r in &d.rows {
        let changed = r.changed_at.clone().unwrap_or_else(|| "-".into());
        let age = r.age_seconds.map(age_text).unwrap_or_else(|| "-".into());
        let version = match (r.version, &r.version_text) {
            (Some(v), _) => v.to_string(),
            (None, Some(t)) => format!("`{}`", shown(t)),
            (None, None) => "NULL".into(),
        };
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

/// The waiters, and the deadlocks among them, as a table and lines (empty
/// when nobody waits).
pub fn waiters_table(d: &Dump) -> String {
    let mut out = String::new();
    if d.waiters.is_empty() {
        out.push_str("Nobody waits.\n");
    } else {
        let mut t = table(&[
            "WAITER",
            "WAITS FOR",
            "SINCE",
            "WAITED",
            "BLOCKED BY",
            "LIVENESS",
        ]);
        for w in &d.waiters {
            let mut wants = format!("{} in {}", shown(&w.lock), shown_id(&w.row));
            for p in &w.unless_held {
                wants.push_str(&format!(", any {}", shown(p)));
            }
            let blocked: Vec<String> = w
                .blocked_by
                .iter()
                .map(|b| format!("{} (held by {})", shown(&b.lock), shown_id(&b.holder)))
                .collect();
            t.add_row(vec![
                Cell::new(shown_id(&w.holder)),
                Cell::new(wants),
                Cell::new(&w.since),
                Cell::new(age_text(w.waited_seconds as i64)),
                Cell::new(blocked.join(", ")),
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
    let mut names: Vec<String> = cycle.iter().map(|h| shown_id(h).into_owned()).collect();
    if let Some(first) = names.first().cloned() {
        names.push(first);
    }
    format!(
        "DEADLOCK: {} (each waits for a lock the next holds; none can go on)",
        names.join(" -> ")
    )
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
