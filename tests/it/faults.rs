//! Faults, injected for real: a server frozen with SIGSTOP, killed with
//! SIGKILL and restarted, a connection that stops answering (the proxy's
//! black hole), signals at every step, and a locksmith killed under its
//! command. Every command must end within its deadline plus 2 s, ride
//! through what can be ridden through, and leave no lock and no process
//! behind that it could have cleaned up.

use crate::harness::*;
use crate::proxy::{self, Proxy};
use locksmith::cli::output::Dump;
use nix::sys::signal::Signal;
use std::path::Path;
use std::process::Child;
use std::time::{Duration, Instant};

/// What a command may take beyond its deadline.
const SLACK: Duration = Duration::from_secs(2);

/// Runs `locksmith ARGS` against `url`, timing it.
fn timed(url: &str, args: &[&str]) -> (Run, Duration) {
    let t = Instant::now();
    let r = locksmith_at(url, args);
    (r, t.elapsed())
}

/// Asserts a command failed cleanly (code, a `locksmith:` error, nothing on
/// stdout) within `deadline` plus [`SLACK`]; prints the overrun.
#[track_caller]
fn ends_in_time(what: &str, (r, took): (Run, Duration), deadline: Duration, code: i32) -> Run {
    eprintln!(
        "deadline overrun: {what}: took {:.2}s for a {:.1}s deadline ({:+.2}s)",
        took.as_secs_f64(),
        deadline.as_secs_f64(),
        took.as_secs_f64() - deadline.as_secs_f64()
    );
    assert!(took <= deadline + SLACK, "{what} took {took:?}: {r:#?}");
    r.fails(code);
    r
}

/// Waits (up to `limit`) for a child to exit; its run, and how long.
fn wait_for(mut child: Child, limit: Duration) -> (Run, Duration) {
    let t = Instant::now();
    while child.try_wait().unwrap().is_none() {
        assert!(t.elapsed() < limit, "still running after {limit:?}");
        std::thread::sleep(Duration::from_millis(10));
    }
    (Run::from(child.wait_with_output().unwrap()), t.elapsed())
}

fn locks_of(db: &TestDb, row: &str) -> Vec<(String, serde_json::Value)> {
    let doc: Dump = db.locksmith(&["locks", "dump", "--format", "json"]).json();
    doc.rows
        .into_iter()
        .filter(|r| r.row == row)
        .flat_map(|r| r.locks)
        .map(|l| (l.name, json(&l.holder)))
        .collect()
}

#[test]
fn a_frozen_server_ends_every_command_within_its_deadline() {
    let mut server = Throwaway::start(1, &[]);
    let db = TestDb::on(&server, 0);
    db.locksmith(&["migrate", "up"]).success();
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
    // Frozen during a look (a read): it gave up; during a try (a write):
    // it says what may be left, after trying to undo it.
    assert!(
        (r.stderr.starts_with("locksmith: gave up after ")
            && r.stderr.contains("s: lost the connection"))
            || r.stderr
                .contains("lock `backup` in row `platform` may be held by t2"),
        "{r:#?}"
    );
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
        r.stderr_has(&["no answer within"]);
    }
    server.thaw(0);
    assert_eq!(locks_of(&db, "platform"), [("backup".into(), "t1".into())]);
}

/// A command, the packet it hangs at, its deadline and its exit code.
type Case<'a> = (Vec<&'a str>, fn(&[u8]) -> bool, Duration, i32);

