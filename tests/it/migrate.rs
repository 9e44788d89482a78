//! `locksmith migrate`: up, down, status, races, failures, connection errors.

use crate::harness::*;
use locksmith::cli::output::StatusDoc;
use std::time::Duration;

#[test]
fn up_applies_then_is_a_noop() {
    let db = TestDb::new();
    db.locksmith(&["migrate", "up"]).succeeds_with(UP_FRESH);
    db.locksmith(&["migrate", "up"]).succeeds_with(UP_NOOP);
    // refinery's own format: version, name, RFC 3339 applied_on, u64 checksum.
    let history = db.rows(
        "SELECT version, name, applied_on, checksum FROM refinery_schema_history ORDER BY version",
    );
    assert_eq!(history.len(), 3);
    assert_eq!(history[0][1].as_deref(), Some("locks_create_table"));
    assert_eq!(history[1][1].as_deref(), Some("locks_audit_create_table"));
    assert_eq!(history[2][1].as_deref(), Some("holder_liveness"));
    for row in &history {
        let applied_on = row[2].as_deref().unwrap();
        assert!(
            time::OffsetDateTime::parse(applied_on, &time::format_description::well_known::Rfc3339)
                .is_ok(),
            "{applied_on}"
        );
        row[3].as_deref().unwrap().parse::<u64>().unwrap();
    }
    // The checksums are the ones refinery computes for the embedded files.
    let set = locksmith::migrate::MigrationSet::embedded();
    for (m, row) in set.migrations().iter().zip(&history) {
        assert_eq!(row[3].as_deref(), Some(m.checksum().to_string().as_str()));
    }
}

#[test]
fn locks_table_matches_the_seed() {
    let db = TestDb::migrated();
    let cols = db.rows(
        "SELECT COLUMN_NAME, COLUMN_TYPE, IS_NULLABLE, COLUMN_DEFAULT, EXTRA, CHARACTER_SET_NAME, COLLATION_NAME \
         FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'locks' ORDER BY ORDINAL_POSITION",
    );
    let s = |v: &Option<String>| v.clone().unwrap_or_else(|| "NULL".into()).to_lowercase();
    let got: Vec<Vec<String>> = cols.iter().map(|r| r.iter().map(s).collect()).collect();
    assert_eq!(got.len(), 4, "{got:?}");
    assert_eq!(got[0][..3], ["id", "varchar(128)", "no"]);
    assert_eq!(got[1][..2], ["datajson", "text"]);
    assert_eq!(got[1][2], "yes");
    assert_eq!(got[2][..2], ["version", "int(11)"]);
    assert_eq!(got[2][3], "1");
    assert_eq!(got[3][1], "timestamp");
    assert!(got[3][3].contains("current_timestamp"), "{got:?}");
    assert!(got[3][4].contains("on update current_timestamp"), "{got:?}");
    for text_col in [&got[0], &got[1]] {
        assert!(text_col[5].starts_with("utf8"), "{got:?}");
        assert!(text_col[5] != "utf8mb4", "{got:?}");
        assert!(text_col[6].ends_with("_bin"), "{got:?}");
    }
    let create = db.rows("SHOW CREATE TABLE locks")[0][1].clone().unwrap();
    assert!(create.contains("UNIQUE KEY `id` (`id`)"), "{create}");
    assert!(
        create.contains("CHARSET=utf8mb3") || create.contains("CHARSET=utf8 "),
        "{create}"
    );
    assert!(
        create.contains("COLLATE=utf8mb3_bin") || create.contains("COLLATE=utf8_bin"),
        "{create}"
    );
}

