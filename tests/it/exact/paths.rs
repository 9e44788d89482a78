//! Property: on rows as other writers leave them (generated as text, with
//! whitespace and escapes anywhere), every write path adds or removes only
//! its own entry, by the byte-exact rule, and an acquire then a release
//! gives the row back byte for byte.

use super::text::{row, Doc, HOLDERS, NAMES};
use super::*;
use locksmith::locks::{AuditInfo, Edit, WriteOpts};
use proptest::prelude::*;
use proptest::sample::{select, Index};
use proptest::test_runner::{Config, TestCaseError, TestCaseResult, TestRunner};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

/// What the cases did, to show that both kinds of path ran.
#[derive(Default)]
struct Tally {
    cases: AtomicU64,
    simple: AtomicU64,
    /// Operations on a fresh table over a simple row that took the
    /// single-statement path.
    fresh_simple_fast: AtomicU64,
    fast: AtomicU64,
    slow: AtomicU64,
    foreign_removed: AtomicU64,
}

impl Tally {
    fn count(&self, t: &LockTable) -> (u64, u64) {
        let (f, s) = (
            t.stats().fast.load(Ordering::Relaxed),
            t.stats().slow.load(Ordering::Relaxed),
        );
        self.fast.fetch_add(f, Ordering::Relaxed);
        self.slow.fetch_add(s, Ordering::Relaxed);
        (f, s)
    }
}

/// Fails the case with what went wrong, naming the step.
fn failed(step: &str) -> impl Fn(locksmith::Error) -> TestCaseError + '_ {
    move |e| TestCaseError::fail(format!("{step}: {e}"))
}

async fn connect(url: &DbUrl) -> Result<LockTable, TestCaseError> {
    LockTable::connect(url).await.map_err(failed("connect"))
}

/// Looks at the row after each step: its text must be exactly what the
/// rule says, and its version one more than before.
struct Look<'a> {
    conn: mysql_async::Conn,
    row: &'a str,
    doc: &'a Doc,
    version: i64,
}

impl Look<'_> {
    async fn check(&mut self, step: &str, want: &str, gone: Option<usize>) -> TestCaseResult {
        use mysql_async::prelude::Queryable;
        self.version += 1;
        let (got, version): (Option<String>, i64) = self
            .conn
            .exec_first(
                "SELECT dataJson, version FROM locks WHERE id = ?",
                (self.row,),
            )
            .await
            .map_err(|e| TestCaseError::fail(format!("read: {e}")))?
            .ok_or_else(|| TestCaseError::fail("the row is gone"))?;
        let got = got.unwrap_or_default();
        if got == want && version == self.version {
            return Ok(());
        }
        Err(TestCaseError::fail(diagnose(
            step,
            self.doc,
            &got,
            want,
            gone,
            (version, self.version),
        )))
    }
}

/// What is wrong with `got`, in the terms the rule speaks of.
fn diagnose(
    step: &str,
    doc: &Doc,
    got: &str,
    want: &str,
    gone: Option<usize>,
    (version, wanted_version): (i64, i64),
) -> String {
    let respelled: Vec<&str> = (0..doc.entries.len())
        .filter(|i| Some(*i) != gone)
        .map(|i| doc.entry(i))
        .filter(|e| !got.contains(e))
        .collect();
    // The meaning, key order included (serde_json's maps compare without
    // it), numbers as values.
    let meaning = |t: &str| {
        serde_json::from_str::<serde_json::Value>(t).map(|v| serde_json::to_string(&v).unwrap())
    };
    let parsed = match meaning(got) {
        Ok(v) => match meaning(want) {
            Ok(w) if v == w => {
                "yes, with the wanted meaning (keys and their order included)".into()
            }
            Ok(_) => {
                "yes, but NOT with the wanted meaning: entries, their values or their order differ"
                    .into()
            }
            Err(e) => format!("yes (the wanted text does not: {e})"),
        },
        Err(e) => format!("NO: {e}"),
    };
    format!(
        "{step}: dataJson is not what the byte-exact rule gives\n  \
         row before: {:?}\n  got:        {got:?}\n  wanted:     {want:?}\n  \
         version: {version}, wanted {wanted_version}\n  \
         foreign entries not found verbatim: {respelled:?}\n  \
         parses as JSON: {parsed}",
        doc.text
    )
}

