//! Rows whose `dataJson` is unusual: a name written twice, deep nesting and
//! lone surrogates, data that is not an object, foreign text (kept byte for
//! byte), `null` and number holders, holders that differ only in spaces.

use super::*;

#[test]
fn duplicate_keys_are_refused_and_audited() {
    let db = TestDb::migrated();
    put(&db, "d", Some(r#"{"b":"x","b":"y"}"#), Some(1));
    put(&db, "d3", Some(r#"{"b":"x","c":"z","b":"y"}"#), Some(1));
    put(&db, "d4", Some(r#"{"b":"x","c":"z","b":"y"}"#), Some(1));
    let says = unsafe_row(
        "d",
        "its dataJson names `b` more than once, so who holds it is ambiguous",
    );
    let before = snapshot(&db);
    for args in [
        vec!["locks", "acquire", "d", "b", "--holder", "x"],
        vec!["locks", "acquire", "d", "b", "--holder", "y"],
        vec!["locks", "release", "d", "b", "--holder", "x"],
        vec!["locks", "release", "d", "b", "--holder", "y"],
        vec!["locks", "force-release", "d", "--holder", "x", "--yes"],
        vec!["locks", "force-release", "d", "b", "--yes"],
    ] {
        let r = db.locksmith(&args);
        r.fails_with(1, &says);
        unchanged(&db, &before, &r);
    }

    // dump lists both entries, in stored order.
    let r = db.locksmith(&["locks", "dump", "--format", "json", "d"]);
    assert_eq!(r.code, 0, "{r:#?}");
    r.stderr_is("locksmith: warning: row `d`: its dataJson names `b` more than once, so who holds it is ambiguous; `locksmith locks repair d` mends it\n");
    let doc: Dump = r.json();
    let locks: Vec<(&str, &str)> = doc.rows[0]
        .locks
        .iter()
        .map(|l| (l.name.as_str(), l.holder.get()))
        .collect();
    assert_eq!(locks, [("b", r#""x""#), ("b", r#""y""#)]);
    let t = db.locksmith(&["locks", "dump", "d"]);
    assert_eq!(t.code, 0, "{t:#?}");
    t.stderr_is(&r.stderr).stdout_like(&dump_table(&[
        "d b x unknown: not registered by locksmith 1",
        "d b y unknown: not registered by locksmith 1",
    ]));

    // --all removes every entry, and the audit names all three.
    db.locksmith(&["locks", "force-release", "d3", "--all", "--yes"])
        .succeeds_with(
            "row `d3`: version 1 -> 2\nreleased b (held by x)\nreleased c (held by z)\nreleased b (held by y)\n0 lock(s) remain\n",
        );
    assert_eq!(db.data("d3").as_deref(), Some("{}"));
    let rec = &history(&db, "d3").records[0];
    assert_eq!(rec.action, "release-all");
    assert_eq!(
        rec.removed.as_ref().map(|r| r.get()),
        Some(r#"{"b":"x","c":"z","b":"y"}"#)
    );
    assert_eq!(rec.removed_locks().len(), 3);

    // repair keeps the last holder (as JSON parsers read it), lists what it
    // drops, and keeps the old text in the audit.
    db.locksmith(&["locks", "repair", "d4", "--yes"])
        .succeeds_with(
            "row `d4`: version 1 -> 2\n\
             repaired: names written more than once keep their last holder: `b`\n\
             dropped b (held by x)\n\
             the old dataJson, verbatim (kept in the audit trail):\n\
             {\"b\":\"x\",\"c\":\"z\",\"b\":\"y\"}\n\
             2 lock(s) remain\n",
        );
    assert_eq!(db.data("d4").as_deref(), Some(r#"{"b":"y","c":"z"}"#));
    let rec = &history(&db, "d4").records[0];
    assert_eq!(
        (
            rec.action.as_str(),
            rec.removed.as_ref().map(|r| r.get()),
            rec.replaced_raw.as_deref()
        ),
        (
            "repair",
            Some(r#"{"b":"x"}"#),
            Some(r#"{"b":"x","c":"z","b":"y"}"#)
        )
    );
    // d itself was never touched.
    assert_eq!(db.data("d").as_deref(), Some(r#"{"b":"x","b":"y"}"#));
}

#[test]
fn deep_nesting_and_lone_surrogates_are_valid_objects() {
    let db = TestDb::migrated();
    // 200 levels: 100 arrays, each holding an object.
    let deep = format!("{}1{}", r#"[{"k":"#.repeat(100), "}]".repeat(100));
    let deep_row = format!(r#"{{"deep":{deep}}}"#);
    put(&db, "deep", Some(&deep_row), Some(1));
    put(&db, "sur", Some(r#"{"s":"\ud800"}"#), Some(1));
    put(&db, "surk", Some(r#"{"\udc00":"h"}"#), Some(1));

    let doc: Dump = db
        .locksmith(&["locks", "dump", "--format", "json"])
        .success_json();
    for row in &doc.rows {
        assert_eq!(
            (row.raw.as_deref(), row.problem.as_deref()),
            (None, None),
            "{row:?}"
        );
    }
    assert_eq!(dump_row(&doc, "deep").locks[0].holder.get(), deep);
    assert_eq!(dump_row(&doc, "sur").locks[0].holder.get(), r#""\ud800""#);
    assert_eq!(dump_row(&doc, "surk").locks[0].name, r#""\udc00""#);
    // The long holder is clipped in the table, which says where it is whole.
    let clipped = format!(
        "deep deep {}… (801 bytes in all; see --format json) unknown: not registered by locksmith 1",
        r#"[{"k":"#.repeat(20)
    );
    db.locksmith(&["locks", "dump"])
        .succeeds_like(&dump_table(&[
            &clipped,
            r#"sur s "\ud800" unknown: not registered by locksmith 1"#,
            r#"surk "\udc00" h unknown: not registered by locksmith 1"#,
        ]));

    for (row, text) in [
        ("deep", deep_row.as_str()),
        ("sur", r#"{"s":"\ud800"}"#),
        ("surk", r#"{"\udc00":"h"}"#),
    ] {
        db.locksmith(&["locks", "acquire", row, "other", "--holder", "h"])
            .success();
        let mid = db.data(row).unwrap();
        assert_eq!(
            mid,
            format!(r#"{{"other":"h",{}"#, &text[1..]),
            "the foreign entry is kept byte for byte"
        );
        db.locksmith(&["locks", "release", row, "other", "--holder", "h"])
            .success();
        assert_eq!(db.data(row).unwrap(), text);
        assert_eq!(db.version(row), 3);
    }
}

#[test]
fn non_object_data_is_shown_raw_and_repaired() {
    let db = TestDb::migrated();
    let raws = [("arr", "[1,2]"), ("str", r#""str""#), ("txt", "not json")];
    // What serde_json says is wrong with each (shown in the repair's plan).
    let why = |id: &str| match id {
        "arr" => "invalid type: sequence, expected a JSON object at line 1 column 0",
        "str" => "invalid type: string \"str\", expected a JSON object at line 1 column 5",
        _ => "expected ident at line 1 column 2",
    };
    for (id, raw) in raws {
        put(&db, id, Some(raw), Some(1));
    }
    let warnings: String = raws
        .iter()
        .map(|(id, _)| {
            format!(
                "locksmith: warning: row `{id}` holds data that is not a JSON object; shown raw\n"
            )
        })
        .collect();
    let r = db.locksmith(&["locks", "dump", "--format", "json"]);
    assert_eq!(r.code, 0, "{r:#?}");
    r.stderr_is(&warnings);
    let doc: Dump = r.json();
    for (id, raw) in raws {
        let row = dump_row(&doc, id);
        assert_eq!(row.raw.as_deref(), Some(raw));
        assert!(row.locks.is_empty());
        assert!(row
            .problem
            .as_deref()
            .unwrap()
            .contains("not a JSON object"));
    }
    let t = db.locksmith(&["locks", "dump"]);
    assert_eq!(t.code, 0, "{t:#?}");
    t.stderr_is(&warnings).stdout_like(&dump_table(&[
        "arr (not a JSON object) [1,2] 1",
        "str (not a JSON object) \"str\" 1",
        "txt (not a JSON object) not json 1",
    ]));

    let before = snapshot(&db);
    for (id, raw) in raws {
        for args in [
            vec!["locks", "acquire", id, "n", "--holder", "h"],
            vec!["locks", "release", id, "n", "--holder", "h"],
            vec!["locks", "force-release", id, "--holder", "h", "--yes"],
            vec!["locks", "force-release", id, "n", "--yes"],
        ] {
            let r = db.locksmith(&args);
            r.fails_with(1, &not_an_object(id, raw));
            unchanged(&db, &before, &r);
        }
        // The plan: no lock is dropped (none can be read), the old text shown.
        let r = db.locksmith(&["locks", "repair", id, "--dry-run"]);
        r.succeeds_with(&format!(
            "row `{id}`: version 1 -> 2 (planned)\n\
             repair: dataJson, which is not a JSON object ({}), is replaced by {{}}\n\
             the old dataJson, verbatim (kept in the audit trail):\n\
             {raw}\n\
             0 lock(s) remain\n\
             Dry run: nothing was changed.\n",
            why(id)
        ));
        unchanged(&db, &before, &r);
    }
    for (id, raw) in raws {
        db.locksmith(&["locks", "repair", id, "--yes"])
            .succeeds_with(&format!(
                "row `{id}`: version 1 -> 2\n\
                 repaired: dataJson, which is not a JSON object ({}), is replaced by {{}}\n\
                 the old dataJson, verbatim (kept in the audit trail):\n\
                 {raw}\n\
                 0 lock(s) remain\n",
                why(id)
            ));
        assert_eq!(db.data(id).as_deref(), Some("{}"));
        let rec = &history(&db, id).records[0];
        assert_eq!(
            (
                rec.action.as_str(),
                rec.removed.is_none(),
                rec.replaced_raw.as_deref()
            ),
            ("repair", true, Some(raw))
        );
        db.locksmith(&["locks", "acquire", id, "n", "--holder", "h"])
            .success();
    }
}

#[test]
fn foreign_text_is_kept_exactly() {
    let db = TestDb::migrated();
    let text = r#"{"a":1E2,"b":-0,"c":"x\/y","d":"\u00e9","e":{"n":[1,2]},"z":"q"}"#;
    put(&db, "f", Some(text), Some(1));
    let with = |extra: &str| format!("{{{extra},{}", &text[1..]);

    db.locksmith(&["locks", "acquire", "f", "other", "--holder", "h"])
        .success();
    assert_eq!(db.data("f").unwrap(), with(r#""other":"h""#));
    db.locksmith(&["locks", "release", "f", "other", "--holder", "h"])
        .success();
    assert_eq!(db.data("f").unwrap(), text);

    // Through `locks run`: held while the command runs, then released.
    db.locksmith(&[
        "locks", "run", "f", "other2", "--holder", "r1", "--", "true",
    ])
    .success();
    assert_eq!(db.data("f").unwrap(), text);

    let doc: Dump = db
        .locksmith(&["locks", "dump", "--format", "json"])
        .success_json();
    let holders: Vec<(&str, &str)> = doc.rows[0]
        .locks
        .iter()
        .map(|l| (l.name.as_str(), l.holder.get()))
        .collect();
    assert_eq!(
        holders,
        [
            ("a", "1E2"),
            ("b", "-0"),
            ("c", r#""x\/y""#),
            ("d", r#""\u00e9""#),
            ("e", r#"{"n":[1,2]}"#),
            ("z", r#""q""#)
        ]
    );

    db.locksmith(&["locks", "release", "f", "z", "--holder", "q"])
        .success();
    assert_eq!(
        db.data("f").unwrap(),
        r#"{"a":1E2,"b":-0,"c":"x\/y","d":"\u00e9","e":{"n":[1,2]}}"#
    );
    // A number holder is matched by its JSON as written, not by its value.
    let before = snapshot(&db);
    let r = db.locksmith(&["locks", "release", "f", "a", "--holder", "100"]);
    r.fails_with(
        4,
        "locksmith: lock `a` in row `f` is held by 1E2, not by 100\n",
    );
    unchanged(&db, &before, &r);
    db.locksmith(&["locks", "release", "f", "a", "--holder", "1E2"])
        .success();
    db.locksmith(&["locks", "release", "f", "c", "--holder", "x/y"])
        .success();
    db.locksmith(&["locks", "release", "f", "d", "--holder", "é"])
        .success();
    assert_eq!(db.data("f").unwrap(), r#"{"b":-0,"e":{"n":[1,2]}}"#);
}

#[test]
fn null_holders_are_shown_as_null_and_matched() {
    let db = TestDb::migrated();
    put(&db, "r", Some(r#"{"n":null,"k":42}"#), Some(1));
    db.locksmith(&["locks", "dump"])
        .succeeds_like(&dump_table(&[
            "r n null unknown: not registered by locksmith 1",
            "r k 42 unknown: not registered by locksmith 1",
        ]));
    let doc: Dump = db
        .locksmith(&["locks", "dump", "--format", "json"])
        .success_json();
    assert_eq!(doc.rows[0].locks[0].holder.get(), "null");

    let before = snapshot(&db);
    let r = db.locksmith(&["locks", "release", "r", "n", "--holder", "other"]);
    r.fails_with(
        4,
        "locksmith: lock `n` in row `r` is held by null, not by other\n",
    );
    unchanged(&db, &before, &r);
    let r = db.locksmith(&["locks", "release", "r", "k", "--holder", "\"42\""]);
    r.fails_with(
        4,
        "locksmith: lock `k` in row `r` is held by 42, not by \"42\"\n",
    );
    unchanged(&db, &before, &r);
    let r = db.locksmith(&["locks", "acquire", "r", "n", "--holder", "other"]);
    r.fails_with(4, "locksmith: lock `n` in row `r` is held by null\n");
    unchanged(&db, &before, &r);
    db.locksmith(&["locks", "release", "r", "n", "--holder", "null"])
        .success();
    assert_eq!(db.data("r").unwrap(), r#"{"k":42}"#);
}

#[test]
fn holders_differing_only_in_spaces_are_told_apart() {
    let db = TestDb::migrated();
    put(&db, "r", Some(r#"{"k":"x "}"#), Some(1));
    let r = db.locksmith(&["locks", "release", "r", "k", "--holder", "x"]);
    r.fails_with(
        4,
        "locksmith: lock `k` in row `r` is held by \"x \", not by x\n",
    );
    let msg = r.stderr.lines().next().unwrap();
    let (held, wanted) = msg
        .split_once("is held by ")
        .and_then(|(_, rest)| rest.split_once(", not by "))
        .unwrap_or_else(|| panic!("{r:#?}"));
    assert_ne!(
        held.trim(),
        wanted.trim(),
        "the message names two holders that look the same: {msg:?}"
    );
}
