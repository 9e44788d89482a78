//! Operator commands (`locks dump|force-release|bump|history`) and the
//! lock-row protocol's limits, against a real server.

use crate::contest::{workers_beside_an_operator, Contest};
use crate::harness::*;
use locksmith::cli::output::{Dump, HistoryDoc};
use locksmith::locks::AuditRecord;

fn seed(db: &TestDb) {
    db.sql(
        r#"INSERT INTO locks (id, dataJson) VALUES
           ('platform', '{"app_b":"task-2","app_a":"task-1","update":{"task":3}}'),
           ('quiet', '{}')"#,
    );
}

#[test]
fn dump_table_and_json() {
    let db = TestDb::migrated();
    db.locksmith(&["locks", "dump"]).succeeds_with(
        "+---------------------------------------------------+\n\
         | ROW   LOCK   HOLDER   VERSION   LAST CHANGE   AGE |\n\
         +===================================================+\n\
         +---------------------------------------------------+\n",
    );
    seed(&db);
    // Stored order is kept (app_b before app_a); a row without locks says so.
    db.locksmith(&["locks", "dump"]).succeeds_like(
        "+-+\n\
         | ROW LOCK HOLDER VERSION LAST CHANGE AGE |\n\
         +=+\n\
         | platform app_b task-2 1 <TIME> <AGE> |\n\
         | platform app_a task-1 1 <TIME> <AGE> |\n\
         | platform update {\"task\":3} 1 <TIME> <AGE> |\n\
         | quiet (no locks) 1 <TIME> <AGE> |\n\
         +-+\n",
    );

    let doc: Dump = db
        .locksmith(&["locks", "list", "--format", "json", "platform"])
        .success_json();
    assert_eq!(doc.rows.len(), 1);
    let row = &doc.rows[0];
    assert_eq!(
        (row.row.as_str(), row.version, row.raw.as_deref()),
        ("platform", Some(1), None)
    );
    let names: Vec<&str> = row.locks.iter().map(|l| l.name.as_str()).collect();
    assert_eq!(names, ["app_b", "app_a", "update"]);
    assert_eq!(json(&row.locks[2].holder), serde_json::json!({"task": 3}));
    let age = row.age_seconds.unwrap();
    assert!((0..120).contains(&age), "age by the server's clock: {age}");
    assert!(row.changed_at.as_deref().unwrap().ends_with('Z'));

    db.locksmith(&["locks", "dump", "nope"])
        .fails_with(5, "locksmith: lock row `nope` does not exist\n");
}

#[test]
fn last_change_is_server_time_whatever_the_session_zone() {
    let db = TestDb::migrated();
    db.sql("SET time_zone = '+09:00'; INSERT INTO locks (id, dataJson, ts) VALUES ('r', '{}', '2024-01-02 03:04:05')");
    // Stored in a +09:00 session: 2024-01-01T18:04:05Z.
    let doc: Dump = db
        .locksmith(&["locks", "dump", "--format", "json"])
        .success_json();
    assert_eq!(
        doc.rows[0].changed_at.as_deref(),
        Some("2024-01-01T18:04:05Z")
    );
}

