//! On a real 3-node MariaDB Galera cluster (started by
//! `scripts/throwaway-mariadb --nodes 3`): racing deployers over the nodes,
//! mutual exclusion across nodes, operators beside workers, a client of the
//! seed's protocol beside locksmith (its bytes kept), `migrate down`
//! while another node takes locks, and a node killed under a client.
//!
//! One cluster serves every test here, one test at a time. Set
//! `LOCKSMITH_TEST_GALERA=0` to skip them (scripts/test says so).

use crate::contest::{workers_beside_an_operator, Contest};
use crate::exact::seed_client::{seed_clients_beside_locksmith, SeedContest};
use crate::harness::*;
use locksmith::cli::output::Dump;
use std::path::Path;
use std::process::Child;
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

static CLUSTER: OnceLock<Mutex<Throwaway>> = OnceLock::new();

/// The cluster, for one test at a time; `None` when the Galera tests are
/// switched off.
pub(crate) fn cluster() -> Option<MutexGuard<'static, Throwaway>> {
    if std::env::var("LOCKSMITH_TEST_GALERA").as_deref() == Ok("0") {
        eprintln!("skipped: LOCKSMITH_TEST_GALERA=0");
        return None;
    }
    let c = CLUSTER.get_or_init(|| Mutex::new(Throwaway::start(3, &[])));
    // A test that failed still leaves a usable cluster.
    Some(c.lock().unwrap_or_else(|p| p.into_inner()))
}

/// The URL that starts at node `i` and falls back to the others.
pub(crate) fn from_node(db: &TestDb, c: &Throwaway, i: usize) -> String {
    db.url_over(c, &[i, (i + 1) % 3, (i + 2) % 3])
}

/// The embedded migrations, plus a DDL migration and one that inserts rows.
fn source_set(dir: &Path) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
    for n in [
        "V1__locks_create_table.sql",
        "V1__locks_create_table.down.sql",
        "V2__locks_audit_create_table.sql",
        "V2__locks_audit_create_table.down.sql",
        "V3__holder_liveness.sql",
        "V3__holder_liveness.down.sql",
    ] {
        std::fs::copy(root.join(n), dir.join(n)).unwrap();
    }
    std::fs::write(
        dir.join("V4__deploy_log.sql"),
        "CREATE TABLE deploy_log (id INT NOT NULL PRIMARY KEY, what VARCHAR(64) NOT NULL);",
    )
    .unwrap();
    std::fs::write(
        dir.join("V4__deploy_log.down.sql"),
        "DROP TABLE deploy_log;",
    )
    .unwrap();
    std::fs::write(
        dir.join("V5__seed_log.sql"),
        "INSERT INTO deploy_log (id, what) VALUES (1, 'one'), (2, 'two'), (3, 'three');",
    )
    .unwrap();
    std::fs::write(dir.join("V5__seed_log.down.sql"), "DELETE FROM deploy_log;").unwrap();
}

#[test]
fn racing_deployers_over_three_nodes_apply_each_migration_once() {
    let Some(c) = cluster() else { return };
    let dir = tempfile::tempdir().unwrap();
    source_set(dir.path());
    let src = dir.path().to_str().unwrap();
    let (mut runs, mut failed) = (0, 0);
    for trial in 0..10 {
        let db = TestDb::on(&c, trial % 3);
        let children: Vec<Child> = (0..8)
            .map(|i| {
                spawn_at(
                    &from_node(&db, &c, i % 3),
                    &["migrate", "up", "--source", src],
                )
            })
            .collect();
        for child in children {
            let r = Run::from(child.wait_with_output().unwrap());
            runs += 1;
            if r.code != 0 {
                failed += 1;
                eprintln!("trial {trial}: {r:#?}");
            }
        }
        let history = db.rows(
            "SELECT version, COUNT(*) FROM refinery_schema_history GROUP BY version ORDER BY version",
        );
        let once: Vec<Vec<Option<String>>> = (1..=5)
            .map(|v| vec![Some(v.to_string()), Some("1".into())])
            .collect();
        assert_eq!(history, once, "trial {trial}: each migration recorded once");
        assert_eq!(
            db.scalar("SELECT COUNT(*) FROM deploy_log").as_deref(),
            Some("3"),
            "trial {trial}: the inserted rows are there exactly once"
        );
    }
    eprintln!("racing deployers over 3 nodes: {failed} of {runs} runs failed");
    assert_eq!(failed, 0);
}

/// Appends `start <tag> <ns>` and `end <tag> <ns>` around a short sleep.
fn marker(file: &Path, tag: &str) -> Vec<String> {
    let f = file.display();
    vec![
        "sh".into(),
        "-c".into(),
        format!("echo \"start {tag} $(date +%s%N)\" >> '{f}'; sleep 0.02; echo \"end {tag} $(date +%s%N)\" >> '{f}'"),
    ]
}

