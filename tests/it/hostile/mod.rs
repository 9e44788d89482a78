//! Hardening (issue 11): rows other writers (or an altered table) left in
//! states locksmith never writes, stored text made to fool a terminal,
//! awkward URLs, a damaged migration history, numbers out of range. Each
//! test checks the message, the exit status and that nothing changed that
//! should not have. This module holds what the topics share: writing a row
//! as another writer would, a snapshot of everything a command could change,
//! and the messages lock writes give for a row they cannot use.

mod data;
mod history;
mod numbers;
mod terminal;
mod urls;
mod versions;

use crate::harness::*;
use locksmith::cli::output::{Dump, DumpRow, HistoryDoc};

type Rows = Vec<Vec<Option<String>>>;

/// Inserts a row as another writer would, with any data and version.
fn put(db: &TestDb, id: &str, data: Option<&str>, version: Option<i64>) {
    db.exec(
        "INSERT INTO locks (id, dataJson, version) VALUES (?, ?, ?)",
        (id.to_string(), data.map(str::to_string), version),
    );
}

/// Everything a lock command could change: the rows and the audit trail.
fn snapshot(db: &TestDb) -> (Rows, Rows) {
    (
        db.rows("SELECT id, version, dataJson, ts FROM locks ORDER BY id"),
        db.rows("SELECT * FROM locks_audit ORDER BY id"),
    )
}

#[track_caller]
fn unchanged(db: &TestDb, before: &(Rows, Rows), after_what: &Run) {
    assert_eq!(
        &snapshot(db),
        before,
        "the tables changed after {after_what:#?}"
    );
}

fn dump_row<'a>(doc: &'a Dump, id: &str) -> &'a DumpRow {
    doc.rows
        .iter()
        .find(|r| r.row == id)
        .unwrap_or_else(|| panic!("no row {id:?} in {doc:#?}"))
}

fn history(db: &TestDb, row: &str) -> HistoryDoc {
    db.locksmith(&["locks", "history", "--format", "json", row])
        .success_json()
}

/// What a lock write says of a row it cannot write safely.
fn unsafe_row(id: &str, why: &str) -> String {
    format!(
        "locksmith: row `{id}` cannot be written safely: {why}\n\
         hint: look with `locksmith locks dump {id}`; `locksmith locks repair {id}` mends it, and shows first every lock it would drop\n"
    )
}

/// What a lock write says of a row whose data is not a JSON object.
fn not_an_object(id: &str, raw: &str) -> String {
    format!(
        "locksmith: row `{id}` holds data that is not a JSON object: {raw}\n\
         hint: inspect it with `locksmith locks dump {id}`; `locksmith locks repair {id}` replaces it with {{}} and keeps the old text in the audit trail\n"
    )
}
