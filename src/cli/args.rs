//! Every clap type of the command line, in one place: doc comments are the
//! help text, small `#[derive(Args)]` groups are flattened into the
//! subcommands, and each group turns itself into the library's ready form
//! (a URL, a migration set, acquire options) before anything connects.

use super::help;
use super::output::Format;
use super::values::{parse_duration, parse_interval, parse_lease, parse_phase, parse_ttl};
use crate::bench::BenchOptions;
use crate::error::{Error, Kind, Result};
use crate::locks::AcquireOptions;
use crate::migrate::MigrationSet;
use clap::{ArgGroup, Args, Parser, Subcommand};
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

#[derive(Debug, Subcommand)]
pub enum LocksCmd {
    /// Show lock rows: one line per held lock.
    #[command(visible_alias = "list")]
    #[command(after_help = help::DUMP)]
    Dump {
        #[command(flatten)]
        conn: ConnectOpts,
        #[command(flatten)]
        format: DumpFormatOpts,
        #[command(flatten)]
        probe: ProbeOpts,
        #[command(flatten)]
        metrics: MetricsOpts,
        /// Also list who waits for which lock, and deadlocks among them.
        #[arg(long)]
        waiters: bool,
        /// Only these rows (default: all).
        rows: Vec<String>,
    },
    /// Release locks whoever holds them: those of dead holders, by name, by
    /// holder, or all.
    #[command(group(ArgGroup::new("what").args(["names", "holder", "all", "dead"]).required(true)))]
    #[command(
        after_help = help::FORCE_RELEASE,
        override_usage = "locksmith locks force-release [OPTIONS] <ROW> --dead\n       locksmith locks force-release [OPTIONS] <ROW> <NAMES>...\n       locksmith locks force-release [OPTIONS] <ROW> --holder <H>\n       locksmith locks force-release [OPTIONS] <ROW> --all"
    )]
    ForceRelease {
        #[command(flatten)]
        conn: ConnectOpts,
        #[command(flatten)]
        format: FormatOpts,
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
        /// Release exactly the locks whose holders are dead (a lease that
        /// expired, a process gone from this host), checked again just
        /// before the write; unknown holders are kept.
        #[arg(long)]
        dead: bool,
        #[command(flatten)]
        probe: ProbeOpts,
    },
    /// Increase a row's version without touching its locks, so that writers
    /// holding the old version can no longer commit.
    #[command(after_help = help::BUMP)]
    Bump {
        #[command(flatten)]
        conn: ConnectOpts,
        #[command(flatten)]
        format: FormatOpts,
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
    #[command(after_help = help::REPAIR)]
    Repair {
        #[command(flatten)]
        conn: ConnectOpts,
        #[command(flatten)]
        format: FormatOpts,
        #[command(flatten)]
        change: ChangeOpts,
        /// The lock row, exactly as stored.
        row: String,
    },
    /// Show the audit trail of operator changes.
    #[command(after_help = help::HISTORY)]
    History {
        #[command(flatten)]
        conn: ConnectOpts,
        #[command(flatten)]
        format: FormatOpts,
        /// Only this row.
        row: Option<String>,
    },
    /// Take a lock for a holder (creating the row if it is missing); exit 0
    /// once held, 4 if busy.
    #[command(after_help = help::ACQUIRE)]
    Acquire {
        #[command(flatten)]
        conn: ConnectOpts,
        #[command(flatten)]
        format: FormatOpts,
        #[command(flatten)]
        wait: WaitOpts,
        #[command(flatten)]
        lock: LockRef,
        /// Who holds it (a task id, host:pid, …).
        #[arg(long, value_name = "H")]
        holder: String,
        /// The process whose life the lock follows, for others to tell
        /// whether the holder is alive (default: the parent of locksmith,
        /// the shell or service that runs it).
        #[arg(long, value_name = "PID")]
        holder_pid: Option<i32>,
        /// Judge the holder by a lease instead: it is dead unless `locks
        /// renew` renews it within this long (e.g. 30s).
        #[arg(long, value_name = "DURATION", value_parser = parse_lease)]
        lease: Option<Duration>,
        #[command(flatten)]
        take_over: TakeOverOpts,
    },
    /// Renew a holder's lease on a lock (as `locks run` does by itself):
    /// exit 0 while the holder holds it, 4 or 5 once it does not.
    #[command(after_help = help::RENEW)]
    Renew {
        #[command(flatten)]
        conn: ConnectOpts,
        #[command(flatten)]
        lock: LockRef,
        /// Whose lease.
        #[arg(long, value_name = "H")]
        holder: String,
    },
    /// Release a lock, only if the holder holds it.
    #[command(after_help = help::RELEASE)]
    Release {
        #[command(flatten)]
        conn: ConnectOpts,
        #[command(flatten)]
        format: FormatOpts,
        #[command(flatten)]
        lock: LockRef,
        /// Who holds it.
        #[arg(long, value_name = "H")]
        holder: String,
    },
    /// Run a command while holding a lock; release it when the command exits.
    #[command(after_help = help::RUN)]
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
        /// How long the command gets to exit after a signal passed on to it,
        /// and what it left running after SIGTERM, before SIGKILL.
        #[arg(long, value_name = "DURATION", default_value = "1s", value_parser = parse_duration)]
        kill_after: Duration,
        /// The holder's lease: run renews it every third of it, and a holder
        /// not heard from for this long is dead to others.
        #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = parse_lease)]
        lease: Duration,
        /// When the lock is lost while the command runs (released by an
        /// operator, taken over): stop the command (SIGTERM, SIGKILL after
        /// --kill-after) and exit 7, or keep it running.
        #[arg(long, value_enum, default_value_t = OnLost::Stop, value_name = "WHAT")]
        on_lost: OnLost,
        #[command(flatten)]
        take_over: TakeOverOpts,
        /// The command and its arguments, after `--`.
        #[arg(last = true, required = true, value_name = "CMD")]
        command: Vec<String>,
    },
    /// A live full-screen view of the locks: each holder alive, dead or
    /// unknown, its age and who waits behind it, deadlocks on top; release
    /// a row's dead holders from it. Without a terminal (or with --once) it
    /// prints one snapshot, as `locks dump --waiters` does.
    #[command(after_help = help::WATCH)]
    Watch(WatchArgs),
}

