//! The exporter on the 3-node Galera cluster: `serve` reads through the
//! node its URL names first; when that node is killed it goes on through
//! another, and a holder registered through a third node is judged there
//! as it is everywhere (alive, then dead once killed), with the
//! dead-holder metric an alert fires on.

use super::*;
use crate::galera::{cluster, from_node};
use nix::sys::signal::Signal;

const ROW: &str = "cluster";

/// The value of `series` in a fresh GET /metrics, if there.
fn now(s: &Served, series: &str) -> Option<f64> {
    sample(&s.metrics(), series)
}

#[test]
fn serve_follows_a_killed_node_and_sees_a_killed_holder_dead_through_another() {
    let Some(mut c) = cluster() else { return };
    let db = TestDb::on(&c, 0);
    db.locksmith(&["migrate", "up"]).succeeds_with(UP_FRESH);
    // A holder that took its lock through node 2, with a lease.
    let mut run = spawn_at(
        &from_node(&db, &c, 1),
        &[
            "locks",
            "run",
            ROW,
            "job",
            "--lease",
            "3s",
            "--",
            "sh",
            "-c",
            "echo ready; exec sleep 120",
        ],
    );
    let mut out = std::io::BufReader::new(run.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    assert_eq!(line, "ready\n");
    // The exporter reads through node 3 first.
    let s = Served::start(
        &from_node(&db, &c, 2),
        &["--interval", "0s", "--scrape-timeout", "3s"],
    );
    let alive =
        format!("locksmith_lock_age_seconds{{row=\"{ROW}\",lock=\"job\",liveness=\"alive\"}}");
    let dead =
        format!("locksmith_lock_age_seconds{{row=\"{ROW}\",lock=\"job\",liveness=\"dead\"}}");
    let held = format!("locksmith_locks_held{{row=\"{ROW}\"}}");
    let dead_holders = format!("locksmith_dead_holder_locks{{row=\"{ROW}\"}}");
    let m = s.metrics();
    assert_eq!(sample(&m, "locksmith_up"), Some(1.0), "{m}");
    assert!(sample(&m, &alive).is_some(), "{m}");
    assert_eq!(sample(&m, &dead_holders), Some(0.0), "{m}");

    // Node 3 killed under the exporter: a lock taken through node 1 after
    // that shows, so the exporter reads through a node that is up.
    c.kill(2);
    let t = Instant::now();
    locksmith_at(
        &db.url_over(&c, &[0]),
        &["locks", "acquire", ROW, "after", "--holder", "task-9"],
    )
    .success();
    let acquired = t.elapsed();
    let after =
        format!("locksmith_lock_age_seconds{{row=\"{ROW}\",lock=\"after\",liveness=\"alive\"}}");
    wait_until(
        "the exporter reads through another node",
        Duration::from_secs(30),
        || {
            let m = s.metrics();
            sample(&m, "locksmith_up") == Some(1.0) && sample(&m, &after).is_some()
        },
    );
    eprintln!(
        "node 3 killed under serve: a lock taken through node 1 {:.2}s later (the cluster's own \
         reconfiguration), shown by serve {:.2}s after the kill",
        acquired.as_secs_f64(),
        t.elapsed().as_secs_f64()
    );
    assert!(now(&s, &alive).is_some());

    // The holder killed (SIGKILL: no release): dead by its PID, through
    // the nodes that are left, and counted for the alert.
    signal(run.id(), Signal::SIGKILL);
    run.wait().unwrap();
    let t = Instant::now();
    wait_until("the killed holder is dead", Duration::from_secs(30), || {
        let m = s.metrics();
        sample(&m, &dead).is_some() && sample(&m, &dead_holders) == Some(1.0)
    });
    eprintln!(
        "holder SIGKILLed: dead in serve's metrics {:.3}s later",
        t.elapsed().as_secs_f64()
    );
    assert_eq!(now(&s, &held), Some(2.0));

    // The operator releases the dead through node 2; the live lock stays.
    let r = locksmith_at(
        &db.url_over(&c, &[1, 0]),
        &[
            "locks",
            "force-release",
            ROW,
            "--dead",
            "--yes",
            "--format",
            "json",
        ],
    );
    assert_eq!(r.code, 0, "{r:#?}");
    wait_until(
        "the dead holder's lock is gone",
        Duration::from_secs(30),
        || {
            let m = s.metrics();
            sample(&m, &held) == Some(1.0) && sample(&m, &dead_holders) == Some(0.0)
        },
    );
    let m = s.metrics();
    assert!(sample(&m, &after).is_some(), "{m}");
    assert!(sample(&m, &dead).is_none(), "{m}");
    let (code, log) = s.stop();
    assert_eq!(code, 0, "{log}");
    c.restart(2);
}
