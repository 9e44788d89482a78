//! Faults, injected for real: a server frozen with SIGSTOP, killed with
//! SIGKILL and restarted, a connection that stops answering (the proxy's
//! black hole), signals at every step, and a locksmith killed under its
//! command. Every command must end within its deadline plus 2 s, ride
//! through what can be ridden through, and leave no lock and no process
//! behind that it could have cleaned up. This module holds what the topics
//! share: timing a command, and the messages of a fault as patterns with
//! holes only for what was measured.

mod deadlines;
mod leftovers;
mod restarts;

use crate::harness::*;
use crate::proxy::{self, Proxy};
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
/// `why`: the pattern of why the last try failed.
fn still_held(why: &str) -> String {
    format!(
        "locksmith: ERROR: could not release lock `job` in row `platform` held by h1: {why}\n\
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

/// The locks held in `row`: (name, holder).
fn locks_of(db: &TestDb, row: &str) -> Vec<(String, serde_json::Value)> {
    db.locks_held()
        .into_iter()
        .filter(|(r, _, _)| r == row)
        .map(|(_, name, holder)| (name, holder))
        .collect()
}
