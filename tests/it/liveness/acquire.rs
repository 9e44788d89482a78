//! `locks acquire` registers the process whose life the lock follows (the
//! caller, or `--holder-pid`), judged by that process, or by a lease that
//! `locks renew` keeps; a holder too long for the registry is taken but
//! not registered; a released lock leaves no registration behind.

use super::*;

#[test]
fn acquire_follows_the_calling_process_or_the_one_named() {
    let db = TestDb::migrated();
    let me = std::process::id();
    db.locksmith(&["locks", "acquire", ROW, "mine", "--holder", "task-1"])
        .success();
    assert_eq!(
        verdict(&db, ROW, "mine"),
        says("alive", &format!("PID {me} is running on this host"))
    );
    let reg = lock_in(&db, ROW, "mine").unwrap().registration.unwrap();
    assert_eq!(
        (reg.pid, reg.lease_seconds, reg.host),
        (me as i32, None, locksmith::host::hostname())
    );

    let pid = held_by_a_killed_process(&db, "theirs", "task-2");
    let gone = format!("on this host, PID {pid} is gone");
    assert_eq!(verdict(&db, ROW, "theirs"), says("dead", &gone));
    let v = db.version(ROW);
    db.locksmith(&["locks", "force-release", ROW, "--dead", "--yes"])
        .succeeds_with(&format!(
            "row `{ROW}`: version {v} -> {}\nreleased theirs (held by task-2): dead: {gone}\n1 lock(s) remain\n",
            v + 1
        ));
    assert_eq!(db.data(ROW).as_deref(), Some(r#"{"mine":"task-1"}"#));
}

#[test]
fn a_lease_is_kept_by_renew_and_runs_out_without_it() {
    let db = TestDb::migrated();
    let me = std::process::id();
    db.locksmith(&[
        "locks", "acquire", ROW, "job", "--holder", "task-1", "--lease", "2s",
    ])
    .success();
    like(
        &verdict(&db, ROW, "job").why,
        &format!(r"PID {me} is running on this host; heartbeat \d+(ms|s) ago, lease 2s"),
    );
    // Renewed, it stays alive past its lease.
    let t = Instant::now();
    while t.elapsed() < Duration::from_secs(3) {
        db.locksmith(&["locks", "renew", ROW, "job", "--holder", "task-1"])
            .success();
        assert_eq!(verdict(&db, ROW, "job").state, "alive");
        let beat = lock_in(&db, ROW, "job")
            .unwrap()
            .registration
            .unwrap()
            .heartbeat_age_seconds;
        assert!(beat < 1.0, "{beat}");
    }
    // Not renewed, it is dead once the lease has run out, though the
    // process it follows (this one) runs on.
    wait_until("the lease runs out", Duration::from_secs(4), || {
        verdict(&db, ROW, "job").state == "dead"
    });
    like(
        &verdict(&db, ROW, "job").why,
        r"lease expired at <TIME> by the server's clock \(no heartbeat for 2s; lease 2s\)",
    );
    // Renewing while it still holds the lock brings it back.
    db.locksmith(&["locks", "renew", ROW, "job", "--holder", "task-1"])
        .success();
    assert_eq!(verdict(&db, ROW, "job").state, "alive");
    db.locksmith(&["locks", "force-release", ROW, "--dead", "--yes"])
        .succeeds_with(&format!(
            "no lock in row `{ROW}` is held by a dead holder; nothing was changed\n"
        ));

    // Renew by anyone else, or for a lock not held, fails.
    db.locksmith(&["locks", "renew", ROW, "job", "--holder", "task-2"])
        .fails_with(
            4,
            &format!("locksmith: lock `job` in row `{ROW}` is held by task-1, not by task-2\n"),
        );
    db.locksmith(&["locks", "renew", ROW, "other", "--holder", "task-1"])
        .fails_with(
            5,
            &format!("locksmith: lock `other` is not held in row `{ROW}`\n"),
        );
    db.locksmith(&["locks", "force-release", ROW, "job", "--yes"])
        .succeeds_where(|_| {});
    db.locksmith(&["locks", "renew", ROW, "job", "--holder", "task-1"])
        .fails_with(
            5,
            &format!("locksmith: lock `job` is not held in row `{ROW}`\n"),
        );
    // Held, but never registered (another writer's holder).
    db.sql(&format!(
        r#"UPDATE locks SET dataJson = '{{"job":"task-9"}}', version = version + 1 WHERE id = '{ROW}'"#
    ));
    db.locksmith(&["locks", "renew", ROW, "job", "--holder", "task-9"])
        .fails_with(
            5,
            &format!(
                "locksmith: task-9 has no registration for lock `job` in row `{ROW}` to renew\n"
            ),
        );
    db.locksmith(&["locks", "renew", "no-such-row", "job", "--holder", "task-9"])
        .fails_with(5, "locksmith: lock row `no-such-row` does not exist\n");
}

#[test]
fn a_holder_too_long_for_the_registry_is_taken_but_not_registered() {
    let db = TestDb::migrated();
    let long = "h".repeat(256);
    db.locksmith(&["locks", "acquire", ROW, "job", "--holder", &long])
        .fails_with_output(0)
        .no_stdout()
        .stderr_is(
            "locksmith: warning: the holder is not registered, so others cannot tell whether it is alive: \
             a holder of 256 characters cannot be registered for liveness; the registry holds at most 255\n",
        );
    let l = lock_in(&db, ROW, "job").unwrap();
    assert_eq!(json(&l.holder), serde_json::json!(long));
    assert_eq!(
        (l.liveness, l.registration),
        (says("unknown", "not registered by locksmith"), None)
    );
    assert_eq!(
        db.scalar("SELECT COUNT(*) FROM locks_holders").as_deref(),
        Some("0")
    );
    // 255 is registered.
    let fits = "h".repeat(255);
    db.locksmith(&["locks", "acquire", ROW, "other", "--holder", &fits])
        .success();
    assert_eq!(verdict(&db, ROW, "other").state, "alive");
    // So is a `run` with one.
    let r = db.locksmith(&[
        "locks", "run", ROW, "third", "--holder", &long, "--", "true",
    ]);
    assert_eq!((r.code, r.stdout.as_str()), (0, ""), "{r:#?}");
    r.stderr_is(
        "locksmith: warning: the holder is not registered, so others cannot tell whether it is alive: \
         a holder of 256 characters cannot be registered for liveness; the registry holds at most 255\n",
    );
}

/// A lock released by its holder, or force-released by an operator, takes
/// its registration with it: one left behind would judge the next holder
/// of that name, which may be another writer's and was never registered.
#[test]
fn a_released_lock_leaves_no_registration_behind() {
    let db = TestDb::migrated();
    for (i, how) in ["release", "force-release"].into_iter().enumerate() {
        let holder = format!("task-{i}");
        let mut child = std::process::Command::new("sleep")
            .arg("120")
            .spawn()
            .unwrap();
        let pid = child.id().to_string();
        db.locksmith(&[
            "locks",
            "acquire",
            ROW,
            "job",
            "--holder",
            &holder,
            "--holder-pid",
            &pid,
        ])
        .success();
        assert_eq!(registrations(&db, &holder).len(), 1);
        match how {
            "release" => db
                .locksmith(&["locks", "release", ROW, "job", "--holder", &holder])
                .success(),
            _ => db
                .locksmith(&["locks", "force-release", ROW, "job", "--yes"])
                .succeeds_where(|_| {}),
        };
        assert_eq!(
            registrations(&db, &holder),
            Vec::<Vec<Option<String>>>::new(),
            "after {how}"
        );
        child.kill().unwrap();
        child.wait().unwrap();
        // Another writer of the seed's protocol takes the lock for a holder
        // of the same name: locksmith knows nothing of it.
        db.sql(&format!(
            r#"UPDATE locks SET dataJson = '{{"job":"{holder}"}}', version = version + 1 WHERE id = '{ROW}'"#
        ));
        assert_eq!(
            verdict(&db, ROW, "job"),
            says("unknown", "not registered by locksmith"),
            "after {how}"
        );
        db.locksmith(&["locks", "force-release", ROW, "--dead", "--yes"])
            .succeeds_with(&format!(
                "no lock in row `{ROW}` is held by a dead holder; nothing was changed\n"
            ));
        db.sql(&format!(
            r#"UPDATE locks SET dataJson = '{{}}', version = version + 1 WHERE id = '{ROW}'"#
        ));
    }
}
