//! locksmith: migrations, operator commands and a cross-process lock
//! protocol for the MySQL/MariaDB `locks` table that Cloudron introduced.
//!
//! The table is `locks(id, dataJson, version, ts)`: each row holds a JSON
//! object mapping lock name to holder, and every change is a compare-and-swap
//! on `version`. No row locks, no `LOCK TABLES`, no session state, so it
//! works through connection pools and from many processes at once.
//!
//! Dependencies point one way: [`cli`] → library ([`locks`], [`migrate`],
//! [`mod@bench`]) → database layer ([`db`]).
//!
//! * [`locks`]: the lock-row protocol, [`LockTable`] and [`LockGuard`].
//! * [`liveness`]: whether a lock's holder is alive: the holder registry,
//!   verdicts with their evidence, probes.
//! * [`migrate`]: applies and rolls back the schema (refinery-embedded).
//! * [`mod@bench`]: lock throughput against the single-row ceiling.
//! * [`db`]: URLs, connections, sessions and every SQL statement.
//! * [`supervise`]: running a command so that nothing it starts outlives
//!   its caller (behind `locks run`).
//! * [`cli`]: the command line; the binary is a thin wrapper around it.
//!
//! ```no_run
//! # async fn demo() -> locksmith::Result<()> {
//! use locksmith::{AcquireOptions, DbUrl, LockTable};
//! let url = DbUrl::parse("mysql://app:secret@127.0.0.1:3306/app")?;
//! let table = LockTable::connect(&url).await?;
//! let guard = table
//!     .lock("platform", "backup", "task-42", &AcquireOptions::default(), |_| {})
//!     .await?;
//! // ... do the work ...
//! guard.release().await?;
//! # Ok(()) }
//! ```

// The lock futures nest deeply (connect, TLS fallbacks, retries, deadlines).
#![recursion_limit = "256"]

pub mod bench;
pub mod cli;
pub mod db;
pub mod error;
pub mod host;
pub mod liveness;
pub mod locks;
pub mod migrate;
pub mod shown;
pub mod supervise;

pub use db::url::DbUrl;
pub use error::{Error, Kind, Result};
pub use locks::{AcquireOptions, Acquired, LockGuard, LockTable};
