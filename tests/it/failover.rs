//! Failover over the nodes of a URL (issue 15, class 4), against the real
//! server: a node whose name does not resolve (the reserved `.invalid`
//! TLD), one that refuses (nothing listens on port 1), and one that never
//! answers (a listening socket nobody reads), in several orders, are each
//! passed over within the command's `--timeout`; when no node answers, the
//! error names every node and what happened there. The same for
//! `--wait-for-db`.

use crate::connect::STATUS_FRESH;
use crate::harness::*;
use std::net::TcpListener;
use std::time::{Duration, Instant};

const UNRESOLVED_1: &str = "db1.invalid:3306";
const UNRESOLVED_2: &str = "db2.invalid:3307";
const REFUSED_1: &str = "127.0.0.1:1";
const REFUSED_2: &str = "127.0.0.2:1";

/// A node that takes connections (the kernel completes the handshake into
/// the backlog) and never says a word: no greeting ever comes.
struct Silent(TcpListener);

impl Silent {
    fn new() -> Silent {
        Silent(TcpListener::bind("127.0.0.1:0").unwrap())
    }

    fn addr(&self) -> String {
        self.0.local_addr().unwrap().to_string()
    }
}

/// The URL of `db` over these nodes, and as locksmith shows it.
fn url_over(db: &TestDb, nodes: &[&str]) -> (String, String) {
    let (user, hosts) = (user(), nodes.join(","));
    (
        format!("mysql://{user}:{}@{hosts}/{}", password(), db.name),
        format!("mysql://{user}:***@{hosts}/{}", db.name),
    )
}

/// Runs `locksmith ARGS` over these nodes; returns the run and how long it
/// took.
fn timed(db: &TestDb, nodes: &[&str], args: &[&str]) -> (Run, Duration) {
    let (url, _) = url_over(db, nodes);
    let t = Instant::now();
    let r = locksmith_at(&url, args);
    (r, t.elapsed())
}

/// `stderr` with every `within N.Ns` as `within Ts`, and the figures.
fn without_figures(stderr: &str) -> (String, Vec<f64>) {
    let re = regex::Regex::new(r"within (\d+\.\d)s").unwrap();
    let figures = re
        .captures_iter(stderr)
        .map(|c| c[1].parse().unwrap())
        .collect();
    (re.replace_all(stderr, "within Ts").into_owned(), figures)
}

#[test]
fn failover_passes_over_every_kind_of_dead_node() {
    let db = TestDb::new();
    let live = db.addr();
    let silent = Silent::new();
    let s = silent.addr();
    // Nodes in order, --timeout, and the least time the run must take
    // (the silent node's share of it).
    let rows: Vec<(Vec<&str>, &str, Duration)> = vec![
        (vec![UNRESOLVED_1, &live], "3s", Duration::ZERO),
        (vec![REFUSED_1, &live], "3s", Duration::ZERO),
        (vec![&s, &live], "3s", Duration::from_millis(1400)),
        (
            vec![UNRESOLVED_1, REFUSED_1, &s, &live],
            "4s",
            Duration::from_millis(1900),
        ),
        (
            vec![&s, UNRESOLVED_2, REFUSED_2, &live],
            "4s",
            Duration::from_millis(900),
        ),
        (
            vec![REFUSED_2, UNRESOLVED_1, UNRESOLVED_2, &live, &s],
            "3s",
            Duration::ZERO,
        ),
        (vec![&live, UNRESOLVED_1], "3s", Duration::ZERO),
    ];
    for (nodes, timeout, least) in rows {
        let (r, took) = timed(&db, &nodes, &["migrate", "status", "--timeout", timeout]);
        r.succeeds_with(STATUS_FRESH);
        let limit = humantime::parse_duration(timeout).unwrap();
        assert!(
            took >= least && took < limit,
            "{nodes:?}: took {took:?}, not within {least:?}..{limit:?}"
        );
    }
}

/// Nodes, and what the error says of each.
type Nodes<'a> = Vec<(&'a str, &'a str)>;

