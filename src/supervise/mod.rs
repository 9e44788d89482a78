//! Running a command so that nothing it starts outlives the one who started
//! it: the process supervision behind `locks run`.
//!
//! The command is not our child. Its parent is a watcher: this same binary,
//! re-executed in a hidden mode ([`WATCHER_ARG`], see `watcher`), which is
//! a child subreaper (`PR_SET_CHILD_SUBREAPER`). Whatever the command
//! starts stays below the watcher, also when it double-forks, calls
//! `setsid` or closes its file descriptors: an orphan is re-parented to
//! the nearest subreaper above it. So the watcher can always find them all
//! in /proc ([`tree`]).
//!
//! - When the command exits, the watcher ends what it left running
//!   (SIGTERM, then SIGKILL after `kill_after`, round after round until
//!   none is left), reports, and exits; only then does the caller go on
//!   (and release its lock).
//! - A signal passed on with [`Watcher::signal`] goes to the command; if it
//!   has not exited `kill_after` later, it and everything below it get
//!   SIGKILL.
//! - When the caller dies, SIGKILL included, the pipe it holds closes
//!   (and `PR_SET_PDEATHSIG` fires, as a backup): the watcher kills the
//!   whole tree at once.
//! - The caller is a subreaper too, so when the watcher itself is killed,
//!   the tree lands on the caller, and [`Watcher::abandon`] ends it.
//!
//! The command runs in a process group of its own (led by the watcher,
//! which ignores what a terminal sends). When the caller is the
//! terminal's foreground job, that group gets the terminal while the
//! command runs, so an interactive command works and Ctrl-C reaches it.
//!
//! What this cannot see: a process started on the command's behalf by
//! another service (`systemd-run`, `at`, a container daemon, `ssh` to
//! another host) is not its descendant; and when the caller and the
//! watcher are both killed with SIGKILL, nobody is left to end the tree.
//! Linux only (subreapers, /proc).
//!
//! No wording here: the caller says what happened, from [`Event`]s.

pub mod tree;
mod watcher;

pub use tree::Tally;
pub use watcher::main as watcher_main;

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use std::io::{BufRead, BufReader, Write};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// The first argument that starts this binary as a watcher (`main.rs`
/// hands the rest to [`watcher_main`] before parsing anything).
pub const WATCHER_ARG: &str = "--internal-watcher";

/// How a command ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// It exited with this code.
    Code(i32),
    /// A signal ended it.
    Signal(i32),
}

/// What the watcher reports, in this order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// The command is running, with this pid.
    Started(u32),
    /// The command could not be started: 127 (not found) or 126 (not
    /// runnable), and the system's reason.
    NotStarted { code: u8, why: String },
    /// The watcher could not set itself up; nothing was started.
    Failed(String),
    /// The command had not exited `kill_after` after a signal passed on:
    /// it got SIGKILL.
    Killed,
    /// The command ended.
    Exited(Status),
    /// What it left running was ended (this may take up to `kill_after`).
    Swept(Tally),
    /// The watcher has exited. Before [`Event::Swept`] (or
    /// [`Event::NotStarted`], [`Event::Failed`]), it was killed: see
    /// [`Watcher::abandon`].
    Gone,
}

impl Event {
    /// The line the watcher writes for it.
    fn line(&self) -> String {
        let one_line = |s: &str| s.replace(['\n', '\r'], " ");
        match self {
            Event::Started(pid) => format!("started {pid}\n"),
            Event::NotStarted { code, why } => format!("not-started {code} {}\n", one_line(why)),
            Event::Failed(why) => format!("failed {}\n", one_line(why)),
            Event::Killed => "killed\n".into(),
            Event::Exited(Status::Code(c)) => format!("exited {c}\n"),
            Event::Exited(Status::Signal(s)) => format!("signalled {s}\n"),
            Event::Swept(t) => format!("swept {} {} {} {}\n", t.ended, t.killed, t.stuck, t.denied),
            Event::Gone => "gone\n".into(),
        }
    }

    /// The event of a line the watcher wrote.
    fn parse(line: &str) -> Option<Event> {
        let (word, rest) = line.split_once(' ').unwrap_or((line, ""));
        fn num<T: std::str::FromStr>(s: &str) -> Option<T> {
            s.parse().ok()
        }
        Some(match word {
            "started" => Event::Started(num(rest)?),
            "not-started" => {
                let (code, why) = rest.split_once(' ').unwrap_or((rest, ""));
                Event::NotStarted {
                    code: num(code)?,
                    why: why.into(),
                }
            }
            "failed" => Event::Failed(rest.into()),
            "killed" => Event::Killed,
            "exited" => Event::Exited(Status::Code(num(rest)?)),
            "signalled" => Event::Exited(Status::Signal(num(rest)?)),
            "swept" => {
                let mut n = rest.split(' ').map(num);
                Event::Swept(Tally {
                    ended: n.next()??,
                    killed: n.next()??,
                    stuck: n.next()??,
                    denied: n.next()??,
                })
            }
            "gone" => Event::Gone,
            _ => return None,
        })
    }
}

/// A command running under a watcher.
#[derive(Debug)]
pub struct Watcher {
    pid: Pid,
    /// Our end of the pipe the watcher reads; closing it (by dying, too)
    /// tells the watcher to kill everything.
    to: Option<std::io::PipeWriter>,
    events: mpsc::UnboundedReceiver<Event>,
    gone: bool,
}