impl LocksCmd {
    /// Its connection options.
    pub fn conn(&self) -> &ConnectOpts {
        match self {
            LocksCmd::Dump { conn, .. }
            | LocksCmd::ForceRelease { conn, .. }
            | LocksCmd::Bump { conn, .. }
            | LocksCmd::Repair { conn, .. }
            | LocksCmd::History { conn, .. }
            | LocksCmd::Acquire { conn, .. }
            | LocksCmd::Release { conn, .. }
            | LocksCmd::Renew { conn, .. }
            | LocksCmd::Run { conn, .. } => conn,
            LocksCmd::Watch(w) => &w.conn,
        }
    }
}

/// Which lock.
#[derive(Debug, Args, Clone)]
pub struct LockRef {
    /// The lock row (a row of `locks`, by its id).
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
            // `--wait 0` is one try, as no `--wait` is.
            wait: self.wait.filter(|w| !w.is_zero()),
            unless_held,
            // Each `locks acquire` is a process of its own: only the row
            // can say whether the holder held the lock before.
            check_held_first: true,
            register: None,
            take_over_dead: None,
        })
    }
}

/// An operator's check for holders locksmith did not register.
#[derive(Debug, Args, Clone)]
pub struct ProbeOpts {
    /// Ask this shell command whether a holder locksmith did not register
    /// is alive: it runs once per such holder with the holder in
    /// $LOCKSMITH_HOLDER; exit 0 alive, 1 dead, else unknown; its first
    /// line of output says why.
    #[arg(long, value_name = "CMD")]
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

/// Taking over from a dead holder.
#[derive(Debug, Args, Clone)]
pub struct TakeOverOpts {
    /// Take the lock over from a holder that is dead (not unknown), through
    /// an audited change (`take-over`), once --lock-delay has passed.
    #[arg(long)]
    pub take_over_dead: bool,
    /// How long after a dead holder's lease expired before taking over, so
    /// that a paused holder waking up has a moment to notice.
    #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = parse_duration, requires = "take_over_dead")]
    pub lock_delay: Duration,
}

impl TakeOverOpts {
    /// The lock-delay, when taking over is asked for.
    pub fn delay(&self) -> Option<Duration> {
        self.take_over_dead.then_some(self.lock_delay)
    }
}

/// What `locks run` does when its lock is lost while the command runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum OnLost {
    /// Stop the command and exit 7.
    Stop,
    /// Keep the command running, and say so.
    Keep,
}

