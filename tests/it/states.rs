//! Migration states that the history alone does not tell: a table dropped
//! under a recorded migration, a table another tool made, a drifted table,
//! a run killed between its DDL and its history row, a damaged history,
//! and `--source` directories refinery would misread. Each asserts the
//! message, the exit status, and that nothing changed that should not.

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
            "+-+\n\
             | VERSION NAME STATE APPLIED ON |\n\
             +=+\n\
             | 1 locks_create_table missing <TIME> |\n\
             | 2 locks_audit_create_table applied <TIME> |\n\
             +-+\n\
             V1__locks_create_table is missing:\n  \
               table `locks` does not exist\n  \
               -> `locksmith migrate up` runs it again to re-create it\n",
        )
        .stderr_is("locksmith: schema is not current: V1__locks_create_table is missing\n");
    db.locksmith(&["locks", "dump"]).fails_with(
        5,
        "locksmith: table `locks` does not exist\nhint: run `locksmith migrate up` first\n",
    );
    db.locksmith(&["migrate", "up"]).succeeds_with(
        "Re-created V1__locks_create_table: table `locks` does not exist\nSchema is now at version 2.\n",
    );
    db.locksmith(&["migrate", "status", "--check"])
        .succeeds_like(STATUS_APPLIED);
    db.locksmith(&[
        "locks", "acquire", "platform", "backup", "--holder", "task-1",
    ])
    .success();
    assert_eq!(
        db.scalar("SELECT COUNT(*) FROM refinery_schema_history"),
        Some("2".into()),
        "recorded once"
    );
}

#[test]
fn a_down_cut_off_after_its_rename_names_the_quarantined_table() {
    let db = TestDb::migrated();
    db.sql("RENAME TABLE locks TO locks_dropping_0badc0de");
    db.locksmith(&["migrate", "status"]).succeeds_like(
        "+-+\n\
         | VERSION NAME STATE APPLIED ON |\n\
         +=+\n\
         | 1 locks_create_table missing <TIME> |\n\
         | 2 locks_audit_create_table applied <TIME> |\n\
         +-+\n\
         V1__locks_create_table is missing:\n  \
           table `locks` does not exist\n  \
           `locks_dropping_0badc0de` is what an interrupted `migrate down` left of it, holding no lock (0 row(s)): RENAME TABLE `locks_dropping_0badc0de` TO `locks` brings it back\n  \
           -> `locksmith migrate up` renames it back\n",
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
        ]
    );
    db.locksmith(&["migrate", "up", "--dry-run"]).succeeds_with(
        "-- Would adopt V1__locks_create_table without running it (`locks` already there, identical to what it makes)\n\
         -- Would apply V2__locks_audit_create_table:\n\
         CREATE TABLE IF NOT EXISTS locks_audit(\n    \
             id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,\n    \
             opId CHAR(32) NOT NULL UNIQUE,\n    \
             at TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),\n    \
             dbUser VARCHAR(288) NOT NULL,\n    \
             osUser VARCHAR(255) NOT NULL,\n    \
             command TEXT NOT NULL,\n    \
             action VARCHAR(32) NOT NULL,\n    \
             rowId VARCHAR(128) NOT NULL,\n    \
             versionBefore INT,\n    \
             versionAfter INT,\n    \
             removedJson MEDIUMTEXT,\n    \
             replacedRaw MEDIUMTEXT,\n    \
             KEY locks_audit_row (rowId, id)\n\
         ) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin;\n\
         -- Dry run: nothing was changed.\n",
    );
    db.locksmith(&["migrate", "up"]).succeeds_with(
        "Adopted V1__locks_create_table: table already present and identical\n\
         Applied V2__locks_audit_create_table\nSchema is now at version 2.\n",
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
        "+-+\n\
         | VERSION NAME STATE APPLIED ON |\n\
         +=+\n\
         | 1 locks_create_table drifted <TIME> |\n\
         | 2 locks_audit_create_table applied <TIME> |\n\
         +-+\n\
         V1__locks_create_table is drifted:\n  \
           {difference}\n  \
           -> `locksmith migrate up` refuses to go on: alter the table back to what the migration makes\n"
    )
}

