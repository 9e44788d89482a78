//! locksmith: migrations, operator commands and a cross-process lock
//! protocol for the MySQL/MariaDB `locks` table that Cloudron introduced.
//!
//! The table is `locks(id, dataJson, version, ts)`: each row holds a JSON
//! object mapping lock name to holder, and every change is a compare-and-swap
//! on `version`. No row locks, no `LOCK TABLES`, no session state, so it
//! works through connection pools and from many processes at once.
//!
//! * [`migrate`] applies and rolls back the schema (refinery-embedded).
//! * [`row`] is the lock-row protocol: read, CAS write, acquire, release,
//!   force-release, release-by-holder, release-all, bump.
//! * [`wait`] adds deadlines and the [`wait::LockGuard`] for services.
//! * [`audit`] records every operator change in `locks_audit`.
//! * [`cli`] is the command line; the binary is a thin wrapper around it.
//!
//! ```no_run
//! # async fn demo() -> locksmith::error::Result<()> {
//! use locksmith::{row::LockTable, url::DbUrl, wait::AcquireOptions};
//! let url = DbUrl::parse("mysql://app:secret@127.0.0.1:3306/app")?;
//! let table = LockTable::connect(&url).await?;
//! let guard = table
//!     .lock("platform", "backup", "task-42", &AcquireOptions::default(), |_| {})
//!     .await?;
//! // ... do the work ...
//! guard.release().await?;
//! # Ok(()) }
//! ```

pub mod audit;
pub mod bench;
pub mod cli;
pub mod db;
pub mod error;
pub mod migrate;
pub mod render;
pub mod row;
pub mod runcmd;
pub mod sql;
pub mod url;
pub mod wait;

pub use error::{Error, Kind, Result};
