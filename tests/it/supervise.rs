//! Nothing started under `locks run` outlives its lock, whatever it does to
//! escape (setsid, double forks, nohup, a daemon, SIGTERM ignored), however
//! the run ends; `--kill-after` bounds a command that ignores the signal
//! passed on to it; and an exit status means what it says when stdout
//! cannot be written (`acquire` releases what it cannot report; a change
//! that landed says so).

use crate::harness::*;
use nix::sys::signal::Signal;
use std::io::{BufReader, Read};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Whether a process is gone (a zombie nobody has reaped yet counts).
fn gone(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit(')')
            .next()
            .is_some_and(|rest| rest.trim_start().starts_with('Z')),
    }
}

/// The pids written to `file`, one a line.
fn pids(file: &Path) -> Vec<i32> {
    std::fs::read_to_string(file)
        .unwrap()
        .lines()
        .map(|l| l.trim().parse().unwrap())
        .collect()
}

/// Waits until every one of `pids` is gone, for at most `limit`.
#[track_caller]
fn all_gone_within(pids: &[i32], limit: Duration, what: &str) {
    wait_until(&format!("{what}: {pids:?} are gone"), limit, || {
        pids.iter().all(|p| gone(*p))
    });
}

/// Waits for a spawned locksmith, for at most `limit`.
fn wait_for(mut child: Child, limit: Duration) -> (Run, Duration) {
    let t = Instant::now();
    wait_until("locksmith exits", limit, || {
        child.try_wait().unwrap().is_some()
    });
    (Run::from(child.wait_with_output().unwrap()), t.elapsed())
}

/// The holder of `name` in `row`, if held.
fn holder_of(db: &TestDb, row: &str, name: &str) -> Option<serde_json::Value> {
    let data = db.data(row)?;
    let v: serde_json::Value = serde_json::from_str(&data).unwrap();
    v.get(name).cloned()
}

/// Ways a command's child escapes its process group or session, as shell
/// snippets that append the escaped process's pid to `{p}`; and what
/// `run` says on stderr when it has ended it. (They leave the test's pipes
/// alone, so that a failure shows at once rather than when they end.)
fn escapes() -> Vec<(&'static str, &'static str, &'static str)> {
    vec![
        (
            "setsid",
            r#"setsid sleep 300 >/dev/null 2>&1 & echo $! >> "{p}""#,
            "",
        ),
        (
            "setsid -f",
            r#"setsid -f sh -c 'echo $$ >> "{p}"; exec sleep 300' >/dev/null 2>&1"#,
            "",
        ),
        (
            "double fork",
            r#"( sleep 300 >/dev/null 2>&1 & echo $! >> "{p}" )"#,
            "",
        ),
        (
            "nohup",
            r#"nohup sleep 300 >/dev/null 2>&1 & echo $! >> "{p}""#,
            "",
        ),
        (
            "daemon: double fork, setsid, chdir /, stdio closed",
            r#"( cd / && exec setsid sh -c 'echo $$ >> "{p}"; exec sleep 300 <&- >&- 2>&-' & )"#,
            "",
        ),
        (
            "a grandchild in a session of its own that ignores SIGTERM",
            r#"setsid -f sh -c 'trap "" TERM HUP INT; echo $$ >> "{p}"; exec sleep 300' >/dev/null 2>&1"#,
            "locksmith: ended 1 process the command left running (1 with SIGKILL)\n",
        ),
    ]
}

/// The command: the escape, then (once its pid is written) `ready`, then
/// `then`.
fn escaping_command(snippet: &str, p: &Path, then: &str) -> String {
    let p = p.display().to_string();
    format!(
        "{}; while [ ! -s \"{p}\" ]; do sleep 0.01; done; echo ready{then}",
        snippet.replace("{p}", &p)
    )
}

