//! `migrate down` cut off at every statement it sends, with a lock taken
//! after its first look (so the look does not refuse, and the quarantine
//! check must): whatever each cut leaves, the run's own message says it,
//! following its hint loses nothing, and the lock taken before the down is
//! held afterwards and never granted to anyone else.

use crate::harness::*;
use crate::proxy::{self, Proxy};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// Statement packets seen since the count was armed.
static SEEN: AtomicUsize = AtomicUsize::new(0);
/// Cut after the reply to the packet with this number (1-based).
static CUT_AT: AtomicUsize = AtomicUsize::new(usize::MAX);
/// Each counted packet, as `Q <sql>`, `P <sql>` or `E <sql last prepared>`.
static SEQ: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// The trigger: counts statement packets (text queries, prepares,
/// executes) and fires on number [`CUT_AT`].
fn kth_statement(p: &[u8]) -> bool {
    let text = || String::from_utf8_lossy(p.get(5..).unwrap_or_default()).into_owned();
    let label = match p.get(4) {
        Some(0x03) => format!("Q {}", text()),
        Some(0x16) => format!("P {}", text()),
        Some(0x17) => {
            let seq = SEQ.lock().unwrap();
            let last = seq.iter().rev().find(|l| l.starts_with("P ")).cloned();
            format!("E {}", last.unwrap_or_default().trim_start_matches("P "))
        }
        _ => return false,
    };
    SEQ.lock().unwrap().push(label);
    SEEN.fetch_add(1, Ordering::SeqCst) + 1 == CUT_AT.load(Ordering::SeqCst)
}

/// Whether a packet holds `text`.
fn has(p: &[u8], text: &[u8]) -> bool {
    p.windows(text.len()).any(|w| w == text)
}

/// The first statement under the run guard: the down is held there while
/// the test takes its lock.
fn guard_create(p: &[u8]) -> bool {
    proxy::is_query(p) && has(p, b"CREATE TABLE IF NOT EXISTS locksmith_migrate")
}

/// `s` with each random quarantine tag written `TAG`.
fn tagless(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(at) = rest.find("_dropping_") {
        let tag_at = at + "_dropping_".len();
        out.push_str(&rest[..tag_at]);
        out.push_str("TAG");
        rest = &rest[(tag_at + 8).min(rest.len())..];
    }
    out.push_str(rest);
    out
}

/// What a run of `down --all` printed, with the random quarantine tag and
/// the driver's words for a cut connection made fixed.
fn fixed(s: &str) -> String {
    let out = tagless(s);
    match out.find("lost the connection to the server: ") {
        Some(at) => {
            let from = at + "lost the connection to the server: ".len();
            let end = |pat: &str| out[from..].find(pat).map_or(out.len(), |i| from + i);
            let to = end("; ").min(end("\n"));
            format!("{}<why>{}", &out[..from], &out[to..])
        }
        None => out,
    }
}

/// The tables of the database, and the history: what the down changed.
fn tables(db: &TestDb) -> (Vec<String>, Vec<String>) {
    let mut names: Vec<String> = db
        .rows("SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE()")
        .into_iter()
        .map(|r| r[0].clone().unwrap_or_default())
        .collect();
    names.sort();
    let history = db
        .rows("SELECT version FROM refinery_schema_history ORDER BY version")
        .into_iter()
        .map(|r| r[0].clone().unwrap_or_default())
        .collect();
    (names, history)
}

/// How a run is cut at its chosen statement.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Cut {
    /// After the server answered it: it ran, its reply is lost.
    AfterReply,
    /// As soon as it is sent: whether it ran is for the server to say.
    Now,
    /// It is never delivered, and nothing after it either (a hung
    /// network), until the test heals the proxy.
    Hole,
}

/// `migrate down --all` through a proxy that holds it at the run guard
/// while `backup` is taken by A, then arms `trigger` as `how` says, and
/// returns the finished run and the proxy.
fn down_through(db: &TestDb, trigger: fn(&[u8]) -> bool, how: Cut, timeout: &str) -> (Run, Proxy) {
    let proxy = Proxy::start(db.addr());
    proxy.pause_on(guard_create);
    let child = spawn_at(
        &db.url_via(proxy.port),
        &[
            "migrate",
            "down",
            "--all",
            "--lease-ttl",
            "300s",
            "--timeout",
            timeout,
        ],
    );
    proxy.wait_paused();
    // After the down's first look (which found no lock), before it
    // renames anything.
    db.locksmith(&["locks", "acquire", "plat", "backup", "--holder", "A"])
        .success();
    match how {
        Cut::AfterReply => proxy.cut_after(trigger),
        Cut::Now => proxy.cut_on(trigger),
        Cut::Hole => proxy.hole_on(trigger),
    }
    proxy.resume();
    let r = Run::from(child.wait_with_output().unwrap());
    (r, proxy)
}

