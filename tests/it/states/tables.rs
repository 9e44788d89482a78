//! Tables that differ from what the history says: dropped under a recorded
//! migration, renamed away by a cut-off `down`, made by another tool
//! (adopted), drifted (refused with their differences).

use super::*;

#[test]
fn a_locks_table_dropped_under_the_history_is_missing_and_up_recreates_it() {
    let db = TestDb::migrated();
    // Cloudron's `db-migrate down` dropped it; locksmith's history stays.
    db.sql("DROP TABLE locks");
    assert_eq!(
        state_of(&db, 1, &[]),
        ("missing".into(), Some("re-create".into()))
    );
    let r = db.locksmith(&["migrate", "status", "--check"]);
    r.fails_with_output(6)
        .stdout_like(
            &(status_table(&[
                "1 locks_create_table missing <TIME>",
                "2 locks_audit_create_table applied <TIME>",
                "3 holder_liveness applied <TIME>",
            ]) + "V1__locks_create_table is missing:\n  \
               table `locks` does not exist\n  \
               -> `locksmith migrate up` runs it again to re-create it\n"),
        )
        .stderr_is("locksmith: schema is not current: V1__locks_create_table is missing\n");
    db.locksmith(&["locks", "dump"]).fails_with(
        5,
        "locksmith: table `locks` does not exist\nhint: run `locksmith migrate up` first\n",
    );
    db.locksmith(&["migrate", "up"]).succeeds_with(
        "Re-created V1__locks_create_table: table `locks` does not exist\nSchema is now at version 3.\n",
    );
    db.locksmith(&["migrate", "status", "--check"])
        .succeeds_like(STATUS_APPLIED);
    db.locksmith(&[
        "locks", "acquire", "platform", "backup", "--holder", "task-1",
    ])
    .success();
    assert_eq!(
        db.scalar("SELECT COUNT(*) FROM refinery_schema_history"),
        Some("3".into()),
        "recorded once"
    );
}

#[test]
fn a_down_cut_off_after_its_rename_names_the_quarantined_table() {
    let db = TestDb::migrated();
    db.sql("RENAME TABLE locks TO locks_dropping_0badc0de");
    db.locksmith(&["migrate", "status"]).succeeds_like(
        &(status_table(&["1 locks_create_table missing <TIME>", "2 locks_audit_create_table applied <TIME>", "3 holder_liveness applied <TIME>"]) + "V1__locks_create_table is missing:\n  \
           table `locks` does not exist\n  \
           `locks_dropping_0badc0de` is what an interrupted `migrate down` left of it, holding no lock (0 row(s)): RENAME TABLE `locks_dropping_0badc0de` TO `locks` brings it back\n  \
           -> `locksmith migrate up` renames it back\n"),
    );
}

