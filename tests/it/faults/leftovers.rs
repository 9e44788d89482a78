//! What a failure could leave behind, and does not: the command of a
//! killed locksmith and its children, a command's background children, a
//! bench's workers and scratch row.

use super::*;

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
