//! The watcher (the subreaper under `run`) killed or stopped: locksmith
//! ends what was below it, in time.

use super::*;

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
