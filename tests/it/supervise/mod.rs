//! Nothing started under `locks run` outlives its lock, whatever it does to
//! escape (setsid, double forks, nohup, a daemon, SIGTERM ignored), however
//! the run ends; `--kill-after` bounds a command that ignores the signal
//! passed on to it; and an exit status means what it says when stdout
//! cannot be written (`acquire` releases what it cannot report; a change
//! that landed says so). This module holds what the topics share: whether a
//! process is gone, and waiting for it.

mod escapes;
mod stdout;
mod watcher;

use crate::harness::*;
use nix::sys::signal::Signal;
use std::io::{BufReader, Read};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

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
