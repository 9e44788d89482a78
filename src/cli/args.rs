//! Every clap type of the command line, in one place: doc comments are the
//! help text, small `#[derive(Args)]` groups are flattened into the
//! subcommands, and each group turns itself into the library's ready form
//! (a URL, a migration set, acquire options) before anything connects.

use super::output::Format;
use crate::bench::BenchOptions;
use crate::error::{Error, Kind, Result};
use crate::locks::AcquireOptions;
use crate::migrate::MigrationSet;
use crate::DbUrl;
use clap::{ArgGroup, Args, Parser, Subcommand};
use std::path::PathBuf;
use std::time::Duration;

const EXIT_CODES: &str = "\
Exit codes:
  0    success
  1    failure (failed migration, corrupt data, aborted at the prompt)
  2    usage error or invalid input (bad flag, no URL, unstorable lock name)
  3    database or connection error
  4    conflict: lock held, row version moved, wait timed out, refused
  5    not found: no such row, lock, table or database
  6    migrate status --check: schema not current
  128+N  interrupted by signal N: 130 for SIGINT (Ctrl-C), 143 for SIGTERM
`locks run` exits with the command's status (128+N if a signal N ended it),
or 3 if the command succeeded but the lock could not be released.";

/// Migrations, operator commands and cross-process locks for MySQL/MariaDB
/// `locks` tables.
#[derive(Debug, Parser)]
#[command(name = "locksmith", version, after_help = EXIT_CODES)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalOpts,
    #[command(subcommand)]
    pub command: Command,
}

/// Options every command takes, before or after the subcommand.
#[derive(Debug, Args, Clone)]
pub struct GlobalOpts {
    /// How long each connect and each statement may take, and the whole
    /// command unless it has a deadline of its own (--wait, --lock-timeout).
    #[arg(
        long,
        global = true,
        env = "LOCKSMITH_TIMEOUT",
        value_name = "DURATION",
        default_value = "30s",
        value_parser = parse_duration
    )]
    pub timeout: Duration,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Apply, roll back and inspect the schema migrations.
    #[command(subcommand)]
    Migrate(MigrateCmd),
    /// Inspect, take and free locks.
    #[command(subcommand)]
    Locks(LocksCmd),
    /// Measure lock throughput against the single-row UPDATE ceiling.
    Bench(BenchArgs),
}

/// Where the database is.
#[derive(Debug, Args, Clone)]
pub struct ConnectOpts {
    /// Database URL, mysql://user:pass@host:port/db. Falls back to DATABASE_URL.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true, value_name = "URL")]
    pub url: Option<String>,
}

impl ConnectOpts {
    /// The URL, from --url or DATABASE_URL.
    pub fn parse_url(&self) -> Result<DbUrl> {
        DbUrl::from_arg(self.url.as_deref())
    }
}

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
    /// The migration set these options name.
    pub fn set(&self) -> Result<MigrationSet> {
        match &self.source {
            Some(dir) => MigrationSet::from_dir(dir),
            None => Ok(MigrationSet::embedded()),
        }
    }
}

