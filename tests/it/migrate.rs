//! `locksmith migrate`: up, down, status, races, failures, connection errors.

use crate::harness::*;
use locksmith::cli::output::StatusDoc;

const UP_FRESH: &str = "Applied V1__locks_create_table\nApplied V2__locks_audit_create_table\nSchema is now at version 2.\n";
const UP_NOOP: &str = "Schema is up to date (version 2); nothing to apply.\n";

#[test]
fn up_applies_then_is_a_noop() {
    let db = TestDb::new();
    db.locksmith(&["migrate", "up"])
        .success()
        .stdout_is(UP_FRESH);
    db.locksmith(&["migrate", "up"])
        .success()
        .stdout_is(UP_NOOP);
    // refinery's own format: version, name, RFC 3339 applied_on, u64 checksum.
    let history = db.rows(
        "SELECT version, name, applied_on, checksum FROM refinery_schema_history ORDER BY version",
    );
    assert_eq!(history.len(), 2);
    assert_eq!(history[0][1].as_deref(), Some("locks_create_table"));
    assert_eq!(history[1][1].as_deref(), Some("locks_audit_create_table"));
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
    let r = db.locksmith(&["migrate", "status", "--format", "json"]);
    r.success();
    let doc: StatusDoc = r.json();
    let states: Vec<&str> = doc.migrations.iter().map(|m| m.state.as_str()).collect();
    assert_eq!(states, ["pending", "pending"]);
    db.locksmith(&["migrate", "status", "--check"])
        .fails_with_output(6)
        .stdout_has(&["locks_create_table", "pending"])
        .stderr_has(&["schema is not current", "V1__locks_create_table is pending"]);

    db.locksmith(&["migrate", "up"]).success();
    let r = db.locksmith(&["migrate", "status", "--check"]);
    r.success().stdout_has(&[
        "VERSION",
        "NAME",
        "STATE",
        "APPLIED ON",
        "locks_audit_create_table",
        "applied",
    ]);
    assert!(!r.stdout.contains('\x1b'), "no colour when not a terminal");
    let doc: StatusDoc = db
        .locksmith(&["migrate", "status", "--format", "json"])
        .json();
    assert!(doc
        .migrations
        .iter()
        .all(|m| m.state == "applied" && m.applied_on.is_some()));

    // Divergent and unknown-to-this-binary.
    db.sql("UPDATE refinery_schema_history SET checksum = '1' WHERE version = 2; \
            INSERT INTO refinery_schema_history VALUES (7, 'from_the_future', '2030-01-01T00:00:00Z', '42')");
    let doc: StatusDoc = db
        .locksmith(&["migrate", "status", "--format", "json"])
        .json();
    let states: Vec<(i32, &str)> = doc
        .migrations
        .iter()
        .map(|m| (m.version, m.state.as_str()))
        .collect();
    assert_eq!(
        states,
        [(1, "applied"), (2, "divergent"), (7, "applied-unknown")]
    );
    db.locksmith(&["migrate", "status", "--check"])
        .fails_with_output(6)
        .stdout_has(&["divergent", "applied-unknown"]);
    db.locksmith(&["migrate", "up"])
        .fails(1)
        .no_stdout()
        .stderr_has(&[
            "V2__locks_audit_create_table was applied with different contents",
            "V7__from_the_future is applied but unknown",
        ]);
}

#[test]
fn dry_runs_change_nothing() {
    let db = TestDb::new();
    db.locksmith(&["migrate", "up", "--dry-run"])
        .success()
        .stdout_has(&[
            "-- Would apply V1__locks_create_table:",
            "CREATE TABLE IF NOT EXISTS locks(",
            "-- Dry run: nothing was changed.",
        ]);
    assert_eq!(
        db.scalar("SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE()")
            .as_deref(),
        Some("0")
    );
    db.locksmith(&["migrate", "up", "--target", "1"])
        .success()
        .stdout_is("Applied V1__locks_create_table\nSchema is now at version 1.\n");
    db.locksmith(&["migrate", "up"])
        .success()
        .stdout_is("Applied V2__locks_audit_create_table\nSchema is now at version 2.\n");
    db.locksmith(&["migrate", "down", "--all", "--dry-run"])
        .success()
        .stdout_is("-- Would roll back V2__locks_audit_create_table:\nDROP TABLE IF EXISTS locks_audit;\n-- Would roll back V1__locks_create_table:\nDROP TABLE IF EXISTS locks;\n-- Dry run: nothing was changed.\n");
    assert_eq!(
        db.scalar("SELECT COUNT(*) FROM refinery_schema_history")
            .as_deref(),
        Some("2")
    );
}

