//! The test harness: one real MariaDB server per test run, one database per
//! test, and a runner for the built `locksmith` binary.
//!
//! With `LOCKSMITH_TEST_DATABASE_URL` set (an account that may create
//! databases and users), tests use that server. Otherwise the harness starts
//! a throwaway `mariadbd` (Debian's mariadb-server) on a free loopback port
//! with its data in a temp dir. A small shell wrapper owns the server and
//! stops it, and removes the data, as soon as this test process exits, even
//! if it is killed.

#![allow(dead_code)]

use mysql_async::prelude::Queryable;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Password of the account tests connect with.
pub const PASSWORD: &str = "Pw-for-tests-7d1f";
/// The account tests connect with.
pub const USER: &str = "locksmith_test";

struct Server {
    /// host:port
    addr: String,
    /// URL of an account that can create databases (no db part).
    admin: String,
    /// Keeps the wrapper's stdin open; when the test process exits it closes
    /// and the wrapper stops the server.
    _keepalive: Option<std::process::ChildStdin>,
}

static SERVER: OnceLock<Server> = OnceLock::new();
static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// True when the harness started the server itself, so a test may change
/// server-wide settings: nobody else uses it, and it is thrown away.
pub fn own_server() -> bool {
    server()._keepalive.is_some()
}

fn server() -> &'static Server {
    SERVER.get_or_init(|| match std::env::var("LOCKSMITH_TEST_DATABASE_URL") {
        Ok(url) if !url.is_empty() => external(&url),
        _ => start_mariadb(),
    })
}

fn external(url: &str) -> Server {
    let parsed = url::Url::parse(url).expect("LOCKSMITH_TEST_DATABASE_URL must be a mysql:// URL");
    let addr = format!(
        "{}:{}",
        parsed.host_str().unwrap_or("127.0.0.1"),
        parsed.port().unwrap_or(3306)
    );
    let mut admin = parsed.clone();
    admin.set_path("/");
    let s = Server {
        addr,
        admin: admin.to_string(),
        _keepalive: None,
    };
    block(async {
        let mut c = admin_conn(&s.admin).await;
        create_test_user(&mut c).await;
        c.disconnect().await.unwrap();
    });
    s
}

fn find(cmd: &str, fallback: &str) -> PathBuf {
    let from_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join(cmd))
            .find(|p| p.is_file())
    });
    from_path.unwrap_or_else(|| PathBuf::from(fallback))
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

