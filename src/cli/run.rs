//! `locks run`: hold a lock for exactly as long as a command runs, and never
//! let the command outlive locksmith.
//!
//! The command runs in a process group of its own, led by a watcher: a tiny
//! `sh` that reads a pipe whose other end only locksmith holds. When
//! locksmith ends normally it writes `done` first; when it dies in any
//! other way, SIGKILL included, the pipe closes and the watcher kills the
//! whole group, the command and everything it started. So once locksmith is
//! gone, so is its command, and the holder `HOST:PID` names a process that
//! is either running with its command or dead with it.
//!
//! On a terminal the group becomes the foreground job while the command
//! runs, so an interactive command reads the terminal, and a Ctrl-C reaches
//! it (and not locksmith). SIGINT, SIGTERM and SIGHUP sent to locksmith are
//! passed on to the command. When the command exits, whatever it left
//! running in its group is ended too (SIGTERM, then SIGKILL), so that
//! nothing runs outside the lock; then the lock is released, retrying until
//! `--release-timeout` while the server cannot be reached.

use super::ctx::Ctx;
use super::output::{note, text};
use super::signals::{interrupted, GRACE};
use crate::db::deadline::grace;
use crate::error::{exit, Error, Kind, Result};
use crate::locks::LockGuard;
use nix::sys::signal::{kill, killpg, Signal};
use nix::unistd::Pid;
use std::io::IsTerminal;
use std::os::unix::process::ExitStatusExt;
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::io::AsyncWriteExt;

/// The watcher: ignores the signals a terminal or a supervisor sends, and
/// kills its process group (the command's) unless locksmith says `done`.
const WATCHER: &str = "trap '' INT TERM HUP QUIT TSTP TTIN TTOU; \
                       read -r x; [ \"$x\" = done ] || kill -KILL 0";

/// How long what the command left running gets between SIGTERM and SIGKILL.
const LEFTOVER_GRACE: Duration = Duration::from_secs(1);

/// Runs `command` while `guard` is held, then releases it; returns the
/// exit code to use.
pub(super) async fn run_locked(
    ctx: &Ctx,
    guard: LockGuard,
    release_timeout: Duration,
    command: &[String],
) -> Result<u8> {
    let (row, name, holder) = (
        guard.row().to_string(),
        guard.name().to_string(),
        guard.holder().to_string(),
    );
    let table = guard.table().clone();
    drop(guard);
    let release =
        |why: Option<i32>| release(ctx, &table, (&row, &name, &holder), release_timeout, why);
    if let Some(sig) = ctx.stop.received() {
        // A signal came while acquiring: do not start the command.
        release(Some(sig)).await;
        return Err(interrupted(sig, "the command was not started"));
    }
    let status = match supervise(ctx, command).await {
        Ok(status) => status,
        Err(e) => {
            release(None).await;
            return Err(e);
        }
    };
    let code = match status {
        Ran::Exited(s) => match (s.code(), s.signal()) {
            (Some(c), _) => u8::try_from(c).unwrap_or(exit::FAILURE),
            (None, Some(sig)) => exit::interrupted(sig),
            (None, None) => exit::FAILURE,
        },
        Ran::NotStarted(code) => code,
    };
    match release(ctx.stop.received()).await {
        Released::Yes => {
            // Yield: a waiter gets its turn before a loop of us re-takes it.
            if ctx.stop.received().is_none() {
                tokio::time::sleep(crate::locks::guard::YIELD).await;
            }
            Ok(code)
        }
        Released::No if code == 0 => Ok(exit::DATABASE),
        Released::No => Ok(code),
        Released::Interrupted(sig) => Ok(exit::interrupted(sig)),
    }
}

/// How the command ended.
enum Ran {
    Exited(std::process::ExitStatus),
    /// It could not be started: 127 (not found) or 126 (not runnable).
    NotStarted(u8),
}