#[test]
fn nothing_the_command_starts_outlives_its_lock() {
    let db = TestDb::migrated();
    let dir = tempfile::tempdir().unwrap();
    let host = locksmith::host::hostname();
    for (i, (what, snippet, leftover_note)) in escapes().into_iter().enumerate() {
        // 1. The command exits on its own: what it left is ended before
        // the release, and `run` exits 0.
        let (p, row) = (dir.path().join(format!("exit{i}")), format!("exit{i}"));
        let script = escaping_command(snippet, &p, "");
        let r = db.locksmith(&[
            "locks",
            "run",
            &row,
            "job",
            "--kill-after",
            "500ms",
            "--",
            "sh",
            "-c",
            &script,
        ]);
        assert_eq!(
            (r.code, r.stdout.as_str(), r.stderr.as_str()),
            (0, "ready\n", leftover_note),
            "{what}: {r:#?}"
        );
        let left = pids(&p);
        assert!(
            left.iter().all(|p| gone(*p)),
            "{what}: {left:?} outlived the run"
        );
        assert_eq!(db.data(&row).as_deref(), Some("{}"), "{what}: released");

        // 2. SIGTERM to locksmith: passed on (the command dies of it),
        // the rest is ended, the lock released, exit 143.
        let (p, row) = (dir.path().join(format!("term{i}")), format!("term{i}"));
        let script = escaping_command(snippet, &p, "; exec sleep 300");
        let mut child = db.spawn(&[
            "locks",
            "run",
            &row,
            "job",
            "--kill-after",
            "500ms",
            "--",
            "sh",
            "-c",
            &script,
        ]);
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut seen = read_until(&mut stdout, "ready");
        signal(child.id(), Signal::SIGTERM);
        stdout.read_to_string(&mut seen).unwrap();
        let (r, _) = wait_for(child, Duration::from_secs(30));
        assert_eq!(
            (r.code, seen.as_str(), r.stderr.as_str()),
            (143, "ready\n", leftover_note),
            "{what}: {r:#?}"
        );
        let left = pids(&p);
        assert!(
            left.iter().all(|p| gone(*p)),
            "{what}: {left:?} outlived the run"
        );
        assert_eq!(db.data(&row).as_deref(), Some("{}"), "{what}: released");

        // 3. SIGKILL to locksmith: everything goes at once; the lock stays
        // held under HOST:PID for the operator.
        let (p, row) = (dir.path().join(format!("kill{i}")), format!("kill{i}"));
        let script = escaping_command(snippet, &p, "; exec sleep 300");
        let mut child = db.spawn(&["locks", "run", &row, "job", "--", "sh", "-c", &script]);
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        read_until(&mut stdout, "ready");
        child.kill().unwrap();
        let status = child.wait().unwrap();
        assert_eq!(status.code(), None, "{what}: killed");
        all_gone_within(&pids(&p), Duration::from_secs(2), what);
        assert_eq!(
            holder_of(&db, &row, "job"),
            Some(serde_json::json!(format!("{host}:{}", child.id()))),
            "{what}: still held by HOST:PID"
        );
    }
}