/// Runs `locksmith` and compares status, stdout and stderr whole.
fn cli(db: &TestDb, args: &[&str], stdout: &str) -> TestCaseResult {
    let r = db.locksmith(args);
    if (r.code, r.stdout.as_str(), r.stderr.as_str()) != (0, stdout, "") {
        return Err(TestCaseError::fail(format!(
            "{args:?}: wanted exit 0, stdout {stdout:?} and a quiet stderr: {r:#?}"
        )));
    }
    Ok(())
}

fn audited(action: &str) -> WriteOpts {
    WriteOpts {
        audit: Some(AuditInfo::new(action, "tests/it/exact/paths.rs".into())),
        ..WriteOpts::default()
    }
}

/// One generated row through every path.
async fn one_case(
    (db, url, tally): (&TestDb, &DbUrl, &Tally),
    row: &str,
    doc: &Doc,
    (name, holder): (&str, &str),
    pick: &Index,
) -> TestCaseResult {
    use mysql_async::prelude::Queryable;
    let mut conn = mysql_async::Conn::from_url(db.url())
        .await
        .map_err(|e| TestCaseError::fail(format!("{e}")))?;
    conn.exec_drop(
        "INSERT INTO locks (id, dataJson, version) VALUES (?, ?, 1)",
        (row, &doc.text),
    )
    .await
    .map_err(|e| TestCaseError::fail(format!("insert {doc:?}: {e}")))?;
    let mut look = Look {
        conn,
        row,
        doc,
        version: 1,
    };
    let (orig, added) = (doc.text.as_str(), doc.add(name, holder));
    let simple = doc.is_simple();
    let own = vec![name.to_string()];

    // (a) or (c): a fresh table for each operation, so nothing is cached.
    let t = connect(url).await?;
    t.acquire(row, name, holder)
        .await
        .map_err(failed("acquire, fresh table"))?;
    let (fast, _) = tally.count(&t);
    if simple {
        tally.fresh_simple_fast.fetch_add(fast, Ordering::Relaxed);
    }
    let _ = t.disconnect().await;
    look.check("acquire, fresh table", &added, None).await?;
    let t = connect(url).await?;
    t.release(row, name, holder)
        .await
        .map_err(failed("release, fresh table"))?;
    tally.count(&t);
    let _ = t.disconnect().await;
    look.check("release, fresh table", orig, None).await?;

    // (b): one table, operations soon after each other (its copy of the row).
    let t = connect(url).await?;
    for round in 1..=2 {
        t.acquire(row, name, holder)
            .await
            .map_err(failed("acquire, same table"))?;
        look.check(&format!("acquire {round}, same table"), &added, None)
            .await?;
        t.release(row, name, holder)
            .await
            .map_err(failed("release, same table"))?;
        look.check(&format!("release {round}, same table"), orig, None)
            .await?;
    }
    tally.count(&t);

    // (d): audited operator changes, by name, by holder, and planned then
    // carried out.
    t.acquire(row, name, holder)
        .await
        .map_err(failed("acquire"))?;
    look.check("acquire before force-release", &added, None)
        .await?;
    t.force_release(row, &own, &audited("force-release"))
        .await
        .map_err(failed("force-release"))?;
    look.check("audited force-release", orig, None).await?;
    t.acquire(row, name, holder)
        .await
        .map_err(failed("acquire"))?;
    look.check("acquire before release by holder", &added, None)
        .await?;
    t.release_by_holder(row, holder, &audited("release-by-holder"))
        .await
        .map_err(failed("release by holder"))?;
    look.check("audited release by holder", orig, None).await?;
    t.acquire(row, name, holder)
        .await
        .map_err(failed("acquire"))?;
    look.check("acquire before a planned force-release", &added, None)
        .await?;
    let edit = Edit::Names(own.clone());
    let plan = t.plan(row, &edit, None).await.map_err(failed("plan"))?;
    t.carry_out(&plan, &edit, &audited("force-release"))
        .await
        .map_err(failed("carry out"))?;
    look.check("planned force-release, carried out", orig, None)
        .await?;

    // (e): the library's guard.
    let g = t
        .lock(row, name, holder, &AcquireOptions::default(), |_| {})
        .await
        .map_err(failed("lock()"))?;
    look.check("lock()", &added, None).await?;
    g.release().await.map_err(failed("guard release"))?;
    look.check("LockGuard::release()", orig, None).await?;
    tally.count(&t);
    let _ = t.disconnect().await;

    // The command line: acquire, then force-release with --yes.
    cli(db, &["locks", "acquire", row, name, "--holder", holder], "")?;
    look.check("locks acquire", &added, None).await?;
    let v = look.version;
    cli(
        db,
        &["locks", "force-release", row, name, "--yes"],
        &format!(
            "row `{row}`: version {v} -> {}\nreleased {name} (held by {holder})\n{} lock(s) remain\n",
            v + 1,
            doc.entries.len()
        ),
    )?;
    look.check("locks force-release --yes", orig, None).await?;

    // An operator removes one foreign entry: exactly that entry goes, by
    // the Remove rule, and the audit keeps it as it was stored.
    let nameable = doc.nameable();
    if !nameable.is_empty() {
        let i = nameable[pick.index(nameable.len())];
        let foreign = doc.entries[i].name.clone();
        let t = connect(url).await?;
        let change = t
            .force_release(
                row,
                std::slice::from_ref(&foreign),
                &audited("force-release"),
            )
            .await
            .map_err(failed("force-release of a foreign entry"))?;
        let history = t.history(Some(row)).await.map_err(failed("history"))?;
        let _ = t.disconnect().await;
        look.check("force-release of a foreign entry", &doc.remove(i), Some(i))
            .await?;
        let part = &doc.shape.parts[i];
        let stored = |l: &locksmith::locks::Locks| -> Vec<(String, String)> {
            l.iter()
                .map(|e| (e.key_text().to_string(), e.holder().get().to_string()))
                .collect()
        };
        let want = vec![(part.key.clone(), part.value.clone())];
        prop_assert_eq!(
            stored(&change.removed),
            want.clone(),
            "the change's removed"
        );
        let last = history
            .last()
            .ok_or_else(|| TestCaseError::fail("no audit record"))?;
        prop_assert_eq!(stored(&last.removed_locks()), want, "the audit's removed");
        tally.foreign_removed.fetch_add(1, Ordering::Relaxed);
    }
    let _ = look.conn.disconnect().await;
    tally.cases.fetch_add(1, Ordering::Relaxed);
    if simple {
        tally.simple.fetch_add(1, Ordering::Relaxed);
    }
    Ok(())
}

