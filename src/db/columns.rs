//! locksmith's own tables column by column: what their migrations make,
//! how the server describes a live table, and how the two differ, in words.
//! Shared by the migrations (whose states say a table is "drifted") and
//! the lock protocol (whose commands refuse a drifted `locks` table with
//! the same words), so that both name a difference the same way.

use crate::db::value::Cells;
use crate::error::Result;
use std::collections::BTreeMap;

/// Tables by name, each with its columns in table order.
pub type Tables = BTreeMap<String, Vec<Column>>;

/// One column as the server describes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Column {
    pub name: String,
    /// `COLUMN_TYPE`, normalised (`int(11)` is `int`).
    pub kind: String,
    pub nullable: bool,
    /// The collation of a text column (`utf8_bin` is `utf8mb3_bin`).
    pub collation: Option<String>,
}

/// The tables as the rows of [`sql::select_columns`] describe them, by
/// name.
pub(crate) fn from_rows(rows: Vec<super::value::Record>) -> Result<Tables> {
    let mut live = Tables::default();
    for row in rows {
        let mut c = Cells::new(row, "information_schema.COLUMNS");
        let table: String = c.take(0, "TABLE_NAME")?;
        let column = Column {
            name: c.take(1, "COLUMN_NAME")?,
            kind: normal_type(&c.take::<String>(2, "COLUMN_TYPE")?),
            nullable: c.take::<String>(3, "IS_NULLABLE")? == "YES",
            collation: c
                .take::<Option<String>>(4, "COLLATION_NAME")?
                .map(|s| normal_collation(&s)),
        };
        live.entry(table).or_default().push(column);
    }
    Ok(live)
}

/// A table's columns as a result's column descriptions show them (read
/// with [`sql::RESULTS_UNCONVERTED`] in force, so each carries its own
/// collation), or `None` when one of them is of a kind this cannot name
/// as `COLUMN_TYPE` would. Cheap where [`sql::select_columns`] is not, but
/// only trusted to say "as expected": anything else is looked at again
/// with that query, which names what differs exactly.
pub(crate) fn described(columns: &[mysql_async::Column]) -> Option<Vec<Column>> {
    columns.iter().map(described_column).collect()
}

fn described_column(c: &mysql_async::Column) -> Option<Column> {
    use mysql_async::consts::{ColumnFlags as F, ColumnType as T};
    let flags = c.flags();
    if flags.intersects(F::ENUM_FLAG | F::SET_FLAG) {
        return None;
    }
    // Collation ids are fixed by the servers; these are the ones a lock
    // table is made with, and their neighbours.
    let collation = match c.character_set() {
        33 => Some(("utf8mb3_general_ci", 3)),
        83 => Some(("utf8mb3_bin", 3)),
        45 => Some(("utf8mb4_general_ci", 4)),
        46 => Some(("utf8mb4_bin", 4)),
        _ => None,
    };
    let len = c.column_length();
    let text = |kind: String| collation.map(|(name, _)| (kind, Some(name.to_string())));
    // Integers only: servers flag a TIMESTAMP column UNSIGNED too.
    let int = |kind: &str| match flags {
        f if f.contains(F::ZEROFILL_FLAG) => None,
        f if f.contains(F::UNSIGNED_FLAG) => Some((format!("{kind} unsigned"), None)),
        _ => Some((kind.to_string(), None)),
    };
    let (kind, collation) = match c.column_type() {
        T::MYSQL_TYPE_TINY => int("tinyint")?,
        T::MYSQL_TYPE_SHORT => int("smallint")?,
        T::MYSQL_TYPE_INT24 => int("mediumint")?,
        T::MYSQL_TYPE_LONG => int("int")?,
        T::MYSQL_TYPE_LONGLONG => int("bigint")?,
        T::MYSQL_TYPE_TIMESTAMP | T::MYSQL_TYPE_TIMESTAMP2 => match c.decimals() {
            0 => ("timestamp".into(), None),
            d => (format!("timestamp({d})"), None),
        },
        T::MYSQL_TYPE_DATETIME | T::MYSQL_TYPE_DATETIME2 => match c.decimals() {
            0 => ("datetime".into(), None),
            d => (format!("datetime({d})"), None),
        },
        T::MYSQL_TYPE_VAR_STRING | T::MYSQL_TYPE_VARCHAR => {
            text(format!("varchar({})", len / collation?.1))?
        }
        T::MYSQL_TYPE_STRING => text(format!("char({})", len / collation?.1))?,
        T::MYSQL_TYPE_BLOB
        | T::MYSQL_TYPE_TINY_BLOB
        | T::MYSQL_TYPE_MEDIUM_BLOB
        | T::MYSQL_TYPE_LONG_BLOB => text(
            match len {
                255 => "tinytext",
                65_535 => "text",
                16_777_215 => "mediumtext",
                4_294_967_295 => "longtext",
                _ => return None,
            }
            .into(),
        )?,
        _ => return None,
    };
    Some(Column {
        name: c.name_str().into_owned(),
        kind,
        nullable: !flags.contains(F::NOT_NULL_FLAG),
        collation,
    })
}

