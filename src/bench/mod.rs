//! `locksmith bench`: how close lock operations come to what the database
//! physically allows on one row.
//!
//! In one run, with the same connections (one per worker) and the same number
//! of workers, on a scratch row with a unique name that it removes
//! afterwards, it measures three phases:
//!
//! - the INT ceiling: plain `UPDATE locks SET version=version+1` commits per
//!   second on one row, the cheapest single-row commit there is;
//! - the row ceiling: blind `UPDATE locks SET dataJson = <text>,
//!   version=version+1` commits, each worker writing in turn the two texts
//!   its lock operations produce (the filler locks with its own lock first,
//!   then the fillers alone), computed once on the client: the physical
//!   limit of a lock write on this row format, the same bytes with no JSON
//!   or scan work;
//! - lock operations: each worker takes and releases its own lock through
//!   the call a service makes ([`LockTable::lock`], then
//!   [`crate::locks::LockGuard::release`]).
//!
//! Before removing the row, it checks it: every filler lock still there, no
//! worker lock left behind, and the version advanced by exactly the number of
//! successful writes of all three phases (so no write was lost).
//!
//! With several nodes in the URL (a Galera cluster), the lock workers are
//! spread over the nodes, and the report says how each node did and how
//! often the cluster refused a write for a conflict with another node
//! (1213); both ceilings are measured on the first node alone.

mod report;
mod scratch;

pub use report::{BenchReport, NodeReport};

use crate::db::{ConnectOptions, DbUrl};
use crate::error::{Kind, Result};
use crate::locks::{AcquireOptions, Entry, LockTable, Locks, Stats, Version};
use scratch::RowTexts;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// What to measure.
#[derive(Clone, Debug)]
pub struct BenchOptions {
    /// Concurrent workers, each with its own connection (at least 1).
    pub workers: usize,
    /// How long each phase (INT ceiling, row ceiling, locks) runs in all;
    /// they alternate in four slices.
    pub duration: Duration,
    /// Fill the scratch row with this many other locks first.
    pub held: usize,
    /// Register each worker's holder with this lease, as `locks run` does
    /// (see [`crate::liveness`]): every lock then also writes and removes
    /// its registration, and a guard renews it while held. `None`: plain
    /// locks, unregistered.
    pub lease: Option<Duration>,
}

/// A bench in progress: its connections and its scratch row. Measure with
/// [`Bench::measure`]; [`Bench::finish`] removes the scratch row, and must
/// be called whatever happened (an interrupted measurement included).
pub struct Bench {
    table: LockTable,
    workers: Vec<LockTable>,
    /// Where both ceilings are measured: the workers themselves on one
    /// server, as many connections to the first node of a cluster.
    ceiling: Vec<LockTable>,
    /// What each row-ceiling worker writes, by worker.
    row_texts: Vec<RowTexts>,
    nodes: Vec<String>,
    row: String,
    opts: BenchOptions,
    fillers: Locks,
}

impl Bench {
    /// Connects (one connection per worker, and one more), creates the
    /// scratch row and fills it with `opts.held` other locks.
    pub async fn start(
        url: &DbUrl,
        opts: &BenchOptions,
        connect: &ConnectOptions,
    ) -> Result<Bench> {
        if opts.workers == 0 {
            return Err(Kind::Invalid("a bench needs at least 1 worker".into()).into());
        }
        let table = LockTable::connect_with(url, connect).await?;
        let nodes: Vec<String> = url.nodes().iter().map(|n| n.to_string()).collect();
        let mut workers = Vec::with_capacity(opts.workers);
        for w in 0..opts.workers {
            let on = ConnectOptions {
                first_node: w % nodes.len(),
                ..connect.clone()
            };
            workers.push(LockTable::connect_with(url, &on).await?);
        }
        let ceiling = if nodes.len() == 1 {
            workers.clone()
        } else {
            let mut first = Vec::with_capacity(opts.workers);
            for _ in 0..opts.workers {
                first.push(LockTable::connect_with(url, connect).await?);
            }
            first
        };
        let row = format!("locksmith-bench-{:016x}", fastrand::u64(..));
        let mut fillers = Locks::new();
        for i in 0..opts.held {
            fillers.push(Entry::new(
                &format!("filler_{i:05}"),
                &format!("bench-filler-{i}"),
            ));
        }
        let row_texts = (0..opts.workers)
            .map(|w| {
                let (name, holder) = worker_lock(w);
                RowTexts::new(&row, &fillers, &name, &holder)
            })
            .collect::<Result<Vec<_>>>()?;
        let bench = Bench {
            table,
            workers,
            ceiling,
            row_texts,
            nodes,
            row,
            opts: opts.clone(),
            fillers,
        };
        bench.table.ensure_row(&bench.row).await?;
        if !bench.fillers.is_empty() {
            scratch::fill(&bench.table, &bench.row, &bench.fillers).await?;
        }
        Ok(bench)
    }

