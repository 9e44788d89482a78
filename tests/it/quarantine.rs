//! Tables an interrupted `migrate down` left renamed out of reach
//! (`locks_dropping_<tag>`, `locks_audit_dropping_<tag>`), as a `down`
//! killed between its rename and its drop leaves them, or as an older
//! locksmith left them behind: lock commands name them and the `RENAME`
//! that brings them back, `status` says what each holds, `up` brings back
//! what it can and refuses the rest, `down` refuses while one holds
//! something. Each case checks the exit status, stdout and stderr, the
//! tables before and after, and that the lock held before is held after
//! and never granted to anyone else.

use crate::harness::*;

/// Every table of the database (sorted), and the history's versions.
fn tables(db: &TestDb) -> (Vec<String>, Vec<String>) {
    let mut names: Vec<String> = db
        .rows("SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE()")
        .into_iter()
        .map(|r| r[0].clone().unwrap_or_default())
        .collect();
    names.sort();
    let history = db
        .rows("SELECT version FROM refinery_schema_history ORDER BY version")
        .into_iter()
        .map(|r| r[0].clone().unwrap_or_default())
        .collect();
    (names, history)
}

fn names(list: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = list.iter().map(|s| s.to_string()).collect();
    v.sort();
    v
}

const ALL: [&str; 6] = [
    "locks",
    "locks_audit",
    "locks_audit_evidence",
    "locks_holders",
    "locksmith_migrate",
    "refinery_schema_history",
];

/// A migrated database where A holds `backup` in row `plat`, and the audit
/// trail has one record (a force-release of another lock).
fn with_a_lock_and_a_record() -> TestDb {
    let db = TestDb::migrated();
    db.locksmith(&["locks", "acquire", "plat", "backup", "--holder", "A"])
        .success();
    db.locksmith(&["locks", "acquire", "plat", "other", "--holder", "X"])
        .success();
    db.locksmith(&["locks", "force-release", "plat", "other", "--yes"])
        .succeeds_with(
            "row `plat`: version 3 -> 4\nreleased other (held by X)\n1 lock(s) remain\n",
        );
    db
}

/// What `migrate status` says under its table (the table's states are
/// checked by the callers through `--format json` or `--check`).
fn notes(db: &TestDb) -> String {
    let mut notes = String::new();
    db.locksmith(&["migrate", "status"]).succeeds_where(|out| {
        let end = out.rfind("+\n").expect("a table") + 2;
        notes = out[end..].to_string();
    });
    notes
}

/// The lock held before is held, by A alone.
#[track_caller]
pub(crate) fn still_held_by_a(db: &TestDb) {
    assert_eq!(
        db.locks_held(),
        vec![(
            "plat".to_string(),
            "backup".to_string(),
            serde_json::json!("A")
        )]
    );
    let b = db.locksmith(&["locks", "acquire", "plat", "backup", "--holder", "B"]);
    b.fails(4);
    assert_eq!(
        b.stderr,
        "locksmith: lock `backup` in row `plat` is held by A\n"
    );
}

const LOCKS_GONE: &str = "locksmith: table `locks` does not exist: an interrupted `migrate down` left it renamed to `locks_dropping_0badc0de`\nhint: bring it back with: RENAME TABLE `locks_dropping_0badc0de` TO `locks`\n";

const AUDIT_GONE: &str = "locksmith: table `locks_audit` does not exist: an interrupted `migrate down` left it renamed to `locks_audit_dropping_0badc0de`\nhint: bring it back with: RENAME TABLE `locks_audit_dropping_0badc0de` TO `locks_audit`\n";

const V1_NOTE: &str = "V1__locks_create_table is missing:\n  table `locks` does not exist\n  `locks_dropping_0badc0de` is what an interrupted `migrate down` left of it, holding locks: plat: backup (held by A): RENAME TABLE `locks_dropping_0badc0de` TO `locks` brings it back\n  -> `locksmith migrate up` renames it back\n";

const V2_NOTE: &str = "V2__locks_audit_create_table is missing:\n  table `locks_audit` does not exist\n  `locks_audit_dropping_0badc0de` is what an interrupted `migrate down` left of it, holding 1 audit record(s): RENAME TABLE `locks_audit_dropping_0badc0de` TO `locks_audit` brings it back\n  -> `locksmith migrate up` renames it back\n";