/// Starts the watcher and the command, passes signals on, and waits for the
/// command; then ends what it left in its group.
async fn supervise(ctx: &Ctx, command: &[String]) -> Result<Ran> {
    let (program, args) = command
        .split_first()
        .ok_or_else(|| Error::from(Kind::Invalid("no command given after --".into())))?;
    let mut watcher = tokio::process::Command::new("sh")
        .args(["-c", WATCHER])
        .process_group(0)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| Kind::Internal(format!("cannot start the watcher (sh): {e}")))?;
    let group = watcher.id().map(|p| Pid::from_raw(p as i32));
    let mut to_watcher = watcher.stdin.take();
    let terminal = group.and_then(Terminal::hand_to);
    let spawned = match group {
        Some(g) => tokio::process::Command::new(program)
            .args(args)
            .process_group(g.as_raw())
            .spawn(),
        None => Err(std::io::Error::other("the watcher exited at once")),
    };
    let ran = match spawned {
        Err(e) => {
            let code = if e.kind() == std::io::ErrorKind::NotFound {
                127
            } else {
                126
            };
            note(&format!("cannot run {program:?}: {e}"));
            Ran::NotStarted(code)
        }
        Ok(mut child) => {
            let pid = child.id().map(|p| Pid::from_raw(p as i32));
            let mut stop = ctx.stop.clone();
            let status = loop {
                tokio::select! {
                    s = child.wait() => break s,
                    sig = stop.next() => {
                        // The child has not been reaped (we are still
                        // waiting for it), so its pid cannot be reused.
                        if let (Some(pid), Ok(sig)) = (pid, Signal::try_from(sig)) {
                            let _ = kill(pid, sig);
                        }
                    }
                }
            };
            match status {
                Ok(s) => Ran::Exited(s),
                Err(e) => {
                    note(&format!("lost track of the command: {e}"));
                    Ran::NotStarted(exit::FAILURE)
                }
            }
        }
    };
    drop(terminal);
    if let Some(g) = group {
        end_leftovers(g, watcher.id()).await;
    }
    if let Some(mut w) = to_watcher.take() {
        let _ = w.write_all(b"done\n").await;
    }
    let _ = watcher.wait().await;
    Ok(ran)
}

/// Ends what the command left running in its group (not the watcher):
/// SIGTERM, then SIGKILL after [`LEFTOVER_GRACE`].
async fn end_leftovers(group: Pid, watcher: Option<u32>) {
    let others = || members(group).into_iter().any(|p| Some(p) != watcher);
    if !others() {
        return;
    }
    let _ = killpg(group, Signal::SIGTERM);
    let until = Instant::now() + LEFTOVER_GRACE;
    while others() && Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    if others() {
        let _ = killpg(group, Signal::SIGKILL);
    }
}

/// The processes in a process group, from /proc.
fn members(group: Pid) -> Vec<u32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| {
        let pid: u32 = e.ok()?.file_name().to_str()?.parse().ok()?;
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        // pid (comm) state ppid pgrp ...; comm may hold spaces and parens.
        let after = &stat[stat.rfind(')')? + 1..];
        let pgrp: i32 = after.split_whitespace().nth(2)?.parse().ok()?;
        (pgrp == group.as_raw()).then_some(pid)
    })
    .collect()
}

/// The terminal, handed to the command's group while it runs, and handed
/// back when this is dropped.
struct Terminal {
    ours: Pid,
}

impl Terminal {
    /// Makes `group` the terminal's foreground job, if stdin is a terminal
    /// and we are its foreground job now.
    fn hand_to(group: Pid) -> Option<Terminal> {
        let stdin = std::io::stdin();
        if !stdin.is_terminal() {
            return None;
        }
        let ours = nix::unistd::getpgrp();
        if nix::unistd::tcgetpgrp(&stdin).ok()? != ours {
            return None;
        }
        nix::unistd::tcsetpgrp(&stdin, group).ok()?;
        Some(Terminal { ours })
    }
}

