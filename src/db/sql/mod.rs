//! Every SQL statement locksmith sends, in one place: this directory, one
//! file per table family, all of them seen as `sql::…`.
//!
//! The migrations themselves live in `migrations/` (embedded by `build.rs`).
//! The statements here are the runtime: setting a session up and settling
//! one that was cut off (this file), the migrations' history, live schema
//! and run guard ([`migrate`]), lock rows ([`locks`]), the holder registry
//! ([`registry`]) and the audit trail ([`audit`]). Values always travel as
//! parameters, never spliced in (the few statements built as text splice
//! only locksmith's own names and numbers).

mod audit;
mod locks;
mod migrate;
mod registry;

pub use audit::*;
pub use locks::*;
pub use migrate::*;
pub use registry::*;

/// Run on every new connection to MariaDB, in one round trip with the
/// question whether this is a Galera node: strict mode, so the server
/// errors instead of truncating or mangling data, whatever the server's
/// global `sql_mode`; and on a Galera node, causal reads
/// (`wsrep_sync_wait = 1`): a read waits until the node has applied every
/// write the cluster committed before it, so a decision is never made on a
/// stale row. (Off a cluster the setting is 0, as it would be anyway.)
///
/// What we send is declared utf8mb3, the `locks` table's own character set:
/// locksmith refuses anything outside it before writing anyway, and the
/// server then stores a 64 KB `dataJson` without converting it from
/// utf8mb4 on every write (a fifth of the cost of such a write). Results
/// stay utf8mb4, so nothing read is ever narrowed.
pub const SESSION_SETUP_MARIADB: &str =
    "SET SESSION sql_mode = 'TRADITIONAL,NO_ENGINE_SUBSTITUTION', \
     character_set_client = utf8mb3, character_set_connection = utf8mb3, \
     character_set_results = utf8mb4, \
     wsrep_sync_wait = IF(@@GLOBAL.wsrep_on, 1, 0); \
     SELECT @@GLOBAL.wsrep_on";

/// The same for MySQL, which has no Galera settings.
pub const SESSION_SETUP_MYSQL: &str =
    "SET SESSION sql_mode = 'TRADITIONAL,NO_ENGINE_SUBSTITUTION', \
     character_set_client = utf8mb3, character_set_connection = utf8mb3, \
     character_set_results = utf8mb4";

/// Whether the server has TLS (`YES`), asked over a plaintext connection
/// to a server remembered without it (see `tls_memory`).
pub const HAVE_SSL: &str = "SHOW GLOBAL VARIABLES LIKE 'have_ssl'";

// ---- connecting -----------------------------------------------------------

/// The TLS version and cipher of this session (empty for plaintext).
pub const SESSION_TLS: &str =
    "SHOW SESSION STATUS WHERE Variable_name IN ('Ssl_version', 'Ssl_cipher')";

/// Whether a database the user can see exists (after access to it was
/// denied). Param: its name.
pub const SCHEMA_EXISTS: &str =
    "SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?";

// ---- settling a session that was cut off ---------------------------------

/// End a session of ours whose last statement may still be running: its
/// connection broke (or was abandoned) after the statement was sent. Any
/// user may kill its own sessions. The id is a number, so it is spliced in.
pub fn kill_connection(id: u32) -> String {
    format!("KILL CONNECTION {id}")
}

/// Seconds since the server started: a server that restarted after a
/// session was abandoned no longer has it (and reuses its id).
pub const SERVER_UPTIME: &str =
    "SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME = 'UPTIME'";

/// Is that session still there? Once it is gone, whatever it was running
/// has committed or rolled back, so a read tells the truth about it.
pub const SESSION_EXISTS: &str = "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE ID = ?";