const V1_UP: &str = "Restored V1__locks_create_table: renamed back what an interrupted `migrate down` left (`locks_dropping_0badc0de` is `locks` again, holding locks: plat: backup (held by A))\n";

const V2_UP: &str = "Restored V2__locks_audit_create_table: renamed back what an interrupted `migrate down` left (`locks_audit_dropping_0badc0de` is `locks_audit` again, holding 1 audit record(s))\n";

const REFUSE_LOCKS: &str = "`locks_dropping_0badc0de`, what an interrupted `migrate down` left of `locks`, still holds locks: plat: backup (held by A)";

const REFUSE_AUDIT: &str = "`locks_audit_dropping_0badc0de`, what an interrupted `migrate down` left of `locks_audit`, still holds 1 audit record(s)";

const HINT_LOCKS: &str = "hint: bring it back with: RENAME TABLE `locks_dropping_0badc0de` TO `locks` (`locksmith migrate up` does too), and release its locks first; or pass --force to drop it";

const HINT_AUDIT: &str = "hint: bring it back with: RENAME TABLE `locks_audit_dropping_0badc0de` TO `locks_audit` (`locksmith migrate up` does too), and export its records (`locksmith locks history --format json`) first; or pass --force to drop it";

/// One table, the other, or both, renamed away as a cut-off `down` leaves
/// them: lock commands say so (with the RENAME), `status` says what each
/// holds, `down` refuses, and `up` (or the hint's RENAME) brings each
/// back with everything in it.
#[test]
fn a_quarantined_table_is_named_by_lock_commands_and_brought_back_by_up() {
    struct Case {
        renamed: &'static [&'static str],
        /// What `locks acquire … --holder B` says before.
        acquire: (i32, &'static str),
        /// What `locks history` says before.
        history: (i32, String),
        notes: String,
        down: String,
        up: String,
    }
    let cases = [
        Case {
            renamed: &["locks"],
            acquire: (5, LOCKS_GONE),
            history: (5, LOCKS_GONE.into()),
            notes: V1_NOTE.into(),
            down: format!("locksmith: refusing to roll back: {REFUSE_LOCKS}\n{HINT_LOCKS}\n"),
            up: format!("{V1_UP}Schema is now at version 3.\n"),
        },
        Case {
            renamed: &["locks_audit"],
            acquire: (4, "locksmith: lock `backup` in row `plat` is held by A\n"),
            history: (5, AUDIT_GONE.into()),
            notes: V2_NOTE.into(),
            down: format!("locksmith: refusing to roll back: {REFUSE_AUDIT}\n{HINT_AUDIT}\n"),
            up: format!("{V2_UP}Schema is now at version 3.\n"),
        },
        Case {
            renamed: &["locks", "locks_audit"],
            acquire: (5, LOCKS_GONE),
            history: (5, LOCKS_GONE.into()),
            notes: format!("{V1_NOTE}{V2_NOTE}"),
            down: format!(
                "locksmith: refusing to roll back: {REFUSE_AUDIT}; {REFUSE_LOCKS}\n{HINT_AUDIT}\n{HINT_LOCKS}\n"
            ),
            up: format!("{V1_UP}{V2_UP}Schema is now at version 3.\n"),
        },
    ];
    for case in cases {
        let db = with_a_lock_and_a_record();
        for t in case.renamed {
            db.sql(&format!("RENAME TABLE {t} TO {t}_dropping_0badc0de"));
        }
        let mut before: Vec<String> = ALL
            .iter()
            .map(|t| match case.renamed.contains(t) {
                true => format!("{t}_dropping_0badc0de"),
                false => t.to_string(),
            })
            .collect();
        before.sort();
        let before = (before, vec!["1".to_string(), "2".into(), "3".into()]);
        assert_eq!(tables(&db), before);

        let r = db.locksmith(&["locks", "acquire", "plat", "backup", "--holder", "B"]);
        r.fails(case.acquire.0);
        assert_eq!(r.stderr, case.acquire.1, "{:?}", case.renamed);
        let r = db.locksmith(&["locks", "history"]);
        r.fails(case.history.0);
        assert_eq!(r.stderr, case.history.1, "{:?}", case.renamed);
        assert_eq!(notes(&db), case.notes, "{:?}", case.renamed);
        // Nothing to check off against: every migration is still applied,
        // but `--check` says what is off.
        db.locksmith(&["migrate", "status", "--check"])
            .fails_with_output(6);

        for args in [&["migrate", "down", "--all"][..], &["migrate", "down"]] {
            let r = db.locksmith(args);
            r.fails(4);
            assert_eq!(r.stderr, case.down, "{:?} {args:?}", case.renamed);
        }
        assert_eq!(tables(&db), before, "a refusal changes nothing");

        db.locksmith(&["migrate", "up"]).succeeds_with(&case.up);
        assert_eq!(
            tables(&db),
            (names(&ALL), vec!["1".into(), "2".into(), "3".into()])
        );
        still_held_by_a(&db);
        db.locksmith(&["locks", "history"])
            .succeeds_like(&history_table(&[
                "1 <TIME> <ME> (<USER>@%) force-release plat 3 -> 4: released other (held by X)",
            ]));
        db.locksmith(&["migrate", "status", "--check"])
            .succeeds_like(STATUS_APPLIED);
        db.locksmith(&["migrate", "up"]).succeeds_with(UP_NOOP);
    }
}

