//! Commands that must refuse rather than succeed, and dry runs that must
//! say what they plan: `mark-applied` refuses a migration nothing shows
//! took effect, or one out of order, unless `--force`; every `--dry-run
//! --format json` says `"dry_run": true` and carries the values the real
//! run then reports.

use crate::harness::*;
use serde_json::Value;

const V2_DDL: &str = include_str!("../../migrations/V2__locks_audit_create_table.sql");

/// Every table with its columns, and the history: what a refusal keeps.
fn schema(db: &TestDb) -> Vec<Vec<Option<String>>> {
    let mut rows = db.rows(
        "SELECT TABLE_NAME, COLUMN_NAME FROM information_schema.COLUMNS \
         WHERE TABLE_SCHEMA = DATABASE() ORDER BY TABLE_NAME, ORDINAL_POSITION",
    );
    if db
        .scalar("SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'refinery_schema_history'")
        .as_deref()
        == Some("1")
    {
        rows.extend(db.rows("SELECT version, name FROM refinery_schema_history ORDER BY version"));
    }
    rows
}

#[test]
fn mark_applied_refuses_what_nothing_shows_and_what_is_out_of_order() {
    let unproven = |label: &str, why: &str| {
        format!(
            "locksmith: refusing to record {label} as applied: {why}; nothing was changed\n\
             hint: `locksmith migrate up` applies it; --force records it anyway\n"
        )
    };
    let out_of_order = "locksmith: refusing to record V2__locks_audit_create_table as applied out of order: V1__locks_create_table is pending and not recorded; nothing was changed\n\
        hint: apply or record the earlier ones first (`locksmith migrate up`, `locksmith migrate mark-applied`); --force records it anyway\n";
    struct Case {
        what: &'static str,
        setup: &'static dyn Fn(&TestDb),
        version: &'static str,
        refusal: String,
        /// What `--force` says after `Recorded LABEL as applied (checksum
        /// N); `: whether the change is audited.
        recorded: &'static str,
    }
    let not_audited = "not audited: there is no locks_audit table yet";
    let audited = "the audit trail has a record of it (`locksmith locks history`)";
    let cases = [
        Case {
            what: "V1 on an empty database",
            setup: &|_| {},
            version: "1",
            refusal: unproven(
                "V1__locks_create_table",
                "it has not taken effect: `locks` does not exist",
            ),
            recorded: not_audited,
        },
        Case {
            what: "V2 whose table is gone",
            setup: &|db| {
                db.locksmith(&["migrate", "up", "--target", "1"])
                    .succeeds_with("Applied V1__locks_create_table\nSchema is now at version 1.\n");
            },
            version: "2",
            refusal: unproven(
                "V2__locks_audit_create_table",
                "it has not taken effect: `locks_audit` does not exist",
            ),
            recorded: not_audited,
        },
        Case {
            what: "V1 renamed away by an interrupted down",
            setup: &|db| {
                db.locksmith(&["migrate", "up"]).succeeds_with(UP_FRESH);
                db.sql(
                    "RENAME TABLE locks TO locks_dropping_0badc0de; \
                     DELETE FROM refinery_schema_history WHERE version = 1",
                );
            },
            version: "1",
            refusal: "locksmith: refusing to record V1__locks_create_table as applied: it has not taken effect: `locks` does not exist (an interrupted `migrate down` left it renamed); nothing was changed\n\
                 hint: `locksmith migrate up` brings the renamed table back (or applies it); --force records it anyway\n"
                .to_string(),
            recorded: audited,
        },
        Case {
            what: "V2 made by hand while V1 is pending",
            setup: &|db| db.sql(V2_DDL),
            version: "2",
            refusal: out_of_order.to_string(),
            recorded: audited,
        },
    ];
    for case in cases {
        let db = TestDb::new();
        (case.setup)(&db);
        let before = schema(&db);
        for args in [
            &["migrate", "mark-applied", case.version, "--yes"][..],
            &["migrate", "mark-applied", case.version, "--dry-run"],
            &[
                "migrate",
                "mark-applied",
                case.version,
                "--dry-run",
                "--format",
                "json",
            ],
        ] {
            let r = db.locksmith(args);
            r.fails(4);
            assert_eq!(r.stderr, case.refusal, "{}: {args:?}", case.what);
        }
        assert_eq!(schema(&db), before, "{}: nothing changed", case.what);
        // --force records it all the same, and says what it recorded.
        let set = locksmith::migrate::MigrationSet::embedded();
        let m = &set.migrations()[case.version.parse::<usize>().unwrap() - 1];
        let label = if case.version == "1" {
            "V1__locks_create_table"
        } else {
            "V2__locks_audit_create_table"
        };
        db.locksmith(&["migrate", "mark-applied", case.version, "--yes", "--force"])
            .succeeds_with(&format!(
                "Recorded {label} as applied (checksum {}); {}\n",
                m.checksum(),
                case.recorded
            ));
        assert!(
            db.scalar(&format!(
                "SELECT COUNT(*) FROM refinery_schema_history WHERE version = {}",
                case.version
            ))
            .as_deref()
                == Some("1"),
            "{}",
            case.what
        );
    }
}

