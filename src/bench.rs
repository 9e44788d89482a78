//! `locksmith bench`: how close lock operations come to what the database
//! physically allows on one row.
//!
//! In one run, with the same connections (one per worker) and the same number
//! of workers, it measures the ceiling (plain `UPDATE locks SET version=version+1` commits
//! per second on one row) and then real acquire/release traffic through the
//! protocol, on a scratch row with a unique name that it removes afterwards.
//! Before removing it, it checks the row: every filler lock still there, no
//! worker lock left behind, and the version advanced by exactly the number of
//! successful writes (so no write was lost).

use crate::cli::{out, parse_duration, ConnectOpts, FormatOpts};
use crate::error::{Error, Kind, Result};
use crate::render::Format;
use crate::row::{encode, LockTable, Locks};
use crate::sql;
use clap::Args;
use serde::{Deserialize, Serialize};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// Options of `locksmith bench`.
#[derive(Debug, Args, Clone)]
pub struct BenchArgs {
    #[command(flatten)]
    pub conn: ConnectOpts,
    /// Concurrent workers, each with its own connection.
    #[arg(long, default_value_t = 4)]
    pub workers: usize,
    /// How long each phase (ceiling, locks) runs in all; they alternate in
    /// four slices.
    #[arg(long, default_value = "3s", value_parser = parse_duration)]
    pub duration: Duration,
    /// Fill the scratch row with this many other locks first.
    #[arg(long, default_value_t = 0)]
    pub held: usize,
    #[command(flatten)]
    pub format: FormatOpts,
}

/// What a bench run measured. `--format json` prints exactly this.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct BenchReport {
    /// Workers.
    pub workers: usize,
    /// Locks held by others in the row during the run.
    pub held: usize,
    /// Seconds each phase ran.
    pub seconds: f64,
    /// Lock operations (acquires + releases) per second.
    pub ops_per_sec: f64,
    /// Plain single-row UPDATE commits per second, same run and settings.
    pub ceiling_per_sec: f64,
    /// ops_per_sec / ceiling_per_sec.
    pub ratio: f64,
    /// Median acquire latency, milliseconds.
    pub p50_ms: f64,
    /// 99th percentile acquire latency, milliseconds.
    pub p99_ms: f64,
    /// Slowest acquire, milliseconds.
    pub max_ms: f64,
    /// CAS conflicts (retries) per operation.
    pub conflicts_per_op: f64,
    /// Operations that needed the read-then-CAS path, per operation.
    pub slow_path_per_op: f64,
    /// Operations that failed (must be 0).
    pub errors: u64,
    /// The end-of-run check passed: no lock lost or left behind, no write lost.
    pub check_passed: bool,
}

/// Runs the bench and prints its report.
pub async fn run(args: BenchArgs) -> Result<()> {
    if args.workers == 0 {
        return Err(Kind::Invalid("--workers must be at least 1".into()).into());
    }
    let url = args.conn.parse_url()?;
    let table = LockTable::connect(&url).await?;
    let mut workers = Vec::with_capacity(args.workers);
    for _ in 0..args.workers {
        workers.push(LockTable::connect(&url).await?);
    }
    let row = format!("locksmith-bench-{:016x}", fastrand::u64(..));
    let result = bench(&table, &workers, &row, &args).await;
    // The scratch row goes, whatever happened.
    let cleanup = async {
        let mut c = table.conn().await?;
        c.exec_drop(sql::DELETE_ROW, (&row,)).await?;
        Ok::<(), Error>(())
    }
    .await;
    for t in workers {
        let _ = t.disconnect().await;
    }
    let _ = table.disconnect().await;
    let report = result?;
    cleanup?;
    let text = match args.format.format {
        Format::Json => serde_json::to_string_pretty(&report).expect("serialises") + "\n",
        Format::Table => report_table(&report),
    };
    out(&text)?;
    if report.check_passed && report.errors == 0 {
        Ok(())
    } else {
        Err(Kind::Db(format!(
            "bench end-of-run check failed on row `{row}`: {} error(s); see the report",
            report.errors
        ))
        .into())
    }
}

