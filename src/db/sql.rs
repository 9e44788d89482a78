//! Every SQL statement locksmith sends, in one place.
//!
//! Up migrations live in `migrations/` (embedded by refinery), down steps in
//! `sql/` (embedded here). The statements below are the runtime protocol:
//! reading rows, the compare-and-swap write, the audit trail and the
//! migration lock. Values always travel as parameters, never spliced in.

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

/// Down steps, one per up migration, keyed by the up migration's file stem.
pub const DOWN_STEPS: &[(&str, &str)] = &[
    (
        "V1__locks_create_table",
        include_str!("../../sql/V1__locks_create_table.down.sql"),
    ),
    (
        "V2__locks_audit_create_table",
        include_str!("../../sql/V2__locks_audit_create_table.down.sql"),
    ),
];

// ---- migrations -----------------------------------------------------------

/// Refinery's history table, in refinery's own format.
pub const HISTORY_TABLE: &str = "refinery_schema_history";

/// Applied migrations, oldest first (the same columns refinery reads).
pub const SELECT_HISTORY: &str =
    "SELECT version, name, applied_on, checksum FROM refinery_schema_history ORDER BY version";

/// Forget one migration after its down step ran.
pub const DELETE_HISTORY: &str = "DELETE FROM refinery_schema_history WHERE version = ?";

/// Take the named lock that serialises migration runs (1 = got it, 0 =
/// timeout). Text protocol, so it costs one round trip, not a prepare and an
/// execute; the name is quoted as a string literal.
pub fn get_lock(name: &str, seconds: u64) -> String {
    format!("SELECT GET_LOCK({}, {seconds})", literal(name))
}

/// Let go of the migration lock.
pub fn release_lock(name: &str) -> String {
    format!("SELECT RELEASE_LOCK({})", literal(name))
}

/// A string as an escaped SQL literal.
fn literal(s: &str) -> String {
    mysql_async::Value::from(s).as_sql(false)
}

/// Rows of `locks` that the V1 down step would drop.
pub const SELECT_ALL_LOCK_DATA: &str = "SELECT id, dataJson FROM locks ORDER BY id";

/// Hold tables still while a down step checks and drops them.
pub fn lock_tables_write(tables: &[&str]) -> String {
    let list: Vec<String> = tables.iter().map(|t| format!("`{t}` WRITE")).collect();
    format!("LOCK TABLES {}", list.join(", "))
}

/// Let go of [`lock_tables_write`].
pub const UNLOCK_TABLES: &str = "UNLOCK TABLES";

/// How many audit records the V2 down step would drop.
pub const COUNT_AUDIT: &str = "SELECT COUNT(*) FROM locks_audit";

// ---- lock rows ------------------------------------------------------------

/// Fails (table missing) unless `locks` exists; returns nothing.
pub const CHECK_LOCKS_TABLE: &str = "SELECT 1 FROM locks LIMIT 0";

/// One row: version, data, last change (epoch seconds, server clock), and the
/// server's current time, so ages never depend on the client's clock or the
/// session's time zone.
pub const SELECT_ROW: &str = "SELECT id, version, dataJson, UNIX_TIMESTAMP(ts), UNIX_TIMESTAMP() \
     FROM locks WHERE id = ?";

/// Every row, by id.
pub const SELECT_ROWS: &str = "SELECT id, version, dataJson, UNIX_TIMESTAMP(ts), UNIX_TIMESTAMP() \
     FROM locks ORDER BY id";

/// Create a row with no locks unless it exists. Not `INSERT IGNORE`, which
/// would turn a too-long id into a silent truncation.
pub const ENSURE_ROW: &str =
    "INSERT INTO locks (id, dataJson) VALUES (?, '{}') ON DUPLICATE KEY UPDATE id = id";

/// The compare-and-swap write: 1 row affected means it landed, 0 a conflict.
pub const CAS_WRITE: &str =
    "UPDATE locks SET dataJson = ?, version = version + 1 WHERE id = ? AND version = ?";

/// Bump the version without touching the locks.
pub const CAS_BUMP: &str = "UPDATE locks SET version = version + ? WHERE id = ? AND version = ?";

