//! A client of the seed's protocol, written here with SQL only (none of
//! locksmith's code), behaving like Cloudron's box: it reads `dataJson` and
//! `version`, parses the JSON (keeping key order, as `JSON.parse` does), adds
//! or deletes its own key, whose holder is an object, writes the whole
//! object back compact (as `JSON.stringify` does) by compare-and-swap, and
//! reads again when it lost the race. Beside it on the same row: locksmith
//! workers contending for the same locks, workers whose locks operators
//! take away, the operators (force-release and bump: one with `--yes`, one
//! through the library who reads each plan a moment before confirming it),
//! and a sampler reading the row. On one server here; across a cluster in galera.rs.

use super::*;
use mysql_async::prelude::Queryable;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The row they all share.
const ROW: &str = "platform";

/// What the box writes as the holder of its locks, exactly as
/// `JSON.stringify` (and serde_json) writes it.
const BOX_HOLDER: &str = r#"{"taskId":"18","pid":3}"#;

/// Who takes part, and through which URLs (a seed client's and the
/// sampler's name one server: mysql_async connects to one host).
pub struct SeedContest {
    /// One box-like client per URL, with key `box_<i>` (at least two):
    /// the operators never touch `box_0`; the others' tasks are "killed"
    /// now and then, and an operator force-releases their lock.
    pub boxes: Vec<String>,
    /// Workers contending two by two for `job_<w % 2>` (library `lock()`,
    /// then the guard's release).
    pub workers: Vec<String>,
    /// Workers holding `victim_<v>` of their own, which the operator takes
    /// away now and then.
    pub victims: Vec<String>,
    /// The operator's URL: `locks force-release platform victim_<v> --yes`,
    /// and every third change `locks bump platform --yes`.
    pub operator: String,
    pub sampler: String,
    /// How long they run.
    pub run_for: Duration,
}

/// What the run came to.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Writes the boxes made, and the CAS races they lost.
    pub box_writes: usize,
    pub box_conflicts: usize,
    /// Reads in which a box found its entry not as it wrote it.
    pub box_saw_respelled: Vec<String>,
    /// Critical sections run, and those that overlapped another on the
    /// same lock.
    pub sections: usize,
    pub overlaps: Vec<String>,
    /// Worker operations that failed.
    pub worker_failures: Vec<String>,
    /// Locks the victims and killable boxes lost to the operators.
    pub lost: usize,
    /// Changes the operator made, and commands of its that failed.
    pub operator_changes: usize,
    pub operator_failures: Vec<String>,
    /// Rows the sampler read, and those where a box's entry was respelled
    /// (or the text was no JSON object).
    pub samples: usize,
    pub sampler_saw_respelled: Vec<String>,
}

/// A box's entry as it writes it.
fn entry(key: &str) -> String {
    format!("\"{key}\":{BOX_HOLDER}")
}

async fn conn(url: &str) -> mysql_async::Conn {
    mysql_async::Conn::from_url(url).await.unwrap()
}

/// The box: toggles its key until `stop`, then leaves it deleted. Before
/// each write it checks that what it read holds its entry exactly as it
/// last wrote it (or not at all, when it deleted it). A `killable` box's
/// lock may be taken away by an operator (its task was killed): finding
/// it gone is no fault, and counts as lost.
async fn a_box(url: String, key: String, killable: bool, stop: Arc<AtomicBool>) -> Outcome {
    let mut c = conn(&url).await;
    let mine = entry(&key);
    let holder: serde_json::Value = serde_json::from_str(BOX_HOLDER).unwrap();
    let mut out = Outcome::default();
    let mut holding = false;
    loop {
        let stopping = stop.load(Ordering::SeqCst);
        if stopping && !holding {
            break;
        }
        let want = !holding;
        loop {
            let (data, version): (String, i64) = c
                .exec_first("SELECT dataJson, version FROM locks WHERE id = ?", (ROW,))
                .await
                .unwrap()
                .expect("the row is there");
            let found = data.matches(&format!("\"{key}\":")).count();
            if killable && holding && found == 0 {
                out.lost += 1;
                holding = false;
                if !want {
                    break;
                }
            } else if (holding && (found != 1 || !data.contains(&mine))) || (!holding && found != 0)
            {
                out.box_saw_respelled.push(format!(
                    "{key} (holding: {holding}) read at version {version}: {data}"
                ));
            }
            let mut m: serde_json::Map<String, serde_json::Value> =
                serde_json::from_str(&data).unwrap();
            if want {
                m.insert(key.clone(), holder.clone());
            } else {
                m.shift_remove(&key);
            }
            let sent = c
                .exec_drop(
                    "UPDATE locks SET dataJson = ?, version = version + 1 WHERE id = ? AND version = ?",
                    (serde_json::to_string(&m).unwrap(), ROW, version),
                )
                .await;
            match sent {
                Ok(()) if c.affected_rows() == 1 => {
                    out.box_writes += 1;
                    holding = want;
                    break;
                }
                Ok(()) => out.box_conflicts += 1,
                // A cluster's certification conflict is a lost race too.
                Err(mysql_async::Error::Server(e)) if e.code == 1213 => out.box_conflicts += 1,
                Err(e) => panic!("{key}: {e}"),
            }
        }
        // A box changes its locks now and then, not in a tight loop.
        tokio::time::sleep(Duration::from_millis(fastrand::u64(2..6))).await;
    }
    let _ = c.disconnect().await;
    out
}