/// Runs never overlap in a marker file; returns how many ran.
fn no_overlap(file: &Path) -> usize {
    let text = std::fs::read_to_string(file).unwrap();
    let mut open: Option<&str> = None;
    let mut n = 0;
    for line in text.lines() {
        let parts: Vec<&str> = line.split(' ').collect();
        match (parts[0], open) {
            ("start", None) => open = Some(parts[1]),
            ("end", Some(tag)) if tag == parts[1] => {
                open = None;
                n += 1;
            }
            _ => panic!("overlap at {line:?} in:\n{text}"),
        }
    }
    n
}

fn locks_left(db: &TestDb) -> usize {
    let doc: Dump = db
        .locksmith(&["locks", "dump", "--format", "json"])
        .success_json();
    doc.rows.iter().map(|r| r.locks.len()).sum()
}

#[test]
fn lock_runs_spread_over_the_nodes_exclude_each_other() {
    let Some(c) = cluster() else { return };
    let db = TestDb::on(&c, 0);
    db.locksmith(&["migrate", "up"]).succeeds_with(UP_FRESH);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("markers");
    let (mut failed, mut ran) = (0, 0);
    for round in 0..3 {
        let children: Vec<Child> = (0..12)
            .map(|i| {
                let cmd = marker(&file, &format!("r{round}.{i}"));
                let mut args = vec!["locks", "run", "platform", "backup", "--wait", "120s", "--"];
                args.extend(cmd.iter().map(String::as_str));
                spawn_at(&from_node(&db, &c, i % 3), &args)
            })
            .collect();
        for child in children {
            let r = Run::from(child.wait_with_output().unwrap());
            if r.code != 0 {
                failed += 1;
                eprintln!("{r:#?}");
            }
            ran += 1;
        }
    }
    let exclusive = no_overlap(&file);
    assert_eq!(
        (failed, exclusive),
        (0, ran),
        "every contender ran, one at a time"
    );
    // Distinct names on one row: all at once, none lost, none left.
    let children: Vec<Child> = (0..12)
        .map(|i| {
            let name = format!("job_{i}");
            spawn_at(
                &from_node(&db, &c, i % 3),
                &[
                    "locks", "run", "platform", &name, "--wait", "120s", "--", "true",
                ],
            )
        })
        .collect();
    for child in children {
        let r = Run::from(child.wait_with_output().unwrap());
        assert_eq!(r.code, 0, "{r:#?}");
    }
    eprintln!("mutual exclusion over 3 nodes: {ran} contenders, 0 overlaps, 0 failures; 12 distinct names, 0 failures");
    assert_eq!(locks_left(&db), 0);
}

#[test]
fn an_operator_on_one_node_beside_workers_on_the_others() {
    let Some(c) = cluster() else { return };
    let db = TestDb::on(&c, 0);
    db.locksmith(&["migrate", "up"]).succeeds_with(UP_FRESH);
    // Workers on nodes 1 and 3; the operator on node 2.
    let (changes, doc) = workers_beside_an_operator(
        &db,
        Contest {
            workers: (0..4)
                .map(|w| from_node(&db, &c, if w % 2 == 0 { 0 } else { 2 }))
                .collect(),
            rounds: 15,
            acquire: &["--wait", "30s"],
            operator: from_node(&db, &c, 1),
            at_least: 6,
        },
    );
    eprintln!("operators on node 2 beside workers on 1 and 3: {changes} changes, {} audit records, 0 failures", doc.records.len());
    assert_eq!(locks_left(&db), 0);
}

#[test]
fn a_seed_protocol_client_keeps_its_bytes_across_the_nodes() {
    let Some(c) = cluster() else { return };
    let db = TestDb::on(&c, 0);
    db.locksmith(&["migrate", "up"]).succeeds_with(UP_FRESH);
    // Boxes on nodes 1 and 3, workers spread over all three, the operators
    // and the sampler on node 2.
    let out = seed_clients_beside_locksmith(
        &db,
        SeedContest {
            boxes: vec![db.url_over(&c, &[0]), db.url_over(&c, &[2])],
            workers: (0..4).map(|w| from_node(&db, &c, w % 3)).collect(),
            victims: (0..2).map(|v| from_node(&db, &c, (v + 1) % 3)).collect(),
            operator: from_node(&db, &c, 1),
            sampler: db.url_over(&c, &[1]),
            run_for: Duration::from_secs(5),
        },
    );
    eprintln!(
        "seed-protocol boxes across 3 nodes: {} box writes, {} critical sections, {} operator changes, 0 respelled",
        out.box_writes, out.sections, out.operator_changes
    );
}

