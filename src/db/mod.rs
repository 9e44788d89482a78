//! The database layer: everything that knows it is talking to MySQL or
//! MariaDB through mysql_async, kept apart so that the lock protocol and the
//! migrations above it deal in rows, versions and outcomes, not packets.
//!
//! * [`url`]: the database URL, and how it is shown without its password.
//! * [`tls`]: what `ssl-mode` means, and what a refused handshake means.
//! * [`credentials`]: passwords and defaults from files and the
//!   environment, off the command line.
//! * [`files`]: reading those files (and the TLS files) within the
//!   deadline, whatever they are (a FIFO, a hung file system).
//! * `connect`: opening a connection in strict mode, and turning driver
//!   errors into messages an operator can act on.
//! * `failover`: the nodes of a URL tried in turn, and what happened at
//!   each when none answers.
//! * `tls_memory`: which servers have no TLS, remembered, so that
//!   `ssl-mode=preferred` does not knock on their door with TLS each time.
//! * `session` (crate-private): one connection that survives being cut off
//!   mid-statement, by settling the abandoned session before anything reads.
//! * [`deadline`] and [`retry`]: every operation ends by its deadline,
//!   and the one policy by which what failed for a moment is tried again.
//! * `sql`: every statement locksmith sends.
//! * [`columns`]: locksmith's own tables column by column, and how a live
//!   table differs from them.
//! * `value` (crate-private): reading columns without panicking on
//!   unexpected types.

pub mod columns;
pub(crate) mod connect;
pub mod credentials;
pub mod deadline;
pub(crate) mod failover;
pub mod files;
pub mod retry;
pub(crate) mod session;
pub(crate) mod sql;
pub mod tls;
pub(crate) mod tls_memory;
pub mod url;
pub(crate) mod value;

pub use connect::Reached;
pub use deadline::Deadline;
pub use failover::wait_for;
pub use session::DEFAULT_TIMEOUT;
pub(crate) use session::{Lease, Session};

use std::time::Duration;

/// Hears about each new connection (for `--verbose`).
pub type Reporter = std::sync::Arc<dyn Fn(&Reached) + Send + Sync>;

/// How to connect, for [`crate::LockTable`] and [`crate::migrate::Migrator`].
#[derive(Clone)]
pub struct ConnectOptions {
    /// How long each connect and each statement may take, and each library
    /// operation as a whole unless it is given a deadline of its own.
    pub timeout: Duration,
    /// The node of the URL to try first (an index; 0, the first, unless a
    /// client should spread over a cluster's nodes).
    pub first_node: usize,
    /// Describes every new connection to this (one more round trip each).
    pub report: Option<Reporter>,
}

impl std::fmt::Debug for ConnectOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectOptions")
            .field("timeout", &self.timeout)
            .field("first_node", &self.first_node)
            .field("report", &self.report.is_some())
            .finish()
    }
}

impl Default for ConnectOptions {
    fn default() -> Self {
        ConnectOptions {
            timeout: DEFAULT_TIMEOUT,
            first_node: 0,
            report: None,
        }
    }
}
pub use url::DbUrl;
