//! Lock workers beside an operator who takes their locks away, on row
//! `shared`: the same contest on one server (locks/limits.rs) and across the nodes
//! of a cluster (galera.rs).

use crate::harness::*;
use locksmith::cli::output::HistoryDoc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Who takes part, and through which URLs.
pub struct Contest<'a> {
    /// One worker per URL: worker `w` takes and releases `lock_w` as
    /// `worker-w`, `rounds` times.
    pub workers: Vec<String>,
    pub rounds: usize,
    /// What else the workers' acquire says (`--wait 30s` across nodes).
    pub acquire: &'a [&'a str],
    /// The operator's URL. It force-releases the workers' locks and bumps
    /// the row (every third change), at least `at_least` times, then until
    /// the workers are done.
    pub operator: String,
    pub at_least: usize,
}

/// Runs the contest on `db` and checks its audit: exactly one record per
/// change the operator made, and every lock a worker lost removed by one
/// of them. Returns the operator's changes and the audit.
pub fn workers_beside_an_operator(db: &TestDb, contest: Contest) -> (usize, HistoryDoc) {
    db.locksmith(&["locks", "acquire", "shared", "warmup", "--holder", "w"])
        .success();
    db.locksmith(&["locks", "release", "shared", "warmup", "--holder", "w"])
        .success();
    let n = contest.workers.len();
    let stop = Arc::new(AtomicBool::new(false));
    let workers: Vec<_> = contest
        .workers
        .into_iter()
        .enumerate()
        .map(|(w, url)| {
            let rounds = contest.rounds;
            let acquire: Vec<String> = contest.acquire.iter().map(|a| a.to_string()).collect();
            std::thread::spawn(move || {
                let (name, holder) = (format!("lock_{w}"), format!("worker-{w}"));
                let mut args = vec!["locks", "acquire", "shared", &name, "--holder", &holder];
                args.extend(acquire.iter().map(String::as_str));
                let mut lost = 0;
                for _ in 0..rounds {
                    // Our own lock is never held by anyone else: acquire must succeed.
                    let a = locksmith_at(&url, &args);
                    assert_eq!(a.code, 0, "worker {w} acquire: {a:#?}");
                    let r = locksmith_at(
                        &url,
                        &["locks", "release", "shared", &name, "--holder", &holder],
                    );
                    match r.code {
                        0 => {}
                        // Only the operator can take it away from us.
                        5 if r.stderr.contains("is not held") => lost += 1,
                        _ => panic!("worker {w} release: {r:#?}"),
                    }
                }
                lost
            })
        })
        .collect();
    let operator = {
        let (url, stop, at_least) = (contest.operator, stop.clone(), contest.at_least);
        std::thread::spawn(move || {
            let (mut changes, mut i) = (0, 0);
            while i < at_least || !stop.load(Ordering::SeqCst) {
                i += 1;
                let lock = format!("lock_{}", i % n);
                let args: Vec<&str> = if i % 3 == 0 {
                    vec!["locks", "bump", "shared", "--yes"]
                } else {
                    vec!["locks", "force-release", "shared", &lock, "--yes"]
                };
                let r = locksmith_at(&url, &args);
                match r.code {
                    0 => changes += 1,
                    5 if r.stderr.contains("is not held") => {}
                    _ => panic!("operator {args:?}: {r:#?}"),
                }
            }
            changes
        })
    };
    let lost: usize = workers.into_iter().map(|w| w.join().unwrap()).sum();
    stop.store(true, Ordering::SeqCst);
    let changes: usize = operator.join().unwrap();
    let doc: HistoryDoc = db
        .locksmith(&["locks", "history", "--format", "json"])
        .success_json();
    assert_eq!(
        doc.records.len(),
        changes,
        "exactly one audit record per change"
    );
    let removed: usize = doc.records.iter().map(|r| r.removed_locks().len()).sum();
    assert_eq!(
        removed, lost,
        "every lock a worker lost was one the operator removed"
    );
    (changes, doc)
}
