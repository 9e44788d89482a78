//! The Prometheus metrics of one read of the database, built in one place
//! for `locksmith serve`'s `/metrics` and `locks dump --format prometheus`
//! (node_exporter's textfile collector), so that both always say the same
//! thing.
//!
//! The families are computed here from a [`Reading`] (the snapshot of the
//! locks, with every holder judged, and the migration status); the
//! `prometheus-client` crate writes them in the Prometheus text exposition
//! format (version 0.0.4): the `# HELP` and `# TYPE` lines, the `_total`
//! of counters, numbers, and label values escaped as the format wants
//! (`\\`, `\"`, `\n`). The crate's `Family` keeps its series in a hash map,
//! so they would come out in a different order each time; a [`Collector`]
//! of our own hands them to the crate's encoder in a fixed order instead.
//!
//! Label values are the names as every other output shows them to people
//! ([`crate::shown`]): a control character in a stored lock name or row id
//! (an ESC sequence, a newline) comes out as `\u{1b}`, `\n`, never as the
//! raw byte, so that neither a `curl` on a terminal nor an alert's text
//! carries it.

use crate::cli::scrape::Reading;
use crate::liveness::State as Verdict;
use crate::migrate::State;
use crate::shown::shown;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;
use std::collections::BTreeMap;
use std::time::Duration;

/// The `Content-Type` of what [`exposition`] writes.
pub const CONTENT_TYPE: &str = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

/// What goes into the metrics besides the reading.
#[derive(Clone, Copy, Debug)]
pub struct MetricsOptions {
    /// Label each lock's series with its holder too (one series per
    /// holder: a task id per run makes many).
    pub holder_labels: bool,
    /// At most this many per-lock series (lock ages, waiters and longest
    /// waits together): the oldest locks are kept, then the longest waits.
    pub max_series: usize,
}

/// How the read that the metrics show went.
#[derive(Clone, Debug)]
pub struct ScrapeMeta {
    /// How long the read took (or until it gave up).
    pub took: Duration,
    /// Reads that failed since the exporter started; `None` for a one-off
    /// `locks dump`, which fails instead of reporting a failed read.
    pub errors: Option<u64>,
}

/// The text exposition of `reading` (`None`: the read failed, so only
/// `locksmith_up 0` and the scrape's own metrics are shown).
pub fn exposition(
    reading: Option<&Reading>,
    meta: &ScrapeMeta,
    opts: &MetricsOptions,
) -> Result<String, std::fmt::Error> {
    let mut registry = Registry::default();
    registry.register_collector(Box::new(Families(families(reading, meta, opts))));
    let mut text = String::new();
    prometheus_client::encoding::prometheus_text::encode(&mut text, &registry)?;
    Ok(text)
}

/// One metric family: its name, help, type and series in order.
#[derive(Debug)]
struct Family {
    name: &'static str,
    help: &'static str,
    kind: MetricType,
    series: Vec<(Labels, Value)>,
}

/// A series' labels, in order: (name, value).
type Labels = Vec<(&'static str, String)>;

/// A sample's value: whole numbers print as such.
#[derive(Clone, Copy, Debug)]
enum Value {
    Int(i64),
    Float(f64),
}

impl Family {
    fn gauge(name: &'static str, help: &'static str) -> Family {
        Family {
            name,
            help,
            kind: MetricType::Gauge,
            series: Vec::new(),
        }
    }

    fn with(mut self, labels: Labels, v: Value) -> Family {
        self.series.push((labels, v));
        self
    }

    fn one(name: &'static str, help: &'static str, v: Value) -> Family {
        Family::gauge(name, help).with(Vec::new(), v)
    }
}

/// The families of one reading, handed to the crate's encoder in order.
#[derive(Debug)]
struct Families(Vec<Family>);

impl Collector for Families {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        for f in self.0.iter().filter(|f| !f.series.is_empty()) {
            let mut metric = encoder.encode_descriptor(f.name, f.help, None, f.kind)?;
            for (labels, v) in &f.series {
                let mut sample = metric.encode_family(labels)?;
                match (&f.kind, *v) {
                    (MetricType::Counter, Value::Int(n)) => {
                        sample.encode_counter::<NoLabelSet, u64, f64>(&(n.max(0) as u64), None)?
                    }
                    (_, Value::Int(n)) => sample.encode_gauge(&n)?,
                    (_, Value::Float(x)) => sample.encode_gauge(&x)?,
                }
            }
        }
        Ok(())
    }
}

