//! The command line: [`args`] holds every clap type, one file per command
//! group carries the commands out through the library (`migrate`, `locks`,
//! `run`, `bench`), `signals` says what SIGINT and SIGTERM do, and
//! [`output`] builds everything printed. `main.rs` only parses, calls
//! [`run`] and turns the result into an exit code.

pub mod args;
mod bench;
mod locks;
mod migrate;
pub mod output;
mod run;
mod signals;

pub use args::{Cli, Command};

use crate::db::ConnectOptions;
use crate::error::Result;
use signals::Stop;
use std::time::Duration;

/// What every command gets besides its own flags.
struct Ctx {
    /// Signals, caught for the whole run.
    stop: Stop,
    /// `--timeout`: each connect and statement, and the whole command
    /// unless it has a deadline of its own.
    timeout: Duration,
}

impl Ctx {
    fn connect(&self) -> ConnectOptions {
        ConnectOptions {
            timeout: self.timeout,
            ..ConnectOptions::default()
        }
    }
}

/// Runs a parsed command line. Returns the exit code on success (only
/// `locks run` returns anything but 0).
pub async fn run(cli: Cli) -> Result<u8> {
    let ctx = Ctx {
        stop: Stop::listen()?,
        timeout: cli.global.timeout,
    };
    match cli.command {
        Command::Migrate(cmd) => migrate::run(&ctx, cmd).await,
        Command::Locks(cmd) => locks::run(&ctx, cmd).await,
        Command::Bench(args) => bench::run(&ctx, args).await,
    }
}

/// Whether a command wants a multi-threaded runtime (the bench spreads its
/// workers over the cores; everything else is one thread, cheap to start).
pub fn wants_threads(cli: &Cli) -> bool {
    matches!(cli.command, Command::Bench(_))
}

/// Shows `plan` and asks to go on. A blocking read of the terminal, on a
/// thread of its own, so that a signal still ends the command at once.
async fn ask(stop: &Stop, plan: String) -> Result<()> {
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
fn audit_command() -> String {
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
