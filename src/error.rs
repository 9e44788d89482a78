//! One error type for the whole crate, so that every failure maps to exactly
//! one documented exit code and one message that is safe to print.
//!
//! [`Kind`] says what went wrong, in words an operator can act on; the
//! underlying cause (a driver or I/O error) is kept as the error's
//! [`std::error::Error::source`], and what would mend it as
//! [`Error::remedies`]: facts ([`Remedy`]) that the command line words as
//! hints naming its own commands. Which exit code a failure gets is the
//! command line's decision too. Messages never contain a password:
//! connection errors are built from the redacted URL. Driver errors are
//! turned into an [`Error`] by the database layer, which knows what they
//! mean.

use crate::shown::{shown, shown_id};
use std::fmt;
use words::{left_words, list_words, quarantined_words};

mod remedy;
mod words;

pub use remedy::{Pending, Remedy};
pub use words::Left;

/// Errors returned by locksmith. [`Error::kind`] tells what went wrong,
/// [`Error::remedies`] what would mend it, and
/// [`std::error::Error::source`] the cause, when there is one.
pub struct Error {
    inner: Box<Inner>,
}

struct Inner {
    kind: Kind,
    source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
    /// Remedies beyond those the kind implies.
    remedies: Vec<Remedy>,
    /// What the driver said, when a driver error is the cause (set by the
    /// database layer, which alone knows the driver's types).
    driver: Driver,
}

/// Facts of a driver error that other layers decide by.
#[derive(Clone, Debug, Default)]
pub(crate) struct Driver {
    /// The server's error code and message, when the server refused.
    pub(crate) server: Option<(u16, String)>,
    /// The kind of I/O error, when the connection failed.
    pub(crate) io: Option<std::io::ErrorKind>,
}

