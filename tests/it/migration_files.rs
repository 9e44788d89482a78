//! The files of a `--source DIR` directory are read like every other file
//! locksmith reads before it connects (issue 16): the directory walk and
//! each file within `--timeout`, so a FIFO nobody writes to (or a file
//! system that does not answer) ends any `migrate` command in time, naming
//! the file, with exit 1 and nothing changed. A FIFO that delivers is read
//! like a file, and one whose name is not a migration's is never opened.

use crate::harness::*;
use std::path::Path;
use std::time::{Duration, Instant};

const FIFO_SAYS: &str = "nothing could be read from it before --timeout ran out: a FIFO nobody writes to, or a file system that does not answer?";

fn mkfifo(path: &Path) {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).unwrap();
    }
    nix::unistd::mkfifo(path, nix::sys::stat::Mode::S_IRWXU).unwrap();
}

fn write(path: &Path, text: &str) {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).unwrap();
    }
    std::fs::write(path, text).unwrap();
}

/// The tables of the test database: none, before and after each refusal.
fn tables(db: &TestDb) -> Vec<Vec<Option<String>>> {
    db.rows(
        "SELECT TABLE_NAME FROM information_schema.TABLES \
         WHERE TABLE_SCHEMA = DATABASE() ORDER BY TABLE_NAME",
    )
}

/// A FIFO in a `--source` directory, and the command run over it.
struct Case {
    /// The FIFO, relative to the directory.
    fifo: &'static str,
    /// The regular files beside it.
    files: &'static [&'static str],
    /// The `migrate` subcommand and its own arguments.
    args: &'static [&'static str],
}

#[test]
fn a_fifo_in_a_source_directory_ends_the_command_within_the_timeout() {
    let db = TestDb::new();
    let cases = [
        Case {
            fifo: "V3__x.sql",
            files: &["V3__x.down.sql"],
            args: &["status"],
        },
        Case {
            fifo: "V3__x.sql",
            files: &["V1__a.sql", "V1__a.down.sql", "V3__x.down.sql"],
            args: &["up"],
        },
        Case {
            fifo: "V3__x.down.sql",
            files: &["V3__x.sql"],
            args: &["down", "--all"],
        },
        Case {
            fifo: "sub/V4__y.sql",
            files: &["V1__a.sql", "V1__a.down.sql", "sub/V4__y.down.sql"],
            args: &["mark-applied", "4", "--yes"],
        },
        Case {
            fifo: "deep/er/V2__b.down.sql",
            files: &["V2__b.sql"],
            args: &["up", "--dry-run", "--format", "json"],
        },
    ];
    for c in cases {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        for f in c.files {
            write(&root.join(f), "CREATE TABLE never_made (a INT);");
        }
        let fifo = root.join(c.fifo);
        mkfifo(&fifo);
        let src = root.to_str().unwrap();
        let mut args = vec!["migrate"];
        args.extend(c.args);
        args.extend(["--source", src, "--timeout", "1s"]);
        let before = tables(&db);
        let started = Instant::now();
        let r = db.locksmith(&args);
        let took = started.elapsed();
        assert!(
            took >= Duration::from_millis(900) && took < Duration::from_millis(2500),
            "{args:?}: took {took:?}: {r:#?}"
        );
        r.fails(1).no_secret();
        assert_eq!(
            r.stderr,
            format!("locksmith: cannot read {}: {FIFO_SAYS}\n", fifo.display()),
            "{args:?}"
        );
        assert_eq!(tables(&db), before, "{args:?} changed the database");
    }
}

/// `migrate status` of a set holding `V1__make_t` on an empty database.
const STATUS_MAKE_T: &str = "\
+-----------------------------------------+
| VERSION   NAME     STATE     APPLIED ON |
+=========================================+
| 1         make_t   pending   -          |
+-----------------------------------------+
";

#[test]
fn a_fifo_that_delivers_is_read_and_one_not_named_as_a_migration_is_not_opened() {
    let db = TestDb::new();
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let src = root.to_str().unwrap();
    write(&root.join("V1__make_t.down.sql"), "DROP TABLE t;");
    // Never opened: nobody writes to them, and the command does not wait.
    mkfifo(&root.join("README"));
    mkfifo(&root.join("notes/V9__later.txt"));
    // The up step through a FIFO, as from `<(generate-migration)`.
    let up = root.join("V1__make_t.sql");
    mkfifo(&up);
    let writer = std::thread::spawn(move || {
        std::fs::write(up, "CREATE TABLE t (a INT);").unwrap();
    });
    let started = Instant::now();
    let r = db.locksmith(&["migrate", "status", "--source", src, "--timeout", "5s"]);
    r.succeeds_with(STATUS_MAKE_T);
    assert!(started.elapsed() < Duration::from_secs(5), "{r:#?}");
    writer.join().unwrap();
    // The same set from regular files shows the same.
    std::fs::remove_file(root.join("V1__make_t.sql")).unwrap();
    write(&root.join("V1__make_t.sql"), "CREATE TABLE t (a INT);");
    db.locksmith(&["migrate", "status", "--source", src, "--timeout", "5s"])
        .succeeds_with(STATUS_MAKE_T);
}

#[test]
fn a_source_that_is_a_fifo_is_not_a_directory() {
    let db = TestDb::new();
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("migrations");
    mkfifo(&fifo);
    let src = fifo.to_str().unwrap();
    let started = Instant::now();
    let r = db.locksmith(&["migrate", "up", "--source", src, "--timeout", "5s"]);
    assert!(started.elapsed() < Duration::from_secs(5), "{r:#?}");
    r.fails(2).stdout_is("");
    assert_eq!(
        r.stderr,
        format!(
            "locksmith: --source {src} is not a directory (it takes the directory holding V1__name.sql files)\n"
        )
    );
    assert_eq!(tables(&db), Vec::<Vec<Option<String>>>::new());
}
