//! The history and the `--source` directory: a deleted history row, a
//! migration older than the applied ones, a damaged history named row and
//! column, and directories refinery would misread, refused before anything
//! runs.

use super::*;

#[test]
fn a_deleted_history_row_is_not_called_missing_from_the_filesystem() {
    let db = TestDb::migrated();
    db.sql("DELETE FROM refinery_schema_history WHERE version = 1");
    assert_eq!(
        state_of(&db, 1, &[]),
        ("present-unrecorded".into(), Some("adopt".into()))
    );
    let r = db.locksmith(&["migrate", "up"]);
    r.succeeds_with(
        "Adopted V1__locks_create_table: table already present and identical\nSchema is now at version 3.\n",
    );
    assert!(!r.stdout.contains("missing from the filesystem"));
}

#[test]
fn a_migration_older_than_the_applied_ones_is_applied_in_its_own_turn() {
    let db = TestDb::new();
    let dir = source(&[
        ("V1__one.sql", "CREATE TABLE t_one (id INT);"),
        ("V1__one.down.sql", "DROP TABLE t_one;"),
        ("V3__three.sql", "CREATE TABLE t_three (id INT);"),
        ("V3__three.down.sql", "DROP TABLE t_three;"),
    ]);
    let src = dir.path().to_str().unwrap();
    db.locksmith(&["migrate", "up", "--source", src])
        .succeeds_with("Applied V1__one\nApplied V3__three\nSchema is now at version 3.\n");
    std::fs::write(
        dir.path().join("V2__two.sql"),
        "CREATE TABLE t_two (id INT);",
    )
    .unwrap();
    std::fs::write(dir.path().join("V2__two.down.sql"), "DROP TABLE t_two;").unwrap();
    db.locksmith(&["migrate", "up", "--source", src])
        .succeeds_with("Applied V2__two\nSchema is now at version 3.\n");
    let set = locksmith::migrate::MigrationSet::from_dir(dir.path()).unwrap();
    assert_eq!(
        db.rows("SELECT version, name, checksum FROM refinery_schema_history ORDER BY version")[1],
        vec![
            Some("2".into()),
            Some("two".into()),
            Some(set.migrations()[1].checksum().to_string())
        ],
        "recorded as refinery records"
    );
}

#[test]
fn a_damaged_history_is_named_row_and_column() {
    for (damage, column, found) in [
        (
            "UPDATE refinery_schema_history SET applied_on = 'garbage' WHERE version = 1",
            "applied_on",
            "the text \"garbage\", not an RFC 3339 time as refinery writes it",
        ),
        (
            "UPDATE refinery_schema_history SET checksum = NULL WHERE version = 1",
            "checksum",
            "NULL",
        ),
        (
            "UPDATE refinery_schema_history SET name = NULL WHERE version = 1",
            "name",
            "NULL",
        ),
        (
            "UPDATE refinery_schema_history SET checksum = 'abc' WHERE version = 1",
            "checksum",
            "the text \"abc\", not a refinery checksum (a number)",
        ),
    ] {
        let db = TestDb::migrated();
        db.sql(damage);
        let before = schema(&db);
        let want = format!(
            "locksmith: unexpected value in table `refinery_schema_history`, column `{column}` of row `version 1`: {found}\n"
        );
        for cmd in [
            &["migrate", "status"][..],
            &["migrate", "up"],
            &["migrate", "down"],
        ] {
            db.locksmith(cmd).fails_with(1, &want);
        }
        assert_eq!(schema(&db), before, "{damage}: nothing changed");
    }
}

#[test]
fn a_source_directory_refinery_would_misread_is_refused_before_anything_runs() {
    let db = TestDb::new();
    let ok = ("V1__ok.sql", "CREATE TABLE t_ok (id INT);");
    let ok_down = ("V1__ok.down.sql", "DROP TABLE t_ok;");
    // (files, the message after `locksmith: `, with DIR for the directory)
    let none = "--source DIR holds no migrations (files like V1__create_things.sql, each with V1__create_things.down.sql beside it)";
    let cases: Vec<(Vec<(&str, &str)>, &str)> = vec![
        (vec![ok, ok_down, ("V2_bad.sql", "DO 0;")], "DIR/V2_bad.sql: the version and the name must be separated by two underscores (V1__name.sql); nothing was run"),
        (vec![ok, ok_down, ("v2__x.sql", "DO 0;")], "DIR/v2__x.sql: the prefix must be a capital V (refinery skips `v`); nothing was run"),
        (vec![ok, ok_down, ("V3__x.SQL", "DO 0;")], "DIR/V3__x.SQL: the extension must be `.sql`, in lower case; nothing was run"),
        (vec![ok, ok_down, ("V5__a-b.sql", "DO 0;")], "DIR/V5__a-b.sql: the name may hold only ASCII letters, digits and underscores; nothing was run"),
        (vec![ok, ok_down, ("V1__again.sql", "CREATE TABLE t_again (id INT);")], "DIR/V1__ok.sql: version 1 is also used by DIR/V1__again.sql (`again`); each version must be used once; nothing was run"),
        (vec![ok], "DIR/V1__ok.sql: it has no down step (expected DIR/V1__ok.down.sql beside it); nothing was run"),
        (vec![ok, ok_down, ("V2__x.down.sql", "DO 0;")], "DIR/V2__x.down.sql: it is a down step without its up migration; nothing was run"),
        (vec![], none),
        (vec![("README.md", "notes")], none),
    ];
    for (files, want) in cases {
        let dir = source(&files);
        let src = dir.path().to_str().unwrap();
        let want = format!("locksmith: {}\n", want.replace("DIR", src));
        for cmd in ["up", "down", "status"] {
            db.locksmith(&["migrate", cmd, "--source", src])
                .fails_with(2, &want);
        }
        assert_eq!(
            schema(&db),
            vec![] as Vec<Vec<Option<String>>>,
            "{files:?}: nothing ran"
        );
    }
    db.locksmith(&["migrate", "up", "--source", "/etc/passwd"])
        .fails_with(2, "locksmith: --source /etc/passwd is not a directory (it takes the directory holding V1__name.sql files)\n");
    db.locksmith(&["migrate", "up", "--source", "/nonexistent/dir"])
        .fails_with(
            2,
            "locksmith: --source /nonexistent/dir: No such file or directory (os error 2)\n",
        );
}
