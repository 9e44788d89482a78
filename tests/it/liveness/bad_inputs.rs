//! Bad input to the liveness options: refused with exit 2 and the exact
//! message, before anything is written.

use super::*;

const MORE: &str = "\nFor more information, try '--help'.\n";

fn invalid(value: &str, flag: &str, why: &str) -> String {
    format!("locksmith: invalid value '{value}' for '{flag}': {why}\n{MORE}")
}

const RUN_USAGE: &str = "Usage: locksmith locks run [OPTIONS] <ROW> <NAME> -- <CMD>...\n";

const FORCE_USAGE: &str = "Usage: locksmith locks force-release [OPTIONS] <ROW> --dead\n       \
    locksmith locks force-release [OPTIONS] <ROW> <NAMES>...\n       \
    locksmith locks force-release [OPTIONS] <ROW> --holder <H>\n       \
    locksmith locks force-release [OPTIONS] <ROW> --all\n";

#[test]
fn bad_liveness_options_are_refused_with_exit_2() {
    let db = TestDb::migrated();
    let lease = "--lease <DURATION>";
    let between = "must be between 1s and 24h";
    let run = |opts: &[&str]| {
        let mut args = vec!["locks", "run", ROW, "job"];
        args.extend_from_slice(opts);
        args.extend(["--", "touch", "/nonexistent/ran"]);
        args.into_iter().map(String::from).collect::<Vec<_>>()
    };
    let acquire = |opts: &[&str]| {
        let mut args = vec!["locks", "acquire", ROW, "job", "--holder", "h"];
        args.extend_from_slice(opts);
        args.into_iter().map(String::from).collect::<Vec<_>>()
    };
    let cases: Vec<(Vec<String>, String)> = vec![
        (run(&["--lease", "0"]), invalid("0", lease, between)),
        (acquire(&["--lease", "0"]), invalid("0", lease, between)),
        (run(&["--lease", "500ms"]), invalid("500ms", lease, between)),
        (run(&["--lease", "25h"]), invalid("25h", lease, between)),
        (
            run(&["--lease=-1"]),
            invalid(
                "-1",
                lease,
                "must be a positive number of seconds (try 30s, 5m or 250ms)",
            ),
        ),
        (
            run(&["--lease", "-1"]),
            format!(
                "locksmith: unexpected argument '-1' found\n\n  \
                 tip: to pass '-1' as a value, use '-- -1'\n\n{RUN_USAGE}{MORE}"
            ),
        ),
        (
            run(&["--lease", "100y"]),
            invalid(
                "100y",
                lease,
                "is longer than ten years, the most locksmith waits for anything",
            ),
        ),
        (
            acquire(&["--lease", "100y"]),
            invalid(
                "100y",
                lease,
                "is longer than ten years, the most locksmith waits for anything",
            ),
        ),
        (
            run(&["--lock-delay", "2s"]),
            format!(
                "locksmith: the following required arguments were not provided:\n  --take-over-dead\n\n\
                 Usage: locksmith locks run --take-over-dead --lock-delay <DURATION> <ROW> <NAME> -- <CMD>...\n{MORE}"
            ),
        ),
        (
            acquire(&["--lock-delay", "2s"]),
            format!(
                "locksmith: the following required arguments were not provided:\n  --take-over-dead\n\n\
                 Usage: locksmith locks acquire --holder <H> --take-over-dead --lock-delay <DURATION> <ROW> <NAME>\n{MORE}"
            ),
        ),
        (
            run(&["--take-over-dead", "--lock-delay", "soon"]),
            invalid(
                "soon",
                "--lock-delay <DURATION>",
                "expected number at 0 (try 30s, 5m or 250ms)",
            ),
        ),
        (
            run(&["--on-lost", "maybe"]),
            format!(
                "locksmith: invalid value 'maybe' for '--on-lost <WHAT>'\n  [possible values: stop, keep]\n{MORE}"
            ),
        ),
        (
            acquire(&["--holder-pid", "abc"]),
            invalid("abc", "--holder-pid <PID>", "invalid digit found in string"),
        ),
        // A PID with no process: nothing to follow.
        (
            acquire(&["--holder-pid", "2147483646"]),
            "locksmith: --holder-pid 2147483646: there is no process 2147483646 on this host\n"
                .into(),
        ),
        (
            acquire(&["--holder-pid", "0"]),
            "locksmith: --holder-pid 0: there is no process 0 on this host\n".into(),
        ),
        (
            ["locks", "force-release", ROW, "--dead", "--probe-timeout", "1s"]
                .map(String::from)
                .to_vec(),
            format!(
                "locksmith: the following required arguments were not provided:\n  --probe <CMD>\n\n{FORCE_USAGE}{MORE}"
            ),
        ),
        (
            ["locks", "dump", "--probe-timeout", "1s"]
                .map(String::from)
                .to_vec(),
            format!(
                "locksmith: the following required arguments were not provided:\n  --probe <CMD>\n\n\
                 Usage: locksmith locks dump --probe <CMD> --probe-timeout <DURATION> [ROWS]...\n{MORE}"
            ),
        ),
        (
            ["locks", "dump", "--probe", "true", "--probe-timeout", "soon"]
                .map(String::from)
                .to_vec(),
            invalid(
                "soon",
                "--probe-timeout <DURATION>",
                "expected number at 0 (try 30s, 5m or 250ms)",
            ),
        ),
        // A blank probe would say alive (`sh -c ''` exits 0) of everyone.
        (
            ["locks", "dump", "--probe", ""].map(String::from).to_vec(),
            invalid(
                "",
                "--probe <CMD>",
                "must be a shell command (it is blank)",
            ),
        ),
        (
            ["locks", "force-release", ROW, "--dead", "--probe", " \t "]
                .map(String::from)
                .to_vec(),
            invalid(
                " \t ",
                "--probe <CMD>",
                "must be a shell command (it is blank)",
            ),
        ),
        (
            ["locks", "force-release", ROW, "--dead", "--holder", "x"]
                .map(String::from)
                .to_vec(),
            format!(
                "locksmith: the argument '--dead' cannot be used with '--holder <H>'\n\n{FORCE_USAGE}{MORE}"
            ),
        ),
        (
            ["locks", "renew", ROW, "job"].map(String::from).to_vec(),
            format!(
                "locksmith: the following required arguments were not provided:\n  --holder <H>\n\n\
                 Usage: locksmith locks renew --holder <H> <ROW> <NAME>\n{MORE}"
            ),
        ),
    ];
    for (args, stderr) in &cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        db.locksmith(&args).fails_with(2, stderr);
    }
    assert_eq!(
        db.scalar("SELECT COUNT(*) FROM locks").as_deref(),
        Some("0")
    );
    assert_eq!(
        db.scalar("SELECT COUNT(*) FROM locks_holders").as_deref(),
        Some("0")
    );
}