#[test]
fn status_in_both_formats_and_check() {
    let db = TestDb::new();
    let doc: StatusDoc = db
        .locksmith(&["migrate", "status", "--format", "json"])
        .success_json();
    let states: Vec<&str> = doc.migrations.iter().map(|m| m.state.as_str()).collect();
    assert_eq!(states, ["pending", "pending", "pending"]);
    db.locksmith(&["migrate", "status", "--check"])
        .fails_with_output(6)
        .stdout_is(
            "+-----------------------------------------------------------+\n\
             | VERSION   NAME                       STATE     APPLIED ON |\n\
             +===========================================================+\n\
             | 1         locks_create_table         pending   -          |\n\
             | 2         locks_audit_create_table   pending   -          |\n\
             | 3         holder_liveness            pending   -          |\n\
             +-----------------------------------------------------------+\n",
        )
        .stderr_is("locksmith: schema is not current: V1__locks_create_table is pending, V2__locks_audit_create_table is pending, V3__holder_liveness is pending\n");

    db.locksmith(&["migrate", "up"]).succeeds_with(UP_FRESH);
    // No colour when not a terminal: the whole table, as it stands.
    db.locksmith(&["migrate", "status", "--check"])
        .succeeds_like(&status_table(&[
            "1 locks_create_table applied <TIME>",
            "2 locks_audit_create_table applied <TIME>",
            "3 holder_liveness applied <TIME>",
        ]));
    let doc: StatusDoc = db
        .locksmith(&["migrate", "status", "--format", "json"])
        .success_json();
    assert!(doc
        .migrations
        .iter()
        .all(|m| m.state == "applied" && m.applied_on.is_some()));

    // Divergent and unknown-to-this-binary.
    db.sql("UPDATE refinery_schema_history SET checksum = '1' WHERE version = 2; \
            INSERT INTO refinery_schema_history VALUES (7, 'from_the_future', '2030-01-01T00:00:00Z', '42')");
    let doc: StatusDoc = db
        .locksmith(&["migrate", "status", "--format", "json"])
        .success_json();
    let states: Vec<(i32, &str)> = doc
        .migrations
        .iter()
        .map(|m| (m.version, m.state.as_str()))
        .collect();
    assert_eq!(
        states,
        [
            (1, "applied"),
            (2, "divergent"),
            (3, "applied"),
            (7, "applied-unknown")
        ]
    );
    let r = db.locksmith(&["migrate", "status", "--check"]);
    r.fails_with_output(6)
        .stdout_like(
            &(status_table(&["1 locks_create_table applied <TIME>", "2 locks_audit_create_table divergent <TIME>", "3 holder_liveness applied <TIME>", "7 from_the_future applied-unknown <TIME>"]) + "V2__locks_audit_create_table is divergent:\n  \
               -> `locksmith migrate up` refuses to go on\n\
             V7__from_the_future is applied-unknown:\n  \
               -> `locksmith migrate up` refuses to go on\n"),
        )
        .stderr_is("locksmith: schema is not current: V2__locks_audit_create_table is divergent, V7__from_the_future is applied-unknown\n");
    db.locksmith(&["migrate", "up"]).fails_with(
        1,
        "locksmith: the database does not match this locksmith's migrations; nothing was changed:\n  \
           V2__locks_audit_create_table was applied with different contents than this locksmith carries (divergent checksum)\n  \
           V7__from_the_future is applied but unknown to this locksmith (applied by a newer version?)\n\
         hint: see `locksmith migrate status`\n",
    );
}

#[test]
fn dry_runs_change_nothing() {
    let db = TestDb::new();
    db.locksmith(&["migrate", "up", "--dry-run"])
        .succeeds_with(&format!(
            "-- Would apply V1__locks_create_table:\n\
         CREATE TABLE IF NOT EXISTS locks(\n    \
             id VARCHAR(128) NOT NULL UNIQUE,\n    \
             dataJson TEXT,\n    \
             version INT DEFAULT 1,\n    \
             ts TIMESTAMP DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP\n\
         ) CHARACTER SET utf8 COLLATE utf8_bin;\n\
         {V2_PLAN}"
        ));
    assert_eq!(
        db.scalar("SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE()")
            .as_deref(),
        Some("0")
    );
    db.locksmith(&["migrate", "up", "--target", "1"])
        .succeeds_with("Applied V1__locks_create_table\nSchema is now at version 1.\n");
    db.locksmith(&["migrate", "up"]).succeeds_with(
        "Applied V2__locks_audit_create_table\nApplied V3__holder_liveness\nSchema is now at version 3.\n",
    );
    db.locksmith(&["migrate", "down", "--all", "--dry-run"])
        .succeeds_with(&format!("{V3_DOWN_PLAN}-- Would roll back V2__locks_audit_create_table:\nDROP TABLE IF EXISTS locks_audit;\n-- Would roll back V1__locks_create_table:\nDROP TABLE IF EXISTS locks;\n-- Dry run: nothing was changed.\n"));
    assert_eq!(
        db.scalar("SELECT COUNT(*) FROM refinery_schema_history")
            .as_deref(),
        Some("3")
    );
}

