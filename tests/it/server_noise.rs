//! No noise on a server without TLS (issue 15, class 8). With the default
//! `ssl-mode=preferred`, every invocation used to open a TLS attempt that
//! such a server drops, one `Aborted_connects` (and one "Aborted
//! connection" warning in its log) each. Now the first invocation costs one
//! and the ones after it none, a whole bench included, whatever state the
//! cache file is in (missing, corrupt, unwritable, foreign, a symlink, a
//! FIFO): at worst each invocation costs its one, as before, and says
//! nothing about it. A server that has TLS by now gets TLS, memory or not.
//!
//! Each test has a throwaway server of its own, so that its counters see
//! no other test's connections.

use crate::connect::{connected_over_tls, Account, STATUS_FRESH};
use crate::harness::*;
use crate::tls_pki::start_tls;
use locksmith::bench::BenchReport;
use mysql_async::prelude::Queryable;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const HEADER: &str =
    "# locksmith: servers seen without TLS (host:port, unix time). ssl-mode=preferred\n\
# connects to these without trying TLS first. Safe to delete: it is only a cache.\n";

/// The cache file under a cache directory.
fn file_in(cache: &Path) -> PathBuf {
    cache.join("locksmith").join("servers-without-tls")
}

/// The server's `Aborted_connects`, read once every connection made
/// before has ended on the server (only this one left).
fn aborted_connects(server: &Throwaway) -> u64 {
    let admin = server.admin_url(0);
    block(async move {
        let mut c = admin_conn(&admin).await;
        // A poll of the condition, every 20 ms, for 30 s at most.
        let t = Instant::now();
        while global_status(&mut c, "Threads_connected").await > 1 {
            assert!(t.elapsed() < Duration::from_secs(30), "connections linger");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let n = global_status(&mut c, "Aborted_connects").await;
        c.disconnect().await.unwrap();
        n
    })
}

/// A counter of `SHOW GLOBAL STATUS`.
async fn global_status(c: &mut mysql_async::Conn, name: &str) -> u64 {
    let q = format!("SHOW GLOBAL STATUS LIKE '{name}'");
    let (_, v): (String, u64) = c.query_first(q).await.unwrap().unwrap();
    v
}

/// Where a run keeps its cache: the environment it gets.
#[derive(Clone)]
enum Env {
    /// `XDG_CACHE_HOME` (and `HOME`).
    Xdg(PathBuf, PathBuf),
    /// `HOME` only.
    Home(PathBuf),
    /// Neither.
    Nothing,
}

/// Runs `locksmith ARGS` at `url` in this environment.
fn run_in(env: &Env, url: &str, args: &[&str]) -> Run {
    let mut cmd = command_at(url, args);
    cmd.env_remove("XDG_CACHE_HOME").env_remove("HOME");
    match env {
        Env::Xdg(xdg, home) => cmd.env("XDG_CACHE_HOME", xdg).env("HOME", home),
        Env::Home(home) => cmd.env("HOME", home),
        Env::Nothing => &mut cmd,
    };
    run_command(&mut cmd)
}

/// Runs `migrate status` three times; returns the aborted connects each
/// run cost the server.
fn three_runs(server: &Throwaway, env: &Env, url: &str) -> Vec<u64> {
    let mut costs = Vec::new();
    for _ in 0..3 {
        let before = aborted_connects(server);
        run_in(env, url, &["migrate", "status"]).succeeds_with(STATUS_FRESH);
        costs.push(aborted_connects(server) - before);
    }
    costs
}

/// Asserts the cache file lists this server alone, in a file and a
/// directory nobody else may read.
#[track_caller]
fn remembers_alone(file: &Path, addr: &str) {
    let text = std::fs::read_to_string(file).unwrap();
    let re = regex::Regex::new(&format!(
        r"^{}{} \d+\n$",
        regex::escape(HEADER),
        regex::escape(addr)
    ))
    .unwrap();
    assert!(re.is_match(&text), "{text:?}");
    assert!(
        !text.contains(password()) && !text.contains(&user()),
        "{text:?}"
    );
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(file), 0o600);
    assert_eq!(mode(file.parent().unwrap()), 0o700);
}

/// Puts something at the cache file's place (given the server's
/// `host:port`).
type Setup = fn(&Path, &str);

