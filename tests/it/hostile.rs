//! Hardening (issue 11): rows other writers (or an altered table) left in
//! states locksmith never writes, stored text made to fool a terminal,
//! awkward URLs, a damaged migration history, numbers out of range. Each
//! test checks the message, the exit status and that nothing changed that
//! should not have.

use crate::harness::*;
use locksmith::cli::output::{Dump, DumpRow, HistoryDoc};

type Rows = Vec<Vec<Option<String>>>;

/// Inserts a row as another writer would, with any data and version.
fn put(db: &TestDb, id: &str, data: Option<&str>, version: Option<i64>) {
    db.exec(
        "INSERT INTO locks (id, dataJson, version) VALUES (?, ?, ?)",
        (id.to_string(), data.map(str::to_string), version),
    );
}

/// Everything a lock command could change: the rows and the audit trail.
fn snapshot(db: &TestDb) -> (Rows, Rows) {
    (
        db.rows("SELECT id, version, dataJson, ts FROM locks ORDER BY id"),
        db.rows("SELECT * FROM locks_audit ORDER BY id"),
    )
}

#[track_caller]
fn unchanged(db: &TestDb, before: &(Rows, Rows), after_what: &Run) {
    assert_eq!(
        &snapshot(db),
        before,
        "the tables changed after {after_what:#?}"
    );
}

/// The JSON text without whitespace (MariaDB's JSON functions may change
/// the spacing between entries, never anything else).
fn squash(s: &str) -> String {
    s.chars().filter(|c| !c.is_ascii_whitespace()).collect()
}

fn dump_row<'a>(doc: &'a Dump, id: &str) -> &'a DumpRow {
    doc.rows
        .iter()
        .find(|r| r.row == id)
        .unwrap_or_else(|| panic!("no row {id:?} in {doc:#?}"))
}

fn history(db: &TestDb, row: &str) -> HistoryDoc {
    db.locksmith(&["locks", "history", "--format", "json", row])
        .success_json()
}

/// What a lock write says of a row it cannot write safely.
fn unsafe_row(id: &str, why: &str) -> String {
    format!(
        "locksmith: row `{id}` cannot be written safely: {why}\n\
         hint: look with `locksmith locks dump {id}`; `locksmith locks repair {id}` mends it, and shows first every lock it would drop\n"
    )
}

/// What a lock write says of a row whose data is not a JSON object.
fn not_an_object(id: &str, raw: &str) -> String {
    format!(
        "locksmith: row `{id}` holds data that is not a JSON object: {raw}\n\
         hint: inspect it with `locksmith locks dump {id}`; `locksmith locks repair {id}` replaces it with {{}} and keeps the old text in the audit trail\n"
    )
}

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

// ---- rows ------------------------------------------------------------------