#[test]
fn a_command_that_ignores_the_signal_is_killed_after_kill_after() {
    let db = TestDb::migrated();
    let dir = tempfile::tempdir().unwrap();
    // (signal, --kill-after, the grace it means, its name in the message, exit)
    let cases = [
        (Signal::SIGTERM, None, Duration::from_secs(1), "1s", 143),
        (
            Signal::SIGINT,
            Some("300ms"),
            Duration::from_millis(300),
            "300ms",
            130,
        ),
        (
            Signal::SIGHUP,
            Some("2s"),
            Duration::from_secs(2),
            "2s",
            129,
        ),
        (Signal::SIGTERM, Some("0s"), Duration::ZERO, "0s", 143),
    ];
    for (i, (sig, kill_after, grace, shown, code)) in cases.into_iter().enumerate() {
        let p = dir.path().join(format!("pid{i}"));
        let script = format!(
            "trap '' TERM INT HUP; echo $$ > '{}'; echo ready; exec sleep 300",
            p.display()
        );
        let mut args = vec!["locks", "run", "platform", "stubborn"];
        if let Some(k) = kill_after {
            args.extend(["--kill-after", k]);
        }
        args.extend(["--", "sh", "-c", &script]);
        let mut child = db.spawn(&args);
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut seen = read_until(&mut stdout, "ready");
        let t = Instant::now();
        signal(child.id(), sig);
        stdout.read_to_string(&mut seen).unwrap();
        let (r, _) = wait_for(child, Duration::from_secs(30));
        let took = t.elapsed();
        eprintln!(
            "{} ignored, --kill-after {shown}: run ended after {:.2}s",
            sig.as_str(),
            took.as_secs_f64()
        );
        assert!(
            took >= grace && took <= grace + Duration::from_secs(1),
            "{sig}: {took:?}: {r:#?}"
        );
        assert_eq!(
            (r.code, seen.as_str(), r.stderr.as_str()),
            (
                code,
                "ready\n",
                format!(
                    "locksmith: the command did not exit within {shown} of {}; killed it (SIGKILL)\n",
                    sig.as_str()
                )
                .as_str()
            ),
            "{r:#?}"
        );
        assert!(gone(pids(&p)[0]), "{sig}: the command outlived the run");
        assert_eq!(db.data("platform").as_deref(), Some("{}"), "released");
    }
}

/// The watcher of a `run` (the locksmith child with the command below it).
fn watcher_of(run: u32) -> i32 {
    let mut watcher = None;
    wait_until("the watcher is started", Duration::from_secs(10), || {
        let children =
            std::fs::read_to_string(format!("/proc/{run}/task/{run}/children")).unwrap_or_default();
        watcher = children
            .split_whitespace()
            .next()
            .map(|p| p.parse().unwrap());
        watcher.is_some()
    });
    watcher.unwrap()
}

#[test]
fn a_killed_watcher_leaves_the_tree_to_locksmith_which_ends_it() {
    let db = TestDb::migrated();
    let dir = tempfile::tempdir().unwrap();
    // (what the command starts besides itself, processes then ended)
    let cases = [
        ("", "1 process"),
        (
            r#"setsid -f sh -c 'echo $$ >> "{p}"; exec sleep 300'; "#,
            "2 processes",
        ),
    ];
    for (i, (extra, ended)) in cases.into_iter().enumerate() {
        let p = dir.path().join(format!("pids{i}"));
        let script = format!(
            "{}echo $$ >> \"{p}\"; while [ $(wc -l < \"{p}\") -lt {n} ]; do sleep 0.01; done; echo ready; exec sleep 300",
            extra.replace("{p}", &p.display().to_string()),
            p = p.display(),
            n = i + 1
        );
        let mut child = db.spawn(&[
            "locks", "run", "platform", "watched", "--", "sh", "-c", &script,
        ]);
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut seen = read_until(&mut stdout, "ready");
        signal(watcher_of(child.id()) as u32, Signal::SIGKILL);
        stdout.read_to_string(&mut seen).unwrap();
        let (r, _) = wait_for(child, Duration::from_secs(30));
        assert_eq!(
            (r.code, seen.as_str(), r.stderr.as_str()),
            (
                1,
                "ready\n",
                format!(
                    "locksmith: the watcher of the command was killed; ended what was still running below it: {ended}\n"
                )
                .as_str()
            ),
            "{r:#?}"
        );
        let left = pids(&p);
        assert_eq!(left.len(), i + 1);
        assert!(left.iter().all(|p| gone(*p)), "{left:?} outlived the run");
        assert_eq!(db.data("platform").as_deref(), Some("{}"), "released");
    }
}

