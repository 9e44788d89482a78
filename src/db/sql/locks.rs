//! The statements on lock rows: reading them, the compare-and-swap write,
//! the server-side splice of a plain acquire or release, and the bench's
//! scratch-row writes.

use crate::db::value::Param;

/// Fails (table missing) unless `locks` exists; returns no rows, only the
/// description of its columns, which says whether lock writes can work on
/// it (see [`crate::db::columns::usable_for_locks`]).
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

/// The bench's INT ceiling: the cheapest possible single-row commit.
pub const BENCH_CEILING: &str = "UPDATE locks SET version = version + 1 WHERE id = ?";

/// The bench's row ceiling: a blind rewrite of the whole `dataJson` with a
/// text the client computed, the physical limit of a lock write on this
/// row format (the same bytes, and no JSON or scan work on the server).
pub const BENCH_ROW_CEILING: &str =
    "UPDATE locks SET dataJson = ?, version = version + 1 WHERE id = ?";

/// How much old row versions InnoDB still has to purge: the bench waits
/// for it to settle between phases, so that no phase pays for the garbage
/// the one before left (a 34 KB blob rewritten thousands of times a
/// second leaves a lot). Any account may ask.
pub const PURGE_BACKLOG: &str = "SHOW GLOBAL STATUS LIKE 'Innodb_history_list_length'";

/// Remove a row (the bench's scratch row only; operators never delete rows).
pub const DELETE_ROW: &str = "DELETE FROM locks WHERE id = ?";
