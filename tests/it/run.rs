//! `locks acquire|release|run` across processes: mutual exclusion, the
//! `--unless-held` rules, signals, exit codes, waiting, and a killed locksmith.

use crate::harness::*;
use locksmith::cli::output::Dump;
use nix::sys::signal::Signal;
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

/// Appends `start <tag> <ns>` and `end <tag> <ns>` around a sleep.
fn marker_cmd(file: &Path, tag: &str, secs: &str) -> Vec<String> {
    let f = file.display();
    vec![
        "sh".into(),
        "-c".into(),
        format!("echo \"start {tag} $(date +%s%N)\" >> '{f}'; sleep {secs}; echo \"end {tag} $(date +%s%N)\" >> '{f}'"),
    ]
}

fn spawn_run(db: &TestDb, row: &str, name: &str, extra: &[&str], cmd: &[String]) -> Child {
    let mut args = vec!["locks", "run", row, name, "--wait", "120s"];
    args.extend_from_slice(extra);
    args.push("--");
    args.extend(cmd.iter().map(String::as_str));
    db.spawn(&args)
}

/// (tag, start, end) intervals from a marker file.
fn intervals(file: &Path) -> Vec<(String, u128, u128)> {
    let text = std::fs::read_to_string(file).unwrap();
    let mut open = std::collections::HashMap::new();
    let mut out = Vec::new();
    for line in text.lines() {
        let parts: Vec<&str> = line.split(' ').collect();
        let (kind, tag, t) = (
            parts[0],
            parts[1].to_string(),
            parts[2].parse::<u128>().unwrap(),
        );
        if kind == "start" {
            open.insert(tag, t);
        } else {
            let s = open.remove(&tag).expect("end without start");
            out.push((tag, s, t));
        }
    }
    assert!(open.is_empty(), "unfinished runs: {open:?}");
    out
}

fn overlap(a: &(String, u128, u128), b: &(String, u128, u128)) -> bool {
    a.1 < b.2 && b.1 < a.2
}

#[test]
fn run_is_mutually_exclusive() {
    let db = TestDb::migrated();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("markers");
    let children: Vec<Child> = (0..8)
        .map(|i| {
            spawn_run(
                &db,
                "platform",
                "backup",
                &[],
                &marker_cmd(&file, &format!("r{i}"), "0.05"),
            )
        })
        .collect();
    for c in children {
        let r = Run::from(c.wait_with_output().unwrap());
        assert_eq!(r.code, 0, "{r:#?}");
    }
    let runs = intervals(&file);
    assert_eq!(runs.len(), 8, "every contender ran");
    for (i, a) in runs.iter().enumerate() {
        for b in &runs[i + 1..] {
            assert!(!overlap(a, b), "{a:?} overlaps {b:?}");
        }
    }
    assert_eq!(db.data("platform").as_deref(), Some("{}"), "all released");
}

/// An app task: marks its start, then waits (up to 30 s) until another
/// app task has started too, so that app tasks demonstrably run side by
/// side; gives up waiting (and so proves nothing) only if they cannot.
fn app_task_cmd(file: &Path, dir: &Path, tag: &str) -> Vec<String> {
    let (f, d) = (file.display(), dir.display());
    vec![
        "sh".into(),
        "-c".into(),
        format!(
            "echo \"start {tag} $(date +%s%N)\" >> '{f}'; touch '{d}/started.{tag}'; \
             i=0; while [ $(ls '{d}' | grep -c '^started\\.') -lt 2 ] && [ $i -lt 3000 ]; do sleep 0.01; i=$((i+1)); done; \
             echo \"end {tag} $(date +%s%N)\" >> '{f}'"
        ),
    ]
}