/// What went wrong.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Kind {
    /// Neither `--url` nor `DATABASE_URL` was given.
    #[error("no database URL: pass --url or set DATABASE_URL (mysql://user:pass@host:port/db)")]
    MissingUrl,
    /// The database URL could not be parsed.
    #[error("invalid database URL {url}: {reason}")]
    BadUrl { url: String, reason: String },
    /// A value or a lock name/holder that cannot be used.
    #[error("{0}")]
    Invalid(String),
    /// The server could not be reached at all.
    #[error("cannot connect to {url}: {reason}\nhint: is the server running and listening on that host and port?")]
    Unreachable { url: String, reason: String },
    /// A TLS connection was refused: `what` says why (the server has no
    /// TLS, the CA did not verify, the host name did not match).
    #[error("cannot connect to {url}: {what}\nhint: {hint}")]
    TlsRefused {
        url: String,
        what: String,
        hint: String,
    },
    /// The account must connect over TLS, and the URL turned TLS off.
    #[error("user `{}` must connect over TLS (the account requires SSL), and ssl-mode=disabled in {url} turned TLS off\nhint: drop ssl-mode=disabled (the default, preferred, uses TLS whenever the server offers it)", shown(.user))]
    NeedsTls { url: String, user: String },
    /// The server refused the user name or password.
    #[error(
        "access denied for {url}: {reason}\nhint: check the user name and password (an account created REQUIRE X509 also needs ssl-cert= and ssl-key= in the URL)"
    )]
    AccessDenied { url: String, reason: String },
    /// The host name in the URL did not resolve to an address.
    #[error("cannot connect to {url}: the host name `{}` did not resolve ({})\nhint: check the host name in the URL (and the DNS or /etc/hosts of this machine)", shown(.host), shown(.reason))]
    UnknownHost {
        url: String,
        host: String,
        reason: String,
    },
    /// None of the nodes of a URL that lists several could be connected to.
    /// `nodes` says what happened at each, in the order tried (`host:port`,
    /// what); `hint` what to check.
    #[error("cannot connect to {url}: no node answered ({})\nhint: {hint}", node_list(.nodes))]
    NoNodeAnswered {
        url: String,
        nodes: Vec<(String, String)>,
        hint: String,
    },
    /// The password was accepted, but the user may not use the database.
    #[error("user `{}` may not use database `{}` on {url}: the password was accepted, but the user has no privileges on that database\nhint: GRANT the user privileges on `{}`, or fix the database name in the URL", shown(.user), shown(.db), shown(.db))]
    NoPrivileges {
        url: String,
        db: String,
        user: String,
    },
    /// The database named in the URL does not exist.
    /// (`sure`: the server said so to a user who could see it; otherwise it
    /// may exist, hidden from a user without privileges on it.)
    #[error("database `{}` does not exist on {url}{}\nhint: create it first (CREATE DATABASE `{}`){}, or fix the name in the URL", shown(.db), if *.sure { "" } else { " (or this user may not see it)" }, shown(.db), if *.sure { "" } else { " and grant the user privileges on it" })]
    NoDatabase { url: String, db: String, sure: bool },
    /// The `locks` table (or another table locksmith needs) is missing.
    #[error("table `{}` does not exist", shown(.0))]
    NoTable(String),
    /// A table locksmith needs is missing, and an interrupted `migrate
    /// down` left it renamed out of reach (`copies`: `<table>_dropping_<tag>`,
    /// one or more): bringing one back is a `RENAME TABLE`, not a new table.
    #[error("table `{}` does not exist: {}", shown(.table), quarantined_words(.copies))]
    Quarantined { table: String, copies: Vec<String> },
    /// A table locksmith needs is there, but beside it a copy an
    /// interrupted `migrate down` left (`copies`) still holds locks: the
    /// table was made anew since, and a lock held in the copy could be
    /// granted again in it.
    #[error("refusing to use table `{}`: {}, left by an interrupted `migrate down`, still hold{} locks beside it, and a lock held there could be granted again here", shown(.table), list_words(.copies), if .copies.len() == 1 { "s" } else { "" })]
    Stranded { table: String, copies: Vec<String> },
    /// A table is there but not as its migration makes it, in a way the
    /// lock protocol cannot work with; `differences` are `migrate status`'s
    /// words for it.
    #[error("table `{}` is drifted: it differs from what its migration makes:\n  {}", shown(.table), .differences.iter().map(|d| shown(d).into_owned()).collect::<Vec<_>>().join("\n  "))]
    Drifted {
        table: String,
        differences: Vec<String>,
    },
    /// The account may not read (or change) a table locksmith must look
    /// at: what the table holds cannot be told, so nothing is assumed.
    #[error("permission denied: {} may not {} {}table `{}` (error {code}){}\nhint: grant the account {} on `{}`, or run this as an account that may", shown(.account), shown(.privilege), .column.as_ref().map(|c| format!("column `{}` of ", shown(c))).unwrap_or_default(), shown(.table), if .privilege == "SELECT" { "; locksmith cannot tell what it holds without that" } else { "" }, shown(.privilege), shown(.table))]
    NoAccess {
        table: String,
        column: Option<String>,
        privilege: String,
        account: String,
        code: u16,
    },
    /// The server or the driver reported an error; the driver's error is
    /// the source. The text is what the server said, password removed.
    #[error("database error: {}", shown(.0))]
    Db(String),
    /// The connection broke or stopped answering mid-operation (a server
    /// restart, a dead node, a hung network). Retried within the deadline.
    #[error("lost the connection to the server: {}", shown(.0))]
    Lost(String),
    /// The server refused for now and nothing landed: a write conflict
    /// between cluster nodes or a deadlock (1213), a lock wait timeout
    /// (1205), a node not ready for queries (1047). Retried within the
    /// deadline.
    #[error("the server asked to try again: {}", shown(.0))]
    Transient(String),
    /// The deadline passed while the server could not be reached or did not
    /// answer.
    #[error("gave up after {:.1}s: {what}", after.as_secs_f64())]
    TimedOut {
        after: std::time::Duration,
        what: String,
    },
    /// The outcome of a write cannot be told: `pending` says what may be
    /// left, `why` why it cannot be told (the deadline passed first, the
    /// row moved on since).
    #[error("{pending}: {}", shown(.why))]
    Unsettled { pending: Pending, why: String },
    /// The lock row named does not exist.
    #[error("lock row `{}` does not exist", shown_id(.0))]
    NoRow(String),
    /// The named lock is not held in that row.
    #[error("lock `{}` is not held in row `{}`", shown(.name), shown_id(.row))]
    NotHeld { row: String, name: String },
    /// The holder has no registration for that lock in the holder
    /// registry (it was acquired without one, or the registry is missing).
    #[error("{} has no registration for lock `{}` in row `{}` to renew", shown_id(.holder), shown(.name), shown_id(.row))]
    NotRegistered {
        row: String,
        name: String,
        holder: String,
    },
    /// The lock is held by somebody else.
    #[error("lock `{}` in row `{}` is held by {}", shown(.name), shown_id(.row), shown_id(.holder))]
    Held {
        row: String,
        name: String,
        holder: String,
    },
    /// The lock is held, but by a different holder than the one releasing it.
    #[error("lock `{}` in row `{}` is held by {}, not by {}", shown(.name), shown_id(.row), shown_id(.holder), shown_id(.wanted))]
    WrongHolder {
        row: String,
        name: String,
        holder: String,
        wanted: String,
    },
    /// A lock matching an `--unless-held` pattern is held.
    #[error("lock `{}` in row `{}` (matching `{}`) is held by {}", shown(.name), shown_id(.row), shown(.pattern), shown_id(.holder))]
    Blocked {
        row: String,
        name: String,
        pattern: String,
        holder: String,
    },
    /// The row changed between reading and writing (`--expect-version`).
    #[error("row `{}` is at version {}, not the expected {}; nothing was changed", shown_id(.row), shown(.actual), shown(.expected))]
    VersionMoved {
        row: String,
        expected: String,
        actual: String,
    },
    /// Retries were exhausted because other writers kept winning.
    #[error("row `{}` kept changing under us; gave up after repeated conflicts", shown_id(.0))]
    Contended(String),
    /// Waiting for a lock ran out of time.
    #[error("gave up after waiting {:.1}s: {what}", waited.as_secs_f64())]
    WaitTimeout {
        waited: std::time::Duration,
        what: String,
    },
    /// The row's dataJson is not a JSON object, so it cannot be changed safely.
    #[error("row `{}` holds data that is not a JSON object: {}", shown_id(.row), shown(.raw))]
    Corrupt { row: String, raw: String },
    /// The row is in a state no lock write can handle safely (a NULL or
    /// maxed-out version, a name written twice, …); `what` says which.
    #[error("row `{}` cannot be written safely: {}", shown_id(.row), shown(.what))]
    Damaged { row: String, what: String },
    /// A column held a value of an unexpected type, or NULL where a value
    /// is needed (a table altered or written by something else).
    #[error("unexpected value in table `{}`, column `{}`{}: {}", shown(.table), shown(.column), .row.as_ref().map(|r| format!(" of row `{}`", shown_id(r))).unwrap_or_default(), shown(.found))]
    BadValue {
        table: String,
        column: String,
        row: Option<String>,
        found: String,
    },
    /// The change would make dataJson larger than a TEXT column holds.
    #[error("row `{}` would need {bytes} bytes of dataJson, more than the {limit} a TEXT column holds; nothing was changed", shown_id(.row))]
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
    /// A migration failed; holds the migrations applied (or rolled back)
    /// before it, and the tables a `migrate down` cut off midway left
    /// renamed out of reach (or may have).
    #[error("migration {} failed: {}{}", shown(.migration), shown(.reason), left_words(.left))]
    MigrationFailed {
        migration: String,
        reason: String,
        applied: Vec<String>,
        left: Vec<Left>,
    },
    /// Applied migrations differ from the ones this binary carries.
    #[error("{0}")]
    Diverged(String),
    /// Another migration run held the migration guard for too long.
    #[error("another migration run, {holder}, held the migration guard for all of {seconds}s; giving up")]
    MigrationLockTimeout { holder: String, seconds: u64 },
    /// `migrate status --check` found pending, divergent or unknown migrations.
    #[error("schema is not current: {0}")]
    NotCurrent(String),
    /// A file or directory could not be read; the I/O error is the source.
    #[error("{0}")]
    Io(String),
    /// `locksmith bench` found lost or leftover locks, or failed operations.
    #[error("bench end-of-run check failed: {0}")]
    BenchFailed(String),
    /// Something inside locksmith failed that should not (a task panicked).
    #[error("internal error: {0}")]
    Internal(String),
    /// Interrupted by a signal (SIGINT, SIGTERM, SIGHUP) before finishing;
    /// `note` says what that left behind, if anything.
    #[error("interrupted by {}{}", signal_name(*signal), if note.is_empty() { String::new() } else { format!("; {note}") })]
    Interrupted { signal: i32, note: String },
    /// The reader of stdout went away (a closed pipe is not an error).
    #[error("broken pipe")]
    BrokenPipe,
}

