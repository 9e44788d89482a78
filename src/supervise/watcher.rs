//! The watcher: this binary started with [`super::WATCHER_ARG`], between
//! the caller and its command. It is a child subreaper, the command's
//! parent and the leader of the command's process group. It holds no
//! runtime and no connection: a poll loop over the caller's pipe and a
//! signalfd, so that it is small and quick to react.
//!
//! Its command line: `FROM TO PARENT KILL_AFTER_MS -- PROGRAM ARGS…`, where
//! FROM and TO are pipe ends the caller left open for it (see
//! `Watcher::start`), PARENT is the caller's pid.
//!
//! The signals a terminal or a supervisor sends (INT, TERM, HUP, QUIT and
//! the job-control ones) are blocked, not ignored: an ignored signal would
//! stay ignored in the command through exec, while the mask is cleared in
//! the command just before exec.

use super::tree::{self, Sweep};
use super::{Event, Status, ROUND, WATCHER_ARG};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{kill, SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::wait::WaitStatus;
use nix::unistd::{getpgid, getpgrp, getpid, getppid, tcgetpgrp, tcsetpgrp, Pid};
use std::ffi::OsString;
use std::fs::File;
use std::io::{IsTerminal, Read, Write};
use std::os::fd::{AsFd, FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::time::{Duration, Instant};

/// Runs the watcher with the arguments after [`WATCHER_ARG`]; returns its
/// exit code (which nobody reads: what matters goes through the pipe).
pub fn main(args: impl Iterator<Item = OsString>) -> u8 {
    let Some(setup) = Setup::parse(args) else {
        eprintln!("locksmith: {WATCHER_ARG} is for locksmith's own use");
        return 2;
    };
    setup.run();
    0
}

struct Setup {
    from: File,
    to: File,
    parent: Pid,
    kill_after: Duration,
    program: OsString,
    args: Vec<OsString>,
}

impl Setup {
    fn parse(mut args: impl Iterator<Item = OsString>) -> Option<Setup> {
        fn word(args: &mut impl Iterator<Item = OsString>) -> Option<String> {
            args.next()?.into_string().ok()
        }
        let from = adopt(word(&mut args)?.parse().ok()?)?;
        let to = adopt(word(&mut args)?.parse().ok()?)?;
        let parent = Pid::from_raw(word(&mut args)?.parse().ok()?);
        let kill_after = Duration::from_millis(word(&mut args)?.parse().ok()?);
        (word(&mut args)? == "--").then_some(())?;
        let program = args.next()?;
        Some(Setup {
            from,
            to,
            parent,
            kill_after,
            program,
            args: args.collect(),
        })
    }

    fn run(self) {
        let Setup {
            from,
            mut to,
            parent,
            kill_after,
            program,
            args,
        } = self;
        let inbox = match Inbox::open(from, parent) {
            Ok(i) => i,
            Err(why) => {
                tell(&mut to, &Event::Failed(why));
                return;
            }
        };
        if getppid() != parent {
            // The caller is gone already: start nothing.
            return;
        }
        let terminal = Terminal::take(parent);
        let cmd = match spawn(&program, &args) {
            Ok(cmd) => cmd,
            Err(e) => {
                drop(terminal);
                tell(&mut to, &e);
                return;
            }
        };
        let mut watch = Watch {
            inbox,
            to,
            told: true,
            kill_after,
        };
        watch.say(&Event::Started(cmd.as_raw().unsigned_abs()));
        let (status, kill_at) = watch.command(cmd);
        drop(terminal);
        let deadline = match status {
            Some(s) => {
                watch.say(&Event::Exited(s));
                kill_at.unwrap_or_else(|| Instant::now() + kill_after)
            }
            None => Instant::now(),
        };
        watch.sweep(deadline);
    }
}

/// Starts the command in our process group, with a clean signal mask.
/// Returns its pid, or what to report when it cannot be run.
fn spawn(program: &OsString, args: &[OsString]) -> Result<Pid, Event> {
    let mut command = std::process::Command::new(program);
    command.args(args).process_group(getpgrp().as_raw());
    // SAFETY: the closure runs in the forked child before exec, and only
    // calls pthread_sigmask, which is async-signal-safe; it allocates
    // nothing and takes no lock.
    unsafe {
        // The mask is inherited through exec (std leaves it alone): the
        // command starts with nothing blocked.
        command.pre_exec(|| {
            SigSet::empty()
                .thread_set_mask()
                .map_err(std::io::Error::from)
        });
    }
    match command.spawn() {
        // Reaped in `Watch::command`, with every orphan that lands here.
        Ok(child) => Ok(Pid::from_raw(i32::try_from(child.id()).unwrap_or(i32::MAX))),
        Err(e) => Err(Event::NotStarted {
            code: match e.kind() {
                std::io::ErrorKind::NotFound => 127,
                _ => 126,
            },
            why: e.to_string(),
        }),
    }
}

/// The watcher at work: its inbox, its reports, and whether the caller is
/// still there to read them.
struct Watch {
    inbox: Inbox,
    to: File,
    /// False once the caller is gone: then nothing may outlive it.
    told: bool,
    kill_after: Duration,
}

impl Watch {
    /// Reports, while the caller is there to read it.
    fn say(&mut self, e: &Event) {
        self.told = self.told && tell(&mut self.to, e);
    }

    /// Waits for the command, passing signals on, and SIGKILL at
    /// `kill_after` after the first. Returns how it ended (`None`: the
    /// caller died first) and when SIGKILL was (or is) due.
    fn command(&mut self, cmd: Pid) -> (Option<Status>, Option<Instant>) {
        let mut kill_at: Option<Instant> = None;
        let mut killed = false;
        loop {
            if !self.told {
                return (None, kill_at);
            }
            if let Some((_, s)) = tree::reap().into_iter().find(|(p, _)| *p == cmd) {
                let status = match s {
                    WaitStatus::Signaled(_, sig, _) => Status::Signal(sig as i32),
                    WaitStatus::Exited(_, code) => Status::Code(code),
                    _ => Status::Code(1),
                };
                return (Some(status), kill_at);
            }
            let timeout = kill_at
                .filter(|_| !killed)
                .map(|t| t.saturating_duration_since(Instant::now()));
            match self.inbox.wait(timeout) {
                Got::ParentGone => self.told = false,
                Got::Signals(sigs) => {
                    for sig in &sigs {
                        // Not reaped yet, so the pid is still the command's.
                        let _ = kill(cmd, *sig);
                    }
                    if !sigs.is_empty() {
                        kill_at.get_or_insert(Instant::now() + self.kill_after);
                    }
                }
                Got::Nothing => {}
            }
            if kill_at.is_some_and(|t| !killed && Instant::now() >= t) {
                let _ = kill(cmd, Signal::SIGKILL);
                killed = true;
                self.say(&Event::Killed);
            }
        }
    }

    /// Ends everything below us (SIGKILL at `deadline`, at once when the
    /// caller is gone) and reports the tally.
    fn sweep(&mut self, deadline: Instant) {
        let me = getpid();
        let mut sweep = Sweep::new(deadline);
        loop {
            if !self.told {
                sweep.deadline = sweep.deadline.min(Instant::now());
            }
            tree::reap();
            if let Some(t) = sweep.round(me) {
                self.say(&Event::Swept(t));
                return;
            }
            match self.inbox.wait(Some(ROUND)) {
                Got::ParentGone => self.told = false,
                Got::Signals(sigs) if !sigs.is_empty() => {
                    sweep.deadline = sweep.deadline.min(Instant::now() + self.kill_after);
                }
                Got::Signals(_) | Got::Nothing => {}
            }
        }
    }
}

/// Takes over a pipe end the caller left open for us under this number.
fn adopt(fd: i32) -> Option<File> {
    if fd < 3 {
        return None;
    }
    let link = std::fs::read_link(format!("/proc/self/fd/{fd}")).ok()?;
    if !link.to_string_lossy().starts_with("pipe:") {
        return None;
    }
    // SAFETY: the descriptor is open (its /proc entry is there) and is a
    // pipe the caller left open for us and named on our command line;
    // nothing else in this process has opened or owns it.
    let inherited = unsafe { OwnedFd::from_raw_fd(fd) };
    // A copy that closes on exec (so the command does not inherit it);
    // the inherited one is closed when dropped here.
    File::from(inherited).try_clone().ok()
}

/// Writes one report; false when the caller is gone.
fn tell(to: &mut File, e: &Event) -> bool {
    to.write_all(e.line().as_bytes()).is_ok()
}

/// What woke the watcher.
enum Got {
    /// The caller passes these signals on.
    Signals(Vec<Signal>),
    /// The caller has died (its pipe closed, or PR_SET_PDEATHSIG).
    ParentGone,
    /// A child ended, or the time ran out: look again.
    Nothing,
}

/// The caller's pipe and the signals the watcher waits for.
struct Inbox {
    from: Option<File>,
    partial: Vec<u8>,
    signals: SignalFd,
    parent: Pid,
}

impl Inbox {
    /// Blocks the signals that are not for us, reads SIGCHLD and SIGUSR1
    /// (the caller's death) from a signalfd, and becomes a subreaper.
    fn open(from: File, parent: Pid) -> Result<Inbox, String> {
        use Signal::*;
        let mut blocked = SigSet::empty();
        for s in [
            SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGTSTP, SIGTTIN, SIGTTOU, SIGCHLD, SIGUSR1,
        ] {
            blocked.add(s);
        }
        blocked
            .thread_block()
            .map_err(|e| format!("cannot block signals: {e}"))?;
        let mut wanted = SigSet::empty();
        wanted.add(SIGCHLD);
        wanted.add(SIGUSR1);
        let signals = SignalFd::with_flags(&wanted, SfdFlags::SFD_NONBLOCK | SfdFlags::SFD_CLOEXEC)
            .map_err(|e| format!("cannot open a signalfd: {e}"))?;
        nix::sys::prctl::set_child_subreaper(true)
            .map_err(|e| format!("cannot become a child subreaper: {e}"))?;
        nix::sys::prctl::set_pdeathsig(SIGUSR1)
            .map_err(|e| format!("cannot ask for the parent's death signal: {e}"))?;
        Ok(Inbox {
            from: Some(from),
            partial: Vec::new(),
            signals,
            parent,
        })
    }

    /// Waits up to `timeout` (`None`: as long as it takes) for the caller
    /// or a signal.
    fn wait(&mut self, timeout: Option<Duration>) -> Got {
        let timeout = match timeout {
            None => PollTimeout::NONE,
            Some(d) => PollTimeout::try_from(d).unwrap_or(PollTimeout::MAX),
        };
        let (pipe_ready, signal_ready) = {
            let mut fds = vec![PollFd::new(self.signals.as_fd(), PollFlags::POLLIN)];
            if let Some(f) = &self.from {
                fds.push(PollFd::new(f.as_fd(), PollFlags::POLLIN));
            }
            if poll(&mut fds, timeout).is_err() {
                return Got::Nothing;
            }
            let ready =
                |fd: Option<&PollFd>| fd.and_then(PollFd::revents).is_some_and(|r| !r.is_empty());
            (ready(fds.get(1)), ready(fds.first()))
        };
        if signal_ready {
            let mut parent_died = false;
            while let Ok(Some(info)) = self.signals.read_signal() {
                parent_died |= info.ssi_signo == Signal::SIGUSR1 as u32;
            }
            if parent_died && getppid() != self.parent {
                self.from = None;
                return Got::ParentGone;
            }
        }
        if !pipe_ready {
            return Got::Nothing;
        }
        let mut buf = [0u8; 512];
        let n = match self.from.as_mut().map(|f| f.read(&mut buf)) {
            Some(Ok(n)) if n > 0 => n,
            _ => {
                self.from = None;
                return Got::ParentGone;
            }
        };
        self.partial.extend_from_slice(&buf[..n]);
        let mut sigs = Vec::new();
        while let Some(end) = self.partial.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = self.partial.drain(..=end).collect();
            let line = String::from_utf8_lossy(&line);
            if let Some(sig) = line
                .trim_end()
                .strip_prefix("signal ")
                .and_then(|n| n.parse::<i32>().ok())
                .and_then(|n| Signal::try_from(n).ok())
            {
                sigs.push(sig);
            }
        }
        Got::Signals(sigs)
    }
}

/// The terminal, handed to the command's process group while it runs
/// (when the caller's group had it), and handed back when dropped.
struct Terminal {
    back_to: Pid,
}

impl Terminal {
    fn take(parent: Pid) -> Option<Terminal> {
        let stdin = std::io::stdin();
        if !stdin.is_terminal() {
            return None;
        }
        let theirs = getpgid(Some(parent)).ok()?;
        if tcgetpgrp(&stdin).ok()? != theirs {
            return None;
        }
        // SIGTTOU, which would stop a background group doing this, is
        // blocked.
        tcsetpgrp(&stdin, getpgrp()).ok()?;
        Some(Terminal { back_to: theirs })
    }
}

impl Drop for Terminal {
    fn drop(&mut self) {
        let _ = tcsetpgrp(std::io::stdin(), self.back_to);
    }
}