/// Writes a `--source` directory: (file name, contents).
fn source(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (name, sql) in files {
        std::fs::write(dir.path().join(name), sql).unwrap();
    }
    dir
}

/// Starts `migrate up --source SRC` and kills it (SIGKILL) while its
/// connection runs the migration's `DO SLEEP` statement, once `table`
/// (if any) exists: past the DDL that makes it. Returns the killed run's
/// holder, `HOST:PID`.
fn kill_while_applying(db: &TestDb, src: &Path, table: Option<&str>) -> String {
    let mut child = db.spawn(&["migrate", "up", "--source", src.to_str().unwrap()]);
    let holder = format!("{}:{}", locksmith::host::hostname(), child.id());
    let limit = Duration::from_secs(20);
    wait_until("the run records what it applies", limit, || {
        db.scalar(
            "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() \
             AND TABLE_NAME = 'locksmith_migrate'",
        )
        .as_deref()
            == Some("1")
            && db
                .scalar("SELECT applying FROM locksmith_migrate WHERE name = 'run'")
                .is_some()
    });
    wait_until(
        "the run's connection sleeps in its migration",
        limit,
        || {
            db.scalar(
                "SELECT COUNT(*) FROM information_schema.PROCESSLIST p JOIN locksmith_migrate m \
             ON p.ID = m.applying_conn WHERE p.INFO LIKE '%SLEEP(%'",
            )
            .as_deref()
                == Some("1")
        },
    );
    if let Some(table) = table {
        wait_until(&format!("the run makes `{table}`"), limit, || {
            db.scalar(&format!(
                "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() \
                 AND TABLE_NAME = '{table}'"
            ))
            .as_deref()
                == Some("1")
        });
    }
    child.kill().unwrap();
    child.wait().unwrap();
    holder
}

/// Waits for the killed run's statement to end on the server.
fn wait_for_orphan(db: &TestDb) {
    wait_until(
        "the orphaned statement ends",
        Duration::from_secs(20),
        || {
            db.scalar(
                "SELECT COUNT(*) FROM information_schema.PROCESSLIST p JOIN locksmith_migrate m \
             ON p.ID = m.applying_conn",
            )
            .as_deref()
                == Some("0")
        },
    );
}

/// What `up` says of an interrupted migration NAME whose run (named
/// `<KILLED>`) left `state` (a line of what locksmith knows of it).
fn refused_interrupted(name: &str, state: &str) -> String {
    format!(
        "locksmith: the database does not match this locksmith's migrations; nothing was changed:\n  \
           V1__{name} is interrupted and may be half-applied\n    \
             a run by <KILLED> started applying it at <TIME> and did not finish\n    \
             {state}\n\
         hint: check by hand what of it is in place; finish it and record it with `locksmith migrate mark-applied <VERSION>`, or undo what landed and run `up` again\n"
    )
}

