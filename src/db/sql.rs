//! Every SQL statement locksmith sends, in one place.
//!
//! The migrations themselves live in `migrations/` (embedded by `build.rs`).
//! The statements below are the runtime protocol:
//! reading rows, the compare-and-swap write, the audit trail and the
//! migration lock. Values always travel as parameters, never spliced in.

use super::value::Param;

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

// ---- connecting -----------------------------------------------------------

/// The TLS version and cipher of this session (empty for plaintext).
pub const SESSION_TLS: &str =
    "SHOW SESSION STATUS WHERE Variable_name IN ('Ssl_version', 'Ssl_cipher')";

/// Whether a database the user can see exists (after access to it was
/// denied). Param: its name.
pub const SCHEMA_EXISTS: &str =
    "SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?";

// ---- lock rows ------------------------------------------------------------

/// Fails (table missing) unless `locks` exists; returns no rows, only the
/// description of its columns, which says whether lock writes can work on
/// it (see [`super::columns::usable_for_locks`]).
pub const CHECK_LOCKS_TABLE: &str = "SELECT * FROM locks LIMIT 0";

/// One row: version, data, last change (epoch seconds, server clock), and the
/// server's current time, so ages never depend on the client's clock or the
/// session's time zone. Whole seconds, whatever precision `ts` was altered
/// to.
pub const SELECT_ROW: &str = "SELECT id, version, dataJson, \
     CAST(UNIX_TIMESTAMP(ts) AS SIGNED), CAST(UNIX_TIMESTAMP() AS SIGNED) \
     FROM locks WHERE id = ?";

/// Every row, by id.
pub const SELECT_ROWS: &str = "SELECT id, version, dataJson, \
     CAST(UNIX_TIMESTAMP(ts) AS SIGNED), CAST(UNIX_TIMESTAMP() AS SIGNED) \
     FROM locks ORDER BY id";

/// Create a row with no locks unless it exists. Not `INSERT IGNORE`, which
/// would turn a too-long id into a silent truncation.
pub const ENSURE_ROW: &str =
    "INSERT INTO locks (id, dataJson) VALUES (?, '{}') ON DUPLICATE KEY UPDATE id = id";

/// The compare-and-swap write: 1 row affected means it landed, 0 a conflict.
pub const CAS_WRITE: &str =
    "UPDATE locks SET dataJson = ?, version = version + 1 WHERE id = ? AND version = ?";

/// A repair: rewrite the row, matching it exactly as it was read (a NULL
/// or textual version, data that may not be JSON): params are the new
/// data, the new version, the id, the version and the data as read.
pub const REPAIR_WRITE: &str = "UPDATE locks SET dataJson = ?, version = ? \
     WHERE id = ? AND version <=> ? AND dataJson <=> ?";

/// Bump the version without touching the locks.
pub const CAS_BUMP: &str = "UPDATE locks SET version = version + ? WHERE id = ? AND version = ?";

/// The conditions under which the server may splice a lock into the row
/// as text (see [`FAST_ACQUIRE`]), after `WHERE id = ?`: a version a CAS
/// can move on from, an id without a trailing space, text that starts with
/// `{` and ends with `}`, and no `\u` or `\/` escape anywhere in it.
macro_rules! fast_path_sound {
    () => {
        " AND version IS NOT NULL AND version < 2147483647 AND RIGHT(id, 1) <> ' ' \
         AND LEFT(dataJson, 1) = '{' AND dataJson LIKE BINARY '%}' \
         AND dataJson NOT LIKE BINARY '%\\\\u%' ESCAPE '|' \
         AND dataJson NOT LIKE BINARY '%\\\\/%' ESCAPE '|'"
    };
}