/// What `up` says when it cannot tell which copy to bring back, or must
/// not go on; nothing changes, and following the hint (the RENAME the
/// message gives) brings back the table with its lock.
#[test]
fn up_refuses_copies_it_cannot_bring_back_and_the_hint_does() {
    struct Case {
        what: &'static str,
        /// SQL that leaves the state (after `locks` holds A's lock).
        setup: &'static str,
        /// What lock commands say, exit status and stderr.
        lock: (i32, &'static str),
        /// What `status` says under its table.
        notes: &'static str,
        /// What `up` says (exit 1).
        up: &'static str,
        /// The operator's way out, from the messages above.
        fix: &'static str,
        /// The tables afterwards, beside locks_audit, locks_audit_evidence, locks_holders,
        /// locksmith_migrate and the history.
        after: &'static [&'static str],
    }
    let cases = [
        Case {
            what: "two copies",
            setup: "RENAME TABLE locks TO locks_dropping_0badc0de; \
                    CREATE TABLE locks_dropping_1badc0de LIKE locks_dropping_0badc0de",
            lock: (
                5,
                "locksmith: table `locks` does not exist: interrupted `migrate down` runs left it renamed, as `locks_dropping_0badc0de` and `locks_dropping_1badc0de`\n\
                 hint: bring back the one that holds the locks in use (`locksmith migrate status` shows what each holds) with one of: RENAME TABLE `locks_dropping_0badc0de` TO `locks`; RENAME TABLE `locks_dropping_1badc0de` TO `locks`\n",
            ),
            notes: "V1__locks_create_table is missing:\n  table `locks` does not exist\n  \
                    `locks_dropping_0badc0de` is what an interrupted `migrate down` left of it, holding locks: plat: backup (held by A): RENAME TABLE `locks_dropping_0badc0de` TO `locks` brings it back\n  \
                    `locks_dropping_1badc0de` is what an interrupted `migrate down` left of it, holding no lock (0 row(s)): RENAME TABLE `locks_dropping_1badc0de` TO `locks` brings it back\n  \
                    there are 2 such copies of `locks`: rename back the one to keep, and drop the others once nothing in them is needed\n  \
                    -> `locksmith migrate up` refuses to go on: rename back the copy to keep\n",
            up: "locksmith: the database does not match this locksmith's migrations; nothing was changed:\n  \
                 V1__locks_create_table has its table renamed away by an interrupted `migrate down`, and `up` cannot tell which copy to bring back\n    \
                 table `locks` does not exist\n    \
                 `locks_dropping_0badc0de` is what an interrupted `migrate down` left of it, holding locks: plat: backup (held by A): RENAME TABLE `locks_dropping_0badc0de` TO `locks` brings it back\n    \
                 `locks_dropping_1badc0de` is what an interrupted `migrate down` left of it, holding no lock (0 row(s)): RENAME TABLE `locks_dropping_1badc0de` TO `locks` brings it back\n    \
                 there are 2 such copies of `locks`: rename back the one to keep, and drop the others once nothing in them is needed\n\
                 hint: rename back the copy to keep (its RENAME TABLE is above), then run `up` again\n",
            fix: "RENAME TABLE `locks_dropping_0badc0de` TO `locks`; DROP TABLE `locks_dropping_1badc0de`",
            after: &["locks"],
        },
        Case {
            what: "a drifted copy",
            setup: "RENAME TABLE locks TO locks_dropping_0badc0de; \
                    ALTER TABLE locks_dropping_0badc0de ADD COLUMN note INT",
            lock: (5, LOCKS_GONE),
            notes: "V1__locks_create_table is missing:\n  table `locks` does not exist\n  \
                    `locks_dropping_0badc0de` is what an interrupted `migrate down` left of it, holding locks: plat: backup (held by A): RENAME TABLE `locks_dropping_0badc0de` TO `locks` brings it back\n  \
                    `locks_dropping_0badc0de` differs from what this migration makes: table `locks_dropping_0badc0de` has a column `note` its migration does not make\n  \
                    -> `locksmith migrate up` refuses to go on: rename back the copy to keep\n",
            up: "locksmith: the database does not match this locksmith's migrations; nothing was changed:\n  \
                 V1__locks_create_table has its table renamed away by an interrupted `migrate down`, and `up` cannot tell which copy to bring back\n    \
                 table `locks` does not exist\n    \
                 `locks_dropping_0badc0de` is what an interrupted `migrate down` left of it, holding locks: plat: backup (held by A): RENAME TABLE `locks_dropping_0badc0de` TO `locks` brings it back\n    \
                 `locks_dropping_0badc0de` differs from what this migration makes: table `locks_dropping_0badc0de` has a column `note` its migration does not make\n\
                 hint: rename back the copy to keep (its RENAME TABLE is above), then run `up` again\n",
            fix: "RENAME TABLE `locks_dropping_0badc0de` TO `locks`",
            after: &["locks"],
        },
        Case {
            what: "a copy holding locks beside a new, empty table (an older `up`)",
            setup: "RENAME TABLE locks TO locks_dropping_0badc0de; \
                    CREATE TABLE locks LIKE locks_dropping_0badc0de",
            lock: (
                1,
                "locksmith: refusing to use table `locks`: `locks_dropping_0badc0de`, left by an interrupted `migrate down`, still holds locks beside it, and a lock held there could be granted again here\n\
                 hint: `locksmith migrate status` says how to swap a copy back in; or release what it holds and DROP TABLE it\n",
            ),
            notes: "V1__locks_create_table is stranded:\n  \
                    `locks_dropping_0badc0de`, left by an interrupted `migrate down`, is there beside `locks` and still holds locks: plat: backup (held by A), which lock commands do not see: RENAME TABLE `locks` TO `locks_replaced_0badc0de`, `locks_dropping_0badc0de` TO `locks` swaps it back in (keeping the other as `locks_replaced_0badc0de`)\n  \
                    -> `locksmith migrate up` refuses to go on, and `locksmith migrate down` refuses to drop it: decide which table to keep\n",
            up: "locksmith: the database does not match this locksmith's migrations; nothing was changed:\n  \
                 V1__locks_create_table has a copy of its table, left by an interrupted `migrate down`, that still holds something\n    \
                 `locks_dropping_0badc0de`, left by an interrupted `migrate down`, is there beside `locks` and still holds locks: plat: backup (held by A), which lock commands do not see: RENAME TABLE `locks` TO `locks_replaced_0badc0de`, `locks_dropping_0badc0de` TO `locks` swaps it back in (keeping the other as `locks_replaced_0badc0de`)\n\
                 hint: decide which table holds the locks in use: swap the copy back in (the RENAME above), or release what it holds and DROP TABLE it\n",
            fix: "RENAME TABLE `locks` TO `locks_replaced_0badc0de`, `locks_dropping_0badc0de` TO `locks`",
            after: &["locks", "locks_replaced_0badc0de"],
        },
    ];
    for case in cases {
        let db = TestDb::migrated();
        db.locksmith(&["locks", "acquire", "plat", "backup", "--holder", "A"])
            .success();
        db.sql(case.setup);
        let before = tables(&db);
        for args in [
            &["locks", "dump"][..],
            &["locks", "acquire", "plat", "backup", "--holder", "B"],
            &["locks", "release", "plat", "backup", "--holder", "A"],
        ] {
            let r = db.locksmith(args);
            r.fails(case.lock.0);
            assert_eq!(r.stderr, case.lock.1, "{}: {args:?}", case.what);
        }
        assert_eq!(notes(&db), case.notes, "{}", case.what);
        for args in [&["migrate", "up"][..], &["migrate", "up", "--dry-run"]] {
            let r = db.locksmith(args);
            r.fails(1);
            assert_eq!(r.stderr, case.up, "{}: {args:?}", case.what);
        }
        let r = db.locksmith(&["migrate", "down", "--all"]);
        r.fails(4);
        assert!(
            r.stderr
                .starts_with("locksmith: refusing to roll back: `locks_dropping_0badc0de`, what an interrupted `migrate down` left of `locks`, still holds locks: plat: backup (held by A)\n"),
            "{}: {r:#?}",
            case.what
        );
        assert_eq!(tables(&db), before, "{}: nothing changed", case.what);

        db.sql(case.fix);
        let mut after: Vec<&str> = case.after.to_vec();
        after.extend([
            "locks_audit",
            "locks_audit_evidence",
            "locks_holders",
            "locksmith_migrate",
            "refinery_schema_history",
        ]);
        assert_eq!(
            tables(&db),
            (names(&after), vec!["1".into(), "2".into(), "3".into()])
        );
        still_held_by_a(&db);
        db.locksmith(&["migrate", "status", "--check"])
            .succeeds_like(STATUS_APPLIED);
    }
}