#[test]
fn when_no_node_answers_the_error_names_each() {
    let db = TestDb::migrated();
    let silent: Vec<Silent> = (0..3).map(|_| Silent::new()).collect();
    let s: Vec<String> = silent.iter().map(Silent::addr).collect();
    let names = "check the host names in the URL (and the DNS or /etc/hosts of this machine)";
    let running = "are the servers running and listening on those hosts and ports?";
    let both = format!("{names}; {running}");
    let acquire = ["locks", "acquire", "r", "n", "--holder", "h"];
    let release = ["locks", "release", "r", "n", "--holder", "h"];
    // Nodes (and what each says), the command, the hint.
    let rows: Vec<(Nodes, &[&str], &str)> = vec![
        (
            vec![
                (UNRESOLVED_1, "the host name did not resolve"),
                (REFUSED_1, "connection refused"),
                (&s[0], "no answer within Ts"),
            ],
            &acquire,
            &both,
        ),
        (
            vec![
                (REFUSED_1, "connection refused"),
                (&s[0], "no answer within Ts"),
                (UNRESOLVED_1, "the host name did not resolve"),
            ],
            &["migrate", "up"],
            &both,
        ),
        (
            vec![
                (&s[0], "no answer within Ts"),
                (UNRESOLVED_2, "the host name did not resolve"),
                (REFUSED_2, "connection refused"),
            ],
            &["migrate", "status"],
            &both,
        ),
        (
            vec![
                (&s[0], "no answer within Ts"),
                (&s[1], "no answer within Ts"),
                (&s[2], "no answer within Ts"),
            ],
            &["locks", "dump"],
            running,
        ),
        (
            vec![
                (UNRESOLVED_1, "the host name did not resolve"),
                (UNRESOLVED_2, "the host name did not resolve"),
            ],
            &["migrate", "status"],
            names,
        ),
        (
            vec![
                (REFUSED_1, "connection refused"),
                (REFUSED_2, "connection refused"),
            ],
            &release,
            running,
        ),
    ];
    for (nodes, command, hint) in rows {
        let hosts: Vec<&str> = nodes.iter().map(|n| n.0).collect();
        let mut args = command.to_vec();
        args.extend(["--timeout", "3s"]);
        let (r, took) = timed(&db, &hosts, &args);
        let (_, shown) = url_over(&db, &hosts);
        let list: Vec<String> = nodes.iter().map(|(n, w)| format!("{n}: {w}")).collect();
        let (stderr, figures) = without_figures(&r.stderr);
        assert_eq!(
            (r.code, r.stdout.as_str(), stderr),
            (
                3,
                "",
                format!(
                    "locksmith: cannot connect to {shown}: no node answered ({})\nhint: {hint}\n",
                    list.join("; ")
                )
            ),
            "{command:?} over {hosts:?}"
        );
        // Every silent node had its share, and all of them together no
        // more than the deadline.
        assert!(figures.iter().all(|f| *f >= 0.9), "{figures:?}");
        assert!(figures.iter().sum::<f64>() <= 3.05, "{figures:?}");
        assert!(
            took < Duration::from_millis(3500),
            "{command:?} over {hosts:?} took {took:?}"
        );
    }
    // Nothing was touched: no lock row came into being.
    assert_eq!(
        db.rows("SELECT id FROM locks"),
        Vec::<Vec<Option<String>>>::new()
    );
}

#[test]
fn wait_for_db_tries_every_node_and_says_what_each_did() {
    let db = TestDb::new();
    let live = db.addr();
    // One node answers: no waiting at all.
    let t = Instant::now();
    let (url, _) = url_over(&db, &[UNRESOLVED_1, REFUSED_1, &live]);
    locksmith_at(&url, &["--wait-for-db", "30s", "migrate", "status"]).succeeds_with(STATUS_FRESH);
    assert!(t.elapsed() < Duration::from_secs(3), "{:?}", t.elapsed());
    // None does: it waits it out, saying why once, then fails with the
    // same words.
    let nodes = [REFUSED_2, UNRESOLVED_2];
    let (url, shown) = url_over(&db, &nodes);
    let t = Instant::now();
    let r = locksmith_at(&url, &["--wait-for-db", "2s", "migrate", "status"]);
    let took = t.elapsed();
    let why = format!(
        "cannot connect to {shown}: no node answered ({REFUSED_2}: connection refused; {UNRESOLVED_2}: the host name did not resolve)"
    );
    r.fails(3);
    assert_eq!(
        r.stderr,
        format!(
            "locksmith: waiting up to 2s for the database at {shown}: {why}\nlocksmith: {why}\nhint: check the host names in the URL (and the DNS or /etc/hosts of this machine); are the servers running and listening on those hosts and ports?\n"
        ),
        "{r:#?}"
    );
    assert!(
        took >= Duration::from_secs(2) && took < Duration::from_secs(3),
        "{took:?}"
    );
}
