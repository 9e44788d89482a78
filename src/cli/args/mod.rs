//! Every clap type of the command line, in one place: doc comments are the
//! help text, small `#[derive(Args)]` groups are flattened into the
//! subcommands, and each group turns itself into the library's ready form
//! (a URL, a migration set, acquire options) before anything connects.
//!
//! This file holds the top (`Cli`, `Command`) and the groups several
//! commands share; each command family's own types sit beside it:
//! `migrate.rs`, `locks.rs`, and `service.rs` (`serve`, `bench`).

mod locks;
mod migrate;
mod service;

pub use locks::*;
pub use migrate::*;
pub use service::*;

use super::help;
use super::output::Format;
use super::values::{parse_duration, parse_probe};
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;
use std::time::Duration;

/// Migrations, operator commands and cross-process locks for MySQL/MariaDB
/// `locks` tables.
#[derive(Debug, Parser)]
#[command(name = "locksmith", version, after_help = help::top())]
pub struct Cli {
    /// Connection options given before the subcommand (`locksmith --url U
    /// migrate up`); the same options after it win.
    #[command(flatten)]
    pub conn: ConnectOpts,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Apply, roll back and inspect the schema migrations.
    #[command(subcommand, after_help = help::MIGRATE)]
    Migrate(MigrateCmd),
    /// Inspect, take and free locks.
    #[command(subcommand, after_help = help::LOCKS)]
    Locks(LocksCmd),
    /// Measure lock throughput against the row's physical limit (row and INT ceilings).
    #[command(after_help = help::BENCH)]
    Bench(BenchArgs),
    /// Serve Prometheus metrics (/metrics) and a read-only status page (/)
    /// of the locks and migrations.
    #[command(after_help = help::SERVE)]
    Serve(ServeArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    #[command(after_help = help::COMPLETIONS)]
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff), for `man -l -` or a man directory.
    #[command(after_help = help::MAN)]
    Man,
}

impl Command {
    /// The connection options given after the subcommand, for a command
    /// that connects.
    pub fn conn(&self) -> Option<&ConnectOpts> {
        match self {
            Command::Migrate(m) => Some(m.conn()),
            Command::Locks(l) => Some(l.conn()),
            Command::Bench(b) => Some(&b.conn),
            Command::Serve(s) => Some(&s.conn),
            Command::Completions { .. } | Command::Man => None,
        }
    }
}

/// Where the database is and how to reach it, before or after the
/// subcommand. Flags win over the environment, which wins over `.env`.
#[derive(Debug, Args, Clone, Default)]
pub struct ConnectOpts {
    /// Database URL: mysql://user@host:port/db, with ?ssl-mode=, ssl-ca=,
    /// ssl-cert=, ssl-key=, socket=. [env: DATABASE_URL]
    #[arg(help_heading = "Connection", long, value_name = "URL")]
    pub url: Option<String>,
    /// Read the password from this file (its one trailing newline is
    /// dropped), not from the command line; a FIFO works, e.g. <(pass show
    /// db). [env: LOCKSMITH_PASSWORD_FILE]
    #[arg(help_heading = "Connection", long, value_name = "PATH")]
    pub password_file: Option<PathBuf>,
    /// Read user, password, host, port, socket and ssl-ca from the `[client]`
    /// section of this option file instead of ~/.my.cnf (as the mysql client
    /// reads it: !include and !includedir followed).
    #[arg(help_heading = "Connection", long, value_name = "PATH")]
    pub defaults_file: Option<PathBuf>,
    /// Keep trying to connect this long while the server is not up yet
    /// (not after "access denied" or "unknown database"). [env:
    /// LOCKSMITH_WAIT_FOR_DB] [default: 0s]
    #[arg(help_heading = "Connection", long, value_name = "DURATION", value_parser = parse_duration)]
    pub wait_for_db: Option<Duration>,
    /// How long each connect and each statement may take, and the whole
    /// command unless it has a deadline of its own (--wait,
    /// --lock-timeout); also how long the files named here may take to
    /// read. [env: LOCKSMITH_TIMEOUT] [default: 30s]
    #[arg(help_heading = "Connection", long, value_name = "DURATION", value_parser = parse_duration)]
    pub timeout: Option<Duration>,
    /// Say on stderr what each connection reached: node, server, TLS
    /// version and cipher.
    #[arg(help_heading = "Connection", long, short = 'v')]
    pub verbose: bool,
}

/// Output format.
#[derive(Debug, Args, Clone)]
pub struct FormatOpts {
    /// Output format: a table or text for people, or one JSON document.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

/// Safety switches shared by commands that change a row.
#[derive(Debug, Args, Clone)]
pub struct ChangeOpts {
    /// Fail (exit 4) unless the row is still at this version.
    #[arg(long, value_name = "V", value_parser = clap::value_parser!(i64).range(0..=i32::MAX as i64))]
    pub expect_version: Option<i64>,
    /// Show what would change; write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Do not ask for confirmation (for scripts). Without a terminal this is required.
    #[arg(long, short = 'y')]
    pub yes: bool,
}

/// An operator's check for holders locksmith did not register.
#[derive(Debug, Args, Clone)]
pub struct ProbeOpts {
    /// Ask this shell command whether a holder locksmith did not register
    /// is alive: it runs once per such holder with the holder in
    /// $LOCKSMITH_HOLDER; exit 0 alive, 1 dead, else unknown; its first
    /// line of output says why. Holders are asked 8 at a time, and
    /// --timeout ends every probe still running.
    #[arg(long, value_name = "CMD", value_parser = parse_probe)]
    pub probe: Option<String>,
    /// How long each probe may take.
    #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = parse_duration, requires = "probe")]
    pub probe_timeout: Duration,
}

impl ProbeOpts {
    /// The ready form.
    pub fn probe(&self) -> Option<crate::liveness::Probe> {
        self.probe
            .as_deref()
            .map(|c| crate::liveness::Probe::new(c, self.probe_timeout))
    }
}

/// What goes into the Prometheus metrics (`serve`, `locks dump --format
/// prometheus`).
#[derive(Debug, Args, Clone)]
pub struct MetricsOpts {
    /// Metrics: also label each lock's series with its holder (a series
    /// per holder: many, when every run is a new task id).
    #[arg(help_heading = "Metrics", long)]
    pub holder_labels: bool,
    /// Metrics: at most this many per-lock series (lock ages, waiters and
    /// longest waits); past it the oldest locks are kept, and
    /// locksmith_series_dropped says how many were left out.
    #[arg(
        help_heading = "Metrics",
        long,
        value_name = "N",
        default_value_t = 1000
    )]
    pub max_series: usize,
}

impl MetricsOpts {
    /// The ready form.
    pub fn options(&self) -> super::output::metrics::MetricsOptions {
        super::output::metrics::MetricsOptions {
            holder_labels: self.holder_labels,
            max_series: self.max_series,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_well_formed() {
        Cli::command().debug_assert();
    }
}