#[test]
fn update_never_overlaps_app_tasks_which_run_in_parallel() {
    let db = TestDb::migrated();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("markers");
    let mut children = Vec::new();
    for round in 0..2 {
        let barrier = dir.path().join(format!("round{round}"));
        std::fs::create_dir(&barrier).unwrap();
        for app in 0..3 {
            let name = format!("app_task_{app}");
            children.push(spawn_run(
                &db,
                "platform",
                &name,
                &["--unless-held", "update"],
                &app_task_cmd(&file, &barrier, &format!("app{app}.{round}")),
            ));
        }
        children.push(spawn_run(
            &db,
            "platform",
            "update",
            &["--unless-held", "app_task_*"],
            &marker_cmd(&file, &format!("update.{round}"), "0.2"),
        ));
    }
    for c in children {
        let r = Run::from(c.wait_with_output().unwrap());
        assert_eq!(r.code, 0, "{r:#?}");
    }
    let runs = intervals(&file);
    assert_eq!(runs.len(), 8);
    let (updates, apps): (Vec<_>, Vec<_>) = runs.iter().partition(|r| r.0.starts_with("update"));
    for u in &updates {
        for a in &apps {
            assert!(!overlap(u, a), "update {u:?} overlaps app task {a:?}");
        }
    }
    let parallel = apps.iter().enumerate().any(|(i, a)| {
        apps[i + 1..]
            .iter()
            .any(|b| a.0[..4] != b.0[..4] && overlap(a, b))
    });
    assert!(
        parallel,
        "different app tasks ran at the same time: {apps:?}"
    );
}

#[test]
fn exit_codes_propagate() {
    let db = TestDb::migrated();
    let run = |cmd: &[&str]| {
        let mut args = vec!["locks", "run", "platform", "job", "--"];
        args.extend_from_slice(cmd);
        db.locksmith(&args)
    };
    let r = run(&["sh", "-c", "echo out; echo err >&2; exit 7"]);
    assert_eq!(
        (r.code, r.stdout.as_str(), r.stderr.as_str()),
        (7, "out\n", "err\n")
    );
    let r = run(&["sh", "-c", "kill -KILL $$"]);
    assert_eq!(
        (r.code, r.stdout.as_str(), r.stderr.as_str()),
        (128 + 9, "", ""),
        "{r:#?}"
    );
    run(&["true"]).success();
    run(&["/no/such/program"]).fails_with(
        127,
        "locksmith: cannot run \"/no/such/program\": No such file or directory (os error 2)\n",
    );
    assert_eq!(
        db.data("platform").as_deref(),
        Some("{}"),
        "released every time"
    );
}

#[test]
fn wait_times_out_with_the_conflict_code() {
    let db = TestDb::migrated();
    db.locksmith(&[
        "locks", "acquire", "platform", "backup", "--holder", "task-1",
    ])
    .success();
    let t = Instant::now();
    // (3 s: the deadline covers the connect too, which a loaded machine
    // may make slow.)
    db.locksmith(&[
        "locks", "run", "platform", "backup", "--wait", "3s", "--", "true",
    ])
    // The hole is how long it waited, as measured.
    .fails(4)
    .stderr_matches(concat!(
        r"locksmith: waiting: lock `backup` in row `platform` is held by task-1\n",
        r"locksmith: gave up after waiting \d+\.\ds: lock `backup` in row `platform` is held by task-1\n",
    ));
    let waited = t.elapsed();
    assert!(waited >= Duration::from_secs(3), "{waited:?}");
    db.locksmith(&[
        "locks", "acquire", "platform", "backup", "--holder", "task-2",
    ])
    .fails_with(
        4,
        "locksmith: lock `backup` in row `platform` is held by task-1\n",
    );
    // A waiter gets it once it is released.
    let mut waiter = db.spawn(&[
        "locks", "acquire", "platform", "backup", "--holder", "task-2", "--wait", "60s",
    ]);
    let mut stderr = std::io::BufReader::new(waiter.stderr.take().unwrap());
    read_until(
        &mut stderr,
        "waiting: lock `backup` in row `platform` is held by task-1",
    );
    db.locksmith(&[
        "locks", "release", "platform", "backup", "--holder", "task-1",
    ])
    .success();
    let r = Run::from(waiter.wait_with_output().unwrap());
    // Its waiting line was read above; nothing came after it.
    assert_eq!(
        (r.code, r.stdout.as_str(), r.stderr.as_str()),
        (0, "", ""),
        "{r:#?}"
    );
    let doc: Dump = db
        .locksmith(&["locks", "dump", "--format", "json"])
        .success_json();
    assert_eq!(
        json(&doc.rows[0].locks[0].holder),
        serde_json::json!("task-2")
    );
    db.locksmith(&[
        "locks", "release", "platform", "backup", "--holder", "task-1",
    ])
    .fails_with(
        4,
        "locksmith: lock `backup` in row `platform` is held by task-2, not by task-1\n",
    );
}

