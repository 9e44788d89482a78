//! `locks run`: hold a lock for exactly as long as a command runs, and never
//! let the command, or anything it starts, run outside the lock.
//!
//! The command runs under a watcher ([`crate::supervise`]): a child
//! subreaper that every process the command starts stays below, whatever
//! session it moves to. When the command exits, the watcher ends what it
//! left running (SIGTERM, then SIGKILL after `--kill-after`); only then is
//! the lock released, retrying until `--release-timeout` while the server
//! cannot be reached. When locksmith dies in any other way, SIGKILL
//! included, the watcher kills the whole tree at once, so the holder
//! `HOST:PID` names a process that is either running with its command or
//! dead with it.
//!
//! SIGINT, SIGTERM and SIGHUP sent to locksmith are passed on to the
//! command; one that has not exited `--kill-after` later is killed, with
//! everything it started, and the release gets what is left of
//! [`GRACE`] (at least [`RELEASE_AFTER_KILL`]). On a terminal the
//! command's group is the foreground job while it runs, so an interactive
//! command reads the terminal and a Ctrl-C reaches it (and not locksmith).
//!
//! The holder heartbeats its lease while the command runs (the guard's
//! own task, see [`crate::locks::guard`]), and each heartbeat checks that
//! the lock is still its own. When it is not (force-released, taken over
//! after the lease ran out), the command is stopped like after a SIGTERM
//! (`--kill-after`, then SIGKILL), `run` says who holds the lock now and
//! why, and exits [`exit::LOST`]; `--on-lost keep` only says so.
//!
//! The command gets `LOCKSMITH_ROW`, `LOCKSMITH_LOCK`, `LOCKSMITH_HOLDER`
//! and `LOCKSMITH_FENCE`: the lock's fencing token, the row's version
//! right after the acquire, which every later acquire of the row exceeds.
//!
//! This file owns the words; the supervision itself has none.

use super::args::OnLost;
use super::ctx::Ctx;
use super::exit;
use super::output::{note, text};
use super::signals::{interrupted, GRACE};
use crate::db::Deadline;
use crate::error::{signal_name, Error, Kind, Result};
use crate::locks::{LockGuard, Lost};
use crate::supervise::{Event, Status, Tally, Watcher};
use std::time::{Duration, Instant};

/// The least a release gets after a command that a signal ended, when
/// `--kill-after` has used up most of [`GRACE`].
pub(super) const RELEASE_AFTER_KILL: Duration = Duration::from_secs(1);

/// How long `run` gives things: the release, and the command after a
/// signal.
pub(super) struct Limits {
    /// How long to keep trying to release while the server cannot be
    /// reached.
    pub release_timeout: Duration,
    /// How long a process gets between SIGTERM and SIGKILL.
    pub kill_after: Duration,
    /// What to do when the lock is lost while the command runs.
    pub on_lost: OnLost,
}

