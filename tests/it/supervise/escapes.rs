//! Every way a command's child escapes its process group or session is
//! ended before the release, however the run ends; `--kill-after` bounds a
//! command that ignores the signal.

use super::*;

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
