//! The statements of migrations: refinery's history table, the live
//! schema (which tables and columns there are, and what an interrupted
//! `down` left renamed away), the migration run guard, and a `down`'s
//! renames and drops.

// ---- migrations -----------------------------------------------------------

/// Refinery's history table, in refinery's own format.
pub const HISTORY_TABLE: &str = "refinery_schema_history";

/// Applied migrations, oldest first (the same columns refinery reads).
pub const SELECT_HISTORY: &str =
    "SELECT version, name, applied_on, checksum FROM refinery_schema_history ORDER BY version";

/// Forget one migration after its down step ran.
pub const DELETE_HISTORY: &str = "DELETE FROM refinery_schema_history WHERE version = ?";

/// Record a migration as applied, in refinery's own format (what refinery's
/// runner writes after a migration): version, name, applied_on (RFC 3339),
/// checksum (refinery's, as text). For adopting a table that is already
/// there, for a migration applied out of order, and for `mark-applied`.
pub const INSERT_HISTORY: &str =
    "INSERT INTO refinery_schema_history (version, name, applied_on, checksum) VALUES (?, ?, ?, ?)";

/// Refinery's history table, as refinery creates it, for a database where
/// the first thing recorded is an adopted or hand-marked migration.
pub const CREATE_HISTORY: &str = "CREATE TABLE IF NOT EXISTS refinery_schema_history( \
     version INT PRIMARY KEY, name VARCHAR(255), applied_on VARCHAR(255), checksum VARCHAR(255))";

// ---- the live schema -----------------------------------------------------

