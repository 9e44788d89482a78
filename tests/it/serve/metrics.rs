//! `locks dump --format prometheus`: the metrics of one read, whole, as
//! `serve` shows them too; checked by promtool; label values escaped;
//! `--holder-labels`; `--max-series`; the migrations.

use super::*;

/// The families every reading of an up-to-date database ends with.
const MIGRATED: &str = "\
# HELP locksmith_migrations_pending Migrations not applied (pending, or in any state but applied)
# TYPE locksmith_migrations_pending gauge
locksmith_migrations_pending 0
# HELP locksmith_migrations Migrations by state (as `locksmith migrate status` shows them)
# TYPE locksmith_migrations gauge
locksmith_migrations{state=\"applied\"} 3
";

const HEAD: &str = "\
# HELP locksmith_up Whether the last read of the database succeeded (1) or not (0)
# TYPE locksmith_up gauge
locksmith_up 1
# HELP locksmith_scrape_duration_seconds How long the last read of the database took
# TYPE locksmith_scrape_duration_seconds gauge
locksmith_scrape_duration_seconds <S>
";

#[test]
fn dump_as_prometheus_metrics_whole() {
    let promtool = tool("promtool");
    let db = TestDb::migrated();
    db.locksmith(&[
        "locks", "acquire", "platform", "backup", "--holder", "task-1",
    ])
    .success();
    let mut holder = mortal();
    let pid = holder.id().to_string();
    db.locksmith(&[
        "locks",
        "acquire",
        "apps",
        "app_task_1",
        "--holder",
        "t2",
        "--holder-pid",
        &pid,
    ])
    .success();
    holder.kill().unwrap();
    holder.wait().unwrap();
    // Cloudron's own holder, which locksmith did not register.
    db.sql(r#"INSERT INTO locks (id, dataJson, version) VALUES ('cloudron', '{"update":"task-99"}', 7)"#);
    // A registered waiter for `backup`.
    let mut waiter = db.spawn(&[
        "locks", "acquire", "platform", "backup", "--holder", "w1", "--wait", "60s",
    ]);
    wait_until("the waiter is registered", Duration::from_secs(10), || {
        let d: locksmith::cli::output::Dump = db
            .locksmith(&["locks", "dump", "--format", "json"])
            .success_json();
        !d.waiters.is_empty()
    });
    let r = db.locksmith(&["locks", "dump", "--format", "prometheus"]);
    r.succeeds_where(|_| {});
    let body = format!(
        "{HEAD}\
# HELP locksmith_locks_held Locks held in the row
# TYPE locksmith_locks_held gauge
locksmith_locks_held{{row=\"apps\"}} 1
locksmith_locks_held{{row=\"cloudron\"}} 1
locksmith_locks_held{{row=\"platform\"}} 1
# HELP locksmith_dead_holder_locks Locks in the row whose holder is dead (a lease that ran out, a process gone), still held
# TYPE locksmith_dead_holder_locks gauge
locksmith_dead_holder_locks{{row=\"apps\"}} 1
locksmith_dead_holder_locks{{row=\"cloudron\"}} 0
locksmith_dead_holder_locks{{row=\"platform\"}} 0
# HELP locksmith_row_version The row's version
# TYPE locksmith_row_version gauge
locksmith_row_version{{row=\"apps\"}} 2
locksmith_row_version{{row=\"cloudron\"}} 7
locksmith_row_version{{row=\"platform\"}} 2
# HELP locksmith_row_damaged Whether the row holds something no lock write can handle (1; `locksmith locks repair` mends it) or not (0)
# TYPE locksmith_row_damaged gauge
locksmith_row_damaged{{row=\"apps\"}} 0
locksmith_row_damaged{{row=\"cloudron\"}} 0
locksmith_row_damaged{{row=\"platform\"}} 0
# HELP locksmith_lock_age_seconds How long the lock has been held: since it was taken when the holder registry says, else at least since the row's last change (or since the exporter first saw it)
# TYPE locksmith_lock_age_seconds gauge
locksmith_lock_age_seconds{{row=\"apps\",lock=\"app_task_1\",liveness=\"dead\"}} <S>
locksmith_lock_age_seconds{{row=\"cloudron\",lock=\"update\",liveness=\"unknown\"}} <S>
locksmith_lock_age_seconds{{row=\"platform\",lock=\"backup\",liveness=\"alive\"}} <S>
# HELP locksmith_waiters Registered holders waiting for the lock (dead waiters left out)
# TYPE locksmith_waiters gauge
locksmith_waiters{{row=\"platform\",lock=\"backup\"}} 1
# HELP locksmith_longest_wait_seconds How long the longest waiter for the lock has waited
# TYPE locksmith_longest_wait_seconds gauge
locksmith_longest_wait_seconds{{row=\"platform\",lock=\"backup\"}} <S>
# HELP locksmith_series_dropped Per-lock series left out because of --max-series (the oldest locks are kept)
# TYPE locksmith_series_dropped gauge
locksmith_series_dropped 0
# HELP locksmith_deadlocks Cycles of holders each waiting for a lock the next one holds
# TYPE locksmith_deadlocks gauge
locksmith_deadlocks 0
{MIGRATED}"
    );
    assert_eq!(normal_metrics(&r.stdout), body);
    if let Some(p) = &promtool {
        promtool_checks(p, &r.stdout);
    }

    // --holder-labels: each lock's holder too.
    let r = db.locksmith(&["locks", "dump", "--format", "prometheus", "--holder-labels"]);
    r.succeeds_where(|_| {});
    let ages: Vec<&str> = r
        .stdout
        .lines()
        .filter(|l| l.starts_with("locksmith_lock_age_seconds{"))
        .map(|l| l.rsplit_once(' ').unwrap().0)
        .collect();
    assert_eq!(
        ages,
        [
            r#"locksmith_lock_age_seconds{row="apps",lock="app_task_1",liveness="dead",holder="t2"}"#,
            r#"locksmith_lock_age_seconds{row="cloudron",lock="update",liveness="unknown",holder="task-99"}"#,
            r#"locksmith_lock_age_seconds{row="platform",lock="backup",liveness="alive",holder="task-1"}"#,
        ]
    );
    let _ = waiter.kill();
    let _ = waiter.wait();
}

#[test]
fn label_values_are_escaped() {
    let promtool = tool("promtool");
    let db = TestDb::migrated();
    // A row id with a quote, a backslash and an ESC sequence; a lock name
    // with a quote, a backslash, a newline and an ESC; a holder with a
    // closing brace and a quote. Written by another writer, as stored.
    db.sql(
        r#"INSERT INTO locks (id, dataJson, version) VALUES (CONCAT('r"\\', CHAR(27), '[31m'), '{"a\\"b\\\\c\\nd\\u001b[0m":"h\\"}"}', 1)"#,
    );
    let r = db.locksmith(&["locks", "dump", "--format", "prometheus", "--holder-labels"]);
    r.succeeds_where(|_| {});
    assert!(!r.stdout.contains('\u{1b}'), "a raw ESC: {:?}", r.stdout);
    let lines: Vec<&str> = r
        .stdout
        .lines()
        .filter(|l| l.contains("row=") && l.starts_with("locksmith_l"))
        .map(|l| l.rsplit_once(' ').unwrap().0)
        .collect();
    assert_eq!(
        lines,
        [
            r#"locksmith_locks_held{row="r\"\\\\u{1b}[31m"}"#,
            r#"locksmith_lock_age_seconds{row="r\"\\\\u{1b}[31m",lock="a\"b\\c\\nd\\u{1b}[0m",liveness="unknown",holder="h\"}"}"#,
        ]
    );
    if let Some(p) = &promtool {
        promtool_checks(p, &r.stdout);
    }
}

#[test]
fn max_series_keeps_the_oldest_locks() {
    let db = TestDb::migrated();
    // Three rows of two locks each, changed 3 h, 2 h and 1 h ago.
    db.sql(
        r#"INSERT INTO locks (id, dataJson, version, ts) VALUES
           ('a', '{"a1":"x","a2":"x"}', 1, NOW() - INTERVAL 2 HOUR),
           ('b', '{"b1":"x","b2":"x"}', 1, NOW() - INTERVAL 3 HOUR),
           ('c', '{"c1":"x","c2":"x"}', 1, NOW() - INTERVAL 1 HOUR)"#,
    );
    let ages = |args: &[&str]| -> (Vec<String>, Option<f64>) {
        let mut all = vec!["locks", "dump", "--format", "prometheus"];
        all.extend_from_slice(args);
        let r = db.locksmith(&all);
        r.succeeds_where(|_| {});
        let kept = r
            .stdout
            .lines()
            .filter(|l| l.starts_with("locksmith_lock_age_seconds{"))
            .map(|l| l.split("lock=\"").nth(1).unwrap()[..2].to_string())
            .collect();
        (kept, sample(&r.stdout, "locksmith_series_dropped"))
    };
    assert_eq!(
        ages(&[]),
        (
            ["a1", "a2", "b1", "b2", "c1", "c2"]
                .map(String::from)
                .to_vec(),
            Some(0.0)
        )
    );
    // The oldest (row b's), then row a's first: in the rows' order.
    assert_eq!(
        ages(&["--max-series", "3"]),
        (["a1", "b1", "b2"].map(String::from).to_vec(), Some(3.0))
    );
    assert_eq!(ages(&["--max-series", "0"]), (Vec::new(), Some(6.0)));
}

#[test]
fn migrations_in_the_metrics() {
    // Nothing applied: no `locks` table, so no lock series, and up 1.
    let db = TestDb::new();
    let r = db.locksmith(&["locks", "dump", "--format", "prometheus"]);
    r.succeeds_where(|_| {});
    assert_eq!(
        normal_metrics(&r.stdout),
        format!(
            "{HEAD}\
# HELP locksmith_migrations_pending Migrations not applied (pending, or in any state but applied)
# TYPE locksmith_migrations_pending gauge
locksmith_migrations_pending 3
# HELP locksmith_migrations Migrations by state (as `locksmith migrate status` shows them)
# TYPE locksmith_migrations gauge
locksmith_migrations{{state=\"pending\"}} 3
"
        )
    );
    // Up to V2: one pending; the locks are read (every holder unknown).
    db.locksmith(&["migrate", "up", "--target", "2"]).succeeds_like(
        "Applied V1__locks_create_table\nApplied V2__locks_audit_create_table\nSchema is now at version 2.\n",
    );
    let r = db.locksmith(&["locks", "dump", "--format", "prometheus"]);
    r.succeeds_where(|_| {});
    for (series, v) in [
        ("locksmith_up", 1.0),
        ("locksmith_migrations_pending", 1.0),
        ("locksmith_migrations{state=\"applied\"}", 2.0),
        ("locksmith_migrations{state=\"pending\"}", 1.0),
        ("locksmith_deadlocks", 0.0),
    ] {
        assert_eq!(sample(&r.stdout, series), Some(v), "{series}: {}", r.stdout);
    }
    // A run on another host has held the run guard for 90 s, beating.
    db.sql(
        "REPLACE INTO locksmith_migrate (name, token, holder, since, beat) VALUES ('run', REPEAT('a', 32), 'elsewhere:1', UTC_TIMESTAMP(6) - INTERVAL 90 SECOND, UTC_TIMESTAMP(6))",
    );
    let r = db.locksmith(&["locks", "dump", "--format", "prometheus"]);
    r.succeeds_where(|_| {});
    let held = sample(
        &r.stdout,
        "locksmith_migration_guard_held_seconds{stale=\"false\"}",
    )
    .unwrap_or_else(|| panic!("no guard: {}", r.stdout));
    assert!((89.0..150.0).contains(&held), "{held}");
}

#[test]
fn an_account_that_may_only_read_is_enough() {
    let db = TestDb::migrated();
    db.locksmith(&[
        "locks", "acquire", "platform", "backup", "--holder", "task-1",
    ])
    .success();
    let name = unique_name("ro");
    let pw: String = std::iter::repeat_with(fastrand::alphanumeric)
        .take(24)
        .collect();
    db.admin_sql(&format!(
        "CREATE USER '{name}'@'%' IDENTIFIED BY '{pw}'; GRANT SELECT ON `{}`.* TO '{name}'@'%'",
        db.name
    ));
    let url = format!("mysql://{name}:{pw}@{}/{}", db.addr(), db.name);
    let as_owner = db.locksmith(&["locks", "dump", "--format", "prometheus"]);
    let as_reader = locksmith_at(&url, &["locks", "dump", "--format", "prometheus"]);
    as_reader.succeeds_where(|_| {});
    assert_eq!(
        normal_metrics(&as_reader.stdout),
        normal_metrics(&as_owner.stdout)
    );
    admin_sql(&format!("DROP USER IF EXISTS '{name}'@'%'"));
}
