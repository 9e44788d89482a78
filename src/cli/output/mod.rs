//! Everything the command line prints, built in one place: tables and the
//! listings' JSON documents ([`dump`] for `locks dump`, [`tables`] for the
//! others), the JSON documents of changes
//! ([`docs`]), text transcripts of changes and migration runs
//! ([`text`]), Prometheus metrics ([`metrics`]) and the status page of
//! `serve` ([`page`]), the table style (`style`), the wait line and the
//! confirmation prompt (here).
//!
//! Data goes to stdout; progress, prompts and warnings go to stderr as
//! `locksmith: …`. Tables use colour only when stdout is a terminal and
//! `NO_COLOR` is unset. A closed stdout (`| head`) ends a listing quietly;
//! a command whose output reports a change, or a lock taken, says on
//! stderr what became of it ([`unwritable`] says why).

pub mod docs;
pub mod dump;
pub mod hints;
pub mod metrics;
pub mod page;
mod style;
pub mod tables;
pub mod text;

pub use docs::{ChangeDoc, ChangeLock, DownDoc, Evidence, LockDoc, MarkDoc, UpDoc};
pub use dump::{Dump, DumpBlocker, DumpLiveness, DumpLock, DumpRegistration, DumpRow, DumpWaiter};
pub use tables::{GuardDoc, HistoryDoc, StatusDoc, StatusLine};

use crate::error::{Error, Kind, Result};
use std::io::{IsTerminal, Write};

/// Output format of listing commands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// A table (or text) for people.
    Table,
    /// JSON for scripts (schema in README.md).
    Json,
}

/// Writes to stdout; a closed pipe ends the command quietly.
pub fn out(text: &str) -> Result<()> {
    let mut o = std::io::stdout().lock();
    match o.write_all(text.as_bytes()).and_then(|()| o.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Err(Kind::BrokenPipe.into()),
        r => r.map_err(Error::from),
    }
}

/// Why stdout could not be written, from what [`out`] returned: for the
/// commands that must say so (a change that stands, an acquire undone).
pub fn unwritable(e: &Error) -> String {
    match e.kind() {
        Kind::BrokenPipe => "its reader has gone away (broken pipe)".into(),
        _ => e.to_string(),
    }
}

/// After a change that stands, what printing its report came to: when
/// stdout could not be written, the change is said on stderr instead
/// (`transcript`, line by line), and the command still succeeds, so that a
/// script does not make it twice.
pub fn reported(printed: Result<()>, transcript: &str) -> Result<()> {
    if let Err(e) = printed {
        note(&format!(
            "cannot write to stdout: {}; the change was made:",
            unwritable(&e)
        ));
        for line in transcript.lines() {
            note(&format!("  {line}"));
        }
    }
    Ok(())
}

/// Writes a value as pretty JSON, one document, to stdout.
pub fn out_json<T: serde::Serialize>(doc: &T) -> Result<()> {
    let text = serde_json::to_string_pretty(doc)
        .map_err(|e| Error::from(Kind::Internal(format!("cannot write JSON: {e}"))))?;
    out(&format!("{text}\n"))
}

/// A diagnostic line on stderr.
pub fn note(text: &str) {
    eprintln!("locksmith: {text}");
}

/// Asks on the terminal whether to go ahead with `plan`; refuses without a
/// terminal.
pub fn confirm(plan: &str) -> Result<()> {
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        return Err(Kind::Invalid(
            "refusing to go on without confirmation: stdin is not a terminal; pass --yes (or --dry-run to look first)".into(),
        )
        .into());
    }
    eprint!("{plan}Proceed? [y/N] ");
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    stdin.read_line(&mut answer)?;
    if matches!(answer.trim(), "y" | "Y" | "yes" | "YES" | "Yes") {
        Ok(())
    } else {
        Err(Kind::Aborted.into())
    }
}

/// Says on stderr what a waiter waits for: on a terminal one line updated in
/// place, otherwise one line each time the reason changes, and again every
/// [`WaitLine::REPEAT`] while it does not (a log shows the wait goes on).
pub struct WaitLine {
    tty: bool,
    last: Option<String>,
    since: std::time::Instant,
    said: std::time::Instant,
}

impl WaitLine {
    /// A wait line for stderr.
    pub fn new() -> WaitLine {
        WaitLine {
            tty: std::io::stderr().is_terminal(),
            last: None,
            since: std::time::Instant::now(),
            said: std::time::Instant::now(),
        }
    }

    /// Another attempt found the lock busy, for this reason.
    pub fn waiting(&mut self, why: &Error) {
        self.say(&format!("waiting: {why}"));
    }

    /// How often a wait without a terminal says it still waits.
    pub const REPEAT: std::time::Duration = std::time::Duration::from_secs(10);

    /// Says what it waits for (one line, updated in place on a terminal).
    pub fn say(&mut self, msg: &str) {
        let msg = msg.to_string();
        let secs = self.since.elapsed().as_secs();
        if self.tty {
            eprint!("\r\x1b[Klocksmith: {msg} ({secs}s)");
        } else if self.last.as_deref() != Some(msg.as_str()) {
            note(&msg);
            self.said = std::time::Instant::now();
        } else if self.said.elapsed() >= Self::REPEAT {
            note(&format!("{msg} (still, after {secs}s)"));
            self.said = std::time::Instant::now();
        }
        self.last = Some(msg);
    }

    /// The wait is over: clears the line on a terminal.
    pub fn done(&self) {
        if self.tty && self.last.is_some() {
            eprint!("\r\x1b[K");
        }
    }
}

/// A progress line on stderr, only on a terminal (updated in place, cleared
/// at the end): logs and pipes get the result alone.
pub struct Progress {
    tty: bool,
}

impl Progress {
    /// A progress line for stderr.
    pub fn new() -> Progress {
        Progress {
            tty: std::io::stderr().is_terminal(),
        }
    }

    /// Says where the work is.
    pub fn say(&mut self, msg: &str) {
        if self.tty {
            eprint!("\r\x1b[Klocksmith: {msg}");
        }
    }

    /// Clears the line.
    pub fn done(&self) {
        if self.tty {
            eprint!("\r\x1b[K");
        }
    }
}

impl Default for Progress {
    fn default() -> Self {
        Progress::new()
    }
}

impl Default for WaitLine {
    fn default() -> Self {
        WaitLine::new()
    }
}
