//! Schema migrations: the embedded up migrations (through refinery), their
//! down steps, and the run guard that makes racing deployers safe, on one
//! server and on a multi-primary cluster.
//!
//! Refinery applies migrations and owns the history table
//! (`refinery_schema_history`, in refinery's own format, so refinery's CLI
//! reads it as its own). Refinery has no down migrations and no guard against
//! two runs at once, so this module adds both.
//!
//! * [`set`]: the migrations, embedded or from a directory.
//! * [`mod@status`]: the history, and each migration's state.
//! * [`guard`]: the run guard, a lease row every cluster node sees.
//! * [`schema`]: the live tables, checked against what the migrations make.
//! * [`mark`]: `mark-applied`, recording a migration finished by hand.
//! * `up` and `down` (crate-private): applying and rolling back.
//! * `adapter` (crate-private): refinery's driver, on our connection.

/// Runs one autocommit statement (an expression, evaluated again for each
/// try), trying again while a cluster refuses it for now: a conflict with
/// another node's write, or a read aborted by another node's DDL (1213),
/// a lock wait timeout (1205), a node not ready (1047). Nothing of a
/// refused statement landed. Never for a statement inside a transaction:
/// there a refusal rolled the whole transaction back.
macro_rules! again {
    ($statement:expr) => {{
        let mut backoff = crate::db::deadline::Backoff::new(
            std::time::Duration::from_millis(2),
            std::time::Duration::from_millis(200),
        );
        let mut tries = 0;
        loop {
            match $statement.await {
                Err(e)
                    if matches!(e.kind(), crate::error::Kind::Transient(_))
                        && tries < 50
                        && backoff.wait().await =>
                {
                    tries += 1
                }
                done => break done,
            }
        }
    }};
}

mod adapter;
mod down;
pub mod guard;
pub mod mark;
pub mod schema;
pub mod set;
pub mod status;
mod up;

pub use down::{DownOptions, DownReport, DownTo};
pub use guard::{GuardState, Holder};
pub use mark::{MarkOptions, MarkReport};
pub use set::{MigrationSet, Planned};
pub use status::{status, Action, Applied, MigrationStatus, Observed, State};
pub use up::{Step, UpOptions, UpReport};

use crate::db::{ConnectOptions, DbUrl, Session};
use crate::error::Result;
use std::time::Duration;

/// A connection for migration runs.
pub struct Migrator {
    session: Session,
    connect: ConnectOptions,
}

impl Migrator {
    /// Connects (in strict mode).
    pub async fn connect(url: &DbUrl, opts: &ConnectOptions) -> Result<Migrator> {
        Ok(Migrator {
            session: Session::open(url, opts.timeout).await?,
            connect: opts.clone(),
        })
    }

    /// The migrations recorded as applied, oldest first.
    pub async fn applied(&self) -> Result<Vec<Applied>> {
        let mut c = self.session.lease().await?;
        again!(status::applied(&mut c))
    }

    /// The run guard as it stands: who holds it, and what a run recorded it
    /// was applying and did not finish.
    pub async fn guard(&self, ttl: Duration) -> Result<GuardState> {
        let mut c = self.session.lease().await?;
        again!(guard::read(&mut c, ttl))
    }

    /// The history, the live tables and the guard, read together: what
    /// [`status()`] needs.
    pub async fn observe(&self, set: &MigrationSet, ttl: Duration) -> Result<Observed> {
        let mut c = self.session.lease().await?;
        again!(status::observe(&mut c, set, ttl))
    }

    /// Records one migration as applied without running it (see [`mark`]).
    pub async fn mark_applied(
        &self,
        set: &MigrationSet,
        opts: &MarkOptions,
        on_wait: impl FnMut(&Holder),
    ) -> Result<MarkReport> {
        mark::mark_applied(&self.session, &self.connect, set, opts, on_wait).await
    }

    /// Applies what is pending (or, with `dry_run`, plans it). `on_wait`
    /// hears who holds the guard while another run does.
    pub async fn up(
        &self,
        set: &MigrationSet,
        opts: &UpOptions,
        on_wait: impl FnMut(&Holder),
    ) -> Result<UpReport> {
        up::up(&self.session, &self.connect, set, opts, on_wait).await
    }

    /// Rolls back, newest first (or, with `dry_run`, plans it).
    pub async fn down(
        &self,
        set: &MigrationSet,
        opts: &DownOptions,
        on_wait: impl FnMut(&Holder),
    ) -> Result<DownReport> {
        down::down(&self.session, &self.connect, set, opts, on_wait).await
    }

    /// Closes the connection cleanly.
    pub async fn close(self) -> Result<()> {
        self.session.close().await
    }
}
