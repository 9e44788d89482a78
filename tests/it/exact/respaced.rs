//! A confirmed operator plan matches holders by meaning: another writer that
//! only re-spaces a holder (or reorders the keys inside it, or spells a
//! number otherwise) between the plan and the write does not stop it, a
//! holder that really changed does, and `--expect-version` stays a strict
//! pin. Through the library, and through the prompt on a terminal.

use super::*;
use locksmith::locks::{AuditInfo, Change, Edit, Version, WriteOpts};
use locksmith::Kind;

/// `backup` held by a Cloudron-style task, beside a lock of locksmith's.
const HELD: &str = r#"{"backup":{"taskId":"18","pid":3},"other":"x"}"#;

/// Another writer rewrites a row (params: text, id), moving its version on.
const REWRITE: &str = "UPDATE locks SET dataJson = ?, version = version + 1 WHERE id = ?";

fn rewrite(db: &TestDb, row: &str, text: &str) {
    db.exec(REWRITE, (text.to_string(), row.to_string()));
}

fn put(db: &TestDb, row: &str, text: &str) {
    db.exec(
        "INSERT INTO locks (id, dataJson, version) VALUES (?, ?, 1)",
        (row.to_string(), text.to_string()),
    );
}

fn audited(action: &str) -> WriteOpts {
    WriteOpts {
        audit: Some(AuditInfo::new(action, "tests/it/exact/respaced.rs".into())),
        ..WriteOpts::default()
    }
}

fn pinned(action: &str, v: i64) -> WriteOpts {
    WriteOpts {
        expect_version: Some(v),
        ..audited(action)
    }
}

/// The removed locks of a change, as stored: (key text, holder text).
fn removed(c: &Change) -> Vec<(String, String)> {
    c.removed
        .iter()
        .map(|e| (e.key_text().to_string(), e.holder().get().to_string()))
        .collect()
}

fn audit_count(db: &TestDb, row: &str) -> usize {
    db.scalar(&format!(
        "SELECT COUNT(*) FROM locks_audit WHERE rowId = '{row}'"
    ))
    .unwrap()
    .parse()
    .unwrap()
}

/// Plans `edit` on `row` (pinned to a version when `opts` pins one), lets
/// another writer rewrite the row as `meanwhile`, then carries the plan out
/// with `opts`. Returns the plan and what carrying it out came to.
fn plan_then_rewrite(
    db: &TestDb,
    row: &str,
    edit: &Edit,
    meanwhile: &str,
    opts: WriteOpts,
) -> (Change, locksmith::Result<Change>) {
    let url = DbUrl::parse(&db.url()).unwrap();
    block(async {
        let t = LockTable::connect(&url).await.unwrap();
        let plan = t
            .plan(row, edit, opts.expect_version)
            .await
            .unwrap_or_else(|e| panic!("plan {edit:?} on {row}: {e}"));
        {
            use mysql_async::prelude::Queryable;
            let mut c = mysql_async::Conn::from_url(db.url()).await.unwrap();
            c.exec_drop(REWRITE, (meanwhile, row)).await.unwrap();
            c.disconnect().await.unwrap();
        }
        let done = t.carry_out(&plan, edit, &opts).await;
        t.disconnect().await.unwrap();
        (plan, done)
    })
}

