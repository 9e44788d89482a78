//! Schema migrations: the embedded ones (`migrations/`, up and down steps
//! side by side), and the run guard that makes racing deployers safe, on one
//! server and on a multi-primary cluster.
//!
//! Refinery applies migrations and owns the history table
//! (`refinery_schema_history`, in refinery's own format, so refinery's CLI
//! reads it as its own). Refinery has no down migrations and no guard against
//! two runs at once, so this module adds both.
//!
//! * [`set`]: the migrations, embedded or from a directory; `naming`
//!   (crate-private): the rules of such a directory, which `build.rs`
//!   checks `migrations/` with too; `source` (crate-private): reading a
//!   `--source` directory within the deadline.
//! * [`mod@status`]: the history, and each migration's state.
//! * [`guard`]: the run guard, a lease row every cluster node sees.
//! * [`schema`]: the live tables, checked against what the migrations make.
//! * [`mark`]: `mark-applied`, recording a migration finished by hand.
//! * `up` and `down` (crate-private): applying and rolling back.
//! * `adapter` (crate-private): refinery's driver, on our connection.

mod adapter;
mod down;
pub mod guard;
pub mod mark;
mod naming;
pub mod schema;
pub mod set;
mod source;
pub mod status;
mod up;

pub use down::{DownOptions, DownReport, DownTo};
pub use guard::{GuardState, Holder};
pub use mark::{MarkOptions, MarkReport};
pub use set::{MigrationSet, Planned};
pub use status::{status, Action, Applied, MigrationStatus, Observed, State};
pub use up::{Step, UpOptions, UpReport};

use crate::db::retry::Policy;
use crate::db::{ConnectOptions, DbUrl, Deadline, Session};
use crate::error::{Error, Kind, Result};
use std::time::Duration;

/// The server's refusal to let this account read or change a table
/// (1142, or 1143 for a column) as [`Kind::NoAccess`], naming the table
/// and the privilege: a table locksmith may not read is an error, never
/// taken for one that is empty or absent. Any other error as it is.
pub(crate) fn denied(e: Error) -> Error {
    let Some(code @ (1142 | 1143)) = e.server_code() else {
        return e;
    };
    match e.server_message().and_then(|m| no_access(code, m)) {
        Some(kind) => Error::with_source(kind, e),
        None => e,
    }
}

/// "SELECT command denied to user 'u'@'h' for table `db`.`t`" (MariaDB),
/// "… for table 't'" (MySQL), "… for column 'c' in table 't'" (1143).
fn no_access(code: u16, message: &str) -> Option<Kind> {
    let (privilege, rest) = message.split_once(" command denied to user ")?;
    let (account, rest) = rest.split_once(" for ")?;
    let (column, table) = match rest.strip_prefix("column ") {
        Some(c) => {
            let (column, table) = c.split_once(" in table ")?;
            (Some(bare(column)), table)
        }
        None => (None, rest.strip_prefix("table ")?),
    };
    Some(Kind::NoAccess {
        table: bare(table),
        column,
        privilege: privilege.trim().to_string(),
        account: account.trim().to_string(),
        code,
    })
}

/// `` `db`.`t` `` or `'t'` → `t`.
fn bare(name: &str) -> String {
    let name = name.trim();
    let last = name
        .rsplit_once("`.`")
        .or_else(|| name.rsplit_once("'.'"))
        .map_or(name, |(_, t)| t);
    last.trim_matches(|c| c == '`' || c == '\'').to_string()
}

/// A connection for migration runs.
///
/// Reads (`applied`, `guard`, `observe`) end by the migrator's deadline
/// ([`Migrator::until`]), or else its timeout. Runs (`up`, `down`,
/// `mark_applied`) end by its deadline when it has one; without, each of
/// their statements is bounded by the timeout and the wait for another
/// run by the `lock_timeout` of their options, however long the
/// migrations themselves take.
pub struct Migrator {
    session: Session,
    until: Option<Deadline>,
}

impl Migrator {
    /// Connects (in strict mode), by `opts.timeout`.
    pub async fn connect(url: &DbUrl, opts: &ConnectOptions) -> Result<Migrator> {
        Migrator::connect_until(url, opts, Deadline::after(opts.timeout)).await
    }

    /// Connects by `d` (and each statement later within `opts.timeout`).
    pub async fn connect_until(
        url: &DbUrl,
        opts: &ConnectOptions,
        d: Deadline,
    ) -> Result<Migrator> {
        Ok(Migrator {
            session: Session::open(url, opts, d).await?,
            until: None,
        })
    }

