//! A damaged migration history (a NULL checksum or name, a garbage
//! `applied_on`): every migrate command names the row and column, changing
//! nothing.

use super::*;

#[track_caller]
fn damaged_history(set: &str, says: &str) {
    let db = TestDb::migrated();
    db.sql(&format!("UPDATE refinery_schema_history SET {set}"));
    let tables = "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() ORDER BY TABLE_NAME";
    let history = "SELECT * FROM refinery_schema_history ORDER BY version";
    let before = (db.rows(tables), db.rows(history), snapshot(&db));
    for args in [
        vec!["migrate", "status"],
        vec!["migrate", "status", "--format", "json"],
        vec!["migrate", "status", "--check"],
        vec!["migrate", "up"],
        vec!["migrate", "up", "--dry-run"],
        vec!["migrate", "down", "--dry-run"],
    ] {
        let r = db.locksmith(&args);
        r.fails_with(
            1,
            &format!("locksmith: unexpected value in table `refinery_schema_history`, {says}"),
        );
        assert_eq!(
            (db.rows(tables), db.rows(history), snapshot(&db)),
            before,
            "{r:#?}"
        );
    }
}

#[test]
fn history_with_a_null_checksum() {
    damaged_history(
        "checksum = NULL WHERE version = 1",
        "column `checksum` of row `version 1`: NULL\n",
    );
}

#[test]
fn history_with_a_null_name() {
    damaged_history(
        "name = NULL WHERE version = 2",
        "column `name` of row `version 2`: NULL\n",
    );
}

#[test]
fn history_with_a_garbage_applied_on() {
    damaged_history(
        "applied_on = 'yesterday-ish' WHERE version = 1",
        "column `applied_on` of row `version 1`: the text \"yesterday-ish\", not an RFC 3339 time as refinery writes it\n",
    );
}