    /// The scratch row's id.
    pub fn row(&self) -> &str {
        &self.row
    }

    /// Runs the three phases and the end-of-run check. Dropping this future
    /// stops every worker.
    pub async fn measure(&self) -> Result<BenchReport> {
        bench(self, |_| {}).await
    }

    /// Like [`Bench::measure`], telling `on_phase` as each phase starts
    /// (for a progress line).
    pub async fn measure_with(&self, on_phase: impl FnMut(Phase)) -> Result<BenchReport> {
        bench(self, on_phase).await
    }

    /// Removes the scratch row and closes every connection.
    pub async fn finish(self) -> Result<()> {
        let removed = scratch::remove(&self.table, &self.row).await;
        for t in self.workers {
            let _ = t.disconnect().await;
        }
        if self.nodes.len() > 1 {
            for t in self.ceiling {
                let _ = t.disconnect().await;
            }
        }
        let _ = self.table.disconnect().await;
        removed
    }
}

/// Runs a whole bench: start, measure, finish. A report whose check failed
/// is returned as it is; [`BenchReport::check`] turns it into an error.
pub async fn run(
    url: &DbUrl,
    opts: &BenchOptions,
    connect: &ConnectOptions,
) -> Result<BenchReport> {
    let bench = Bench::start(url, opts, connect).await?;
    let report = bench.measure().await;
    let removed = bench.finish().await;
    let report = report?;
    removed?;
    Ok(report)
}

/// Where a bench run is, for a progress line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Phase {
    /// The round, from 1.
    pub round: u32,
    /// Rounds in all.
    pub rounds: u32,
    /// `ceiling` (the INT ceiling: plain UPDATE commits), `row-ceiling`
    /// (same-size blind rewrites of the row), `locks` (acquire and release)
    /// or `check` (the end-of-run check).
    pub what: &'static str,
}

