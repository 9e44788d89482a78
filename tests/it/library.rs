//! The Rust API: guards, release-by-holder, and writes whose connection
//! drops after they were sent (resolved by re-reading, never repeated).

use crate::harness::*;
use crate::proxy::{self, Proxy};
use locksmith::locks::{LockTable, Version, WriteOpts};
use locksmith::AcquireOptions;
use locksmith::DbUrl;
use locksmith::Kind;
use std::sync::atomic::Ordering;
use std::time::Duration;

#[test]
fn guard_release_and_drop() {
    let db = TestDb::migrated();
    let url = db.url();
    block(async move {
        let url = DbUrl::parse(&url).unwrap();
        let t = LockTable::connect(&url).await.unwrap();
        let opts = AcquireOptions::default();
        let g = t
            .lock("platform", "backup", "task-1", &opts, |_| {})
            .await
            .unwrap();
        assert_eq!(
            (g.row(), g.name(), g.holder()),
            ("platform", "backup", "task-1")
        );
        let busy = t
            .lock("platform", "backup", "task-2", &opts, |_| {})
            .await
            .unwrap_err();
        assert!(
            matches!(busy.kind(), Kind::Held { holder, .. } if holder == "task-1"),
            "{busy}"
        );
        g.release().await.unwrap();

        // Waiting: the callback hears why, and the deadline holds.
        let g = t
            .lock("platform", "backup", "task-1", &opts, |_| {})
            .await
            .unwrap();
        let mut heard = 0;
        let wait = AcquireOptions {
            wait: Some(Duration::from_secs(3)),
            unless_held: vec![],
        };
        let e = t
            .lock("platform", "backup", "task-2", &wait, |_| heard += 1)
            .await
            .unwrap_err();
        assert!(matches!(e.kind(), Kind::WaitTimeout { .. }), "{e}");
        assert!(heard > 0);

        // A guard dropped without release leaves the lock held...
        drop(g);
        let _other = t
            .lock("platform", "update", "task-1", &opts, |_| {})
            .await
            .unwrap();
        let state = t.read("platform").await.unwrap().unwrap();
        assert_eq!(state.data.locks().unwrap().len(), 2);
        // ...and release-by-holder cleans up everything that holder left.
        let change = t
            .release_by_holder("platform", "task-1", &WriteOpts::default())
            .await
            .unwrap();
        // In stored order: the newer lock first.
        assert_eq!(change.removed.names(), ["update", "backup"]);
        assert!(t
            .read("platform")
            .await
            .unwrap()
            .unwrap()
            .data
            .locks()
            .unwrap()
            .is_empty());
        t.disconnect().await.unwrap();
    });
}

#[test]
fn compare_and_swap_against_a_seed_style_writer() {
    // A writer following the seed's plain read-then-CAS protocol, racing us.
    let db = TestDb::migrated();
    db.sql("INSERT INTO locks (id, dataJson) VALUES ('platform', '{}')");
    let url = db.url();
    block(async move {
        use mysql_async::prelude::Queryable;
        let ours = {
            let url = DbUrl::parse(&url).unwrap();
            LockTable::connect(&url).await.unwrap()
        };
        let seed_writer = {
            let url = url.clone();
            tokio::spawn(async move {
                let mut c = mysql_async::Conn::from_url(url).await.unwrap();
                let mut taken = 0;
                while taken < 100 {
                    let (v, data): (i64, String) = c
                        .query_first("SELECT version, dataJson FROM locks WHERE id = 'platform'")
                        .await
                        .unwrap()
                        .unwrap();
                    let mut m: serde_json::Map<String, serde_json::Value> =
                        serde_json::from_str(&data).unwrap();
                    let key = format!("seed_{}", taken % 3);
                    if m.contains_key(&key) {
                        m.remove(&key);
                    } else {
                        m.insert(key, "seed".into());
                    }
                    c.exec_drop(
                        "UPDATE locks SET dataJson = ?, version = version + 1 WHERE id = ? AND version = ?",
                        (serde_json::to_string(&m).unwrap(), "platform", v),
                    )
                    .await
                    .unwrap();
                    if c.affected_rows() == 1 {
                        taken += 1;
                    }
                }
                c.disconnect().await.unwrap();
            })
        };
        for i in 0..100 {
            let name = format!("ours_{}", i % 4);
            ours.acquire("platform", &name, "us").await.unwrap();
            ours.release("platform", &name, "us").await.unwrap();
        }
        seed_writer.await.unwrap();
        let end = ours.read("platform").await.unwrap().unwrap();
        let locks = end.data.locks().unwrap();
        // The seed writer toggled seed_0 34 times and seed_1, seed_2 33
        // times each; all of ours were released.
        let mut keys: Vec<String> = locks.names();
        keys.sort();
        assert_eq!(keys, ["seed_1", "seed_2"]);
        assert_eq!(
            end.version,
            Version::Number(1 + 100 + 200),
            "every write landed exactly once"
        );
        ours.disconnect().await.unwrap();
    });
}

