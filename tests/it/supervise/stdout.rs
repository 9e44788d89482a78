//! An exit status means what it says when stdout cannot be written: an
//! `acquire` that cannot report releases again, a change that landed says
//! so.

use super::*;

/// Runs `locksmith ARGS` with stdout going to `stdout`.
fn with_stdout(db: &TestDb, args: &[&str], stdout: impl Into<Stdio>) -> Run {
    let mut cmd: Command = db.command(args);
    cmd.stdin(Stdio::null())
        .stdout(stdout)
        .stderr(Stdio::piped());
    Run::from(cmd.output().unwrap())
}

fn dev_full() -> std::fs::File {
    std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .unwrap()
}

/// A pipe whose reader has gone: writing to it fails with EPIPE.
fn closed_pipe() -> std::io::PipeWriter {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    writer
}

const FULL: &str = "No space left on device (os error 28)";

const CLOSED: &str = "its reader has gone away (broken pipe)";

#[test]
fn an_acquire_that_cannot_say_it_holds_the_lock_does_not_keep_it() {
    let db = TestDb::migrated();
    let acquire = ["locks", "acquire", "platform", "backup", "--holder", "t1"];
    let json = [&acquire[..], &["--format", "json"]].concat();
    let released = |why: &str| {
        format!("locksmith: cannot write to stdout: {why}; released lock `backup` in row `platform` again, so it is not held by t1\n")
    };
    // Not held before: taken, then released again, exit 1.
    for (stdout, why) in [
        (Stdio::from(dev_full()), FULL),
        (Stdio::from(closed_pipe()), CLOSED),
    ] {
        let r = with_stdout(&db, &json, stdout);
        assert_eq!((r.code, r.stderr.clone()), (1, released(why)), "{r:#?}");
        assert_eq!(holder_of(&db, "platform", "backup"), None, "not held");
    }
    // Held by t1 before: that earlier acquire told its caller, so the
    // lock stays as it was; this one still exits 1.
    db.locksmith(&acquire).success();
    let r = with_stdout(&db, &json, dev_full());
    assert_eq!(
        (r.code, r.stderr.as_str()),
        (1, format!("locksmith: cannot write to stdout: {FULL}; lock `backup` in row `platform` stays held by t1, which held it before this command\n").as_str()),
        "{r:#?}"
    );
    assert_eq!(
        holder_of(&db, "platform", "backup"),
        Some(serde_json::json!("t1"))
    );
    db.locksmith(&["locks", "release", "platform", "backup", "--holder", "t1"])
        .success();
    // Without --format json, acquire writes nothing: nothing can fail.
    let r = with_stdout(&db, &acquire, dev_full());
    assert_eq!((r.code, r.stderr.as_str()), (0, ""), "{r:#?}");
    assert_eq!(
        holder_of(&db, "platform", "backup"),
        Some(serde_json::json!("t1"))
    );
}

#[test]
fn a_change_whose_output_fails_says_it_was_made() {
    let db = TestDb::migrated();
    db.sql(
        "INSERT INTO locks (id, dataJson, version) VALUES \
         ('bad', '[1,2]', 7), ('ok', '{\"a\": \"h1\", \"b\": \"h2\"}', 3)",
    );
    let made = |lines: &[&str]| {
        let mut s = format!("locksmith: cannot write to stdout: {FULL}; the change was made:\n");
        for l in lines {
            s.push_str(&format!("locksmith:   {l}\n"));
        }
        s
    };
    // (command, stderr, the row's dataJson and version afterwards)
    type Case<'a> = (Vec<&'a str>, String, (&'a str, &'a str, i64));
    let cases: Vec<Case> = vec![
        (
            vec!["locks", "force-release", "ok", "a", "--yes", "--format", "json"],
            made(&["row `ok`: version 3 -> 4", "released a (held by h1)", "1 lock(s) remain"]),
            ("ok", r#"{"b": "h2"}"#, 4),
        ),
        (
            vec!["locks", "bump", "ok", "--by", "5", "--yes"],
            made(&["row `ok`: version 4 -> 9", "locks untouched", "1 lock(s) remain"]),
            ("ok", r#"{"b": "h2"}"#, 9),
        ),
        (
            vec!["locks", "force-release", "ok", "--holder", "h2", "--yes"],
            made(&["row `ok`: version 9 -> 10", "released b (held by h2)", "0 lock(s) remain"]),
            ("ok", "{}", 10),
        ),
        (
            vec!["locks", "repair", "bad", "--yes", "--format", "json"],
            made(&[
                "row `bad`: version 7 -> 8",
                "repaired: dataJson, which is not a JSON object (invalid type: sequence, expected a JSON object at line 1 column 0), is replaced by {}",
                "the old dataJson, verbatim (kept in the audit trail):",
                "[1,2]",
                "0 lock(s) remain",
            ]),
            ("bad", "{}", 8),
        ),
    ];
    for (args, stderr, (row, data, version)) in cases {
        let r = with_stdout(&db, &args, dev_full());
        assert_eq!((r.code, r.stderr.as_str()), (0, stderr.as_str()), "{r:#?}");
        let stored: serde_json::Value = serde_json::from_str(&db.data(row).unwrap()).unwrap();
        let want: serde_json::Value = serde_json::from_str(data).unwrap();
        assert_eq!((stored, db.version(row)), (want, version), "{args:?}");
    }
    // Each change has its audit record.
    let actions = db.rows("SELECT action FROM locks_audit ORDER BY id");
    assert_eq!(
        actions,
        [
            [Some("force-release".to_string())],
            [Some("bump".to_string())],
            [Some("release-by-holder".to_string())],
            [Some("repair".to_string())],
        ]
    );
    // A release (of the holder's own lock) likewise: it stands, exit 0.
    db.locksmith(&["locks", "acquire", "ok", "c", "--holder", "t9"])
        .success();
    for (stdout, why) in [
        (Stdio::from(dev_full()), FULL),
        (Stdio::from(closed_pipe()), CLOSED),
    ] {
        let r = with_stdout(
            &db,
            &[
                "locks", "release", "ok", "c", "--holder", "t9", "--format", "json",
            ],
            stdout,
        );
        assert_eq!(
            (r.code, r.stderr.as_str()),
            (0, format!("locksmith: released lock `c` in row `ok` (held by t9), but cannot write to stdout: {why}\n").as_str()),
            "{r:#?}"
        );
        assert_eq!(holder_of(&db, "ok", "c"), None);
        db.locksmith(&["locks", "acquire", "ok", "c", "--holder", "t9"])
            .success();
    }
}