/// `int(11)` → `int`, `bigint(20)` → `bigint`: the display width is not
/// part of the type (MySQL 8 no longer reports it). MariaDB's column
/// compression (`text /*M!100301 COMPRESSED*/`) is not either: it is how
/// the server stores the same values, and a result's column descriptions
/// do not show it.
fn normal_type(t: &str) -> String {
    let mut t = t.to_ascii_lowercase();
    if let Some(at) = t.find("/*m!") {
        if let Some(len) = t[at..].find("*/") {
            if t[at..at + len].ends_with(" compressed") {
                t = format!("{}{}", t[..at].trim_end(), &t[at + len + 2..]);
            }
        }
    }
    for int in ["tinyint", "smallint", "mediumint", "bigint", "int"] {
        if let Some(rest) = t.strip_prefix(int) {
            if let Some(close) = rest
                .strip_prefix('(')
                .and_then(|r| r.find(')').map(|i| &r[i + 1..]))
            {
                return format!("{int}{close}");
            }
        }
    }
    t
}

/// `utf8_bin` and `utf8mb3_bin` are one collation, named two ways.
fn normal_collation(c: &str) -> String {
    let c = c.to_ascii_lowercase();
    match c.strip_prefix("utf8_") {
        Some(rest) => format!("utf8mb3_{rest}"),
        None => c,
    }
}

/// A column as a migration makes it.
struct Expect {
    name: &'static str,
    kind: &'static str,
    /// `None`: either (a server's `explicit_defaults_for_timestamp` decides
    /// whether a plain TIMESTAMP column may be NULL).
    nullable: Option<bool>,
    collation: Option<&'static str>,
}

const fn col(
    name: &'static str,
    kind: &'static str,
    nullable: Option<bool>,
    collation: Option<&'static str>,
) -> Expect {
    Expect {
        name,
        kind,
        nullable,
        collation,
    }
}

const MB3: Option<&str> = Some("utf8mb3_bin");
const MB4: Option<&str> = Some("utf8mb4_bin");

/// The columns of locksmith's own tables, as V1, V2 and V3 create them.
fn expected(table: &str) -> Option<&'static [Expect]> {
    const LOCKS: &[Expect] = &[
        col("id", "varchar(128)", Some(false), MB3),
        col("dataJson", "text", Some(true), MB3),
        col("version", "int", Some(true), None),
        col("ts", "timestamp", None, None),
    ];
    const AUDIT: &[Expect] = &[
        col("id", "bigint", Some(false), None),
        col("opId", "char(32)", Some(false), MB4),
        col("at", "timestamp(3)", Some(false), None),
        col("dbUser", "varchar(288)", Some(false), MB4),
        col("osUser", "varchar(255)", Some(false), MB4),
        col("command", "text", Some(false), MB4),
        col("action", "varchar(32)", Some(false), MB4),
        col("rowId", "varchar(128)", Some(false), MB4),
        col("versionBefore", "int", Some(true), None),
        col("versionAfter", "int", Some(true), None),
        col("removedJson", "mediumtext", Some(true), MB4),
        col("replacedRaw", "mediumtext", Some(true), MB4),
    ];
    const HOLDERS: &[Expect] = &[
        col("holder", "varchar(255)", Some(false), MB4),
        col("rowId", "varchar(128)", Some(false), MB4),
        col("lockName", "varchar(255)", Some(false), MB4),
        col("state", "varchar(8)", Some(false), MB4),
        col("since", "datetime(6)", Some(false), None),
        col("host", "varchar(255)", Some(false), MB4),
        col("pid", "int", Some(false), None),
        col("pidStart", "bigint", Some(true), None),
        col("bootId", "varchar(64)", Some(true), MB4),
        col("started", "datetime(6)", Some(true), None),
        col("leaseMs", "int", Some(true), None),
        col("beat", "datetime(6)", Some(false), None),
        col("fence", "bigint", Some(true), None),
        col("unlessHeld", "text", Some(true), MB4),
        col("command", "text", Some(true), MB4),
    ];
    const EVIDENCE: &[Expect] = &[
        col("opId", "char(32)", Some(false), MB4),
        col("evidenceJson", "mediumtext", Some(false), MB4),
    ];
    match table {
        "locks" => Some(LOCKS),
        "locks_audit" => Some(AUDIT),
        "locks_holders" => Some(HOLDERS),
        "locks_audit_evidence" => Some(EVIDENCE),
        _ => None,
    }
}

/// Whether locksmith knows this table column by column.
pub fn checkable(table: &str) -> bool {
    expected(table).is_some()
}

/// How a table differs from what its migration makes, in words (empty when
/// it does not). `exact`: columns no migration of locksmith's makes count
/// too (a table to adopt must be identical; a table a later migration
/// altered may have more).
pub fn differences(table: &str, found: &[Column], exact: bool) -> Vec<String> {
    differences_as(table, table, found, exact)
}