    /// The same connection, whose operations all end by `d`.
    pub fn until(&self, d: Deadline) -> Migrator {
        Migrator {
            session: self.session.clone(),
            until: Some(d),
        }
    }

    /// The deadline of a read starting now.
    fn read_deadline(&self) -> Deadline {
        self.until
            .unwrap_or_else(|| Deadline::after(self.session.timeout()))
    }

    /// The deadline of a run starting now (see the type's docs).
    fn run_deadline(&self) -> Deadline {
        self.until.unwrap_or_else(Deadline::unbounded)
    }

    /// The migrations recorded as applied, oldest first.
    pub async fn applied(&self) -> Result<Vec<Applied>> {
        let mut c = self.session.lease(self.read_deadline()).await?;
        let read = status::applied(&mut c.with(Policy::IDEMPOTENT)).await;
        read.map_err(denied)
    }

    /// The run guard as it stands: who holds it, and what a run recorded it
    /// was applying and did not finish.
    pub async fn guard(&self, ttl: Duration) -> Result<GuardState> {
        let mut c = self.session.lease(self.read_deadline()).await?;
        let read = guard::read(&mut c.with(Policy::IDEMPOTENT), ttl).await;
        read.map_err(denied)
    }

    /// The history, the live tables and the guard, read together: what
    /// [`status()`] needs.
    pub async fn observe(&self, set: &MigrationSet, ttl: Duration) -> Result<Observed> {
        let mut c = self.session.lease(self.read_deadline()).await?;
        let read = status::observe(&mut c.with(Policy::IDEMPOTENT), set, ttl).await;
        read.map_err(denied)
    }

    /// Records one migration as applied without running it (see [`mark`]).
    pub async fn mark_applied(
        &self,
        set: &MigrationSet,
        opts: &MarkOptions,
        on_wait: impl FnMut(&Holder),
    ) -> Result<MarkReport> {
        mark::mark_applied(&self.session, set, opts, self.run_deadline(), on_wait)
            .await
            .map_err(denied)
    }

    /// Applies what is pending (or, with `dry_run`, plans it). `on_wait`
    /// hears who holds the guard while another run does.
    pub async fn up(
        &self,
        set: &MigrationSet,
        opts: &UpOptions,
        on_wait: impl FnMut(&Holder),
    ) -> Result<UpReport> {
        up::up(&self.session, set, opts, self.run_deadline(), on_wait)
            .await
            .map_err(denied)
    }

    /// Rolls back, newest first (or, with `dry_run`, plans it).
    pub async fn down(
        &self,
        set: &MigrationSet,
        opts: &DownOptions,
        on_wait: impl FnMut(&Holder),
    ) -> Result<DownReport> {
        down::down(&self.session, set, opts, self.run_deadline(), on_wait)
            .await
            .map_err(denied)
    }

    /// Closes the connection cleanly, by `d`.
    pub async fn close(self, d: Deadline) -> Result<()> {
        self.session.close(d).await
    }
}

#[cfg(test)]
mod tests {
    use super::no_access;
    use crate::error::Kind;

    #[test]
    fn a_refused_privilege_names_the_table_and_the_privilege() {
        for (code, message, want) in [
            (
                1142,
                "SELECT command denied to user 'lim'@'127.0.0.1' for table `t1`.`refinery_schema_history`",
                ("SELECT", "'lim'@'127.0.0.1'", "refinery_schema_history", None),
            ),
            (
                1142,
                "DROP command denied to user 'app'@'localhost' for table 'locks_dropping_0badc0de'",
                ("DROP", "'app'@'localhost'", "locks_dropping_0badc0de", None),
            ),
            (
                1143,
                "SELECT command denied to user 'u'@'%' for column 'token' in table 'locksmith_migrate'",
                ("SELECT", "'u'@'%'", "locksmith_migrate", Some("token")),
            ),
        ] {
            let Some(Kind::NoAccess {
                table,
                column,
                privilege,
                account,
                ..
            }) = no_access(code, message)
            else {
                panic!("not understood: {message}");
            };
            assert_eq!(
                (privilege.as_str(), account.as_str(), table.as_str(), column.as_deref()),
                want
            );
        }
        assert!(no_access(1142, "something else entirely").is_none());
    }
}
