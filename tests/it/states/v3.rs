//! V3, the holder registry and the evidence of releases of dead holders,
//! through its whole life: applied, shown, refused while it holds evidence,
//! rolled back, read on without, and applied again.

use super::*;

/// Whether `table` of the test's database has `column` (`None`: whether
/// the table is there at all).
fn has(db: &TestDb, table: &str, column: Option<&str>) -> bool {
    let q = match column {
        Some(c) => format!(
            "SELECT COUNT(*) FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() \
             AND TABLE_NAME = '{table}' AND COLUMN_NAME = '{c}'"
        ),
        None => format!(
            "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() \
             AND TABLE_NAME = '{table}'"
        ),
    };
    db.scalar(&q).as_deref() == Some("1")
}

/// V3, the holder registry (`locks_holders`) and the evidence of releases
/// of dead holders (`locks_audit_evidence`): `up` applies V1 to V3 and
/// `status` shows V3; V3's down is refused while the evidence table holds
/// records (the message names the table) and goes with `--force`, keeping
/// the audit records; without V3 the trail reads on (no evidence) and the
/// lock commands need no registry; `up` applies V3 again; with no evidence
/// recorded, V3's down needs no `--force`.
#[test]
fn v3_is_applied_shown_refused_while_audited_rolled_back_and_applied_again() {
    let db = TestDb::new();
    db.locksmith(&["migrate", "up"]).succeeds_with(UP_FRESH);
    db.locksmith(&["migrate", "status"])
        .succeeds_like(STATUS_APPLIED);
    assert!(has(&db, "locks_holders", None));
    assert!(has(&db, "locks_audit_evidence", None));

    // A holder whose lease ran out long ago, released as dead: the audit
    // record rests on evidence.
    db.sql(r#"INSERT INTO locks (id, dataJson, version) VALUES ('platform', '{"backup":"gone:1"}', 2)"#);
    db.sql(
        "INSERT INTO locks_holders (holder, rowId, lockName, state, since, host, pid, leaseMs, beat) \
         VALUES ('gone:1', 'platform', 'backup', 'holds', UTC_TIMESTAMP(6) - INTERVAL 1 HOUR, \
                 'elsewhere', 1, 30000, UTC_TIMESTAMP(6) - INTERVAL 1 HOUR)",
    );
    let r = db.locksmith(&["locks", "force-release", "platform", "--dead", "--yes"]);
    assert_eq!(r.code, 0, "{r:#?}");
    assert_eq!(
        db.scalar("SELECT COUNT(*) FROM locks_audit_evidence")
            .as_deref(),
        Some("1")
    );
    let refused = "locksmith: refusing to roll back V3__holder_liveness: table `locks_audit_evidence` holds 1 audit record(s)' evidence\n\
         hint: export them first (`locksmith locks history --format json`), or pass --force to drop them\n";
    for args in [
        &["migrate", "down"][..],
        &["migrate", "down", "--dry-run"],
        &["migrate", "down", "--target", "2"],
    ] {
        db.locksmith(args).fails_with(4, refused);
    }
    assert_eq!(
        db.scalar("SELECT COUNT(*) FROM refinery_schema_history")
            .as_deref(),
        Some("3"),
        "nothing was rolled back"
    );
    assert!(has(&db, "locks_holders", None));

    db.locksmith(&["migrate", "down", "--force"])
        .succeeds_with("Rolled back V3__holder_liveness\nSchema is now at version 2.\n");
    assert!(!has(&db, "locks_holders", None));
    assert!(!has(&db, "locks_audit_evidence", None));
    assert!(has(&db, "locks_audit", None));
    db.locksmith(&["migrate", "up", "--dry-run"])
        .succeeds_with(V3_PLAN);
    db.locksmith(&["migrate", "status"])
        .succeeds_like(&status_table(&[
            "1 locks_create_table applied <TIME>",
            "2 locks_audit_create_table applied <TIME>",
            "3 holder_liveness pending -",
        ]));

    // The trail reads on without the evidence table, its record whole.
    let record =
        "1 <TIME> <ME> (<USER>@%) release-dead platform 2 -> 3: released backup (held by gone:1)";
    db.locksmith(&["locks", "history"])
        .succeeds_like(&history_table(&[record]));
    db.locksmith(&["locks", "history", "platform"])
        .succeeds_like(&history_table(&[record]));
    let doc: locksmith::cli::output::HistoryDoc = db
        .locksmith(&["locks", "history", "--format", "json"])
        .success_json();
    assert_eq!(doc.records.len(), 1);
    assert!(doc.records[0].evidence.is_none());
    // Locks are taken and released without the registry (said once), and
    // dump calls every holder unknown.
    let r = db.locksmith(&["locks", "acquire", "platform", "update", "--holder", "u"]);
    assert_eq!(r.code, 0, "{r:#?}");
    r.no_stdout().stderr_is(
        "locksmith: warning: the holder is not registered, so others cannot tell whether it is alive: the holder registry (table `locks_holders`) is not there, or this account may not write it; `locksmith migrate up` creates it\n",
    );
    let r = db.locksmith(&["locks", "dump"]);
    assert_eq!(r.code, 0, "{r:#?}");
    r.stderr_is("locksmith: note: the holder registry (table `locks_holders`) is not there or this account may not read it, so every holder's liveness is unknown; `locksmith migrate up` creates it\n")
        .stdout_like(&dump_table(&[
            "platform update u unknown: not registered by locksmith 4",
        ]));
    db.locksmith(&["locks", "release", "platform", "update", "--holder", "u"])
        .succeeds_with("");

    db.locksmith(&["migrate", "up"])
        .succeeds_with("Applied V3__holder_liveness\nSchema is now at version 3.\n");
    db.locksmith(&["migrate", "status"])
        .succeeds_like(STATUS_APPLIED);
    assert!(has(&db, "locks_holders", None));
    assert!(has(&db, "locks_audit_evidence", None));
    db.locksmith(&["locks", "history"])
        .succeeds_like(&history_table(&[record]));

    // No evidence recorded: V3 goes without --force.
    let db = TestDb::migrated();
    db.locksmith(&["migrate", "down"])
        .succeeds_with("Rolled back V3__holder_liveness\nSchema is now at version 2.\n");
    assert!(!has(&db, "locks_holders", None));
    assert!(!has(&db, "locks_audit_evidence", None));
}