fn secs(d: Duration) -> Value {
    Value::Float(d.as_secs_f64())
}

fn count(n: usize) -> Value {
    Value::Int(i64::try_from(n).unwrap_or(i64::MAX))
}

/// Every family, in the order they are written.
fn families(reading: Option<&Reading>, meta: &ScrapeMeta, opts: &MetricsOptions) -> Vec<Family> {
    let mut out = vec![
        Family::one(
            "locksmith_up",
            "Whether the last read of the database succeeded (1) or not (0)",
            Value::Int(i64::from(reading.is_some())),
        ),
        Family::one(
            "locksmith_scrape_duration_seconds",
            "How long the last read of the database took",
            secs(meta.took),
        ),
    ];
    if let Some(n) = meta.errors {
        out.push(Family {
            name: "locksmith_scrape_errors",
            help: "Reads of the database that failed or timed out since the exporter started",
            kind: MetricType::Counter,
            series: vec![(Vec::new(), Value::Int(i64::try_from(n).unwrap_or(i64::MAX)))],
        });
    }
    let Some(r) = reading else {
        return out;
    };
    if let Some(snap) = &r.snapshot {
        out.extend(lock_families(snap, opts));
    }
    out.extend(migration_families(r));
    out
}

/// The families of the locks: per row, per lock (capped), and overall.
fn lock_families(snap: &crate::locks::Snapshot, opts: &MetricsOptions) -> Vec<Family> {
    let mut held = Family::gauge("locksmith_locks_held", "Locks held in the row");
    let mut dead = Family::gauge(
        "locksmith_dead_holder_locks",
        "Locks in the row whose holder is dead (a lease that ran out, a process gone), still held",
    );
    let mut version = Family::gauge("locksmith_row_version", "The row's version");
    let mut damaged = Family::gauge(
        "locksmith_row_damaged",
        "Whether the row holds something no lock write can handle (1; `locksmith locks repair` mends it) or not (0)",
    );
    let mut rows_seen = std::collections::BTreeSet::new();
    for row in &snap.rows {
        let id = vec![("row", shown(&row.id).into_owned())];
        // Two ids shown alike (a raw ESC beside its escaped spelling) would
        // make one series twice, which spoils the whole scrape: the first
        // is kept.
        if !rows_seen.insert(id.clone()) {
            continue;
        }
        let locks: Vec<_> = snap.held_in(&row.id).collect();
        let dead_here = locks
            .iter()
            .filter(|h| h.liveness.state == Verdict::Dead)
            .count();
        held = held.with(id.clone(), count(locks.len()));
        dead = dead.with(id.clone(), count(dead_here));
        if let Some(v) = row.version.number() {
            version = version.with(id.clone(), Value::Int(v));
        }
        damaged = damaged.with(id, Value::Int(i64::from(row.problem().is_some())));
    }

    // Per lock: one series per label set (a name written twice, with the
    // same labels, counts once, at its oldest).
    let mut ages: BTreeMap<Labels, (usize, Option<f64>)> = BTreeMap::new();
    for (i, h) in snap.held.iter().enumerate() {
        let mut labels = vec![
            ("row", shown(&h.row).into_owned()),
            ("lock", shown(&h.entry.shown_name()).into_owned()),
            ("liveness", h.liveness.state.as_str().to_string()),
        ];
        if opts.holder_labels {
            labels.push(("holder", shown(&h.entry.holder_text()).into_owned()));
        }
        let age = h.age_secs(snap.now_us);
        let slot = ages.entry(labels).or_insert((i, age));
        slot.1 = max_age(slot.1, age);
    }
    let mut waits: BTreeMap<Labels, (usize, usize, f64)> = BTreeMap::new();
    for (i, w) in snap
        .waiters
        .iter()
        .enumerate()
        .filter(|(_, w)| w.liveness.state != Verdict::Dead)
    {
        let labels = vec![
            ("row", shown(&w.registration.row).into_owned()),
            ("lock", shown(&w.registration.lock).into_owned()),
        ];
        let waited = ((snap.now_us - w.registration.since_us).max(0)) as f64 / 1e6;
        let slot = waits.entry(labels).or_insert((i, 0, 0.0));
        slot.1 += 1;
        slot.2 = slot.2.max(waited);
    }

    // The cap: the oldest locks first, then the longest waits (two series
    // each); kept series come out in the snapshot's order.
    let mut budget = opts.max_series;
    let mut by_age: Vec<(&Labels, &(usize, Option<f64>))> = ages.iter().collect();
    by_age.sort_by(|a, b| {
        let (x, y) = (a.1 .1.unwrap_or(-1.0), b.1 .1.unwrap_or(-1.0));
        y.total_cmp(&x).then(a.1 .0.cmp(&b.1 .0))
    });
    let kept_ages = by_age.len().min(budget);
    budget -= kept_ages;
    let mut kept: Vec<_> = by_age.into_iter().take(kept_ages).collect();
    kept.sort_by_key(|(_, (i, _))| *i);
    let mut by_wait: Vec<(&Labels, &(usize, usize, f64))> = waits.iter().collect();
    by_wait.sort_by(|a, b| b.1 .2.total_cmp(&a.1 .2).then(a.1 .0.cmp(&b.1 .0)));
    let kept_waits = by_wait.len().min(budget / 2);
    let mut kept_w: Vec<_> = by_wait.into_iter().take(kept_waits).collect();
    kept_w.sort_by_key(|(_, (i, _, _))| *i);
    let dropped = (ages.len() - kept_ages) + 2 * (waits.len() - kept_waits);

    let mut age = Family::gauge(
        "locksmith_lock_age_seconds",
        "How long the lock has been held: since it was taken when the holder registry says, else at least since the row's last change (or since the exporter first saw it)",
    );
    for (labels, (_, a)) in kept {
        if let Some(a) = a {
            age = age.with(labels.clone(), Value::Float(*a));
        }
    }
    let mut waiters = Family::gauge(
        "locksmith_waiters",
        "Registered holders waiting for the lock (dead waiters left out)",
    );
    let mut longest = Family::gauge(
        "locksmith_longest_wait_seconds",
        "How long the longest waiter for the lock has waited",
    );
    for (labels, (_, n, w)) in kept_w {
        waiters = waiters.with(labels.clone(), count(*n));
        longest = longest.with(labels.clone(), Value::Float(*w));
    }
    vec![
        held,
        dead,
        version,
        damaged,
        age,
        waiters,
        longest,
        Family::one(
            "locksmith_series_dropped",
            "Per-lock series left out because of --max-series (the oldest locks are kept)",
            count(dropped),
        ),
        Family::one(
            "locksmith_deadlocks",
            "Cycles of holders each waiting for a lock the next one holds",
            count(snap.deadlocks.len()),
        ),
    ]
}

fn max_age(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.max(y)),
        (x, y) => x.or(y),
    }
}

/// The families of the migrations: how many are not applied, by state,
/// and the run guard.
fn migration_families(r: &Reading) -> Vec<Family> {
    let pending = r
        .migrations
        .iter()
        .filter(|m| m.state != State::Applied)
        .count();
    let mut states: BTreeMap<&'static str, usize> = BTreeMap::new();
    for m in &r.migrations {
        *states.entry(m.state.label()).or_default() += 1;
    }
    let mut by_state = Family::gauge(
        "locksmith_migrations",
        "Migrations by state (as `locksmith migrate status` shows them)",
    );
    for (state, n) in states {
        by_state = by_state.with(vec![("state", state.to_string())], count(n));
    }
    let mut guard = Family::gauge(
        "locksmith_migration_guard_held_seconds",
        "How long a migration run has held the run guard (stale: its heartbeat stopped)",
    );
    if let Some((held, stale)) = r.guard_age() {
        guard = guard.with(vec![("stale", stale.to_string())], secs(held));
    }
    vec![
        Family::one(
            "locksmith_migrations_pending",
            "Migrations not applied (pending, or in any state but applied)",
            count(pending),
        ),
        by_state,
        guard,
    ]
}