#[test]
fn a_dropped_connection_after_a_landed_acquire_is_resolved_by_reading() {
    let db = TestDb::migrated();
    db.sql("INSERT INTO locks (id, dataJson) VALUES ('platform', '{}')");
    // The first prepared-statement execution after arming: for a plain
    // acquire or release that is its one UPDATE (whichever variant).
    let proxy = Proxy::start(db.addr());
    let url = db.url_via(proxy.port);
    let after_acquire = block(async {
        let t = LockTable::connect(&DbUrl::parse(&url).unwrap())
            .await
            .unwrap();
        proxy.cut_after(proxy::is_execute);
        t.acquire("platform", "backup", "task-1").await.unwrap();
        assert!(proxy.took_cut(), "the proxy did cut the connection");
        let state = t.read("platform").await.unwrap().unwrap();
        // Same for release.
        proxy.cut_after(proxy::is_execute);
        t.release("platform", "backup", "task-1").await.unwrap();
        assert!(proxy.took_cut(), "the proxy did cut the connection");
        let _ = t.disconnect().await;
        state
    });
    assert_eq!(
        after_acquire.version,
        Version::Number(2),
        "applied once, not repeated"
    );
    assert_eq!(
        after_acquire
            .data
            .locks()
            .unwrap()
            .get("backup")
            .map(|e| e.holder_text()),
        Some("task-1".into())
    );
    assert_eq!(db.version("platform"), 3);
    assert_eq!(db.data("platform").as_deref(), Some("{}"));
}

/// Holds `row` locked (`SELECT … FOR UPDATE` in an open transaction) for
/// `how_long` from another session; returns once it is held.
fn hold_row(db: &TestDb, row: &str, how_long: Duration) -> std::thread::JoinHandle<()> {
    let (locked_tx, locked_rx) = std::sync::mpsc::channel::<()>();
    let (url, row) = (db.url(), row.to_string());
    let blocker = std::thread::spawn(move || {
        block(async move {
            use mysql_async::prelude::Queryable;
            let mut c = mysql_async::Conn::from_url(url).await.unwrap();
            c.query_drop("START TRANSACTION").await.unwrap();
            c.exec_drop("SELECT * FROM locks WHERE id = ? FOR UPDATE", (row,))
                .await
                .unwrap();
            locked_tx.send(()).unwrap();
            // Holding the row for a while is the point, not a wait.
            tokio::time::sleep(how_long).await;
            c.query_drop("COMMIT").await.unwrap();
            c.disconnect().await.unwrap();
        })
    });
    locked_rx.recv().unwrap();
    blocker
}

