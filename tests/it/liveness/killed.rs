//! A `locks run` holder killed (its PID gone: dead at once) and one frozen
//! (dead once its lease ran out by the server's clock): `dump` says so,
//! `force-release --dead` releases exactly their locks with the evidence,
//! and a frozen holder continued after losing its lock stops its command
//! and exits 7.

use super::*;
use nix::sys::signal::Signal;

#[test]
fn a_killed_run_is_dead_at_once_and_only_its_lock_is_released() {
    let db = TestDb::migrated();
    let f = Flags::new();
    let victim = f.started_run(&db, "job", &[], &f.hold("victim"), "victim");
    let live = f.started_run(&db, "other", &[], &f.until_go("live"), "live");
    let (vh, lh, vpid) = (holder_of(&victim), holder_of(&live), victim.id());
    let lpid = live.id();
    like(
        &verdict(&db, ROW, "job").why,
        &format!(r"PID {vpid} is running on this host; heartbeat \d+(ms|s) ago, lease 30s"),
    );

    let t = Instant::now();
    signal(vpid, Signal::SIGKILL);
    wait_until(
        "dump says the killed holder is dead",
        Duration::from_secs(2),
        || verdict(&db, ROW, "job").state == "dead",
    );
    let took = t.elapsed();
    eprintln!(
        "liveness figure: SIGKILL of a `locks run` to the first `dump` saying dead: {:.0} ms",
        took.as_secs_f64() * 1000.0
    );
    let (r, _) = exits(victim, Duration::from_secs(10));
    assert_eq!((r.code, r.stdout.as_str(), r.stderr.as_str()), (-1, "", ""));
    let gone = format!("on this host, PID {vpid} is gone");
    assert_eq!(verdict(&db, ROW, "job"), says("dead", &gone));
    let names = [
        (vh.as_str(), "<DEAD>"),
        (lh.as_str(), "<LIVE>"),
        (&format!("PID {vpid} "), "PID <VPID> "),
        (&format!("PID {lpid} "), "PID <LPID> "),
    ];
    let v = db.version(ROW);
    // (In stored order: an acquire puts its lock first.)
    aged(db.locksmith(&["locks", "dump", ROW]).named(&names)).succeeds_like(&dump_table(&[
        &format!(
            "{ROW} other <LIVE> alive: PID <LPID> is running on this host; heartbeat <AGE> ago, lease 30s {v}"
        ),
        &format!("{ROW} job <DEAD> dead: on this host, PID <VPID> is gone {v}"),
    ]));

    // The plan, then the release: exactly the dead holder's lock.
    db.locksmith(&["locks", "force-release", ROW, "--dead", "--dry-run"])
        .named(&names)
        .succeeds_with(&format!(
            "row `{ROW}`: version {v} -> {} (planned)\n\
             release job (held by <DEAD>): dead: on this host, PID <VPID> is gone\n\
             1 lock(s) remain\n\
             Dry run: nothing was changed.\n",
            v + 1
        ));
    db.locksmith(&["locks", "force-release", ROW, "--dead", "--yes"])
        .named(&names)
        .succeeds_with(&format!(
            "row `{ROW}`: version {v} -> {}\n\
             released job (held by <DEAD>): dead: on this host, PID <VPID> is gone\n\
             1 lock(s) remain\n",
            v + 1
        ));
    aged(db.locksmith(&["locks", "dump", ROW]).named(&names)).succeeds_like(&dump_table(&[
        &format!(
            "{ROW} other <LIVE> alive: PID <LPID> is running on this host; heartbeat <AGE> ago, lease 30s {}",
            v + 1
        ),
    ]));
    // Again: nothing is dead now.
    db.locksmith(&["locks", "force-release", ROW, "--dead", "--yes"])
        .succeeds_with(&format!(
            "no lock in row `{ROW}` is held by a dead holder; nothing was changed\n"
        ));

    // The audit record says what was removed, and on what evidence; the
    // dead holder's registration went with its lock.
    let records = history(&db, ROW);
    let last = records.last().unwrap();
    assert_eq!(
        (
            last.action.as_str(),
            last.version_before,
            last.version_after,
            parsed(&last.removed),
            parsed(&last.evidence),
            last.command.as_str(),
        ),
        (
            "release-dead",
            Some(v),
            Some(v + 1),
            serde_json::json!({ "job": vh }),
            serde_json::json!({ "job": gone }),
            "locksmith locks force-release liveness --dead --yes",
        ),
        "{last:#?}"
    );
    assert_eq!(records.len(), 1, "one change, recorded once: {records:#?}");
    assert_eq!(registrations(&db, &vh), Vec::<Vec<Option<String>>>::new());

    // The live holder was never disturbed: it ends normally.
    f.go("live");
    let (r, _) = exits(live, Duration::from_secs(20));
    r.success();
    assert_eq!(db.data(ROW).as_deref(), Some("{}"));
    assert_eq!(registrations(&db, &lh), Vec::<Vec<Option<String>>>::new());
}

