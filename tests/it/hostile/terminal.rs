//! Stored text made to fool a terminal (escape sequences, control and bidi
//! characters) is shown escaped everywhere a person reads it and exact in
//! JSON; row ids padded with whitespace are refused or quoted.

use super::*;

/// No character that could move the cursor, recolour or reorder what a
/// terminal shows (a newline only as the end of a line).
#[track_caller]
fn terminal_safe(what: &str, s: &str) {
    let bad = s.chars().find(|c| {
        (c.is_control() && *c != '\n')
            || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
    });
    assert!(bad.is_none(), "{what} holds raw {bad:?}: {s:?}");
}

/// A table: every line is a frame line or a row line, so no cell holds a
/// raw line break.
#[track_caller]
fn framed(s: &str) {
    for line in s.lines() {
        assert!(
            (line.starts_with('+') && line.ends_with('+'))
                || (line.starts_with('|') && line.ends_with('|')),
            "a line outside the table frame: {line:?} in\n{s}"
        );
    }
}

#[test]
fn stored_text_is_escaped_on_the_terminal() {
    let db = TestDb::migrated();
    let id = "r\x1b[31m\x07\r\nx\u{202e}";
    let name = "n\x1b[31m\x07b";
    let holder = "h\rcr\nnl\u{202e}Z";
    let mut obj = serde_json::Map::new();
    obj.insert(name.into(), holder.into());
    obj.insert("plain".into(), "p\x1b[31m".into());
    let data = serde_json::Value::Object(obj).to_string();
    put(&db, id, Some(&data), Some(1));
    let busy = serde_json::json!({ "busy": holder }).to_string();
    put(&db, "plainrow", Some(&busy), Some(1));
    put(
        &db,
        "dup",
        Some(r#"{"e\u001b":"1","e\u001b":"2"}"#),
        Some(1),
    );
    put(&db, "rawrow", Some("not json \x1b[31m\r\n"), Some(1));

    let (sid, sname, sholder) = (
        r"r\u{1b}[31m\u{7}\r\nx\u{202e}",
        r"n\u{1b}[31m\u{7}b",
        r"h\rcr\nnl\u{202e}Z",
    );

    // dump: escaped in the table and the warnings, exact in JSON.
    let t = db.locksmith(&["locks", "dump"]);
    assert_eq!(t.code, 0, "{t:#?}");
    terminal_safe("dump", &t.stdout);
    terminal_safe("dump warnings", &t.stderr);
    framed(&t.stdout);
    let warnings = "locksmith: warning: row `dup`: its dataJson names `e\\u{1b}` more than once, so who holds it is ambiguous; `locksmith locks repair dup` mends it\n\
                    locksmith: warning: row `rawrow` holds data that is not a JSON object; shown raw\n";
    t.stderr_is(warnings).stdout_like(&dump_table(&[
        r"dup e\u{1b} 1 unknown: not registered by locksmith 1",
        r"dup e\u{1b} 2 unknown: not registered by locksmith 1",
        &format!("plainrow busy {sholder} unknown: not registered by locksmith 1"),
        &format!("{sid} {sname} {sholder} unknown: not registered by locksmith 1"),
        &format!(r"{sid} plain p\u{{1b}}[31m unknown: not registered by locksmith 1"),
        r"rawrow (not a JSON object) not json \u{1b}[31m\r\n 1",
    ]));
    let r = db.locksmith(&["locks", "dump", "--format", "json"]);
    assert_eq!(r.code, 0, "{r:#?}");
    r.stderr_is(warnings);
    let doc: Dump = r.json();
    let row = dump_row(&doc, id);
    assert_eq!(row.locks[0].name, name);
    assert_eq!(json(&row.locks[0].holder), serde_json::json!(holder));
    assert_eq!(
        dump_row(&doc, "rawrow").raw.as_deref(),
        Some("not json \x1b[31m\r\n")
    );

    // The plan and the refusal without a terminal.
    let before = snapshot(&db);
    let plan = format!(
        "row `{sid}`: version 1 -> 2 (planned)\nrelease {sname} (held by {sholder})\nrelease plain (held by p\\u{{1b}}[31m)\n0 lock(s) remain\n"
    );
    let r = db.locksmith(&["locks", "force-release", id, "--all", "--dry-run"]);
    r.succeeds_with(&format!("{plan}Dry run: nothing was changed.\n"));
    unchanged(&db, &before, &r);
    let r = db.locksmith(&["locks", "force-release", id, "--all"]);
    r.fails_with(2, "locksmith: refusing to go on without confirmation: stdin is not a terminal; pass --yes (or --dry-run to look first)\n");
    unchanged(&db, &before, &r);
    let r = db.locksmith(&["locks", "repair", "dup", "--dry-run"]);
    r.succeeds_with(
        "row `dup`: version 1 -> 2 (planned)\n\
         repair: names written more than once keep their last holder: `e\\u{1b}`\n\
         drop e\\u{1b} (held by 1)\n\
         the old dataJson, verbatim (kept in the audit trail):\n\
         {\"e\\u001b\":\"1\",\"e\\u001b\":\"2\"}\n\
         1 lock(s) remain\n\
         Dry run: nothing was changed.\n",
    );
    terminal_safe("repair plan", &r.stdout);

    // The prompt on a terminal. What a terminal shows holds its echo of
    // what was typed and its own line endings, so the test looks for the
    // plan and the question in it, and for nothing raw.
    let mut child = db.spawn_on_tty("locks force-release plainrow --all");
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(b"n\n").unwrap();
    }
    let p = Run::from(child.wait_with_output().unwrap());
    assert_eq!(p.code, 1, "{p:#?}");
    assert!(
        p.stdout
            .contains(&format!("release busy (held by {sholder})"))
            && p.stdout.contains("Proceed? [y/N]"),
        "{p:#?}"
    );
    assert!(
        !p.stdout.contains('\x1b') && !p.stdout.contains('\u{202e}'),
        "{p:#?}"
    );
    unchanged(&db, &before, &p);

    // Error messages.
    for (args, code, says) in [
        (
            vec!["locks", "acquire", "plainrow", "busy", "--holder", "me"],
            4,
            format!("locksmith: lock `busy` in row `plainrow` is held by {sholder}\n"),
        ),
        (
            vec!["locks", "release", "plainrow", "busy", "--holder", "me"],
            4,
            format!("locksmith: lock `busy` in row `plainrow` is held by {sholder}, not by me\n"),
        ),
        (
            vec!["locks", "acquire", "rawrow", "n", "--holder", "me"],
            1,
            not_an_object("rawrow", r"not json \u{1b}[31m\r\n"),
        ),
        (
            vec!["locks", "acquire", "dup", "n", "--holder", "me"],
            1,
            unsafe_row(
                "dup",
                r"its dataJson names `e\u{1b}` more than once, so who holds it is ambiguous",
            ),
        ),
        (
            vec!["locks", "force-release", id, "nope", "--yes"],
            5,
            format!("locksmith: lock `nope` is not held in row `{sid}`\n"),
        ),
        (
            vec!["locks", "dump", "nope\x1b[31m"],
            5,
            "locksmith: lock row `nope\\u{1b}[31m` does not exist\n".to_string(),
        ),
        (
            vec!["locks", "acquire", id, "n", "--holder", "me"],
            2,
            format!("locksmith: row id \"{sid}\" contains the control character U+001B\n"),
        ),
        (
            vec!["locks", "acquire", "plainrow", "n", "--holder", holder],
            2,
            format!("locksmith: holder \"{sholder}\" contains the control character U+000D\n"),
        ),
    ] {
        let r = db.locksmith(&args);
        r.fails_with(code, &says);
        terminal_safe("an error", &r.stderr);
        unchanged(&db, &before, &r);
    }

    // The change itself, and the history: escaped in the table, exact in JSON.
    let r = db.locksmith(&["locks", "force-release", id, "--all", "--yes"]);
    r.succeeds_with(&format!(
        "row `{sid}`: version 1 -> 2\n\
         released {sname} (held by {sholder})\n\
         released plain (held by p\\u{{1b}}[31m)\n\
         0 lock(s) remain\n"
    ));
    terminal_safe("force-release", &r.stdout);
    let h = db.locksmith(&["locks", "history"]);
    h.succeeds_like(&history_table(&[
        &format!(
            "1 <TIME> <ME> (<USER>@%) release-all {sid} 1 -> 2: released {sname} (held by {sholder})"
        ),
        r"released plain (held by p\u{1b}[31m)",
    ]));
    terminal_safe("history", &h.stdout);
    framed(&h.stdout);
    let doc = history(&db, id);
    assert_eq!(doc.records.len(), 1, "{doc:#?}");
    let rec = &doc.records[0];
    assert_eq!(rec.row, id);
    let removed: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(rec.removed.as_ref().unwrap().get()).unwrap();
    let removed: Vec<(&str, &serde_json::Value)> =
        removed.iter().map(|(k, v)| (k.as_str(), v)).collect();
    assert_eq!(
        removed,
        [
            (name, &serde_json::json!(holder)),
            ("plain", &serde_json::json!("p\x1b[31m"))
        ]
    );
}

