//! The `locksmith` binary: parse the command line, run it, map the outcome
//! to an exit code (documented in `locksmith --help` and the README). Errors
//! go to stderr as `locksmith: …`; a closed stdout is not an error.

use clap::Parser;
use locksmith::cli::{self, Cli};
use locksmith::error::exit;
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
                eprintln!("locksmith: {e}");
            }
            ExitCode::from(e.exit_code())
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

/// A usage error quotes the arguments it did not expect, and a URL typed
/// without `--url` may carry a password: the password goes.
fn hide_passwords(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for word in text.split_inclusive(|c: char| c.is_whitespace() || c == '\'') {
        match (word.find("://"), word.rfind('@')) {
            (Some(s), Some(at)) if at > s + 3 && word[s + 3..at].contains(':') => {
                let colon = s + 3 + word[s + 3..at].find(':').unwrap_or(0);
                out.push_str(&word[..=colon]);
                out.push_str("***");
                out.push_str(&word[at..]);
            }
            _ => out.push_str(word),
        }
    }
    out
}
