//! A frozen server and a black-holed connection: every command ends within
//! its deadline, saying what it could not tell; SIGTERM ends a hung command
//! (and a hung release) at once.

use super::*;

#[test]
fn a_frozen_server_ends_every_command_within_its_deadline() {
    let mut server = Throwaway::start(1, &[]);
    let db = TestDb::on(&server, 0);
    db.locksmith(&["migrate", "up"]).succeeds_with(UP_FRESH);
    db.locksmith(&["locks", "acquire", "platform", "backup", "--holder", "t1"])
        .success();
    let url = db.url();
    // Already waiting when the server freezes.
    let started = Instant::now();
    let mut waiter = spawn_at(
        &url,
        &[
            "locks", "acquire", "platform", "backup", "--holder", "t2", "--wait", "3s",
        ],
    );
    let mut stderr = std::io::BufReader::new(waiter.stderr.take().unwrap());
    read_until(&mut stderr, "waiting:");
    server.freeze(0);
    let (mut r, _) = wait_for(waiter, Duration::from_secs(30));
    std::io::Read::read_to_string(&mut stderr, &mut r.stderr).unwrap();
    let r = ends_in_time(
        "a waiting acquire --wait 3s",
        (r, started.elapsed()),
        Duration::from_secs(3),
        3,
    );
    // The lock is held by t1 throughout, so the waiter only ever looks (a
    // read, never a try): frozen during a look, it gave up.
    r.stderr_matches(&gave_up());
    // Started while it is frozen.
    let s2 = Duration::from_secs(2);
    for (args, deadline) in [
        (
            vec![
                "locks", "acquire", "platform", "backup", "--holder", "t2", "--wait", "3s",
            ],
            Duration::from_secs(3),
        ),
        (
            vec![
                "locks",
                "release",
                "platform",
                "backup",
                "--holder",
                "t1",
                "--timeout",
                "2s",
            ],
            s2,
        ),
        (vec!["locks", "dump", "--timeout", "2s"], s2),
        (vec!["locks", "history", "--timeout", "2s"], s2),
        (
            vec![
                "locks",
                "force-release",
                "platform",
                "backup",
                "--yes",
                "--timeout",
                "2s",
            ],
            s2,
        ),
        (
            vec!["locks", "bump", "platform", "--yes", "--timeout", "2s"],
            s2,
        ),
        (
            vec![
                "locks", "run", "platform", "job", "--wait", "2s", "--", "true",
            ],
            s2,
        ),
        (vec!["migrate", "status", "--timeout", "2s"], s2),
        (vec!["migrate", "up", "--timeout", "2s"], s2),
    ] {
        let r = ends_in_time(&args.join(" "), timed(&url, &args), deadline, 3);
        r.stderr_matches(&no_answer(&url));
    }
    server.thaw(0);
    assert_eq!(locks_of(&db, "platform"), [("backup".into(), "t1".into())]);
}

/// A command, the packet it hangs at, its deadline, its exit code and
/// what it says (a pattern).
type Case<'a> = (Vec<&'a str>, fn(&[u8]) -> bool, Duration, i32, String);

/// What a write whose outcome the deadline cut off says (a pattern): the
/// line that says what may be so, then the way to find out.
fn unsure(says: &str, hint: &str) -> String {
    format!(
        "{}: the deadline passed before the outcome could be told \\(last error: .*\\)\n{}\n",
        regex::escape(says),
        regex::escape(hint)
    )
}

