//! The `locksmith` binary: parse the command line, run it, map the outcome
//! to an exit code (documented in `locksmith --help` and the README). Errors
//! go to stderr as `locksmith: …`; a closed stdout is not an error.

use clap::Parser;
use locksmith::cli::{self, Cli};
use locksmith::error::exit;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = Cli::parse();
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