/// What is at the file's place before, the environment (from a temp dir),
/// the cost of each of three runs, and whether the file then lists the
/// server (else it is as it was before).
type Case = (&'static str, Setup, fn(&Path) -> Env, [u64; 3], bool);

/// What is at `path`: its type, its mode, and the contents of a regular
/// file (a symlink's target's), without opening anything else.
fn fingerprint(path: &Path) -> Option<(std::fs::FileType, u32, Option<Vec<u8>>)> {
    let meta = std::fs::symlink_metadata(path).ok()?;
    let followed = std::fs::metadata(path).ok();
    let regular = followed.is_some_and(|m| m.is_file());
    Some((
        meta.file_type(),
        meta.permissions().mode(),
        regular.then(|| std::fs::read(path).unwrap()),
    ))
}

#[test]
fn a_server_without_tls_counts_one_aborted_connect_then_none() {
    let server = Throwaway::start(1, &[]);
    let db = TestDb::on(&server, 0);
    let (url, addr) = (db.url(), db.addr());
    let nothing: Setup = |_, _| {};
    let cases: Vec<Case> = vec![
        (
            "fresh",
            nothing,
            |t| Env::Xdg(t.join("cache"), t.join("home")),
            [1, 0, 0],
            true,
        ),
        (
            "in ~/.cache",
            nothing,
            |t| Env::Home(t.join("home")),
            [1, 0, 0],
            true,
        ),
        (
            "a relative XDG_CACHE_HOME is ignored",
            nothing,
            |t| Env::Xdg("relative".into(), t.join("home")),
            [1, 0, 0],
            true,
        ),
        (
            "corrupt",
            |f, addr| {
                let mut junk = b"\x00\x1b[31m\xff\xfe garbage\n127.0.0.1:abc 5\n".to_vec();
                junk.extend(std::iter::repeat_n(b'x', 100_000));
                junk.extend(format!("\n{addr}").as_bytes());
                write_private(f, &junk);
            },
            |t| Env::Xdg(t.join("cache"), t.join("home")),
            [1, 0, 0],
            true,
        ),
        (
            "unwritable (the cache directory is a file)",
            |_, _| {},
            |t| {
                std::fs::write(t.join("plain-file"), "").unwrap();
                Env::Xdg(t.join("plain-file"), t.join("home"))
            },
            [1, 1, 1],
            false,
        ),
        (
            "writable by others: not trusted, not replaced",
            |f, addr| {
                write_private(f, format!("{addr} 1\n").as_bytes());
                std::fs::set_permissions(f, std::fs::Permissions::from_mode(0o666)).unwrap();
            },
            |t| Env::Xdg(t.join("cache"), t.join("home")),
            [1, 1, 1],
            false,
        ),
        (
            "a symlink: not followed, not replaced",
            |f, addr| {
                let target = f.parent().unwrap().join("elsewhere");
                write_private(&target, format!("{addr} 1\n").as_bytes());
                std::os::unix::fs::symlink(&target, f).unwrap();
            },
            |t| Env::Xdg(t.join("cache"), t.join("home")),
            [1, 1, 1],
            false,
        ),
        (
            "a FIFO: not waited on",
            |f, _| {
                write_private(f, b"");
                std::fs::remove_file(f).unwrap();
                let made = std::process::Command::new("mkfifo")
                    .arg(f)
                    .status()
                    .unwrap();
                assert!(made.success());
            },
            |t| Env::Xdg(t.join("cache"), t.join("home")),
            [1, 1, 1],
            false,
        ),
        (
            "no HOME, no XDG_CACHE_HOME",
            nothing,
            |_| Env::Nothing,
            [1, 1, 1],
            false,
        ),
    ];
    for (what, setup, env_of, costs, remembered) in cases {
        let t = tempfile::tempdir().unwrap();
        std::fs::create_dir(t.path().join("home")).unwrap();
        let env = env_of(t.path());
        let file = match &env {
            Env::Xdg(xdg, _) if xdg.is_absolute() => file_in(xdg),
            Env::Xdg(_, home) | Env::Home(home) => file_in(&home.join(".cache")),
            Env::Nothing => t.path().join("none"),
        };
        setup(&file, &addr);
        let before = fingerprint(&file);
        let started = Instant::now();
        assert_eq!(three_runs(&server, &env, &url), costs, "{what}");
        eprintln!("{what}: aborted connects of three runs {costs:?}");
        assert!(started.elapsed() < Duration::from_secs(10), "{what}: slow");
        if remembered {
            remembers_alone(&file, &addr);
        } else {
            assert_eq!(before, fingerprint(&file), "{what}: the file changed");
        }
    }

    // Several processes at once on a fresh cache: every one works, and the
    // file they leave is whole.
    let t = tempfile::tempdir().unwrap();
    let env = Env::Xdg(t.path().join("cache"), t.path().join("home"));
    let runs: Vec<_> = (0..4)
        .map(|_| {
            let mut cmd = command_at(&url, &["migrate", "status"]);
            if let Env::Xdg(xdg, home) = &env {
                cmd.env("XDG_CACHE_HOME", xdg).env("HOME", home);
            }
            cmd.stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for child in runs {
        Run::from(child.wait_with_output().unwrap()).succeeds_with(STATUS_FRESH);
    }
    remembers_alone(&file_in(&t.path().join("cache")), &addr);
    let before = aborted_connects(&server);
    run_in(&env, &url, &["migrate", "status"]).succeeds_with(STATUS_FRESH);
    assert_eq!(aborted_connects(&server) - before, 0, "after the crowd");

    // A bench: five connections (four workers and the table), one process.
    let bench_db = TestDb::on(&server, 0);
    let bench_url = bench_db.url();
    let warm = Env::Xdg(t.path().join("cache"), t.path().join("home"));
    run_in(&warm, &bench_url, &["migrate", "up"]).succeeds_with(UP_FRESH);
    let args = [
        "bench",
        "--workers",
        "4",
        "--duration",
        "300ms",
        "--format",
        "json",
    ];
    let fresh = tempfile::tempdir().unwrap();
    let unwritable = fresh.path().join("plain-file");
    std::fs::write(&unwritable, "").unwrap();
    for (what, env, cost) in [
        (
            "fresh cache",
            Env::Xdg(fresh.path().join("cache"), fresh.path().into()),
            1,
        ),
        (
            "warm cache",
            Env::Xdg(fresh.path().join("cache"), fresh.path().into()),
            0,
        ),
        (
            "unwritable cache",
            Env::Xdg(unwritable.clone(), fresh.path().into()),
            1,
        ),
    ] {
        let before = aborted_connects(&server);
        let report: BenchReport = run_in(&env, &bench_url, &args).success_json();
        assert!(
            report.check_passed && report.errors == 0,
            "{what}: {report:?}"
        );
        assert_eq!(aborted_connects(&server) - before, cost, "bench, {what}");
        eprintln!("bench of 4 workers, {what}: {cost} aborted connects");
    }
}

/// Writes `bytes` to `path` (its directory made first, 0700, as locksmith
/// makes it), mode 0600.
fn write_private(path: &Path, bytes: &[u8]) {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(path.parent().unwrap())
        .unwrap();
    std::fs::write(path, bytes).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
}

#[test]
fn a_server_that_has_tls_by_now_gets_tls_whatever_was_remembered() {
    let server = start_tls("server.pem", "server-key.pem");
    let db = TestDb::on(&server, 0);
    let addr = db.addr();
    let t = tempfile::tempdir().unwrap();
    let env = Env::Xdg(t.path().join("cache"), t.path().into());
    let file = file_in(&t.path().join("cache"));
    // What an older run remembered, when the server had no TLS yet.
    let remember = || write_private(&file, format!("{HEADER}{addr} 1\n").as_bytes());
    let ssl = Account::create(&db, "ssl", |pw| format!("IDENTIFIED BY '{pw}' REQUIRE SSL"));
    // The URL, whether the server's memory is stale, and the aborted
    // connects of two runs: an account that must use TLS is refused in
    // plaintext once (the server counts that refusal), then uses TLS.
    let cases = [
        ("preferred", db.url(), true, [0, 0]),
        (
            "required",
            format!("{}?ssl-mode=required", db.url()),
            true,
            [0, 0],
        ),
        ("REQUIRE SSL", ssl.url(""), true, [1, 0]),
        ("nothing remembered", db.url(), false, [0, 0]),
    ];
    for (what, url, stale, costs) in cases {
        let _ = std::fs::remove_file(&file);
        if stale {
            remember();
        }
        let mut seen = Vec::new();
        for _ in costs {
            let before = aborted_connects(&server);
            connected_over_tls(&run_in(&env, &url, &["-v", "migrate", "status"]));
            seen.push(aborted_connects(&server) - before);
        }
        assert_eq!(seen, costs, "{what}");
        // The server is forgotten (nothing is written for a server with
        // TLS).
        match stale {
            true => assert_eq!(std::fs::read_to_string(&file).unwrap(), HEADER, "{what}"),
            false => assert!(!file.exists(), "{what}"),
        }
    }
}
