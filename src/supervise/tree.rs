//! The processes below one process, read from /proc, and the sweep that
//! ends them: SIGTERM (and SIGCONT, so that a stopped one can act on it),
//! then SIGKILL at a deadline, round after round until none is left.
//!
//! It works on a subreaper's tree: a process that leaves its parent (a
//! double fork, `setsid -f`, `nohup … &`) is re-parented to the nearest
//! subreaper above it, so it stays below that subreaper, whatever session
//! or process group it moved to. A process is known by its pid and its
//! start time, so that a pid the kernel has handed to a newcomer since the
//! last round is a new process.

use nix::sys::signal::{kill, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;
use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

/// A process: its pid, and its start time (in clock ticks since boot).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Proc {
    /// Its pid.
    pub pid: i32,
    start: u64,
}

/// What /proc/PID/stat says about a process.
struct Stat {
    proc: Proc,
    ppid: i32,
    /// A zombie (or a dead process being removed): it runs no more code.
    dead: bool,
}

/// Parses /proc/PID/stat (see [`crate::host::parse_stat`]).
fn parse_stat(text: &str) -> Option<Stat> {
    let s = crate::host::parse_stat(text)?;
    Some(Stat {
        proc: Proc {
            pid: s.pid,
            start: s.start,
        },
        ppid: s.ppid,
        dead: s.dead,
    })
}

/// Every process in /proc.
fn all() -> Vec<Stat> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| {
        let name = e.ok()?.file_name();
        let pid: u32 = name.to_str()?.parse().ok()?;
        parse_stat(&std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
    })
    .collect()
}

/// Whether `pid` is a living process (not a zombie, not gone).
pub fn alive(pid: Pid) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| parse_stat(&s))
        .is_some_and(|s| !s.dead)
}

/// The living processes below `root` (its children, theirs, and so on),
/// not counting zombies.
pub fn descendants(root: Pid) -> Vec<Proc> {
    let procs = all();
    let mut children: HashMap<i32, Vec<&Stat>> = HashMap::new();
    for s in &procs {
        children.entry(s.ppid).or_default().push(s);
    }
    let mut found = Vec::new();
    let mut queue = vec![root.as_raw()];
    let mut seen = HashSet::new();
    while let Some(parent) = queue.pop() {
        for s in children.get(&parent).into_iter().flatten() {
            if s.proc.pid == root.as_raw() || !seen.insert(s.proc.pid) {
                continue;
            }
            queue.push(s.proc.pid);
            if !s.dead {
                found.push(s.proc);
            }
        }
    }
    found
}

/// Reaps every child of this process that has ended (the orphans
/// re-parented here included); returns those that exited or were killed.
pub fn reap() -> Vec<(Pid, WaitStatus)> {
    let mut ended = Vec::new();
    loop {
        match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::StillAlive) | Err(_) => return ended,
            Ok(s @ (WaitStatus::Exited(..) | WaitStatus::Signaled(..))) => {
                if let Some(pid) = s.pid() {
                    ended.push((pid, s));
                }
            }
            Ok(_) => {}
        }
    }
}

/// How many processes a sweep ended.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    /// Processes it found and ended.
    pub ended: u32,
    /// Of those, how many got SIGKILL (they outlived the deadline).
    pub killed: u32,
    /// Processes that had still not exited [`STUCK`] after SIGKILL: in an
    /// uninterruptible wait in the kernel. They run no more code of their
    /// own, and go as soon as the kernel lets them.
    pub stuck: u32,
    /// Processes no signal of ours may reach (EPERM: they made themselves
    /// another user's, through a setuid program such as `su`). They may
    /// still be running.
    pub denied: u32,
}

/// How long a process that got SIGKILL may take to go before the sweep
/// stops waiting for it.
pub const STUCK: Duration = Duration::from_secs(1);

/// A sweep of the tree below one process, carried out in rounds.
#[derive(Debug)]
pub struct Sweep {
    /// When SIGTERM has had its chance: then SIGKILL.
    pub deadline: Instant,
    termed: HashSet<Proc>,
    killed: HashMap<Proc, Instant>,
    denied: HashSet<Proc>,
}