#[test]
fn a_black_holed_connection_ends_every_command_within_its_deadline() {
    let db = TestDb::migrated();
    db.locksmith(&["locks", "acquire", "platform", "backup", "--holder", "t1"])
        .success();
    let proxy = Proxy::start(db.addr());
    let url = db.url_via(proxy.port);
    let s2 = Duration::from_secs(2);
    // A hang at the session's setup (a query) is one in connecting.
    let (gave_up, no_answer) = (gave_up(), no_answer(&url));
    let release_unsure = unsure(
        "locksmith: lock `backup` in row `platform` may still be held by t1",
        "hint: check with `locksmith locks dump platform`; `locksmith locks release platform 'backup' --holder 't1'` frees it",
    );
    let change_unsure = unsure(
        "locksmith: the change to row `platform` may or may not have been made",
        "hint: check with `locksmith locks history platform` and `locksmith locks dump platform`",
    );
    // Hangs at the first statement after connecting, or at COMMIT.
    let cases: [Case; 10] = [
        (
            vec![
                "locks", "acquire", "platform", "x", "--holder", "t2", "--wait", "2s",
            ],
            proxy::is_execute,
            s2,
            3,
            gave_up.clone(),
        ),
        (
            vec![
                "locks",
                "acquire",
                "platform",
                "x",
                "--holder",
                "t2",
                "--timeout",
                "2s",
            ],
            proxy::is_execute,
            s2,
            3,
            gave_up.clone(),
        ),
        (
            vec![
                "locks",
                "release",
                "platform",
                "backup",
                "--holder",
                "t1",
                "--timeout",
                "2s",
            ],
            proxy::is_execute,
            s2,
            3,
            release_unsure,
        ),
        (
            vec!["locks", "dump", "--timeout", "2s"],
            proxy::is_query,
            s2,
            3,
            no_answer.clone(),
        ),
        (
            vec!["locks", "history", "--timeout", "2s"],
            proxy::is_query,
            s2,
            3,
            no_answer.clone(),
        ),
        (
            vec![
                "locks",
                "force-release",
                "platform",
                "backup",
                "--yes",
                "--timeout",
                "2s",
            ],
            proxy::is_commit,
            s2,
            3,
            change_unsure.clone(),
        ),
        (
            vec!["locks", "bump", "platform", "--yes", "--timeout", "2s"],
            proxy::is_commit,
            s2,
            3,
            change_unsure,
        ),
        (
            vec![
                "locks", "run", "platform", "y", "--wait", "2s", "--", "true",
            ],
            proxy::is_execute,
            s2,
            3,
            gave_up,
        ),
        (
            vec!["migrate", "status", "--timeout", "2s"],
            proxy::is_query,
            s2,
            3,
            no_answer.clone(),
        ),
        (
            vec!["migrate", "up", "--timeout", "2s"],
            proxy::is_query,
            s2,
            3,
            no_answer.clone(),
        ),
    ];
    for (args, at, deadline, code, says) in cases {
        proxy.hole_on(at);
        let r = ends_in_time(&args.join(" "), timed(&url, &args), deadline, code);
        assert!(proxy.took_cut(), "the hang happened: {r:#?}");
        r.stderr_matches(&says);
        proxy.heal();
    }
    // And a connection that hangs before its handshake.
    proxy.black_hole();
    ends_in_time(
        "dump, hung at connect",
        timed(&url, &["locks", "dump", "--timeout", "2s"]),
        s2,
        3,
    )
    .stderr_matches(&no_answer);
    proxy.heal();
    // The force-release hung at COMMIT changed nothing; nothing else did.
    assert_eq!(locks_of(&db, "platform"), [("backup".into(), "t1".into())]);
}