/// Runs `command` while `guard` is held, then releases it; returns the
/// exit code to use.
pub(super) async fn run_locked(
    ctx: &Ctx,
    guard: LockGuard,
    limits: Limits,
    command: &[String],
) -> Result<u8> {
    let (row, name, holder) = (
        guard.row().to_string(),
        guard.name().to_string(),
        guard.holder().to_string(),
    );
    let table = guard.table().clone();
    let timeout = limits.release_timeout;
    let release =
        |why: Option<(i32, Instant)>| release(ctx, &table, (&row, &name, &holder), timeout, why);
    if let Some(sig) = ctx.stop.received() {
        // A signal came while acquiring: do not start the command.
        drop(guard);
        release(Some((sig, Instant::now() + GRACE))).await;
        return Err(interrupted(sig, "the command was not started"));
    }
    let env = vec![
        ("LOCKSMITH_ROW".to_string(), row.clone()),
        ("LOCKSMITH_LOCK".to_string(), name.clone()),
        ("LOCKSMITH_HOLDER".to_string(), holder.clone()),
        (
            "LOCKSMITH_FENCE".to_string(),
            guard.fence().map(|f| f.to_string()).unwrap_or_default(),
        ),
    ];
    let ran = supervise(ctx, &guard, command, &env, &limits).await;
    let lost = guard.is_lost();
    // The heartbeat stops here: from now on the lock is released, or left
    // for its lease to run out.
    drop(guard);
    let ran = match ran {
        Ok(ran) => ran,
        Err(e) => {
            release(None).await;
            return Err(e);
        }
    };
    if lost.is_some() && limits.on_lost == OnLost::Stop {
        // Not ours any more: nothing to release; its registration goes.
        let _ = table
            .until(crate::db::Deadline::after(GRACE))
            .unregister(&row, &name, &holder)
            .await;
        return Ok(exit::LOST);
    }
    let until = match (ran.signal, ctx.stop.received()) {
        (Some((sig, at)), _) => Some((sig, (at + GRACE).max(Instant::now() + RELEASE_AFTER_KILL))),
        (None, Some(sig)) => Some((sig, Instant::now() + GRACE)),
        (None, None) => None,
    };
    match release(until).await {
        Released::Yes => {
            // Its registration goes with it (best effort: one left behind
            // holds nothing).
            let _ = table
                .until(crate::db::Deadline::after(GRACE))
                .unregister(&row, &name, &holder)
                .await;
            // Yield: a waiter gets its turn before a loop of us re-takes it.
            if ctx.stop.received().is_none() {
                tokio::time::sleep(crate::locks::guard::YIELD).await;
            }
            Ok(ran.code)
        }
        Released::No if ran.code == 0 => Ok(exit::DATABASE),
        Released::No => Ok(ran.code),
        Released::Interrupted(sig) => Ok(exit::interrupted(sig)),
    }
}

/// How the command ended.
struct Ran {
    /// The exit code `run` passes on.
    code: u8,
    /// The first signal passed on to it, and when.
    signal: Option<(i32, Instant)>,
}

/// What the watcher has reported so far.
#[derive(Default)]
struct Seen {
    /// The first signal passed on, and when.
    signal: Option<(i32, Instant)>,
    /// The command's exit status.
    status: Option<Status>,
    /// It got SIGKILL after --kill-after.
    killed: bool,
    /// It could not be started: 127 or 126.
    not_started: Option<u8>,
    /// Everything is gone (or was ended here).
    swept: bool,
    /// The lock was lost while the command ran.
    lost: bool,
}

impl Seen {
    /// The exit code: the command's own, 128+N of the signal we passed on
    /// when it had to be killed for not stopping on it (or when its status
    /// was lost with its watcher), 127 or 126 when it never ran.
    fn code(&self) -> u8 {
        let ours = self.signal.map(|(sig, _)| exit::interrupted(sig));
        match (self.not_started, self.status) {
            (Some(code), _) => code,
            (None, Some(_)) if self.killed && ours.is_some() => ours.unwrap_or(exit::FAILURE),
            (None, Some(Status::Code(c))) => u8::try_from(c).unwrap_or(exit::FAILURE),
            (None, Some(Status::Signal(sig))) => exit::interrupted(sig),
            (None, None) => ours.unwrap_or(exit::FAILURE),
        }
    }
}

