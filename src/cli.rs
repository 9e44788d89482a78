//! The command line: clap definitions (doc comments are the help text) and
//! one function per command. `main.rs` only parses, calls [`run`] and turns
//! the result into an exit code.
//!
//! Data goes to stdout; progress, prompts and warnings go to stderr.

use crate::audit::{self, AuditInfo};
use crate::error::{exit, Error, Kind, Result};
use crate::migrate::{self, DownOptions, DownTo, MigrationSet, UpOptions};
use crate::render::{self, Format};
use crate::row::{holder_text, Change, Edit, LockData, LockTable, WriteOpts};
use crate::url::DbUrl;
use crate::wait::AcquireOptions;
use clap::{ArgGroup, Args, Parser, Subcommand};
use std::io::{IsTerminal, Write};
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
  130  interrupted (Ctrl-C or SIGTERM) while waiting for a lock
`locks run` exits with the command's status (128+N if a signal N ended it),
or 3 if the command succeeded but the lock could not be released.";

/// Migrations, operator commands and cross-process locks for MySQL/MariaDB
/// `locks` tables.
#[derive(Debug, Parser)]
#[command(name = "locksmith", version, after_help = EXIT_CODES)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
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
    Bench(crate::bench::BenchArgs),
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

    /// How long to wait for another migration run to finish (e.g. 30s, 5m).
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = parse_duration)]
    pub lock_timeout: Duration,
}