#[test]
fn a_hung_release_after_the_command_says_the_lock_is_still_held() {
    let db = TestDb::migrated();
    let proxy = Proxy::start(db.addr());
    let url = db.url_via(proxy.port);
    let dir = tempfile::tempdir().unwrap();
    let go = dir.path().join("go");
    let script = format!(
        "echo ready; while [ ! -e '{}' ]; do sleep 0.02; done",
        go.display()
    );
    let mut run = spawn_at(
        &url,
        &[
            "locks",
            "run",
            "platform",
            "job",
            "--holder",
            "h1",
            "--timeout",
            "1s",
            "--release-timeout",
            "3s",
            "--",
            "sh",
            "-c",
            &script,
        ],
    );
    let mut stdout = std::io::BufReader::new(run.stdout.take().unwrap());
    read_until(&mut stdout, "ready");
    proxy.black_hole();
    let t = Instant::now();
    std::fs::write(&go, "").unwrap();
    let (r, _) = wait_for(run, Duration::from_secs(30));
    let took = t.elapsed();
    eprintln!(
        "deadline overrun: run's release, --release-timeout 3s: took {:.2}s",
        took.as_secs_f64()
    );
    assert!(took <= Duration::from_secs(3) + SLACK, "{took:?}");
    // (Its "ready" was read above.) The first try ran into --timeout, the
    // rest of --release-timeout went by, and it says the lock is held and
    // how to free it; the holes are what was measured, and the last error
    // seen before the deadline.
    assert_eq!((r.code, r.stdout.as_str()), (3, ""), "{r:#?}");
    r.stderr_matches(&format!(
        "{}{SECS}{}\\d+s more\n{}",
        regex::escape(
            "locksmith: could not release lock `job` in row `platform` yet (lost the connection to the server: no answer within "
        ),
        regex::escape("); retrying for up to "),
        still_held(&format!(
            "{}.*: no answer within {SECS}\\)",
            regex::escape(
                "lock `job` in row `platform` may still be held by h1: the deadline passed before the outcome could be told (last error: cannot connect to "
            )
        ))
    ));
    // Still held as it says (read past the proxy, whose black hole holds
    // what was sent: healing it may deliver the release after all).
    assert_eq!(locks_of(&db, "platform"), [("job".into(), "h1".into())]);
    proxy.heal();
}

#[test]
fn sigterm_ends_a_hung_command_within_two_seconds() {
    let db = TestDb::migrated();
    let proxy = Proxy::start(db.addr());
    let url = db.url_via(proxy.port);
    // Hung in its first read, with a long wait.
    for (args, at, says) in [
        (
            vec![
                "locks", "acquire", "platform", "x", "--holder", "t", "--wait", "60s",
            ],
            proxy::is_execute as fn(&[u8]) -> bool,
            "locksmith: interrupted by SIGTERM; nothing is left held\n",
        ),
        (
            vec!["locks", "dump", "--timeout", "60s"],
            proxy::is_query,
            "locksmith: interrupted by SIGTERM\n",
        ),
        (
            vec!["migrate", "status", "--timeout", "60s"],
            proxy::is_query,
            "locksmith: interrupted by SIGTERM\n",
        ),
    ] {
        proxy.hole_on(at);
        let child = spawn_at(&url, &args);
        // Its statement went into the hole: it is hung, waiting on it.
        wait_until("the command hangs", Duration::from_secs(20), || {
            proxy.took_cut()
        });
        signal(child.id(), Signal::SIGTERM);
        let (r, took) = wait_for(child, Duration::from_secs(30));
        eprintln!(
            "after SIGTERM: {}: {:.2}s",
            args.join(" "),
            took.as_secs_f64()
        );
        assert!(took <= SLACK, "{took:?}: {r:#?}");
        r.fails_with(143, says);
        proxy.heal();
    }
    // Hung in run's release: 2 more seconds, then STILL HELD.
    let dir = tempfile::tempdir().unwrap();
    let go = dir.path().join("go");
    let script = format!(
        "echo ready; while [ ! -e '{}' ]; do sleep 0.02; done",
        go.display()
    );
    let mut run = spawn_at(
        &url,
        &[
            "locks", "run", "platform", "job", "--holder", "h1", "--", "sh", "-c", &script,
        ],
    );
    let mut stdout = std::io::BufReader::new(run.stdout.take().unwrap());
    read_until(&mut stdout, "ready");
    proxy.black_hole();
    std::fs::write(&go, "").unwrap();
    // The command ended, and the release went into the black hole.
    wait_until("the release hangs", Duration::from_secs(20), || {
        proxy.holds_a_packet()
    });
    signal(run.id(), Signal::SIGTERM);
    let (r, took) = wait_for(run, Duration::from_secs(30));
    eprintln!(
        "after SIGTERM: run hung in its release: {:.2}s",
        took.as_secs_f64()
    );
    assert!(
        took <= SLACK + Duration::from_millis(500),
        "{took:?}: {r:#?}"
    );
    assert_eq!((r.code, r.stdout.as_str()), (143, ""), "{r:#?}");
    r.stderr_matches(&still_held(&format!(
        "gave up after {SECS}: cannot connect to .*: no answer within {SECS}"
    )));
    proxy.heal();
}