/// Waits (up to 30 s) until `name` in `row` is held; its holder.
fn wait_for_lock(db: &TestDb, row: &str, name: &str) -> serde_json::Value {
    let mut holder = None;
    wait_until(
        &format!("lock {name} is held"),
        Duration::from_secs(30),
        || {
            let doc: Dump = db
                .locksmith(&["locks", "dump", "--format", "json"])
                .success_json();
            holder = doc
                .rows
                .iter()
                .filter(|r| r.row == row)
                .flat_map(|r| r.locks.iter())
                .find(|l| l.name == name)
                .map(|l| json(&l.holder));
            holder.is_some()
        },
    );
    holder.unwrap()
}

#[test]
fn signals_are_forwarded_and_the_lock_released() {
    let db = TestDb::migrated();
    for (sig, code) in [(Signal::SIGTERM, 42), (Signal::SIGINT, 43)] {
        // The child says "ready" only once its traps are set.
        let script = "trap 'echo got it; exit 42' TERM; trap 'echo got it; exit 43' INT; echo ready; while :; do sleep 0.05; done";
        let mut child = db.spawn(&[
            "locks", "run", "platform", "svc", "--holder", "svc-1", "--", "sh", "-c", script,
        ]);
        let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
        let first = read_until(&mut stdout, "ready");
        assert_eq!(
            wait_for_lock(&db, "platform", "svc"),
            serde_json::json!("svc-1")
        );
        signal(child.id(), sig);
        let mut rest = String::new();
        std::io::Read::read_to_string(&mut stdout, &mut rest).unwrap();
        let r = Run::from(child.wait_with_output().unwrap());
        assert_eq!(
            (r.code, first + &rest),
            (code, "ready\ngot it\n".to_string()),
            "{r:#?}"
        );
        assert_eq!(db.data("platform").as_deref(), Some("{}"));
    }
}

#[test]
fn a_terminal_ctrl_c_stops_the_command_and_frees_the_lock() {
    let db = TestDb::migrated();
    // `script` runs locksmith on a pseudo-terminal; a ^C written to it is
    // the terminal's Ctrl-C, sent by the kernel to the foreground process
    // group: locksmith and the command alike.
    let mut child = db.spawn_on_tty(
        "locks run platform tty-job --holder tty-1 -- sh -c 'echo ready; exec sleep 30'",
    );
    let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    read_until(&mut stdout, "ready");
    assert_eq!(
        wait_for_lock(&db, "platform", "tty-job"),
        serde_json::json!("tty-1")
    );
    let started = Instant::now();
    let mut stdin = child.stdin.take().unwrap();
    std::io::Write::write_all(&mut stdin, b"\x03").unwrap();
    let status = child.wait().unwrap();
    drop(stdin);
    assert_eq!(status.code(), Some(130), "the command died of SIGINT");
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "Ctrl-C stopped it, not the end of its sleep"
    );
    assert_eq!(db.data("platform").as_deref(), Some("{}"), "released");
}

#[test]
fn ctrl_c_or_sigterm_while_waiting_leaves_nothing_behind() {
    let db = TestDb::migrated();
    db.locksmith(&[
        "locks", "acquire", "platform", "backup", "--holder", "task-1",
    ])
    .success();
    for (sig, code) in [(Signal::SIGINT, 130), (Signal::SIGTERM, 143)] {
        let mut child = db.spawn(&[
            "locks", "run", "platform", "backup", "--holder", "task-2", "--wait", "60s", "--",
            "echo", "never",
        ]);
        // Once it says it is waiting, its signal handlers are in place.
        let mut stderr = std::io::BufReader::new(child.stderr.take().unwrap());
        let waiting = read_until(&mut stderr, "waiting:");
        signal(child.id(), sig);
        let mut rest = String::new();
        std::io::Read::read_to_string(&mut stderr, &mut rest).unwrap();
        let r = Run::from(child.wait_with_output().unwrap());
        assert_eq!((r.code, r.stdout.as_str()), (code, ""), "{waiting}{rest}");
        assert_eq!(
            rest,
            format!(
                "locksmith: interrupted by {}; nothing is left held\n",
                sig.as_str()
            )
        );
        let doc: Dump = db
            .locksmith(&["locks", "dump", "--format", "json"])
            .success_json();
        assert_eq!(doc.rows[0].locks.len(), 1);
        assert_eq!(
            json(&doc.rows[0].locks[0].holder),
            serde_json::json!("task-1")
        );
    }
}