#[test]
fn a_planned_force_release_goes_through_when_the_holder_was_only_respelled() {
    let db = TestDb::migrated();
    let backup = || Edit::Names(vec!["backup".into()]);
    let mut failed = Vec::new();
    // The same holder, as other writers may spell it.
    for (i, (what, holder)) in [
        ("rewritten as it was", r#"{"taskId":"18","pid":3}"#),
        ("re-spaced", r#"{"taskId": "18", "pid": 3}"#),
        (
            "re-spaced over lines",
            "{\n  \"taskId\" : \"18\",\n  \"pid\" : 3\n}",
        ),
        ("its keys reordered", r#"{"pid":3,"taskId":"18"}"#),
        ("its number spelled 3.0", r#"{"taskId":"18","pid":3.0}"#),
        ("its number spelled 3E0", r#"{ "taskId":"18", "pid":3E0 }"#),
    ]
    .into_iter()
    .enumerate()
    {
        let row = format!("r{i}");
        put(&db, &row, HELD);
        let meanwhile = format!(r#"{{"backup":{holder},"other":"x"}}"#);
        let (plan, done) =
            plan_then_rewrite(&db, &row, &backup(), &meanwhile, audited("force-release"));
        assert_eq!(
            removed(&plan),
            [(r#""backup""#.into(), r#"{"taskId":"18","pid":3}"#.into())]
        );
        let done = match done {
            Ok(done) => done,
            Err(e) => {
                failed.push(format!("holder {what}: {e}"));
                assert_eq!(
                    (db.data(&row).as_deref(), db.version(&row)),
                    (Some(meanwhile.as_str()), 2),
                    "a failed write changed nothing"
                );
                continue;
            }
        };
        // What was removed is what was stored when it was removed.
        assert_eq!(
            (
                done.version_before.clone(),
                done.version_after,
                removed(&done)
            ),
            (
                Version::Number(2),
                3,
                vec![(r#""backup""#.into(), holder.to_string())]
            ),
            "{what}"
        );
        assert_eq!(
            (db.data(&row).as_deref(), db.version(&row)),
            (Some(r#"{"other":"x"}"#), 3),
            "{what}"
        );
        let record: Vec<Vec<Option<String>>> = db.rows(&format!(
            "SELECT action, versionBefore, versionAfter, removedJson FROM locks_audit WHERE rowId = '{row}'"
        ));
        assert_eq!(
            record,
            [[
                Some("force-release".to_string()),
                Some("2".into()),
                Some("3".into()),
                Some(format!(r#"{{"backup":{holder}}}"#))
            ]],
            "{what}"
        );
    }
    assert!(
        failed.is_empty(),
        "plans whose holder was only respelled between the plan and the write failed:\n{}",
        failed.join("\n")
    );

    // A holder that really changed stops it: nothing written, no record.
    put(&db, "moved", HELD);
    let other = r#"{"backup":{"taskId":"18","pid":4},"other":"x"}"#;
    let (_, done) = plan_then_rewrite(&db, "moved", &backup(), other, audited("force-release"));
    let e = done.expect_err("the holder changed between the plan and the write");
    assert!(matches!(e.kind(), Kind::VersionMoved { .. }), "{e}");
    assert_eq!(
        e.to_string(),
        "row `moved` is at version 2, not the expected 1; nothing was changed"
    );
    assert_eq!(
        (db.data("moved").as_deref(), db.version("moved")),
        (Some(other), 2)
    );
    assert_eq!(audit_count(&db, "moved"), 0);
}

#[test]
fn a_planned_bump_goes_through_a_respacing_and_a_pinned_plan_does_not() {
    let db = TestDb::migrated();
    let spaced = r#"{"backup":{"taskId": "18", "pid": 3},"other":"x"}"#;
    put(&db, "b", HELD);
    let (_, done) = plan_then_rewrite(&db, "b", &Edit::Bump(1), spaced, audited("bump"));
    let done = done.unwrap_or_else(|e| panic!("a bump planned before a re-spacing: {e}"));
    assert_eq!(
        (done.version_before, done.version_after),
        (Version::Number(2), 3)
    );
    // A bump touches no byte of the data.
    assert_eq!(
        (db.data("b").as_deref(), db.version("b")),
        (Some(spaced), 3)
    );
    assert_eq!(audit_count(&db, "b"), 1);

    // Pinned to the version planned from: the re-spacing moved it, so both
    // fail and change nothing.
    for (row, edit, action) in [
        ("pf", Edit::Names(vec!["backup".into()]), "force-release"),
        ("pb", Edit::Bump(1), "bump"),
    ] {
        put(&db, row, HELD);
        let (_, done) = plan_then_rewrite(&db, row, &edit, spaced, pinned(action, 1));
        let e = done.expect_err("--expect-version is a strict pin");
        assert!(matches!(e.kind(), Kind::VersionMoved { .. }), "{e}");
        assert_eq!(
            e.to_string(),
            format!("row `{row}` is at version 2, not the expected 1; nothing was changed")
        );
        assert_eq!(
            (db.data(row).as_deref(), db.version(row)),
            (Some(spaced), 2)
        );
        assert_eq!(audit_count(&db, row), 0);
    }
}

/// Runs `locksmith ARGS` on a terminal; once it asks, runs `meanwhile`,
/// then answers `y`.
fn confirm_after(db: &TestDb, args: &str, meanwhile: impl FnOnce()) -> (i32, String) {
    db.answer_prompt(args, "y", meanwhile)
}

#[test]
fn on_a_terminal_a_respacing_while_the_operator_reads_the_plan() {
    let db = TestDb::migrated();
    let spaced = r#"{"backup":{"taskId": "18", "pid": 3},"other":"x"}"#;
    for row in ["f", "b", "pf", "pb"] {
        put(&db, row, HELD);
    }
    let plan = |row: &str, what: &str| {
        format!("row `{row}`: version 1 -> 2 (planned)\n{what}\nProceed? [y/N] y\n")
    };

    let got = confirm_after(&db, "locks force-release f backup", || {
        rewrite(&db, "f", spaced)
    });
    assert_eq!(
        got,
        (
            0,
            format!(
                "{}row `f`: version 2 -> 3\nreleased backup (held by {{\"taskId\": \"18\", \"pid\": 3}})\n1 lock(s) remain\n",
                plan(
                    "f",
                    "release backup (held by {\"taskId\":\"18\",\"pid\":3})\n1 lock(s) remain"
                )
            )
        ),
        "a force-release planned before a foreign re-spacing goes through"
    );
    assert_eq!(db.data("f").as_deref(), Some(r#"{"other":"x"}"#));

    let got = confirm_after(&db, "locks bump b", || rewrite(&db, "b", spaced));
    assert_eq!(
        got,
        (
            0,
            format!(
                "{}row `b`: version 2 -> 3\nlocks untouched\n2 lock(s) remain\n",
                plan("b", "locks untouched\n2 lock(s) remain")
            )
        ),
        "a bump planned before a foreign re-spacing goes through"
    );
    assert_eq!(
        (db.data("b").as_deref(), db.version("b")),
        (Some(spaced), 3)
    );

    // --expect-version stays a strict pin: exit 4, nothing changed.
    let moved = |row: &str| {
        format!(
            "locksmith: row `{row}` is at version 2, not the expected 1; nothing was changed\n\
             hint: look again with `locksmith locks dump {row}`\n"
        )
    };
    let got = confirm_after(
        &db,
        "locks force-release pf backup --expect-version 1",
        || rewrite(&db, "pf", spaced),
    );
    assert_eq!(
        got,
        (
            4,
            format!(
                "{}{}",
                plan(
                    "pf",
                    "release backup (held by {\"taskId\":\"18\",\"pid\":3})\n1 lock(s) remain"
                ),
                moved("pf")
            )
        )
    );
    let got = confirm_after(&db, "locks bump pb --expect-version 1", || {
        rewrite(&db, "pb", spaced)
    });
    assert_eq!(
        got,
        (
            4,
            format!(
                "{}{}",
                plan("pb", "locks untouched\n2 lock(s) remain"),
                moved("pb")
            )
        )
    );
    for row in ["pf", "pb"] {
        assert_eq!(
            (db.data(row).as_deref(), db.version(row)),
            (Some(spaced), 2)
        );
        assert_eq!(audit_count(&db, row), 0);
    }
    // One record for each change made, none for those refused.
    let doc: locksmith::cli::output::HistoryDoc = db
        .locksmith(&["locks", "history", "--format", "json"])
        .success_json();
    let records: Vec<(&str, &str)> = doc
        .records
        .iter()
        .map(|r| (r.row.as_str(), r.action.as_str()))
        .collect();
    assert_eq!(records, [("f", "force-release"), ("b", "bump")]);
}
