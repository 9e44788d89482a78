//! Holders locksmith did not register (Cloudron's task ids, any other
//! writer's): unknown, never dead, so `--dead` never touches them; an
//! operator's `--probe` can say they are dead (its first line is the why),
//! and a probe that hangs or cannot be run leaves them unknown.

use super::*;

fn seed(db: &TestDb) {
    db.sql(&format!(
        r#"INSERT INTO locks (id, dataJson, version) VALUES ('{ROW}', '{{"backup":"task-7","update":42}}', 1)"#
    ));
}

/// The dump table of the seeded row, each holder with this verdict.
fn both(backup: &str, update: &str) -> String {
    dump_table(&[
        &format!("{ROW} backup task-7 {backup} 1"),
        &format!("{ROW} update 42 {update} 1"),
    ])
}

const DEAD_PROBE: &str = r#"echo "task $LOCKSMITH_HOLDER finished"; echo more; exit 1"#;

#[test]
fn foreign_holders_are_unknown_and_never_released_as_dead() {
    let db = TestDb::migrated();
    seed(&db);
    let unknown = "unknown: not registered by locksmith";
    db.locksmith(&["locks", "dump", ROW])
        .succeeds_like(&both(unknown, unknown));
    for l in &dump(&db, &[ROW]).rows[0].locks {
        assert_eq!(
            (&l.liveness, &l.since, &l.registration),
            (
                &says("unknown", "not registered by locksmith"),
                &None,
                &None
            )
        );
    }
    let nothing = format!("no lock in row `{ROW}` is held by a dead holder; nothing was changed\n");
    db.locksmith(&["locks", "force-release", ROW, "--dead", "--yes"])
        .succeeds_with(&nothing);
    db.locksmith(&["locks", "force-release", ROW, "--dead", "--dry-run"])
        .succeeds_with(&nothing);
    let doc: locksmith::cli::output::ChangeDoc = db
        .locksmith(&["locks", "force-release", ROW, "--dead", "--format", "json"])
        .success_json();
    assert_eq!(
        (
            doc.action.as_str(),
            doc.version_before,
            doc.version_after,
            doc.removed.len(),
            doc.remaining.len(),
            doc.evidence.len()
        ),
        ("release-dead", Some(1), 1, 0, 2, 0),
        "{doc:#?}"
    );
    // A probe that says alive, or cannot tell, changes nothing either.
    db.locksmith(&[
        "locks",
        "force-release",
        ROW,
        "--dead",
        "--yes",
        "--probe",
        "echo running; exit 0",
    ])
    .succeeds_with(&nothing);
    assert_eq!(db.version(ROW), 1);
    assert_eq!(
        db.data(ROW).as_deref(),
        Some(r#"{"backup":"task-7","update":42}"#)
    );
    assert!(history(&db, ROW).is_empty());
}

#[test]
fn a_probe_that_says_dead_makes_them_dead_with_its_first_line() {
    let db = TestDb::migrated();
    seed(&db);
    db.locksmith(&["locks", "dump", ROW, "--probe", DEAD_PROBE])
        .succeeds_like(&both(
            "dead: probe: task task-7 finished",
            "dead: probe: task 42 finished",
        ));
    db.locksmith(&["locks", "dump", ROW, "--probe", "echo running; exit 0"])
        .succeeds_like(&both("alive: probe: running", "alive: probe: running"));
    // The plan, as text and as JSON.
    db.locksmith(&[
        "locks",
        "force-release",
        ROW,
        "--dead",
        "--probe",
        DEAD_PROBE,
        "--dry-run",
    ])
    .succeeds_with(&format!(
        "row `{ROW}`: version 1 -> 2 (planned)\n\
         release backup (held by task-7): dead: probe: task task-7 finished\n\
         release update (held by 42): dead: probe: task 42 finished\n\
         0 lock(s) remain\n\
         Dry run: nothing was changed.\n"
    ));
    let plan: serde_json::Value = db
        .locksmith(&[
            "locks",
            "force-release",
            ROW,
            "--dead",
            "--probe",
            DEAD_PROBE,
            "--dry-run",
            "--format",
            "json",
        ])
        .success_json();
    assert_eq!(
        plan,
        serde_json::json!({
            "action": "release-dead",
            "dry_run": true,
            "row": ROW,
            "version_before": 1,
            "version_after": 2,
            "removed": [{"name": "backup", "holder": "task-7"}, {"name": "update", "holder": 42}],
            "remaining": [],
            "replaced_raw": null,
            "repairs": [],
            "evidence": [
                {"lock": "backup", "why": "probe: task task-7 finished"},
                {"lock": "update", "why": "probe: task 42 finished"},
            ],
        })
    );
    assert_eq!(db.version(ROW), 1, "a dry run changes nothing");
    // A probe that only condemns task-7: 42 stays.
    let probe = r#"[ "$LOCKSMITH_HOLDER" = task-7 ] || { echo "still running"; exit 0; }; echo "task 7 finished"; exit 1"#;
    let done: serde_json::Value = db
        .locksmith(&[
            "locks",
            "force-release",
            ROW,
            "--dead",
            "--probe",
            probe,
            "--yes",
            "--format",
            "json",
        ])
        .success_json();
    assert_eq!(
        (
            &done["dry_run"],
            &done["removed"],
            &done["remaining"],
            &done["evidence"]
        ),
        (
            &serde_json::json!(false),
            &serde_json::json!([{"name": "backup", "holder": "task-7"}]),
            &serde_json::json!([{"name": "update", "holder": 42}]),
            &serde_json::json!([{"lock": "backup", "why": "probe: task 7 finished"}]),
        ),
        "{done:#}"
    );
    assert_eq!(db.data(ROW).as_deref(), Some(r#"{"update":42}"#));
    let last = history(&db, ROW).pop().unwrap();
    assert_eq!(
        (
            last.action.as_str(),
            parsed(&last.removed),
            parsed(&last.evidence)
        ),
        (
            "release-dead",
            serde_json::json!({"backup": "task-7"}),
            serde_json::json!({"backup": "probe: task 7 finished"}),
        )
    );
}

#[test]
fn a_probe_that_hangs_or_cannot_run_leaves_them_unknown() {
    let db = TestDb::migrated();
    db.sql(&format!(
        r#"INSERT INTO locks (id, dataJson, version) VALUES ('{ROW}', '{{"backup":"task-7"}}', 1)"#
    ));
    let one = |why: &str| dump_table(&[&format!("{ROW} backup task-7 {why} 1")]);
    // Hangs, and so does what it started: both are ended at the timeout.
    let t = Instant::now();
    db.locksmith(&[
        "locks",
        "dump",
        ROW,
        "--probe",
        "sleep 6171 & echo thinking; wait; exit 1",
        "--probe-timeout",
        "1s",
    ])
    .succeeds_like(&one("unknown: the probe did not answer within 1s"));
    let took = t.elapsed();
    wait_until(
        "the probe's children are ended",
        Duration::from_secs(2),
        || running("sleep 6171") == 0,
    );
    eprintln!(
        "liveness figure: `dump` with a probe that hangs, --probe-timeout 1s: {:.0} ms",
        took.as_secs_f64() * 1000.0
    );
    assert!(took < Duration::from_secs(1 + 2), "{took:?}");
    let t = Instant::now();
    db.locksmith(&[
        "locks",
        "force-release",
        ROW,
        "--dead",
        "--probe",
        "exec sleep 60",
        "--probe-timeout",
        "1s",
        "--yes",
    ])
    .succeeds_with(&format!(
        "no lock in row `{ROW}` is held by a dead holder; nothing was changed\n"
    ));
    assert!(
        t.elapsed() < Duration::from_secs(1 + 2),
        "{:?}",
        t.elapsed()
    );
    for (probe, why) in [
        ("/no/such/program", "the probe exited 127"),
        ("exit 127", "the probe exited 127"),
        ("exit 3", "the probe exited 3"),
        ("echo maybe; exit 2", "probe: maybe"),
        ("kill -KILL $$", "the probe exited on a signal"),
    ] {
        db.locksmith(&["locks", "dump", ROW, "--probe", probe])
            .succeeds_like(&one(&format!("unknown: {why}")));
        db.locksmith(&[
            "locks",
            "force-release",
            ROW,
            "--dead",
            "--yes",
            "--probe",
            probe,
        ])
        .succeeds_with(&format!(
            "no lock in row `{ROW}` is held by a dead holder; nothing was changed\n"
        ));
    }
    assert_eq!(db.version(ROW), 1);
}

/// A row of many foreign holders: they are asked side by side (8 at a
/// time), so a slow probe costs about two of its runs here, not twelve; and
/// one that hangs is ended by the command's `--timeout`, however long
/// `--probe-timeout` is.
#[test]
fn many_holders_are_probed_side_by_side_and_within_the_timeout() {
    let db = TestDb::migrated();
    let locks: Vec<String> = (0..12)
        .map(|i| format!(r#""lock-{i:02}":"task-{i}""#))
        .collect();
    db.sql(&format!(
        r#"INSERT INTO locks (id, dataJson, version) VALUES ('{ROW}', '{{{}}}', 1)"#,
        locks.join(",")
    ));
    // The dump of the row with `args`, and how long it took.
    let timed = |args: &[&str]| -> (Dump, Duration) {
        let mut all = vec!["locks", "dump", ROW, "--format", "json"];
        all.extend_from_slice(args);
        let t = Instant::now();
        let doc: Dump = db.locksmith(&all).success_json();
        (doc, t.elapsed())
    };
    let (doc, took) = timed(&[
        "--probe",
        r#"sleep 1; echo "$LOCKSMITH_HOLDER finished"; exit 1"#,
    ]);
    eprintln!(
        "liveness figure: `dump` probing 12 holders with a 1 s probe: {:.0} ms",
        took.as_secs_f64() * 1000.0
    );
    let verdicts: Vec<(String, DumpLiveness)> = doc.rows[0]
        .locks
        .iter()
        .map(|l| (l.name.clone(), l.liveness.clone()))
        .collect();
    let expected: Vec<(String, DumpLiveness)> = (0..12)
        .map(|i| {
            (
                format!("lock-{i:02}"),
                says("dead", &format!("probe: task-{i} finished")),
            )
        })
        .collect();
    assert_eq!(verdicts, expected);
    assert!(took < Duration::from_secs(6), "{took:?}");

    let (doc, took) = timed(&[
        "--timeout",
        "2s",
        "--probe",
        "exec sleep 60",
        "--probe-timeout",
        "30s",
    ]);
    eprintln!(
        "liveness figure: `dump --timeout 2s` with a probe that hangs (--probe-timeout 30s): {:.0} ms",
        took.as_secs_f64() * 1000.0
    );
    for l in &doc.rows[0].locks {
        assert_eq!(
            l.liveness,
            says(
                "unknown",
                "the probe did not answer before the command's --timeout"
            ),
            "{}",
            l.name
        );
    }
    assert!(took < Duration::from_secs(2 + 2), "{took:?}");
    wait_until("the probes are ended", Duration::from_secs(2), || {
        running("sleep 60") == 0
    });
}