/// [`differences`] of a table named `name` now, checked against what the
/// migration makes of `table` (a copy that `migrate down` renamed away).
pub fn differences_as(table: &str, name: &str, found: &[Column], exact: bool) -> Vec<String> {
    let Some(expect) = expected(table) else {
        return Vec::new();
    };
    let table = name;
    let mut out = Vec::new();
    for e in expect {
        let Some(f) = found.iter().find(|f| f.name.eq_ignore_ascii_case(e.name)) else {
            out.push(format!("table `{table}` has no column `{}`", e.name));
            continue;
        };
        if f.kind != e.kind && !(e.kind == "timestamp" && f.kind == "timestamp(0)") {
            out.push(format!(
                "column `{table}.{}` is {}, not {}",
                e.name, f.kind, e.kind
            ));
        }
        if e.nullable.is_some_and(|n| n != f.nullable) {
            out.push(format!(
                "column `{table}.{}` {}",
                e.name,
                if f.nullable {
                    "may be NULL, and should not"
                } else {
                    "may not be NULL, and should"
                }
            ));
        }
        if let Some(want) = e.collation {
            if f.collation.as_deref() != Some(want) {
                out.push(format!(
                    "column `{table}.{}` uses {}, not {want}",
                    e.name,
                    f.collation.as_deref().unwrap_or("no collation")
                ));
            }
        }
    }
    if exact {
        for f in found {
            if !expect.iter().any(|e| f.name.eq_ignore_ascii_case(e.name)) {
                out.push(format!(
                    "table `{table}` has a column `{}` its migration does not make",
                    f.name
                ));
            }
        }
    }
    out
}

/// Whether the lock protocol can work on a `locks` table with these
/// columns: each column V1 makes is there, and of a kind of type its
/// statements can use (a string id, a string or text `dataJson`, an
/// integer `version`, or a string one, whose rows it reads and repairs one
/// by one). Other drift (a collation, a wider integer, a NULL allowed, a
/// `ts` of another type) leaves lock writes sound, so lock commands go on;
/// `migrate status` still names it.
pub(crate) fn usable_for_locks(found: &[Column]) -> bool {
    let kind = |name: &str| {
        found
            .iter()
            .find(|f| f.name.eq_ignore_ascii_case(name))
            .map(|f| family(&f.kind))
    };
    let string = |k: Option<Option<&str>>| matches!(k, Some(Some("string" | "text")));
    string(kind("id"))
        && string(kind("dataJson"))
        && matches!(kind("version"), Some(Some("integer" | "string")))
        && kind("ts").is_some()
}

/// [`usable_for_locks`] from a result's column descriptions (of `SELECT *
/// FROM locks LIMIT 0`), in whatever character set the results come:
/// only names and kinds of type count here.
pub(crate) fn usable_for_locks_described(columns: &[mysql_async::Column]) -> bool {
    use mysql_async::consts::ColumnType as T;
    let found: Vec<Column> = columns
        .iter()
        .map(|c| Column {
            name: c.name_str().into_owned(),
            kind: match c.column_type() {
                T::MYSQL_TYPE_TINY
                | T::MYSQL_TYPE_SHORT
                | T::MYSQL_TYPE_INT24
                | T::MYSQL_TYPE_LONG
                | T::MYSQL_TYPE_LONGLONG => "int",
                T::MYSQL_TYPE_VAR_STRING | T::MYSQL_TYPE_VARCHAR | T::MYSQL_TYPE_STRING => {
                    "varchar"
                }
                // Binary (63) is a BLOB, not text.
                T::MYSQL_TYPE_BLOB
                | T::MYSQL_TYPE_TINY_BLOB
                | T::MYSQL_TYPE_MEDIUM_BLOB
                | T::MYSQL_TYPE_LONG_BLOB
                    if c.character_set() != 63 =>
                {
                    "text"
                }
                T::MYSQL_TYPE_TIMESTAMP
                | T::MYSQL_TYPE_TIMESTAMP2
                | T::MYSQL_TYPE_DATETIME
                | T::MYSQL_TYPE_DATETIME2 => "timestamp",
                _ => "other",
            }
            .into(),
            nullable: true,
            collation: None,
        })
        .collect();
    usable_for_locks(&found)
}

/// The kind of a normalised `COLUMN_TYPE`: what the lock protocol's
/// statements need of a column.
fn family(kind: &str) -> Option<&'static str> {
    let base = kind.split(['(', ' ']).next().unwrap_or_default();
    match base {
        "tinyint" | "smallint" | "mediumint" | "int" | "bigint" => Some("integer"),
        "char" | "varchar" => Some("string"),
        "tinytext" | "text" | "mediumtext" | "longtext" => Some("text"),
        "timestamp" | "datetime" => Some("time"),
        _ => None,
    }
}

#[cfg(test)]
mod tests;