/// Acquire evaluated by the server under its row lock, with no prior
/// read: splices `"name":"holder"` in right after the opening `{` (with a
/// `,` after it unless the object is `{}`), exactly where
/// [`crate::locks::Locks::add`] puts it, when `name` is not in the row.
/// Every other byte of the row stays as it was. Params: the entry, the
/// entry followed by `,`, id, the quoted name as a `LIKE` pattern
/// (`%"name"%`, see [`like_pattern`]).
///
/// Text splicing is sound only where the text spells each key one way and
/// is laid out as the statement expects, so it matches nothing (and the
/// caller falls back to read + CAS, which parses the row and decides
/// exactly) unless: the text is `{}`, or starts with `{"` (an entry right
/// after the brace) and ends with `}`; it holds no `\u` or `\/` escape
/// (the only ways to spell a string other than the one way locksmith and
/// JSON.stringify do, so the name written as a key would be found); and
/// the quoted name appears nowhere in it (as a key or as anything else); the version
/// is one a CAS can move on from (not NULL, below the INT maximum); and the
/// stored id does not end in a space, which the collation would take for
/// the id without it. The scans are binary (`LIKE BINARY`, which reads the
/// column in place; `LOCATE` in the column's collation walks characters
/// and costs several times more on a large row). The text is not parsed:
/// a row that is not valid JSON in its middle is left as broken as it was
/// (a lock write never makes valid text invalid), and read + CAS, which
/// parses it, refuses it.
///
/// `LAST_INSERT_ID(version + 1)` hands the new version back in the OK
/// packet at no extra round trip: the caller can tell whether anyone else
/// wrote since its own last write, and it is the lock's fencing token.
pub const FAST_ACQUIRE: &str = concat!(
    "UPDATE locks \
     SET dataJson = IF(dataJson = '{}', CONCAT('{', ?, '}'), INSERT(dataJson, 2, 0, ?)), \
         version = LAST_INSERT_ID(version + 1) \
     WHERE id = ?",
    fast_path_sound!(),
    " AND (dataJson = '{}' OR (LEFT(dataJson, 2) = '{\"' AND dataJson NOT LIKE BINARY ? ESCAPE '|'))"
);

/// Where the entry `"name":"holder"` (param) starts in the row, in
/// characters: 0 when it is not there. Near the front, where locksmith
/// adds its locks, this reads only the first few hundred bytes.
macro_rules! entry_at {
    () => {
        "LOCATE(?, dataJson)"
    };
}

/// Release evaluated by the server: removes the entry `"name":"holder"`
/// (holder a string) by the Remove rule of [`crate::locks::entries`]: with
/// the `,` after it, or, as the last of several, with the `,` before it.
/// Under [`FAST_ACQUIRE`]'s conditions, and only where the entry is surely
/// one of the row's own (not text inside another value): it is preceded by
/// the opening `{` or a `,` and followed by a `,` or the closing `}`, and
/// what comes before it holds no backslash, no `{` or `[` after the
/// opening brace and an even number of `"` (so it is at the top level,
/// outside any string); and
/// the quoted name appears only once in the whole row (a name written twice
/// is ambiguous, and read + CAS refuses it). Params: see
/// [`fast_release_params`].
pub const FAST_RELEASE: &str = concat!(
    "UPDATE locks \
     SET dataJson = INSERT(dataJson, ",
    entry_at!(),
    " - (SUBSTRING(dataJson, ",
    entry_at!(),
    " + ?, 1) = '}' AND SUBSTRING(dataJson, ",
    entry_at!(),
    " - 1, 1) = ','), ? + IF(SUBSTRING(dataJson, ",
    entry_at!(),
    " - 1, 1) = '{' AND SUBSTRING(dataJson, ",
    entry_at!(),
    " + ?, 1) = '}', 0, 1), ''), \
         version = LAST_INSERT_ID(version + 1) \
     WHERE id = ?",
    fast_path_sound!(),
    " AND ",
    entry_at!(),
    " > 1 AND SUBSTRING(dataJson, ",
    entry_at!(),
    " - 1, 1) IN ('{', ',') AND SUBSTRING(dataJson, ",
    entry_at!(),
    " + ?, 1) IN (',', '}') AND LOCATE('{', LEFT(dataJson, ",
    entry_at!(),
    " - 1), 2) = 0 AND LOCATE('[', LEFT(dataJson, ",
    entry_at!(),
    " - 1)) = 0 AND LOCATE('\\\\', LEFT(dataJson, ",
    entry_at!(),
    " - 1)) = 0 AND MOD(CHAR_LENGTH(LEFT(dataJson, ",
    entry_at!(),
    " - 1)) - CHAR_LENGTH(REPLACE(LEFT(dataJson, ",
    entry_at!(),
    " - 1), '\"', '')), 2) = 0 AND dataJson NOT LIKE BINARY ? ESCAPE '|'"
);

