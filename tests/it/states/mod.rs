//! Migration states that the history alone does not tell: a table dropped
//! under a recorded migration, a table another tool made, a drifted table,
//! a run killed between its DDL and its history row, a damaged history,
//! and `--source` directories refinery would misread. Each asserts the
//! message, the exit status, and that nothing changed that should not. This
//! module holds what the topics share: the schema as it stands, the states
//! `migrate status --format json` gives, a `--source` directory.

mod history;
mod interrupted;
mod tables;
mod v3;

use crate::harness::*;
use locksmith::cli::output::StatusDoc;
use std::path::Path;
use std::time::Duration;

/// What `up` says when a table differs from what its migration makes:
/// `lines` names each migration and difference.
fn refused_drift(lines: &str) -> String {
    format!(
        "locksmith: the database does not match this locksmith's migrations; nothing was changed:\n{lines}\
         hint: alter the table back to what its migration makes (or restore it), then run `up` again\n"
    )
}

/// The seed's own DDL, as Cloudron's db-migrate ran it.
const SEED_DDL: &str = "CREATE TABLE locks(id VARCHAR(128) NOT NULL UNIQUE, dataJson TEXT, \
    version INT DEFAULT 1, ts TIMESTAMP DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP) \
    CHARACTER SET utf8 COLLATE utf8_bin";

/// Every table of the database, with its columns, and the history: what
/// must not change when a command refuses.
fn schema(db: &TestDb) -> Vec<Vec<Option<String>>> {
    let mut rows = db.rows(
        "SELECT TABLE_NAME, COLUMN_NAME, COLUMN_TYPE FROM information_schema.COLUMNS \
         WHERE TABLE_SCHEMA = DATABASE() ORDER BY TABLE_NAME, ORDINAL_POSITION",
    );
    if rows
        .iter()
        .any(|r| r[0].as_deref() == Some("refinery_schema_history"))
    {
        rows.extend(db.rows(
            "SELECT version, name, checksum, NULL FROM refinery_schema_history ORDER BY version",
        ));
    }
    rows
}

fn states(db: &TestDb, extra: &[&str]) -> Vec<(String, String, Option<String>)> {
    let mut args = vec!["migrate", "status", "--format", "json"];
    args.extend_from_slice(extra);
    let doc: StatusDoc = db.locksmith(&args).success_json();
    doc.migrations
        .into_iter()
        .map(|m| (format!("V{}__{}", m.version, m.name), m.state, m.next))
        .collect()
}

fn state_of(db: &TestDb, v: usize, extra: &[&str]) -> (String, Option<String>) {
    let (_, s, n) = states(db, extra).swap_remove(v - 1);
    (s, n)
}

/// Writes a `--source` directory: (file name, contents).
fn source(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (name, sql) in files {
        std::fs::write(dir.path().join(name), sql).unwrap();
    }
    dir
}