#[test]
fn migrate_down_on_one_node_while_another_takes_locks() {
    let Some(c) = cluster() else { return };
    let (mut refused, mut dropped) = (0, 0);
    for trial in 0..20 {
        let db = TestDb::on(&c, 0);
        db.locksmith(&["migrate", "up", "--target", "1"])
            .succeeds_with("Applied V1__locks_create_table\nSchema is now at version 1.\n");
        // Node 3 takes locks, a new one every few ms, never releasing.
        let taker = {
            let url = db.url_over(&c, &[2]);
            std::thread::spawn(move || {
                // A random start (the point: the race lands anywhere), not
                // a wait for anything.
                std::thread::sleep(Duration::from_millis(fastrand::u64(0..40)));
                let mut taken = Vec::new();
                for i in 0..20 {
                    let name = format!("k{i}");
                    let r = locksmith_at(
                        &url,
                        &[
                            "locks",
                            "acquire",
                            "platform",
                            &name,
                            "--holder",
                            "t",
                            "--timeout",
                            "5s",
                        ],
                    );
                    match r.code {
                        0 => taken.push(name),
                        // The table is gone: down won the race.
                        5 | 3 => break,
                        _ => panic!("{r:#?}"),
                    }
                }
                taken
            })
        };
        let t = Instant::now();
        let r = locksmith_at(
            &db.url_over(&c, &[0]),
            &["migrate", "down", "--all", "--timeout", "10s"],
        );
        let took = t.elapsed();
        let taken = taker.join().unwrap();
        assert!(
            took < Duration::from_secs(12),
            "trial {trial}: down took {took:?}"
        );
        match r.code {
            0 => {
                dropped += 1;
                r.succeeds_with(
                    "Rolled back V1__locks_create_table\nNo migrations are applied now.\n",
                );
                assert!(
                    taken.is_empty(),
                    "trial {trial}: down dropped the table while {taken:?} were held: {r:#?}"
                );
            }
            4 => {
                refused += 1;
                // The hole: which of the taker's locks it had taken by then
                // (one row's locks are listed on its one line, newest first).
                r.fails(4).stderr_matches(concat!(
                    r"locksmith: refusing to roll back V1__locks_create_table: table `locks` still holds locks:\n",
                    r"  platform: k\d+ \(held by t\)(, k\d+ \(held by t\))*\n",
                    r"hint: release them first \(`locksmith locks dump`\), or pass --force to drop them\n",
                ));
                // Every lock taken is still there.
                let held: Vec<String> = db
                    .locks_held()
                    .into_iter()
                    .map(|(_, name, _)| name)
                    .collect();
                for name in &taken {
                    assert!(held.contains(name), "trial {trial}: {name} lost: {held:?}");
                }
            }
            _ => panic!("trial {trial}: {r:#?}"),
        }
    }
    eprintln!("migrate down on node 1 while node 3 takes locks: 20 trials, {refused} refused, {dropped} dropped an empty table, 0 held locks dropped, none hung");
}

#[test]
fn a_node_killed_under_a_client_that_holds_a_lock() {
    let Some(mut c) = cluster() else { return };
    let db = TestDb::on(&c, 0);
    db.locksmith(&["migrate", "up"]).succeeds_with(UP_FRESH);
    let dir = tempfile::tempdir().unwrap();
    let go = dir.path().join("go");
    let script = format!(
        "echo ready; while [ ! -e '{}' ]; do sleep 0.02; done",
        go.display()
    );
    // The client talks to node 2 first.
    let mut client = spawn_at(
        &from_node(&db, &c, 1),
        &[
            "locks", "run", "platform", "backup", "--holder", "client-2", "--", "sh", "-c", &script,
        ],
    );
    let mut out = std::io::BufReader::new(client.stdout.take().unwrap());
    let mut line = String::new();
    std::io::BufRead::read_line(&mut out, &mut line).unwrap();
    assert_eq!(line, "ready\n");
    // Contenders on the surviving nodes, waiting for it.
    let mut contenders: Vec<Child> = [0, 2]
        .iter()
        .map(|i| {
            let holder = format!("c{i}");
            spawn_at(
                &db.url_over(&c, &[*i]),
                &[
                    "locks", "run", "platform", "backup", "--holder", &holder, "--wait", "60s",
                    "--", "true",
                ],
            )
        })
        .collect();
    let mut waited = Vec::new();
    for child in &mut contenders {
        let mut stderr = std::io::BufReader::new(child.stderr.take().unwrap());
        let said = read_until(&mut stderr, "waiting:");
        assert_eq!(
            said,
            "locksmith: waiting: lock `backup` in row `platform` is held by client-2\n"
        );
        waited.push(stderr);
    }
    c.kill(1);
    let t = Instant::now();
    std::fs::write(&go, "").unwrap();
    let r = Run::from(client.wait_with_output().unwrap());
    let took = t.elapsed();
    eprintln!("node 2 killed under its client: the release went through another node {:.2}s after the command ended", took.as_secs_f64());
    assert_eq!(r.code, 0, "{r:#?}");
    assert!(took < Duration::from_secs(10), "{took:?}");
    for (child, mut stderr) in contenders.into_iter().zip(waited) {
        let mut r = Run::from(child.wait_with_output().unwrap());
        std::io::Read::read_to_string(&mut stderr, &mut r.stderr).unwrap();
        assert_eq!(r.code, 0, "the contenders carried on: {r:#?}");
        // Nothing more said than that they waited, for the other one
        // perhaps (the command is `true`).
        assert_eq!(r.stdout, "", "{r:#?}");
        r.stderr_matches(
            r"(locksmith: waiting: lock `backup` in row `platform` is held by c[02]\n)*",
        );
    }
    assert_eq!(locks_left(&db), 0);
    c.restart(1);
}
