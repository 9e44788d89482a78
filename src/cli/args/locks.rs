//! The clap types of `locksmith locks`: its subcommands, and the groups
//! only they use (which lock, waiting, taking over, dump's formats, watch).

use super::{ChangeOpts, ConnectOpts, FormatOpts, MetricsOpts, ProbeOpts};
use crate::cli::help;
use crate::cli::values::{parse_duration, parse_interval, parse_lease};
use crate::error::{Error, Kind, Result};
use crate::locks::AcquireOptions;
use clap::{ArgGroup, Args, Subcommand};
use std::time::Duration;

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