/// Who is in a critical section of each lock.
type Inside = Arc<Mutex<HashMap<String, String>>>;

/// A locksmith worker taking `name` as `holder` until `stop`; `victim`:
/// the operator may take it away (its release then finds it not held).
async fn a_worker(
    url: String,
    (name, holder): (String, String),
    victim: bool,
    inside: Inside,
    stop: Arc<AtomicBool>,
) -> Outcome {
    let t = LockTable::connect(&DbUrl::parse(&url).unwrap())
        .await
        .unwrap();
    let opts = AcquireOptions {
        wait: Some(Duration::from_secs(20)),
        ..AcquireOptions::default()
    };
    let mut out = Outcome::default();
    while !stop.load(Ordering::SeqCst) {
        let g = match t.lock(ROW, &name, &holder, &opts, |_| {}).await {
            Ok(g) => g,
            Err(e) => {
                out.worker_failures
                    .push(format!("{holder} lock {name}: {e}"));
                continue;
            }
        };
        if let Some(other) = inside.lock().unwrap().insert(name.clone(), holder.clone()) {
            out.overlaps
                .push(format!("{holder} entered {name} while {other} was inside"));
        }
        out.sections += 1;
        // The work the lock protects.
        tokio::time::sleep(Duration::from_millis(fastrand::u64(1..4))).await;
        inside.lock().unwrap().remove(&name);
        match g.release().await {
            Ok(()) => {}
            Err(e) if victim && matches!(e.kind(), locksmith::Kind::NotHeld { .. }) => {
                out.lost += 1
            }
            Err(e) => out
                .worker_failures
                .push(format!("{holder} release {name}: {e}")),
        }
    }
    let _ = t.disconnect().await;
    out
}

/// The operator, until `stop` (and at least 6 commands).
fn the_operator(url: String, victims: usize, stop: Arc<AtomicBool>) -> Outcome {
    let mut out = Outcome::default();
    let mut i = 0;
    while i < 6 || !stop.load(Ordering::SeqCst) {
        i += 1;
        let lock = format!("victim_{}", i % victims);
        let args: Vec<&str> = if i % 3 == 0 {
            vec!["locks", "bump", ROW, "--yes"]
        } else {
            vec!["locks", "force-release", ROW, &lock, "--yes"]
        };
        let r = locksmith_at(&url, &args);
        match r.code {
            0 if r.stderr.is_empty() => out.operator_changes += 1,
            5 if r.stderr == format!("locksmith: lock `{lock}` is not held in row `{ROW}`\n") => {}
            _ => out.operator_failures.push(format!("{args:?}: {r:#?}")),
        }
    }
    out
}

