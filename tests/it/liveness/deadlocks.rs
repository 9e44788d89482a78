//! Waits-for: registered waiters are listed with what is in their way, and
//! two `locks run` holders each waiting for the other's lock are reported
//! as a deadlock naming both, for as long as it lasts (longer than the
//! waiters' leases: a waiter that polls is alive).

use super::*;

/// `locks run ROW NAME --holder H -- sh -c '<wait for go>; exec locksmith
/// locks run ROW2 NAME2 --holder H --lease 1s --wait WAIT -- true'`: holds
/// one lock, then (once told) waits for another under the same holder.
fn nested(
    db: &TestDb,
    f: &Flags,
    holder: &str,
    (row, name): (&str, &str),
    (row2, name2): (&str, &str),
    wait: &str,
) -> Child {
    let inner = format!(
        "touch '{}'; while [ ! -e '{}' ] && [ -d '{}' ]; do sleep 0.02; done; \
         exec '{}' locks run {row2} {name2} --holder {holder} --lease 1s --wait {wait} -- true",
        f.path(&format!("{holder}.started")).display(),
        f.path("go").display(),
        f.path("").display(),
        bin().display()
    );
    f.watch(spawn_run(
        db,
        row,
        name,
        &["--holder", holder],
        &f.sh(&inner),
    ))
}

#[test]
fn two_runs_waiting_for_each_other_are_a_deadlock() {
    let db = TestDb::migrated();
    let f = Flags::new();
    // A holds x in r1 and will wait for y in r2; B holds y and will wait
    // for x. A gives up after 8 s; B waits longer, and then gets x.
    let a = nested(&db, &f, "A", ("r1", "x"), ("r2", "y"), "8s");
    let b = nested(&db, &f, "B", ("r2", "y"), ("r1", "x"), "60s");
    f.wait_started("A", Duration::from_secs(20));
    f.wait_started("B", Duration::from_secs(20));
    let d = dump(&db, &[]);
    assert!(d.waiters.is_empty() && d.deadlocks.is_empty(), "{d:#?}");
    db.locksmith(&["locks", "dump", "--waiters"])
        .succeeds_where(|out| assert!(out.ends_with("+\nNobody waits.\n"), "{out}"));
    std::fs::write(f.path("go"), "").unwrap();
    let started = Instant::now();
    wait_until("both wait", Duration::from_secs(10), || {
        dump(&db, &[]).waiters.len() == 2
    });

    // Reported while it lasts, longer than the waiters' 1 s leases.
    let mut looks = 0;
    loop {
        let d = dump(&db, &[]);
        assert_eq!(d.deadlocks, [["A", "B"]], "{d:#?}");
        let seen: Vec<(&str, &str, &str, &str, &str)> = d
            .waiters
            .iter()
            .map(|w| {
                assert_eq!(w.blocked_by.len(), 1, "{w:#?}");
                (
                    w.holder.as_str(),
                    w.row.as_str(),
                    w.lock.as_str(),
                    w.blocked_by[0].holder.as_str(),
                    w.liveness.state.as_str(),
                )
            })
            .collect();
        assert_eq!(
            seen,
            [
                ("B", "r1", "x", "A", "alive"),
                ("A", "r2", "y", "B", "alive")
            ],
            "{d:#?}"
        );
        looks += 1;
        if d.waiters.iter().all(|w| w.waited_seconds > 3.0) {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(10), "{d:#?}");
    }
    assert!(looks > 1);
    let r = db.locksmith(&["locks", "dump", "--waiters"]);
    assert_eq!((r.code, r.stderr.as_str()), (0, ""), "{r:#?}");
    like(
        &aged(r).stdout,
        "\\+-\\+\n\
         \\| ROW LOCK HOLDER LIVENESS VERSION LAST CHANGE AGE \\|\n\
         \\+=\\+\n\
         \\| r1 x A alive: PID \\d+ is running on this host; heartbeat <AGE> ago, lease 30s \\d+ <TIME> <AGE> \\|\n\
         \\| r2 y B alive: PID \\d+ is running on this host; heartbeat <AGE> ago, lease 30s \\d+ <TIME> <AGE> \\|\n\
         \\+-\\+\n\
         \\+-\\+\n\
         \\| WAITER WAITS FOR SINCE WAITED BLOCKED BY LIVENESS \\|\n\
         \\+=\\+\n\
         \\| B x in r1 <TIME> \\d+s x \\(held by A\\) alive: PID \\d+ is running on this host; heartbeat <AGE> ago, lease 1s \\|\n\
         \\| A y in r2 <TIME> \\d+s y \\(held by B\\) alive: PID \\d+ is running on this host; heartbeat <AGE> ago, lease 1s \\|\n\
         \\+-\\+\n\
         DEADLOCK: A -> B -> A \\(each waits for a lock the next holds; none can go on\\)\n",
    );

    // A gives up (exit 4); its run releases x, B's inner run gets it, and
    // both runs end.
    let (ra, _) = exits(a, Duration::from_secs(30));
    assert_eq!((ra.code, ra.stdout.as_str()), (4, ""), "{ra:#?}");
    ra.stderr_matches(
        "locksmith: waiting: lock `y` in row `r2` is held by B\n\
         locksmith: gave up after waiting \\d+\\.\\ds: lock `y` in row `r2` is held by B\n",
    );
    let (rb, _) = exits(b, Duration::from_secs(30));
    assert_eq!((rb.code, rb.stdout.as_str()), (0, ""), "{rb:#?}");
    rb.stderr_is("locksmith: waiting: lock `x` in row `r1` is held by A\n");
    let d = dump(&db, &[]);
    assert!(
        d.waiters.is_empty() && d.deadlocks.is_empty() && d.rows.iter().all(|r| r.locks.is_empty()),
        "{d:#?}"
    );
    assert_eq!(
        db.scalar("SELECT COUNT(*) FROM locks_holders").as_deref(),
        Some("0")
    );
}
