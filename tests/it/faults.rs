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
    wait_until("the command exits", limit, || {
        child.try_wait().unwrap().is_some()
    });
    (Run::from(child.wait_with_output().unwrap()), t.elapsed())
}

/// How long a failure waited, as its message gives it (measured).
const SECS: &str = r"\d+\.\ds";

/// What a command that found no server answering says, as a pattern.
fn no_answer(url: &str) -> String {
    format!(
        "locksmith: cannot connect to {}: no answer within {SECS}\n\
         hint: is the server running and listening on that host and port\\?\n",
        regex::escape(&url.replace(&format!(":{}@", password()), ":***@"))
    )
}

/// What `run` says when it could not release `job` (held by h1) in time,
/// as a pattern.
fn still_held() -> String {
    format!(
        "locksmith: ERROR: could not release lock `job` in row `platform` held by h1: gave up after {SECS}: the server could not be reached\n\
         locksmith: the lock is STILL HELD\\. Free it with:\n\
         locksmith:   locksmith locks force-release platform --holder 'h1'\n"
    )
}

/// What a read that lost its connection at the deadline says, as a pattern.
fn gave_up() -> String {
    format!(
        "locksmith: gave up after {SECS}: lost the connection to the server: no answer within {SECS}\n"
    )
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
        "{}\\d+s more\n{}",
        regex::escape(
            "locksmith: could not release lock `job` in row `platform` yet (lock `job` in row `platform` may still be held by h1: the deadline passed before the outcome could be told (last error: "
        ) + ".*" + &regex::escape(
            ")\nhint: check with `locksmith locks dump platform`; `locksmith locks release platform 'job' --holder 'h1'` frees it); retrying for up to "
        ),
        still_held()
    ));
    proxy.heal();
    assert_eq!(locks_of(&db, "platform"), [("job".into(), "h1".into())]);
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
    r.stderr_matches(&still_held());
    proxy.heal();
}

#[test]
fn a_wait_rides_through_a_server_restart() {
    let mut server = Throwaway::start(1, &[]);
    let db = TestDb::on(&server, 0);
    db.locksmith(&["migrate", "up"]).succeeds_with(UP_FRESH);
    db.locksmith(&["locks", "acquire", "platform", "backup", "--holder", "t1"])
        .success();
    // Verbose, so that it says when it has connected again.
    let mut waiter = db.spawn(&[
        "--verbose",
        "locks",
        "acquire",
        "platform",
        "backup",
        "--holder",
        "t2",
        "--wait",
        "60s",
    ]);
    let mut stderr = std::io::BufReader::new(waiter.stderr.take().unwrap());
    let mut said = read_until(&mut stderr, "waiting:");
    server.kill(0);
    server.restart(0);
    // Only once it has found the restarted server is the lock set free.
    said += &read_until(&mut stderr, "locksmith: connected to ");
    db.locksmith(&["locks", "release", "platform", "backup", "--holder", "t1"])
        .success();
    let (r, _) = wait_for(waiter, Duration::from_secs(60));
    std::io::Read::read_to_string(&mut stderr, &mut said).unwrap();
    assert_eq!((r.code, r.stdout.as_str()), (0, ""), "{r:#?}");
    for line in said.lines() {
        assert!(
            line.starts_with("locksmith: connected to ")
                || line.starts_with("locksmith: waiting: "),
            "{said}"
        );
    }
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
    db.locksmith(&["migrate", "up"]).succeeds_with(UP_FRESH);
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
        wait_until(&format!("{n} runs"), Duration::from_secs(120), || {
            runs() >= n
        })
    };
    until(8);
    // `kill` returns once the server is gone, `restart` once it is up
    // again: the loops meet a server that is down for all of its restart.
    server.kill(0);
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
    wait_until("the command starts", Duration::from_secs(20), || {
        pids.exists()
    });
    let started: Vec<i32> = std::fs::read_to_string(&pids)
        .unwrap()
        .lines()
        .map(|l| l.parse().unwrap())
        .collect();
    assert_eq!(started.len(), 2);
    child.kill().unwrap(); // SIGKILL: locksmith gets no chance at all.
    child.wait().unwrap();
    let t = Instant::now();
    wait_until(
        &format!("the command and its child {started:?} go within a second of locksmith"),
        Duration::from_secs(1),
        || started.iter().all(|p| gone(*p)),
    );
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
    .succeeds_with(&format!(
        "row `platform`: version 2 -> 3\nreleased update (held by {holder})\n0 lock(s) remain\n"
    ));
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
    wait_until(
        "the background sleep is gone with the run",
        Duration::from_secs(2),
        || gone(left),
    );
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
        // Its workers are at work once the scratch row's version moves.
        wait_until("the workers write", Duration::from_secs(20), || {
            db.scalar(
                "SELECT COUNT(*) FROM locks WHERE id LIKE 'locksmith-bench-%' AND version > 1",
            )
            .as_deref()
                == Some("1")
        });
        signal(child.id(), sig);
        let (r, took) = wait_for(child, Duration::from_secs(30));
        assert!(took <= SLACK, "{took:?}");
        r.fails_with(
            code,
            &format!("locksmith: interrupted by {}\n", sig.as_str()),
        );
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
    crate::bench::report_table(&r.stdout, 1);
    // The holes: the scratch row's random name (the same in both lines),
    // and the client host in the server's words for the refusal.
    let row = regex::Regex::new("`(locksmith-bench-[0-9a-f]+)`")
        .unwrap()
        .captures(&r.stderr)
        .unwrap_or_else(|| panic!("no scratch row named: {r:#?}"))[1]
        .to_string();
    r.stderr_matches(&regex::escape(&format!(
        "locksmith: warning: could not remove the scratch row `{row}`: database error: DELETE command denied to user '{user}'@'CLIENT' for table `{}`.`locks` (error 1142)\n\
         locksmith: hint: remove it with `DELETE FROM locks WHERE id = '{row}'`\n",
        db.name
    )).replace("CLIENT", "[^']*"));
    assert_eq!(scratch_rows(&db), 1);
}
