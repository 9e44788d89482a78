//! The clap types of `locksmith migrate`: its subcommands, and the groups
//! only they use (which migrations, sharing the database with other runs).

use super::{ConnectOpts, FormatOpts};
use crate::cli::help;
use crate::cli::values::{parse_duration, parse_ttl};
use crate::error::Result;
use crate::migrate::MigrationSet;
use clap::{ArgGroup, Args, Subcommand};
use std::path::PathBuf;
use std::time::Duration;

/// Which migrations to use.
#[derive(Debug, Args, Clone)]
pub struct SourceOpts {
    /// Read migrations from DIR (files like V3__add_index.sql, each with its
    /// V3__add_index.down.sql beside it) instead of the ones built into
    /// locksmith.
    #[arg(long, value_name = "DIR")]
    pub source: Option<PathBuf>,
}

/// Sharing the database with other migration runs.
#[derive(Debug, Args, Clone)]
pub struct GuardOpts {
    /// How long to wait while another migration run holds the guard (e.g.
    /// 30s, 5m).
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = parse_duration)]
    pub lock_timeout: Duration,
    /// How long a run's guard lives without its heartbeat: a run that died
    /// is taken over after this.
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = parse_ttl)]
    pub lease_ttl: Duration,
}

impl SourceOpts {
    /// The migration set these options name, a directory read within
    /// `timeout`.
    pub fn set(&self, timeout: Duration) -> Result<MigrationSet> {
        match &self.source {
            Some(dir) => MigrationSet::from_dir_within(dir, timeout),
            None => Ok(MigrationSet::embedded()),
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum MigrateCmd {
    /// Apply pending migrations (safe to run on every deploy, and concurrently).
    #[command(after_help = help::UP)]
    Up {
        #[command(flatten)]
        conn: ConnectOpts,
        #[command(flatten)]
        format: FormatOpts,
        #[command(flatten)]
        source: SourceOpts,
        #[command(flatten)]
        guard: GuardOpts,
        /// Apply migrations up to and including version V only.
        #[arg(long, value_name = "V", value_parser = clap::value_parser!(i32).range(0..))]
        target: Option<i32>,
        /// Print the SQL that would run; change nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Roll back migrations, newest first (one by default).
    #[command(group(ArgGroup::new("how_far").args(["target", "all"])))]
    #[command(after_help = help::DOWN)]
    Down {
        #[command(flatten)]
        conn: ConnectOpts,
        #[command(flatten)]
        format: FormatOpts,
        #[command(flatten)]
        source: SourceOpts,
        #[command(flatten)]
        guard: GuardOpts,
        /// Roll back every migration above version V.
        #[arg(long, value_name = "V", value_parser = clap::value_parser!(i32).range(0..))]
        target: Option<i32>,
        /// Roll back every applied migration.
        #[arg(long)]
        all: bool,
        /// Print what would be rolled back and the SQL; change nothing.
        #[arg(long)]
        dry_run: bool,
        /// Drop tables even if they still hold locks or audit records (and
        /// the copies an interrupted down left of them, `locks_dropping_…`).
        #[arg(long)]
        force: bool,
    },
    /// List every migration with its state, checked against the history
    /// and the live tables: applied, pending, divergent, applied-unknown,
    /// missing, present-unrecorded, drifted or interrupted.
    #[command(after_help = help::STATUS)]
    Status {
        #[command(flatten)]
        conn: ConnectOpts,
        #[command(flatten)]
        source: SourceOpts,
        #[command(flatten)]
        format: FormatOpts,
        /// Exit 6 unless every migration is applied (for deploy gates).
        #[arg(long)]
        check: bool,
    },
    /// Record one migration as applied without running it, after checking
    /// by hand that its work is done (a run that died halfway through it,
    /// tables another tool made). Asks first; audited.
    #[command(after_help = help::MARK_APPLIED)]
    MarkApplied {
        #[command(flatten)]
        conn: ConnectOpts,
        #[command(flatten)]
        format: FormatOpts,
        #[command(flatten)]
        source: SourceOpts,
        #[command(flatten)]
        guard: GuardOpts,
        /// The migration's version (3 for V3__add_index).
        #[arg(value_name = "VERSION", value_parser = clap::value_parser!(i32).range(0..))]
        version: i32,
        /// Show what would be recorded; change nothing.
        #[arg(long)]
        dry_run: bool,
        /// Do not ask for confirmation (for scripts). Without a terminal this is required.
        #[arg(long, short = 'y')]
        yes: bool,
        /// Record it even when nothing shows it took effect (its tables do
        /// not exist), or when an earlier migration is not recorded.
        #[arg(long)]
        force: bool,
    },
}

impl MigrateCmd {
    /// Its connection options.
    pub fn conn(&self) -> &ConnectOpts {
        match self {
            MigrateCmd::Up { conn, .. }
            | MigrateCmd::Down { conn, .. }
            | MigrateCmd::Status { conn, .. }
            | MigrateCmd::MarkApplied { conn, .. } => conn,
        }
    }
}