#[test]
fn null_version_row_is_shown_and_repaired() {
    let db = TestDb::migrated();
    put(&db, "good", Some(r#"{"a":"t1"}"#), Some(3));
    put(&db, "nullv", Some(r#"{"x":"h"}"#), None);

    let r = db.locksmith(&["locks", "dump", "--format", "json"]);
    assert_eq!(r.code, 0, "{r:#?}");
    assert_eq!(
        r.stderr,
        "locksmith: warning: row `nullv`: its version is NULL; `locksmith locks repair nullv` mends it\n"
    );
    let doc: Dump = r.json();
    assert_eq!(doc.rows.len(), 2);
    let good = dump_row(&doc, "good");
    assert_eq!((good.version, good.problem.as_deref()), (Some(3), None));
    assert_eq!(good.locks.len(), 1);
    let bad = dump_row(&doc, "nullv");
    assert_eq!(
        (bad.version, bad.version_text.as_deref(), bad.raw.as_deref()),
        (None, None, None)
    );
    assert_eq!(bad.problem.as_deref(), Some("its version is NULL"));
    assert_eq!(bad.locks[0].name, "x");
    assert_eq!(bad.locks[0].holder.get(), r#""h""#);
    let t = db.locksmith(&["locks", "dump"]);
    assert_eq!(t.code, 0, "{t:#?}");
    t.stderr_is(&r.stderr).stdout_like(
        "+-+\n\
         | ROW LOCK HOLDER VERSION LAST CHANGE AGE |\n\
         +=+\n\
         | good a t1 3 <TIME> <AGE> |\n\
         | nullv x h NULL <TIME> <AGE> |\n\
         +-+\n",
    );

    // Operator writes refuse it too, naming the problem and the way out.
    let before = snapshot(&db);
    for args in [
        vec!["locks", "bump", "nullv", "--yes"],
        vec!["locks", "force-release", "nullv", "x", "--yes"],
        vec!["locks", "force-release", "nullv", "--all", "--yes"],
    ] {
        let r = db.locksmith(&args);
        r.fails_with(1, &unsafe_row("nullv", "its version is NULL"));
        unchanged(&db, &before, &r);
    }

    let r = db.locksmith(&["locks", "repair", "nullv", "--dry-run"]);
    r.succeeds_with(
        "row `nullv`: version NULL -> 1 (planned)\n\
         repair: version NULL starts over at 1\n\
         the old dataJson, verbatim (kept in the audit trail):\n\
         {\"x\":\"h\"}\n\
         1 lock(s) remain\n\
         Dry run: nothing was changed.\n",
    );
    unchanged(&db, &before, &r);

    db.locksmith(&["locks", "repair", "nullv", "--yes"])
        .succeeds_with(
            "row `nullv`: version NULL -> 1\n\
             repaired: version NULL starts over at 1\n\
             the old dataJson, verbatim (kept in the audit trail):\n\
             {\"x\":\"h\"}\n\
             1 lock(s) remain\n",
        );
    assert_eq!(db.version("nullv"), 1);
    assert_eq!(db.data("nullv").as_deref(), Some(r#"{"x":"h"}"#));
    let h = history(&db, "nullv");
    assert_eq!(h.records.len(), 1, "{h:#?}");
    let rec = &h.records[0];
    assert_eq!(
        (
            rec.action.as_str(),
            rec.version_before,
            rec.version_after,
            rec.removed.is_none(),
            rec.replaced_raw.as_deref()
        ),
        ("repair", None, Some(1), true, Some(r#"{"x":"h"}"#))
    );
    assert_eq!(rec.command, "locksmith locks repair nullv --yes");
    db.locksmith(&["locks", "history"]).succeeds_like(
        "+-+\n\
         | # AT WHO ACTION ROW CHANGE |\n\
         +=+\n\
         | 1 <TIME> <ME> (<USER>@%) repair nullv -: repaired; the data was {\"x\":\"h\"} |\n\
         +-+\n",
    );

    // Mended: lock writes work again, and a second repair has nothing to do.
    db.locksmith(&["locks", "acquire", "nullv", "y", "--holder", "h"])
        .success();
    assert_eq!(squash(&db.data("nullv").unwrap()), r#"{"x":"h","y":"h"}"#);
    assert_eq!(db.version("nullv"), 2);
    db.locksmith(&["locks", "repair", "nullv", "--yes"])
        .succeeds_with("row `nullv` needs no repair; nothing was changed\n");
    // The good row was never touched.
    assert_eq!(db.version("good"), 3);
    assert_eq!(db.data("good").as_deref(), Some(r#"{"a":"t1"}"#));
}

#[test]
fn null_version_row_refuses_lock_writes() {
    let db = TestDb::migrated();
    put(&db, "nullv", Some(r#"{"x":"h"}"#), None);
    let before = snapshot(&db);
    for args in [
        vec!["locks", "acquire", "nullv", "y", "--holder", "h"],
        vec!["locks", "release", "nullv", "x", "--holder", "h"],
        vec!["locks", "run", "nullv", "y", "--holder", "h", "--", "true"],
    ] {
        let r = db.locksmith(&args);
        r.fails_with(1, &unsafe_row("nullv", "its version is NULL"));
        unchanged(&db, &before, &r);
    }
}

#[test]
fn repair_mends_a_row_whose_json_has_spaces() {
    let db = TestDb::migrated();
    put(&db, "spaced", Some(r#"{"x": "h", "y": "g"}"#), None);
    db.locksmith(&["locks", "repair", "spaced", "--yes"])
        .succeeds_with(
            "row `spaced`: version NULL -> 1\n\
             repaired: version NULL starts over at 1\n\
             the old dataJson, verbatim (kept in the audit trail):\n\
             {\"x\": \"h\", \"y\": \"g\"}\n\
             2 lock(s) remain\n",
        );
    assert_eq!(db.version("spaced"), 1);
    assert_eq!(squash(&db.data("spaced").unwrap()), r#"{"x":"h","y":"g"}"#);
    // The old text is kept verbatim in the audit trail, spaces included.
    let h = history(&db, "spaced");
    assert_eq!(
        h.records[0].replaced_raw.as_deref(),
        Some(r#"{"x": "h", "y": "g"}"#)
    );
}

#[test]
fn max_version_row_refuses_and_repair_mends() {
    let db = TestDb::migrated();
    put(&db, "good", Some("{}"), Some(3));
    put(&db, "max", Some(r#"{"x":"h"}"#), Some(2147483647));
    let says = unsafe_row(
        "max",
        "its version is 2147483647, the most the INT column holds, so no write can move it on",
    );
    let before = snapshot(&db);
    for args in [
        vec!["locks", "acquire", "max", "y", "--holder", "h"],
        vec!["locks", "release", "max", "x", "--holder", "h"],
        vec!["locks", "run", "max", "y", "--", "true"],
        vec!["locks", "bump", "max", "--yes"],
        vec!["locks", "force-release", "max", "x", "--yes"],
    ] {
        let r = db.locksmith(&args);
        r.fails_with(1, &says);
        unchanged(&db, &before, &r);
    }
    // A bump that would overflow a sound row says so in its own words.
    let r = db.locksmith(&["locks", "bump", "good", "--by", "2147483647", "--yes"]);
    r.fails_with(2, "locksmith: bumping row `good` (version 3) by 2147483647 would take its version past 2147483647, the most the INT column holds; nothing was changed\n");
    unchanged(&db, &before, &r);

    db.locksmith(&["locks", "repair", "max", "--yes"])
        .succeeds_with(
            "row `max`: version 2147483647 -> 1\n\
             repaired: version 2147483647 starts over at 1\n\
             the old dataJson, verbatim (kept in the audit trail):\n\
             {\"x\":\"h\"}\n\
             1 lock(s) remain\n",
        );
    let rec = &history(&db, "max").records[0];
    assert_eq!(
        (
            rec.action.as_str(),
            rec.version_before,
            rec.version_after,
            rec.replaced_raw.as_deref()
        ),
        ("repair", Some(2147483647), Some(1), Some(r#"{"x":"h"}"#))
    );
    db.locksmith(&["locks", "acquire", "max", "y", "--holder", "h"])
        .success();
    assert_eq!(db.version("max"), 2);
}

#[test]
fn text_version_is_shown_and_repaired() {
    let db = TestDb::migrated();
    db.sql("ALTER TABLE locks MODIFY version VARCHAR(16)");
    put(&db, "good", Some(r#"{"a":"t1"}"#), Some(3));
    db.sql(r#"INSERT INTO locks (id, dataJson, version) VALUES ('txt', '{"x":"h"}', 'abc')"#);

    let r = db.locksmith(&["locks", "dump", "--format", "json"]);
    assert_eq!(r.code, 0, "{r:#?}");
    assert_eq!(
        r.stderr,
        "locksmith: warning: row `txt`: its version is `abc`, not a number; `locksmith locks repair txt` mends it\n"
    );
    let doc: Dump = r.json();
    assert_eq!(dump_row(&doc, "good").version, Some(3));
    let txt = dump_row(&doc, "txt");
    assert_eq!(
        (
            txt.version,
            txt.version_text.as_deref(),
            txt.problem.as_deref()
        ),
        (
            None,
            Some("abc"),
            Some("its version is `abc`, not a number")
        )
    );
    assert_eq!(txt.locks.len(), 1);
    let t = db.locksmith(&["locks", "dump"]);
    assert_eq!(t.code, 0, "{t:#?}");
    t.stderr_is(&r.stderr).stdout_like(
        "+-+\n\
         | ROW LOCK HOLDER VERSION LAST CHANGE AGE |\n\
         +=+\n\
         | good a t1 3 <TIME> <AGE> |\n\
         | txt x h `abc` <TIME> <AGE> |\n\
         +-+\n",
    );

    let before = snapshot(&db);
    for args in [
        vec!["locks", "acquire", "txt", "y", "--holder", "h"],
        vec!["locks", "release", "txt", "x", "--holder", "h"],
        vec!["locks", "bump", "txt", "--yes"],
    ] {
        let r = db.locksmith(&args);
        r.fails_with(1, &unsafe_row("txt", "its version is `abc`, not a number"));
        unchanged(&db, &before, &r);
    }
    db.locksmith(&["locks", "repair", "txt", "--yes"])
        .succeeds_with(
            "row `txt`: version `abc` -> 1\n\
             repaired: version `abc` starts over at 1\n\
             the old dataJson, verbatim (kept in the audit trail):\n\
             {\"x\":\"h\"}\n\
             1 lock(s) remain\n",
        );
    assert_eq!(db.version("txt"), 1);
    let rec = &history(&db, "txt").records[0];
    assert_eq!(
        (rec.version_before, rec.replaced_raw.as_deref()),
        (None, Some(r#"{"x":"h"}"#))
    );
    db.locksmith(&["locks", "acquire", "txt", "y", "--holder", "h"])
        .success();
    assert_eq!(db.version("txt"), 2);
}

#[test]
fn millisecond_ts_column_is_read() {
    let db = TestDb::migrated();
    db.sql(
        "ALTER TABLE locks MODIFY ts TIMESTAMP(3) NULL DEFAULT CURRENT_TIMESTAMP(3) ON UPDATE CURRENT_TIMESTAMP(3)",
    );
    put(&db, "r", Some(r#"{"a":"t1"}"#), Some(1));
    db.locksmith(&["locks", "dump"]).succeeds_like(
        "+-+\n\
         | ROW LOCK HOLDER VERSION LAST CHANGE AGE |\n\
         +=+\n\
         | r a t1 1 <TIME> <AGE> |\n\
         +-+\n",
    );
    let doc: Dump = db
        .locksmith(&["locks", "dump", "--format", "json"])
        .success_json();
    let row = dump_row(&doc, "r");
    assert!(row.changed_at.as_deref().unwrap().ends_with('Z'), "{row:?}");
    assert!((0..120).contains(&row.age_seconds.unwrap()), "{row:?}");
    db.locksmith(&["locks", "acquire", "r", "b", "--holder", "h"])
        .success();
    db.locksmith(&["locks", "dump", "r"]).succeeds_like(
        "+-+\n\
         | ROW LOCK HOLDER VERSION LAST CHANGE AGE |\n\
         +=+\n\
         | r a t1 2 <TIME> <AGE> |\n\
         | r b h 2 <TIME> <AGE> |\n\
         +-+\n",
    );
}

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
    t.stderr_is(&r.stderr).stdout_like(
        "+-+\n\
         | ROW LOCK HOLDER VERSION LAST CHANGE AGE |\n\
         +=+\n\
         | d b x 1 <TIME> <AGE> |\n\
         | d b y 1 <TIME> <AGE> |\n\
         +-+\n",
    );

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
    db.locksmith(&["locks", "dump"]).succeeds_like(&format!(
        "+-+\n\
         | ROW LOCK HOLDER VERSION LAST CHANGE AGE |\n\
         +=+\n\
         | deep deep {}… (801 bytes in all; see --format json) 1 <TIME> <AGE> |\n\
         | sur s \"\\ud800\" 1 <TIME> <AGE> |\n\
         | surk \"\\udc00\" h 1 <TIME> <AGE> |\n\
         +-+\n",
        r#"[{"k":"#.repeat(20)
    ));

    for (row, text) in [
        ("deep", deep_row.as_str()),
        ("sur", r#"{"s":"\ud800"}"#),
        ("surk", r#"{"\udc00":"h"}"#),
    ] {
        db.locksmith(&["locks", "acquire", row, "other", "--holder", "h"])
            .success();
        let mid = db.data(row).unwrap();
        assert_eq!(
            squash(&mid),
            format!(r#"{},"other":"h"}}"#, &text[..text.len() - 1]),
            "the foreign entry is kept byte for byte"
        );
        db.locksmith(&["locks", "release", row, "other", "--holder", "h"])
            .success();
        assert_eq!(squash(&db.data(row).unwrap()), text);
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
    t.stderr_is(&warnings).stdout_like(
        "+-+\n\
         | ROW LOCK HOLDER VERSION LAST CHANGE AGE |\n\
         +=+\n\
         | arr (not a JSON object) [1,2] 1 <TIME> <AGE> |\n\
         | str (not a JSON object) \"str\" 1 <TIME> <AGE> |\n\
         | txt (not a JSON object) not json 1 <TIME> <AGE> |\n\
         +-+\n",
    );

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
    let with = |extra: &str| format!("{},{extra}}}", &text[..text.len() - 1]);

    db.locksmith(&["locks", "acquire", "f", "other", "--holder", "h"])
        .success();
    assert_eq!(squash(&db.data("f").unwrap()), with(r#""other":"h""#));
    db.locksmith(&["locks", "release", "f", "other", "--holder", "h"])
        .success();
    assert_eq!(squash(&db.data("f").unwrap()), text);

    // Through `locks run`: held while the command runs, then released.
    db.locksmith(&[
        "locks", "run", "f", "other2", "--holder", "r1", "--", "true",
    ])
    .success();
    assert_eq!(squash(&db.data("f").unwrap()), text);

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
        squash(&db.data("f").unwrap()),
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
    assert_eq!(
        squash(&db.data("f").unwrap()),
        r#"{"b":-0,"e":{"n":[1,2]}}"#
    );
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
    t.stderr_is(warnings).stdout_like(&format!(
        "+-+\n\
         | ROW LOCK HOLDER VERSION LAST CHANGE AGE |\n\
         +=+\n\
         | dup e\\u{{1b}} 1 1 <TIME> <AGE> |\n\
         | dup e\\u{{1b}} 2 1 <TIME> <AGE> |\n\
         | plainrow busy {sholder} 1 <TIME> <AGE> |\n\
         | {sid} {sname} {sholder} 1 <TIME> <AGE> |\n\
         | {sid} plain p\\u{{1b}}[31m 1 <TIME> <AGE> |\n\
         | rawrow (not a JSON object) not json \\u{{1b}}[31m\\r\\n 1 <TIME> <AGE> |\n\
         +-+\n"
    ));
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
    h.succeeds_like(&format!(
        "+-+\n\
         | # AT WHO ACTION ROW CHANGE |\n\
         +=+\n\
         | 1 <TIME> <ME> (<USER>@%) release-all {sid} 1 -> 2: released {sname} (held by {sholder}) |\n\
         | released plain (held by p\\u{{1b}}[31m) |\n\
         +-+\n"
    ));
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
    let table = "+-+\n\
                 | ROW LOCK HOLDER VERSION LAST CHANGE AGE |\n\
                 +=+\n\
                 | \"plat \" a b 1 <TIME> <AGE> |\n\
                 +-+\n";
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

#[test]
fn null_holders_are_shown_as_null_and_matched() {
    let db = TestDb::migrated();
    put(&db, "r", Some(r#"{"n":null,"k":42}"#), Some(1));
    db.locksmith(&["locks", "dump"]).succeeds_like(
        "+-+\n\
         | ROW LOCK HOLDER VERSION LAST CHANGE AGE |\n\
         +=+\n\
         | r n null 1 <TIME> <AGE> |\n\
         | r k 42 1 <TIME> <AGE> |\n\
         +-+\n",
    );
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
    assert_eq!(squash(&db.data("r").unwrap()), r#"{"k":42}"#);
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

/// `--wait 0` is one try, as no `--wait` is: a free lock is taken (exit
/// 0), a held one is refused at once, naming its holder (exit 4; a wait
/// would have said `waiting: …` first).
#[test]
fn zero_wait_is_one_try() {
    let db = TestDb::migrated();
    let acquire = |holder: &str| {
        db.locksmith(&[
            "locks", "acquire", "r", "n", "--holder", holder, "--wait", "0",
        ])
    };
    acquire("h").success();
    assert_eq!(squash(&db.data("r").unwrap()), r#"{"n":"h"}"#);
    let before = snapshot(&db);
    let r = acquire("other");
    r.fails_with(4, "locksmith: lock `n` in row `r` is held by h\n");
    unchanged(&db, &before, &r);
}

// ---- URLs ------------------------------------------------------------------

fn port(db: &TestDb) -> u16 {
    db.addr().rsplit_once(':').unwrap().1.parse().unwrap()
}

#[test]
fn url_ipv6_literal() {
    // A server that listens on ::1 too, where this machine has IPv6
    // loopback: then a bracketed literal must migrate, lock and dump.
    if std::net::TcpListener::bind(("::1", 0)).is_ok() {
        static V6: std::sync::OnceLock<Throwaway> = std::sync::OnceLock::new();
        let server =
            V6.get_or_init(|| Throwaway::start(1, &["--bind-address=127.0.0.1,::1".to_string()]));
        let db = TestDb::on(server, 0);
        let p = server.node(0).port;
        let url = format!("mysql://{}:{}@[::1]:{p}/{}", user(), password(), db.name);
        let r = locksmith_bare(&["migrate", "up", "--url", &url, "--verbose"]);
        r.no_secret();
        assert_eq!(r.code, 0, "{r:#?}");
        assert_eq!(
            r.stderr,
            format!(
                "locksmith: connected to [::1]:{p} (MariaDB {}) without TLS\n",
                server_version(&db)
            ),
        );
        r.stdout_is(UP_FRESH);
        locksmith_bare(&[
            "locks", "acquire", "platform", "backup", "--holder", "v6", "--url", &url,
        ])
        .success();
        let r = locksmith_bare(&["locks", "dump", "--format", "json", "--url", &url]);
        r.no_secret();
        let dump: Dump = r.success_json();
        let held: Vec<(&str, &str)> = dump.rows[0]
            .locks
            .iter()
            .map(|l| (l.name.as_str(), l.holder.get()))
            .collect();
        assert_eq!(held, [("backup", "\"v6\"")]);
        locksmith_bare(&[
            "locks", "release", "platform", "backup", "--holder", "v6", "--url", &url,
        ])
        .success();
        return;
    }
    // No IPv6 here: the literal still parses, and the connect goes to ::1
    // (refused), not to a name lookup.
    let db = TestDb::migrated();
    let p = port(&db);
    let url = format!("mysql://{}:{}@[::1]:{p}/{}", user(), password(), db.name);
    let r = locksmith_bare(&["locks", "dump", "--url", &url]);
    r.no_secret();
    // The hole is the OS's words for the refusal.
    r.fails(3).stderr_matches(&format!(
        "locksmith: cannot connect to mysql://{}:\\*\\*\\*@\\[::1\\]:{p}/{}: .*\n",
        user(),
        db.name
    ));
    assert!(!r.stderr.contains("did not resolve"), "{r:#?}");
    assert!(!r.stderr.contains("lookup"), "{r:#?}");
}

/// The server's version, as `--verbose` names it (`10.11.19`).
fn server_version(db: &TestDb) -> String {
    let v = db.scalar("SELECT VERSION()").unwrap();
    v.split('-').next().unwrap().to_string()
}

/// A URL for this database whose password is the real one with `extra`
/// appended, unencoded.
fn url_with_password_suffix(db: &TestDb, extra: &str) -> String {
    format!(
        "mysql://{}:{}{extra}@{}/{}",
        user(),
        password(),
        db.addr(),
        db.name
    )
}

/// Asserts a URL whose password holds `extra`, unencoded, is refused with
/// `says` after the URL (shown without its password), changing nothing.
#[track_caller]
fn refuses_unencoded(db: &TestDb, extra: &str, says: &str) {
    let url = url_with_password_suffix(db, extra);
    let before = snapshot(db);
    let r = locksmith_bare(&["locks", "dump", "--url", &url]);
    r.fails_with(
        2,
        &format!(
            "locksmith: invalid database URL mysql://{}:***@{}/{}: {says}\n",
            user(),
            db.addr(),
            db.name,
        ),
    )
    .no_secret();
    unchanged(db, &before, &r);
}

#[test]
fn url_password_with_unencoded_slash() {
    refuses_unencoded(
        &TestDb::migrated(),
        "/x",
        "an `@` after the host part: the password or user name holds a character that is not percent-encoded; \
         if the password or user name contains @, :, /, ? or #, percent-encode it (%40, %3A, %2F, %3F, %23)",
    );
}

#[test]
fn url_password_with_unencoded_at() {
    refuses_unencoded(
        &TestDb::migrated(),
        "@x",
        "the user name or password holds an `@` that is not percent-encoded; write it as %40 \
         (if the password or user name contains @, :, /, ? or #, percent-encode it (%40, %3A, %2F, %3F, %23))",
    );
}

#[test]
fn url_password_with_unencoded_colon() {
    // RFC 3986 lets a password hold `:`, so the URL is sent as written; the
    // refusal says the `:` may be the mistake.
    let db = TestDb::migrated();
    let url = url_with_password_suffix(&db, ":x");
    let before = snapshot(&db);
    let r = locksmith_bare(&["locks", "dump", "--url", &url]);
    r.fails_like(3, &format!(
        "locksmith: access denied for mysql://<USER>:***@{}/{}: Access denied for user '<USER>'@'<CLIENT>' (using password: YES); the password came from the URL (--url); the password in the URL holds a `:` that is not percent-encoded; if it is not part of the password, fix the URL (a `:` in a password is written %3A)\n\
         hint: check the user name and password (an account created REQUIRE X509 also needs ssl-cert= and ssl-key= in the URL)\n",
        db.addr(),
        db.name
    ))
    .no_secret();
    unchanged(&db, &before, &r);
}

#[test]
fn url_missing_database() {
    let db = TestDb::new();
    let missing = unique_name("missing");
    let url = format!("mysql://{}:{}@{}/{missing}", user(), password(), db.addr());
    let r = locksmith_bare(&["locks", "dump", "--url", &url]);
    r.fails_with(
        5,
        &format!(
            "locksmith: database `{missing}` does not exist on mysql://{}:***@{}/{missing}\n\
             hint: create it first (CREATE DATABASE `{missing}`), or fix the name in the URL\n",
            user(),
            db.addr()
        ),
    )
    .no_secret();
}

#[test]
fn url_with_an_extra_path_segment() {
    let db = TestDb::migrated();
    let url = format!("{}/extra", db.url());
    let before = snapshot(&db);
    let r = locksmith_bare(&["locks", "dump", "--url", &url]);
    r.fails_with(
        2,
        &format!(
            "locksmith: invalid database URL mysql://{user}:***@{addr}/{name}/extra: unexpected path `/{name}/extra`: a URL names one database, as in mysql://user:pass@host:port/db; if the password or user name contains @, :, /, ? or #, percent-encode it (%40, %3A, %2F, %3F, %23)\n",
            user = user(),
            addr = db.addr(),
            name = db.name
        ),
    )
    .no_secret();
    unchanged(&db, &before, &r);
}

#[test]
fn url_host_that_does_not_resolve() {
    let r = locksmith_bare(&[
        "locks",
        "dump",
        "--url",
        "mysql://u:secret-pw@no-such-host.invalid/db",
    ]);
    // The hole is the resolver's own words, which differ between systems.
    r.fails(3).stderr_matches(concat!(
        r"locksmith: cannot connect to mysql://u:\*\*\*@no-such-host\.invalid:3306/db: the host name `no-such-host\.invalid` did not resolve \(.*\)\n",
        r"hint: check the host name in the URL \(and the DNS or /etc/hosts of this machine\)\n",
    ));
    assert!(!r.stderr.contains("secret-pw"), "{r:#?}");
}

// ---- the migration history -------------------------------------------------

#[track_caller]
fn damaged_history(set: &str, says: &str) {
    let db = TestDb::migrated();
    db.sql(&format!("UPDATE refinery_schema_history SET {set}"));
    let tables = "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() ORDER BY TABLE_NAME";
    let history = "SELECT * FROM refinery_schema_history ORDER BY version";
    let before = (db.rows(tables), db.rows(history), snapshot(&db));
    for args in [
        vec!["migrate", "status"],
        vec!["migrate", "status", "--format", "json"],
        vec!["migrate", "status", "--check"],
        vec!["migrate", "up"],
        vec!["migrate", "up", "--dry-run"],
        vec!["migrate", "down", "--dry-run"],
    ] {
        let r = db.locksmith(&args);
        r.fails_with(
            1,
            &format!("locksmith: unexpected value in table `refinery_schema_history`, {says}"),
        );
        assert_eq!(
            (db.rows(tables), db.rows(history), snapshot(&db)),
            before,
            "{r:#?}"
        );
    }
}

#[test]
fn history_with_a_null_checksum() {
    damaged_history(
        "checksum = NULL WHERE version = 1",
        "column `checksum` of row `version 1`: NULL\n",
    );
}

#[test]
fn history_with_a_null_name() {
    damaged_history(
        "name = NULL WHERE version = 2",
        "column `name` of row `version 2`: NULL\n",
    );
}

#[test]
fn history_with_a_garbage_applied_on() {
    damaged_history(
        "applied_on = 'yesterday-ish' WHERE version = 1",
        "column `applied_on` of row `version 1`: the text \"yesterday-ish\", not an RFC 3339 time as refinery writes it\n",
    );
}

// ---- durations and numbers -------------------------------------------------

/// A usage error found by the argument parser: exit 2, `locksmith: SAYS`
/// and the parser's pointer to `--help` on stderr, nothing changed.
#[track_caller]
fn usage_error(args: &[&str], says: &str) {
    let db = TestDb::migrated();
    put(&db, "r", Some("{}"), Some(1));
    let before = snapshot(&db);
    let r = db.locksmith(args);
    r.fails_with(
        2,
        &format!("locksmith: {says}\n\nFor more information, try '--help'.\n"),
    );
    unchanged(&db, &before, &r);
}

#[test]
fn wait_of_1e19_seconds() {
    usage_error(
        &[
            "locks", "acquire", "r", "n", "--holder", "h", "--wait", "1e19",
        ],
        "invalid value '1e19' for '--wait <DURATION>': is longer than ten years, the most locksmith waits for anything",
    );
}

#[test]
fn lock_timeout_of_1e20_seconds() {
    usage_error(
        &["migrate", "up", "--lock-timeout", "1e20"],
        "invalid value '1e20' for '--lock-timeout <DURATION>': is longer than ten years, the most locksmith waits for anything",
    );
}

#[test]
fn timeout_of_99999999999s() {
    usage_error(
        &["--timeout", "99999999999s", "locks", "dump"],
        "invalid value '99999999999s' for '--timeout <DURATION>': is longer than ten years, the most locksmith waits for anything",
    );
}

#[test]
fn bench_with_no_workers() {
    usage_error(
        &["bench", "--workers", "0"],
        "invalid value '0' for '--workers <WORKERS>': 0 is not in 1..=1024",
    );
}

#[test]
fn bench_with_5000_workers() {
    usage_error(
        &["bench", "--workers", "5000"],
        "invalid value '5000' for '--workers <WORKERS>': 5000 is not in 1..=1024",
    );
}

#[test]
fn bump_by_zero() {
    usage_error(
        &["locks", "bump", "r", "--by", "0", "--yes"],
        "invalid value '0' for '--by <N>': 0 is not in 1..=2147483647",
    );
}

#[test]
fn expect_version_below_zero() {
    usage_error(
        &["locks", "bump", "r", "--expect-version", "-1", "--yes"],
        "unexpected argument '-1' found\n\n  tip: to pass '-1' as a value, use '-- -1'\n\nUsage: locksmith locks bump [OPTIONS] <ROW>",
    );
    usage_error(
        &["locks", "bump", "r", "--expect-version=-1", "--yes"],
        "invalid value '-1' for '--expect-version <V>': -1 is not in 0..=2147483647",
    );
}