#[test]
fn a_locks_table_made_by_another_tool_is_adopted_not_applied() {
    let db = TestDb::new();
    db.sql(SEED_DDL);
    db.sql(r#"INSERT INTO locks (id, dataJson) VALUES ('platform', '{"backup":"task-7"}')"#);
    assert_eq!(
        states(&db, &[]),
        [
            (
                "V1__locks_create_table".into(),
                "present-unrecorded".into(),
                Some("adopt".into())
            ),
            (
                "V2__locks_audit_create_table".into(),
                "pending".into(),
                Some("apply".into())
            ),
            (
                "V3__holder_liveness".into(),
                "pending".into(),
                Some("apply".into())
            ),
        ]
    );
    db.locksmith(&["migrate", "up", "--dry-run"]).succeeds_with(&format!(
        "-- Would adopt V1__locks_create_table without running it (`locks` already there, identical to what it makes)\n\
         {V2_PLAN}"
    ));
    db.locksmith(&["migrate", "up"]).succeeds_with(
        "Adopted V1__locks_create_table: table already present and identical\n\
         Applied V2__locks_audit_create_table\nApplied V3__holder_liveness\nSchema is now at version 3.\n",
    );
    assert_eq!(
        db.data("platform").as_deref(),
        Some(r#"{"backup":"task-7"}"#),
        "the held lock is untouched"
    );
    db.locksmith(&["migrate", "status", "--check"])
        .succeeds_like(STATUS_APPLIED);
}

#[test]
fn a_drifted_locks_table_is_refused_with_its_differences() {
    let db = TestDb::new();
    db.sql(
        "CREATE TABLE locks(id VARCHAR(128) NOT NULL UNIQUE, dataJson TEXT, \
         ts TIMESTAMP DEFAULT CURRENT_TIMESTAMP) CHARACTER SET utf8 COLLATE utf8_bin",
    );
    let before = schema(&db);
    assert_eq!(state_of(&db, 1, &[]), ("drifted".into(), None));
    db.locksmith(&["migrate", "up"]).fails_with(
        1,
        &refused_drift(
            "  V1__locks_create_table is drifted: its tables are there but differ from what it makes\n    \
                 table `locks` has no column `version`\n",
        ),
    );
    assert_eq!(schema(&db), before, "nothing changed");
    // A type changed under a recorded migration is drift too.
    let db = TestDb::migrated();
    db.sql("ALTER TABLE locks MODIFY version VARCHAR(16)");
    let before = schema(&db);
    assert_eq!(state_of(&db, 1, &[]), ("drifted".into(), None));
    db.locksmith(&["migrate", "status", "--check"])
        .fails_with_output(6)
        .stdout_like(&drifted_status(
            "column `locks.version` is varchar(16), not int",
        ))
        .stderr_is("locksmith: schema is not current: V1__locks_create_table is drifted\n");
    db.locksmith(&["migrate", "up"]).fails_with(
        1,
        &refused_drift(
            "  V1__locks_create_table is drifted: its tables are there but differ from what it makes\n    \
                 column `locks.version` is varchar(16), not int\n",
        ),
    );
    assert_eq!(schema(&db), before);
    // So are a collation that ignores case and a wider id, which only the
    // column descriptions' collations and lengths show.
    let db = TestDb::migrated();
    db.sql(
        "ALTER TABLE locks_audit MODIFY rowId VARCHAR(160) NOT NULL; \
         ALTER TABLE locks MODIFY id VARCHAR(128) CHARACTER SET utf8 COLLATE utf8_general_ci NOT NULL",
    );
    let before = schema(&db);
    db.locksmith(&["migrate", "up"]).fails_with(
        1,
        &refused_drift(
            "  V1__locks_create_table is drifted: its tables are there but differ from what it makes\n    \
                 column `locks.id` uses utf8mb3_general_ci, not utf8mb3_bin\n  \
               V2__locks_audit_create_table is drifted: its tables are there but differ from what it makes\n    \
                 column `locks_audit.rowId` is varchar(160), not varchar(128)\n",
        ),
    );
    assert_eq!(schema(&db), before);
}

#[test]
fn a_table_with_an_invisible_column_is_not_adopted_and_compression_is_not_drift() {
    // `SELECT *` does not show an INVISIBLE column: the table is not
    // identical, and only the exact description says so.
    let db = TestDb::new();
    db.sql(SEED_DDL);
    db.sql("ALTER TABLE locks ADD owner_secret VARCHAR(64) INVISIBLE");
    let before = schema(&db);
    assert_eq!(state_of(&db, 1, &[]), ("drifted".into(), None));
    db.locksmith(&["migrate", "up"]).fails_with(
        1,
        &refused_drift(
            "  V1__locks_create_table is drifted: its tables are there but differ from what it makes\n    \
                 table `locks` has a column `owner_secret` its migration does not make\n",
        ),
    );
    assert_eq!(schema(&db), before, "nothing changed");
    // MariaDB's column compression stores the same text: a recorded V1
    // whose dataJson is compressed is still applied, on both paths.
    let db = TestDb::migrated();
    db.sql("ALTER TABLE locks MODIFY dataJson TEXT COMPRESSED CHARACTER SET utf8 COLLATE utf8_bin");
    assert_eq!(state_of(&db, 1, &[]), ("applied".into(), None));
    db.sql("ALTER TABLE locks MODIFY version BIGINT");
    db.locksmith(&["migrate", "status", "--check"])
        .fails_with_output(6)
        .stdout_like(&drifted_status("column `locks.version` is bigint, not int"))
        .stderr_is("locksmith: schema is not current: V1__locks_create_table is drifted\n");
    // The compressed dataJson is no difference at all.
    let r = db.locksmith(&["migrate", "status"]);
    r.succeeds_like(&drifted_status("column `locks.version` is bigint, not int"));
    assert!(!r.stdout.contains("dataJson"), "{r:#?}");
}

/// `migrate status` when V1's table has drifted by `difference`.
fn drifted_status(difference: &str) -> String {
    format!(
        "{}V1__locks_create_table is drifted:\n  \
           {difference}\n  \
           -> `locksmith migrate up` refuses to go on: alter the table back to what the migration makes\n",
        status_table(&[
            "1 locks_create_table drifted <TIME>",
            "2 locks_audit_create_table applied <TIME>",
            "3 holder_liveness applied <TIME>"
        ])
    )
}