#[test]
fn a_watcher_that_does_not_finish_after_a_signal_is_killed_in_time() {
    let db = TestDb::migrated();
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("pid");
    let script = format!(
        "trap '' TERM; echo $$ > '{}'; echo ready; exec sleep 300",
        p.display()
    );
    let mut child = db.spawn(&[
        "locks",
        "run",
        "platform",
        "hung",
        "--kill-after",
        "300ms",
        "--",
        "sh",
        "-c",
        &script,
    ]);
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut seen = read_until(&mut stdout, "ready");
    // A stopped watcher passes nothing on and reports nothing.
    let watcher = watcher_of(child.id());
    signal(watcher as u32, Signal::SIGSTOP);
    let t = Instant::now();
    signal(child.id(), Signal::SIGTERM);
    stdout.read_to_string(&mut seen).unwrap();
    let (r, _) = wait_for(child, Duration::from_secs(30));
    let took = t.elapsed();
    eprintln!(
        "a stopped watcher: run ended {:.2}s after SIGTERM",
        took.as_secs_f64()
    );
    // --kill-after, then the 2 s the watcher has for the rest; then the
    // release.
    let bound = Duration::from_millis(2300);
    assert!(
        took >= bound && took <= bound + Duration::from_secs(1),
        "{took:?}: {r:#?}"
    );
    assert_eq!(
        (r.code, seen.as_str(), r.stderr.as_str()),
        (
            143,
            "ready\n",
            "locksmith: the watcher of the command had not finished 2s 300ms after SIGTERM; killed it, and what was still running below it: 1 process (1 with SIGKILL)\n"
        ),
        "{r:#?}"
    );
    assert!(gone(watcher) && gone(pids(&p)[0]), "nothing is left");
    assert_eq!(db.data("platform").as_deref(), Some("{}"), "released");
}

/// Runs `locksmith ARGS` with stdout going to `stdout`.
fn with_stdout(db: &TestDb, args: &[&str], stdout: impl Into<Stdio>) -> Run {
    let mut cmd: Command = db.command(args);
    cmd.stdin(Stdio::null())
        .stdout(stdout)
        .stderr(Stdio::piped());
    Run::from(cmd.output().unwrap())
}

fn dev_full() -> std::fs::File {
    std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .unwrap()
}

/// A pipe whose reader has gone: writing to it fails with EPIPE.
fn closed_pipe() -> std::io::PipeWriter {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    writer
}

const FULL: &str = "No space left on device (os error 28)";
const CLOSED: &str = "its reader has gone away (broken pipe)";

#[test]
fn an_acquire_that_cannot_say_it_holds_the_lock_does_not_keep_it() {
    let db = TestDb::migrated();
    let acquire = ["locks", "acquire", "platform", "backup", "--holder", "t1"];
    let json = [&acquire[..], &["--format", "json"]].concat();
    let released = |why: &str| {
        format!("locksmith: cannot write to stdout: {why}; released lock `backup` in row `platform` again, so it is not held by t1\n")
    };
    // Not held before: taken, then released again, exit 1.
    for (stdout, why) in [
        (Stdio::from(dev_full()), FULL),
        (Stdio::from(closed_pipe()), CLOSED),
    ] {
        let r = with_stdout(&db, &json, stdout);
        assert_eq!((r.code, r.stderr.clone()), (1, released(why)), "{r:#?}");
        assert_eq!(holder_of(&db, "platform", "backup"), None, "not held");
    }
    // Held by t1 before: that earlier acquire told its caller, so the
    // lock stays as it was; this one still exits 1.
    db.locksmith(&acquire).success();
    let r = with_stdout(&db, &json, dev_full());
    assert_eq!(
        (r.code, r.stderr.as_str()),
        (1, format!("locksmith: cannot write to stdout: {FULL}; lock `backup` in row `platform` stays held by t1, which held it before this command\n").as_str()),
        "{r:#?}"
    );
    assert_eq!(
        holder_of(&db, "platform", "backup"),
        Some(serde_json::json!("t1"))
    );
    db.locksmith(&["locks", "release", "platform", "backup", "--holder", "t1"])
        .success();
    // Without --format json, acquire writes nothing: nothing can fail.
    let r = with_stdout(&db, &acquire, dev_full());
    assert_eq!((r.code, r.stderr.as_str()), (0, ""), "{r:#?}");
    assert_eq!(
        holder_of(&db, "platform", "backup"),
        Some(serde_json::json!("t1"))
    );
}