#[test]
fn corrupt_rows_are_shown_raw_with_a_warning() {
    let db = TestDb::migrated();
    db.sql(r#"INSERT INTO locks (id, dataJson) VALUES ('a_text', 'not json {'), ('b_array', '["x",1]'), ('c_string', '"just a string"'), ('d_null', NULL)"#);
    let warnings = "locksmith: warning: row `a_text` holds data that is not a JSON object; shown raw\n\
                    locksmith: warning: row `b_array` holds data that is not a JSON object; shown raw\n\
                    locksmith: warning: row `c_string` holds data that is not a JSON object; shown raw\n";
    let r = db.locksmith(&["locks", "dump", "--format", "json"]);
    assert_eq!(r.code, 0, "{r:#?}");
    r.stderr_is(warnings);
    let doc: Dump = r.json();
    let raws: Vec<Option<&str>> = doc.rows.iter().map(|r| r.raw.as_deref()).collect();
    assert_eq!(
        raws,
        [
            Some("not json {"),
            Some(r#"["x",1]"#),
            Some(r#""just a string""#),
            None
        ]
    );
    assert!(doc.rows.iter().all(|r| r.locks.is_empty()));
    let t = db.locksmith(&["locks", "dump"]);
    assert_eq!(t.code, 0, "{t:#?}");
    t.stderr_is(warnings).stdout_like(
        "+-+\n\
         | ROW LOCK HOLDER VERSION LAST CHANGE AGE |\n\
         +=+\n\
         | a_text (not a JSON object) not json { 1 <TIME> <AGE> |\n\
         | b_array (not a JSON object) [\"x\",1] 1 <TIME> <AGE> |\n\
         | c_string (not a JSON object) \"just a string\" 1 <TIME> <AGE> |\n\
         | d_null (no locks) 1 <TIME> <AGE> |\n\
         +-+\n",
    );

    // Writers refuse to touch them, and say how to repair.
    let not_an_object = |id: &str, raw: &str| {
        format!(
            "locksmith: row `{id}` holds data that is not a JSON object: {raw}\n\
             hint: inspect it with `locksmith locks dump {id}`; `locksmith locks repair {id}` replaces it with {{}} and keeps the old text in the audit trail\n"
        )
    };
    db.locksmith(&["locks", "acquire", "b_array", "x", "--holder", "h"])
        .fails_with(1, &not_an_object("b_array", r#"["x",1]"#));
    db.locksmith(&["locks", "force-release", "c_string", "x", "--yes"])
        .fails_with(1, &not_an_object("c_string", r#""just a string""#));
    // Text that starts like an object but is not JSON goes through the
    // single-UPDATE path first: the server's JSON functions reject it (an
    // error, in strict mode) and nothing is written; read + CAS reports it.
    db.sql(r#"INSERT INTO locks (id, dataJson) VALUES ('e_brace', '{"a":"t1",')"#);
    for verb in ["acquire", "release"] {
        db.locksmith(&["locks", verb, "e_brace", "b", "--holder", "t1"])
            .fails_with(1, &not_an_object("e_brace", r#"{"a":"t1","#));
    }
    assert_eq!(db.data("e_brace").as_deref(), Some(r#"{"a":"t1","#));
    assert_eq!(db.version("e_brace"), 1);
    // A bump leaves the data alone, whatever it is, and says so.
    db.locksmith(&["locks", "bump", "c_string", "--dry-run"])
        .succeeds_with("row `c_string`: version 1 -> 2 (planned)\nlocks untouched\ndataJson is not a JSON object; left as it is\nDry run: nothing was changed.\n");
    // A NULL row holds no locks and can be used.
    db.locksmith(&["locks", "acquire", "d_null", "x", "--holder", "h"])
        .success();

    // --all repairs each, printing the old text so nothing is lost.
    for (id, raw) in [
        ("a_text", "not json {"),
        ("b_array", r#"["x",1]"#),
        ("c_string", r#""just a string""#),
    ] {
        db.locksmith(&["locks", "force-release", id, "--all", "--yes"])
            .succeeds_with(&format!(
                "row `{id}`: version 1 -> 2\nreplaced unparsable dataJson with {{}}; the old text, verbatim:\n{raw}\n0 lock(s) remain\n"
            ));
        assert_eq!(db.data(id).as_deref(), Some("{}"));
    }
    let doc: HistoryDoc = db
        .locksmith(&["locks", "history", "--format", "json", "b_array"])
        .success_json();
    assert_eq!(doc.records.len(), 1);
    assert_eq!(doc.records[0].replaced_raw.as_deref(), Some(r#"["x",1]"#));
    assert_eq!(doc.records[0].action, "release-all");
}

#[test]
fn missing_table_says_to_migrate() {
    let db = TestDb::new();
    for args in [
        vec!["locks", "dump"],
        vec!["locks", "acquire", "r", "n", "--holder", "h"],
        vec!["locks", "force-release", "r", "n", "--yes"],
        vec!["locks", "bump", "r", "--yes"],
        vec!["locks", "history"],
    ] {
        db.locksmith(&args).fails_with(
            5,
            "locksmith: table `locks` does not exist\nhint: run `locksmith migrate up` first\n",
        );
    }
}

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
    .fails_with(4, "locksmith: row `platform` is at version 1, not the expected 7; nothing was changed (look again with `locksmith locks dump platform`)\n");
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
    .fails_with(4, "locksmith: row `platform` is at version 8, not the expected 3; nothing was changed (look again with `locksmith locks dump platform`)\n");
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
    db.locksmith(&["locks", "history"]).succeeds_like(
        "+-+\n\
         | # AT WHO ACTION ROW CHANGE |\n\
         +=+\n\
         | 1 <TIME> <ME> (<USER>@%) release-by-holder platform 1 -> 2: released a (held by t1) |\n\
         | released c (held by t1) |\n\
         | 2 <TIME> <ME> (<USER>@%) release-by-holder platform 2 -> 3: released d (held by 42) |\n\
         | 3 <TIME> <ME> (<USER>@%) bump platform 3 -> 8: version only |\n\
         +-+\n",
    );
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
fn awkward_lock_names_round_trip() {
    let db = TestDb::migrated();
    let names = [
        r#"it's"#,
        r#"say "hi""#,
        r#"back\slash"#,
        "100%",
        "under_score",
        "x'); DROP TABLE locks; --",
        "$.path[0]",
        "über-é-☃",
    ];
    for n in names {
        db.locksmith(&["locks", "acquire", "platform", n, "--holder", "h-1"])
            .success();
        db.locksmith(&["locks", "acquire", "platform", n, "--holder", "h-2"])
            .fails_with(
                4,
                &format!("locksmith: lock `{n}` in row `platform` is held by h-1\n"),
            );
    }
    let doc: Dump = db
        .locksmith(&["locks", "dump", "--format", "json"])
        .success_json();
    let got: Vec<&str> = doc.rows[0].locks.iter().map(|l| l.name.as_str()).collect();
    assert_eq!(got, names);
    // `_` and `%` are not wildcards anywhere: releasing one leaves the rest.
    db.locksmith(&[
        "locks",
        "release",
        "platform",
        "under_score",
        "--holder",
        "h-1",
    ])
    .success();
    db.locksmith(&["locks", "release", "platform", "100%", "--holder", "h-2"])
        .fails_with(
            4,
            "locksmith: lock `100%` in row `platform` is held by h-1, not by h-2\n",
        );
    db.locksmith(&[
        "locks",
        "force-release",
        "platform",
        r#"say "hi""#,
        r#"back\slash"#,
        "--yes",
    ])
    .succeeds_with(
        "row `platform`: version 10 -> 11\n\
         released say \"hi\" (held by h-1)\n\
         released back\\slash (held by h-1)\n\
         5 lock(s) remain\n",
    );
    for n in names
        .iter()
        .filter(|n| !["under_score", r#"say "hi""#, r#"back\slash"#].contains(n))
    {
        db.locksmith(&["locks", "release", "platform", n, "--holder", "h-1"])
            .success();
    }
    let data: serde_json::Value = serde_json::from_str(&db.data("platform").unwrap()).unwrap();
    assert_eq!(data, serde_json::json!({}));
    // An emoji cannot be stored in 3-byte utf8: refused before any write.
    let v = db.version("platform");
    db.locksmith(&["locks", "acquire", "platform", "deploy 🚀", "--holder", "h"])
        .fails_with(2, "locksmith: lock name \"deploy 🚀\" contains '🚀' (U+1F680), which the locks table's 3-byte utf8 cannot store; use characters up to U+FFFF\n");
    let rocket_holder = "locksmith: holder \"🚀\" contains '🚀' (U+1F680), which the locks table's 3-byte utf8 cannot store; use characters up to U+FFFF\n";
    db.locksmith(&["locks", "acquire", "platform", "deploy", "--holder", "🚀"])
        .fails_with(2, rocket_holder);
    db.locksmith(&[
        "locks",
        "force-release",
        "platform",
        "--holder",
        "🚀",
        "--yes",
    ])
    .fails_with(2, rocket_holder);
    assert_eq!(db.version("platform"), v);
}

#[test]
fn a_foreign_holder_beyond_the_bmp_is_kept_escaped() {
    let db = TestDb::migrated();
    // Another writer stored an emoji the only way utf8mb3 can hold it:
    // as a JSON escape.
    db.sql(r#"INSERT INTO locks (id, dataJson) VALUES ('platform', '{"party":"\\ud83c\\udf89"}')"#);
    db.locksmith(&["locks", "acquire", "platform", "backup", "--holder", "t1"])
        .success();
    assert_eq!(
        db.data("platform").as_deref(),
        Some(r#"{"party":"\ud83c\udf89","backup":"t1"}"#)
    );
    let doc: Dump = db
        .locksmith(&["locks", "dump", "--format", "json"])
        .success_json();
    assert_eq!(
        doc.rows[0].locks[0].holder.get(),
        r#""\ud83c\udf89""#,
        "exactly as stored"
    );
    assert_eq!(json(&doc.rows[0].locks[0].holder), serde_json::json!("🎉"));
    db.locksmith(&["locks", "force-release", "platform", "party", "--yes"])
        .succeeds_with(
            "row `platform`: version 2 -> 3\nreleased party (held by 🎉)\n1 lock(s) remain\n",
        );
    assert_eq!(db.data("platform").as_deref(), Some(r#"{"backup":"t1"}"#));
    let doc: HistoryDoc = db
        .locksmith(&["locks", "history", "--format", "json"])
        .success_json();
    assert_eq!(
        doc.records[0].removed.as_deref().map(|r| r.get()),
        Some(r#"{"party":"\ud83c\udf89"}"#)
    );
}

/// Makes the server's global sql_mode lax until dropped; only on the
/// throwaway server the harness started (on a server of the user's, a
/// global setting is not a test's to change).
struct LaxServer(Option<String>);
impl LaxServer {
    fn new(db: &TestDb) -> LaxServer {
        if !own_server() {
            return LaxServer(None);
        }
        let old = db.scalar("SELECT @@GLOBAL.sql_mode").unwrap();
        admin_sql("SET GLOBAL sql_mode = ''");
        LaxServer(Some(old))
    }
}
impl Drop for LaxServer {
    fn drop(&mut self) {
        if let Some(old) = &self.0 {
            admin_sql(&format!("SET GLOBAL sql_mode = '{old}'"));
        }
    }
}

#[test]
fn text_limit_exactly_and_one_byte_over_even_on_a_lax_server() {
    let db = TestDb::migrated();
    let _lax = LaxServer::new(&db);
    // The limit is on locksmith's compact JSON ({"blob":"…"}: 10 bytes
    // around the holder), whichever path writes it: the server-evaluated
    // UPDATE (whose own spelling has spaces, so it overflows first and hands
    // over), or read + CAS (forced by --unless-held).
    let overhead = r#"{"blob":""}"#.len();
    for extra in [&[][..], &["--unless-held", "zzz*"][..]] {
        let acquire = |holder: &str| {
            let mut args = vec!["locks", "acquire", "big", "blob", "--holder", holder];
            args.extend_from_slice(extra);
            db.locksmith(&args)
        };
        let at_limit = "h".repeat(65_535 - overhead);
        acquire(&at_limit).success();
        assert_eq!(
            db.scalar("SELECT LENGTH(dataJson) FROM locks WHERE id = 'big'")
                .as_deref(),
            Some("65535")
        );
        db.locksmith(&["locks", "release", "big", "blob", "--holder", &at_limit])
            .success();
        let before = (db.version("big"), db.data("big"));
        acquire(&format!("{at_limit}h"))
            .fails_with(2, "locksmith: row `big` would need 65536 bytes of dataJson, more than the 65535 a TEXT column holds; nothing was changed\n");
        assert_eq!(
            (db.version("big"), db.data("big")),
            before,
            "nothing truncated, nothing written"
        );
    }
}

#[test]
fn concurrent_workers_and_an_operator() {
    let db = TestDb::migrated();
    const WORKERS: usize = 8;
    let (_, doc) = workers_beside_an_operator(
        &db,
        Contest {
            workers: vec![db.url(); WORKERS],
            rounds: 10,
            acquire: &[],
            operator: db.url(),
            // At least a few rounds (so at least one bump).
            at_least: 3,
        },
    );
    assert!(
        doc.records.iter().any(|r| r.action == "bump"),
        "the operator bumped at least once"
    );
    // Nothing left behind, nothing duplicated.
    assert_eq!(
        db.data("shared")
            .as_deref()
            .map(|d| serde_json::from_str::<serde_json::Value>(d).unwrap()),
        Some(serde_json::json!({}))
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