/// `down` with copies left by an earlier, interrupted `down`: refused
/// while one holds a lock (`--force` drops it with its table), and an
/// empty one is dropped with its table; either way it says so.
#[test]
fn down_finishes_what_an_interrupted_down_left_only_when_nothing_is_lost() {
    // Empty: dropped with the table, said in the plan and in the run.
    let db = TestDb::migrated();
    db.sql("RENAME TABLE locks TO locks_dropping_0badc0de");
    db.locksmith(&["migrate", "down", "--all", "--dry-run"])
        .succeeds_with(&format!(
            "{V3_DOWN_PLAN}\
             -- Would roll back V2__locks_audit_create_table:\n\
             DROP TABLE IF EXISTS locks_audit;\n\
             -- Would roll back V1__locks_create_table:\n\
             DROP TABLE IF EXISTS locks;\n\
             -- Would drop `locks_dropping_0badc0de`, left (holding nothing) by an interrupted `migrate down`\n\
             -- Dry run: nothing was changed.\n",
        ));
    let doc: locksmith::cli::output::DownDoc = db
        .locksmith(&["migrate", "down", "--all", "--dry-run", "--format", "json"])
        .success_json();
    assert!(doc.dry_run);
    assert_eq!(doc.dropped_copies, ["locks_dropping_0badc0de"]);
    assert_eq!((doc.version_before, doc.version_after), (Some(3), None));
    db.locksmith(&["migrate", "down", "--all"]).succeeds_with(
        "Rolled back V3__holder_liveness\nRolled back V2__locks_audit_create_table\nRolled back V1__locks_create_table\n\
         Dropped `locks_dropping_0badc0de`, left by an interrupted `migrate down`\n\
         No migrations are applied now.\n",
    );
    assert_eq!(
        tables(&db),
        (
            names(&["locksmith_migrate", "refinery_schema_history"]),
            vec![]
        )
    );

    // Holding a lock: refused, then dropped with --force.
    let db = TestDb::migrated();
    db.locksmith(&["locks", "acquire", "plat", "backup", "--holder", "A"])
        .success();
    db.sql("RENAME TABLE locks TO locks_dropping_0badc0de");
    let r = db.locksmith(&["migrate", "down", "--all"]);
    r.fails(4);
    assert_eq!(
        r.stderr,
        format!("locksmith: refusing to roll back: {REFUSE_LOCKS}\n{HINT_LOCKS}\n")
    );
    db.locksmith(&["migrate", "down", "--all", "--force"])
        .succeeds_with(
            "Rolled back V3__holder_liveness\nRolled back V2__locks_audit_create_table\nRolled back V1__locks_create_table\n\
             Dropped `locks_dropping_0badc0de`, left by an interrupted `migrate down`\n\
             No migrations are applied now.\n",
        );
    assert_eq!(
        tables(&db),
        (
            names(&["locksmith_migrate", "refinery_schema_history"]),
            vec![]
        )
    );
}