#[test]
fn a_black_holed_connection_ends_every_command_within_its_deadline() {
    let db = TestDb::migrated();
    db.locksmith(&["locks", "acquire", "platform", "backup", "--holder", "t1"])
        .success();
    let proxy = Proxy::start(db.addr());
    let url = db.url_via(proxy.port);
    let s2 = Duration::from_secs(2);
    // Hangs at the first statement after connecting, or at COMMIT.
    let cases: [Case; 10] = [
        (
            vec![
                "locks", "acquire", "platform", "x", "--holder", "t2", "--wait", "2s",
            ],
            proxy::is_execute,
            s2,
            3,
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
        ),
        (
            vec!["locks", "dump", "--timeout", "2s"],
            proxy::is_query,
            s2,
            3,
        ),
        (
            vec!["locks", "history", "--timeout", "2s"],
            proxy::is_query,
            s2,
            3,
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
        ),
        (
            vec!["locks", "bump", "platform", "--yes", "--timeout", "2s"],
            proxy::is_commit,
            s2,
            3,
        ),
        (
            vec![
                "locks", "run", "platform", "y", "--wait", "2s", "--", "true",
            ],
            proxy::is_execute,
            s2,
            3,
        ),
        (
            vec!["migrate", "status", "--timeout", "2s"],
            proxy::is_query,
            s2,
            3,
        ),
        (
            vec!["migrate", "up", "--timeout", "2s"],
            proxy::is_query,
            s2,
            3,
        ),
    ];
    for (args, at, deadline, code) in cases {
        proxy.hole_on(at);
        let r = ends_in_time(&args.join(" "), timed(&url, &args), deadline, code);
        assert!(proxy.took_cut(), "the hang happened: {r:#?}");
        proxy.heal();
    }
    // And a connection that hangs before its handshake.
    proxy.black_hole();
    ends_in_time(
        "dump, hung at connect",
        timed(&url, &["locks", "dump", "--timeout", "2s"]),
        s2,
        3,
    );
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
    assert_eq!(r.code, 3, "{r:#?}");
    assert!(
        r.stderr.contains("could not release lock `job`")
            && r.stderr.contains("the lock is STILL HELD")
            && r.stderr
                .contains("locksmith locks force-release platform --holder 'h1'"),
        "{r:#?}"
    );
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
    for (args, at) in [
        (
            vec![
                "locks", "acquire", "platform", "x", "--holder", "t", "--wait", "60s",
            ],
            proxy::is_execute as fn(&[u8]) -> bool,
        ),
        (vec!["locks", "dump", "--timeout", "60s"], proxy::is_query),
        (
            vec!["migrate", "status", "--timeout", "60s"],
            proxy::is_query,
        ),
    ] {
        proxy.hole_on(at);
        let child = spawn_at(&url, &args);
        let t = Instant::now();
        while !proxy.took_cut() {
            assert!(t.elapsed() < Duration::from_secs(20), "never hung");
            std::thread::sleep(Duration::from_millis(10));
        }
        std::thread::sleep(Duration::from_millis(100));
        signal(child.id(), Signal::SIGTERM);
        let (r, took) = wait_for(child, Duration::from_secs(30));
        eprintln!(
            "after SIGTERM: {}: {:.2}s",
            args.join(" "),
            took.as_secs_f64()
        );
        assert!(took <= SLACK, "{took:?}: {r:#?}");
        r.fails(143).stderr_has(&["interrupted by SIGTERM"]);
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
    std::thread::sleep(Duration::from_millis(300));
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
    assert_eq!(r.code, 143, "{r:#?}");
    assert!(r.stderr.contains("the lock is STILL HELD"), "{r:#?}");
    proxy.heal();
}

#[test]
fn a_wait_rides_through_a_server_restart() {
    let mut server = Throwaway::start(1, &[]);
    let db = TestDb::on(&server, 0);
    db.locksmith(&["migrate", "up"]).success();
    db.locksmith(&["locks", "acquire", "platform", "backup", "--holder", "t1"])
        .success();
    let mut waiter = db.spawn(&[
        "locks", "acquire", "platform", "backup", "--holder", "t2", "--wait", "60s",
    ]);
    let mut stderr = std::io::BufReader::new(waiter.stderr.take().unwrap());
    read_until(&mut stderr, "waiting:");
    server.kill(0);
    std::thread::sleep(Duration::from_millis(500));
    server.restart(0);
    db.locksmith(&["locks", "release", "platform", "backup", "--holder", "t1"])
        .success();
    let (r, _) = wait_for(waiter, Duration::from_secs(60));
    assert_eq!((r.code, r.stdout.as_str()), (0, ""), "{r:#?}");
    assert_eq!(locks_of(&db, "platform"), [("backup".into(), "t2".into())]);
}

/// Appends `start <tag> <ns>` and `end <tag> <ns>` around a short sleep.
fn marker(file: &Path, tag: &str) -> String {
    let f = file.display();
    format!("echo \"start {tag} $(date +%s%N)\" >> '{f}'; sleep 0.05; echo \"end {tag} $(date +%s%N)\" >> '{f}'")
}

#[test]
fn run_loops_ride_through_a_server_restart_and_leave_no_lock() {
    let mut server = Throwaway::start(1, &[]);
    let db = TestDb::on(&server, 0);
    db.locksmith(&["migrate", "up"]).success();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("markers");
    std::fs::write(&file, "").unwrap();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let loops: Vec<_> = (0..4)
        .map(|w| {
            let (url, file, stop) = (db.url(), file.clone(), stop.clone());
            std::thread::spawn(move || {
                let (mut ok, mut refused) = (0, 0);
                let mut i = 0;
                while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                    i += 1;
                    let cmd = marker(&file, &format!("w{w}.{i}"));
                    let (r, _) = timed(
                        &url,
                        &[
                            "locks", "run", "platform", "job", "--wait", "60s", "--", "sh", "-c",
                            &cmd,
                        ],
                    );
                    match r.code {
                        0 => ok += 1,
                        // Started while the server was down: it never
                        // connected, so it never took anything.
                        3 if r.stderr.starts_with("locksmith: cannot connect") => refused += 1,
                        _ => panic!("worker {w}: {r:#?}"),
                    }
                }
                (ok, refused)
            })
        })
        .collect();
    let runs = || {
        std::fs::read_to_string(&file)
            .unwrap()
            .matches("end ")
            .count()
    };
    let until = |n: usize| {
        let t = Instant::now();
        while runs() < n {
            assert!(
                t.elapsed() < Duration::from_secs(120),
                "only {} runs",
                runs()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    };
    until(8);
    server.kill(0);
    std::thread::sleep(Duration::from_millis(700));
    server.restart(0);
    let after = runs() + 8;
    until(after);
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let (mut ok, mut refused) = (0, 0);
    for l in loops {
        let (o, r) = l.join().unwrap();
        ok += o;
        refused += r;
    }
    eprintln!("restart under 4 run loops: {ok} runs succeeded, {refused} refused to connect while the server was down");
    // Mutual exclusion held throughout, and nothing is left held.
    let text = std::fs::read_to_string(&file).unwrap();
    let mut open: Option<&str> = None;
    for line in text.lines() {
        let parts: Vec<&str> = line.split(' ').collect();
        match (parts[0], open) {
            ("start", None) => open = Some(parts[1]),
            ("end", Some(tag)) if tag == parts[1] => open = None,
            _ => panic!("overlap at {line:?} in:\n{text}"),
        }
    }
    assert_eq!(open, None);
    assert_eq!(locks_of(&db, "platform"), []);
    assert!(ok >= 16, "{ok}");
}

/// Whether a process is gone (or a zombie nobody reaped yet).
fn gone(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit(')')
            .next()
            .is_some_and(|rest| rest.trim_start().starts_with('Z')),
    }
}

#[test]
fn a_killed_locksmith_takes_its_command_and_what_it_started_along() {
    let db = TestDb::migrated();
    let dir = tempfile::tempdir().unwrap();
    let pids = dir.path().join("pids");
    let script = format!(
        "sleep 60 & echo $! > '{p}.tmp'; echo $$ >> '{p}.tmp'; mv '{p}.tmp' '{p}'; sleep 60",
        p = pids.display()
    );
    let mut child = db
        .command(&[
            "locks", "run", "platform", "update", "--", "sh", "-c", &script,
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let t = Instant::now();
    while !pids.exists() {
        assert!(
            t.elapsed() < Duration::from_secs(20),
            "the command never started"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    let started: Vec<i32> = std::fs::read_to_string(&pids)
        .unwrap()
        .lines()
        .map(|l| l.parse().unwrap())
        .collect();
    assert_eq!(started.len(), 2);
    child.kill().unwrap(); // SIGKILL: locksmith gets no chance at all.
    child.wait().unwrap();
    let t = Instant::now();
    while !started.iter().all(|p| gone(*p)) {
        assert!(
            t.elapsed() < Duration::from_secs(1),
            "the command and its child outlived locksmith by a second: {started:?}"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    eprintln!(
        "the command and its child were gone {:.0} ms after locksmith",
        t.elapsed().as_secs_f64() * 1000.0
    );
    // So the lock left under HOST:PID names a process that is gone with
    // its command: releasing it cannot let a second run start inside this.
    let holder = format!("{}:{}", locksmith::host::hostname(), child.id());
    assert_eq!(
        locks_of(&db, "platform"),
        [("update".into(), holder.clone().into())]
    );
    db.locksmith(&[
        "locks",
        "force-release",
        "platform",
        "--holder",
        &holder,
        "--yes",
    ])
    .success();
}

#[test]
fn a_command_that_leaves_children_behind_has_them_ended_before_the_release() {
    let db = TestDb::migrated();
    let dir = tempfile::tempdir().unwrap();
    let pid = dir.path().join("pid");
    let script = format!("sleep 60 & echo $! > '{}'", pid.display());
    db.locksmith(&["locks", "run", "platform", "job", "--", "sh", "-c", &script])
        .success();
    let left: i32 = std::fs::read_to_string(&pid)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let t = Instant::now();
    while !gone(left) {
        assert!(
            t.elapsed() < Duration::from_secs(2),
            "the background sleep outlived the run"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(locks_of(&db, "platform"), []);
}

fn scratch_rows(db: &TestDb) -> usize {
    db.scalar("SELECT COUNT(*) FROM locks WHERE id LIKE 'locksmith-bench-%'")
        .unwrap()
        .parse()
        .unwrap()
}

#[test]
fn an_interrupted_bench_stops_its_workers_and_removes_its_scratch_row() {
    let db = TestDb::migrated();
    for (sig, code) in [(Signal::SIGINT, 130), (Signal::SIGTERM, 143)] {
        let child = db.spawn(&["bench", "--workers", "2", "--duration", "20s"]);
        let t = Instant::now();
        while scratch_rows(&db) == 0 {
            assert!(t.elapsed() < Duration::from_secs(20), "no scratch row");
            std::thread::sleep(Duration::from_millis(10));
        }
        std::thread::sleep(Duration::from_millis(300));
        signal(child.id(), sig);
        let (r, took) = wait_for(child, Duration::from_secs(30));
        assert!(took <= SLACK, "{took:?}");
        r.fails(code)
            .stderr_has(&[&format!("interrupted by {}", sig.as_str())]);
        assert_eq!(scratch_rows(&db), 0, "the scratch row is gone");
    }
}

#[test]
fn a_bench_that_cannot_remove_its_scratch_row_still_prints_its_results() {
    let db = TestDb::migrated();
    let user = unique_name("nodel");
    let pw = password();
    admin_sql(&format!(
        "CREATE USER '{user}'@'%' IDENTIFIED BY '{pw}'; \
         GRANT SELECT, INSERT, UPDATE ON `{}`.* TO '{user}'@'%'",
        db.name
    ));
    let url = format!("mysql://{user}:{pw}@{}/{}", db.addr(), db.name);
    let (r, _) = timed(&url, &["bench", "--workers", "1", "--duration", "200ms"]);
    assert_eq!(r.code, 0, "{r:#?}");
    r.stdout_has(&["lock ops/s", "end-of-run check", "passed"]);
    r.stderr_has(&[
        "locksmith: warning: could not remove the scratch row `locksmith-bench-",
        "DELETE command denied",
        "hint: remove it with `DELETE FROM locks WHERE id = 'locksmith-bench-",
    ]);
    assert_eq!(scratch_rows(&db), 1);
}