async fn bench(b: &Bench, mut on_phase: impl FnMut(Phase)) -> Result<BenchReport> {
    let (table, workers, row, opts, fillers) = (&b.table, &b.workers, &b.row, &b.opts, &b.fillers);
    let start_version = match table.read(row).await? {
        Some(s) => s.number()?,
        None => return Err(Kind::NoRow(row.into()).into()),
    };

    // The three phases alternate in short slices, so that drift in the
    // machine's fsync latency over the run hits all alike.
    let counters =
        |f: fn(&Stats) -> u64| workers.iter().map(|t| f(t.stats())).collect::<Vec<u64>>();
    let conflicts = |s: &Stats| s.conflicts.load(Ordering::Relaxed);
    let slow = |s: &Stats| s.slow.load(Ordering::Relaxed);
    let retried = |s: &Stats| s.transient.load(Ordering::Relaxed);
    let before = (counters(conflicts), counters(slow), counters(retried));
    let slice = opts.duration / ROUNDS;
    let (mut ceiling_commits, mut ceiling_secs) = (0u64, 0f64);
    let (mut row_commits, mut row_secs) = (0u64, 0f64);
    let (mut lat, mut errors, mut lock_secs) = (Vec::new(), 0u64, 0f64);
    let mut ops_by_worker = vec![0u64; workers.len()];
    for round in 1..=ROUNDS {
        let phase = |what| Phase {
            round,
            rounds: ROUNDS,
            what,
        };
        on_phase(phase("ceiling"));
        scratch::settle(table, slice).await;
        let (n, secs) = ceiling_phase(&b.ceiling, row, Ceiling::Int, slice).await?;
        ceiling_commits += n;
        ceiling_secs += secs;
        on_phase(phase("row-ceiling"));
        scratch::settle(table, slice).await;
        let (n, secs) = ceiling_phase(&b.ceiling, row, Ceiling::Row(&b.row_texts), slice).await?;
        row_commits += n;
        row_secs += secs;
        on_phase(phase("locks"));
        scratch::settle(table, slice).await;
        let (l, o, e, secs) = lock_phase(workers, row, slice, opts.lease).await?;
        lat.extend(l);
        for (w, n) in o {
            ops_by_worker[w] += n;
        }
        errors += e;
        lock_secs += secs;
    }
    on_phase(Phase {
        round: ROUNDS,
        rounds: ROUNDS,
        what: "check",
    });
    let since = |now: Vec<u64>, then: &[u64]| -> Vec<u64> {
        now.iter().zip(then).map(|(a, b)| a - b).collect()
    };
    let retried_by_worker = since(counters(retried), &before.2);
    let conflicts: u64 = since(counters(conflicts), &before.0).iter().sum();
    let slow: u64 = since(counters(slow), &before.1).iter().sum();
    let retried: u64 = retried_by_worker.iter().sum();
    let ops: u64 = ops_by_worker.iter().sum();
    let nodes = b
        .nodes
        .iter()
        .enumerate()
        .map(|(i, node)| {
            let mine = |v: &[u64]| -> u64 {
                v.iter()
                    .enumerate()
                    .filter(|(w, _)| w % b.nodes.len() == i)
                    .map(|(_, n)| n)
                    .sum()
            };
            let (n_ops, n_retried) = (mine(&ops_by_worker), mine(&retried_by_worker));
            NodeReport {
                node: node.clone(),
                workers: (0..workers.len())
                    .filter(|w| w % b.nodes.len() == i)
                    .count(),
                ops_per_sec: n_ops as f64 / lock_secs,
                retried_per_op: if n_ops == 0 {
                    0.0
                } else {
                    n_retried as f64 / n_ops as f64
                },
            }
        })
        .collect();

    // The end-of-run check.
    let end = table
        .read(row)
        .await?
        .ok_or_else(|| Kind::NoRow(row.into()))?;
    let locks_ok = end.data.locks().is_some_and(|l| &l == fillers);
    let version_ok = end.version
        == Version::Number(
            start_version + ceiling_commits as i64 + row_commits as i64 + ops as i64,
        );
    let mut problems = Vec::new();
    if !locks_ok {
        problems.push(format!(
            "row `{row}` does not hold exactly the {} filler locks",
            opts.held
        ));
    }
    if !version_ok {
        problems.push(format!(
            "version {} != {} + {} INT ceiling commits + {} row ceiling commits + {} lock ops",
            end.version, start_version, ceiling_commits, row_commits, ops
        ));
    }
    // Registered workers left no registration behind.
    let left = match opts.lease {
        Some(_) => table
            .observe(std::slice::from_ref(row), None)
            .await?
            .registry
            .unwrap_or_default()
            .iter()
            .filter(|r| &r.row == row)
            .count(),
        None => 0,
    };
    if left > 0 {
        problems.push(format!(
            "{left} registration(s) of the workers left in the holder registry"
        ));
    }

    lat.sort();
    let pct = |p: f64| -> f64 {
        if lat.is_empty() {
            return 0.0;
        }
        let i = ((lat.len() as f64 * p).ceil() as usize).clamp(1, lat.len()) - 1;
        lat[i].as_secs_f64() * 1000.0
    };
    let ops_per_sec = ops as f64 / lock_secs;
    let ceiling_per_sec = ceiling_commits as f64 / ceiling_secs;
    let row_ceiling_per_sec = row_commits as f64 / row_secs;
    let ratio_to = |ceiling: f64| {
        if ceiling > 0.0 {
            ops_per_sec / ceiling
        } else {
            0.0
        }
    };
    let per_op = |n: u64| if ops == 0 { 0.0 } else { n as f64 / ops as f64 };
    Ok(BenchReport {
        workers: opts.workers,
        held: opts.held,
        lease_seconds: opts.lease.map(|l| l.as_secs_f64()),
        seconds: opts.duration.as_secs_f64(),
        ops_per_sec,
        ceiling_per_sec,
        ratio: ratio_to(ceiling_per_sec),
        row_ceiling_per_sec,
        row_ratio: ratio_to(row_ceiling_per_sec),
        p50_ms: pct(0.50),
        p99_ms: pct(0.99),
        max_ms: lat.last().map(|d| d.as_secs_f64() * 1000.0).unwrap_or(0.0),
        conflicts_per_op: per_op(conflicts),
        slow_path_per_op: per_op(slow),
        retried_per_op: per_op(retried),
        nodes,
        errors,
        check_passed: locks_ok && version_ok && left == 0 && errors == 0,
        problems,
    })
}