/// Names the tables a migration may make that are plain identifiers, as
/// SQL string literals (the migrations' tables are found by a token scan
/// that only yields those; anything else is left out).
fn listed(tables: &[String]) -> String {
    let names: Vec<String> = tables
        .iter()
        .filter(|t| !t.is_empty() && t.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'))
        .map(|t| format!("'{t}'"))
        .collect();
    match names.is_empty() {
        true => "FALSE".to_string(),
        false => format!("TABLE_NAME IN ({})", names.join(", ")),
    }
}

/// Which of the named tables exist in this database, and which tables a
/// `migrate down` renamed out of reach and left (see [`QUARANTINED`]).
/// The server answers from the directory alone (it opens no table), so
/// this costs little more than a round trip, patterns included (measured:
/// the same as without them). A table the account has no privilege on is
/// not listed: see [`probe_table`].
pub fn select_tables(tables: &[String]) -> String {
    format!(
        "SELECT TABLE_NAME FROM information_schema.TABLES \
         WHERE TABLE_SCHEMA = DATABASE() AND ({} OR {QUARANTINED})",
        listed(tables)
    )
}

/// Fails unless the account may read table `table` (a plain identifier,
/// see [`listed`]); returns nothing. Tells a table that does not exist
/// (1146) from one hidden from this account (1142: no privilege on it),
/// which `information_schema` lists alike: not at all.
pub fn probe_table(table: &str) -> String {
    format!("SELECT 1 FROM `{table}` LIMIT 0")
}

/// The columns of the named tables in this database: table, column, type,
/// nullability, collation, in table order. Exact, but the server reads
/// each table's definition from disk for it (~0.3 ms, the cost of a whole
/// no-op `up` round trip several times over): asked only when the cheap
/// look ([`describe_table`]) finds a table that is not as expected.
pub fn select_columns(tables: &[String]) -> String {
    format!(
        "SELECT TABLE_NAME, COLUMN_NAME, COLUMN_TYPE, IS_NULLABLE, COLLATION_NAME \
         FROM information_schema.COLUMNS \
         WHERE TABLE_SCHEMA = DATABASE() AND {} \
         ORDER BY TABLE_NAME, ORDINAL_POSITION",
        listed(tables)
    )
}

/// No rows, only the result's column descriptions: type, length, flags and,
/// while [`RESULTS_UNCONVERTED`] is in force, each column's own collation.
/// Param-free; `table` must be a plain identifier (see [`listed`]).
pub fn describe_table(table: &str) -> String {
    format!("SELECT * FROM `{table}` LIMIT 0")
}

/// Results in each column's own character set, so that a result's column
/// descriptions carry the column's collation rather than the session's.
pub const RESULTS_UNCONVERTED: &str = "SET SESSION character_set_results = NULL";

/// Back to the session's setting (see [`SESSION_SETUP_MARIADB`]).
pub const RESULTS_UTF8MB4: &str = "SET SESSION character_set_results = utf8mb4";

/// The condition on `TABLE_NAME` that finds tables a `migrate down`
/// renamed out of reach (`locks_dropping_<tag>`,
/// `locks_audit_dropping_<tag>`; see [`quarantine_name`]).
macro_rules! quarantined {
    () => {
        "TABLE_NAME LIKE 'locks\\_dropping\\_%' OR TABLE_NAME LIKE 'locks\\_audit\\_dropping\\_%'"
    };
}
const QUARANTINED: &str = quarantined!();

/// Tables a `migrate down` renamed out of reach and did not get to drop or
/// rename back: for a lock command that found its table missing.
pub const SELECT_QUARANTINED: &str = concat!(
    "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND (",
    quarantined!(),
    ") ORDER BY TABLE_NAME"
);

/// The name `migrate down` gives `table` while it checks it, out of every
/// writer's reach: `<table>_dropping_<tag>` (`tag`: 8 hex digits).
pub fn quarantine_name(table: &str, tag: &str) -> String {
    format!("{table}_dropping_{tag}")
}

/// The table a quarantine name ([`quarantine_name`]) was, if it is one.
/// Only plain identifiers count: such a name goes into statements (in
/// backquotes) and messages as it is.
pub fn quarantined_table(name: &str) -> Option<&str> {
    let (table, tag) = name.rsplit_once("_dropping_")?;
    let plain = !tag.is_empty() && tag.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    (matches!(table, "locks" | "locks_audit") && plain).then_some(table)
}

// ---- the migration run guard ---------------------------------------------

/// The table of the migration run guard: one row, `run`, whose `token` says
/// which run holds it, `beat` when it last said it is alive, and `applying`
/// which migration it is applying right now. Created on demand; not part
/// of the migrations, so it exists before V1 and after `down --all`.
pub const GUARD_TABLE: &str = "locksmith_migrate";

/// Create it unless it exists (DDL: ordered cluster-wide on Galera, and a
/// second CREATE … IF NOT EXISTS is harmless).
pub const GUARD_CREATE: &str = "CREATE TABLE IF NOT EXISTS locksmith_migrate (
    name VARCHAR(16) NOT NULL PRIMARY KEY,
    token CHAR(32) NULL,
    holder VARCHAR(255) NULL,
    since DATETIME(6) NULL,
    beat DATETIME(6) NULL,
    applying INT NULL,
    applying_name VARCHAR(255) NULL,
    applying_by VARCHAR(255) NULL,
    applying_since DATETIME(6) NULL,
    applying_conn BIGINT NULL
) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin";

/// Its one row, unless it is there.
pub const GUARD_ROW: &str = "INSERT IGNORE INTO locksmith_migrate (name) VALUES ('run')";

/// The row as it stands, times as seconds since the epoch (UTC), and
/// whether the holder's heartbeat is older than the TTL (seconds; ours, a
/// number, so in the text: no prepared statement). Also the server
/// connection that was applying the recorded migration (see
/// [`APPLYING_CONN_THERE`]).
pub fn guard_read(ttl_secs: f64) -> String {
    format!(
        "SELECT token, holder, UNIX_TIMESTAMP(since), \
         beat < UTC_TIMESTAMP(6) - INTERVAL {ttl_secs:.3} SECOND, \
         applying, applying_name, applying_by, UNIX_TIMESTAMP(applying_since), applying_conn \
         FROM locksmith_migrate WHERE name = 'run'"
    )
}