#[test]
fn every_write_path_changes_only_its_own_entry_byte_for_byte() {
    let db = TestDb::migrated();
    let url = DbUrl::parse(&db.url()).unwrap();
    let tally = Tally::default();
    let next = AtomicUsize::new(0);
    let mut runner = TestRunner::new(Config {
        cases: 64,
        max_shrink_iters: 48,
        failure_persistence: None,
        ..Config::default()
    });
    let strategy = (
        row(),
        select(NAMES.to_vec()),
        select(HOLDERS.to_vec()),
        any::<Index>(),
    );
    let result = runner.run(&strategy, |(doc, name, holder, pick)| {
        // A row of its own for each case (shrinking runs cases again).
        let row = format!("p{}", next.fetch_add(1, Ordering::Relaxed));
        block(one_case(
            (&db, &url, &tally),
            &row,
            &doc,
            (name, holder),
            &pick,
        ))
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    let n = |a: &AtomicU64| a.load(Ordering::Relaxed);
    eprintln!(
        "byte-exact writes: {} rows ({} simple), every path; {} foreign entries removed; {} single-statement and {} read + CAS operations",
        n(&tally.cases),
        n(&tally.simple),
        n(&tally.foreign_removed),
        n(&tally.fast),
        n(&tally.slow)
    );
    assert!(n(&tally.simple) > 0, "no simple row was generated");
    assert!(
        n(&tally.fresh_simple_fast) > 0,
        "no acquire on a simple row took the single-statement path"
    );
    assert!(n(&tally.slow) > 0, "no operation took the read + CAS path");
    assert!(
        n(&tally.foreign_removed) > 0,
        "no foreign entry was removed"
    );
}