/// [`down_through`] cut after statement number `cut` under the guard
/// (none: `usize::MAX`), on a fresh database. Returns the run, the
/// database and the statement cut.
fn cut_down(cut: usize, how: Cut) -> (Run, TestDb, Option<String>) {
    let db = TestDb::migrated();
    SEEN.store(0, Ordering::SeqCst);
    SEQ.lock().unwrap().clear();
    CUT_AT.store(cut, Ordering::SeqCst);
    let (r, proxy) = down_through(&db, kth_statement, how, "10s");
    let at = (cut != usize::MAX).then(|| {
        assert!(proxy.took_cut(), "cut {cut} happened: {r:#?}");
        SEQ.lock().unwrap()[cut - 1].clone()
    });
    (r, db, at)
}

const REFUSED: &str = "locksmith: refusing to roll back V1__locks_create_table: table `locks` still holds locks:\n  plat: backup (held by A)\nhint: release them first (`locksmith locks dump`), or pass --force to drop them\n";

/// Every cut point of a `down --all` that rolls V3 and V2 back and must
/// refuse V1 (a lock is held): each run ends with exactly the message its
/// cut calls for, nothing is left renamed, and the lock is held by A alone;
/// following the refusal's hint (release, then down) then rolls back all.
#[test]
fn a_down_cut_at_any_statement_loses_no_lock() {
    let (uncut, db, _) = cut_down(usize::MAX, Cut::AfterReply);
    uncut.fails(4);
    assert_eq!(uncut.stderr, REFUSED);
    assert_eq!(
        tables(&db),
        (
            vec![
                "locks".into(),
                "locksmith_migrate".into(),
                "refinery_schema_history".into()
            ],
            vec!["1".into()]
        )
    );
    let seq = SEQ.lock().unwrap().clone();
    let at = |what: &str| {
        seq.iter()
            .position(|l| l.contains(what))
            .unwrap_or_else(|| panic!("no {what:?} in {seq:#?}"))
    };
    // V3's down step is no drop of a guarded table alone: it is sent as it
    // is, before V2's quarantine.
    let v3_down = at("DROP TABLE IF EXISTS locks_audit_evidence");
    let rename_audit = at("RENAME TABLE `locks_audit` TO");
    let rename_locks = at("RENAME TABLE `locks` TO");
    assert!(
        v3_down < rename_audit && rename_audit < rename_locks && seq.len() > rename_locks + 3,
        "{seq:#?}"
    );
    // Every statement cut after its reply; the renames, whose outcome
    // matters most, also cut as soon as they are sent.
    let cases = (1..=seq.len())
        .map(|k| (k, Cut::AfterReply))
        .chain([(rename_audit + 1, Cut::Now), (rename_locks + 1, Cut::Now)]);
    for (cut, how) in cases {
        let (r, db, label) = cut_down(cut, how);
        let label = label.unwrap();
        assert_eq!(
            fixed(&label),
            fixed(&seq[cut - 1]),
            "the same statements, in the same order"
        );
        let both = vec![
            "locks".to_string(),
            "locks_audit".into(),
            "locksmith_migrate".into(),
            "refinery_schema_history".into(),
        ];
        let v1_only = vec![
            "locks".to_string(),
            "locksmith_migrate".into(),
            "refinery_schema_history".into(),
        ];
        // What the cut calls for: a rename whose reply was lost is looked
        // up and undone, failing that step; a down step sent as it is
        // (V3's), whose reply was lost, fails the run there, its history
        // row kept (it ran: `locks_holders` is gone); any other statement is
        // tried again (or, for a DROP, looked up) and the run goes on.
        let (code, stderr, after) = if cut - 1 == v3_down {
            (
                1,
                "locksmith: migration V3__holder_liveness (down) failed: lost the connection to the server: <why>\n".to_string(),
                (both.clone(), vec!["1".to_string(), "2".into(), "3".into()]),
            )
        } else if cut - 1 == rename_audit {
            (
                1,
                "locksmith: migration V2__locks_audit_create_table (down) failed: lost the connection to the server: <why>; `locks_audit` is in place (it was being renamed to `locks_audit_dropping_TAG` to be checked): nothing of it was rolled back\n".to_string(),
                (both.clone(), vec!["1".to_string(), "2".into()]),
            )
        } else if cut - 1 == rename_locks {
            (
                1,
                "locksmith: migration V1__locks_create_table (down) failed: lost the connection to the server: <why>; `locks` is in place (it was being renamed to `locks_dropping_TAG` to be checked): nothing of it was rolled back\n".to_string(),
                (v1_only.clone(), vec!["1".to_string()]),
            )
        } else {
            (
                4,
                REFUSED.to_string(),
                (v1_only.clone(), vec!["1".to_string()]),
            )
        };
        assert_eq!(
            (r.code, r.stdout.as_str(), fixed(&r.stderr)),
            (code, "", stderr),
            "cut {how:?} at {label:?}: {r:#?}"
        );
        assert_eq!(tables(&db), after.clone(), "cut after {label:?}");
        // The lock taken before is held, by A alone.
        eprintln!("cut after {label:?}: is the lock still A's alone?");
        crate::quarantine::still_held_by_a(&db);
        // The same down again refuses at its first look, changing nothing.
        let again = db.locksmith(&["migrate", "down", "--all"]);
        again.fails(4);
        assert_eq!(again.stderr, REFUSED, "cut after {label:?}");
        assert_eq!(tables(&db), after, "cut after {label:?}");
        // Following the refusal's hint: A releases its lock (nothing else
        // holds one), and the same down then rolls everything back, leaving
        // no table behind, renamed or not.
        db.locksmith(&["locks", "release", "plat", "backup", "--holder", "A"])
            .success();
        let done = db.locksmith(&["migrate", "down", "--all"]);
        assert_eq!(
            (done.code, done.stderr.as_str()),
            (0, ""),
            "cut after {label:?}: {done:#?}"
        );
        assert_eq!(
            tables(&db),
            (
                vec![
                    "locksmith_migrate".to_string(),
                    "refinery_schema_history".into()
                ],
                vec![]
            ),
            "cut after {label:?}"
        );
    }
}

