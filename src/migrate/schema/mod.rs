//! The live schema, checked against what the migrations make: a history row
//! says a migration ran, but only the tables say whether its work is still
//! there (a `db-migrate down` of another tool can drop `locks` under
//! locksmith's history), and only the tables say whether a migration that
//! has no history row ran anyway (a run killed between its DDL and its
//! history row, or a table another tool created).
//!
//! Every table a migration creates is checked to exist. locksmith's own
//! tables, `locks` (V1) and `locks_audit` (V2), are checked column by
//! column: type, nullability, character set and collation.

use super::set::Planned;
use crate::db::value::Cells;
use crate::db::{sql, Lease};
use crate::error::Result;
use std::collections::BTreeMap;

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

/// The tables of the database that the migrations know of, by name.
#[derive(Clone, Debug, Default)]
pub struct Live {
    /// Each table there, with its columns for locksmith's own tables
    /// ([`checkable`]); for others only that they exist (no columns).
    pub tables: BTreeMap<String, Vec<Column>>,
    /// Tables a `migrate down` renamed out of reach and did not drop (it was
    /// cut off in between).
    pub quarantined: Vec<String>,
}

/// The tables as the rows of [`sql::select_columns`] describe them.
pub(crate) fn from_rows(rows: Vec<mysql_async::Row>) -> Result<Live> {
    let mut live = Live::default();
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
        live.tables.entry(table).or_default().push(column);
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

/// Names the tables a cut-off `migrate down` left renamed.
pub(crate) async fn find_quarantined(c: &mut Lease, live: &mut Live) -> Result<()> {
    for row in c.query_rows(sql::SELECT_QUARANTINED).await? {
        live.quarantined
            .push(Cells::new(row, "information_schema.TABLES").take(0, "TABLE_NAME")?);
    }
    Ok(())
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

/// The words of some SQL: identifiers and keywords (backquotes dropped),
/// lower-cased keywords compared by the callers, everything else a
/// separator. Enough to find `CREATE TABLE name` and the like; a token scan
/// rather than a regular expression, whose compilation alone would cost a
/// no-op `migrate up` more than its queries.
fn words(sql: &str) -> Vec<&str> {
    sql.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|w| !w.is_empty())
        .collect()
}

/// Where `what` (`["create", "table"]`) starts a statement's clause in
/// `w`, the name after it (skipping `IF [NOT] EXISTS`).
fn names_after<'a>(w: &[&'a str], what: &[&str]) -> Vec<&'a str> {
    let mut out = Vec::new();
    for i in 0..w.len() {
        if w.len() - i <= what.len()
            || !what
                .iter()
                .zip(&w[i..])
                .all(|(a, b)| b.eq_ignore_ascii_case(a))
        {
            continue;
        }
        let mut j = i + what.len();
        let word = |k: usize, s: &str| w.get(k).is_some_and(|x| x.eq_ignore_ascii_case(s));
        if word(j, "if") && word(j + 1, "not") && word(j + 2, "exists") {
            j += 3;
        } else if word(j, "if") && word(j + 1, "exists") {
            j += 2;
        }
        if let Some(name) = w.get(j) {
            out.push(*name);
        }
    }
    out
}

/// The tables a migration creates (`CREATE TABLE [IF NOT EXISTS] name`).
pub fn tables_of(p: &Planned) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for name in names_after(&words(&p.sql), &["create", "table"]) {
        if !out.iter().any(|t| t == name) {
            out.push(name.to_string());
        }
    }
    out
}

/// The tables a migration drops or renames away (`gone`), and the ones it
/// alters: a later migration's work, which a check of an earlier
/// migration's tables must allow for.
pub fn reshaped_by(p: &Planned) -> (Vec<String>, Vec<String>) {
    let w = words(&p.sql);
    let owned = |v: Vec<&str>| v.into_iter().map(String::from).collect::<Vec<_>>();
    let mut gone = owned(names_after(&w, &["drop", "table"]));
    gone.extend(owned(names_after(&w, &["rename", "table"])));
    (gone, owned(names_after(&w, &["alter", "table"])))
}

/// Whether a migration changes the schema in a way a transaction cannot
/// undo (MySQL commits DDL at once): such a migration, cut off halfway, may
/// be half-applied. A migration of data statements alone was rolled back.
pub fn has_ddl(p: &Planned) -> bool {
    p.sql.split(';').any(|stmt| {
        let first = stmt
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with("--") && !l.starts_with('#'))
            .collect::<Vec<_>>()
            .join(" ");
        let word = first
            .split_whitespace()
            .next()
            .unwrap_or("")
            .to_ascii_lowercase();
        matches!(
            word.as_str(),
            "create" | "alter" | "drop" | "rename" | "truncate"
        )
    })
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

/// The columns of locksmith's own tables, as V1 and V2 create them.
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
    match table {
        "locks" => Some(LOCKS),
        "locks_audit" => Some(AUDIT),
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
    let Some(expect) = expected(table) else {
        return Vec::new();
    };
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

#[cfg(test)]
mod tests;