#[test]
fn down_then_up_again() {
    let db = TestDb::migrated();
    db.locksmith(&["migrate", "down"])
        .succeeds_with("Rolled back V3__holder_liveness\nSchema is now at version 2.\n");
    assert_eq!(db.scalar("SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'locks_holders'").as_deref(), Some("0"));
    db.locksmith(&["migrate", "down"])
        .succeeds_with("Rolled back V2__locks_audit_create_table\nSchema is now at version 1.\n");
    assert_eq!(db.scalar("SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'locks_audit'").as_deref(), Some("0"));
    db.locksmith(&["migrate", "down", "--target", "0"])
        .succeeds_with("Rolled back V1__locks_create_table\nNo migrations are applied now.\n");
    db.locksmith(&["migrate", "down"])
        .succeeds_with("Nothing to roll back.\n");
    assert_eq!(
        db.scalar("SELECT COUNT(*) FROM refinery_schema_history")
            .as_deref(),
        Some("0")
    );
    db.locksmith(&["migrate", "up"]).succeeds_with(UP_FRESH);
    db.locksmith(&["migrate", "down", "--target", "1", "--all"])
        .fails_with(
            2,
            "locksmith: the argument '--target <V>' cannot be used with '--all'\n\n\
             Usage: locksmith migrate down --target <V>\n\n\
             For more information, try '--help'.\n",
        );
}

#[test]
fn down_refuses_while_locks_are_held() {
    let db = TestDb::migrated();
    db.locksmith(&[
        "locks", "acquire", "platform", "backup", "--holder", "task-9",
    ])
    .success();
    db.sql("INSERT INTO locks (id, dataJson) VALUES ('broken', 'not json'), ('empty', '{}')");
    // A row without locks (`empty`) is not held.
    db.locksmith(&["migrate", "down", "--all"]).fails_with(
        4,
        "locksmith: refusing to roll back V1__locks_create_table: table `locks` still holds locks:\n  \
           broken: dataJson is not a JSON object: not json\n  \
           platform: backup (held by task-9)\n\
         hint: release them first (`locksmith locks dump`), or pass --force to drop them\n",
    );
    // Nothing was rolled back, not even V3 or V2 (the check runs before
    // any change).
    assert_eq!(
        db.scalar("SELECT COUNT(*) FROM refinery_schema_history")
            .as_deref(),
        Some("3")
    );
    db.locksmith(&["migrate", "down", "--all", "--force"])
        .succeeds_with("Rolled back V3__holder_liveness\nRolled back V2__locks_audit_create_table\nRolled back V1__locks_create_table\nNo migrations are applied now.\n");
}

#[test]
fn down_refuses_to_drop_audit_records() {
    let db = TestDb::migrated();
    db.locksmith(&["locks", "acquire", "platform", "backup", "--holder", "t"])
        .success();
    db.locksmith(&["locks", "force-release", "platform", "backup", "--yes"])
        .succeeds_with(
            "row `platform`: version 2 -> 3\nreleased backup (held by t)\n0 lock(s) remain\n",
        );
    // V3's down drops the evidence of releases of dead holders, of which
    // there is none: it goes.
    db.locksmith(&["migrate", "down"])
        .succeeds_with("Rolled back V3__holder_liveness\nSchema is now at version 2.\n");
    // The record outlived V3's down; V2's would drop it with its table.
    db.locksmith(&["migrate", "down"]).fails_with(
        4,
        "locksmith: refusing to roll back V2__locks_audit_create_table: table `locks_audit` holds 1 audit record(s)\n\
         hint: export them first (`locksmith locks history --format json`), or pass --force to drop them\n",
    );
    db.locksmith(&["migrate", "down", "--force"])
        .succeeds_with("Rolled back V2__locks_audit_create_table\nSchema is now at version 1.\n");
}

#[test]
fn racing_deployers_apply_each_migration_once() {
    let db = TestDb::new();
    let children: Vec<_> = (0..10).map(|_| db.spawn(&["migrate", "up"])).collect();
    let runs: Vec<Run> = children
        .into_iter()
        .map(|c| Run::from(c.wait_with_output().unwrap()))
        .collect();
    let mut applied_v1 = 0;
    for r in &runs {
        assert_eq!(r.code, 0, "{r:#?}");
        // A run that waited for another's guard said so, and nothing else.
        for line in r.stderr.lines() {
            assert!(
                line.starts_with("locksmith: waiting for the migration guard, held by "),
                "{r:#?}"
            );
        }
        applied_v1 += r.stdout.matches("Applied V1__locks_create_table").count();
        assert!(r.stdout == UP_FRESH || r.stdout == UP_NOOP, "{r:#?}");
    }
    assert_eq!(applied_v1, 1, "{runs:#?}");
    assert_eq!(
        db.rows("SELECT version, COUNT(*) FROM refinery_schema_history GROUP BY version ORDER BY version"),
        vec![
            vec![Some("1".into()), Some("1".into())],
            vec![Some("2".into()), Some("1".into())],
            vec![Some("3".into()), Some("1".into())]
        ]
    );
}