/// Output format.
#[derive(Debug, Args, Clone)]
pub struct FormatOpts {
    /// Output format.
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

#[derive(Debug, Subcommand)]
pub enum MigrateCmd {
    /// Apply pending migrations (safe to run on every deploy, and concurrently).
    Up {
        #[command(flatten)]
        conn: ConnectOpts,
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
    Down {
        #[command(flatten)]
        conn: ConnectOpts,
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
        /// Drop tables even if they still hold locks or audit records.
        #[arg(long)]
        force: bool,
    },
    /// List every migration with its state, checked against the history
    /// and the live tables: applied, pending, divergent, applied-unknown,
    /// missing, present-unrecorded, drifted or interrupted.
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
    MarkApplied {
        #[command(flatten)]
        conn: ConnectOpts,
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
    },
}

#[derive(Debug, Subcommand)]
pub enum LocksCmd {
    /// Show lock rows: one line per held lock.
    #[command(visible_alias = "list")]
    Dump {
        #[command(flatten)]
        conn: ConnectOpts,
        #[command(flatten)]
        format: FormatOpts,
        /// Only these rows (default: all).
        rows: Vec<String>,
    },
    /// Release locks whoever holds them: by name, by holder, or all.
    #[command(group(ArgGroup::new("what").args(["names", "holder", "all"]).required(true)))]
    ForceRelease {
        #[command(flatten)]
        conn: ConnectOpts,
        #[command(flatten)]
        change: ChangeOpts,
        /// The lock row.
        row: String,
        /// Lock names to release.
        names: Vec<String>,
        /// Release every lock this holder holds.
        #[arg(long, value_name = "H")]
        holder: Option<String>,
        /// Release everything in the row (also repairs unparsable data; the
        /// old text is printed).
        #[arg(long)]
        all: bool,
    },
    /// Increase a row's version without touching its locks, so that writers
    /// holding the old version can no longer commit.
    Bump {
        #[command(flatten)]
        conn: ConnectOpts,
        #[command(flatten)]
        change: ChangeOpts,
        /// The lock row.
        row: String,
        /// How much to add.
        #[arg(long, default_value_t = 1, value_name = "N", value_parser = clap::value_parser!(i64).range(1..=i32::MAX as i64))]
        by: i64,
    },
    /// Mend a row no lock write can handle safely (a version that is NULL,
    /// not a number or at the INT maximum; a name written twice; data that
    /// is not a JSON object). Shows first every lock it would drop, and
    /// keeps the old text in the audit trail.
    Repair {
        #[command(flatten)]
        conn: ConnectOpts,
        #[command(flatten)]
        change: ChangeOpts,
        /// The lock row, exactly as stored.
        row: String,
    },
    /// Show the audit trail of operator changes.
    History {
        #[command(flatten)]
        conn: ConnectOpts,
        #[command(flatten)]
        format: FormatOpts,
        /// Only this row.
        row: Option<String>,
    },
    /// Take a lock for a holder; exit 0 once held, 4 if busy.
    Acquire {
        #[command(flatten)]
        conn: ConnectOpts,
        #[command(flatten)]
        wait: WaitOpts,
        #[command(flatten)]
        lock: LockRef,
        /// Who holds it (a task id, host:pid, …).
        #[arg(long, value_name = "H")]
        holder: String,
    },
    /// Release a lock, only if the holder holds it.
    Release {
        #[command(flatten)]
        conn: ConnectOpts,
        #[command(flatten)]
        lock: LockRef,
        /// Who holds it.
        #[arg(long, value_name = "H")]
        holder: String,
    },
    /// Run a command while holding a lock; release it when the command exits.
    Run {
        #[command(flatten)]
        conn: ConnectOpts,
        #[command(flatten)]
        wait: WaitOpts,
        #[command(flatten)]
        lock: LockRef,
        /// Who holds it (default: HOST:PID of this locksmith).
        #[arg(long, value_name = "H")]
        holder: Option<String>,
        /// How long to keep trying to release the lock after the command
        /// exits, while the server cannot be reached.
        #[arg(long, value_name = "DURATION", default_value = "10m", value_parser = parse_duration)]
        release_timeout: Duration,
        /// The command and its arguments, after `--`.
        #[arg(last = true, required = true, value_name = "CMD")]
        command: Vec<String>,
    },
}

/// Which lock.
#[derive(Debug, Args, Clone)]
pub struct LockRef {
    /// The lock row (acquire creates it when missing).
    pub row: String,
    /// The lock name.
    pub name: String,
}

/// Waiting for a busy lock.
#[derive(Debug, Args, Clone)]
pub struct WaitOpts {
    /// Keep trying this long while the lock is busy (e.g. 30s, 5m).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub wait: Option<Duration>,
    /// Also refuse (and wait) while a lock matching this glob is held. Repeatable.
    #[arg(long, value_name = "PATTERN")]
    pub unless_held: Vec<String>,
}

impl WaitOpts {
    /// The ready form: globs compiled.
    pub fn options(&self) -> Result<AcquireOptions> {
        let unless_held = self
            .unless_held
            .iter()
            .map(|p| {
                glob::Pattern::new(p).map_err(|e| {
                    Error::from(Kind::Invalid(format!(
                        "bad --unless-held pattern {p:?}: {e}"
                    )))
                })
            })
            .collect::<Result<_>>()?;
        Ok(AcquireOptions {
            wait: self.wait,
            unless_held,
        })
    }
}

/// Options of `locksmith bench`.
#[derive(Debug, Args, Clone)]
pub struct BenchArgs {
    #[command(flatten)]
    pub conn: ConnectOpts,
    /// Concurrent workers, each with its own connection.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub workers: u16,
    /// How long each phase (ceiling, locks) runs in all; they alternate in
    /// four slices.
    #[arg(long, default_value = "3s", value_parser = parse_duration)]
    pub duration: Duration,
    /// Fill the scratch row with this many other locks first.
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u16).range(0..=2000))]
    pub held: u16,
    #[command(flatten)]
    pub format: FormatOpts,
}

impl BenchArgs {
    /// The ready form.
    pub fn options(&self) -> BenchOptions {
        BenchOptions {
            workers: usize::from(self.workers),
            duration: self.duration,
            held: usize::from(self.held),
        }
    }
}

/// A guard's TTL: at least 2 s (its heartbeat beats every TTL/5), at most
/// an hour.
fn parse_ttl(s: &str) -> std::result::Result<Duration, String> {
    let d = parse_duration(s)?;
    if d < Duration::from_secs(2) || d > Duration::from_secs(3600) {
        return Err("must be between 2s and 1h".into());
    }
    Ok(d)
}

/// The longest duration any flag takes: ten years is forever enough.
const DURATION_MAX: Duration = Duration::from_secs(10 * 365 * 24 * 3600);

/// `30s`, `5m`, `1h30m`, `250ms`; a bare number is seconds. At most ten
/// years.
pub fn parse_duration(s: &str) -> std::result::Result<Duration, String> {
    let d = match s.trim().parse::<f64>() {
        Ok(secs) if !secs.is_finite() || secs < 0.0 => {
            return Err("must be a positive number of seconds (try 30s, 5m or 250ms)".into())
        }
        Ok(secs) if secs > DURATION_MAX.as_secs_f64() => None,
        Ok(secs) => Some(Duration::from_secs_f64(secs)),
        Err(_) => {
            Some(humantime::parse_duration(s).map_err(|e| format!("{e} (try 30s, 5m or 250ms)"))?)
        }
    };
    match d {
        Some(d) if d <= DURATION_MAX => Ok(d),
        _ => Err("is longer than ten years, the most locksmith waits for anything".into()),
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

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30s").unwrap(), Duration::from_secs(30));
        assert_eq!(parse_duration("2").unwrap(), Duration::from_secs(2));
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse_duration("1m30s").unwrap(), Duration::from_secs(90));
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("1e19").is_err(), "range-checked, no panic");
        assert!(parse_duration("1e20s").is_err());
        assert!(parse_duration("-1").is_err());
        assert!(parse_duration("NaN").is_err());
        assert!(parse_duration("99999999999h").is_err());
    }
}