/// What an older locksmith's `down --all` left: no history, and `locks`
/// under its quarantine name with a lock in it. `status` says `up` brings
/// it back (and records it), `down` refuses though nothing is recorded,
/// and `up` does bring it back instead of making an empty table.
#[test]
fn a_copy_an_older_down_orphaned_is_adopted_back_by_up() {
    let db = TestDb::migrated();
    db.locksmith(&["locks", "acquire", "plat", "backup", "--holder", "A"])
        .success();
    db.sql(
        "RENAME TABLE locks TO locks_dropping_0badc0de; DROP TABLE locks_audit; \
         DROP TABLE locks_holders; DROP TABLE locks_audit_evidence; DELETE FROM refinery_schema_history",
    );
    assert_eq!(
        notes(&db),
        "V1__locks_create_table is pending:\n  table `locks` does not exist\n  \
         `locks_dropping_0badc0de` is what an interrupted `migrate down` left of it, holding locks: plat: backup (held by A): RENAME TABLE `locks_dropping_0badc0de` TO `locks` brings it back\n  \
         -> `locksmith migrate up` renames it back\n"
    );
    let r = db.locksmith(&["migrate", "down"]);
    r.fails(4);
    assert_eq!(
        r.stderr,
        format!("locksmith: refusing to roll back: {REFUSE_LOCKS}\n{HINT_LOCKS}\n")
    );
    let r = db.locksmith(&["locks", "acquire", "plat", "backup", "--holder", "B"]);
    r.fails(5);
    assert_eq!(r.stderr, LOCKS_GONE);
    db.locksmith(&["migrate", "up"]).succeeds_with(&format!(
        "{V1_UP}Applied V2__locks_audit_create_table\nApplied V3__holder_liveness\nSchema is now at version 3.\n"
    ));
    assert_eq!(
        tables(&db),
        (names(&ALL), vec!["1".into(), "2".into(), "3".into()])
    );
    still_held_by_a(&db);
    db.locksmith(&["migrate", "status", "--check"])
        .succeeds_like(STATUS_APPLIED);
}

