//! `locks run`: hold a lock for exactly as long as a command runs.
//!
//! The lock is acquired first, the command runs with locksmith's stdio,
//! SIGINT and SIGTERM are passed on to it, and the lock is released when it
//! exits, however it exits. If locksmith itself is killed (SIGKILL) the lock
//! stays held under its holder name (host and pid by default), where
//! `locks dump` shows it and `locks force-release ROW --holder H` frees it.
//!
//! A terminal's Ctrl-C is not passed on: the terminal sends it to the whole
//! foreground process group, the command included, and a second copy from
//! locksmith would read as "press again to force quit" to many programs.
//! Only signals sent by a process (`kill`, a supervisor) are forwarded.

use super::output::{note, text};
use crate::error::{exit, Error, Kind, Result};
use crate::locks::{AcquireOptions, LockGuard, LockTable};
use futures_util::StreamExt;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::exfiltrator::WithOrigin;
use signal_hook::low_level::siginfo::{Cause, Origin};
use signal_hook_tokio::SignalsInfo;
use std::os::unix::process::ExitStatusExt;

/// Acquires, runs `command`, releases; returns the exit code to use.
pub(super) async fn run_locked(
    table: &LockTable,
    row: &str,
    name: &str,
    holder: &str,
    opts: &AcquireOptions,
    command: &[String],
) -> Result<u8> {
    let (program, args) = command
        .split_first()
        .ok_or_else(|| Error::from(Kind::Invalid("no command given after --".into())))?;

    let guard = super::signals::lock(table, row, name, holder, opts).await?;

    // Listen before the child exists, so that no signal slips through
    // unhandled; one that came in meanwhile means: do not start it.
    let mut signals = SignalsInfo::<WithOrigin>::new([SIGINT, SIGTERM])?;
    let handle = signals.handle();
    if futures_util::poll!(signals.next()).is_ready() {
        release_loudly(guard).await;
        return Err(Kind::Interrupted.into());
    }

    let mut child = match tokio::process::Command::new(program).args(args).spawn() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.kind() == std::io::ErrorKind::NotFound {
                127
            } else {
                126
            };
            note(&format!("cannot run {program:?}: {e}"));
            release_loudly(guard).await;
            return Ok(code);
        }
    };
    let pid = child.id().map(|p| Pid::from_raw(p as i32));
    let status = loop {
        tokio::select! {
            s = child.wait() => break s,
            Some(origin) = signals.next() => forward(pid, &origin),
        }
    };
    handle.close();
    let released = release_loudly(guard).await;
    let code = match status {
        Ok(s) => match (s.code(), s.signal()) {
            (Some(c), _) => c as u8,
            (None, Some(sig)) => 128u8.wrapping_add(sig as u8),
            (None, None) => exit::FAILURE,
        },
        Err(e) => {
            note(&format!("lost track of the command: {e}"));
            exit::FAILURE
        }
    };
    Ok(if !released && code == 0 {
        exit::DATABASE
    } else {
        code
    })
}

/// Passes a signal on to the child, which has not been reaped yet (we are
/// still waiting for it), so its pid cannot have been reused.
fn forward(pid: Option<Pid>, origin: &Origin) {
    if !should_forward(&origin.cause) {
        return;
    }
    if let (Some(pid), Ok(sig)) = (pid, Signal::try_from(origin.signal)) {
        let _ = kill(pid, sig);
    }
}

/// Signals sent by a process are passed on. One the kernel sent (a
/// terminal's Ctrl-C) reached the child already: it is in our process group.
fn should_forward(cause: &Cause) -> bool {
    !matches!(cause, Cause::Kernel)
}

async fn release_loudly(guard: LockGuard) -> bool {
    let (row, name, holder) = (
        guard.row().to_string(),
        guard.name().to_string(),
        guard.holder().to_string(),
    );
    match guard.release().await {
        Ok(()) => true,
        Err(e) => {
            eprint!("{}", text::still_held(&row, &name, &holder, &e));
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use signal_hook::low_level::siginfo::Sent;

    #[test]
    fn only_signals_sent_by_a_process_are_forwarded() {
        assert!(!should_forward(&Cause::Kernel), "a terminal's Ctrl-C");
        assert!(should_forward(&Cause::Sent(Sent::User)), "kill(1)");
        assert!(should_forward(&Cause::Sent(Sent::TKill)));
        assert!(should_forward(&Cause::Unknown), "when in doubt, pass it on");
    }
}