impl SourceOpts {
    fn set(&self) -> Result<MigrationSet> {
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
    #[arg(long, value_name = "V")]
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
        /// Apply migrations up to and including version V only.
        #[arg(long, value_name = "V")]
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
        /// Roll back every migration above version V.
        #[arg(long, value_name = "V")]
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
    /// List every migration with its state: applied, pending, divergent or
    /// applied-unknown.
    Status {
        #[command(flatten)]
        conn: ConnectOpts,
        #[command(flatten)]
        source: SourceOpts,
        #[command(flatten)]
        format: FormatOpts,
        /// Exit 6 if anything is pending, divergent or unknown (for deploy gates).
        #[arg(long)]
        check: bool,
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
        #[arg(long, default_value_t = 1, value_name = "N")]
        by: i64,
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
    fn options(&self) -> Result<AcquireOptions> {
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

/// `30s`, `5m`, `1h30m`, `250ms`; a bare number is seconds.
pub fn parse_duration(s: &str) -> std::result::Result<Duration, String> {
    if let Ok(secs) = s.parse::<f64>() {
        if secs.is_finite() && secs >= 0.0 {
            return Ok(Duration::from_secs_f64(secs));
        }
    }
    humantime::parse_duration(s).map_err(|e| format!("{e} (try 30s, 5m or 250ms)"))
}

/// Runs a parsed command line. Returns the exit code on success (only
/// `locks run` returns anything but 0).
pub async fn run(cli: Cli) -> Result<u8> {
    match cli.command {
        Command::Migrate(cmd) => migrate_cmd(cmd).await.map(|()| exit::OK),
        Command::Locks(cmd) => locks_cmd(cmd).await,
        Command::Bench(args) => crate::bench::run(args).await.map(|()| exit::OK),
    }
}

/// Writes to stdout; a closed pipe ends the command quietly.
pub fn out(text: &str) -> Result<()> {
    let mut o = std::io::stdout().lock();
    match o.write_all(text.as_bytes()).and_then(|()| o.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Err(Kind::BrokenPipe.into()),
        r => r.map_err(Error::from),
    }
}

fn note(text: &str) {
    eprintln!("locksmith: {text}");
}

async fn migrate_cmd(cmd: MigrateCmd) -> Result<()> {
    match cmd {
        MigrateCmd::Up {
            conn,
            source,
            target,
            dry_run,
        } => {
            let set = source.set()?;
            let url = conn.parse_url()?;
            let mut c = crate::db::connect(&url).await?;
            let opts = UpOptions {
                target,
                dry_run,
                lock_timeout: source.lock_timeout,
            };
            let result = migrate::up(&mut c, &set, &opts).await;
            let _ = c.disconnect().await;
            let report = match result {
                Ok(r) => r,
                Err(e) => {
                    if let Kind::MigrationFailed { applied, .. } = e.kind() {
                        for a in applied {
                            out(&format!("Applied {a}\n"))?;
                        }
                    }
                    return Err(e);
                }
            };
            let mut text = String::new();
            if report.applied.is_empty() {
                text.push_str(&match report.version {
                    Some(v) => format!("Schema is up to date (version {v}); nothing to apply.\n"),
                    None => "Nothing to apply.\n".to_string(),
                });
            } else if dry_run {
                for p in &report.applied {
                    text.push_str(&format!(
                        "-- Would apply {}:\n{}\n",
                        p.label,
                        p.sql.trim_end()
                    ));
                }
                text.push_str("-- Dry run: nothing was changed.\n");
            } else {
                for p in &report.applied {
                    text.push_str(&format!("Applied {}\n", p.label));
                }
                if let Some(v) = report.version {
                    text.push_str(&format!("Schema is now at version {v}.\n"));
                }
            }
            out(&text)
        }
        MigrateCmd::Down {
            conn,
            source,
            target,
            all,
            dry_run,
            force,
        } => {
            let set = source.set()?;
            let url = conn.parse_url()?;
            let to = match (target, all) {
                (Some(v), _) => DownTo::Version(v),
                (None, true) => DownTo::All,
                (None, false) => DownTo::One,
            };
            let mut c = crate::db::connect(&url).await?;
            let opts = DownOptions {
                to,
                dry_run,
                force,
                lock_timeout: source.lock_timeout,
            };
            let result = migrate::down(&mut c, &set, &opts).await;
            let _ = c.disconnect().await;
            let report = result?;
            let mut text = String::new();
            if report.rolled_back.is_empty() {
                text.push_str("Nothing to roll back.\n");
            }
            for p in &report.rolled_back {
                if dry_run {
                    text.push_str(&format!(
                        "-- Would roll back {}:\n{}\n",
                        p.label,
                        p.sql.trim_end()
                    ));
                } else {
                    text.push_str(&format!("Rolled back {}\n", p.label));
                }
            }
            if dry_run {
                text.push_str("-- Dry run: nothing was changed.\n");
            } else if !report.rolled_back.is_empty() {
                text.push_str(&match report.version {
                    Some(v) => format!("Schema is now at version {v}.\n"),
                    None => "No migrations are applied now.\n".to_string(),
                });
            }
            out(&text)
        }
        MigrateCmd::Status {
            conn,
            source,
            format,
            check,
        } => {
            let set = source.set()?;
            let url = conn.parse_url()?;
            let mut c = crate::db::connect(&url).await?;
            let applied = migrate::applied(&mut c).await;
            let _ = c.disconnect().await;
            let list = migrate::status(&set, &applied?);
            match format.format {
                Format::Table => out(&format!("{}\n", render::status_table(&list)))?,
                Format::Json => {
                    let doc = render::StatusDoc {
                        migrations: list.iter().map(Into::into).collect(),
                    };
                    out(&format!(
                        "{}\n",
                        serde_json::to_string_pretty(&doc).expect("serialises")
                    ))?
                }
            }
            let off: Vec<String> = list
                .iter()
                .filter(|s| s.state != migrate::State::Applied)
                .map(|s| format!("V{}__{} is {}", s.version, s.name, s.state.label()))
                .collect();
            if check && !off.is_empty() {
                return Err(Kind::NotCurrent(off.join(", ")).into());
            }
            Ok(())
        }
    }
}

async fn locks_cmd(cmd: LocksCmd) -> Result<u8> {
    match cmd {
        LocksCmd::Dump { conn, format, rows } => {
            let table = LockTable::connect(&conn.parse_url()?).await?;
            let states = table.read_all().await;
            let _ = table.disconnect().await;
            let mut states = states?;
            if !rows.is_empty() {
                if let Some(missing) = rows.iter().find(|r| !states.iter().any(|s| &s.id == *r)) {
                    return Err(Kind::NoRow(missing.clone()).into());
                }
                states.retain(|s| rows.contains(&s.id));
            }
            for s in &states {
                if let LockData::Raw(_) = s.data {
                    note(&format!(
                        "warning: row `{}` holds data that is not a JSON object; shown raw",
                        s.id
                    ));
                }
            }
            let doc = render::Dump {
                rows: states.iter().map(Into::into).collect(),
            };
            match format.format {
                Format::Table => out(&format!("{}\n", render::dump_table(&doc)))?,
                Format::Json => out(&format!(
                    "{}\n",
                    serde_json::to_string_pretty(&doc).expect("serialises")
                ))?,
            }
            Ok(exit::OK)
        }
        LocksCmd::ForceRelease {
            conn,
            change,
            row,
            names,
            holder,
            all,
        } => {
            let edit = match (holder, all) {
                (Some(h), _) => Edit::Holder(h),
                (None, true) => Edit::All,
                (None, false) => Edit::Names(names),
            };
            change_cmd(&conn, &change, &row, edit).await
        }
        LocksCmd::Bump {
            conn,
            change,
            row,
            by,
        } => {
            if by < 1 {
                return Err(Kind::Invalid("--by must be at least 1".into()).into());
            }
            change_cmd(&conn, &change, &row, Edit::Bump(by)).await
        }
        LocksCmd::History { conn, format, row } => {
            let url = conn.parse_url()?;
            let mut c = crate::db::connect(&url).await?;
            let records = audit::history(&mut c, row.as_deref()).await;
            let _ = c.disconnect().await;
            let records = records?;
            match format.format {
                Format::Table => out(&format!("{}\n", render::history_table(&records)))?,
                Format::Json => {
                    let doc = render::HistoryDoc { records };
                    out(&format!(
                        "{}\n",
                        serde_json::to_string_pretty(&doc).expect("serialises")
                    ))?
                }
            }
            Ok(exit::OK)
        }
        LocksCmd::Acquire {
            conn,
            wait,
            lock: LockRef { row, name },
            holder,
        } => {
            let opts = wait.options()?;
            let table = LockTable::connect(&conn.parse_url()?).await?;
            let result = acquire_interruptibly(&table, &row, &name, &holder, &opts).await;
            let _ = table.disconnect().await;
            // The lock outlives this process on purpose: `locks release`
            // (or `force-release`) frees it later.
            let _held = result?;
            Ok(exit::OK)
        }
        LocksCmd::Release {
            conn,
            lock: LockRef { row, name },
            holder,
        } => {
            let table = LockTable::connect(&conn.parse_url()?).await?;
            let result = table.release(&row, &name, &holder).await;
            let _ = table.disconnect().await;
            result?;
            Ok(exit::OK)
        }
        LocksCmd::Run {
            conn,
            wait,
            lock: LockRef { row, name },
            holder,
            command,
        } => {
            let opts = wait.options()?;
            let holder = holder.unwrap_or_else(default_holder);
            let table = LockTable::connect(&conn.parse_url()?).await?;
            let code =
                crate::runcmd::run_locked(&table, &row, &name, &holder, &opts, &command).await;
            let _ = table.disconnect().await;
            code
        }
    }
}

/// `HOST:PID` of this process: enough for an operator to find it.
pub fn default_holder() -> String {
    format!("{}:{}", audit::hostname(), std::process::id())
}

/// Acquires with a wait reporter, giving up cleanly on Ctrl-C or SIGTERM.
pub async fn acquire_interruptibly(
    table: &LockTable,
    row: &str,
    name: &str,
    holder: &str,
    opts: &AcquireOptions,
) -> Result<crate::wait::LockGuard> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut reporter = WaitReporter::new();
    let mut sigterm = signal(SignalKind::terminate())?;
    let held_before = table.holds(row, name, holder).await?;
    let attempt = table.lock(row, name, holder, opts, |why| reporter.waiting(why));
    let result = tokio::select! {
        r = attempt => r,
        _ = tokio::signal::ctrl_c() => Err(Kind::Interrupted.into()),
        _ = sigterm.recv() => Err(Kind::Interrupted.into()),
    };
    reporter.done();
    // Cut off (Ctrl-C) or failed on the connection, the attempt may have
    // sent a write that landed; the release below runs only once that
    // session is settled, so it sees the truth. Other errors come from
    // answers that wrote nothing.
    let unsure = matches!(&result, Err(e) if matches!(
        e.kind(),
        Kind::Interrupted | Kind::Db(_) | Kind::Unreachable { .. }
    ));
    if unsure && !held_before {
        match table.release(row, name, holder).await {
            Ok(()) => {}
            Err(e)
                if matches!(
                    e.kind(),
                    Kind::NotHeld { .. } | Kind::WrongHolder { .. } | Kind::NoRow(_)
                ) => {}
            Err(e) => {
                return Err(Kind::Db(format!(
                    "{}; and could not make sure lock `{name}` in row `{row}` is not left held by {holder}: {e}\nhint: check with `locksmith locks dump {row}`; `locksmith locks force-release {row} --holder '{holder}'` frees it",
                    result.err().map(|r| r.to_string()).unwrap_or_default()
                ))
                .into())
            }
        }
    }
    result
}

/// Says on stderr what a waiter waits for: on a terminal one line updated in
/// place, otherwise one line each time the reason changes.
struct WaitReporter {
    tty: bool,
    last: Option<String>,
    since: std::time::Instant,
}

impl WaitReporter {
    fn new() -> WaitReporter {
        WaitReporter {
            tty: std::io::stderr().is_terminal(),
            last: None,
            since: std::time::Instant::now(),
        }
    }

    fn waiting(&mut self, why: &Error) {
        let msg = format!("waiting: {why}");
        if self.tty {
            let secs = self.since.elapsed().as_secs();
            eprint!("\r\x1b[Klocksmith: {msg} ({secs}s)");
        } else if self.last.as_deref() != Some(msg.as_str()) {
            note(&msg);
        }
        self.last = Some(msg);
    }

    fn done(&self) {
        if self.tty && self.last.is_some() {
            eprint!("\r\x1b[K");
        }
    }
}

/// force-release and bump: show, confirm, write by CAS with an audit record,
/// then print before → after.
async fn change_cmd(conn: &ConnectOpts, opts: &ChangeOpts, row: &str, edit: Edit) -> Result<u8> {
    let table = LockTable::connect(&conn.parse_url()?).await?;
    let result = change_with(&table, opts, row, edit).await;
    let _ = table.disconnect().await;
    result.map(|()| exit::OK)
}

async fn change_with(table: &LockTable, opts: &ChangeOpts, row: &str, edit: Edit) -> Result<()> {
    let preview_opts = WriteOpts {
        expect_version: opts.expect_version,
        dry_run: true,
        audit: None,
    };
    let preview = table.edit(row, &edit, &preview_opts, None).await?;
    if opts.dry_run {
        return out(&format!(
            "{}Dry run: nothing was changed.\n",
            describe(&preview, &edit, true)
        ));
    }
    if !opts.yes {
        confirm(&describe(&preview, &edit, true))?;
    }
    let write_opts = WriteOpts {
        expect_version: opts.expect_version,
        dry_run: false,
        audit: Some(AuditInfo::new(edit.action(), audit_command())),
    };
    let done = table.edit(row, &edit, &write_opts, Some(&preview)).await?;
    out(&describe(&done, &edit, false))
}

/// Before → after, in words.
fn describe(c: &Change, edit: &Edit, planned: bool) -> String {
    let mut s = format!(
        "row `{}`: version {} -> {}{}\n",
        c.row,
        c.version_before,
        c.version_after,
        if planned { " (planned)" } else { "" }
    );
    let verb = if planned { "release" } else { "released" };
    for (name, holder) in &c.removed {
        s.push_str(&format!(
            "{verb} {name} (held by {})\n",
            holder_text(holder)
        ));
    }
    if let Some(raw) = &c.replaced_raw {
        s.push_str(&format!(
            "{} unparsable dataJson with {{}}; the old text, verbatim:\n{raw}\n",
            if planned { "replace" } else { "replaced" }
        ));
    }
    if let Edit::Bump(_) = edit {
        s.push_str("locks untouched\n");
    }
    if c.raw_kept {
        s.push_str("dataJson is not a JSON object; left as it is\n");
    } else {
        s.push_str(&format!("{} lock(s) remain\n", c.remaining.len()));
    }
    s
}

/// Asks on the terminal; refuses without one.
fn confirm(plan: &str) -> Result<()> {
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        return Err(Kind::Invalid(
            "refusing to change a lock row without confirmation: stdin is not a terminal; pass --yes (or --dry-run to look first)".into(),
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
    }
}