/// Starts the command under a watcher, passes signals on, stops it when
/// the lock is lost (unless told to keep it), and waits until it and
/// everything it started are gone.
async fn supervise(
    ctx: &Ctx,
    guard: &LockGuard,
    command: &[String],
    env: &[(String, String)],
    limits: &Limits,
) -> Result<Ran> {
    let kill_after = limits.kill_after;
    let program = command
        .first()
        .ok_or_else(|| Error::from(Kind::Invalid("no command given after --".into())))?;
    let mut watcher = Watcher::start(command, env, kill_after).map_err(|e| {
        Error::from(Kind::Io(format!(
            "cannot start the watcher of the command: {e}"
        )))
    })?;
    let mut stop = ctx.stop.clone();
    let mut seen = Seen::default();
    loop {
        // After a signal the watcher has --kill-after, and then GRACE for
        // what it does afterwards; should it still not be done, it is
        // killed, and what it watched is ended here.
        let overdue = seen.signal.map(|(_, at)| at + kill_after + GRACE);
        let far = Instant::now() + Duration::from_secs(3600);
        let event = tokio::select! {
            e = watcher.next() => e,
            sig = stop.next() => {
                watcher.signal(sig);
                seen.signal.get_or_insert((sig, Instant::now()));
                continue;
            }
            lost = guard.lost(), if !seen.lost => {
                seen.lost = true;
                note(&lost_words(guard, &lost, limits));
                if limits.on_lost == OnLost::Stop {
                    watcher.signal(libc_sigterm());
                    seen.signal.get_or_insert((libc_sigterm(), Instant::now()));
                }
                continue;
            }
            () = tokio::time::sleep_until(overdue.unwrap_or(far).into()), if overdue.is_some() => {
                let t = watcher.abandon(Duration::ZERO).await;
                note(&format!(
                    "the watcher of the command had not finished {} after {}; killed it, and what was still running below it: {}",
                    human(kill_after + GRACE),
                    signal_name(seen.signal.map_or(0, |s| s.0)),
                    tally(&t)
                ));
                not_ended(&t);
                seen.swept = true;
                break;
            }
        };
        match event {
            Event::Started(_) => {}
            Event::NotStarted { code, why } => {
                note(&format!("cannot run {program:?}: {why}"));
                seen.not_started = Some(code);
            }
            Event::Failed(why) => {
                return Err(Kind::Io(format!(
                    "the watcher of the command could not start it: {why}"
                ))
                .into())
            }
            Event::Killed => {
                seen.killed = true;
                note(&format!(
                    "the command did not exit within {} of {}; killed it (SIGKILL)",
                    human(kill_after),
                    signal_name(seen.signal.map_or(0, |s| s.0))
                ));
            }
            Event::Exited(s) => seen.status = Some(s),
            Event::Swept(t) => {
                seen.swept = true;
                swept_note(&t);
            }
            Event::Gone => break,
        }
    }
    if !seen.swept && seen.not_started.is_none() {
        // The watcher was killed: what it watched is ours now.
        let t = watcher.abandon(kill_after).await;
        note(&format!(
            "the watcher of the command was killed; ended what was still running below it: {}",
            tally(&t)
        ));
        not_ended(&t);
    }
    Ok(Ran {
        code: seen.code(),
        signal: seen.signal,
    })
}

/// SIGTERM's number.
fn libc_sigterm() -> i32 {
    nix::sys::signal::Signal::SIGTERM as i32
}

/// What `run` says when its lock was lost while the command ran.
fn lost_words(guard: &LockGuard, lost: &Lost, limits: &Limits) -> String {
    let now = match &lost.now_held_by {
        Some(h) => format!("{} holds it now", crate::shown::shown_id(h)),
        None => "nobody holds it now".into(),
    };
    let what = match limits.on_lost {
        OnLost::Stop => format!(
            "stopping the command (SIGTERM, then SIGKILL after {})",
            human(limits.kill_after)
        ),
        OnLost::Keep => "the command keeps running (--on-lost keep), outside the lock".into(),
    };
    format!(
        "lost lock `{}` in row `{}` while the command ran: {}; {now}; {what}",
        crate::shown::shown(guard.name()),
        crate::shown::shown_id(guard.row()),
        crate::shown::shown(&lost.why),
    )
}

/// Says what ending the leftovers took, when it took SIGKILL, and what
/// could not be ended.
fn swept_note(t: &Tally) {
    if t.killed > 0 {
        note(&format!(
            "ended {} the command left running ({} with SIGKILL)",
            processes(t.ended),
            t.killed
        ));
    }
    not_ended(t);
}

/// Warns of what a sweep could not end.
fn not_ended(t: &Tally) {
    if t.stuck > 0 {
        note(&format!(
            "warning: {} had not exited {} after SIGKILL (stuck in the kernel, where they run no code of their own)",
            processes(t.stuck),
            human(crate::supervise::tree::STUCK)
        ));
    }
    if t.denied > 0 {
        note(&format!(
            "warning: {} the command started could not be signalled (they run as another user) and may still be running",
            processes(t.denied)
        ));
    }
}

/// `2 processes (1 with SIGKILL)`, or `nothing`.
fn tally(t: &Tally) -> String {
    match (t.ended, t.killed) {
        (0, _) => "nothing".into(),
        (n, 0) => processes(n),
        (n, k) => format!("{} ({k} with SIGKILL)", processes(n)),
    }
}