/// `db1:3306: connection refused; db2:3306: no answer within 5.0s`.
fn node_list(nodes: &[(String, String)]) -> String {
    let each: Vec<String> = nodes
        .iter()
        .map(|(node, what)| format!("{}: {}", shown(node), shown(what)))
        .collect();
    each.join("; ")
}

/// `SIGINT` for 2, and so on.
pub fn signal_name(signal: i32) -> String {
    match nix::sys::signal::Signal::try_from(signal) {
        Ok(s) => s.as_str().to_string(),
        Err(_) => format!("signal {signal}"),
    }
}

impl Error {
    /// An error with a cause kept as its source.
    pub(crate) fn with_source(
        kind: Kind,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Error {
        Error {
            inner: Box::new(Inner {
                kind,
                source: Some(Box::new(source)),
                remedies: Vec::new(),
                driver: Driver::default(),
            }),
        }
    }

    /// What went wrong.
    pub fn kind(&self) -> &Kind {
        &self.inner.kind
    }

    /// What would mend it, most useful first: what the kind implies (a
    /// missing table: apply the migrations), then what the operation that
    /// failed added.
    pub fn remedies(&self) -> Vec<Remedy> {
        let implied = match self.kind() {
            Kind::NoTable(_) => Some(Remedy::ApplyMigrations),
            Kind::Quarantined { table, copies } => Some(Remedy::RestoreTable {
                table: table.clone(),
                copies: copies.clone(),
            }),
            Kind::Stranded { .. } => Some(Remedy::SwapCopyBack),
            Kind::Drifted { .. } => Some(Remedy::AlterTableBack),
            Kind::VersionMoved { row, .. } => Some(Remedy::LookAgain { row: row.clone() }),
            Kind::Corrupt { row, .. } => Some(Remedy::RepairRow {
                row: row.clone(),
                raw: true,
            }),
            Kind::Damaged { row, .. } => Some(Remedy::RepairRow {
                row: row.clone(),
                raw: false,
            }),
            Kind::MigrationLockTimeout { .. } => Some(Remedy::WaitForMigrationRun),
            Kind::Unsettled { pending, .. } => pending.remedy(),
            _ => None,
        };
        implied
            .into_iter()
            .chain(self.inner.remedies.iter().cloned())
            .collect()
    }

    /// The same error, with one more remedy.
    pub(crate) fn with_remedy(mut self, remedy: Remedy) -> Error {
        self.inner.remedies.push(remedy);
        self
    }

    /// True when the error says the lock (or row) is busy, so waiting may help.
    pub fn is_busy(&self) -> bool {
        matches!(
            self.kind(),
            Kind::Held { .. } | Kind::Blocked { .. } | Kind::Contended(_)
        )
    }

    /// The server's error code, when the server refused something.
    pub(crate) fn server_code(&self) -> Option<u16> {
        self.inner.driver.server.as_ref().map(|(code, _)| *code)
    }

    /// The server's own message, when the server refused something.
    pub(crate) fn server_message(&self) -> Option<&str> {
        self.inner.driver.server.as_ref().map(|(_, m)| m.as_str())
    }

    /// What kind of I/O error the driver met, when that is the cause (a
    /// refused connection, a reset).
    pub(crate) fn io_kind(&self) -> Option<std::io::ErrorKind> {
        self.inner.driver.io
    }

    /// The same error, with what the driver said (see [`Driver`]).
    pub(crate) fn with_driver(mut self, driver: Driver) -> Error {
        self.inner.driver = driver;
        self
    }

    /// The same cause, said differently (the kind replaced, the source
    /// kept).
    pub(crate) fn with_kind(mut self, kind: Kind) -> Error {
        self.inner.kind = kind;
        self
    }

    /// True when the connection broke (or stopped answering) after
    /// something was sent: whether it landed cannot be told from here.
    pub(crate) fn is_lost(&self) -> bool {
        matches!(self.kind(), Kind::Lost(_))
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.kind.fmt(f)
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Error");
        d.field("kind", &self.inner.kind);
        if let Some(s) = &self.inner.source {
            // The source's Display, not its Debug: the driver's Debug of
            // some errors would print connection options.
            d.field("source", &s.to_string());
        }
        d.finish()
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.inner
            .source
            .as_deref()
            .map(|s| s as &(dyn std::error::Error + 'static))
    }
}

impl From<Kind> for Error {
    fn from(kind: Kind) -> Self {
        Error {
            inner: Box::new(Inner {
                kind,
                source: None,
                remedies: Vec::new(),
                driver: Driver::default(),
            }),
        }
    }
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        let text = e.to_string();
        Error::with_source(Kind::Io(text), e)
    }
}

/// Shorthand for results in this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;
    use std::error::Error as _;

    #[test]
    fn the_cause_is_kept_as_the_source() {
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "no such file");
        let e = Error::from(io);
        assert_eq!(e.to_string(), "no such file");
        assert_eq!(e.source().unwrap().to_string(), "no such file");
        let plain = Error::from(Kind::Aborted);
        assert!(plain.source().is_none());
    }
}