#[test]
fn an_operation_cut_off_mid_statement_never_lands_later() {
    let db = TestDb::migrated();
    db.sql(r#"INSERT INTO locks (id, dataJson) VALUES ('platform', '{"backup":"task-1"}')"#);
    let v = db.version("platform");
    let blocker = hold_row(&db, "platform", Duration::from_millis(1500));
    let url = db.url();
    block(async move {
        let t = LockTable::connect(&DbUrl::parse(&url).unwrap())
            .await
            .unwrap();
        // The release's UPDATE waits on the row when its future is dropped.
        let cut = tokio::time::timeout(
            Duration::from_millis(300),
            t.release("platform", "backup", "task-1"),
        )
        .await;
        assert!(cut.is_err(), "cut off mid-statement: {cut:?}");
        // The next operation ends that session first, and reads the truth.
        let state = t.read("platform").await.unwrap().unwrap();
        assert_eq!(
            state
                .data
                .locks()
                .unwrap()
                .get("backup")
                .map(|e| e.holder_text()),
            Some("task-1".into())
        );
        t.disconnect().await.unwrap();
    });
    blocker.join().unwrap();
    // The blocker is gone, and no session of ours is left on the server
    // (the cut-off one was ended before the read): nothing is queued that
    // could still land.
    assert_eq!(db.sessions(), 0, "no session left behind");
    assert_eq!(
        db.data("platform").as_deref(),
        Some(r#"{"backup":"task-1"}"#)
    );
    assert_eq!(
        db.version("platform"),
        v,
        "the cut-off release never landed"
    );
}

#[test]
fn a_write_still_running_when_its_connection_drops_is_settled_not_raced() {
    let db = TestDb::migrated();
    db.sql(r#"INSERT INTO locks (id, dataJson) VALUES ('platform', '{"backup":"task-1"}')"#);
    let v = db.version("platform");
    // Another session holds the row, so the release's UPDATE is still
    // waiting on the server when its connection drops. A read now would
    // still show the lock held; a second write would queue behind the
    // first, and whichever lands second would find it gone ("not held").
    let blocker = hold_row(&db, "platform", Duration::from_millis(1500));
    let proxy = Proxy::start(db.addr());
    let url = db.url_via(proxy.port);
    block(async {
        let t = LockTable::connect(&DbUrl::parse(&url).unwrap())
            .await
            .unwrap();
        proxy.cut_on(proxy::is_execute);
        // Settling ends the cut-off session (and its waiting UPDATE) before
        // anything is read: the release then happens exactly once.
        t.release("platform", "backup", "task-1").await.unwrap();
        assert!(proxy.took_cut(), "the proxy did cut the connection");
        let _ = t.disconnect().await;
    });
    blocker.join().unwrap();
    assert_eq!(db.data("platform").as_deref(), Some("{}"));
    assert_eq!(db.version("platform"), v + 1, "released once");
}

#[test]
fn a_dropped_connection_after_an_audited_commit_is_resolved_by_its_op_id() {
    let db = TestDb::migrated();
    db.sql(r#"INSERT INTO locks (id, dataJson) VALUES ('platform', '{"a":"t1","b":"t2"}')"#);
    let proxy = Proxy::start(db.addr());
    let url = db.url_via(proxy.port);
    let change = block(async {
        let t = LockTable::connect(&DbUrl::parse(&url).unwrap())
            .await
            .unwrap();
        proxy.cut_after(proxy::is_commit);
        let opts = WriteOpts {
            audit: Some(locksmith::locks::AuditInfo::new(
                "force-release",
                "test".into(),
            )),
            ..Default::default()
        };
        let change = t
            .force_release("platform", &["a".to_string()], &opts)
            .await
            .unwrap();
        let _ = t.disconnect().await;
        change
    });
    assert!(proxy.took_cut(), "the proxy did cut the connection");
    assert_eq!(change.removed.names(), ["a"]);
    assert_eq!(db.version("platform"), 2, "applied once, not repeated");
    assert_eq!(
        db.scalar("SELECT COUNT(*) FROM locks_audit").as_deref(),
        Some("1")
    );
}

#[test]
fn a_stale_cached_row_only_costs_a_conflict() {
    let db = TestDb::migrated();
    let url = db.url();
    let (versions, err) = block(async move {
        let url = DbUrl::parse(&url).unwrap();
        let a = LockTable::connect(&url).await.unwrap();
        let b = LockTable::connect(&url).await.unwrap();
        // Two quiet writes in a row: `a` reads the row once and caches it.
        a.acquire("platform", "x", "a").await.unwrap();
        a.release("platform", "x", "a").await.unwrap();
        a.acquire("platform", "y", "a").await.unwrap();
        // `b` writes behind `a`'s back...
        b.acquire("platform", "x", "b").await.unwrap();
        // ...so `a`'s cached copy is stale: its CAS conflicts and the truth wins.
        let err = a.acquire("platform", "x", "a").await.unwrap_err();
        let mut versions = vec![a.read("platform").await.unwrap().unwrap().version];
        b.release("platform", "x", "b").await.unwrap();
        a.acquire("platform", "x", "a").await.unwrap();
        a.release("platform", "y", "a").await.unwrap();
        a.release("platform", "x", "a").await.unwrap();
        versions.push(a.read("platform").await.unwrap().unwrap().version);
        assert!(
            a.stats().conflicts.load(Ordering::Relaxed) >= 1,
            "the stale copy did conflict"
        );
        a.disconnect().await.unwrap();
        b.disconnect().await.unwrap();
        (versions, err)
    });
    assert!(
        matches!(err.kind(), Kind::Held { holder, .. } if holder == "b"),
        "{err}"
    );
    // Every successful operation bumped the version exactly once.
    assert_eq!(versions, [Version::Number(5), Version::Number(9)]);
    assert_eq!(
        db.data("platform")
            .map(|d| serde_json::from_str::<serde_json::Value>(&d).unwrap()),
        Some(serde_json::json!({}))
    );
}

#[test]
fn awkward_names_take_the_single_update_path() {
    let db = TestDb::migrated();
    db.sql("INSERT INTO locks (id, dataJson) VALUES ('platform', '{}')");
    let url = db.url();
    let names = [
        r#"say "hi""#,
        r"back\slash",
        "100%",
        "x'); DROP TABLE locks; --",
        "$.path[0]",
        "über ☃",
    ];
    let slow = block(async move {
        let url = DbUrl::parse(&url).unwrap();
        let mut slow = 0;
        for n in names {
            for acquire in [true, false] {
                // A fresh table each time: no cached row, so the server-side
                // UPDATE is what runs.
                let t = LockTable::connect(&url).await.unwrap();
                if acquire {
                    t.acquire("platform", n, r#"h "1""#).await.unwrap();
                } else {
                    t.release("platform", n, r#"h "1""#).await.unwrap();
                }
                assert_eq!(t.stats().fast.load(Ordering::Relaxed), 1, "{n}");
                slow += t.stats().slow.load(Ordering::Relaxed);
                t.disconnect().await.unwrap();
            }
        }
        slow
    });
    assert_eq!(slow, 0);
    assert_eq!(db.data("platform").as_deref(), Some("{}"));
}

/// The fast-path acquire of holder `task-1`: an execute carrying it.
fn executes_for_task_1(p: &[u8]) -> bool {
    proxy::is_execute(p) && p.windows(6).any(|w| w == b"task-1")
}

#[test]
fn a_lock_future_dropped_after_its_write_landed_leaves_nothing_held() {
    let db = TestDb::migrated();
    db.sql("INSERT INTO locks (id, dataJson) VALUES ('platform', '{}')");
    let v = db.version("platform");
    let proxy = Proxy::start(db.addr());
    let url = db.url_via(proxy.port);
    block(async {
        let t = LockTable::connect(&DbUrl::parse(&url).unwrap())
            .await
            .unwrap();
        // The acquire's UPDATE runs on the server, but its reply never
        // comes back: the caller gives up and drops the future.
        proxy.swallow(executes_for_task_1);
        let opts = AcquireOptions::default();
        let cut = tokio::time::timeout(
            Duration::from_millis(500),
            t.lock("platform", "backup", "task-1", &opts, |_| {}),
        )
        .await;
        assert!(cut.is_err(), "cut off mid-acquire: {cut:?}");
        assert!(proxy.took_cut(), "the UPDATE ran and its reply was dropped");
        // The table owes a release and pays it before anything else.
        let state = t.read("platform").await.unwrap().unwrap();
        assert!(state.data.locks().unwrap().is_empty(), "{state:?}");
        t.disconnect().await.unwrap();
    });
    assert_eq!(db.data("platform").as_deref(), Some("{}"));
    assert_eq!(
        db.version("platform"),
        v + 2,
        "acquired once, released once"
    );
}

/// A wait that runs out against a healthy server ends because the lock is
/// held, every time: its last look, which starts as the wait ends, is not
/// cut off by the deadline and called a lost connection.
#[test]
fn a_wait_that_runs_out_says_the_lock_is_held_every_time() {
    let db = TestDb::migrated();
    let url = db.url();
    block(async move {
        let url = DbUrl::parse(&url).unwrap();
        let t = LockTable::connect(&url).await.unwrap();
        let _held = t
            .lock(
                "platform",
                "backup",
                "task-1",
                &AcquireOptions::default(),
                |_| {},
            )
            .await
            .unwrap();
        let waiter = LockTable::connect(&url).await.unwrap();
        let mut kinds = Vec::new();
        for i in 0..60u64 {
            let opts = AcquireOptions {
                // Waits that end at different points of a poll's pause.
                wait: Some(Duration::from_millis(20 + (i * 7) % 90)),
                ..AcquireOptions::default()
            };
            let e = waiter
                .lock("platform", "backup", "task-2", &opts, |_| {})
                .await
                .unwrap_err();
            kinds.push(match e.kind() {
                Kind::WaitTimeout { what, .. } if what.contains("held by task-1") => {
                    "wait timeout".to_string()
                }
                other => format!("{other:?}"),
            });
        }
        let other: Vec<&String> = kinds.iter().filter(|k| *k != "wait timeout").collect();
        assert!(
            other.is_empty(),
            "{} of 60 ended otherwise: {other:?}",
            other.len()
        );
    });
}