/// `doc` with `dry_run` set to `to`.
fn with_dry_run(mut doc: Value, to: bool) -> Value {
    doc["dry_run"] = Value::Bool(to);
    doc
}

/// Each command's `--dry-run --format json` is the document its real run
/// prints, but for `"dry_run": true`: the planned values are the ones it
/// then makes.
#[test]
fn every_dry_run_document_carries_the_planned_values() {
    struct Case {
        what: &'static str,
        setup: &'static dyn Fn(&TestDb),
        args: &'static [&'static str],
        /// Fields the plan must have, whatever the run does.
        expect: &'static [(&'static str, &'static str)],
    }
    let cases = [
        Case {
            what: "up on an empty database",
            setup: &|_| {},
            args: &["migrate", "up"],
            expect: &[("version_before", "null"), ("version_after", "3")],
        },
        Case {
            what: "up from V1",
            setup: &|db| {
                db.locksmith(&["migrate", "up", "--target", "1"])
                    .succeeds_with("Applied V1__locks_create_table\nSchema is now at version 1.\n");
            },
            args: &["migrate", "up"],
            expect: &[("version_before", "1"), ("version_after", "3")],
        },
        Case {
            what: "up with a target",
            setup: &|_| {},
            args: &["migrate", "up", "--target", "1"],
            expect: &[("version_before", "null"), ("version_after", "1")],
        },
        Case {
            what: "down",
            setup: &|db| {
                db.locksmith(&["migrate", "up"]).succeeds_with(UP_FRESH);
            },
            args: &["migrate", "down"],
            expect: &[("version_before", "3"), ("version_after", "2")],
        },
        Case {
            what: "mark-applied of a table made by another tool",
            setup: &|db| {
                db.locksmith(&["migrate", "up"]).succeeds_with(UP_FRESH);
                db.sql("DELETE FROM refinery_schema_history WHERE version = 2");
            },
            args: &["migrate", "mark-applied", "2", "--yes"],
            expect: &[
                ("audited", "true"),
                ("state_before", "\"present-unrecorded\""),
            ],
        },
        Case {
            what: "force-release",
            setup: &|db| {
                db.locksmith(&["migrate", "up"]).succeeds_with(UP_FRESH);
                db.locksmith(&["locks", "acquire", "plat", "backup", "--holder", "A"])
                    .success();
            },
            args: &["locks", "force-release", "plat", "backup", "--yes"],
            expect: &[("version_before", "2"), ("version_after", "3")],
        },
        Case {
            what: "bump",
            setup: &|db| {
                db.locksmith(&["migrate", "up"]).succeeds_with(UP_FRESH);
                db.locksmith(&["locks", "acquire", "plat", "backup", "--holder", "A"])
                    .success();
            },
            args: &["locks", "bump", "plat", "--by", "5", "--yes"],
            expect: &[("version_before", "2"), ("version_after", "7")],
        },
        Case {
            what: "repair of a sound row",
            setup: &|db| {
                db.locksmith(&["migrate", "up"]).succeeds_with(UP_FRESH);
                db.locksmith(&["locks", "acquire", "plat", "backup", "--holder", "A"])
                    .success();
            },
            args: &["locks", "repair", "plat", "--yes"],
            expect: &[("version_before", "2"), ("version_after", "2")],
        },
        Case {
            what: "repair of a NULL version",
            setup: &|db| {
                db.locksmith(&["migrate", "up"]).succeeds_with(UP_FRESH);
                db.sql("INSERT INTO locks (id, dataJson, version) VALUES ('plat', '{}', NULL)");
            },
            args: &["locks", "repair", "plat", "--yes"],
            expect: &[("version_before", "null"), ("version_after", "1")],
        },
    ];
    for case in cases {
        let db = TestDb::new();
        (case.setup)(&db);
        let mut dry: Vec<&str> = case.args.to_vec();
        dry.extend(["--dry-run", "--format", "json"]);
        let before = schema(&db);
        let plan: Value = db.locksmith(&dry).success_json();
        assert_eq!(plan["dry_run"], Value::Bool(true), "{}: {plan}", case.what);
        for (field, value) in case.expect {
            assert_eq!(
                plan[field].to_string(),
                *value,
                "{}: {field} in {plan}",
                case.what
            );
        }
        assert_eq!(
            schema(&db),
            before,
            "{}: a dry run changes nothing",
            case.what
        );
        let mut real: Vec<&str> = case.args.to_vec();
        real.extend(["--format", "json"]);
        let done: Value = db.locksmith(&real).success_json();
        assert_eq!(done["dry_run"], Value::Bool(false), "{}: {done}", case.what);
        assert_eq!(
            with_dry_run(plan, false),
            done,
            "{}: the plan is what the run did",
            case.what
        );
    }
}
