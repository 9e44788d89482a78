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
use crate::db::value::{Cells, Record};
use crate::db::{sql, Lease};
use crate::error::Result;
use crate::locks::LockData;
use crate::shown::{shown, shown_id};

pub(crate) use crate::db::columns::from_rows;
pub use crate::db::columns::{checkable, differences, differences_as, Column, Tables};

/// The tables of the database that the migrations know of, by name.
#[derive(Clone, Debug, Default)]
pub struct Live {
    /// Each table there, with its columns for locksmith's own tables
    /// ([`checkable`]); for others only that they exist (no columns).
    pub tables: Tables,
    /// Tables a `migrate down` renamed out of reach and did not drop or
    /// rename back (it was cut off in between), by name.
    pub quarantined: Vec<Quarantined>,
}

impl Live {
    /// The quarantined copies of `table`.
    pub fn copies_of<'a>(&'a self, table: &'a str) -> impl Iterator<Item = &'a Quarantined> {
        self.quarantined.iter().filter(move |q| q.of == table)
    }
}

/// A table that `migrate down` renamed out of every writer's reach
/// (`<table>_dropping_<tag>`) to check it, and then neither dropped nor
/// renamed back: what it was, and what it holds.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Quarantined {
    /// Its name now.
    pub name: String,
    /// The table it was: `locks` or `locks_audit`.
    pub of: String,
    /// Its columns.
    pub columns: Vec<Column>,
    /// How many rows it has.
    pub rows: u64,
    /// For a copy of `locks`: the rows holding locks (or data no lock write
    /// can parse), `row: what`, as `migrate down`'s refusal names them.
    pub held: Vec<String>,
    /// Whether the table it was exists again beside it (made anew since).
    pub beside: bool,
}

impl Quarantined {
    /// Whether dropping it would lose something: a lock held in a copy of
    /// `locks`, a record in a copy of `locks_audit`.
    pub fn holds_something(&self) -> bool {
        match self.of.as_str() {
            "locks" => !self.held.is_empty(),
            _ => self.rows > 0,
        }
    }

    /// What it holds, in words that follow "holds" or "holding".
    pub fn holding(&self) -> String {
        match (self.of.as_str(), self.held.as_slice()) {
            ("locks", []) => format!("no lock ({} row(s))", self.rows),
            ("locks", held) => format!("locks: {}", held.join(", ")),
            _ => format!("{} audit record(s)", self.rows),
        }
    }

    /// The statement that brings it back.
    pub fn restore_sql(&self) -> String {
        sql::rename_table(&self.name, &self.of)
    }

    /// How it differs from what its migration makes (empty: identical).
    pub fn differences(&self) -> Vec<String> {
        differences_as(&self.of, &self.name, &self.columns, true)
    }
}

/// Every table an interrupted `migrate down` left renamed out of reach,
/// with what it is and holds.
pub(crate) async fn find_quarantined(c: &mut Lease) -> Result<Vec<Quarantined>> {
    let mut names = Vec::new();
    for row in c.query_rows(sql::SELECT_QUARANTINED).await? {
        names.push(Cells::new(row, "information_schema.TABLES").take::<String>(0, "TABLE_NAME")?);
    }
    read_quarantined(c, &names).await
}

/// Reads what the named quarantined tables are and hold, in one round
/// trip: their columns, and the rows of each copy of `locks` (for the
/// locks held in them) or how many records each copy of `locks_audit` has.
pub(crate) async fn read_quarantined(c: &mut Lease, names: &[String]) -> Result<Vec<Quarantined>> {
    let copies: Vec<(&str, &str)> = names
        .iter()
        .filter_map(|n| Some((n.as_str(), sql::quarantined_table(n)?)))
        .collect();
    if copies.is_empty() {
        return Ok(Vec::new());
    }
    let guarded = ["locks".to_string(), "locks_audit".to_string()];
    let mut reads = vec![sql::select_tables(&guarded), sql::select_columns(names)];
    for (name, of) in &copies {
        reads.push(match *of {
            "locks" => sql::select_lock_data(name),
            _ => sql::count_rows(name),
        });
    }
    let mut sets = c.query_sets(&reads.join("; ")).await?.into_iter();
    let mut there = Vec::new();
    for row in sets.next().unwrap_or_default().rows {
        there.push(Cells::new(row, "information_schema.TABLES").take::<String>(0, "TABLE_NAME")?);
    }
    let mut columns = from_rows(sets.next().unwrap_or_default().rows)?;
    let mut out = Vec::new();
    for (name, of) in copies {
        let rows = sets.next().unwrap_or_default().rows;
        let mut q = Quarantined {
            name: name.to_string(),
            of: of.to_string(),
            columns: columns.remove(name).unwrap_or_default(),
            beside: there.iter().any(|t| t == of),
            ..Quarantined::default()
        };
        if of == "locks" {
            q.rows = rows.len() as u64;
            q.held = held_in(rows)?;
        } else if let Some(row) = rows.into_iter().next() {
            let n = Cells::new(row, "locks_audit").take::<Option<i64>>(0, "COUNT(*)")?;
            q.rows = n.unwrap_or(0).max(0) as u64;
        }
        out.push(q);
    }
    Ok(out)
}

/// The rows of a locks table (read by [`sql::select_lock_data`]) that hold
/// something: `row: what`, escaped for the terminal (stored text; these
/// go into messages as they are).
pub(crate) fn held_in(rows: Vec<Record>) -> Result<Vec<String>> {
    let mut held = Vec::new();
    for row in rows {
        let mut c = Cells::new(row, "locks");
        let id: String = c.take(0, "id")?;
        c.name_row(id.clone());
        let data: Option<String> = c.take(1, "dataJson")?;
        if let Some(desc) = LockData::parse(data.as_deref()).held_summary() {
            held.push(format!("{}: {}", shown_id(&id), shown(&desc)));
        }
    }
    Ok(held)
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

#[cfg(test)]
mod tests;
