//! Fencing tokens: the command `locks run` starts gets LOCKSMITH_FENCE (the
//! row's version right after the acquire, which every later acquire of the
//! row exceeds), LOCKSMITH_ROW, LOCKSMITH_LOCK and LOCKSMITH_HOLDER; on one
//! server and over the three nodes of a Galera cluster.

use super::*;

/// What the command prints: its environment from locksmith.
const SAY: &str = r#"echo "$LOCKSMITH_FENCE $LOCKSMITH_ROW $LOCKSMITH_LOCK $LOCKSMITH_HOLDER""#;

/// Runs `locks run ROW job [--holder H] -- sh -c SAY` against `url`; the
/// fence it printed. Checks the rest of what it printed.
#[track_caller]
fn fenced_run(url: &str, holder: Option<&str>) -> i64 {
    let mut args = vec!["locks", "run", ROW, "job", "--wait", "30s"];
    if let Some(h) = holder {
        args.extend(["--holder", h]);
    }
    args.extend(["--", "sh", "-c", SAY]);
    let r = locksmith_at(url, &args);
    assert_eq!((r.code, r.stderr.as_str()), (0, ""), "{r:#?}");
    let line = normal(&r.stdout);
    let (fence, rest) = line.split_once(' ').unwrap();
    let shown = holder.unwrap_or("<HOST>:<PID>");
    assert_eq!(rest, format!("{ROW} job {shown}\n"), "{r:#?}");
    fence.parse().unwrap()
}

#[test]
fn the_fence_increases_over_runs_and_is_the_version_of_the_acquire() {
    let db = TestDb::migrated();
    let url = db.url();
    let mut fences = Vec::new();
    for i in 0..6 {
        let holder = format!("worker-{i}");
        let fence = fenced_run(&url, (i % 3 != 0).then_some(holder.as_str()));
        // The release after the command is the one write since.
        assert_eq!(db.version(ROW), fence + 1, "run {i}");
        fences.push(fence);
        if i % 2 == 1 {
            // Others write to the row between runs: the fence still rises.
            db.locksmith(&["locks", "acquire", ROW, "other", "--holder", "x"])
                .success();
            db.locksmith(&["locks", "release", ROW, "other", "--holder", "x"])
                .success();
        }
    }
    eprintln!("fences over six runs on one server: {fences:?}");
    assert!(fences.windows(2).all(|w| w[0] < w[1]), "{fences:?}");

    // `acquire --format json` reports it too, and so does the registry.
    let doc: locksmith::cli::output::LockDoc = db
        .locksmith(&[
            "locks", "acquire", ROW, "job", "--holder", "h", "--format", "json",
        ])
        .success_json();
    let v = db.version(ROW);
    assert_eq!(
        doc,
        locksmith::cli::output::LockDoc {
            action: "acquire".into(),
            row: ROW.into(),
            name: "job".into(),
            holder: "h".into(),
            changed: true,
            fence: Some(v),
        }
    );
    assert!(v > *fences.last().unwrap());
    let reg = lock_in(&db, ROW, "job").unwrap().registration.unwrap();
    assert_eq!(reg.fence, Some(v));
    // Taking it again changes nothing: the same fence.
    let again: locksmith::cli::output::LockDoc = db
        .locksmith(&[
            "locks", "acquire", ROW, "job", "--holder", "h", "--format", "json",
        ])
        .success_json();
    assert_eq!((again.changed, again.fence), (false, Some(v)));
}

#[test]
fn galera_the_fence_increases_over_runs_alternating_between_nodes() {
    let Some(c) = crate::galera::cluster() else {
        return;
    };
    let db = TestDb::on(&c, 0);
    db.locksmith(&["migrate", "up"]).succeeds_with(UP_FRESH);
    let mut fences = Vec::new();
    for i in 0..9 {
        let url = crate::galera::from_node(&db, &c, i % 3);
        let holder = format!("node{}-run{i}", i % 3);
        fences.push(fenced_run(&url, Some(&holder)));
    }
    eprintln!("fences over nine runs alternating between three Galera nodes: {fences:?}");
    assert!(fences.windows(2).all(|w| w[0] < w[1]), "{fences:?}");
    assert_eq!(db.version(ROW), fences.last().unwrap() + 1);
}
