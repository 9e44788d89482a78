//! Durations and numbers: values out of range are usage errors (exit 2)
//! that change nothing, and `--wait 0` is one try.

use super::*;

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
    assert_eq!(db.data("r").as_deref(), Some(r#"{"n":"h"}"#));
    let before = snapshot(&db);
    let r = acquire("other");
    r.fails_with(4, "locksmith: lock `n` in row `r` is held by h\n");
    unchanged(&db, &before, &r);
}