/// The params of [`FAST_RELEASE`], in order: `entry` is the entry's text
/// (`"name":"holder"`), `chars` its length in characters, `twice` the
/// pattern that finds the quoted name written twice (`%"name"%"name"%`).
pub fn fast_release_params(entry: &str, chars: i64, twice: &str, id: &str) -> Vec<Param> {
    let e = || Param::Text(entry.to_string());
    vec![
        e(),
        e(),
        Param::Int(chars),
        e(),
        Param::Int(chars),
        e(),
        e(),
        Param::Int(chars),
        Param::Text(id.to_string()),
        e(),
        e(),
        e(),
        Param::Int(chars),
        e(),
        e(),
        e(),
        e(),
        e(),
        Param::Text(twice.to_string()),
    ]
}

/// `text` as a `LIKE` pattern that matches it literally, with `|` as the
/// escape character (as the statements above declare it).
pub fn like_literal(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    for c in text.chars() {
        if matches!(c, '%' | '_' | '|') {
            out.push('|');
        }
        out.push(c);
    }
    out
}

/// A `LIKE` pattern (escape `|`) that matches any text holding each of
/// `parts`, in order.
pub fn like_pattern(parts: &[&str]) -> String {
    let mut out = String::from("%");
    for p in parts {
        out.push_str(&like_literal(p));
        out.push('%');
    }
    out
}

/// A string as JSON text, the way locksmith writes names and holders.
pub fn json_string(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into())
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

/// The bench's INT ceiling: the cheapest possible single-row commit.
pub const BENCH_CEILING: &str = "UPDATE locks SET version = version + 1 WHERE id = ?";

/// The bench's row ceiling: a blind rewrite of the whole `dataJson` with a
/// text the client computed, the physical limit of a lock write on this
/// row format (the same bytes, and no JSON or scan work on the server).
pub const BENCH_ROW_CEILING: &str =
    "UPDATE locks SET dataJson = ?, version = version + 1 WHERE id = ?";

/// Remove a row (the bench's scratch row only; operators never delete rows).
pub const DELETE_ROW: &str = "DELETE FROM locks WHERE id = ?";

// ---- the holder registry (V3) --------------------------------------------

/// Registers a holder's interest in one lock (`state` `waits` while it
/// waits, then `holds`), or registers it anew: who it is (host, pid, the
/// process's start time in clock ticks since boot, the boot id, when it
/// started by its host's clock as `YYYY-MM-DD hh:mm:ss.ffffff` UTC), its
/// lease in milliseconds (NULL: judged by its process alone), the globs it
/// also waits on, and its command line. `since` and `beat` come from the
/// server's clock. Params: holder, row, lock, state, host, pid, pidStart,
/// bootId, started, leaseMs, unlessHeld, command.
pub const REGISTER: &str = "INSERT INTO locks_holders \
     (holder, rowId, lockName, state, since, host, pid, pidStart, bootId, started, leaseMs, \
      beat, fence, unlessHeld, command) \
     VALUES (?, ?, ?, ?, UTC_TIMESTAMP(6), ?, ?, ?, ?, ?, ?, UTC_TIMESTAMP(6), NULL, ?, ?) \
     ON DUPLICATE KEY UPDATE state = VALUES(state), since = VALUES(since), host = VALUES(host), \
       pid = VALUES(pid), pidStart = VALUES(pidStart), bootId = VALUES(bootId), \
       started = VALUES(started), leaseMs = VALUES(leaseMs), beat = VALUES(beat), fence = NULL, \
       unlessHeld = VALUES(unlessHeld), command = VALUES(command)";

/// The registered holder took the lock: it holds it from now, with this
/// fencing token. Params: fence, holder, row, lock.
pub const REGISTRY_HOLDS: &str = "UPDATE locks_holders \
     SET state = 'holds', since = UTC_TIMESTAMP(6), beat = UTC_TIMESTAMP(6), fence = ?, \
       unlessHeld = NULL \
     WHERE holder = ? AND rowId = ? AND lockName = ?";