#[test]
fn down_then_up_again() {
    let db = TestDb::migrated();
    db.locksmith(&["migrate", "down"])
        .success()
        .stdout_is("Rolled back V2__locks_audit_create_table\nSchema is now at version 1.\n");
    assert_eq!(db.scalar("SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'locks_audit'").as_deref(), Some("0"));
    db.locksmith(&["migrate", "down", "--target", "0"])
        .success()
        .stdout_is("Rolled back V1__locks_create_table\nNo migrations are applied now.\n");
    db.locksmith(&["migrate", "down"])
        .success()
        .stdout_is("Nothing to roll back.\n");
    assert_eq!(
        db.scalar("SELECT COUNT(*) FROM refinery_schema_history")
            .as_deref(),
        Some("0")
    );
    db.locksmith(&["migrate", "up"])
        .success()
        .stdout_is(UP_FRESH);
    let r = db.locksmith(&["migrate", "down", "--target", "1", "--all"]);
    assert_eq!(r.code, 2, "{r:#?}");
    assert!(
        r.stderr
            .contains("'--target <V>' cannot be used with '--all'"),
        "{r:#?}"
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
    let r = db.locksmith(&["migrate", "down", "--all"]);
    r.fails(4).no_stdout().stderr_has(&[
        "refusing to roll back V1__locks_create_table",
        "platform: backup (held by task-9)",
        "broken: dataJson is not a JSON object: not json",
        "--force",
    ]);
    assert!(
        !r.stderr.contains("empty:"),
        "a row without locks is not held: {r:#?}"
    );
    // Nothing was rolled back, not even V2 (the check runs before any change).
    assert_eq!(
        db.scalar("SELECT COUNT(*) FROM refinery_schema_history")
            .as_deref(),
        Some("2")
    );
    db.locksmith(&["migrate", "down", "--all", "--force"])
        .success()
        .stdout_is("Rolled back V2__locks_audit_create_table\nRolled back V1__locks_create_table\nNo migrations are applied now.\n");
}

#[test]
fn down_refuses_to_drop_audit_records() {
    let db = TestDb::migrated();
    db.locksmith(&["locks", "acquire", "platform", "backup", "--holder", "t"])
        .success();
    db.locksmith(&["locks", "force-release", "platform", "backup", "--yes"])
        .success();
    db.locksmith(&["migrate", "down"])
        .fails(4)
        .stderr_has(&["`locks_audit` holds 1 audit record(s)"]);
    db.locksmith(&["migrate", "down", "--force"]).success();
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
        vec![vec![Some("1".into()), Some("1".into())], vec![Some("2".into()), Some("1".into())]]
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
    let t = std::time::Instant::now();
    let applying = || {
        db.scalar("SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'locksmith_migrate'")
            .as_deref()
            == Some("1")
            && db
                .scalar("SELECT applying FROM locksmith_migrate WHERE name = 'run'")
                .is_some()
    };
    while !applying() {
        assert!(
            t.elapsed() < std::time::Duration::from_secs(20),
            "the first run never started"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let holder = format!("{}:{}", locksmith::host::hostname(), first.id());
    let status = db.locksmith(&["migrate", "status"]);
    status
        .success()
        .stdout_has(&[&format!("Migration guard: held by {holder} (since ")]);
    db.locksmith(&["migrate", "up", "--source", src, "--lock-timeout", "1s"])
        .fails(4)
        .stderr_has(&[
            &format!("locksmith: waiting for the migration guard, held by {holder} (since "),
            &format!("another migration run, {holder} (since "),
            "held the migration guard for all of 1s",
            "--lock-timeout",
        ]);
    let r = Run::from(first.wait_with_output().unwrap());
    r.success()
        .stdout_is("Applied V1__slow\nSchema is now at version 1.\n");
    db.locksmith(&["migrate", "up", "--source", src])
        .success()
        .stdout_is("Schema is up to date (version 1); nothing to apply.\n");
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
    db.locksmith(&["migrate", "up", "--source", src])
        .fails_with_output(1)
        .stdout_is("Applied V1__first\n")
        .stderr_has(&[
            "migration V2__second failed",
            "You have an error in your SQL syntax",
        ]);
    assert_eq!(
        db.rows("SELECT version FROM refinery_schema_history"),
        vec![vec![Some("1".into())]],
        "no history row for the failed migration"
    );
    std::fs::write(p.join("V2__second.sql"), "CREATE TABLE second_t (id INT);").unwrap();
    db.locksmith(&["migrate", "up", "--source", src])
        .success()
        .stdout_is("Applied V2__second\nSchema is now at version 2.\n");
}

#[test]
fn connection_errors_are_clear_and_hide_the_password() {
    let db = TestDb::new();
    locksmith_bare(&["migrate", "up"])
        .fails(2)
        .stderr_has(&["--url", "DATABASE_URL"]);
    let addr = db.addr();
    let (user, pw) = (user(), password());
    let wrong = format!("mysql://{user}:not-the-{pw}@{addr}/{}", db.name);
    locksmith_bare(&["migrate", "up", "--url", &wrong])
        .fails(3)
        .no_secret()
        .stderr_has(&["access denied", "***", "check the user name and password"]);
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let unreachable = format!("mysql://{user}:{pw}@127.0.0.1:{port}/x");
    locksmith_bare(&["migrate", "status", "--url", &unreachable])
        .fails(3)
        .no_secret()
        .stderr_has(&[
            &format!("cannot connect to mysql://{user}:***@127.0.0.1:"),
            "is the server running",
        ]);
    let missing_db = unique_name("missing");
    let missing = format!("mysql://{user}:{pw}@{addr}/{missing_db}");
    locksmith_bare(&["locks", "dump", "--url", &missing])
        .fails(5)
        .no_secret()
        .stderr_has(&[
            &format!("database `{missing_db}` does not exist"),
            "CREATE DATABASE",
        ]);
    locksmith_bare(&["migrate", "up", "--url", &format!("postgres://u:{pw}@h/db")])
        .fails(2)
        .no_secret()
        .stderr_has(&["unsupported scheme"]);
    // The password in DATABASE_URL never shows in --help either.
    let help = db.locksmith(&["migrate", "up", "--help"]);
    help.success().no_secret().stdout_has(&["DATABASE_URL"]);
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
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while db.scalar(&format!(
        "SELECT COUNT(*) FROM information_schema.PROCESSLIST \
         WHERE DB = '{}' AND INFO LIKE 'RENAME TABLE%' AND STATE LIKE 'Waiting for table metadata lock%'",
        db.name
    ))
    .as_deref()
        != Some("1")
    {
        assert!(
            std::time::Instant::now() < deadline,
            "`down` never waited to move `locks` out of reach"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    commit_tx.send(()).unwrap();
    Run::from(down.wait_with_output().unwrap())
        .fails(4)
        .stderr_has(&[
            "refusing to roll back V1__locks_create_table",
            "platform: backup (held by task-7)",
        ]);
    writer.join().unwrap();
    assert_eq!(
        db.data("platform").as_deref(),
        Some(r#"{"backup":"task-7"}"#),
        "the lock survived"
    );
    assert_eq!(
        db.rows("SELECT version FROM refinery_schema_history"),
        vec![vec![Some("1".into())]],
        "V2 went, V1 stayed"
    );
}