/// `locks dump`'s output format: the Prometheus text format besides a
/// table and JSON.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum DumpFormat {
    /// A table for people.
    Table,
    /// JSON for scripts (schema in README.md).
    Json,
    /// The Prometheus text exposition format, for node_exporter's textfile
    /// collector (the metrics of `locksmith serve`).
    Prometheus,
}

/// `locks dump`'s output format.
#[derive(Debug, Args, Clone)]
pub struct DumpFormatOpts {
    /// Output format: a table for people, one JSON document, or Prometheus
    /// metrics (text exposition format).
    #[arg(long, value_enum, default_value_t = DumpFormat::Table)]
    pub format: DumpFormat,
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

/// Options of `locksmith serve`.
#[derive(Debug, Args, Clone)]
pub struct ServeArgs {
    #[command(flatten)]
    pub conn: ConnectOpts,
    /// The address to listen on, IP:PORT (port 0: any free port). Loopback
    /// by default: to serve other hosts, put it behind a reverse proxy
    /// with authentication and TLS (see README).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:9464")]
    pub listen: std::net::SocketAddr,
    /// Read the database at most once per this long: scrapes and page
    /// loads within it get the last read.
    #[arg(long, value_name = "DURATION", default_value = "1s", value_parser = parse_duration)]
    pub interval: Duration,
    /// How long one scrape may take (--timeout too bounds it): a database
    /// that does not answer in time shows as locksmith_up 0.
    #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = parse_duration)]
    pub scrape_timeout: Duration,
    #[command(flatten)]
    pub metrics: MetricsOpts,
    #[command(flatten)]
    pub probe: ProbeOpts,
}

/// Options of `locksmith bench`.
#[derive(Debug, Args, Clone)]
pub struct BenchArgs {
    #[command(flatten)]
    pub conn: ConnectOpts,
    /// Concurrent workers, each with its own connection.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub workers: u16,
    /// How long each phase (INT ceiling, row ceiling, locks) runs in all;
    /// they alternate in four slices.
    #[arg(long, default_value = "3s", value_parser = parse_phase)]
    pub duration: Duration,
    /// Fill the scratch row with this many other locks first.
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u16).range(0..=2000))]
    pub held: u16,
    /// Register each worker as a holder with this lease, as `locks run`
    /// does (the registry's writes and heartbeats then count too).
    #[arg(long, value_name = "DURATION", value_parser = parse_lease)]
    pub lease: Option<Duration>,
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
            lease: self.lease,
        }
    }
}

/// Options of `locksmith locks watch`.
#[derive(Debug, Args, Clone)]
pub struct WatchArgs {
    #[command(flatten)]
    pub conn: ConnectOpts,
    #[command(flatten)]
    pub probe: ProbeOpts,
    /// How often to read the locks again (one read each time, bounded by
    /// --timeout).
    #[arg(long, value_name = "DURATION", default_value = "1s", value_parser = parse_interval)]
    pub interval: Duration,
    /// Highlight locks held longer than this (their age ends in `!`).
    #[arg(long, value_name = "DURATION", default_value = "1h", value_parser = parse_duration)]
    pub warn_age: Duration,
    /// Print one snapshot as plain lines (the tables of `locks dump
    /// --waiters`) and exit, as it does without a terminal.
    #[arg(long)]
    pub once: bool,
    /// Only these rows (default: all).
    pub rows: Vec<String>,
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
