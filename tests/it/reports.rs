//! A migration run that changed the schema, and whose report cannot be
//! written (a full disk behind stdout), says on stderr what it changed and
//! exits 0: the change stands, and a script that took exit 1 for "nothing
//! happened" would run it again. Dry runs and runs that changed nothing
//! still fail as any listing does.

use crate::harness::*;
use std::process::{Command, Stdio};

/// Runs `locksmith ARGS` with stdout going to /dev/full.
fn to_full(db: &TestDb, args: &[&str]) -> Run {
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .unwrap();
    let mut cmd: Command = db.command(args);
    cmd.stdin(Stdio::null()).stdout(full).stderr(Stdio::piped());
    Run::from(cmd.output().unwrap())
}

const FULL: &str = "No space left on device (os error 28)";

fn made(lines: &[&str]) -> String {
    let mut s = format!("locksmith: cannot write to stdout: {FULL}; the change was made:\n");
    for l in lines {
        s.push_str(&format!("locksmith:   {l}\n"));
    }
    s
}

fn history(db: &TestDb) -> Vec<Vec<Option<String>>> {
    db.rows("SELECT version FROM refinery_schema_history ORDER BY version")
}

#[test]
fn a_migration_run_whose_report_fails_says_what_it_changed() {
    let db = TestDb::new();
    let up = [
        "Applied V1__locks_create_table",
        "Applied V2__locks_audit_create_table",
        "Applied V3__holder_liveness",
        "Schema is now at version 3.",
    ];
    for args in [
        &["migrate", "up"][..],
        &["migrate", "up", "--format", "json"][..],
    ] {
        let r = to_full(&db, args);
        assert_eq!(
            (r.code, r.stderr.as_str()),
            (0, made(&up).as_str()),
            "{args:?}"
        );
        assert_eq!(history(&db).len(), 3, "{args:?}: applied");
        let r = db.locksmith(&["migrate", "down", "--all"]);
        assert_eq!((r.code, r.stderr.as_str()), (0, ""), "{r:#?}");
    }
    // Nothing to do, or only a plan: the failure to print is the failure.
    let r = db.locksmith(&["migrate", "up"]);
    assert_eq!((r.code, r.stderr.as_str()), (0, ""), "{r:#?}");
    for args in [
        &["migrate", "up"][..],
        &["migrate", "down", "--dry-run"][..],
    ] {
        let r = to_full(&db, args);
        assert_eq!(
            (r.code, r.stderr.as_str()),
            (1, format!("locksmith: {FULL}\n").as_str()),
            "{args:?}"
        );
    }
    let r = to_full(&db, &["migrate", "down"]);
    assert_eq!(
        (r.code, r.stderr.as_str()),
        (
            0,
            made(&[
                "Rolled back V3__holder_liveness",
                "Schema is now at version 2.",
            ])
            .as_str()
        )
    );
    assert_eq!(
        history(&db),
        [[Some("1".to_string())], [Some("2".to_string())]]
    );
}