/// Whether the server connection (param) that was applying a migration is
/// still there: a client killed mid-statement leaves its statement running
/// on the server (as far as this node can see; on a cluster, only the node
/// it ran on lists it). Only asked when a migration is recorded as being
/// applied.
pub const APPLYING_CONN_THERE: &str =
    "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE ID = ?";

/// Take the guard: only when nobody holds it, or the holder's heartbeat is
/// older than the TTL. Params: token, holder, TTL seconds. One row
/// affected: ours (on Galera, certified, so no other node's run has it).
pub const GUARD_TAKE: &str = "UPDATE locksmith_migrate \
     SET token = ?, holder = ?, since = UTC_TIMESTAMP(6), beat = UTC_TIMESTAMP(6) \
     WHERE name = 'run' AND (token IS NULL OR beat < UTC_TIMESTAMP(6) - INTERVAL ? SECOND)";

/// Take the guard over from a dead run (its lease ran out, or its process
/// is gone from this host), named by its token. Params: token, holder, the
/// dead run's token.
pub const GUARD_TAKE_FROM: &str = "UPDATE locksmith_migrate \
     SET token = ?, holder = ?, since = UTC_TIMESTAMP(6), beat = UTC_TIMESTAMP(6) \
     WHERE name = 'run' AND token = ?";

/// The heartbeat of the run holding `token`; 0 rows: it is not ours any more.
pub const GUARD_BEAT: &str =
    "UPDATE locksmith_migrate SET beat = UTC_TIMESTAMP(6) WHERE name = 'run' AND token = ?";

/// Forget what a dead run recorded it was applying, once that migration is
/// dealt with (adopted, or marked applied by hand). Params: token (the
/// guard is ours), version.
pub const GUARD_FORGET: &str = "UPDATE locksmith_migrate \
     SET applying = NULL, applying_name = NULL, applying_by = NULL, applying_since = NULL, \
       applying_conn = NULL \
     WHERE name = 'run' AND token = ? AND applying = ?";

/// Let go of the guard (`token`).
pub const GUARD_RELEASE: &str = "UPDATE locksmith_migrate \
     SET token = NULL, holder = NULL, since = NULL, beat = NULL WHERE name = 'run' AND token = ?";

/// Record which migration the run (`token`) is applying now: version,
/// name, who. A run that dies leaves it for the next to find.
pub const GUARD_APPLYING: &str = "UPDATE locksmith_migrate \
     SET applying = ?, applying_name = ?, applying_by = ?, applying_since = UTC_TIMESTAMP(6), \
       applying_conn = CONNECTION_ID() \
     WHERE name = 'run' AND token = ?";

/// That migration is done (or was dealt with): forget it. Param: token.
pub const GUARD_APPLIED: &str = "UPDATE locksmith_migrate \
     SET applying = NULL, applying_name = NULL, applying_by = NULL, applying_since = NULL, \
       applying_conn = NULL \
     WHERE name = 'run' AND token = ?";

/// Rows of a locks table (`locks`, or the name it was quarantined
/// under), to see whether any holds a lock. The name is locksmith's own.
pub fn select_lock_data(table: &str) -> String {
    format!("SELECT id, dataJson FROM `{table}` ORDER BY id")
}

/// How many rows a table (`locks_audit`, or its quarantine name) holds.
pub fn count_rows(table: &str) -> String {
    format!("SELECT COUNT(*) FROM `{table}`")
}

/// Move a table out of every writer's reach, or back: atomic, and ordered
/// cluster-wide on Galera. Names are locksmith's own.
pub fn rename_table(from: &str, to: &str) -> String {
    format!("RENAME TABLE `{from}` TO `{to}`")
}

/// Drop a quarantined table.
pub fn drop_table(table: &str) -> String {
    format!("DROP TABLE `{table}`")
}

/// Bound the server's own wait for a table's metadata lock.
pub fn lock_wait_timeout(limit: std::time::Duration) -> String {
    format!("SET SESSION lock_wait_timeout = {}", limit.as_secs().max(1))
}
