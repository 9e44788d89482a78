//! The protocol's limits: awkward lock names, holders beyond the BMP, the
//! TEXT column's size even on a lax server, and workers beside an operator.

use super::*;

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
    // Each new lock goes first.
    let newest_first: Vec<&str> = names.iter().rev().copied().collect();
    assert_eq!(got, newest_first);
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
        Some(r#"{"backup":"t1","party":"\ud83c\udf89"}"#)
    );
    let doc: Dump = db
        .locksmith(&["locks", "dump", "--format", "json"])
        .success_json();
    assert_eq!(
        doc.rows[0].locks[1].holder.get(),
        r#""\ud83c\udf89""#,
        "exactly as stored"
    );
    assert_eq!(json(&doc.rows[0].locks[1].holder), serde_json::json!("🎉"));
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
        // Too long for the holder registry: taken, but not registered.
        let r = acquire(&at_limit);
        assert_eq!(r.code, 0, "{r:#?}");
        r.no_stdout().stderr_is(&format!(
            "locksmith: warning: the holder is not registered, so others cannot tell whether it is alive: a holder of {} characters cannot be registered for liveness; the registry holds at most 255\n",
            at_limit.len()
        ));
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
