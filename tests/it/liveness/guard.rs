//! The library: a guard taken with a registration and a lease heartbeats
//! it, reports its fence (the row's version right after the acquire), and
//! its `lost()` completes once an operator force-releases the lock.

use super::*;
use locksmith::host::Process;
use locksmith::liveness::Registering;
use locksmith::locks::{LockTable, Lost};
use locksmith::{AcquireOptions, DbUrl, Kind};

#[test]
fn a_registered_guard_heartbeats_and_hears_that_its_lock_was_lost() {
    let db = TestDb::migrated();
    let url = DbUrl::parse(&db.url()).unwrap();
    let me = std::process::id();
    // The heartbeat is a task on the guard's runtime: one that keeps
    // running while this thread looks from outside.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let table = rt.block_on(LockTable::connect(&url)).unwrap();
    let opts = AcquireOptions {
        register: Some(Registering {
            process: Process::this(),
            lease: Some(Duration::from_secs(3)),
            command: "deploy --app 7".into(),
        }),
        ..AcquireOptions::default()
    };
    let guard = rt
        .block_on(table.lock(ROW, "backup", "svc-1", &opts, |_| {}))
        .unwrap();
    assert!(guard.registered());
    let v = db.version(ROW);
    assert_eq!(guard.fence(), Some(v));
    let l = lock_in(&db, ROW, "backup").unwrap();
    like(
        &l.liveness.why,
        &format!(r"PID {me} is running on this host; heartbeat \d+(ms|s) ago, lease 3s"),
    );
    let reg = l.registration.unwrap();
    assert_eq!(
        (reg.fence, reg.command.as_deref(), reg.lease_seconds),
        (Some(v), Some("deploy --app 7"), Some(3.0))
    );

    // Kept alive past its lease by the heartbeat: every look says so.
    let t = Instant::now();
    let mut looks = 0;
    while t.elapsed() < Duration::from_secs(4) {
        let l = lock_in(&db, ROW, "backup").unwrap();
        assert_eq!(l.liveness.state, "alive", "{l:#?}");
        looks += 1;
    }
    assert!(looks > 1 && guard.is_lost().is_none());

    // An operator releases it: lost() completes within a heartbeat.
    db.locksmith(&["locks", "force-release", ROW, "backup", "--yes"])
        .succeeds_with(&format!(
            "row `{ROW}`: version {v} -> {}\nreleased backup (held by svc-1)\n0 lock(s) remain\n",
            v + 1
        ));
    let released = Instant::now();
    let lost = rt
        .block_on(async { tokio::time::timeout(Duration::from_secs(5), guard.lost()).await })
        .expect("lost() completes within a heartbeat or two");
    let heard = released.elapsed();
    eprintln!(
        "liveness figure: force-release to the guard's lost(): {:.0} ms (lease 3s: a heartbeat every 1s)",
        heard.as_secs_f64() * 1000.0
    );
    assert!(
        heard < Duration::from_secs(1) + Duration::from_millis(1500),
        "{heard:?}"
    );
    assert_eq!(guard.is_lost().as_ref(), Some(&lost));
    let Lost { now_held_by, why } = lost;
    assert_eq!(now_held_by, None);
    like(&why, "force-released by <ME> \\(<USER>@%\\) at <TIME>");
    // Releasing a lost lock: it is not held any more.
    let e = rt.block_on(guard.release()).unwrap_err();
    assert!(matches!(e.kind(), Kind::NotHeld { .. }), "{e}");
    assert_eq!(db.data(ROW).as_deref(), Some("{}"));
    rt.block_on(table.disconnect()).unwrap();
}
