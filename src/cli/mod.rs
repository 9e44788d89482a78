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