#[test]
fn a_change_whose_output_fails_says_it_was_made() {
    let db = TestDb::migrated();
    db.sql(
        "INSERT INTO locks (id, dataJson, version) VALUES \
         ('bad', '[1,2]', 7), ('ok', '{\"a\": \"h1\", \"b\": \"h2\"}', 3)",
    );
    let made = |lines: &[&str]| {
        let mut s = format!("locksmith: cannot write to stdout: {FULL}; the change was made:\n");
        for l in lines {
            s.push_str(&format!("locksmith:   {l}\n"));
        }
        s
    };
    // (command, stderr, the row's dataJson and version afterwards)
    type Case<'a> = (Vec<&'a str>, String, (&'a str, &'a str, i64));
    let cases: Vec<Case> = vec![
        (
            vec!["locks", "force-release", "ok", "a", "--yes", "--format", "json"],
            made(&["row `ok`: version 3 -> 4", "released a (held by h1)", "1 lock(s) remain"]),
            ("ok", r#"{"b": "h2"}"#, 4),
        ),
        (
            vec!["locks", "bump", "ok", "--by", "5", "--yes"],
            made(&["row `ok`: version 4 -> 9", "locks untouched", "1 lock(s) remain"]),
            ("ok", r#"{"b": "h2"}"#, 9),
        ),
        (
            vec!["locks", "force-release", "ok", "--holder", "h2", "--yes"],
            made(&["row `ok`: version 9 -> 10", "released b (held by h2)", "0 lock(s) remain"]),
            ("ok", "{}", 10),
        ),
        (
            vec!["locks", "repair", "bad", "--yes", "--format", "json"],
            made(&[
                "row `bad`: version 7 -> 8",
                "repaired: dataJson, which is not a JSON object (invalid type: sequence, expected a JSON object at line 1 column 0), is replaced by {}",
                "the old dataJson, verbatim (kept in the audit trail):",
                "[1,2]",
                "0 lock(s) remain",
            ]),
            ("bad", "{}", 8),
        ),
    ];
    for (args, stderr, (row, data, version)) in cases {
        let r = with_stdout(&db, &args, dev_full());
        assert_eq!((r.code, r.stderr.as_str()), (0, stderr.as_str()), "{r:#?}");
        let stored: serde_json::Value = serde_json::from_str(&db.data(row).unwrap()).unwrap();
        let want: serde_json::Value = serde_json::from_str(data).unwrap();
        assert_eq!((stored, db.version(row)), (want, version), "{args:?}");
    }
    // Each change has its audit record.
    let actions = db.rows("SELECT action FROM locks_audit ORDER BY id");
    assert_eq!(
        actions,
        [
            [Some("force-release".to_string())],
            [Some("bump".to_string())],
            [Some("release-by-holder".to_string())],
            [Some("repair".to_string())],
        ]
    );
    // A release (of the holder's own lock) likewise: it stands, exit 0.
    db.locksmith(&["locks", "acquire", "ok", "c", "--holder", "t9"])
        .success();
    for (stdout, why) in [
        (Stdio::from(dev_full()), FULL),
        (Stdio::from(closed_pipe()), CLOSED),
    ] {
        let r = with_stdout(
            &db,
            &[
                "locks", "release", "ok", "c", "--holder", "t9", "--format", "json",
            ],
            stdout,
        );
        assert_eq!(
            (r.code, r.stderr.as_str()),
            (0, format!("locksmith: released lock `c` in row `ok` (held by t9), but cannot write to stdout: {why}\n").as_str()),
            "{r:#?}"
        );
        assert_eq!(holder_of(&db, "ok", "c"), None);
        db.locksmith(&["locks", "acquire", "ok", "c", "--holder", "t9"])
            .success();
    }
}
