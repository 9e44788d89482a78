//! Holder liveness (issue 17), against a real server: `locks dump` judging
//! each holder alive, dead (with its evidence) or unknown; `force-release
//! --dead`; `locks run`'s lease, heartbeat and lost-lock stop; take-over of
//! a dead holder's lock; fencing tokens; waits-for deadlocks; the library's
//! registered guard. Processes are killed, frozen and continued for real,
//! and every wait is on a condition. The figures the lead asked for (how
//! soon a killed holder is seen dead, how soon a continued one stops) are
//! printed with `eprintln!` (`-- --nocapture` shows them).

mod acquire;
mod bad_inputs;
mod deadlocks;
mod fences;
mod foreign;
mod guard;
mod killed;
mod registry;
mod restart;
mod take_over;

use crate::harness::*;
use locksmith::cli::output::{Dump, DumpLiveness, DumpLock, HistoryDoc};
use locksmith::locks::AuditRecord;
use std::path::PathBuf;
use std::process::Child;
use std::time::{Duration, Instant};

/// The row the tests lock in.
const ROW: &str = "liveness";

/// Marker files for the commands the tests run under a lock: each says
/// when it has started (the lock is held and registered by then), and the
/// patient ones wait for the test's word to end (or for the directory to
/// go, with a test that failed). The runs a test watches are continued and
/// killed when it fails, so that a failed test leaves no frozen or
/// waiting process behind.
struct Flags {
    dir: tempfile::TempDir,
    watched: std::cell::RefCell<Vec<u32>>,
}

impl Drop for Flags {
    fn drop(&mut self) {
        if std::thread::panicking() {
            for pid in self.watched.borrow().iter() {
                let pid = nix::unistd::Pid::from_raw(*pid as i32);
                let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGCONT);
                // Its watcher ends the command with it.
                let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL);
            }
        }
    }
}

impl Flags {
    fn new() -> Flags {
        Flags {
            dir: tempfile::tempdir().unwrap(),
            watched: Default::default(),
        }
    }

