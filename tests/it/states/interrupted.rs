//! A run killed while applying a migration (after its DDL, before its table
//! came, or V1 whole): interrupted until marked applied, run again, or
//! adopted.

use super::*;

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
            &(status_table(&["1 make_t interrupted -"]) + "V1__make_t is interrupted:\n  \
               a run by <KILLED> started applying it at <TIME> and did not finish\n  \
               locksmith cannot tell how much of it took effect\n  \
               -> `locksmith migrate up` refuses to go on: check it by hand, then `locksmith migrate mark-applied 1`\n\
             Migration guard: held by <KILLED> (since <TIME>) (its heartbeat has stopped: the next run takes over)\n"),
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
        .succeeds_like(&status_table(&["1 make_t applied <TIME>"]));
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
            "{}V1__slow_t is interrupted:\n  \
               a run by <KILLED> started applying it at <TIME> and did not finish\n  \
               {running}\n  \
               -> `locksmith migrate up` refuses to go on: check it by hand, then `locksmith migrate mark-applied 1`\n\
             Migration guard: held by <KILLED> (since <TIME>) (its heartbeat has stopped: the next run takes over)\n",
            status_table(&["1 slow_t interrupted -"])
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
        &(status_table(&[
            "1 locks_create_table interrupted -",
            "2 locks_audit_create_table pending -",
            "3 holder_liveness pending -",
        ]) + "V1__locks_create_table is interrupted:\n  \
           a run by deploy-1:4242 started applying it at <TIME> and did not finish\n  \
           its tables are there and identical to what it makes: `up` adopts it\n  \
           -> `locksmith migrate up` records it without running it\n"),
    );
    db.locksmith(&["migrate", "up"]).succeeds_with(
        "Adopted V1__locks_create_table: its interrupted run had finished it; tables present and identical\n\
         Applied V2__locks_audit_create_table\nApplied V3__holder_liveness\nSchema is now at version 3.\n",
    );
    assert_eq!(db.scalar("SELECT applying FROM locksmith_migrate"), None);
}