impl Sweep {
    /// A sweep that sends SIGKILL at `deadline` to whatever SIGTERM has not
    /// ended by then (at once, when the deadline has passed).
    pub fn new(deadline: Instant) -> Sweep {
        Sweep {
            deadline,
            termed: HashSet::new(),
            killed: HashMap::new(),
            denied: HashSet::new(),
        }
    }

    /// One round below `root`: signals what is left. Returns the tally
    /// once nothing is left (or only processes [`STUCK`] after SIGKILL).
    /// Reaping is the caller's: a child of `root` that ended stays a
    /// zombie, which counts as gone.
    pub fn round(&mut self, root: Pid) -> Option<Tally> {
        let now = Instant::now();
        let live = descendants(root);
        let late = now >= self.deadline;
        for p in &live {
            let pid = Pid::from_raw(p.pid);
            if !late && self.termed.insert(*p) {
                self.send(*p, pid, Signal::SIGTERM);
                self.send(*p, pid, Signal::SIGCONT);
            }
            if late && !self.killed.contains_key(p) {
                self.send(*p, pid, Signal::SIGKILL);
                self.killed.insert(*p, now);
            }
        }
        let left: Vec<&Proc> = live
            .iter()
            .filter(|p| {
                self.killed
                    .get(p)
                    .is_some_and(|at| now.duration_since(*at) >= STUCK)
            })
            .collect();
        (left.len() == live.len()).then(|| {
            let signalled: HashSet<&Proc> = self.termed.iter().chain(self.killed.keys()).collect();
            let denied = left.iter().filter(|p| self.denied.contains(p)).count();
            Tally {
                ended: count(signalled.len() - left.len()),
                killed: count(self.killed.keys().filter(|p| !left.contains(p)).count()),
                stuck: count(left.len() - denied),
                denied: count(denied),
            }
        })
    }

    /// Sends a signal. A process that has gone meanwhile (ESRCH) is what
    /// the sweep wants anyway; one that refuses (EPERM) is remembered.
    fn send(&mut self, p: Proc, pid: Pid, sig: Signal) {
        if kill(pid, sig) == Err(nix::errno::Errno::EPERM) {
            self.denied.insert(p);
        }
    }
}

fn count(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_lines_with_odd_command_names_parse() {
        let line = "4242 (a (b) c) S 17 4242 4242 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 1000 10 18446744073709551615";
        let s = parse_stat(line).unwrap();
        assert_eq!(
            (s.proc.pid, s.ppid, s.proc.start, s.dead),
            (4242, 17, 987654, false)
        );
        let zombie = "7 (x) Z 1 7 7 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 55 0 0 0";
        assert!(parse_stat(zombie).unwrap().dead);
        assert!(parse_stat("garbage").is_none());
    }

    fn gone(pid: i32) -> bool {
        !alive(Pid::from_raw(pid))
    }

    #[test]
    fn a_sweep_finds_and_ends_children_and_grandchildren() {
        let me = nix::unistd::getpid();
        let mut sh = std::process::Command::new("sh")
            .args(["-c", "sleep 30 & wait"])
            .spawn()
            .unwrap();
        let t = Instant::now();
        let below = loop {
            let below: Vec<i32> = descendants(me)
                .into_iter()
                .map(|p| p.pid)
                .filter(|p| *p != me.as_raw())
                .collect();
            if below.len() >= 2 {
                break below;
            }
            assert!(t.elapsed() < Duration::from_secs(10), "{below:?}");
            std::thread::sleep(Duration::from_millis(5));
        };
        assert!(below.contains(&(sh.id() as i32)), "{below:?}");
        let mut sweep = Sweep::new(Instant::now() + Duration::from_secs(10));
        let tally = loop {
            if let Some(t) = sweep.round(me) {
                break t;
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        assert_eq!(
            tally,
            Tally {
                ended: 2,
                killed: 0,
                stuck: 0,
                denied: 0
            }
        );
        sh.wait().unwrap();
        let t = Instant::now();
        while !below.iter().all(|p| gone(*p)) {
            assert!(t.elapsed() < Duration::from_secs(10), "{below:?}");
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}
