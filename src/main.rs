//! The `locksmith` binary: parse the command line, run it, map the outcome
//! to an exit code (documented in `locksmith --help` and the README). Errors
//! go to stderr as `locksmith: …`; a closed stdout is not an error.

use clap::Parser;
use locksmith::cli::output::hints::error_text;
use locksmith::cli::{self, exit, Cli};
use locksmith::supervise;
use std::process::ExitCode;

fn main() -> ExitCode {
    // `locks run` starts this binary again as the watcher of its command.
    let mut args = std::env::args_os().skip(1);
    if args.next().as_deref() == Some(std::ffi::OsStr::new(supervise::WATCHER_ARG)) {
        return ExitCode::from(supervise::watcher_main(args));
    }
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return usage(e),
    };
    if let Some(n) = password_outside_url() {
        eprintln!("locksmith: argument {n} looks like a database URL with its password, outside --url; it is not shown, and nothing was done\nhint: give the URL with --url, or better in DATABASE_URL with the password in --password-file");
        return ExitCode::from(exit::USAGE);
    }
    // One thread is plenty for a command-line run and keeps start-up cheap;
    // the bench spreads its workers over the machine's cores.
    let runtime = if cli::wants_threads(&cli) {
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    };
    let runtime = match runtime {
        Ok(r) => r,
        Err(e) => {
            eprintln!("locksmith: cannot start the async runtime: {e}");
            return ExitCode::from(exit::FAILURE);
        }
    };
    let result = runtime.block_on(cli::run(cli));
    // A prompt interrupted by a signal leaves a thread blocked reading the
    // terminal: do not wait for it.
    runtime.shutdown_background();
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            if !matches!(e.kind(), locksmith::Kind::BrokenPipe) {
                eprintln!("locksmith: {}", error_text(&e));
            }
            ExitCode::from(exit::of(&e))
        }
    }
}

/// `--help` and `--version` as clap prints them; a usage error as every
/// other error, `locksmith: …` on stderr, with clap's hint, exit 2.
fn usage(e: clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    if matches!(
        e.kind(),
        ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    ) {
        let _ = e.print();
        return ExitCode::from(if e.use_stderr() {
            exit::USAGE
        } else {
            exit::OK
        });
    }
    let text = hide_passwords(&e.render().to_string());
    let text = text.strip_prefix("error: ").unwrap_or(&text);
    eprint!("locksmith: {text}");
    ExitCode::from(exit::USAGE)
}

/// The arguments as given (lossy: a usage error shows them so too).
fn args() -> Vec<String> {
    std::env::args_os()
        .skip(1)
        .map(|a| a.to_string_lossy().into_owned())
        .collect()
}

/// A URL with a password anywhere but as the value of `--url` (before the
/// `--` that starts a command to run) would be taken for a lock name, a
/// row or a holder, and shown back in messages: its position (from 1),
/// refused before anything runs.
fn password_outside_url() -> Option<usize> {
    let args = args();
    let mut after_url = false;
    for (i, a) in args.iter().enumerate() {
        if a == "--" {
            return None;
        }
        let is_url_value = std::mem::replace(&mut after_url, a == "--url");
        if is_url_value || a.starts_with("--url=") {
            continue;
        }
        if locksmith::db::url::carries_password(a) {
            return Some(i + 1);
        }
    }
    None
}

/// A usage error quotes the arguments it did not expect, and a URL typed
/// without `--url`, or split by the shell at a space in its password, may
/// carry a password: all of the password goes.
fn hide_passwords(text: &str) -> String {
    locksmith::db::url::hide_in_usage(text, &args())
}