#[test]
fn a_run_killed_after_its_ddl_is_interrupted_until_marked_applied() {
    let db = TestDb::new();
    let dir = source(&[
        (
            "V1__make_t.sql",
            "CREATE TABLE t_made (id INT); DO SLEEP(3);",
        ),
        ("V1__make_t.down.sql", "DROP TABLE t_made;"),
    ]);
    let src = dir.path().to_str().unwrap();
    let killed = kill_while_applying(&db, dir.path(), Some("t_made"));
    let killed_is = [(killed.as_str(), "<KILLED>")];
    wait_for_orphan(&db);
    assert_eq!(
        db.scalar("SELECT COUNT(*) FROM refinery_schema_history"),
        Some("0".into()),
        "no history row"
    );
    db.locksmith(&["migrate", "status", "--source", src])
        .named(&killed_is)
        .succeeds_like(
            "+-+\n\
             | VERSION NAME STATE APPLIED ON |\n\
             +=+\n\
             | 1 make_t interrupted - |\n\
             +-+\n\
             V1__make_t is interrupted:\n  \
               a run by <KILLED> started applying it at <TIME> and did not finish\n  \
               locksmith cannot tell how much of it took effect\n  \
               -> `locksmith migrate up` refuses to go on: check it by hand, then `locksmith migrate mark-applied 1`\n\
             Migration guard: held by <KILLED> (since <TIME>) (its heartbeat has stopped: the next run takes over)\n",
        );
    // The guard of the dead run expires after its TTL; the refusal comes
    // first anyway, before the guard is even asked for.
    let before = schema(&db);
    db.locksmith(&["migrate", "up", "--source", src])
        .named(&killed_is)
        .fails_like(
            1,
            &refused_interrupted("make_t", "locksmith cannot tell how much of it took effect"),
        );
    assert_eq!(schema(&db), before, "nothing changed");
    // Without a terminal, mark-applied wants --yes.
    db.locksmith(&["migrate", "mark-applied", "1", "--source", src])
        .fails_with(2, "locksmith: refusing to go on without confirmation: stdin is not a terminal; pass --yes (or --dry-run to look first)\n");
    let set = locksmith::migrate::MigrationSet::from_dir(dir.path()).unwrap();
    let checksum = set.migrations()[0].checksum().to_string();
    db.locksmith(&["migrate", "mark-applied", "1", "--source", src, "--dry-run"])
        .named(&killed_is)
        .succeeds_like(&format!(
            "record V1__make_t as applied, with checksum {checksum}, without running it\n\
             its state now: interrupted\n  \
               a run by <KILLED> started applying it at <TIME> and did not finish\n  \
               locksmith cannot tell how much of it took effect\n\
             Dry run: nothing was changed.\n"
        ));
    assert_eq!(schema(&db), before, "a dry run changes nothing");
    // The dead run's guard is taken over at once: its process is gone.
    db.locksmith(&["migrate", "mark-applied", "1", "--source", src, "--yes"])
        .succeeds_with(&format!(
            "Recorded V1__make_t as applied (checksum {checksum}); not audited: there is no locks_audit table yet\n"
        ));
    assert_eq!(
        db.rows("SELECT version, name, checksum FROM refinery_schema_history"),
        vec![vec![
            Some("1".into()),
            Some("make_t".into()),
            Some(checksum.clone())
        ]]
    );
    assert_eq!(
        db.scalar("SELECT applying FROM locksmith_migrate WHERE name = 'run'"),
        None,
        "the interrupted record is cleared"
    );
    db.locksmith(&["migrate", "status", "--source", src, "--check"])
        .succeeds_like(
            "+-+\n\
             | VERSION NAME STATE APPLIED ON |\n\
             +=+\n\
             | 1 make_t applied <TIME> |\n\
             +-+\n",
        );
    db.locksmith(&["migrate", "mark-applied", "1", "--source", src, "--yes"])
        .fails_like(
            4,
            "locksmith: V1__make_t is already recorded as applied (on <TIME>); nothing was changed\n",
        );
    db.locksmith(&["migrate", "mark-applied", "7", "--source", src, "--yes"])
        .fails_with(
            2,
            "locksmith: V7 is not one of these migrations (V1); nothing was changed\n",
        );
}

