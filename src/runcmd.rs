//! `locks run`: hold a lock for exactly as long as a command runs.
//!
//! The lock is acquired first, the command runs with locksmith's stdio,
//! SIGINT and SIGTERM are passed on to it, and the lock is released when it
//! exits, however it exits. If locksmith itself is killed (SIGKILL) the lock
//! stays held under its holder name (host and pid by default), where
//! `locks dump` shows it and `locks force-release ROW --holder H` frees it.

use crate::error::{exit, Error, Kind, Result};
use crate::row::LockTable;
use crate::wait::AcquireOptions;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use std::os::unix::process::ExitStatusExt;
use tokio::signal::unix::{signal, SignalKind};

/// Acquires, runs `command`, releases; returns the exit code to use.
pub async fn run_locked(
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
    // Listen before the child exists, so no signal slips through unhandled.
    let mut sigint = signal(SignalKind::interrupt())?;
    let mut sigterm = signal(SignalKind::terminate())?;

    let guard = crate::cli::acquire_interruptibly(table, row, name, holder, opts).await?;

    let mut child = match tokio::process::Command::new(program).args(args).spawn() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.kind() == std::io::ErrorKind::NotFound {
                127
            } else {
                126
            };
            eprintln!("locksmith: cannot run {program:?}: {e}");
            release_loudly(guard).await;
            return Ok(code);
        }
    };
    let pid = child.id().map(|p| Pid::from_raw(p as i32));
    let status = loop {
        tokio::select! {
            s = child.wait() => break s,
            _ = sigint.recv() => forward(pid, Signal::SIGINT),
            _ = sigterm.recv() => forward(pid, Signal::SIGTERM),
        }
    };
    let released = release_loudly(guard).await;
    let code = match status {
        Ok(s) => match (s.code(), s.signal()) {
            (Some(c), _) => c as u8,
            (None, Some(sig)) => 128u8.wrapping_add(sig as u8),
            (None, None) => exit::FAILURE,
        },
        Err(e) => {
            eprintln!("locksmith: lost track of the command: {e}");
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
fn forward(pid: Option<Pid>, sig: Signal) {
    if let Some(pid) = pid {
        let _ = kill(pid, sig);
    }
}

async fn release_loudly(guard: crate::wait::LockGuard) -> bool {
    let (row, name, holder) = (
        guard.row().to_string(),
        guard.name().to_string(),
        guard.holder().to_string(),
    );
    match guard.release().await {
        Ok(()) => true,
        Err(e) => {
            eprintln!(
                "locksmith: ERROR: could not release lock `{name}` in row `{row}` held by {holder}: {e}\n\
                 locksmith: the lock is STILL HELD. Free it with:\n\
                 locksmith:   locksmith locks force-release {row} --holder '{holder}'"
            );
            false
        }
    }
}
