//! `--take-over-dead`: a waiter takes a dead holder's lock through an
//! audited `take-over`, only once the lock-delay has passed since its lease
//! ran out (a process that is gone has no delay); the frozen holder, once
//! continued, stops and exits 7; a holder that is only unknown is never
//! taken over.

use super::*;
use nix::sys::signal::Signal;

#[test]
fn a_waiter_takes_over_a_frozen_holder_only_after_the_lock_delay() {
    let db = TestDb::migrated();
    let f = Flags::new();
    let frozen = f.started_run(&db, "job", &["--lease", "3s"], &f.hold("frozen"), "frozen");
    let (fh, pid) = (holder_of(&frozen), frozen.id());
    signal(pid, Signal::SIGSTOP);
    wait_until("the frozen holder is dead", Duration::from_secs(8), || {
        verdict(&db, ROW, "job").state == "dead"
    });
    // Its last heartbeat, final now: nothing of it runs any more.
    let beat = beat_us(&db, &fh, ROW, "job").unwrap();
    let fence_line = f.path("fence");
    let waiter = f.watch(spawn_run(
        &db,
        ROW,
        "job",
        &["--take-over-dead", "--lock-delay", "2s", "--wait", "20s"],
        &f.sh(&format!(
            "echo \"$LOCKSMITH_FENCE\" > '{}'; touch '{}'; while [ ! -e '{}' ] && [ -d '{}' ]; do sleep 0.02; done",
            fence_line.display(),
            f.path("waiter.started").display(),
            f.path("waiter.go").display(),
            f.path("").display()
        )),
    ));
    let wh = holder_of(&waiter);
    f.wait_started("waiter", Duration::from_secs(20));

    // The take-over, audited with its evidence, came no sooner than the
    // lock-delay after the lease ran out, by the server's clock.
    let records = history(&db, ROW);
    let took = records.last().unwrap();
    assert_eq!(
        (took.action.as_str(), parsed(&took.removed)),
        ("take-over", serde_json::json!({ "job": fh })),
        "{took:#?}"
    );
    let why = parsed(&took.evidence)["job"].as_str().unwrap().to_string();
    like(
        &why,
        r"lease expired at <TIME> by the server's clock \(no heartbeat for \d+s; lease 3s\)",
    );
    let at_us: i64 = db
        .scalar(&format!(
            "SELECT ROUND(UNIX_TIMESTAMP(at) * 1000000) FROM locks_audit WHERE id = {}",
            took.id
        ))
        .unwrap()
        .parse()
        .unwrap();
    let after_expiry = Duration::from_micros((at_us - (beat + 3_000_000)).max(0) as u64);
    eprintln!(
        "liveness figure: take-over {:.0} ms after the lease ran out (lock-delay 2s)",
        after_expiry.as_secs_f64() * 1000.0
    );
    assert!(
        at_us >= beat + 3_000_000 + 2_000_000,
        "taken over {}us after the lease ran out",
        at_us - beat - 3_000_000
    );
    let fence: i64 = std::fs::read_to_string(&fence_line)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert_eq!(
        Some(fence),
        took.version_after,
        "the fence is the take-over's version"
    );
    let held = lock_in(&db, ROW, "job").unwrap();
    assert_eq!(json(&held.holder), serde_json::json!(wh));
    like(
        &held.liveness.why,
        &format!(
            r"PID {} is running on this host; heartbeat \d+(ms|s) ago, lease 30s",
            waiter.id()
        ),
    );
    assert_eq!(registrations(&db, &fh), Vec::<Vec<Option<String>>>::new());

    // The frozen holder, continued, finds its lock taken and stops.
    signal(pid, Signal::SIGCONT);
    let (r, t) = exits(frozen, Duration::from_secs(15));
    eprintln!(
        "liveness figure: SIGCONT of a holder that was taken over to its exit: {:.0} ms",
        t.as_secs_f64() * 1000.0
    );
    assert_eq!((r.code, r.stdout.as_str()), (7, ""), "{r:#?}");
    like(
        &r.named(&[(&wh, "<WAITER>")]).stderr,
        &format!(
            "locksmith: lost lock `job` in row `{ROW}` while the command ran: taken over by <ME> \\(<USER>@%\\) at <TIME> \
             \\({}\\); <WAITER> holds it now; stopping the command \\(SIGTERM, then SIGKILL after 1s\\)\n",
            regex::escape(&normal(&why))
        ),
    );
    // The waiter was never disturbed by it.
    assert_eq!(
        json(&lock_in(&db, ROW, "job").unwrap().holder),
        serde_json::json!(wh)
    );
    f.go("waiter");
    let (r, _) = exits(waiter, Duration::from_secs(20));
    assert_eq!((r.code, r.stdout.as_str()), (0, ""), "{r:#?}");
    r.named(&[(&fh, "<FROZEN>")]).stderr_is(&format!(
        "locksmith: waiting: lock `job` in row `{ROW}` is held by <FROZEN>\n"
    ));
    assert_eq!(db.data(ROW).as_deref(), Some("{}"));
    let actions: Vec<String> = history(&db, ROW).into_iter().map(|r| r.action).collect();
    assert_eq!(actions, ["take-over"]);
}

#[test]
fn a_holder_whose_process_is_gone_is_taken_over_without_the_delay() {
    let db = TestDb::migrated();
    let pid = held_by_a_killed_process(&db, "job", "gone-1");
    let t = Instant::now();
    db.locksmith(&[
        "locks",
        "acquire",
        ROW,
        "job",
        "--holder",
        "heir",
        "--take-over-dead",
        "--lock-delay",
        "30s",
        "--wait",
        "20s",
    ])
    .success();
    assert!(t.elapsed() < Duration::from_secs(10), "{:?}", t.elapsed());
    let last = history(&db, ROW).pop().unwrap();
    assert_eq!(
        (
            last.action.as_str(),
            parsed(&last.removed),
            parsed(&last.evidence)
        ),
        (
            "take-over",
            serde_json::json!({"job": "gone-1"}),
            serde_json::json!({"job": format!("on this host, PID {pid} is gone")}),
        )
    );
    assert_eq!(db.data(ROW).as_deref(), Some(r#"{"job":"heir"}"#));
}

#[test]
fn an_unknown_holder_is_never_taken_over() {
    let db = TestDb::migrated();
    db.sql(&format!(
        r#"INSERT INTO locks (id, dataJson, version) VALUES ('{ROW}', '{{"job":"task-7"}}', 1)"#
    ));
    let f = Flags::new();
    let t = Instant::now();
    let cmd = f.hold("never");
    let mut args = vec![
        "locks",
        "run",
        ROW,
        "job",
        "--take-over-dead",
        "--lock-delay",
        "1s",
        "--wait",
        "3s",
        "--",
    ];
    args.extend(cmd.iter().map(String::as_str));
    let r = db.locksmith(&args);
    let waited = t.elapsed();
    r.fails(4).stderr_matches(&format!(
        "locksmith: waiting: lock `job` in row `{ROW}` is held by task-7\n\
         locksmith: gave up after waiting \\d+\\.\\ds: lock `job` in row `{ROW}` is held by task-7\n"
    ));
    assert!(waited >= Duration::from_secs(3), "{waited:?}");
    assert!(!f.started("never"));
    assert_eq!(db.data(ROW).as_deref(), Some(r#"{"job":"task-7"}"#));
    assert_eq!(db.version(ROW), 1);
    assert!(history(&db, ROW).is_empty());
    assert_eq!(
        db.scalar("SELECT COUNT(*) FROM locks_holders").as_deref(),
        Some("0")
    );
}