// The wrapper outlives this process by design (it stops the server after we
// exit), so it is never waited for.
#[allow(clippy::zombie_processes)]
fn start_mariadb() -> Server {
    let mariadbd = find("mariadbd", "/usr/sbin/mariadbd");
    let install_db = find("mariadb-install-db", "/usr/bin/mariadb-install-db");
    assert!(
        mariadbd.is_file() && install_db.is_file(),
        "mariadbd not found: install Debian's mariadb-server (scripts/test does), or set LOCKSMITH_TEST_DATABASE_URL"
    );
    let dir = tempfile::Builder::new()
        .prefix("locksmith-mariadb-")
        .tempdir()
        .unwrap()
        .keep();
    let data = dir.join("data");
    let sock = dir.join("mysqld.sock");
    let out = Command::new(&install_db)
        .arg("--no-defaults")
        .arg(format!("--datadir={}", data.display()))
        .arg("--auth-root-authentication-method=normal")
        .arg("--skip-test-db")
        .arg("--user=root")
        .output()
        .expect("run mariadb-install-db");
    assert!(
        out.status.success(),
        "mariadb-install-db failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let port = free_port();
    let args = [
        "--no-defaults".to_string(),
        format!("--datadir={}", data.display()),
        format!("--socket={}", sock.display()),
        format!("--port={port}"),
        "--bind-address=127.0.0.1".into(),
        "--skip-name-resolve".into(),
        format!("--pid-file={}", dir.join("mysqld.pid").display()),
        format!("--log-error={}", dir.join("error.log").display()),
        "--innodb-buffer-pool-size=64M".into(),
        "--max-connections=500".into(),
        "--user=root".into(),
    ];
    let quoted: Vec<String> = std::iter::once(mariadbd.display().to_string())
        .chain(args)
        .map(|a| format!("'{}'", a.replace('\'', "'\\''")))
        .collect();
    // The wrapper: start the server, wait for our stdin to close (we exited
    // or died), then stop it and remove its data.
    let script = format!(
        "{} & pid=$!; cat >/dev/null; kill $pid 2>/dev/null; wait $pid; rm -rf '{}'",
        quoted.join(" "),
        dir.display()
    );
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start mariadbd");
    let stdin = child.stdin.take();
    let admin = format!("mysql://root@localhost/?socket={}", sock.display());
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if sock.exists() && std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "mariadbd did not start; see {}",
            dir.join("error.log").display()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let s = Server {
        addr: format!("127.0.0.1:{port}"),
        admin,
        _keepalive: stdin,
    };
    block(async {
        let mut c = admin_conn(&s.admin).await;
        create_test_user(&mut c).await;
        c.disconnect().await.unwrap();
    });
    s
}

async fn admin_conn(url: &str) -> mysql_async::Conn {
    let opts = mysql_async::Opts::from_url(url).expect("admin URL");
    let opts = mysql_async::OptsBuilder::from_opts(opts).prefer_socket(false);
    mysql_async::Conn::new(opts)
        .await
        .expect("connect as admin")
}

async fn create_test_user(c: &mut mysql_async::Conn) {
    c.query_drop(format!(
        "CREATE USER IF NOT EXISTS '{USER}'@'%' IDENTIFIED BY '{PASSWORD}'"
    ))
    .await
    .unwrap();
    c.query_drop(format!("GRANT ALL ON *.* TO '{USER}'@'%'"))
        .await
        .unwrap();
}

/// Runs a future to completion on a fresh single-thread runtime.
pub fn block<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

/// A database of its own for one test.
pub struct TestDb {
    pub name: String,
}

impl TestDb {
    /// A fresh, empty database.
    pub fn new() -> TestDb {
        let s = server();
        let name = format!(
            "lt_{}_{}_{:x}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::SeqCst),
            fastrand::u32(..)
        );
        block(async {
            let mut c = admin_conn(&s.admin).await;
            c.query_drop(format!("CREATE DATABASE `{name}`"))
                .await
                .unwrap();
            c.disconnect().await.unwrap();
        });
        TestDb { name }
    }

    /// A fresh database with `migrate up` applied.
    pub fn migrated() -> TestDb {
        let db = TestDb::new();
        db.locksmith(&["migrate", "up"]).success();
        db
    }

    /// The URL the tests' account uses for this database.
    pub fn url(&self) -> String {
        format!("mysql://{USER}:{PASSWORD}@{}/{}", server().addr, self.name)
    }

    /// host:port of the server.
    pub fn addr(&self) -> String {
        server().addr.clone()
    }

    /// Runs `locksmith` with DATABASE_URL pointing here.
    pub fn locksmith(&self, args: &[&str]) -> Run {
        run(
            Command::new(bin())
                .args(args)
                .env("DATABASE_URL", self.url()),
            None,
        )
    }

    /// Runs `locksmith` with this stdin.
    pub fn locksmith_stdin(&self, args: &[&str], stdin: &str) -> Run {
        run(
            Command::new(bin())
                .args(args)
                .env("DATABASE_URL", self.url()),
            Some(stdin),
        )
    }

    /// A `locksmith` command with DATABASE_URL set, not started yet.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(bin());
        c.args(args)
            .env("DATABASE_URL", self.url())
            .env_remove("NO_COLOR");
        c
    }

    /// Starts `locksmith ARGS` on a pseudo-terminal of its own (through
    /// `script` from util-linux): what is written to the child's stdin is
    /// typed at that terminal, and its stdout is the terminal's output.
    pub fn spawn_on_tty(&self, args: &str) -> std::process::Child {
        let cmd = format!("{} {args}", bin().display());
        Command::new("script")
            .args(["-qec", &cmd, "/dev/null"])
            .env("DATABASE_URL", self.url())
            .env_remove("NO_COLOR")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("script(1) from util-linux")
    }

    /// Starts `locksmith` in the background, stdout and stderr captured;
    /// `Run::from(child.wait_with_output()?)` collects it.
    pub fn spawn(&self, args: &[&str]) -> std::process::Child {
        self.command(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn locksmith")
    }

    /// Runs SQL statements (as the test account) on this database.
    pub fn sql(&self, stmts: &str) {
        let url = self.url();
        block(async move {
            let mut c = mysql_async::Conn::from_url(url).await.unwrap();
            c.query_drop(stmts).await.unwrap();
            c.disconnect().await.unwrap();
        })
    }

    /// Runs a parameterised statement.
    pub fn exec<P: Into<mysql_async::Params> + Send + 'static>(&self, stmt: &str, params: P) {
        let (url, stmt) = (self.url(), stmt.to_string());
        block(async move {
            let mut c = mysql_async::Conn::from_url(url).await.unwrap();
            c.exec_drop(stmt, params).await.unwrap();
            c.disconnect().await.unwrap();
        })
    }

    /// Rows of a query, every column as text (NULL as None).
    pub fn rows(&self, query: &str) -> Vec<Vec<Option<String>>> {
        let (url, query) = (self.url(), query.to_string());
        block(async move {
            let mut c = mysql_async::Conn::from_url(url).await.unwrap();
            let rows: Vec<mysql_async::Row> = c.query(query).await.unwrap();
            c.disconnect().await.unwrap();
            rows.into_iter()
                .map(|r| {
                    (0..r.len())
                        .map(|i| match r.as_ref(i).unwrap() {
                            mysql_async::Value::NULL => None,
                            mysql_async::Value::Bytes(b) => {
                                Some(String::from_utf8_lossy(b).into_owned())
                            }
                            v => Some(v.as_sql(true).trim_matches('\'').to_string()),
                        })
                        .collect()
                })
                .collect()
        })
    }

    /// First column of the first row.
    pub fn scalar(&self, query: &str) -> Option<String> {
        self.rows(query)
            .into_iter()
            .next()
            .and_then(|r| r.into_iter().next().flatten())
    }

    /// The `dataJson` of a row.
    pub fn data(&self, row: &str) -> Option<String> {
        self.scalar(&format!("SELECT dataJson FROM locks WHERE id = '{row}'"))
    }

    /// The version of a row.
    pub fn version(&self, row: &str) -> i64 {
        self.scalar(&format!("SELECT version FROM locks WHERE id = '{row}'"))
            .unwrap()
            .parse()
            .unwrap()
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if std::thread::panicking() {
            // Keep it for a look when the server is external.
            return;
        }
        let (admin, name) = (server().admin.clone(), self.name.clone());
        block(async move {
            let mut c = admin_conn(&admin).await;
            let _ = c
                .query_drop(format!("DROP DATABASE IF EXISTS `{name}`"))
                .await;
            let _ = c.disconnect().await;
        });
    }
}

