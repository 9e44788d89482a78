//! Rows whose version (NULL, a text, the INT maximum) or `ts` column
//! (milliseconds) holds what locksmith never writes: shown, refused by lock
//! writes with the way out, and mended by `repair`.

use super::*;

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
    t.stderr_is(&r.stderr).stdout_like(&dump_table(&[
        "good a t1 unknown: not registered by locksmith 3",
        "nullv x h unknown: not registered by locksmith NULL",
    ]));

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
    db.locksmith(&["locks", "history"])
        .succeeds_like(&history_table(&[
            "1 <TIME> <ME> (<USER>@%) repair nullv -: repaired; the data was {\"x\":\"h\"}",
        ]));

    // Mended: lock writes work again, and a second repair has nothing to do.
    db.locksmith(&["locks", "acquire", "nullv", "y", "--holder", "h"])
        .success();
    assert_eq!(db.data("nullv").as_deref(), Some(r#"{"y":"h","x":"h"}"#));
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
    // A repair mends the version and leaves the text as its writer spaced it.
    assert_eq!(
        db.data("spaced").as_deref(),
        Some(r#"{"x": "h", "y": "g"}"#)
    );
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
    t.stderr_is(&r.stderr).stdout_like(&dump_table(&[
        "good a t1 unknown: not registered by locksmith 3",
        "txt x h unknown: not registered by locksmith `abc`",
    ]));

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
    db.locksmith(&["locks", "dump"])
        .succeeds_like(&dump_table(&[
            "r a t1 unknown: not registered by locksmith 1",
        ]));
    let doc: Dump = db
        .locksmith(&["locks", "dump", "--format", "json"])
        .success_json();
    let row = dump_row(&doc, "r");
    assert!(row.changed_at.as_deref().unwrap().ends_with('Z'), "{row:?}");
    assert!((0..120).contains(&row.age_seconds.unwrap()), "{row:?}");
    db.locksmith(&["locks", "acquire", "r", "b", "--holder", "h"])
        .success();
    db.locksmith(&["locks", "dump", "r"])
        .succeeds_like(&dump_table(&[
            // `locks acquire` registered the process that ran it (this
            // test) as the one whose life the lock follows.
            &format!(
                "r b h alive: PID {} is running on this host 2",
                std::process::id()
            ),
            "r a t1 unknown: not registered by locksmith 2",
        ]));
}