/// A command that marks its start and ignores SIGTERM (one process: the
/// sleep it becomes keeps ignoring it), so that only SIGKILL after
/// --kill-after ends it.
fn deaf(f: &Flags, tag: &str) -> Vec<String> {
    f.sh(&format!(
        "trap '' TERM; touch '{}'; exec sleep 120",
        f.path(&format!("{tag}.started")).display()
    ))
}

#[test]
fn a_frozen_run_is_dead_once_its_lease_expires_and_stops_when_continued() {
    let db = TestDb::migrated();
    let f = Flags::new();
    let frozen = f.started_run(
        &db,
        "job",
        &["--lease", "3s", "--kill-after", "1s"],
        &deaf(&f, "frozen"),
        "frozen",
    );
    let (fh, pid) = (holder_of(&frozen), frozen.id());
    signal(pid, Signal::SIGSTOP);
    let stopped = Instant::now();

    // Alive while the lease runs, dead once it has run out, by the
    // server's clock: each look's verdict agrees with the heartbeat's age
    // it read.
    let (mut alive_looks, mut first_dead) = (0, None);
    wait_until(
        "dump says the frozen holder is dead",
        Duration::from_secs(8),
        || {
            let l = lock_in(&db, ROW, "job").expect("held");
            let age = l.registration.as_ref().unwrap().heartbeat_age_seconds;
            match l.liveness.state.as_str() {
                "alive" => {
                    assert!(age < 3.0, "alive {age}s after the last heartbeat: {l:#?}");
                    like(
                        &l.liveness.why,
                        &format!(
                            r"PID {pid} is running on this host; heartbeat \d+(ms|s) ago, lease 3s"
                        ),
                    );
                    alive_looks += 1;
                    false
                }
                "dead" => {
                    assert!(age >= 3.0, "dead {age}s after the last heartbeat: {l:#?}");
                    first_dead = Some(l);
                    true
                }
                _ => panic!("{l:#?}"),
            }
        },
    );
    eprintln!(
        "liveness figure: SIGSTOP of a `locks run --lease 3s` to the first `dump` saying dead: {:.0} ms ({alive_looks} looks said alive before)",
        stopped.elapsed().as_secs_f64() * 1000.0
    );
    assert!(alive_looks > 0, "the lease was seen running");
    let dead = first_dead.unwrap();
    like(
        &dead.liveness.why,
        r"lease expired at <TIME> by the server's clock \(no heartbeat for 3s; lease 3s\)",
    );
    assert_eq!(dead.registration.unwrap().pid, pid as i32);

    let v = db.version(ROW);
    let r = db.locksmith(&["locks", "force-release", ROW, "--dead", "--yes"]);
    assert_eq!((r.code, r.stderr.as_str()), (0, ""), "{r:#?}");
    like(
        &r.named(&[(&fh, "<FROZEN>")]).stdout,
        &format!(
            "row `{ROW}`: version {v} -> {}\n\
             released job \\(held by <FROZEN>\\): dead: lease expired at <TIME> by the server's clock \\(no heartbeat for \\d+s; lease 3s\\)\n\
             0 lock\\(s\\) remain\n",
            v + 1
        ),
    );

    let t = Instant::now();
    signal(pid, Signal::SIGCONT);
    let (r, _) = exits(frozen, Duration::from_secs(15));
    let took = t.elapsed();
    eprintln!(
        "liveness figure: SIGCONT of a run whose lock was released as dead to its exit (heartbeat 1s, --kill-after 1s, a command deaf to SIGTERM): {:.0} ms",
        took.as_secs_f64() * 1000.0
    );
    // One heartbeat (a third of the lease), then --kill-after, then the
    // usual slack of a command.
    assert!(
        took <= Duration::from_secs(1 + 1 + 2),
        "took {took:?}: {r:#?}"
    );
    assert_eq!((r.code, r.stdout.as_str()), (7, ""), "{r:#?}");
    like(
        &r.stderr,
        &format!(
            "locksmith: lost lock `job` in row `{ROW}` while the command ran: released as dead by <ME> \\(<USER>@%\\) at <TIME> \
             \\(lease expired at <TIME> by the server's clock \\(no heartbeat for \\d+s; lease 3s\\)\\); nobody holds it now; \
             stopping the command \\(SIGTERM, then SIGKILL after 1s\\)\n\
             locksmith: the command did not exit within 1s of SIGTERM; killed it \\(SIGKILL\\)\n"
        ),
    );
    assert_eq!(db.data(ROW).as_deref(), Some("{}"));
    assert_eq!(registrations(&db, &fh), Vec::<Vec<Option<String>>>::new());
    let last = history(&db, ROW).pop().unwrap();
    assert_eq!(last.action, "release-dead");
}
