//! The command line: [`args`] holds every clap type (`help` their examples,
//! `values` the checks of their values), [`settings`] resolves the
//! connection flags, environment and files once, one file per command
//! group carries the commands out through the library (`migrate`, `locks`,
//! `run`, `bench`, `serve`; `watch`, the live screen, a directory of its
//! own; [`scrape`] is the one read of the database that `serve` and `locks
//! dump --format prometheus` make), `signals` says what SIGINT and SIGTERM
//! do, and [`output`] builds everything printed. `main.rs` only parses, calls
//! [`run`] and turns the result into an exit code.

pub mod args;
mod bench;
mod ctx;
pub mod exit;
mod help;
mod locks;
mod migrate;
pub mod output;
mod run;
pub mod scrape;
mod serve;
pub mod settings;
mod signals;
mod values;
mod watch;

pub use args::{Cli, Command};

use crate::error::Result;
use clap::CommandFactory;
use ctx::Ctx;
use signals::Stop;
use std::time::Duration;

/// Runs a parsed command line. Returns the exit code on success (only
/// `locks run` returns anything but 0).
pub async fn run(cli: Cli) -> Result<u8> {
    let Some(after) = cli.command.conn() else {
        return docs(&cli.command);
    };
    let settings = settings::Settings::load(&cli.conn, after)?;
    let report: Option<crate::db::Reporter> = settings.verbose.then(|| {
        std::sync::Arc::new(|r: &crate::db::Reached| output::note(&output::text::reached(r)))
            as crate::db::Reporter
    });
    let ctx = Ctx {
        stop: Stop::listen()?,
        timeout: settings.timeout,
        url: settings.url,
        report,
    };
    if !settings.wait_for_db.is_zero() {
        wait_for_db(&ctx, settings.wait_for_db).await?;
    }
    match cli.command {
        Command::Migrate(cmd) => migrate::run(&ctx, cmd).await,
        Command::Locks(cmd) => locks::run(&ctx, cmd).await,
        Command::Bench(args) => bench::run(&ctx, args).await,
        Command::Serve(args) => serve::run(&ctx, args).await,
        Command::Completions { .. } | Command::Man => docs(&cli.command),
    }
}

/// `--wait-for-db`: tries to connect until the server answers, saying on
/// stderr what it waits for and why the last try failed.
async fn wait_for_db(ctx: &Ctx, limit: Duration) -> Result<()> {
    let line = std::sync::Mutex::new(output::WaitLine::new());
    let shown = ctx.url.redacted().to_string();
    let say = |e: &crate::Error, _: Duration| {
        let mut line = line.lock().unwrap_or_else(|p| p.into_inner());
        line.say(&output::text::db_wait(&shown, e, limit));
    };
    let result = ctx
        .stop
        .guard(crate::db::wait_for(&ctx.url, &ctx.connect(), limit, say))
        .await;
    line.into_inner().unwrap_or_else(|p| p.into_inner()).done();
    result
}

/// `completions` and `man`: documents made from the command line itself.
fn docs(cmd: &Command) -> Result<u8> {
    let mut buf = Vec::new();
    let mut cli = Cli::command();
    match cmd {
        Command::Completions { shell } => {
            clap_complete::generate(*shell, &mut cli, "locksmith", &mut buf)
        }
        _ => clap_mangen::Man::new(cli).render(&mut buf)?,
    }
    output::out(&String::from_utf8_lossy(&buf))?;
    Ok(exit::OK)
}

/// Whether a command wants a multi-threaded runtime (the bench spreads its
/// workers over the cores; everything else is one thread, cheap to start).
pub fn wants_threads(cli: &Cli) -> bool {
    matches!(cli.command, Command::Bench(_))
}