#[test]
fn a_run_waiting_for_the_guard_says_who_holds_it_and_gives_up_in_time() {
    let db = TestDb::new();
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    std::fs::write(p.join("V1__slow.sql"), "DO SLEEP(4);").unwrap();
    std::fs::write(p.join("V1__slow.down.sql"), "DO 0;").unwrap();
    let src = p.to_str().unwrap();
    let first = db.spawn(&["migrate", "up", "--source", src]);
    // Once it records what it applies, it holds the guard.
    wait_until(
        "the first run starts applying",
        Duration::from_secs(20),
        || {
            db.scalar("SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'locksmith_migrate'")
            .as_deref()
            == Some("1")
            && db
                .scalar("SELECT applying FROM locksmith_migrate WHERE name = 'run'")
                .is_some()
        },
    );
    let holder = format!("{}:{}", locksmith::host::hostname(), first.id());
    let first_is = [(holder.as_str(), "<FIRST>")];
    db.locksmith(&["migrate", "status"])
        .named(&first_is)
        .succeeds_like(
            &(status_table(&[
                "1 locks_create_table pending -",
                "2 locks_audit_create_table pending -",
                "3 holder_liveness pending -",
            ]) + "V1__locks_create_table is pending:\n  \
               being applied now by <FIRST> at <TIME>\n  \
               -> `locksmith migrate up` applies it\n\
             Migration guard: held by <FIRST> (since <TIME>)\n"),
        );
    db.locksmith(&["migrate", "up", "--source", src, "--lock-timeout", "1s"])
        .named(&first_is)
        .fails_like(
            4,
            "locksmith: waiting for the migration guard, held by <FIRST> (since <TIME>)\n\
             locksmith: another migration run, <FIRST> (since <TIME>), held the migration guard for all of 1s; giving up\n\
             hint: wait for it to finish, or raise --lock-timeout; `locksmith migrate status` shows the guard\n",
        );
    let r = Run::from(first.wait_with_output().unwrap());
    r.succeeds_with("Applied V1__slow\nSchema is now at version 1.\n");
    db.locksmith(&["migrate", "up", "--source", src])
        .succeeds_with("Schema is up to date (version 1); nothing to apply.\n");
    assert_eq!(
        db.scalar("SELECT token FROM locksmith_migrate"),
        None,
        "released"
    );
}

#[test]
fn a_broken_migration_fails_cleanly_and_a_rerun_after_the_fix_works() {
    let db = TestDb::new();
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    std::fs::write(p.join("V1__first.sql"), "CREATE TABLE first_t (id INT);").unwrap();
    std::fs::write(p.join("V1__first.down.sql"), "DROP TABLE first_t;").unwrap();
    std::fs::write(
        p.join("V2__second.sql"),
        "CREATE TABLE second_t (id INT, oops);",
    )
    .unwrap();
    std::fs::write(p.join("V2__second.down.sql"), "DROP TABLE second_t;").unwrap();
    let src = p.to_str().unwrap();
    // The hole is the server's own account of the syntax error.
    db.locksmith(&["migrate", "up", "--source", src])
        .fails_with_output(1)
        .stdout_is("Applied V1__first\n")
        .stderr_matches(
            r"locksmith: migration V2__second failed: database error: You have an error in your SQL syntax; .* \(error 1064\)\n",
        );
    assert_eq!(
        db.rows("SELECT version FROM refinery_schema_history"),
        vec![vec![Some("1".into())]],
        "no history row for the failed migration"
    );
    std::fs::write(p.join("V2__second.sql"), "CREATE TABLE second_t (id INT);").unwrap();
    db.locksmith(&["migrate", "up", "--source", src])
        .succeeds_with("Applied V2__second\nSchema is now at version 2.\n");
}