async fn bench(
    table: &LockTable,
    workers: &[LockTable],
    row: &str,
    args: &BenchArgs,
) -> Result<BenchReport> {
    table.ensure_row(row).await?;
    let mut fillers = Locks::new();
    for i in 0..args.held {
        fillers.insert(format!("filler_{i:05}"), format!("bench-filler-{i}").into());
    }
    if !fillers.is_empty() {
        let json = encode(row, &fillers)?;
        let mut c = table.conn().await?;
        c.exec_drop(sql::CAS_WRITE, (json, row, 1i64)).await?;
    }
    let start_version = table.read(row).await?.map(|s| s.version).unwrap_or(0);

    // The two phases alternate in short slices, so that drift in the
    // machine's fsync latency over the run hits both alike.
    let counters =
        |f: fn(&crate::row::Stats) -> u64| workers.iter().map(|t| f(t.stats())).sum::<u64>();
    let conflicts = |s: &crate::row::Stats| s.conflicts.load(Ordering::Relaxed);
    let slow = |s: &crate::row::Stats| s.slow.load(Ordering::Relaxed);
    let before = (counters(conflicts), counters(slow));
    let slice = args.duration / ROUNDS;
    let (mut ceiling_commits, mut ceiling_secs) = (0u64, 0f64);
    let (mut lat, mut ops, mut errors, mut lock_secs) = (Vec::new(), 0u64, 0u64, 0f64);
    for _ in 0..ROUNDS {
        let (n, secs) = ceiling_phase(workers, row, slice).await?;
        ceiling_commits += n;
        ceiling_secs += secs;
        let (l, o, e, secs) = lock_phase(workers, row, slice).await?;
        lat.extend(l);
        ops += o;
        errors += e;
        lock_secs += secs;
    }
    let conflicts = counters(conflicts) - before.0;
    let slow = counters(slow) - before.1;

    // The end-of-run check.
    let end = table
        .read(row)
        .await?
        .ok_or_else(|| Kind::NoRow(row.into()))?;
    let locks_ok = end.data.locks().is_some_and(|l| l == fillers);
    let version_ok = end.version == start_version + ceiling_commits as i64 + ops as i64;
    if !locks_ok {
        eprintln!(
            "locksmith: bench check: row `{row}` does not hold exactly the {} filler locks",
            args.held
        );
    }
    if !version_ok {
        eprintln!(
            "locksmith: bench check: version {} != {} + {} ceiling commits + {} lock ops",
            end.version, start_version, ceiling_commits, ops
        );
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
    let per_op = |n: u64| if ops == 0 { 0.0 } else { n as f64 / ops as f64 };
    Ok(BenchReport {
        workers: args.workers,
        held: args.held,
        seconds: args.duration.as_secs_f64(),
        ops_per_sec,
        ceiling_per_sec,
        ratio: if ceiling_per_sec > 0.0 {
            ops_per_sec / ceiling_per_sec
        } else {
            0.0
        },
        p50_ms: pct(0.50),
        p99_ms: pct(0.99),
        max_ms: lat.last().map(|d| d.as_secs_f64() * 1000.0).unwrap_or(0.0),
        conflicts_per_op: per_op(conflicts),
        slow_path_per_op: per_op(slow),
        errors,
        check_passed: locks_ok && version_ok && errors == 0,
    })
}

/// Slices each phase is cut into.
const ROUNDS: u32 = 4;

/// Plain single-row UPDATE commits, one connection per worker: the ceiling.
async fn ceiling_phase(workers: &[LockTable], row: &str, slice: Duration) -> Result<(u64, f64)> {
    let deadline = Instant::now() + slice;
    let started = Instant::now();
    let mut tasks = Vec::new();
    for t in workers {
        let t = t.clone();
        let row = row.to_string();
        tasks.push(tokio::spawn(async move {
            let mut c = t.conn().await?;
            let mut n = 0u64;
            while Instant::now() < deadline {
                c.exec_drop(sql::BENCH_CEILING, (&row,)).await?;
                n += c.affected_rows();
            }
            Ok::<u64, Error>(n)
        }));
    }
    let mut commits = 0;
    for t in tasks {
        commits += t.await.map_err(|e| Kind::Db(e.to_string()))??;
    }
    Ok((commits, started.elapsed().as_secs_f64()))
}

/// Each worker acquires and releases its own lock through the protocol.
/// Returns acquire latencies, successful operations, errors and seconds.
async fn lock_phase(
    workers: &[LockTable],
    row: &str,
    slice: Duration,
) -> Result<(Vec<Duration>, u64, u64, f64)> {
    let deadline = Instant::now() + slice;
    let started = Instant::now();
    let mut tasks = Vec::new();
    for (w, t) in workers.iter().enumerate() {
        let table = t.clone();
        let row = row.to_string();
        tasks.push(tokio::spawn(async move {
            let name = format!("bench_worker_{w}");
            let holder = format!("bench-{w}");
            let mut lat = Vec::new();
            let (mut ops, mut errors) = (0u64, 0u64);
            while Instant::now() < deadline {
                let t = Instant::now();
                if table.acquire(&row, &name, &holder).await.is_err() {
                    errors += 1;
                    continue;
                }
                lat.push(t.elapsed());
                ops += 1;
                if table.release(&row, &name, &holder).await.is_err() {
                    errors += 1;
                    continue;
                }
                ops += 1;
            }
            (lat, ops, errors)
        }));
    }
    let (mut lat, mut ops, mut errors) = (Vec::new(), 0u64, 0u64);
    for t in tasks {
        let (l, o, e) = t.await.map_err(|e| Kind::Db(e.to_string()))?;
        lat.extend(l);
        ops += o;
        errors += e;
    }
    Ok((lat, ops, errors, started.elapsed().as_secs_f64()))
}

fn report_table(r: &BenchReport) -> String {
    let mut t = comfy_table::Table::new();
    t.load_preset(comfy_table::presets::ASCII_BORDERS_ONLY_CONDENSED);
    t.set_header(vec!["METRIC", "VALUE"]);
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
        ("errors", r.errors.to_string()),
        (
            "end-of-run check",
            if r.check_passed { "passed" } else { "FAILED" }.to_string(),
        ),
    ];
    for (k, v) in rows {
        t.add_row(vec![k.to_string(), v]);
    }
    format!("{t}\n")
}
