//! One error type for the whole crate, so that every failure maps to exactly
//! one documented exit code and one message that is safe to print.
//!
//! Messages never contain a password: connection errors are built from the
//! redacted [`crate::url::DbUrl`], never from the raw URL.

use std::fmt;

/// Errors returned by locksmith. [`Error::kind`] tells what went wrong,
/// [`Error::exit_code`] how the command-line tool reports it.
#[derive(Debug)]
pub struct Error {
    kind: Box<Kind>,
}

/// What went wrong.
#[derive(Debug, thiserror::Error)]
pub enum Kind {
    /// Neither `--url` nor `DATABASE_URL` was given.
    #[error("no database URL: pass --url or set DATABASE_URL (mysql://user:pass@host:port/db)")]
    MissingUrl,
    /// The database URL could not be parsed.
    #[error("invalid database URL {url}: {reason}")]
    BadUrl { url: String, reason: String },
    /// A command-line value or a lock name/holder that cannot be used.
    #[error("{0}")]
    Invalid(String),
    /// The server could not be reached at all.
    #[error("cannot connect to {url}: {reason}\nhint: is the server running and listening on that host and port?")]
    Unreachable { url: String, reason: String },
    /// The server refused the user name or password.
    #[error(
        "access denied for {url}: {reason}\nhint: check the user name and password in the URL"
    )]
    AccessDenied { url: String, reason: String },
    /// The database named in the URL does not exist.
    #[error("database `{db}` does not exist on {url}\nhint: create it first (CREATE DATABASE `{db}`) or fix the name in the URL")]
    NoDatabase { url: String, db: String },
    /// The `locks` table (or another table locksmith needs) is missing.
    #[error("table `{0}` does not exist\nhint: run `locksmith migrate up` first")]
    NoTable(String),
    /// Any other error reported by the server or the driver.
    #[error("database error: {0}")]
    Db(String),
    /// The lock row named on the command line does not exist.
    #[error("lock row `{0}` does not exist")]
    NoRow(String),
    /// The named lock is not held in that row.
    #[error("lock `{name}` is not held in row `{row}`")]
    NotHeld { row: String, name: String },
    /// The lock is held by somebody else.
    #[error("lock `{name}` in row `{row}` is held by {holder}")]
    Held {
        row: String,
        name: String,
        holder: String,
    },
    /// The lock is held, but by a different holder than the one releasing it.
    #[error("lock `{name}` in row `{row}` is held by {holder}, not by {wanted}")]
    WrongHolder {
        row: String,
        name: String,
        holder: String,
        wanted: String,
    },
    /// A lock matching an `--unless-held` pattern is held.
    #[error("lock `{name}` in row `{row}` (matching `{pattern}`) is held by {holder}")]
    Blocked {
        row: String,
        name: String,
        pattern: String,
        holder: String,
    },
    /// The row changed between reading and writing (`--expect-version`).
    #[error("row `{row}` is at version {actual}, not the expected {expected}; nothing was changed (look again with `locksmith locks dump {row}`)")]
    VersionMoved {
        row: String,
        expected: i64,
        actual: i64,
    },
    /// Retries were exhausted because other writers kept winning.
    #[error("row `{0}` kept changing under us; gave up after repeated conflicts")]
    Contended(String),
    /// Waiting for a lock ran out of time.
    #[error("gave up after waiting {:.1}s: {what}", waited.as_secs_f64())]
    WaitTimeout {
        waited: std::time::Duration,
        what: String,
    },
    /// The row's dataJson is not a JSON object, so it cannot be changed safely.
    #[error("row `{row}` holds data that is not a JSON object: {raw}\nhint: inspect it with `locksmith locks dump {row}`; `locksmith locks force-release {row} --all` replaces it with {{}} and prints the old text")]
    Corrupt { row: String, raw: String },
    /// The change would make dataJson larger than a TEXT column holds.
    #[error("row `{row}` would need {bytes} bytes of dataJson, more than the {limit} a TEXT column holds; nothing was changed")]
    TooLarge {
        row: String,
        bytes: usize,
        limit: usize,
    },
    /// Dropping the `locks` table (or another guarded table) would lose data.
    #[error("{0}")]
    Refused(String),
    /// The operator answered no at the confirmation prompt.
    #[error("aborted: nothing was changed")]
    Aborted,
    /// A migration failed; holds the migrations applied before it.
    #[error("migration {migration} failed: {reason}")]
    MigrationFailed {
        migration: String,
        reason: String,
        applied: Vec<String>,
    },
    /// Applied migrations differ from the ones this binary carries.
    #[error("{0}")]
    Diverged(String),
    /// Another migration run held the migration lock for too long.
    #[error("another `locksmith migrate` run held the migration lock `{lock}` for more than {seconds}s; giving up\nhint: wait for it to finish, or raise --lock-timeout")]
    MigrationLockTimeout { lock: String, seconds: u64 },
    /// `migrate status --check` found pending, divergent or unknown migrations.
    #[error("schema is not current: {0}")]
    NotCurrent(String),
    /// An I/O error, such as a migration file that cannot be read.
    #[error("{0}")]
    Io(String),
    /// Interrupted by Ctrl-C (SIGINT) or SIGTERM before finishing.
    #[error("interrupted; nothing is left held")]
    Interrupted,
    /// The reader of stdout went away (a closed pipe is not an error).
    #[error("broken pipe")]
    BrokenPipe,
}

/// Exit codes of the `locksmith` binary. Documented in `--help` and README.
pub mod exit {
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
    /// Interrupted by Ctrl-C or SIGTERM while waiting (128 + SIGINT).
    pub const INTERRUPTED: u8 = 130;
}

impl Error {
    /// What went wrong.
    pub fn kind(&self) -> &Kind {
        &self.kind
    }

    /// The exit code the binary uses for this error.
    pub fn exit_code(&self) -> u8 {
        use Kind::*;
        match &*self.kind {
            MissingUrl | BadUrl { .. } | Invalid(_) | TooLarge { .. } => exit::USAGE,
            Unreachable { .. } | AccessDenied { .. } | Db(_) => exit::DATABASE,
            Held { .. }
            | WrongHolder { .. }
            | Blocked { .. }
            | VersionMoved { .. }
            | Contended(_)
            | WaitTimeout { .. }
            | Refused(_)
            | MigrationLockTimeout { .. } => exit::CONFLICT,
            NoDatabase { .. } | NoTable(_) | NoRow(_) | NotHeld { .. } => exit::NOT_FOUND,
            NotCurrent(_) => exit::NOT_CURRENT,
            Interrupted => exit::INTERRUPTED,
            BrokenPipe => exit::OK,
            Corrupt { .. } | Aborted | MigrationFailed { .. } | Diverged(_) | Io(_) => {
                exit::FAILURE
            }
        }
    }

    /// True when the error says the lock (or row) is busy, so waiting may help.
    pub fn is_busy(&self) -> bool {
        matches!(
            &*self.kind,
            Kind::Held { .. } | Kind::Blocked { .. } | Kind::Contended(_)
        )
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.kind.fmt(f)
    }
}

impl std::error::Error for Error {}

impl From<Kind> for Error {
    fn from(kind: Kind) -> Self {
        Error {
            kind: Box::new(kind),
        }
    }
}

impl From<mysql_async::Error> for Error {
    fn from(e: mysql_async::Error) -> Self {
        crate::db::classify(e, None)
    }
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Kind::Io(e.to_string()).into()
    }
}

/// Shorthand for results in this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