#[test]
fn connection_errors_are_clear_and_hide_the_password() {
    let db = TestDb::new();
    locksmith_bare(&["migrate", "up"]).fails_with(
        2,
        "locksmith: no database URL: pass --url or set DATABASE_URL (mysql://user:pass@host:port/db)\n",
    );
    let addr = db.addr();
    let (user, pw) = (user(), password());
    let wrong = format!("mysql://{user}:not-the-{pw}@{addr}/{}", db.name);
    locksmith_bare(&["migrate", "up", "--url", &wrong])
        .fails_like(3, &format!(
            "locksmith: access denied for mysql://<USER>:***@{addr}/{}: Access denied for user '<USER>'@'<CLIENT>' (using password: YES); the password came from the URL (--url)\n\
             hint: check the user name and password (an account created REQUIRE X509 also needs ssl-cert= and ssl-key= in the URL)\n",
            db.name
        ))
        .no_secret();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let unreachable = format!("mysql://{user}:{pw}@127.0.0.1:{port}/x");
    // The hole is the OS's word for the refusal.
    locksmith_bare(&["migrate", "status", "--url", &unreachable])
        .fails(3)
        .no_secret()
        .stderr_matches(&format!(
            "locksmith: cannot connect to mysql://{user}:\\*\\*\\*@127\\.0\\.0\\.1:{port}/x: .*\n\
             hint: is the server running and listening on that host and port\\?\n"
        ));
    let missing_db = unique_name("missing");
    let missing = format!("mysql://{user}:{pw}@{addr}/{missing_db}");
    locksmith_bare(&["locks", "dump", "--url", &missing])
        .fails_with(5, &format!(
            "locksmith: database `{missing_db}` does not exist on mysql://{user}:***@{addr}/{missing_db}\n\
             hint: create it first (CREATE DATABASE `{missing_db}`), or fix the name in the URL\n"
        ))
        .no_secret();
    locksmith_bare(&["migrate", "up", "--url", &format!("postgres://u:{pw}@h/db")])
        .fails_with(2, "locksmith: invalid database URL postgres://u:***@h/db: unsupported scheme `postgres`; use mysql://user:pass@host:port/db\n")
        .no_secret();
    // The password in DATABASE_URL never shows in --help either (help is
    // prose, open-ended: the test looks for the variable it names).
    db.locksmith(&["migrate", "up", "--help"])
        .succeeds_where(|help| assert!(help.contains("DATABASE_URL"), "{help}"))
        .no_secret();
}

#[test]
fn a_lock_taken_during_down_is_not_dropped() {
    let db = TestDb::migrated();
    let url = db.url();
    // A lock client's write, not yet committed when `down` first looks; it
    // commits once `down` waits to lock the table for the DROP.
    let (started_tx, started_rx) = std::sync::mpsc::channel::<()>();
    let (commit_tx, commit_rx) = std::sync::mpsc::channel::<()>();
    let writer = std::thread::spawn(move || {
        block(async move {
            use mysql_async::prelude::Queryable;
            let mut c = mysql_async::Conn::from_url(url).await.unwrap();
            c.query_drop("START TRANSACTION").await.unwrap();
            c.query_drop(
                r#"INSERT INTO locks (id, dataJson) VALUES ('platform', '{"backup":"task-7"}')"#,
            )
            .await
            .unwrap();
            started_tx.send(()).unwrap();
            commit_rx.recv().unwrap();
            c.query_drop("COMMIT").await.unwrap();
            c.disconnect().await.unwrap();
        })
    });
    started_rx.recv().unwrap();
    let down = db.spawn(&["migrate", "down", "--all"]);
    wait_until(
        "`down` waits to move `locks` out of reach",
        Duration::from_secs(30),
        || {
            db.scalar(&format!(
                "SELECT COUNT(*) FROM information_schema.PROCESSLIST \
                 WHERE DB = '{}' AND INFO LIKE 'RENAME TABLE%' AND STATE LIKE 'Waiting for table metadata lock%'",
                db.name
            ))
            .as_deref()
                == Some("1")
        },
    );
    commit_tx.send(()).unwrap();
    Run::from(down.wait_with_output().unwrap()).fails_with(
        4,
        "locksmith: refusing to roll back V1__locks_create_table: table `locks` still holds locks:\n  \
           platform: backup (held by task-7)\n\
         hint: release them first (`locksmith locks dump`), or pass --force to drop them\n",
    );
    writer.join().unwrap();
    assert_eq!(
        db.data("platform").as_deref(),
        Some(r#"{"backup":"task-7"}"#),
        "the lock survived"
    );
    assert_eq!(
        db.rows("SELECT version FROM refinery_schema_history"),
        vec![vec![Some("1".into())]],
        "V3 and V2 went, V1 stayed"
    );
}
