//! Exit codes: which code each failure gets, and the one table that
//! documents them. `--help` prints [`help_text`], and a test checks that
//! the README's table is [`readme_table`], so the three cannot drift apart.

use crate::error::{Error, Kind};

/// Success.
pub const OK: u8 = 0;
/// Failure not covered below: a failed migration, corrupt data, an aborted prompt.
pub const FAILURE: u8 = 1;
/// Usage error or invalid input (bad flag, missing URL, unstorable lock name).
pub const USAGE: u8 = 2;
/// Database or connection error (unreachable, access denied, SQL error).
pub const DATABASE: u8 = 3;
/// Conflict: the lock is held, the row's version moved, or a wait timed out.
pub const CONFLICT: u8 = 4;
/// Not found: no such row, lock, table or database.
pub const NOT_FOUND: u8 = 5;
/// `migrate status --check`: the schema has pending, divergent or unknown migrations.
pub const NOT_CURRENT: u8 = 6;
/// `locks run`: the lock was lost while the command ran, and the command
/// was stopped.
pub const LOST: u8 = 7;
/// A bug in locksmith (sysexits' EX_SOFTWARE).
pub const INTERNAL: u8 = 70;

/// Interrupted by signal N: 128 + N (130 for SIGINT, 143 for SIGTERM).
pub fn interrupted(signal: i32) -> u8 {
    u8::try_from(128 + signal).unwrap_or(FAILURE)
}

/// One documented code: the code, its meaning in `--help` (short), and in
/// the README (with examples).
struct Documented {
    code: &'static str,
    help: &'static str,
    readme: &'static str,
}

const TABLE: &[Documented] = &[
    Documented {
        code: "0",
        help: "success",
        readme: "success",
    },
    Documented {
        code: "1",
        help: "failure (failed migration, corrupt data, aborted at the prompt)",
        readme: "failure: a failed migration, corrupt data, a drifted `locks` table, an answer of no at the prompt",
    },
    Documented {
        code: "2",
        help: "usage error or invalid input (bad flag, no URL, unstorable lock name)",
        readme: "usage error or invalid input: bad flag, no URL, unstorable lock name, blob too large, no `--yes` without a terminal",
    },
    Documented {
        code: "3",
        help: "database or connection error",
        readme: "database or connection error: unreachable, access denied, a table the account may not read or change, SQL error",
    },
    Documented {
        code: "4",
        help: "conflict: lock held, row version moved, wait timed out, refused",
        readme: "conflict: lock held, row version moved, wait timed out, down or mark-applied refused, migration lock busy",
    },
    Documented {
        code: "5",
        help: "not found: no such row, lock, table or database",
        readme: "not found: no such row, lock, table or database",
    },
    Documented {
        code: "6",
        help: "migrate status --check: schema not current",
        readme: "`migrate status --check`: schema not current",
    },
    Documented {
        code: "7",
        help: "locks run: the lock was lost while the command ran; the command was stopped",
        readme: "`locks run`: the lock was lost while the command ran (force-released, taken over after its lease ran out); the command was stopped",
    },
    Documented {
        code: "70",
        help: "internal error: a bug in locksmith",
        readme: "internal error: a bug in locksmith (please report it)",
    },
    Documented {
        code: "128+N",
        help: "interrupted by signal N: 130 for SIGINT (Ctrl-C), 143 for SIGTERM",
        readme: "interrupted by signal N: 130 for SIGINT (Ctrl-C), 143 for SIGTERM, 129 for SIGHUP",
    },
];

/// What `locks run` exits with, besides the table.
const RUN: &str = "`locks run` exits with the command's status (128+N if a signal N ended it),
or 3 if the command succeeded but the lock could not be released.";

/// The exit codes for `locksmith --help`.
pub fn help_text() -> String {
    let mut s = String::from("Exit codes:\n");
    for d in TABLE {
        let pad = if d.code.len() < 4 {
            5
        } else {
            d.code.len() + 2
        };
        s.push_str(&format!("  {:<pad$}{}\n", d.code, d.help));
    }
    s.push_str(RUN);
    s
}

/// The README's table of exit codes, exactly.
pub fn readme_table() -> String {
    let mut s = String::from("| code | meaning |\n|---|---|\n");
    for d in TABLE {
        s.push_str(&format!("| {} | {} |\n", d.code, d.readme));
    }
    s
}

/// The exit code of a failure.
pub fn of(e: &Error) -> u8 {
    use Kind::*;
    match e.kind() {
        MissingUrl | BadUrl { .. } | Invalid(_) | TooLarge { .. } => USAGE,
        Unreachable { .. }
        | UnknownHost { .. }
        | NoNodeAnswered { .. }
        | NoPrivileges { .. }
        | TlsRefused { .. }
        | NeedsTls { .. }
        | AccessDenied { .. }
        | NoAccess { .. }
        | Db(_)
        | Lost(_)
        | Transient(_)
        | TimedOut { .. }
        | Unsettled { .. } => DATABASE,
        Held { .. }
        | WrongHolder { .. }
        | Blocked { .. }
        | VersionMoved { .. }
        | Contended(_)
        | WaitTimeout { .. }
        | Refused(_)
        | MigrationLockTimeout { .. } => CONFLICT,
        NoDatabase { .. }
        | NoTable(_)
        | Quarantined { .. }
        | NoRow(_)
        | NotHeld { .. }
        | NotRegistered { .. } => NOT_FOUND,
        NotCurrent(_) => NOT_CURRENT,
        Interrupted { signal, .. } => interrupted(*signal),
        BrokenPipe => OK,
        Internal(_) => INTERNAL,
        Corrupt { .. }
        | Damaged { .. }
        | BadValue { .. }
        | Aborted
        | Drifted { .. }
        | Stranded { .. }
        | MigrationFailed { .. }
        | Diverged(_)
        | Io(_)
        | BenchFailed(_) => FAILURE,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_readme_documents_exactly_these_codes() {
        let readme = include_str!("../../README.md");
        assert!(
            readme.contains(&readme_table()),
            "README.md's exit-code table differs from src/cli/exit.rs; it should read:\n{}",
            readme_table()
        );
    }

    #[test]
    fn help_lists_every_code() {
        let help = help_text();
        for d in TABLE {
            assert!(help.contains(&format!("  {}", d.code)), "{help}");
        }
        assert_eq!(of(&Kind::Internal("x".into()).into()), INTERNAL);
        assert_eq!(of(&Kind::NoRow("r".into()).into()), NOT_FOUND);
        assert_eq!(interrupted(15), 143);
    }
}