    /// Kills `child` should the test fail.
    fn watch(&self, child: Child) -> Child {
        self.watched.borrow_mut().push(child.id());
        child
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// A command that marks its start, then sleeps (one process, which
    /// SIGTERM ends; two minutes at most).
    fn hold(&self, tag: &str) -> Vec<String> {
        self.sh(&format!(
            "touch '{}'; exec sleep 120",
            self.path(&format!("{tag}.started")).display()
        ))
    }

    /// A command that marks its start, then waits until the test says
    /// `go` ([`Flags::go`]) and exits 0.
    fn until_go(&self, tag: &str) -> Vec<String> {
        self.sh(&format!(
            "touch '{}'; while [ ! -e '{}' ] && [ -d '{}' ]; do sleep 0.02; done",
            self.path(&format!("{tag}.started")).display(),
            self.path(&format!("{tag}.go")).display(),
            self.dir.path().display()
        ))
    }

    fn sh(&self, line: &str) -> Vec<String> {
        vec!["sh".into(), "-c".into(), line.into()]
    }

    fn started(&self, tag: &str) -> bool {
        self.path(&format!("{tag}.started")).exists()
    }

    /// Waits until the command tagged `tag` has started.
    #[track_caller]
    fn wait_started(&self, tag: &str, limit: Duration) {
        wait_until(&format!("command {tag} started"), limit, || {
            self.started(tag)
        });
    }

    /// Starts `locks run ROW NAME EXTRA -- CMD` in the background, watched,
    /// and waits until the command tagged `tag` has started.
    #[track_caller]
    fn started_run(
        &self,
        db: &TestDb,
        name: &str,
        extra: &[&str],
        cmd: &[String],
        tag: &str,
    ) -> Child {
        let child = self.watch(spawn_run(db, ROW, name, extra, cmd));
        self.wait_started(tag, Duration::from_secs(20));
        child
    }

    /// Tells the command tagged `tag` to end.
    fn go(&self, tag: &str) {
        std::fs::write(self.path(&format!("{tag}.go")), "").unwrap();
    }
}

/// Starts `locks run ROW NAME EXTRA -- CMD` in the background.
fn spawn_run(db: &TestDb, row: &str, name: &str, extra: &[&str], cmd: &[String]) -> Child {
    let mut args = vec!["locks", "run", row, name];
    args.extend_from_slice(extra);
    args.push("--");
    args.extend(cmd.iter().map(String::as_str));
    db.spawn(&args)
}

/// The default holder of a `locks run` started as `child`: `HOST:PID`.
fn holder_of(child: &Child) -> String {
    format!("{}:{}", locksmith::host::hostname(), child.id())
}

/// `locks dump --format json` of these rows (all, when none).
fn dump(db: &TestDb, rows: &[&str]) -> Dump {
    let mut args = vec!["locks", "dump", "--format", "json"];
    args.extend_from_slice(rows);
    db.locksmith(&args).success_json()
}

/// Lock `name` in `row` as the dump shows it, if held.
fn lock_in(db: &TestDb, row: &str, name: &str) -> Option<DumpLock> {
    dump(db, &[row])
        .rows
        .into_iter()
        .flat_map(|r| r.locks)
        .find(|l| l.name == name)
}

/// The verdict on the holder of `name` in `row` (panics when not held).
#[track_caller]
fn verdict(db: &TestDb, row: &str, name: &str) -> DumpLiveness {
    lock_in(db, row, name)
        .unwrap_or_else(|| panic!("lock {name} in row {row} is not held"))
        .liveness
}

/// `locks acquire ROW NAME --holder HOLDER --holder-pid PID`, which the
/// next dump judges alive by that process.
#[track_caller]
fn acquire_for_pid(db: &TestDb, name: &str, holder: &str, pid: u32) {
    db.locksmith(&[
        "locks",
        "acquire",
        ROW,
        name,
        "--holder",
        holder,
        "--holder-pid",
        &pid.to_string(),
    ])
    .success();
    assert_eq!(
        verdict(db, ROW, name),
        says("alive", &format!("PID {pid} is running on this host"))
    );
}

/// `name` taken for `holder` following a process of its own, which is
/// then killed: the lock's holder is gone. Its PID.
#[track_caller]
fn held_by_a_killed_process(db: &TestDb, name: &str, holder: &str) -> u32 {
    let mut process = std::process::Command::new("sleep")
        .arg("120")
        .spawn()
        .unwrap();
    let pid = process.id();
    acquire_for_pid(db, name, holder, pid);
    process.kill().unwrap();
    process.wait().unwrap();
    pid
}

fn says(state: &str, why: &str) -> DumpLiveness {
    DumpLiveness {
        state: state.into(),
        why: why.into(),
    }
}

/// The audit records of `row`, oldest first.
fn history(db: &TestDb, row: &str) -> Vec<AuditRecord> {
    let doc: HistoryDoc = db
        .locksmith(&["locks", "history", row, "--format", "json"])
        .success_json();
    doc.records
}

/// Raw JSON of an audit record's field, parsed.
fn parsed(raw: &Option<Box<serde_json::value::RawValue>>) -> serde_json::Value {
    raw.as_ref().map_or(serde_json::Value::Null, |r| json(r))
}

/// Asserts `text` matches `pattern` whole (anchored at both ends), once
/// [`normal`] has replaced what changes from run to run.
#[track_caller]
fn like(text: &str, pattern: &str) {
    let re = regex::Regex::new(&format!("^(?s:{pattern})$")).unwrap();
    let text = normal(text);
    assert!(re.is_match(&text), "{text:?}\ndoes not match\n{pattern:?}");
}

/// The same run with each `heartbeat 420ms ago` (or `2s`) as `heartbeat
/// <AGE> ago`, so that a table with live holders compares whole.
fn aged(r: Run) -> Run {
    let re = regex::Regex::new(r"heartbeat \d+(ms|[smhd])( \d+(ms|[smhd]))* ago").unwrap();
    Run {
        code: r.code,
        stdout: re
            .replace_all(&r.stdout, "heartbeat <AGE> ago")
            .into_owned(),
        stderr: re
            .replace_all(&r.stderr, "heartbeat <AGE> ago")
            .into_owned(),
    }
}

/// Waits (up to `limit`) for `child` to exit; what it printed, and how long
/// the wait took.
#[track_caller]
fn exits(mut child: Child, limit: Duration) -> (Run, Duration) {
    let t = Instant::now();
    wait_until("the command exits", limit, || {
        child.try_wait().unwrap().is_some()
    });
    let took = t.elapsed();
    (Run::from(child.wait_with_output().unwrap()), took)
}

/// A registration's heartbeat, by the server's clock, in microseconds
/// since the epoch.
fn beat_us(db: &TestDb, holder: &str, row: &str, name: &str) -> Option<i64> {
    db.scalar(&format!(
        "SELECT TIMESTAMPDIFF(MICROSECOND, '1970-01-01', beat) FROM locks_holders \
         WHERE holder = '{holder}' AND rowId = '{row}' AND lockName = '{name}'"
    ))
    .map(|s| s.parse().unwrap())
}

/// The registrations of `holder`, as (row, lock, state).
fn registrations(db: &TestDb, holder: &str) -> Vec<Vec<Option<String>>> {
    db.rows(&format!(
        "SELECT rowId, lockName, state FROM locks_holders WHERE holder = '{holder}' ORDER BY rowId, lockName"
    ))
}

/// How many live processes of this host have a command line containing
/// `needle` (zombies do not count: they run nothing).
fn running(needle: &str) -> usize {
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| !gone(*pid))
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .map(|c| {
                    String::from_utf8_lossy(&c)
                        .replace('\0', " ")
                        .contains(needle)
                })
                .unwrap_or(false)
        })
        .count()
}
