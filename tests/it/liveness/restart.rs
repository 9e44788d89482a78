//! A server restart shorter than the lease: `locks run`'s heartbeat rides
//! through it. The command keeps running, the lock is still held (by a
//! holder that is alive) afterwards, and run exits 0; and however long the
//! server was down, short of the lease, the holder's heartbeats never left
//! a lease's gap (it was never dead).

use super::*;

/// The server's clock now, in microseconds since the epoch.
fn server_now_us(db: &TestDb) -> i64 {
    db.scalar("SELECT TIMESTAMPDIFF(MICROSECOND, '1970-01-01', UTC_TIMESTAMP(6))")
        .unwrap()
        .parse()
        .unwrap()
}

#[test]
fn the_heartbeat_rides_through_a_server_restart_shorter_than_the_lease() {
    let mut server = Throwaway::start(1, &[]);
    let db = TestDb::on(&server, 0);
    db.locksmith(&["migrate", "up"]).succeeds_with(UP_FRESH);
    let f = Flags::new();
    let run = f.started_run(&db, "job", &["--lease", "10s"], &f.until_go("run"), "run");
    let holder = holder_of(&run);
    let pid = run.id();

    let t = Instant::now();
    server.kill(0);
    server.restart(0);
    let down = t.elapsed();
    eprintln!(
        "liveness figure: server kill and restart took {:.0} ms (lease 10s)",
        down.as_secs_f64() * 1000.0
    );
    assert!(
        down < Duration::from_secs(10),
        "the restart took longer than the lease: {down:?}"
    );
    // A heartbeat after the restart.
    let back = server_now_us(&db);
    wait_until(
        "a heartbeat after the restart",
        Duration::from_secs(10),
        || beat_us(&db, &holder, ROW, "job").is_some_and(|b| b > back),
    );
    assert!(!f.path("run.go").exists() && run_is_running(pid));
    let l = lock_in(&db, ROW, "job").unwrap();
    assert_eq!(json(&l.holder), serde_json::json!(holder));
    like(
        &l.liveness.why,
        &format!(r"PID {pid} is running on this host; heartbeat \d+(ms|s) ago, lease 10s"),
    );
    assert_eq!(l.liveness.state, "alive");

    f.go("run");
    let (r, _) = exits(run, Duration::from_secs(30));
    r.success();
    assert_eq!(db.data(ROW).as_deref(), Some("{}"));
    assert_eq!(
        db.scalar("SELECT COUNT(*) FROM locks_holders").as_deref(),
        Some("0")
    );
}

fn run_is_running(pid: u32) -> bool {
    !gone(pid as i32)
}

/// The server down across two heartbeats (10.5 s of a 15 s lease: beats
/// every 5 s): the first beat after it comes back lands within the lease
/// of the last one before, by the server's clock.
#[test]
fn an_outage_across_two_heartbeats_leaves_no_lease_gap() {
    let mut server = Throwaway::start(1, &[]);
    let db = TestDb::on(&server, 0);
    db.locksmith(&["migrate", "up"]).succeeds_with(UP_FRESH);
    let f = Flags::new();
    let run = f.started_run(&db, "job", &["--lease", "15s"], &f.until_go("run"), "run");
    let holder = holder_of(&run);
    // Down right after a heartbeat.
    let first = beat_us(&db, &holder, ROW, "job").unwrap();
    let mut last = first;
    wait_until("a heartbeat", Duration::from_secs(10), || {
        last = beat_us(&db, &holder, ROW, "job").unwrap();
        last > first
    });
    server.kill(0);
    let killed = Instant::now();
    // The outage is the fault itself: it spans the beats due 5 s and 10 s
    // after the last one, and ends well before the lease would.
    let outage = Duration::from_millis(10_500);
    wait_until(
        "the outage has lasted",
        outage + Duration::from_secs(1),
        || killed.elapsed() >= outage,
    );
    server.restart(0);
    eprintln!(
        "liveness figure: server down for {:.0} ms (lease 15s)",
        killed.elapsed().as_secs_f64() * 1000.0
    );
    let mut next = last;
    wait_until(
        "a heartbeat after the restart",
        Duration::from_secs(15),
        || {
            next = beat_us(&db, &holder, ROW, "job").unwrap();
            next > last
        },
    );
    let gap = Duration::from_micros((next - last) as u64);
    eprintln!(
        "liveness figure: heartbeat gap across the outage: {:.0} ms (lease 15s)",
        gap.as_secs_f64() * 1000.0
    );
    assert!(gap < Duration::from_secs(15), "the lease ran out: {gap:?}");
    assert_eq!(verdict(&db, ROW, "job").state, "alive");
    f.go("run");
    let (r, _) = exits(run, Duration::from_secs(30));
    r.success();
    assert_eq!(db.data(ROW).as_deref(), Some("{}"));
}