impl Drop for Terminal {
    fn drop(&mut self) {
        // Taking the terminal back from the background: SIGTTOU would stop
        // us unless it is blocked meanwhile.
        use nix::sys::signal::{pthread_sigmask, SigSet, SigmaskHow};
        let mut ttou = SigSet::empty();
        ttou.add(Signal::SIGTTOU);
        let mut old = SigSet::empty();
        if pthread_sigmask(SigmaskHow::SIG_BLOCK, Some(&ttou), Some(&mut old)).is_ok() {
            let _ = nix::unistd::tcsetpgrp(std::io::stdin(), self.ours);
            let _ = pthread_sigmask(SigmaskHow::SIG_SETMASK, Some(&old), None);
        }
    }
}

/// What became of the release.
enum Released {
    Yes,
    /// It could not be released: the lock is still held (said loudly).
    No,
    /// A signal came while releasing, and the grace ran out.
    Interrupted(i32),
}

/// Releases the lock, retrying while the server cannot be reached until
/// `timeout` runs out, saying so on stderr. After a signal (`signalled`, or
/// one arriving meanwhile), the release gets only [`GRACE`] more.
async fn release(
    ctx: &Ctx,
    table: &crate::LockTable,
    (row, name, holder): (&str, &str, &str),
    timeout: Duration,
    signalled: Option<i32>,
) -> Released {
    let started = Instant::now();
    let mut stop = ctx.stop.clone();
    // The signal that cut the release short, and when.
    let mut signal = signalled.map(|s| (s, Instant::now()));
    let mut told: Option<Instant> = None;
    // An attempt may have landed unseen (cut off, or its outcome unknown).
    let mut unsure = false;
    let mut pause = Duration::from_millis(100);
    loop {
        let left = match signal {
            Some((_, at)) => GRACE.saturating_sub(at.elapsed()),
            None => timeout.saturating_sub(started.elapsed()),
        };
        let result = if left.is_zero() {
            None
        } else {
            tokio::select! {
                r = grace(left.min(ctx.timeout), table.release(row, name, holder)) => Some(r),
                sig = stop.next(), if signal.is_none() => {
                    // The attempt is dropped mid-way: its write may land.
                    signal = Some((sig, Instant::now()));
                    unsure = true;
                    continue;
                }
            }
        };
        let e = match result {
            Some(Ok(())) => return Released::Yes,
            Some(Err(e)) => e,
            None => {
                let why = Error::from(Kind::TimedOut {
                    after: started.elapsed(),
                    what: "the server could not be reached".into(),
                });
                return still_held(
                    (row, name, holder),
                    told.map(|_| &why).unwrap_or(&why),
                    signal,
                );
            }
        };
        match e.kind() {
            // An earlier attempt of ours landed after all.
            Kind::NotHeld { .. } | Kind::WrongHolder { .. } | Kind::NoRow(_) if unsure => {
                return Released::Yes;
            }
            Kind::NotHeld { .. } | Kind::NoRow(_) => {
                note(&format!(
                    "lock `{name}` in row `{row}` was no longer held by {holder} when the command ended (released by an operator?)"
                ));
                return Released::Yes;
            }
            Kind::WrongHolder { holder: other, .. } => {
                note(&format!(
                    "lock `{name}` in row `{row}` was taken from {holder} while the command ran; {other} holds it now"
                ));
                return Released::Yes;
            }
            Kind::Unsettled(_) => unsure = true,
            Kind::TimedOut { .. } => {}
            _ if e.is_transient() => {}
            _ => return still_held((row, name, holder), &e, signal),
        }
        if signal.is_none() && told.is_none_or(|t| t.elapsed() >= Duration::from_secs(10)) {
            note(&format!(
                "could not release lock `{name}` in row `{row}` yet ({e}); retrying for up to {}s more",
                timeout.saturating_sub(started.elapsed()).as_secs()
            ));
            told = Some(Instant::now());
        }
        let _ = grace(left, tokio::time::sleep(pause)).await;
        pause = (pause * 2).min(Duration::from_secs(5));
    }
}

/// Says loudly that the lock is still held, and how to free it.
fn still_held(
    (row, name, holder): (&str, &str, &str),
    why: &Error,
    signal: Option<(i32, Instant)>,
) -> Released {
    eprint!("{}", text::still_held(row, name, holder, why));
    match signal {
        Some((sig, _)) => Released::Interrupted(sig),
        None => Released::No,
    }
}