/// A heartbeat: the holder is alive, by the server's clock. 0 rows: it is
/// not registered (any more). Params: holder, row, lock.
pub const REGISTRY_BEAT: &str = "UPDATE locks_holders SET beat = UTC_TIMESTAMP(6) \
     WHERE holder = ? AND rowId = ? AND lockName = ?";

/// Forget a holder's interest in one lock. Params: holder, row, lock.
pub const REGISTRY_FORGET: &str =
    "DELETE FROM locks_holders WHERE holder = ? AND rowId = ? AND lockName = ?";

/// The columns of a registration, times as microseconds since the epoch
/// (UTC: the table holds UTC times, and `TIMESTAMPDIFF` from the epoch does
/// not go through the session's time zone), and the server's clock now.
macro_rules! registration_columns {
    () => {
        "SELECT holder, rowId, lockName, state, \
           TIMESTAMPDIFF(MICROSECOND, '1970-01-01', since), host, pid, pidStart, bootId, \
           TIMESTAMPDIFF(MICROSECOND, '1970-01-01', started), leaseMs, \
           TIMESTAMPDIFF(MICROSECOND, '1970-01-01', beat), fence, unlessHeld, command, \
           TIMESTAMPDIFF(MICROSECOND, '1970-01-01', UTC_TIMESTAMP(6)) \
         FROM locks_holders "
    };
}

/// Every registration, by row, lock and holder.
pub const SELECT_REGISTRY: &str =
    concat!(registration_columns!(), "ORDER BY rowId, lockName, holder");

/// The registrations of one row. Param: the row.
pub const SELECT_REGISTRY_ROW: &str = concat!(
    registration_columns!(),
    "WHERE rowId = ? ORDER BY lockName, holder"
);

/// The registrations of one row, locked until the transaction ends (a
/// heartbeat of one of them waits, or on a cluster loses certification),
/// so that the evidence an operator's release of dead holders rests on
/// cannot change under it. Param: the row.
pub const SELECT_REGISTRY_ROW_LOCKED: &str = concat!(
    registration_columns!(),
    "WHERE rowId = ? ORDER BY lockName, holder FOR UPDATE"
);

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

/// The evidence an audit record rests on (a release of dead holders, a
/// take-over), in `locks_audit_evidence` (migration V3), written in the
/// same transaction as the record. Params: op id, the evidence as JSON
/// (lock name → why).
pub const INSERT_AUDIT_EVIDENCE: &str =
    "INSERT INTO locks_audit_evidence (opId, evidenceJson) VALUES (?, ?)";

/// Did the transaction carrying this op id commit? Used after a dropped
/// connection left the outcome unknown.
pub const AUDIT_BY_OP: &str = "SELECT COUNT(*) FROM locks_audit WHERE opId = ?";

/// The columns of an audit record (`at` as seconds since the epoch), with
/// its evidence (`$evidence`: from `locks_audit_evidence`, joined by op id,
/// or NULL before migration V3).
macro_rules! audit_columns {
    ($evidence:literal, $join:literal) => {
        concat!(
            "SELECT a.id, UNIX_TIMESTAMP(a.at), a.dbUser, a.osUser, a.command, a.action, a.rowId, \
             a.versionBefore, a.versionAfter, a.removedJson, a.replacedRaw, ",
            $evidence,
            " FROM locks_audit a ",
            $join
        )
    };
}

/// Audit records, oldest first.
pub const SELECT_AUDIT: &str = concat!(
    audit_columns!(
        "e.evidenceJson",
        "LEFT JOIN locks_audit_evidence e ON e.opId = a.opId "
    ),
    "ORDER BY a.id"
);
/// Audit records of one row, oldest first.
pub const SELECT_AUDIT_ROW: &str = concat!(
    audit_columns!(
        "e.evidenceJson",
        "LEFT JOIN locks_audit_evidence e ON e.opId = a.opId "
    ),
    "WHERE a.rowId = ? ORDER BY a.id"
);
/// [`SELECT_AUDIT`] before migration V3 (no evidence table).
pub const SELECT_AUDIT_V2: &str = concat!(audit_columns!("NULL", ""), "ORDER BY a.id");
/// [`SELECT_AUDIT_ROW`] before migration V3.
pub const SELECT_AUDIT_ROW_V2: &str = concat!(
    audit_columns!("NULL", ""),
    "WHERE a.rowId = ? ORDER BY a.id"
);