#[test]
fn a_run_killed_before_its_table_came_runs_again() {
    let db = TestDb::new();
    let dir = source(&[
        (
            "V1__slow_t.sql",
            "DO SLEEP(5); CREATE TABLE t_slow (id INT);",
        ),
        ("V1__slow_t.down.sql", "DROP TABLE t_slow;"),
    ]);
    let src = dir.path().to_str().unwrap();
    let killed = kill_while_applying(&db, dir.path(), None);
    let killed_is = [(killed.as_str(), "<KILLED>")];
    let conn = db
        .scalar("SELECT applying_conn FROM locksmith_migrate")
        .unwrap();
    let running = format!(
        "its statement is still running on the server (connection {conn}): wait for it to end, or end it with KILL {conn}"
    );
    // The server runs the killed run's statement on: while it does, `up`
    // refuses, naming the connection.
    db.locksmith(&["migrate", "status", "--source", src])
        .named(&killed_is)
        .succeeds_like(&format!(
            "+-+\n\
             | VERSION NAME STATE APPLIED ON |\n\
             +=+\n\
             | 1 slow_t interrupted - |\n\
             +-+\n\
             V1__slow_t is interrupted:\n  \
               a run by <KILLED> started applying it at <TIME> and did not finish\n  \
               {running}\n  \
               -> `locksmith migrate up` refuses to go on: check it by hand, then `locksmith migrate mark-applied 1`\n\
             Migration guard: held by <KILLED> (since <TIME>) (its heartbeat has stopped: the next run takes over)\n"
        ));
    db.locksmith(&["migrate", "up", "--source", src])
        .named(&killed_is)
        .fails_like(1, &refused_interrupted("slow_t", &running));
    db.sql(&format!("KILL {conn}"));
    wait_for_orphan(&db);
    assert_eq!(
        state_of(&db, 1, &["--source", src]),
        ("interrupted".into(), Some("apply".into()))
    );
    let r = db
        .locksmith(&["migrate", "up", "--source", src])
        .named(&killed_is);
    assert_eq!(r.code, 0, "{r:#?}");
    r.stdout_is(
        "Applied V1__slow_t again (its first run was interrupted before it made anything)\n\
         Schema is now at version 1.\n",
    )
    .stderr_like(
        "locksmith: took over the migration guard from <KILLED> (since <TIME>), whose heartbeat had stopped\n",
    );
    assert_eq!(
        state_of(&db, 1, &["--source", src]),
        ("applied".into(), None)
    );
}

#[test]
fn the_embedded_v1_killed_mid_run_is_adopted_when_its_table_is_whole() {
    // What a run killed after V1's DDL leaves: the table, no history row,
    // and the record of the run.
    let db = TestDb::new();
    db.sql(SEED_DDL);
    db.sql(
        "CREATE TABLE locksmith_migrate (name VARCHAR(16) NOT NULL PRIMARY KEY, token CHAR(32) NULL, \
         holder VARCHAR(255) NULL, since DATETIME(6) NULL, beat DATETIME(6) NULL, applying INT NULL, \
         applying_name VARCHAR(255) NULL, applying_by VARCHAR(255) NULL, applying_since DATETIME(6) NULL, \
         applying_conn BIGINT NULL) \
         CHARACTER SET utf8mb4 COLLATE utf8mb4_bin",
    );
    db.sql(
        "INSERT INTO locksmith_migrate VALUES ('run', NULL, NULL, NULL, NULL, 1, \
         'locks_create_table', 'deploy-1:4242', UTC_TIMESTAMP(6), NULL)",
    );
    db.locksmith(&["migrate", "status"]).succeeds_like(
        "+-+\n\
         | VERSION NAME STATE APPLIED ON |\n\
         +=+\n\
         | 1 locks_create_table interrupted - |\n\
         | 2 locks_audit_create_table pending - |\n\
         +-+\n\
         V1__locks_create_table is interrupted:\n  \
           a run by deploy-1:4242 started applying it at <TIME> and did not finish\n  \
           its tables are there and identical to what it makes: `up` adopts it\n  \
           -> `locksmith migrate up` records it without running it\n",
    );
    db.locksmith(&["migrate", "up"]).succeeds_with(
        "Adopted V1__locks_create_table: its interrupted run had finished it; tables present and identical\n\
         Applied V2__locks_audit_create_table\nSchema is now at version 2.\n",
    );
    assert_eq!(db.scalar("SELECT applying FROM locksmith_migrate"), None);
}

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
        "Adopted V1__locks_create_table: table already present and identical\nSchema is now at version 2.\n",
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
