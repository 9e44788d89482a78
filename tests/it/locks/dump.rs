//! `locks dump`: the table and JSON, the server's time whatever the
//! session's zone, corrupt rows shown raw with a warning, and a missing
//! table.

use super::*;

#[test]
fn dump_table_and_json() {
    let db = TestDb::migrated();
    db.locksmith(&["locks", "dump"]).succeeds_with(
        "+--------------------------------------------------------------+\n\
         | ROW   LOCK   HOLDER   LIVENESS   VERSION   LAST CHANGE   AGE |\n\
         +==============================================================+\n\
         +--------------------------------------------------------------+\n",
    );
    seed(&db);
    // Stored order is kept (app_b before app_a); a row without locks says so.
    db.locksmith(&["locks", "dump"])
        .succeeds_like(&dump_table(&[
            "platform app_b task-2 unknown: not registered by locksmith 1",
            "platform app_a task-1 unknown: not registered by locksmith 1",
            "platform update {\"task\":3} unknown: not registered by locksmith 1",
            "quiet (no locks) 1",
        ]));

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
    t.stderr_is(warnings).stdout_like(&dump_table(&[
        "a_text (not a JSON object) not json { 1",
        "b_array (not a JSON object) [\"x\",1] 1",
        "c_string (not a JSON object) \"just a string\" 1",
        "d_null (no locks) 1",
    ]));

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