fn processes(n: u32) -> String {
    match n {
        1 => "1 process".into(),
        n => format!("{n} processes"),
    }
}

/// A duration as `1s`, `500ms`, `2m 30s`.
fn human(d: Duration) -> String {
    humantime::format_duration(d).to_string()
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
/// `timeout` runs out, saying so on stderr every 10 s. After a signal
/// (`signalled`, with the time the release must be done by, or one arriving
/// meanwhile: then [`GRACE`] from its arrival), the release gets only that
/// long.
async fn release(
    ctx: &Ctx,
    table: &crate::LockTable,
    (row, name, holder): (&str, &str, &str),
    timeout: Duration,
    signalled: Option<(i32, Instant)>,
) -> Released {
    let started = Instant::now();
    let mut stop = ctx.stop.clone();
    // The signal that cut the release short, and when the release must be
    // done by.
    let mut signal = signalled;
    // An attempt may have landed unseen (cut off by a signal).
    let mut unsure = false;
    let told: std::sync::Mutex<Option<Instant>> = std::sync::Mutex::new(None);
    loop {
        let until = match signal {
            Some((_, until)) => Deadline::at(until),
            None => Deadline::at(started + timeout),
        };
        let quiet = signal.is_some();
        let heard = |e: &Error| {
            let mut told = told.lock().unwrap_or_else(|p| p.into_inner());
            if quiet || told.is_some_and(|t| t.elapsed() < Duration::from_secs(10)) {
                return;
            }
            note(&format!(
                "could not release lock `{name}` in row `{row}` yet ({e}); retrying for up to {}s more",
                timeout.saturating_sub(started.elapsed()).as_secs()
            ));
            *told = Some(Instant::now());
        };
        let t = table.until(until);
        let result = tokio::select! {
            r = t.release_patiently(row, name, holder, &heard) => r,
            sig = stop.next(), if signal.is_none() => {
                // The attempt is dropped mid-way: its write may land.
                signal = Some((sig, Instant::now() + GRACE));
                unsure = true;
                continue;
            }
        };
        let Err(e) = result else {
            return Released::Yes;
        };
        return match e.kind() {
            // An earlier attempt of ours landed after all.
            Kind::NotHeld { .. } | Kind::WrongHolder { .. } | Kind::NoRow(_) if unsure => {
                Released::Yes
            }
            Kind::NotHeld { .. } | Kind::NoRow(_) => {
                note(&format!(
                    "lock `{name}` in row `{row}` was no longer held by {holder} when the command ended (released by an operator?)"
                ));
                Released::Yes
            }
            Kind::WrongHolder { holder: other, .. } => {
                note(&format!(
                    "lock `{name}` in row `{row}` was taken from {holder} while the command ran; {other} holds it now"
                ));
                Released::Yes
            }
            _ => still_held((row, name, holder), &e, signal),
        };
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_exit_code_is_the_commands_unless_we_had_to_kill_it() {
        let term = Some((15, Instant::now()));
        let seen = |signal, status, killed, not_started| Seen {
            signal,
            status,
            killed,
            not_started,
            swept: true,
            lost: false,
        };
        let cases = [
            (seen(None, Some(Status::Code(0)), false, None), 0),
            (seen(None, Some(Status::Code(7)), false, None), 7),
            (seen(None, Some(Status::Signal(9)), false, None), 137),
            // It trapped our SIGTERM and exited in time: its own status.
            (seen(term, Some(Status::Code(42)), false, None), 42),
            (seen(term, Some(Status::Signal(15)), false, None), 143),
            // Killed after --kill-after: the code of the signal we got.
            (seen(term, Some(Status::Signal(9)), true, None), 143),
            (seen(None, None, false, Some(127)), 127),
            (seen(None, None, false, Some(126)), 126),
            // Its status was lost with its watcher.
            (seen(None, None, false, None), 1),
            (seen(term, None, false, None), 143),
        ];
        for (s, code) in cases {
            assert_eq!(
                s.code(),
                code,
                "{:?} {:?} {}",
                s.signal.map(|x| x.0),
                s.status,
                s.killed
            );
        }
    }
}
