//! A server killed and restarted under a waiter and under loops of
//! `locks run`: they ride through it, and mutual exclusion holds.

use super::*;

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