/// What a copy holds is stored text: every message that names it shows
/// it escaped, never raw on the terminal.
#[test]
fn what_a_copy_holds_is_shown_escaped() {
    let db = TestDb::migrated();
    db.sql(r#"INSERT INTO locks (id, dataJson) VALUES ('plat', '{"backup":"\\u001b[31mA"}')"#);
    db.sql("RENAME TABLE locks TO locks_dropping_0badc0de");
    let held = r"plat: backup (held by \u{1b}[31mA)";
    let r = db.locksmith(&["migrate", "down"]);
    r.fails_with(4, &format!(
        "locksmith: refusing to roll back: `locks_dropping_0badc0de`, what an interrupted `migrate down` left of `locks`, still holds locks: {held}\n\
         hint: bring it back with: RENAME TABLE `locks_dropping_0badc0de` TO `locks` (`locksmith migrate up` does too), and release its locks first; or pass --force to drop it\n"
    ));
    assert!(!r.stderr.contains('\u{1b}'), "{r:#?}");
    let status = db.locksmith(&["migrate", "status"]);
    status.succeeds_like(&format!(
        "{}V1__locks_create_table is missing:\n  \
           table `locks` does not exist\n  \
           `locks_dropping_0badc0de` is what an interrupted `migrate down` left of it, holding locks: {held}: RENAME TABLE `locks_dropping_0badc0de` TO `locks` brings it back\n  \
           -> `locksmith migrate up` renames it back\n",
        status_table(&[
            "1 locks_create_table missing <TIME>",
            "2 locks_audit_create_table applied <TIME>",
            "3 holder_liveness applied <TIME>"
        ])
    ));
    assert!(!status.stdout.contains('\u{1b}'), "{status:#?}");
    let up = db.locksmith(&["migrate", "up"]);
    up.succeeds_with(&format!(
        "Restored V1__locks_create_table: renamed back what an interrupted `migrate down` left (`locks_dropping_0badc0de` is `locks` again, holding locks: {held})\n\
         Schema is now at version 3.\n"
    ));
    assert!(!up.stdout.contains('\u{1b}'), "{up:#?}");
}
