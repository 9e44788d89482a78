//! `locksmith bench` runs and its end-of-run check passes. (Figures are for
//! scripts/bench to print, not for tests to time.)

use crate::harness::*;
use locksmith::bench::BenchReport;

/// Asserts `stdout` is bench's report table for `workers` workers and no
/// held locks, its end-of-run check passed: every line, with holes only
/// for what was measured (rates, ratios, times).
#[track_caller]
pub(crate) fn report_table(stdout: &str, workers: usize) {
    let re = regex::Regex::new(&format!(
        r"^\+-\+
\| METRIC VALUE \|
\+=\+
\| workers {workers} \|
\| held locks \(K\) 0 \|
\| holders' lease none \(unregistered\) \|
\| lock ops/s \d+ \|
\| row ceiling \(same-size rewrite\)/s \d+ \|
\| ratio to row ceiling \d+\.\d\d \|
\| INT ceiling \(version\+1\)/s \d+ \|
\| ratio to INT ceiling \d+\.\d\d \|
\| acquire p50 \d+\.\d\d ms \|
\| acquire p99 \d+\.\d\d ms \|
\| acquire max \d+\.\d\d ms \|
\| conflicts/op \d\.\d{{4}} \|
\| slow path/op \d\.\d{{4}} \|
\| retried \(1213 …\)/op \d\.\d{{4}} \|
\| errors 0 \|
\| end-of-run check passed \|
\+-\+
$"
    ))
    .unwrap();
    assert!(re.is_match(&normal(stdout)), "not a report table: {stdout}");
}

#[test]
fn bench_runs_checks_and_cleans_up() {
    let db = TestDb::migrated();
    db.sql(r#"INSERT INTO locks (id, dataJson) VALUES ('platform', '{"backup":"task-1"}')"#);
    let r = db.locksmith(&[
        "bench",
        "--workers",
        "4",
        "--held",
        "50",
        "--duration",
        "300ms",
        "--format",
        "json",
    ]);
    let report: BenchReport = r.success_json();
    assert!(report.check_passed, "{report:?}");
    assert_eq!((report.workers, report.held, report.errors), (4, 50, 0));
    assert!(
        report.ops_per_sec > 0.0
            && report.ceiling_per_sec > 0.0
            && report.row_ceiling_per_sec > 0.0,
        "{report:?}"
    );
    // Each ratio is the lock rate over its ceiling.
    for (ratio, ceiling) in [
        (report.ratio, report.ceiling_per_sec),
        (report.row_ratio, report.row_ceiling_per_sec),
    ] {
        assert!(ratio > 0.0, "{report:?}");
        assert!(
            (ratio - report.ops_per_sec / ceiling).abs() < 1e-9,
            "{report:?}"
        );
    }
    assert_eq!(report.problems, Vec::<String>::new());
    assert!(
        report.p50_ms <= report.p99_ms && report.p99_ms <= report.max_ms,
        "{report:?}"
    );
    // Real rows are untouched; the scratch row is gone.
    assert_eq!(
        db.rows("SELECT id, dataJson, version FROM locks"),
        vec![vec![
            Some("platform".into()),
            Some(r#"{"backup":"task-1"}"#.into()),
            Some("1".into())
        ]]
    );
    db.locksmith(&["bench", "--workers", "1", "--duration", "100ms"])
        .succeeds_where(|out| report_table(out, 1));
    db.locksmith(&["bench", "--workers", "0"]).fails_with(
        2,
        "locksmith: invalid value '0' for '--workers <WORKERS>': 0 is not in 1..=1024\n\n\
         For more information, try '--help'.\n",
    );
}

/// With leases, each worker registers as a holder (as `locks run` does),
/// and the end-of-run check also finds no registration left behind.
#[test]
fn bench_with_leases_registers_and_leaves_nothing() {
    let db = TestDb::migrated();
    let report: BenchReport = db
        .locksmith(&[
            "bench",
            "--workers",
            "3",
            "--duration",
            "300ms",
            "--lease",
            "30s",
            "--format",
            "json",
        ])
        .success_json();
    assert!(report.check_passed, "{report:?}");
    assert_eq!(
        (report.lease_seconds, report.errors, report.problems.len()),
        (Some(30.0), 0, 0)
    );
    assert!(report.ops_per_sec > 0.0, "{report:?}");
    assert_eq!(
        db.scalar("SELECT COUNT(*) FROM locks_holders").as_deref(),
        Some("0")
    );
}

#[test]
fn bench_shows_its_phases_on_a_terminal_only() {
    let db = TestDb::migrated();
    let mut child = db.spawn_on_tty("bench --workers 2 --duration 400ms");
    let mut seen = String::new();
    std::io::Read::read_to_string(&mut child.stdout.take().unwrap(), &mut seen).unwrap();
    assert!(child.wait().unwrap().success(), "{seen}");
    for phase in [
        "locksmith: bench: round 1/4: INT ceiling (plain UPDATE commits)",
        "locksmith: bench: round 1/4: row ceiling (same-size rewrites)",
        "locksmith: bench: round 4/4: locks (acquire and release)",
        "locksmith: bench: end-of-run check",
    ] {
        assert!(seen.contains(phase), "{phase:?} missing from {seen:?}");
    }
    // Without a terminal: the report alone.
    db.locksmith(&["bench", "--workers", "2", "--duration", "400ms"])
        .succeeds_where(|out| report_table(out, 2));
}