/// The RENAME of `locks`.
fn rename_of_locks(p: &[u8]) -> bool {
    proxy::is_query(p) && has(p, b"RENAME TABLE `locks` TO")
}

/// The check of `locks` under its quarantine name.
fn check_of_copy(p: &[u8]) -> bool {
    proxy::is_query(p) && has(p, b"SELECT id, dataJson FROM `locks_dropping_")
}

/// The `RENAME TABLE` a message gives as its hint, exactly.
fn hinted_rename(stderr: &str) -> String {
    let at = stderr.find("RENAME TABLE `").expect("a RENAME in the hint");
    stderr[at..].lines().next().unwrap().to_string()
}

/// A down that hangs midway and cannot look again (the network stays
/// down): its message names the table it left renamed (or may have), and
/// the `RENAME TABLE` that brings it back; lock commands name it too; and
/// following the hint brings back the table with its lock.
#[test]
fn a_down_that_cannot_look_again_names_what_it_left() {
    // Hung before the rename arrived: whether it landed cannot be told.
    let db = TestDb::migrated();
    let (r, proxy) = down_through(&db, rename_of_locks, Cut::Hole, "1s");
    proxy.heal();
    r.fails(1);
    assert_eq!(
        tagless(&r.stderr),
        "locksmith: migration V1__locks_create_table (down) failed: lost the connection to the server: no answer within 1.0s\n\
         `locks` may be left renamed to `locks_dropping_TAG` (whether that rename landed could not be told)\n\
         hint: if `locks` does not exist, bring it back with: RENAME TABLE `locks_dropping_TAG` TO `locks`\n"
    );
    // `locks` exists (the rename never arrived): the hint says to leave it.
    assert_eq!(
        tables(&db),
        (
            vec![
                "locks".into(),
                "locksmith_migrate".into(),
                "refinery_schema_history".into()
            ],
            vec!["1".into()]
        ),
        "V3 and V2 were rolled back, and nothing is renamed"
    );
    db.locksmith(&["locks", "acquire", "plat", "backup", "--holder", "B"])
        .fails_with(4, "locksmith: lock `backup` in row `plat` is held by A\n");

    // Hung after the rename landed, while checking the table.
    let db = TestDb::migrated();
    let (r, proxy) = down_through(&db, check_of_copy, Cut::Hole, "1s");
    proxy.heal();
    r.fails(1);
    // The check was tried again on a new connection, which could not be
    // made: that is the last word.
    assert_eq!(
        tagless(&r.stderr),
        format!(
            "locksmith: migration V1__locks_create_table (down) failed: cannot connect to mysql://{}:***@127.0.0.1:{}/{}: no answer within 1.0s\n\
             `locks` is left renamed to `locks_dropping_TAG`, out of every writer's reach\n\
             hint: bring it back with: RENAME TABLE `locks_dropping_TAG` TO `locks`\n",
            user(),
            proxy.port,
            db.name
        )
    );
    let rename = hinted_rename(&r.stderr);
    // Lock commands name it, with the same RENAME, instead of a new table.
    for args in [
        &["locks", "dump"][..],
        &["locks", "acquire", "plat", "backup", "--holder", "B"],
    ] {
        let l = db.locksmith(args);
        l.fails(5);
        assert_eq!(
            tagless(&l.stderr),
            "locksmith: table `locks` does not exist: an interrupted `migrate down` left it renamed to `locks_dropping_TAG`\n\
             hint: bring it back with: RENAME TABLE `locks_dropping_TAG` TO `locks`\n"
        );
        assert!(l.stderr.contains(&rename), "{l:#?}");
    }
    db.sql(&rename);
    db.locksmith(&["locks", "acquire", "plat", "backup", "--holder", "B"])
        .fails_with(4, "locksmith: lock `backup` in row `plat` is held by A\n");
    // V1 is back; the guard of the hung down is left to expire.
    let r = db.locksmith(&["migrate", "status", "--check"]);
    r.fails_with_output(6).stdout_like(
        &(status_table(&["1 locks_create_table applied <TIME>", "2 locks_audit_create_table pending -", "3 holder_liveness pending -"]) + "Migration guard: held by <HOST>:<PID> (since <TIME>) (its heartbeat has stopped: the next run takes over)\n"),
    );
    assert_eq!(
        r.stderr,
        "locksmith: schema is not current: V2__locks_audit_create_table is pending, V3__holder_liveness is pending\n"
    );
}
