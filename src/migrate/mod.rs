//! Schema migrations: the embedded up migrations (through refinery), their
//! down steps, and the run lock that makes racing deployers safe.
//!
//! Refinery applies migrations and owns the history table
//! (`refinery_schema_history`, in refinery's own format, so refinery's CLI
//! reads it as its own). Refinery has no down migrations and no guard against
//! two runs at once, so this module adds both.
//!
//! * [`set`]: the migrations, embedded or from a directory.
//! * [`mod@status`]: the history, and each migration's state.
//! * `apply` (crate-private): `up` and `down`.
//! * `runlock` (crate-private): the lock that serialises runs.
//! * `adapter` (crate-private): refinery's driver, on our connection.

mod adapter;
mod apply;
mod runlock;
pub mod set;
pub mod status;

pub use apply::{DownOptions, DownReport, DownTo, Planned, UpOptions, UpReport};
pub use set::MigrationSet;
pub use status::{status, Applied, MigrationStatus, State};

use crate::db::{ConnectOptions, DbUrl, Session};
use crate::error::Result;

/// A connection for migration runs.
pub struct Migrator {
    session: Session,
}

impl Migrator {
    /// Connects (in strict mode).
    pub async fn connect(url: &DbUrl, opts: &ConnectOptions) -> Result<Migrator> {
        Ok(Migrator {
            session: Session::open(url, opts.timeout).await?,
        })
    }

    /// The migrations recorded as applied, oldest first.
    pub async fn applied(&self) -> Result<Vec<Applied>> {
        status::applied(&mut self.session.lease().await?).await
    }

    /// Applies what is pending (or, with `dry_run`, plans it).
    pub async fn up(&self, set: &MigrationSet, opts: &UpOptions) -> Result<UpReport> {
        let db = self.session.url().db_name().to_string();
        apply::up(&mut self.session.lease().await?, &db, set, opts).await
    }

    /// Rolls back, newest first (or, with `dry_run`, plans it).
    pub async fn down(&self, set: &MigrationSet, opts: &DownOptions) -> Result<DownReport> {
        let db = self.session.url().db_name().to_string();
        apply::down(&mut self.session.lease().await?, &db, set, opts).await
    }

    /// Closes the connection cleanly.
    pub async fn close(self) -> Result<()> {
        self.session.close().await
    }
}
