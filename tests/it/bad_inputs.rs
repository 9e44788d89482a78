//! Bad input to every subcommand (issue 11): flag values, row ids, names,
//! holders, URLs, `--source` directories, durations and conflicting flags.
//! Each entry pins the documented exit code and the message, and checks
//! that nothing was printed on stdout and nothing in the database changed.

use crate::harness::*;
use std::path::Path;
use std::process::Stdio;

/// One bad command line and what locksmith must answer.
struct Case {
    args: Vec<String>,
    /// Extra environment.
    env: Vec<(&'static str, String)>,
    /// Run without DATABASE_URL.
    no_url: bool,
    /// The documented exit code.
    code: i32,
    /// What stderr must say.
    says: String,
}

impl Case {
    fn env(mut self, k: &'static str, v: &str) -> Case {
        self.env.push((k, v.to_string()));
        self
    }

    fn no_url(mut self) -> Case {
        self.no_url = true;
        self
    }
}

fn strings(args: &[&str]) -> Vec<String> {
    args.iter().map(|a| a.to_string()).collect()
}

/// A refusal by locksmith itself: `locksmith: …`, exit `code`.
fn ls(code: i32, says: &str, args: &[&str]) -> Case {
    Case {
        args: strings(args),
        env: Vec::new(),
        no_url: false,
        code,
        says: says.to_string(),
    }
}

/// A usage error found by the argument parser: `locksmith: …`, exit 2.
fn clap(says: &str, args: &[&str]) -> Case {
    ls(2, says, args)
}

type Rows = Vec<Vec<Option<String>>>;

/// Everything a command could change: the lock rows, the audit trail, the
/// migration history and guard, and which tables (and columns) exist.
fn world(db: &TestDb) -> Vec<Rows> {
    vec![
        db.rows("SELECT id, version, dataJson, ts FROM locks ORDER BY id"),
        db.rows("SELECT * FROM locks_audit ORDER BY id"),
        db.rows("SELECT * FROM refinery_schema_history ORDER BY version"),
        db.rows("SELECT * FROM locksmith_migrate ORDER BY name"),
        db.rows(
            "SELECT TABLE_NAME, TABLE_TYPE, ENGINE, TABLE_COLLATION FROM information_schema.TABLES \
             WHERE TABLE_SCHEMA = DATABASE() ORDER BY TABLE_NAME",
        ),
        db.rows(
            "SELECT TABLE_NAME, COLUMN_NAME, COLUMN_TYPE, IS_NULLABLE, COLUMN_DEFAULT \
             FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() \
             ORDER BY TABLE_NAME, ORDINAL_POSITION",
        ),
    ]
}

/// A migrated database holding a sound row `r` (`a` held by `t1`) and a
/// damaged row `dmg` (version at the INT maximum).
fn seeded() -> TestDb {
    let db = TestDb::migrated();
    db.sql(
        r#"INSERT INTO locks (id, dataJson, version) VALUES
           ('r', '{"a":"t1"}', 1), ('dmg', '{"x":"h"}', 2147483647)"#,
    );
    db
}

/// `--source` directories, each wrong in one way.
fn sources(root: &Path) {
    let write = |rel: &str, text: &str| {
        let p = root.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    };
    std::fs::create_dir_all(root.join("empty")).unwrap();
    write("one_underscore/V1_bad.sql", "CREATE TABLE x1 (a INT);");
    write("one_underscore/V1_bad.down.sql", "DROP TABLE x1;");
    write("lower_v/v2__x.sql", "CREATE TABLE x2 (a INT);");
    write("lower_v/v2__x.down.sql", "DROP TABLE x2;");
    write("upper_ext/V3__x.SQL", "CREATE TABLE x3 (a INT);");
    write("upper_ext/V3__x.down.sql", "DROP TABLE x3;");
    write("dash/V5__a-b.sql", "CREATE TABLE x5 (a INT);");
    write("dash/V5__a-b.down.sql", "DROP TABLE x5;");
    write("twice/V1__a.sql", "CREATE TABLE xa (a INT);");
    write("twice/V1__a.down.sql", "DROP TABLE xa;");
    write("twice/V1__b.sql", "CREATE TABLE xb (a INT);");
    write("twice/V1__b.down.sql", "DROP TABLE xb;");
    write("no_down/V1__a.sql", "CREATE TABLE xa (a INT);");
}

/// Runs each case against `db`; returns what went wrong, case by case.
fn check(db: &TestDb, cases: &[Case]) -> Vec<String> {
    let mut failures = Vec::new();
    for case in cases {
        let before = world(db);
        let args: Vec<&str> = case.args.iter().map(String::as_str).collect();
        let mut cmd = db.command(&args);
        if case.no_url {
            cmd.env_remove("DATABASE_URL");
        }
        for (k, v) in &case.env {
            cmd.env(k, v);
        }
        let r = Run::from(cmd.stdin(Stdio::null()).output().expect("spawn locksmith"));
        let mut wrong = Vec::new();
        if r.code != case.code {
            wrong.push(format!("exit {} instead of {}", r.code, case.code));
        }
        if r.code == 101 || r.stderr.contains("panicked") {
            wrong.push("it panicked".into());
        }
        if !r.stdout.is_empty() {
            wrong.push("it printed on stdout".into());
        }
        let prefix = "locksmith: ";
        if !r.stderr.starts_with(prefix) {
            wrong.push(format!("stderr does not start with {prefix:?}"));
        }
        if !r.stderr.contains(&case.says) {
            wrong.push(format!("stderr lacks {:?}", case.says));
        }
        if r.stdout.contains(password()) || r.stderr.contains(password()) {
            wrong.push("the password leaked".into());
        }
        if world(db) != before {
            wrong.push("the database changed".into());
        }
        if !wrong.is_empty() {
            let shown: Vec<String> = case
                .args
                .iter()
                .map(|a| match a.char_indices().nth(60) {
                    Some((i, _)) => format!("{}…({} chars)", &a[..i], a.chars().count()),
                    None => a.clone(),
                })
                .collect();
            failures.push(format!(
                "{shown:?} (env {:?}{}): {}\n  stdout: {:?}\n  stderr: {:?}",
                case.env,
                if case.no_url { ", no URL" } else { "" },
                wrong.join("; "),
                r.stdout,
                r.stderr
            ));
        }
    }
    failures
}

#[test]
fn bad_inputs_are_refused_and_change_nothing() {
    let db = seeded();
    let tmp = tempfile::tempdir().unwrap();
    sources(tmp.path());
    let src = |d: &str| tmp.path().join(d).display().to_string();
    let (user, pw, addr, name) = (user(), password(), db.addr(), db.name.clone());
    let port = addr.rsplit_once(':').unwrap().1.to_string();
    let url = |tail: &str| format!("mysql://{user}:{pw}@{tail}");
    let here = |rest: &str| url(&format!("{addr}{rest}"));
    let missing = unique_name("missing");
    let long_row = "r".repeat(129);
    let huge_name = "n".repeat(70_000);
    let no_url = "no database URL: pass --url or set DATABASE_URL";
    let no_tty = "refusing to go on without confirmation: stdin is not a terminal; pass --yes";
    let id_range = "row id must be 1 to 128 characters long";

    let cases: Vec<Case> = vec![
        // ---- URLs, over every subcommand ----
        ls(2, no_url, &["migrate", "up"]).no_url(),
        ls(2, no_url, &["migrate", "status"]).no_url(),
        ls(2, no_url, &["locks", "acquire", "r", "n", "--holder", "h"]).no_url(),
        ls(2, no_url, &["locks", "history"]).no_url(),
        ls(2, no_url, &["bench"]).no_url(),
        ls(2, "unsupported scheme `postgres`", &["migrate", "status", "--url", &format!("postgres://{user}:{pw}@{addr}/{name}")]),
        ls(2, "invalid port `99999`", &["locks", "dump", "--url", &url(&format!("127.0.0.1:99999/{name}"))]),
        ls(2, "invalid port `abc`", &["locks", "release", "r", "a", "--holder", "t1", "--url", &url(&format!("127.0.0.1:abc/{name}"))]),
        ls(2, "invalid port `0`", &["migrate", "mark-applied", "1", "--yes", "--url", &url(&format!("127.0.0.1:0/{name}"))]),
        ls(2, "invalid host ``", &["locks", "force-release", "r", "--all", "--yes", "--url", &url(&format!(":{port}/{name}"))]),
        ls(2, "unknown parameter `foo` (locksmith understands: socket, password, ssl-mode, ssl-ca, ssl-cert, ssl-key)", &["locks", "history", "--url", &here(&format!("/{name}?foo=bar"))]),
        ls(2, "unexpected path", &["migrate", "down", "--url", &here(&format!("/{name}/extra"))]),
        ls(2, "no database name", &["locks", "bump", "r", "--yes", "--url", &here("/")]),
        ls(2, "a URL has no `#` part", &["locks", "repair", "dmg", "--yes", "--url", &here(&format!("/{name}#frag"))]),
        ls(2, "expected mysql://user:pass@host:port/db", &["bench", "--url", "notaurl"]),
        ls(2, "percent-encode it", &["locks", "dump", "--url", &format!("mysql://{user}:{pw}/x@{addr}/{name}")]),
        clap("cannot be used multiple times", &["locks", "dump", "--url", &db.url(), "--url", &db.url()]),
        ls(5, &format!("database `{missing}` does not exist"), &["locks", "dump", "--url", &here(&format!("/{missing}"))]),
        ls(5, &format!("database `{missing}` does not exist"), &["bench", "--url", &here(&format!("/{missing}"))]),
        ls(5, "database `lt\\0` does not exist", &["locks", "history", "--url", &here("/lt%00")]),
        ls(3, "the host name `no-such-host.invalid` did not resolve", &["migrate", "status", "--url", &url(&format!("no-such-host.invalid/{name}"))]),
        ls(3, "Connection refused", &["locks", "acquire", "r", "n", "--holder", "h", "--url", &url(&format!("127.0.0.1:1/{name}"))]),
        // ---- --source directories ----
        ls(2, "--source /nonexistent/dir: No such file or directory", &["migrate", "up", "--source", "/nonexistent/dir"]),
        ls(2, "--source /etc/passwd is not a directory", &["migrate", "status", "--source", "/etc/passwd"]),
        ls(2, "holds no migrations", &["migrate", "down", "--source", &src("empty")]),
        ls(2, "the version and the name must be separated by two underscores (V1__name.sql); nothing was run", &["migrate", "mark-applied", "1", "--yes", "--source", &src("one_underscore")]),
        ls(2, "the prefix must be a capital V (refinery skips `v`); nothing was run", &["migrate", "up", "--source", &src("lower_v")]),
        ls(2, "V3__x.SQL: the extension must be `.sql`, in lower case; nothing was run", &["migrate", "status", "--source", &src("upper_ext")]),
        ls(2, "the name may hold only ASCII letters, digits and underscores; nothing was run", &["migrate", "up", "--source", &src("dash")]),
        ls(2, "version 1 is also used by", &["migrate", "up", "--source", &src("twice")]),
        ls(2, "V1__a.sql: it has no down step", &["migrate", "down", "--all", "--source", &src("no_down")]),
        ls(2, "V1__a.sql: it has no down step", &["migrate", "up", "--dry-run", "--source", &src("no_down")]),
        // ---- migrate flags ----
        clap("-1 is not in 0..=2147483647", &["migrate", "up", "--target=-1"]),
        clap("invalid value 'abc' for '--target <V>'", &["migrate", "up", "--target", "abc"]),
        clap("-5 is not in 0..=2147483647", &["migrate", "down", "--target=-5"]),
        clap("the argument '--all' cannot be used with '--target <V>'", &["migrate", "down", "--all", "--target", "1"]),
        clap("must be between 2s and 1h", &["migrate", "up", "--lease-ttl", "1s"]),
        clap("is longer than ten years", &["migrate", "up", "--lock-timeout", "1e20"]),
        clap("invalid value 'yaml' for '--format <FORMAT>'", &["migrate", "status", "--format", "yaml"]),
        clap("invalid value 'abc' for '<VERSION>'", &["migrate", "mark-applied", "abc"]),
        clap("required arguments were not provided", &["migrate", "mark-applied", "--yes"]),
        ls(2, "V99 is not one of these migrations (V1, V2, V3); nothing was changed", &["migrate", "mark-applied", "99", "--yes"]),
        ls(4, "V2__locks_audit_create_table is already recorded as applied", &["migrate", "mark-applied", "2", "--yes"]),
        // ---- locks dump ----
        clap("invalid value 'xml' for '--format <FORMAT>'", &["locks", "dump", "--format", "xml"]),
        clap("cannot be used multiple times", &["locks", "dump", "--format", "json", "--format", "table"]),
        ls(5, "lock row `nope` does not exist", &["locks", "dump", "nope"]),
        ls(5, "lock row `\"\"` does not exist", &["locks", "dump", ""]),
        ls(5, "does not exist", &["locks", "list", &long_row]),
        // ---- locks acquire ----
        ls(2, "row id must not be empty", &["locks", "acquire", "", "n", "--holder", "h"]),
        ls(2, "lock name must not be empty", &["locks", "acquire", "r", "", "--holder", "h"]),
        ls(2, "holder must not be empty", &["locks", "acquire", "r", "n", "--holder", ""]),
        ls(2, "row id is 129 characters long; the id column holds at most 128", &["locks", "acquire", &long_row, "n", "--holder", "h"]),
        ls(2, "row id \"plat \" begins or ends with whitespace", &["locks", "acquire", "plat ", "n", "--holder", "h"]),
        ls(2, "row id \" plat\" begins or ends with whitespace", &["locks", "acquire", " plat", "n", "--holder", "h"]),
        ls(2, "row id \"\\tplat\" contains the control character U+0009", &["locks", "acquire", "\tplat", "n", "--holder", "h"]),
        ls(2, "contains the control character U+000A", &["locks", "acquire", "r", "a\nb", "--holder", "h"]),
        ls(2, "which the locks table's 3-byte utf8 cannot store", &["locks", "acquire", "r", "🎉", "--holder", "h"]),
        ls(2, "which the locks table's 3-byte utf8 cannot store", &["locks", "acquire", "r", "n", "--holder", "🎉"]),
        ls(2, "bad --unless-held pattern \"[\"", &["locks", "acquire", "r", "n", "--holder", "h", "--unless-held", "["]),
        ls(2, "row `r` would need 70008 bytes of dataJson, more than the 65535 a TEXT column holds; nothing was changed", &["locks", "acquire", "r", &huge_name, "--holder", "h"]),
        ls(4, "lock `a` in row `r` is held by t1", &["locks", "acquire", "r", "a", "--holder", "other"]),
        clap("is longer than ten years", &["locks", "acquire", "r", "n", "--holder", "h", "--wait", "1e19"]),
        clap("must be a positive number of seconds", &["locks", "acquire", "r", "n", "--holder", "h", "--wait=-1"]),
        clap("must be a positive number of seconds", &["locks", "acquire", "r", "n", "--holder", "h", "--wait", "NaN"]),
        clap("required arguments were not provided", &["locks", "acquire", "r", "n"]),
        // ---- locks release ----
        ls(2, "lock name must not be empty", &["locks", "release", "r", "", "--holder", "h"]),
        ls(2, "row id is 129 characters long", &["locks", "release", &long_row, "a", "--holder", "h"]),
        ls(2, "lock name \"a\\tb\" contains the control character U+0009", &["locks", "release", "r", "a\tb", "--holder", "h"]),
        ls(5, "lock `zz` is not held in row `r`", &["locks", "release", "r", "zz", "--holder", "h"]),
        ls(5, "lock row `ghost` does not exist", &["locks", "release", "ghost", "a", "--holder", "h"]),
        ls(4, "lock `a` in row `r` is held by t1, not by other", &["locks", "release", "r", "a", "--holder", "other"]),
        // ---- locks force-release ----
        clap("required arguments were not provided", &["locks", "force-release", "r"]),
        clap("cannot be used with '--holder <H>'", &["locks", "force-release", "r", "a", "--holder", "h"]),
        clap("the argument '--all' cannot be used with '--holder <H>'", &["locks", "force-release", "r", "--all", "--holder", "h"]),
        clap("-1 is not in 0..=2147483647", &["locks", "force-release", "r", "a", "--expect-version=-1"]),
        ls(2, id_range, &["locks", "force-release", "", "a", "--yes"]),
        ls(2, id_range, &["locks", "force-release", &long_row, "--all", "--yes"]),
        ls(2, no_tty, &["locks", "force-release", "r", "a"]),
        ls(2, "lock name \"a\\u{1b}\" contains the control character U+001B", &["locks", "force-release", "r", "a\x1b", "--yes"]),
        ls(4, "row `r` is at version 1, not the expected 7; nothing was changed", &["locks", "force-release", "r", "a", "--expect-version", "7", "--yes"]),
        ls(5, "lock row `ghost` does not exist", &["locks", "force-release", "ghost", "--all", "--yes"]),
        ls(5, "lock `(any lock held by nobody)` is not held in row `r`", &["locks", "force-release", "r", "--holder", "nobody", "--yes"]),
        // ---- locks bump ----
        clap("0 is not in 1..=2147483647", &["locks", "bump", "r", "--by", "0", "--yes"]),
        clap("-1 is not in 1..=2147483647", &["locks", "bump", "r", "--by=-1", "--yes"]),
        clap("2147483648 is not in 1..=2147483647", &["locks", "bump", "r", "--by", "2147483648", "--yes"]),
        clap("2147483648 is not in 0..=2147483647", &["locks", "bump", "r", "--expect-version", "2147483648", "--yes"]),
        clap("unexpected argument '-1' found", &["locks", "bump", "r", "--expect-version", "-1", "--yes"]),
        ls(2, id_range, &["locks", "bump", "", "--yes"]),
        ls(2, "bumping row `r` (version 1) by 2147483647 would take its version past 2147483647", &["locks", "bump", "r", "--by", "2147483647", "--yes"]),
        ls(2, no_tty, &["locks", "bump", "r"]),
        ls(4, "row `r` is at version 1, not the expected 3", &["locks", "bump", "r", "--expect-version", "3", "--yes"]),
        ls(5, "lock row `ghost` does not exist", &["locks", "bump", "ghost", "--yes"]),
        ls(1, "row `dmg` cannot be written safely", &["locks", "bump", "dmg", "--yes"]),
        // ---- locks repair ----
        ls(2, id_range, &["locks", "repair", "", "--yes"]),
        ls(2, id_range, &["locks", "repair", &long_row, "--yes"]),
        ls(2, no_tty, &["locks", "repair", "dmg"]),
        ls(4, "row `dmg` is at version 2147483647, not the expected 5", &["locks", "repair", "dmg", "--expect-version", "5", "--yes"]),
        ls(5, "lock row `ghost` does not exist", &["locks", "repair", "ghost", "--yes"]),
        // ---- locks run ----
        clap("required arguments were not provided", &["locks", "run", "r", "n"]),
        ls(2, "row id must not be empty", &["locks", "run", "", "n", "--", "true"]),
        ls(2, "lock name must not be empty", &["locks", "run", "r", "", "--", "true"]),
        ls(2, "holder must not be empty", &["locks", "run", "r", "n", "--holder", "", "--", "true"]),
        ls(2, "row id \"plat \" begins or ends with whitespace", &["locks", "run", "plat ", "n", "--", "true"]),
        ls(4, "lock `a` in row `r` is held by t1", &["locks", "run", "r", "a", "--holder", "other", "--", "true"]),
        ls(1, "row `dmg` cannot be written safely", &["locks", "run", "dmg", "n", "--", "true"]),
        clap("is longer than ten years", &["locks", "run", "r", "n", "--release-timeout", "1e30", "--", "true"]),
        clap("must be a positive number of seconds", &["locks", "run", "r", "n", "--wait", "inf", "--", "true"]),
        // ---- locks history ----
        clap("invalid value 'yaml' for '--format <FORMAT>'", &["locks", "history", "--format", "yaml"]),
        clap("unexpected argument 'b' found", &["locks", "history", "a", "b"]),
        // ---- bench ----
        clap("0 is not in 1..=1024", &["bench", "--workers", "0"]),
        clap("5000 is not in 1..=1024", &["bench", "--workers", "5000"]),
        clap("invalid value 'abc' for '--workers <WORKERS>'", &["bench", "--workers", "abc"]),
        clap("3000 is not in 0..=2000", &["bench", "--held", "3000"]),
        clap("invalid value 'forever' for '--duration <DURATION>'", &["bench", "--duration", "forever"]),
        clap("is longer than ten years", &["bench", "--duration", "1e20"]),
        // ---- everywhere ----
        clap("LOCKSMITH_TIMEOUT=\"abc\": expected number at 0 (try 30s, 5m or 250ms)", &["locks", "dump"]).env("LOCKSMITH_TIMEOUT", "abc"),
        clap("is longer than ten years", &["--timeout", "99999999999s", "locks", "dump"]),
        clap("is longer than ten years", &["migrate", "status", "--timeout", "1e19"]),
        clap("unrecognized subcommand 'frobnicate'", &["frobnicate"]),
        clap("unrecognized subcommand 'frob'", &["locks", "frob"]),
    ];
    assert!(cases.len() >= 45);
    let failures = check(&db, &cases);
    assert!(
        failures.is_empty(),
        "{} of {} bad inputs were not refused as documented:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

#[test]
fn bad_inputs_once_answered_wrong() {
    let db = seeded();
    let long_row = "r".repeat(129);
    let huge_name = "n".repeat(70_000);
    let cases = vec![
        // Creates row `new` before refusing, yet says "nothing was changed".
        ls(
            2,
            "nothing was changed",
            &["locks", "acquire", "new", &huge_name, "--holder", "h"],
        ),
        // Exit 0 with an empty table: the row id can never exist.
        ls(
            2,
            "row id must be 1 to 128 characters long",
            &["locks", "history", ""],
        ),
        ls(
            2,
            "row id must be 1 to 128 characters long",
            &["locks", "history", &long_row],
        ),
        // Exit 3 "lost the connection to the server: no time was left to
        // connect again": a zero timeout can never work.
        ls(
            2,
            "--timeout must be more than 0s",
            &["--timeout", "0", "locks", "dump"],
        ),
        // Exit 0, a table of zeros and "end-of-run check passed".
        clap(
            "invalid value '0' for '--duration <DURATION>': must be between 100ms and 1h",
            &["bench", "--duration", "0"],
        ),
    ];
    let failures = check(&db, &cases);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