/// Acquire evaluated by the server under its row lock, with no prior read:
/// adds `name: holder` when `name` is absent. Params: path (see
/// [`json_path`]), holder, id, path.
///
/// Sound only where the stored text spells every key one way, so it matches
/// nothing for blobs holding `\u` or `\/` escapes (which could spell a key
/// differently), and for anything not starting with `{`. Text that starts
/// with `{` but is not valid JSON makes the JSON functions fail, which
/// strict mode turns into an error that aborts the statement. In each case
/// the caller falls back to read + CAS, which decides exactly.
///
/// `LAST_INSERT_ID(version + 1)` hands the new version back in the OK packet
/// at no extra round trip, so the caller can tell whether anyone else wrote
/// since its own last write.
pub const FAST_ACQUIRE: &str = "UPDATE locks \
     SET dataJson = JSON_INSERT(dataJson, ?, ?), version = LAST_INSERT_ID(version + 1) \
     WHERE id = ? AND LEFT(dataJson, 1) = '{' \
       AND LOCATE(_binary'\\\\u', CAST(dataJson AS BINARY)) = 0 \
       AND LOCATE(_binary'\\\\/', CAST(dataJson AS BINARY)) = 0 \
       AND JSON_EXTRACT(dataJson, ?) IS NULL";

/// Release evaluated by the server: removes `name` when its holder is exactly
/// the string `holder`. Params: path, id, path, quoted holder. Same
/// soundness rules as [`FAST_ACQUIRE`].
pub const FAST_RELEASE: &str = "UPDATE locks \
     SET dataJson = JSON_REMOVE(dataJson, ?), version = LAST_INSERT_ID(version + 1) \
     WHERE id = ? AND LEFT(dataJson, 1) = '{' \
       AND LOCATE(_binary'\\\\u', CAST(dataJson AS BINARY)) = 0 \
       AND LOCATE(_binary'\\\\/', CAST(dataJson AS BINARY)) = 0 \
       AND BINARY JSON_EXTRACT(dataJson, ?) = BINARY ?";

/// The JSON path of one key, `$."name"`, for [`FAST_ACQUIRE`] and
/// [`FAST_RELEASE`]. MariaDB matches a quoted path key byte for byte against
/// the stored key's escaped text, which both MariaDB and locksmith write with
/// the same escapes (`\"` and `\\`; names have no control characters).
pub fn json_path(name: &str) -> String {
    format!("$.{}", json_string(name))
}

/// A string as JSON text, the way the stored holder is compared.
pub fn json_string(s: &str) -> String {
    serde_json::to_string(s).expect("a string serialises")
}

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

/// The bench's ceiling: the cheapest possible single-row commit.
pub const BENCH_CEILING: &str = "UPDATE locks SET version = version + 1 WHERE id = ?";

/// Remove a row (the bench's scratch row only; operators never delete rows).
pub const DELETE_ROW: &str = "DELETE FROM locks WHERE id = ?";

// ---- audit ----------------------------------------------------------------

/// Start the transaction that holds an operator's change and its record.
pub const BEGIN: &str = "START TRANSACTION";
/// Commit it.
pub const COMMIT: &str = "COMMIT";
/// Roll it back.
pub const ROLLBACK: &str = "ROLLBACK";

/// One audit record. `at` and the database user come from the server.
pub const INSERT_AUDIT: &str = "INSERT INTO locks_audit \
     (opId, dbUser, osUser, command, action, rowId, versionBefore, versionAfter, removedJson, replacedRaw) \
     VALUES (?, CURRENT_USER(), ?, ?, ?, ?, ?, ?, ?, ?)";

/// Did the transaction carrying this op id commit? Used after a dropped
/// connection left the outcome unknown.
pub const AUDIT_BY_OP: &str = "SELECT COUNT(*) FROM locks_audit WHERE opId = ?";

/// Audit records, oldest first; the second form filters by row.
pub const SELECT_AUDIT: &str =
    "SELECT id, UNIX_TIMESTAMP(at), dbUser, osUser, command, action, rowId, \
     versionBefore, versionAfter, removedJson, replacedRaw FROM locks_audit ORDER BY id";
/// Audit records of one row, oldest first.
pub const SELECT_AUDIT_ROW: &str = "SELECT id, UNIX_TIMESTAMP(at), dbUser, osUser, command, action, rowId, \
     versionBefore, versionAfter, removedJson, replacedRaw FROM locks_audit WHERE rowId = ? ORDER BY id";

#[cfg(test)]
mod tests {
    #[test]
    fn lock_names_are_quoted() {
        assert_eq!(
            super::get_lock("locksmith.migrate.app", 60),
            "SELECT GET_LOCK('locksmith.migrate.app', 60)"
        );
        assert_eq!(
            super::release_lock(r"it's\x"),
            r"SELECT RELEASE_LOCK('it\'s\\x')"
        );
    }
}
