//! `--format json` on every command that changes something: one document
//! each, parsed into the crate's `deny_unknown_fields` structs, with what
//! was planned and what was done.

use crate::harness::*;
use locksmith::cli::output::docs::MigrationRef;
use locksmith::cli::output::{ChangeDoc, DownDoc, LockDoc, MarkDoc, UpDoc};

fn label(v: i32, name: &str) -> MigrationRef {
    MigrationRef {
        version: v,
        label: name.into(),
    }
}

#[test]
fn migrate_up_and_down_as_json() {
    let db = TestDb::new();
    let plan: UpDoc = db
        .locksmith(&["migrate", "up", "--dry-run", "--format", "json"])
        .success_json();
    assert!(plan.dry_run);
    // The planned version afterwards, not the one now.
    assert_eq!((plan.version_before, plan.version_after), (None, Some(3)));
    let planned: Vec<&str> = plan.steps.iter().map(|s| s.action.as_str()).collect();
    assert_eq!(planned, ["apply", "apply", "apply"]);
    let done: UpDoc = db
        .locksmith(&["migrate", "up", "--format", "json"])
        .success_json();
    assert!(!done.dry_run);
    assert_eq!((done.version_before, done.version_after), (None, Some(3)));
    assert_eq!(
        done.steps
            .iter()
            .map(|s| s.migration.clone())
            .collect::<Vec<_>>(),
        [
            label(1, "V1__locks_create_table"),
            label(2, "V2__locks_audit_create_table"),
            label(3, "V3__holder_liveness")
        ]
    );
    assert!(done.steps.iter().all(|s| s.state_before == "pending"));
    let noop: UpDoc = db
        .locksmith(&["migrate", "up", "--format", "json"])
        .success_json();
    assert!(noop.steps.is_empty());
    assert_eq!(
        (noop.version_before, noop.version_after),
        (Some(3), Some(3))
    );

    let down: DownDoc = db
        .locksmith(&["migrate", "down", "--format", "json"])
        .success_json();
    assert!(!down.dry_run);
    assert_eq!(
        (down.version_before, down.version_after),
        (Some(3), Some(2))
    );
    assert_eq!(down.rolled_back, [label(3, "V3__holder_liveness")]);
}

#[test]
fn mark_applied_as_json() {
    let db = TestDb::new();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("V1__t.sql"),
        "CREATE TABLE t_json (id INT);",
    )
    .unwrap();
    std::fs::write(dir.path().join("V1__t.down.sql"), "DROP TABLE t_json;").unwrap();
    let src = dir.path().to_str().unwrap();
    // Made by hand: mark-applied refuses a migration whose table is absent.
    db.sql("CREATE TABLE t_json (id INT)");
    let plan: MarkDoc = db
        .locksmith(&[
            "migrate",
            "mark-applied",
            "1",
            "--source",
            src,
            "--dry-run",
            "--format",
            "json",
        ])
        .success_json();
    assert!(plan.dry_run && !plan.audited, "no locks_audit to record in");
    assert_eq!(plan.migration, label(1, "V1__t"));
    assert_eq!(plan.state_before, "present-unrecorded");
    let done: MarkDoc = db
        .locksmith(&[
            "migrate",
            "mark-applied",
            "1",
            "--source",
            src,
            "--yes",
            "--format",
            "json",
        ])
        .success_json();
    assert!(!done.dry_run);
    assert_eq!(done.checksum, plan.checksum);
    assert_eq!(
        db.scalar("SELECT checksum FROM refinery_schema_history WHERE version = 1"),
        Some(done.checksum)
    );
}

#[test]
fn lock_changes_as_json() {
    let db = TestDb::migrated();
    let took: LockDoc = db
        .locksmith(&[
            "locks", "acquire", "platform", "backup", "--holder", "task-1", "--format", "json",
        ])
        .success_json();
    assert_eq!(
        took,
        LockDoc {
            action: "acquire".into(),
            row: "platform".into(),
            name: "backup".into(),
            holder: "task-1".into(),
            changed: true,
            // The row was created at version 1; the acquire took it to 2.
            fence: Some(2),
        }
    );
    let again: LockDoc = db
        .locksmith(&[
            "locks", "acquire", "platform", "backup", "--holder", "task-1", "--format", "json",
        ])
        .success_json();
    assert!(!again.changed, "held already");
    assert_eq!(again.fence, Some(2), "the row as found");
    db.sql(r#"UPDATE locks SET dataJson = JSON_INSERT(dataJson, '$.app', 'task-2') WHERE id = 'platform'"#);
    let version = db.version("platform");

    let plan: ChangeDoc = db
        .locksmith(&[
            "locks",
            "force-release",
            "platform",
            "backup",
            "--dry-run",
            "--format",
            "json",
        ])
        .success_json();
    assert!(plan.dry_run);
    assert_eq!(
        (plan.version_before, plan.version_after),
        (Some(version), version + 1)
    );
    assert_eq!(plan.removed.len(), 1);
    assert_eq!(plan.removed[0].name, "backup");
    assert_eq!(json(&plan.removed[0].holder), serde_json::json!("task-1"));
    assert_eq!(plan.remaining[0].name, "app");
    assert_eq!(db.version("platform"), version, "a dry run changes nothing");

    let done: ChangeDoc = db
        .locksmith(&[
            "locks",
            "force-release",
            "platform",
            "backup",
            "--yes",
            "--format",
            "json",
        ])
        .success_json();
    assert!(!done.dry_run);
    assert_eq!(done.action, "force-release");
    assert_eq!(db.version("platform"), version + 1);

    let bump: ChangeDoc = db
        .locksmith(&[
            "locks", "bump", "platform", "--by", "5", "--yes", "--format", "json",
        ])
        .success_json();
    assert_eq!(
        (bump.version_before, bump.version_after),
        (Some(version + 1), version + 6)
    );
    assert!(bump.removed.is_empty() && bump.remaining.len() == 1);

    db.sql("UPDATE locks SET version = NULL WHERE id = 'platform'");
    let repair: ChangeDoc = db
        .locksmith(&["locks", "repair", "platform", "--yes", "--format", "json"])
        .success_json();
    assert_eq!((repair.version_before, repair.version_after), (None, 1));
    assert_eq!(repair.repairs, ["version NULL starts over at 1"]);
    assert_eq!(
        repair.replaced_raw.as_deref(),
        db.data("platform").as_deref()
    );

    let released: LockDoc = db
        .locksmith(&[
            "locks", "release", "platform", "app", "--holder", "task-2", "--format", "json",
        ])
        .success_json();
    assert_eq!(
        (released.action.as_str(), released.changed),
        ("release", true)
    );
    // MariaDB's JSON_INSERT above spaced the row out; locksmith removed
    // only the entries, and left that writer's spaces where they were.
    assert_eq!(db.data("platform").as_deref(), Some("{ }"));
}