/// Slices each phase is cut into.
const ROUNDS: u32 = 4;

/// The lock name and holder of bench worker `w`.
fn worker_lock(w: usize) -> (String, String) {
    (format!("bench_worker_{w}"), format!("bench-{w}"))
}

/// Which ceiling a phase measures.
#[derive(Clone, Copy)]
enum Ceiling<'a> {
    /// Plain `version = version + 1` commits.
    Int,
    /// Same-size blind rewrites of `dataJson`: worker `w` writes
    /// `texts[w]`.
    Row(&'a [RowTexts]),
}

/// Blind single-row commits, one connection per worker: a ceiling.
/// Returns the commits and the seconds they took.
async fn ceiling_phase(
    workers: &[LockTable],
    row: &str,
    what: Ceiling<'_>,
    slice: Duration,
) -> Result<(u64, f64)> {
    let deadline = Instant::now() + slice;
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for (w, t) in workers.iter().enumerate() {
        let t = t.clone();
        let row = row.to_string();
        let texts = match what {
            Ceiling::Int => None,
            Ceiling::Row(texts) => Some(texts.get(w).cloned().ok_or_else(|| {
                Kind::Internal(format!("no row-ceiling texts for bench worker {w}"))
            })?),
        };
        tasks.spawn(async move {
            let (n, refused) = match texts {
                None => scratch::ceiling(&t, &row, deadline).await?,
                Some(texts) => scratch::row_ceiling(&t, &row, &texts, deadline).await?,
            };
            // Counted as the lock protocol counts what it tries again.
            t.stats().transient.fetch_add(refused, Ordering::Relaxed);
            t.stats().conflicts.fetch_add(refused, Ordering::Relaxed);
            Ok::<_, crate::Error>(n)
        });
    }
    let mut commits = 0;
    while let Some(done) = tasks.join_next().await {
        commits += done.map_err(joined)??;
    }
    Ok((commits, started.elapsed().as_secs_f64()))
}

/// Each worker takes and releases its own lock as a service does
/// ([`LockTable::lock`], then [`crate::locks::LockGuard::release`]).
/// Returns acquire latencies, successful operations by worker, errors and
/// seconds.
async fn lock_phase(
    workers: &[LockTable],
    row: &str,
    slice: Duration,
    lease: Option<Duration>,
) -> Result<(Vec<Duration>, Vec<(usize, u64)>, u64, f64)> {
    let deadline = Instant::now() + slice;
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for (w, t) in workers.iter().enumerate() {
        let table = t.clone();
        let row = row.to_string();
        tasks.spawn(async move {
            let (name, holder) = worker_lock(w);
            let opts = AcquireOptions {
                register: lease.map(|lease| crate::liveness::Registering {
                    process: crate::host::Process::this(),
                    lease: Some(lease),
                    command: "locksmith bench".into(),
                }),
                ..AcquireOptions::default()
            };
            let mut lat = Vec::new();
            let (mut ops, mut errors) = (0u64, 0u64);
            while Instant::now() < deadline {
                let t = Instant::now();
                let guard = match table.lock(&row, &name, &holder, &opts, |_| {}).await {
                    Ok(guard) => guard,
                    Err(_) => {
                        errors += 1;
                        continue;
                    }
                };
                lat.push(t.elapsed());
                ops += 1;
                if guard.release().await.is_err() {
                    errors += 1;
                    continue;
                }
                ops += 1;
            }
            (w, lat, ops, errors)
        });
    }
    let (mut lat, mut ops, mut errors) = (Vec::new(), Vec::new(), 0u64);
    while let Some(done) = tasks.join_next().await {
        let (w, l, o, e) = done.map_err(joined)?;
        lat.extend(l);
        ops.push((w, o));
        errors += e;
    }
    Ok((lat, ops, errors, started.elapsed().as_secs_f64()))
}

/// A worker task that panicked or was cancelled.
fn joined(e: tokio::task::JoinError) -> crate::Error {
    Kind::Internal(format!("a bench worker did not finish: {e}")).into()
}