/// Path of the built binary.
pub fn bin() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_locksmith"))
}

/// Runs `locksmith` with no DATABASE_URL at all.
pub fn locksmith_bare(args: &[&str]) -> Run {
    run(
        Command::new(bin()).args(args).env_remove("DATABASE_URL"),
        None,
    )
}

fn run(cmd: &mut Command, stdin: Option<&str>) -> Run {
    cmd.env_remove("NO_COLOR")
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn locksmith");
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
    }
    Run::from(child.wait_with_output().unwrap())
}

/// What a finished `locksmith` run printed, and how it exited.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl From<Output> for Run {
    fn from(o: Output) -> Run {
        Run {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
}

impl Run {
    /// Asserts exit 0 and an empty stderr.
    #[track_caller]
    pub fn success(&self) -> &Run {
        assert_eq!(self.code, 0, "expected success: {self:#?}");
        assert_eq!(self.stderr, "", "expected a quiet stderr: {self:#?}");
        self
    }

    /// Asserts this exit code and that stderr is one `locksmith: …` error
    /// (several lines at most) with nothing on stdout.
    #[track_caller]
    pub fn fails(&self, code: i32) -> &Run {
        assert_eq!(self.code, code, "wrong exit code: {self:#?}");
        assert!(self.stderr.starts_with("locksmith: "), "stderr: {self:#?}");
        self
    }

    /// Asserts stdout is exactly this.
    #[track_caller]
    pub fn stdout_is(&self, s: &str) -> &Run {
        assert_eq!(self.stdout, s, "stdout differs: {self:#?}");
        self
    }

    /// Asserts stdout is empty.
    #[track_caller]
    pub fn no_stdout(&self) -> &Run {
        assert_eq!(self.stdout, "", "expected no stdout: {self:#?}");
        self
    }

    /// Asserts stdout contains each of these.
    #[track_caller]
    pub fn stdout_has(&self, parts: &[&str]) -> &Run {
        for p in parts {
            assert!(self.stdout.contains(p), "stdout lacks {p:?}: {self:#?}");
        }
        self
    }

    /// Asserts stderr contains each of these.
    #[track_caller]
    pub fn stderr_has(&self, parts: &[&str]) -> &Run {
        for p in parts {
            assert!(self.stderr.contains(p), "stderr lacks {p:?}: {self:#?}");
        }
        self
    }

    /// Asserts the password appears nowhere in the output.
    #[track_caller]
    pub fn no_secret(&self) -> &Run {
        assert!(
            !self.stdout.contains(PASSWORD) && !self.stderr.contains(PASSWORD),
            "password leaked: {self:#?}"
        );
        self
    }

    /// Parses stdout as JSON into T.
    #[track_caller]
    pub fn json<T: serde::de::DeserializeOwned>(&self) -> T {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| panic!("bad JSON ({e}): {self:#?}"))
    }
}
