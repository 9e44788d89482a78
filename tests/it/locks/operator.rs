//! Operator changes: force-release by name and by holder, bump, the audit
//! record (never the password), the prompt on a terminal, and no change
//! without its record.

use super::*;

#[test]
fn force_release_by_name_with_dry_run_and_expect_version() {
    let db = TestDb::migrated();
    seed(&db);
    db.locksmith(&["locks", "force-release", "platform", "app_a", "--dry-run"])
        .succeeds_with("row `platform`: version 1 -> 2 (planned)\nrelease app_a (held by task-1)\n2 lock(s) remain\nDry run: nothing was changed.\n");
    assert_eq!(db.version("platform"), 1);
    db.locksmith(&[
        "locks",
        "force-release",
        "platform",
        "app_a",
        "--expect-version",
        "7",
        "--yes",
    ])
    .fails_with(4, "locksmith: row `platform` is at version 1, not the expected 7; nothing was changed\nhint: look again with `locksmith locks dump platform`\n");
    db.locksmith(&["locks", "force-release", "platform", "app_a", "update", "--expect-version", "1", "--yes"])
        .succeeds_with("row `platform`: version 1 -> 2\nreleased app_a (held by task-1)\nreleased update (held by {\"task\":3})\n1 lock(s) remain\n");
    assert_eq!(
        db.data("platform").as_deref(),
        Some(r#"{"app_b":"task-2"}"#)
    );
    db.locksmith(&["locks", "force-release", "platform", "app_a", "--yes"])
        .fails_with(5, "locksmith: lock `app_a` is not held in row `platform`\n");
    db.locksmith(&["locks", "force-release", "ghost", "app_a", "--yes"])
        .fails_with(5, "locksmith: lock row `ghost` does not exist\n");
    // Without a terminal and without --yes: refuse, change nothing.
    db.locksmith(&["locks", "force-release", "platform", "app_b"])
        .fails_with(2, "locksmith: refusing to go on without confirmation: stdin is not a terminal; pass --yes (or --dry-run to look first)\n");
    assert_eq!(db.version("platform"), 2);
    // Nothing to say what to release is a usage error.
    let r = db.locksmith(&["locks", "force-release", "platform"]);
    assert_eq!(r.code, 2, "{r:#?}");
}

#[test]
fn force_release_by_holder_and_bump() {
    let db = TestDb::migrated();
    db.sql(r#"INSERT INTO locks (id, dataJson) VALUES ('platform', '{"a":"t1","b":"t2","c":"t1","d":42}')"#);
    db.locksmith(&["locks", "force-release", "platform", "--holder", "t1", "--yes"])
        .succeeds_with("row `platform`: version 1 -> 2\nreleased a (held by t1)\nreleased c (held by t1)\n2 lock(s) remain\n");
    db.locksmith(&[
        "locks",
        "force-release",
        "platform",
        "--holder",
        "42",
        "--yes",
    ])
    .succeeds_with("row `platform`: version 2 -> 3\nreleased d (held by 42)\n1 lock(s) remain\n");
    assert_eq!(db.data("platform").as_deref(), Some(r#"{"b":"t2"}"#));
    db.locksmith(&[
        "locks",
        "force-release",
        "platform",
        "--holder",
        "nobody",
        "--yes",
    ])
    .fails_with(
        5,
        "locksmith: lock `(any lock held by nobody)` is not held in row `platform`\n",
    );

    db.locksmith(&["locks", "bump", "platform", "--by", "5", "--dry-run"])
        .succeeds_with("row `platform`: version 3 -> 8 (planned)\nlocks untouched\n1 lock(s) remain\nDry run: nothing was changed.\n");
    db.locksmith(&[
        "locks",
        "bump",
        "platform",
        "--by",
        "5",
        "--yes",
        "--expect-version",
        "3",
    ])
    .succeeds_with("row `platform`: version 3 -> 8\nlocks untouched\n1 lock(s) remain\n");
    assert_eq!(db.version("platform"), 8);
    assert_eq!(db.data("platform").as_deref(), Some(r#"{"b":"t2"}"#));
    db.locksmith(&[
        "locks",
        "bump",
        "platform",
        "--yes",
        "--expect-version",
        "3",
    ])
    .fails_with(4, "locksmith: row `platform` is at version 8, not the expected 3; nothing was changed\nhint: look again with `locksmith locks dump platform`\n");
    db.locksmith(&["locks", "bump", "platform", "--by", "0", "--yes"])
        .fails_with(2, "locksmith: invalid value '0' for '--by <N>': 0 is not in 1..=2147483647\n\nFor more information, try '--help'.\n");
    // The version is an INT: a bump past its maximum would break every
    // later CAS on the row, so it is refused before anything is written.
    db.locksmith(&["locks", "bump", "platform", "--by", "2147483640", "--yes"])
        .fails_with(2, "locksmith: bumping row `platform` (version 8) by 2147483640 would take its version past 2147483647, the most the INT column holds; nothing was changed\n");
    assert_eq!(db.version("platform"), 8);

    // The history holds exactly these changes, with who and what.
    let doc: HistoryDoc = db
        .locksmith(&["locks", "history", "--format", "json"])
        .success_json();
    let summary: Vec<(&str, Option<i64>, Option<i64>, usize)> = doc
        .records
        .iter()
        .map(|r: &AuditRecord| {
            (
                r.action.as_str(),
                r.version_before,
                r.version_after,
                r.removed_locks().len(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("release-by-holder", Some(1), Some(2), 2),
            ("release-by-holder", Some(2), Some(3), 1),
            ("bump", Some(3), Some(8), 0)
        ]
    );
    let first = &doc.records[0];
    assert_eq!(first.db_user, format!("{}@%", user()));
    assert!(first.os_user.contains('@'), "{first:?}");
    assert_eq!(
        first.command,
        "locksmith locks force-release platform --holder t1 --yes"
    );
    assert!(first.at.ends_with('Z'));
    db.locksmith(&["locks", "history"])
        .succeeds_like(&history_table(&[
            "1 <TIME> <ME> (<USER>@%) release-by-holder platform 1 -> 2: released a (held by t1)",
            "released c (held by t1)",
            "2 <TIME> <ME> (<USER>@%) release-by-holder platform 2 -> 3: released d (held by 42)",
            "3 <TIME> <ME> (<USER>@%) bump platform 3 -> 8: version only",
        ]));
    let doc: HistoryDoc = db
        .locksmith(&["locks", "history", "--format", "json", "elsewhere"])
        .success_json();
    assert!(doc.records.is_empty());
}

#[test]
fn the_audit_record_never_holds_the_password() {
    let db = TestDb::migrated();
    seed(&db);
    let url = db.url();
    db.locksmith(&[
        "locks",
        "force-release",
        "--url",
        &url,
        "platform",
        "app_a",
        "--yes",
    ])
    .succeeds_with(
        "row `platform`: version 1 -> 2\nreleased app_a (held by task-1)\n2 lock(s) remain\n",
    );
    let cmd = db.scalar("SELECT command FROM locks_audit").unwrap();
    assert_eq!(cmd, "locksmith locks force-release platform app_a --yes");
}

#[test]
fn prompt_on_a_terminal() {
    let db = TestDb::migrated();
    seed(&db);
    // `script` gives locksmith a real pseudo-terminal; our stdin feeds it.
    let on_tty = |args: &str, answer: &str| -> Run {
        let mut child = db.spawn_on_tty(args);
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(answer.as_bytes()).unwrap();
        let out = child.wait_with_output().unwrap();
        drop(stdin);
        Run::from(out)
    };
    let r = on_tty("locks force-release platform app_a", "n\n");
    assert_eq!(r.code, 1, "{r:#?}");
    assert!(
        r.stdout.contains("release app_a (held by task-1)") && r.stdout.contains("Proceed? [y/N]"),
        "{r:#?}"
    );
    assert!(r.stdout.contains("aborted: nothing was changed"), "{r:#?}");
    assert_eq!(db.version("platform"), 1);
    let r = on_tty("locks force-release platform app_a", "y\n");
    assert_eq!(r.code, 0, "{r:#?}");
    assert!(
        r.stdout.contains("released app_a (held by task-1)"),
        "{r:#?}"
    );
    assert_eq!(db.version("platform"), 2);
    assert_eq!(
        db.scalar("SELECT COUNT(*) FROM locks_audit").as_deref(),
        Some("1")
    );
}

#[test]
fn no_change_goes_unrecorded() {
    // Schema at V1 only: there is no audit table to record a change in.
    let db = TestDb::new();
    db.locksmith(&["migrate", "up", "--target", "1"])
        .succeeds_with("Applied V1__locks_create_table\nSchema is now at version 1.\n");
    seed(&db);
    let no_audit =
        "locksmith: table `locks_audit` does not exist\nhint: run `locksmith migrate up` first\n";
    db.locksmith(&["locks", "force-release", "platform", "app_a", "--yes"])
        .fails_with(5, no_audit);
    db.locksmith(&["locks", "bump", "platform", "--yes"])
        .fails_with(5, no_audit);
    assert_eq!(
        db.version("platform"),
        1,
        "the change was rolled back with its record"
    );
    assert!(db.data("platform").unwrap().contains("app_a"));
}