/// An operator through the library who reads each plan a moment before
/// confirming it (the window in which the row moves on), until `stop`:
/// force-releases of the victims' locks and of the killable boxes' (whose
/// holders are objects), and every third change a bump.
async fn a_reading_operator(
    url: String,
    (victims, boxes): (usize, usize),
    stop: Arc<AtomicBool>,
) -> Outcome {
    use locksmith::locks::{AuditInfo, Edit, WriteOpts};
    let t = LockTable::connect(&DbUrl::parse(&url).unwrap())
        .await
        .unwrap();
    let mut out = Outcome::default();
    let mut i = 0;
    while i < 6 || !stop.load(Ordering::SeqCst) {
        i += 1;
        let edit = match i % 3 {
            0 => Edit::Bump(1),
            1 => Edit::Names(vec![format!("victim_{}", i % victims)]),
            _ => Edit::Names(vec![format!("box_{}", 1 + i % (boxes - 1))]),
        };
        let done = match t.plan(ROW, &edit, None).await {
            Ok(plan) => {
                // Reading the plan.
                tokio::time::sleep(Duration::from_millis(fastrand::u64(5..15))).await;
                let opts = WriteOpts {
                    audit: Some(AuditInfo::new(edit.action(), "a reading operator".into())),
                    ..WriteOpts::default()
                };
                t.carry_out(&plan, &edit, &opts).await
            }
            Err(e) => Err(e),
        };
        match done {
            Ok(_) => out.operator_changes += 1,
            // The victim had released it (before the plan, or since).
            Err(e) if matches!(e.kind(), locksmith::Kind::NotHeld { .. }) => {}
            Err(e) => out.operator_failures.push(format!("{edit:?}: {e}")),
        }
    }
    let _ = t.disconnect().await;
    out
}

