//! The database layer: everything that knows it is talking to MySQL or
//! MariaDB through mysql_async, kept apart so that the lock protocol and the
//! migrations above it deal in rows, versions and outcomes, not packets.
//!
//! * [`url`]: the database URL, and how it is shown without its password.
//! * `connect`: opening a connection in strict mode, and turning driver
//!   errors into messages an operator can act on.
//! * `session` (crate-private): one connection that survives being cut off
//!   mid-statement, by settling the abandoned session before anything reads.
//! * `sql`: every statement locksmith sends.
//! * `value` (crate-private): reading columns without panicking on
//!   unexpected types.

pub(crate) mod connect;
pub(crate) mod session;
pub(crate) mod sql;
pub mod url;
pub(crate) mod value;

pub(crate) use connect::{is_connection_loss, server_code};
pub(crate) use session::{Lease, Session};
pub use url::DbUrl;