#[test]
fn padded_row_ids_are_refused_for_writes_and_quoted_when_stored() {
    let db = TestDb::migrated();
    let before = snapshot(&db);
    for (id, shown) in [
        ("plat ", "\"plat \""),
        (" plat", "\" plat\""),
        ("plat\u{3000}", "\"plat\\u{3000}\""),
    ] {
        for args in [
            vec!["locks", "acquire", id, "name", "--holder", "h"],
            vec!["locks", "run", id, "name", "--", "true"],
        ] {
            let r = db.locksmith(&args);
            r.fails_with(2, &format!(
                "locksmith: row id {shown} begins or ends with whitespace, which a lock row id may not (the table's collation ignores trailing spaces, and nobody sees them)\n"
            ));
            unchanged(&db, &before, &r);
        }
    }
    assert_eq!(
        db.scalar("SELECT COUNT(*) FROM locks").as_deref(),
        Some("0")
    );

    // A row another writer stored with a trailing space is shown quoted.
    put(&db, "plat ", Some(r#"{"a":"b"}"#), Some(1));
    let table = &dump_table(&["\"plat \" a b unknown: not registered by locksmith 1"]);
    db.locksmith(&["locks", "dump"]).succeeds_like(table);
    let doc: Dump = db
        .locksmith(&["locks", "dump", "--format", "json"])
        .success_json();
    assert_eq!(doc.rows[0].row, "plat ");
    db.locksmith(&["locks", "dump", "plat "])
        .succeeds_like(table);
    db.locksmith(&["locks", "force-release", "plat ", "--all", "--dry-run"])
        .succeeds_with("row `\"plat \"`: version 1 -> 2 (planned)\nrelease a (held by b)\n0 lock(s) remain\nDry run: nothing was changed.\n");
}

#[test]
fn an_unpadded_id_does_not_alias_a_padded_stored_row() {
    let db = TestDb::migrated();
    put(&db, "plat ", Some(r#"{"a":"b"}"#), Some(1));
    let before = snapshot(&db);
    // Refused, saying why, and nothing written: `plat` and `plat ` are one
    // id to the table's collation.
    let r = db.locksmith(&["locks", "acquire", "plat", "x", "--holder", "h"]);
    r.fails_with(2, "locksmith: row `plat` cannot be used: the table holds \"plat \", which its collation takes for the same id; name that row exactly\n");
    unchanged(&db, &before, &r);
}