impl Watcher {
    /// Starts `command` (program and arguments) under a watcher, with
    /// `env` added to its environment. It inherits stdin, stdout and
    /// stderr. This process becomes a child subreaper for the rest of its
    /// life (see [`Watcher::abandon`]).
    ///
    /// Fails only when the watcher itself cannot be started; a command
    /// that cannot be run is reported as [`Event::NotStarted`].
    pub fn start(
        command: &[String],
        env: &[(String, String)],
        kill_after: Duration,
    ) -> std::io::Result<Watcher> {
        let _ = nix::sys::prctl::set_child_subreaper(true);
        let (from_us, to) = std::io::pipe()?;
        let (from, to_us) = std::io::pipe()?;
        // The watcher's ends, as descriptors that survive exec (dup does
        // not copy close-on-exec). Nothing else is started meanwhile, and
        // ours are dropped as soon as it runs.
        let their_in = inheritable(&from_us)?;
        let their_out = inheritable(&to_us)?;
        drop((from_us, to_us));
        let me = nix::unistd::getpid();
        let child = std::process::Command::new("/proc/self/exe")
            .arg0("locksmith")
            .arg(WATCHER_ARG)
            .arg(their_in.as_raw_fd().to_string())
            .arg(their_out.as_raw_fd().to_string())
            .arg(me.to_string())
            .arg(kill_after.as_millis().to_string())
            .arg("--")
            .args(command)
            .envs(env.iter().map(|(k, v)| (k, v)))
            .process_group(0)
            .stdin(Stdio::inherit())
            .stdout(Stdio::inherit())
            .stderr(Stdio::inherit())
            .spawn();
        drop((their_in, their_out));
        let mut child = child?;
        let pid = Pid::from_raw(i32::try_from(child.id()).unwrap_or(i32::MAX));
        let (tx, events) = mpsc::unbounded_channel();
        std::thread::spawn(move || {
            for line in BufReader::new(from).lines() {
                let Ok(line) = line else { break };
                if let Some(e) = Event::parse(&line) {
                    let _ = tx.send(e);
                }
            }
            // Reaped here, or by a sweep of ours (then this fails).
            let _ = child.wait();
            let _ = tx.send(Event::Gone);
        });
        Ok(Watcher {
            pid,
            to: Some(to),
            events,
            gone: false,
        })
    }

    /// Passes signal `sig` on to the command (while it runs).
    pub fn signal(&mut self, sig: i32) {
        if let Some(to) = &mut self.to {
            if to.write_all(format!("signal {sig}\n").as_bytes()).is_err() {
                self.to = None;
            }
        }
    }

    /// The next report; [`Event::Gone`] once the watcher has exited (and
    /// from then on).
    pub async fn next(&mut self) -> Event {
        if self.gone {
            return Event::Gone;
        }
        let e = self.events.recv().await.unwrap_or(Event::Gone);
        self.gone = e == Event::Gone;
        e
    }

    /// For a watcher that was killed, or that does not finish in time:
    /// kills it, and ends the tree it leaves (which lands on this process,
    /// a subreaper) as the watcher would have, SIGKILL after `grace`.
    pub async fn abandon(&mut self, grace: Duration) -> Tally {
        if !self.gone {
            let _ = kill(self.pid, Signal::SIGKILL);
        }
        self.to = None;
        let deadline = Instant::now() + grace;
        let (me, watcher) = (nix::unistd::getpid(), self.pid);
        let sweep = tokio::task::spawn_blocking(move || {
            // The watcher goes first (it is not part of the tally), unless
            // the kernel holds it up.
            let until = Instant::now() + tree::STUCK;
            while tree::alive(watcher) && Instant::now() < until {
                std::thread::sleep(ROUND);
            }
            let mut sweep = tree::Sweep::new(deadline);
            loop {
                tree::reap();
                if let Some(t) = sweep.round(me) {
                    return t;
                }
                std::thread::sleep(ROUND);
            }
        });
        sweep.await.unwrap_or_default()
    }
}

/// How often a sweep looks again.
const ROUND: Duration = Duration::from_millis(10);

/// A copy of `fd` that survives exec, numbered 3 or above (0, 1 and 2
/// are the watcher's stdin, stdout and stderr, even when ours are closed).
fn inheritable(fd: impl AsFd) -> std::io::Result<OwnedFd> {
    let mut low = Vec::new();
    loop {
        let copy = nix::unistd::dup(fd.as_fd())?;
        if copy.as_raw_fd() > 2 {
            return Ok(copy);
        }
        low.push(copy);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_event_reads_back_as_written() {
        let events = [
            Event::Started(42),
            Event::NotStarted {
                code: 127,
                why: "No such file or directory (os error 2)".into(),
            },
            Event::Failed("cannot become a subreaper: EINVAL".into()),
            Event::Killed,
            Event::Exited(Status::Code(7)),
            Event::Exited(Status::Signal(9)),
            Event::Swept(Tally {
                ended: 3,
                killed: 1,
                stuck: 0,
                denied: 2,
            }),
            Event::Gone,
        ];
        for e in events {
            let line = e.line();
            assert_eq!(Event::parse(line.trim_end()), Some(e), "{line:?}");
        }
        assert_eq!(Event::parse("nonsense 1"), None);
        assert_eq!(Event::parse("swept 1 2 3"), None);
        // A reason never breaks the one-line format.
        let e = Event::Failed("two\nlines".into());
        assert_eq!(e.line(), "failed two lines\n");
    }
}