/// Reads the row until `stop`: every box entry it holds must be spelled
/// as the box wrote it.
async fn the_sampler(url: String, boxes: usize, stop: Arc<AtomicBool>) -> Outcome {
    let mut c = conn(&url).await;
    let mut out = Outcome::default();
    while !stop.load(Ordering::SeqCst) {
        let data: String = c
            .exec_first("SELECT dataJson FROM locks WHERE id = ?", (ROW,))
            .await
            .unwrap()
            .expect("the row is there");
        out.samples += 1;
        match serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(&data) {
            Ok(m) => {
                for b in 0..boxes {
                    let key = format!("box_{b}");
                    if m.contains_key(&key) && !data.contains(&entry(&key)) {
                        out.sampler_saw_respelled.push(data.clone());
                    }
                }
            }
            Err(e) => out.sampler_saw_respelled.push(format!("{e}: {data}")),
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let _ = c.disconnect().await;
    out
}

/// Runs the contest on `db` (row `platform` starts as `{}`) and checks it:
/// no overlap, no failure, every byte of the boxes' kept, one audit record
/// per operator change, and nothing left held.
pub fn seed_clients_beside_locksmith(db: &TestDb, c: SeedContest) -> Outcome {
    db.sql("INSERT INTO locks (id, dataJson) VALUES ('platform', '{}')");
    // The boxes and the sampler read without causal reads, as the seed's
    // clients do: on a cluster, each starts once its node has the row.
    for url in c.boxes.iter().chain([&c.sampler]) {
        wait_until(
            "the row is there for every box and the sampler",
            Duration::from_secs(30),
            || {
                block(async {
                    let mut there = conn(url).await;
                    let row: Option<String> = there
                        .exec_first("SELECT dataJson FROM locks WHERE id = ?", (ROW,))
                        .await
                        .unwrap();
                    there.disconnect().await.unwrap();
                    row.is_some()
                })
            },
        );
    }
    let stop = Arc::new(AtomicBool::new(false));
    let inside: Inside = Arc::default();
    let mut threads: Vec<std::thread::JoinHandle<Outcome>> = Vec::new();
    for (i, url) in c.boxes.iter().enumerate() {
        let (url, stop) = (url.clone(), stop.clone());
        threads.push(std::thread::spawn(move || {
            block(a_box(url, format!("box_{i}"), i > 0, stop))
        }));
    }
    let workers = c
        .workers
        .iter()
        .enumerate()
        .map(|(w, u)| (u, format!("job_{}", w % 2), format!("worker-{w}"), false));
    let victims = c
        .victims
        .iter()
        .enumerate()
        .map(|(v, u)| (u, format!("victim_{v}"), format!("victim-{v}"), true));
    for (url, name, holder, victim) in workers.chain(victims) {
        let (url, inside, stop) = (url.clone(), inside.clone(), stop.clone());
        threads.push(std::thread::spawn(move || {
            block(a_worker(url, (name, holder), victim, inside, stop))
        }));
    }
    {
        let (url, n, stop) = (c.operator.clone(), c.victims.len(), stop.clone());
        threads.push(std::thread::spawn(move || the_operator(url, n, stop)));
    }
    {
        let n = (c.victims.len(), c.boxes.len());
        let (url, stop) = (c.operator.clone(), stop.clone());
        threads.push(std::thread::spawn(move || {
            block(a_reading_operator(url, n, stop))
        }));
    }
    {
        let (url, n, stop) = (c.sampler.clone(), c.boxes.len(), stop.clone());
        threads.push(std::thread::spawn(move || block(the_sampler(url, n, stop))));
    }
    // The contest runs this long: a duration, not a wait for anything.
    std::thread::sleep(c.run_for);
    stop.store(true, Ordering::SeqCst);
    let mut all = Outcome::default();
    for t in threads {
        let o = t.join().unwrap();
        all.box_writes += o.box_writes;
        all.box_conflicts += o.box_conflicts;
        all.box_saw_respelled.extend(o.box_saw_respelled);
        all.sections += o.sections;
        all.overlaps.extend(o.overlaps);
        all.worker_failures.extend(o.worker_failures);
        all.lost += o.lost;
        all.operator_changes += o.operator_changes;
        all.operator_failures.extend(o.operator_failures);
        all.samples += o.samples;
        all.sampler_saw_respelled.extend(o.sampler_saw_respelled);
    }
    eprintln!(
        "seed-protocol boxes beside locksmith: {} box writes ({} lost races), {} critical sections, {} overlaps, {} worker failures, {} operator changes, {} failed, {} locks taken away, {} samples; respelled: {} seen by the boxes, {} by the sampler",
        all.box_writes,
        all.box_conflicts,
        all.sections,
        all.overlaps.len(),
        all.worker_failures.len(),
        all.operator_changes,
        all.operator_failures.len(),
        all.lost,
        all.samples,
        all.box_saw_respelled.len(),
        all.sampler_saw_respelled.len()
    );
    let first = |v: &[String]| v.iter().take(3).cloned().collect::<Vec<_>>().join("\n");
    assert!(
        all.box_saw_respelled.is_empty() && all.sampler_saw_respelled.is_empty(),
        "the boxes' entries were not kept byte for byte: {} reads by the boxes, {} by the sampler; first:\n{}\n{}",
        all.box_saw_respelled.len(),
        all.sampler_saw_respelled.len(),
        first(&all.box_saw_respelled),
        first(&all.sampler_saw_respelled)
    );
    assert!(
        all.operator_failures.is_empty(),
        "{} operator commands failed; first:\n{}",
        all.operator_failures.len(),
        first(&all.operator_failures)
    );
    assert!(
        all.overlaps.is_empty(),
        "overlaps:\n{}",
        first(&all.overlaps)
    );
    assert!(
        all.worker_failures.is_empty(),
        "{} worker operations failed; first:\n{}",
        all.worker_failures.len(),
        first(&all.worker_failures)
    );
    // Enough happened for the above to mean something.
    assert!(all.box_writes >= 20, "{all:?}");
    assert!(all.sections >= 10, "{all:?}");
    assert!(all.operator_changes >= 3, "{all:?}");
    assert!(all.samples >= 100, "{all:?}");
    // The audit: one record per change, and every lock a victim or a box
    // lost was one an operator removed.
    let doc: locksmith::cli::output::HistoryDoc = db
        .locksmith(&["locks", "history", "--format", "json"])
        .success_json();
    assert_eq!(doc.records.len(), all.operator_changes);
    let removed: usize = doc.records.iter().map(|r| r.removed_locks().len()).sum();
    assert_eq!(removed, all.lost);
    assert_eq!(db.locks_held(), [], "nothing is left held");
    all
}

#[test]
fn a_seed_protocol_client_keeps_its_bytes_beside_workers_and_operators() {
    let db = TestDb::migrated();
    let url = db.url();
    seed_clients_beside_locksmith(
        &db,
        SeedContest {
            boxes: vec![url.clone(), url.clone()],
            workers: vec![url.clone(); 4],
            victims: vec![url.clone(); 2],
            operator: url.clone(),
            sampler: url,
            run_for: Duration::from_secs(4),
        },
    );
}