#[test]
fn acquiring_a_lock_the_holder_already_holds_succeeds() {
    let db = TestDb::migrated();
    db.locksmith(&[
        "locks", "acquire", "platform", "backup", "--holder", "task-1",
    ])
    .success();
    let v = db.version("platform");
    db.locksmith(&[
        "locks", "acquire", "platform", "backup", "--holder", "task-1",
    ])
    .success();
    assert_eq!(db.version("platform"), v, "nothing written");
    db.locksmith(&[
        "locks", "acquire", "platform", "backup", "--holder", "task-2",
    ])
    .fails_with(
        4,
        "locksmith: lock `backup` in row `platform` is held by task-1\n",
    );
}

#[test]
fn a_killed_locksmith_leaves_its_lock_for_the_operator() {
    let db = TestDb::migrated();
    let dir = tempfile::tempdir().unwrap();
    let pidfile = dir.path().join("child.pid");
    let script = format!("echo $$ > '{}'; exec sleep 60", pidfile.display());
    let mut child = db
        .command(&[
            "locks", "run", "platform", "update", "--", "sh", "-c", &script,
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let holder = wait_for_lock(&db, "platform", "update");
    let host = locksmith::host::hostname();
    assert_eq!(
        holder,
        serde_json::json!(format!("{host}:{}", child.id())),
        "default holder is host:pid"
    );
    child.kill().unwrap(); // SIGKILL: no chance to release.
    child.wait().unwrap();
    // The command may never have started (locksmith was killed first); if
    // it did, it goes too.
    if poll_until(Duration::from_secs(10), || pidfile.exists()) {
        if let Ok(pid) = std::fs::read_to_string(&pidfile) {
            signal(pid.trim().parse().unwrap(), Signal::SIGKILL);
        }
    }
    // Still held, under its holder's name, which dump knows is dead.
    let h = holder.as_str().unwrap();
    let pid = h.rsplit_once(':').unwrap().1;
    let holder_is = [(h, "<HOLDER>")];
    db.locksmith(&["locks", "dump"])
        .named(&holder_is)
        .succeeds_like(&dump_table(&[&format!(
            "platform update <HOLDER> dead: on this host, PID {pid} is gone 2"
        )]));
    db.locksmith(&["locks", "force-release", "platform", "--holder", h, "--yes"])
        .named(&holder_is)
        .succeeds_with(
            "row `platform`: version 2 -> 3\nreleased update (held by <HOLDER>)\n0 lock(s) remain\n",
        );
    assert_eq!(db.data("platform").as_deref(), Some("{}"));
}

#[test]
fn a_long_wait_without_a_terminal_says_it_still_waits_every_ten_seconds() {
    let db = TestDb::migrated();
    db.locksmith(&[
        "locks", "acquire", "platform", "backup", "--holder", "task-1",
    ])
    .success();
    let t = Instant::now();
    let r = db.locksmith(&[
        "locks", "acquire", "platform", "backup", "--holder", "task-2", "--wait", "11s",
    ]);
    assert!(t.elapsed() >= Duration::from_secs(11));
    // The holes are how long it had waited, as measured.
    r.fails(4).stderr_matches(concat!(
        r"locksmith: waiting: lock `backup` in row `platform` is held by task-1\n",
        r"locksmith: waiting: lock `backup` in row `platform` is held by task-1 \(still, after 1\ds\)\n",
        r"locksmith: gave up after waiting 11\.\ds: lock `backup` in row `platform` is held by task-1\n",
    ));
}
