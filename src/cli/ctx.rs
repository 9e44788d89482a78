//! What every command that connects gets besides its own flags: the
//! signals, the deadline, the resolved URL, and the two things several
//! commands do alike (asking before a change, naming the command in the
//! audit trail). Apart from `mod.rs`, so that the commands depend on it and
//! not on the dispatcher.

use super::output;
use super::signals::Stop;
use crate::db::{ConnectOptions, DbUrl, Deadline, Reporter};
use crate::error::Result;
use crate::locks::LockTable;
use std::time::Duration;

/// What every command that connects gets besides its own flags.
pub(super) struct Ctx {
    /// Signals, caught for the whole run.
    pub(super) stop: Stop,
    /// `--timeout`: each connect and statement, and the whole command
    /// unless it has a deadline of its own.
    pub(super) timeout: Duration,
    /// Where the database is, with its credentials.
    pub(super) url: DbUrl,
    /// `--verbose`: says what each connection reached.
    pub(super) report: Option<Reporter>,
}

impl Ctx {
    /// How every connection of the command is made.
    pub(super) fn connect(&self) -> ConnectOptions {
        ConnectOptions {
            timeout: self.timeout,
            report: self.report.clone(),
            ..ConnectOptions::default()
        }
    }

    /// `--timeout` from now: the deadline of a command (or a step of one)
    /// that has none of its own.
    pub(super) fn deadline(&self) -> Deadline {
        Deadline::after(self.timeout)
    }

    /// Connects to the lock table of `url` by `until`; a signal stops it
    /// at once.
    pub(super) async fn lock_table(&self, url: &DbUrl, until: Deadline) -> Result<LockTable> {
        self.stop
            .guard(LockTable::connect_until(url, &self.connect(), until))
            .await
    }
}

/// Shows `plan` and asks to go on. A blocking read of the terminal, on a
/// thread of its own, so that a signal still ends the command at once.
pub(super) async fn ask(stop: &Stop, plan: String) -> Result<()> {
    let answer = tokio::task::spawn_blocking(move || output::confirm(&plan));
    stop.guard(async {
        answer
            .await
            .map_err(|e| crate::error::Kind::Internal(format!("the prompt failed: {e}")).into())
            .and_then(|r| r)
    })
    .await
}

/// The command line for the audit record, without `--url` and its value.
pub(super) fn audit_command() -> String {
    let mut parts = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        if a == "--url" {
            args.next();
            continue;
        }
        if a.starts_with("--url=") {
            continue;
        }
        if a.is_empty() || a.contains(|c: char| c.is_whitespace() || "'\"\\$`".contains(c)) {
            parts.push(format!("{a:?}"));
        } else {
            parts.push(a);
        }
    }
    format!("locksmith {}", parts.join(" "))
}
