//! The test harness: one real MariaDB server per test run, one database per
//! test, and a runner for the built `locksmith` binary.
//!
//! Servers are started the one way the project starts them, by
//! `scripts/throwaway-mariadb` (data in a temp dir, free loopback ports,
//! stopped and removed when this process exits, even if it is killed). With
//! `LOCKSMITH_TEST_DATABASE_URL` set (an account that may create databases
//! and users), the shared server is that one instead.
//!
//! Either way, the tests connect as an account of their own with a fresh
//! random password, allowed only on this run's databases. When this process
//! ends, however it ends, a reaper (this test binary, re-run in a special
//! mode) drops that account and every database of the run.

#![allow(dead_code)]

use mysql_async::prelude::Queryable;
use std::io::{BufRead, BufReader, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;

/// The shared server, and who the tests are on it.
struct Shared {
    /// host:port
    addr: String,
    /// URL of an account that can create databases and users (no db part).
    admin: String,
    /// This run's id: every database and account of the run starts with it.
    run: String,
    password: String,
    /// Keeps the server (or the reaper) alive until this process exits.
    _keep: Keep,
}

enum Keep {
    Server(Throwaway),
    Reaper(ChildStdin),
}

static SHARED: OnceLock<Shared> = OnceLock::new();
static COUNTER: AtomicUsize = AtomicUsize::new(0);

fn shared() -> &'static Shared {
    SHARED.get_or_init(|| {
        let run = format!("lt_{:08x}", fastrand::u32(..));
        let password: String = std::iter::repeat_with(fastrand::alphanumeric)
            .take(24)
            .collect();
        let (addr, admin, keep) = match std::env::var("LOCKSMITH_TEST_DATABASE_URL") {
            Ok(url) if !url.is_empty() => {
                let parsed = url::Url::parse(&url)
                    .expect("LOCKSMITH_TEST_DATABASE_URL must be a mysql:// URL");
                let addr = format!(
                    "{}:{}",
                    parsed.host_str().unwrap_or("127.0.0.1"),
                    parsed.port().unwrap_or(3306)
                );
                let mut admin = parsed.clone();
                admin.set_path("/");
                let admin = admin.to_string();
                let reaper = start_reaper(&admin, &run);
                (addr, admin, Keep::Reaper(reaper))
            }
            _ => {
                let server = Throwaway::start(1, &[]);
                (server.addr(0), server.admin_url(0), Keep::Server(server))
            }
        };
        let s = Shared {
            addr,
            admin,
            run,
            password,
            _keep: keep,
        };
        block(async {
            let mut c = admin_conn(&s.admin).await;
            let (user, pw) = (user_of(&s.run), &s.password);
            c.query_drop(format!("CREATE USER '{user}'@'%' IDENTIFIED BY '{pw}'"))
                .await
                .unwrap();
            let pattern = s.run.replace('_', "\\_");
            c.query_drop(format!("GRANT ALL ON `{pattern}\\_%`.* TO '{user}'@'%'"))
                .await
                .unwrap();
            c.disconnect().await.unwrap();
        });
        s
    })
}

fn user_of(run: &str) -> String {
    format!("{run}_u")
}

/// The account tests connect with.
pub fn user() -> String {
    user_of(&shared().run)
}

/// Its password: random, made for this run, never written anywhere.
pub fn password() -> &'static str {
    &shared().password
}

/// True when the harness started the shared server itself, so a test may
/// change server-wide settings: nobody else uses it, and it is thrown away.
pub fn own_server() -> bool {
    matches!(shared()._keep, Keep::Server(_))
}

/// Runs SQL as the administrator of the shared server.
pub fn admin_sql(stmts: &str) {
    let (admin, stmts) = (shared().admin.clone(), stmts.to_string());
    block(async move {
        let mut c = admin_conn(&admin).await;
        c.query_drop(stmts).await.unwrap();
        c.disconnect().await.unwrap();
    })
}

/// A name for a database or account of this run, unique within it.
pub fn unique_name(what: &str) -> String {
    format!(
        "{}_{what}{}",
        shared().run,
        COUNTER.fetch_add(1, Ordering::SeqCst)
    )
}

pub async fn admin_conn(url: &str) -> mysql_async::Conn {
    let opts = mysql_async::Opts::from_url(url).expect("admin URL");
    let opts = mysql_async::OptsBuilder::from_opts(opts).prefer_socket(false);
    mysql_async::Conn::new(opts)
        .await
        .expect("connect as admin")
}

/// Starts the reaper: this test binary again, running only [`reaper`],
/// which waits for our end (its stdin closing) and then drops the run's
/// account and databases. It gets the admin URL through its environment,
/// never its command line. It outlives this process by design, so it is
/// never waited for.
#[allow(clippy::zombie_processes)]
fn start_reaper(admin: &str, run: &str) -> ChildStdin {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "harness::reaper",
            "--exact",
            "--ignored",
            "--test-threads=1",
        ])
        .env("LOCKSMITH_TEST_REAPER", format!("{run} {admin}"))
        .env_remove("LOCKSMITH_TEST_DATABASE_URL")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the reaper");
    child.stdin.take().unwrap()
}

/// Not a test: the reaper mode of this binary (see [`start_reaper`]). It
/// does nothing unless started as the reaper.
#[test]
#[ignore = "runs only as the harness's reaper"]
fn reaper() {
    let Ok(spec) = std::env::var("LOCKSMITH_TEST_REAPER") else {
        return;
    };
    let (run, admin) = spec.split_once(' ').unwrap();
    // Wait for the test process to end, however it ends.
    let _ = std::io::copy(&mut std::io::stdin(), &mut std::io::sink());
    block(async {
        let mut c = admin_conn(admin).await;
        let pattern = format!("{}\\_%", run.replace('_', "\\_"));
        let dbs: Vec<String> = c
            .exec(
                "SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME LIKE ?",
                (&pattern,),
            )
            .await
            .unwrap();
        for db in dbs {
            let _ = c.query_drop(format!("DROP DATABASE `{db}`")).await;
        }
        let users: Vec<(String, String)> = c
            .exec(
                "SELECT User, Host FROM mysql.user WHERE User LIKE ?",
                (&pattern,),
            )
            .await
            .unwrap();
        for (u, h) in users {
            let _ = c.query_drop(format!("DROP USER '{u}'@'{h}'")).await;
        }
        let _ = c.disconnect().await;
    });
}

/// A server (or a Galera cluster) of its own, started by
/// `scripts/throwaway-mariadb`, which this drives through its stdin: the
/// tests may kill, restart, freeze and thaw its nodes. Dropping it (or the
/// end of this process) stops every node and removes all its files.
pub struct Throwaway {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
    nodes: Vec<Node>,
}

/// One node: its SQL port, unix socket and server pid.
#[derive(Clone, Debug)]
pub struct Node {
    pub port: u16,
    pub socket: PathBuf,
    pub pid: u32,
}

impl Throwaway {
    /// Starts `nodes` nodes (1: a plain server; 3: a Galera cluster), with
    /// extra mariadbd arguments.
    pub fn start(nodes: usize, extra: &[String]) -> Throwaway {
        Throwaway::launch(["--nodes".into(), nodes.to_string()], extra)
    }

    /// Runs `scripts/throwaway-mariadb` with these options and extra
    /// mariadbd arguments, and waits until its nodes are ready.
    fn launch(opts: [String; 2], extra: &[String]) -> Throwaway {
        let dir = std::env::temp_dir().join(format!(
            "locksmith-test-{}-{:08x}",
            std::process::id(),
            fastrand::u32(..)
        ));
        let mut cmd =
            Command::new(Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/throwaway-mariadb"));
        cmd.args(opts);
        for a in extra {
            cmd.arg("--mariadbd-arg").arg(a);
        }
        let mut child = cmd
            .arg(&dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("run scripts/throwaway-mariadb");
        let stdin = child.stdin.take();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        let mut t = Throwaway {
            child,
            stdin,
            stdout,
            nodes: Vec::new(),
        };
        let lines = t.read_until(&["ready"]);
        assert!(
            !t.nodes.is_empty(),
            "throwaway-mariadb started nothing: {lines:?}"
        );
        t
    }

    /// Reads protocol lines until one of `ends`, noting node lines.
    fn read_until(&mut self, ends: &[&str]) -> Vec<String> {
        let mut seen = Vec::new();
        loop {
            let mut line = String::new();
            let n = self.stdout.read_line(&mut line).unwrap();
            assert!(n > 0, "throwaway-mariadb ended early: {seen:?}");
            let line = line.trim_end().to_string();
            let words: Vec<&str> = line.split_whitespace().collect();
            if let ["node", i, "port", port, "socket", sock, "pid", pid] = words[..] {
                let i: usize = i.parse().unwrap();
                let node = Node {
                    port: port.parse().unwrap(),
                    socket: PathBuf::from(sock),
                    pid: pid.parse().unwrap(),
                };
                if self.nodes.len() < i {
                    self.nodes.resize(i, node.clone());
                }
                self.nodes[i - 1] = node;
            }
            seen.push(line.clone());
            if ends.iter().any(|e| line == *e) || line.starts_with("error") {
                assert!(!line.starts_with("error"), "throwaway-mariadb: {line}");
                return seen;
            }
        }
    }

    /// Sends one command (`kill 1`, `start 2`, `stop 1`, `cont 1`, …) and
    /// waits for it to be done.
    pub fn command(&mut self, cmd: &str) {
        let stdin = self.stdin.as_mut().unwrap();
        writeln!(stdin, "{cmd}").unwrap();
        stdin.flush().unwrap();
        self.read_until(&["ok"]);
    }

    /// Node `i` (0-based).
    pub fn node(&self, i: usize) -> &Node {
        &self.nodes[i]
    }

    /// host:port of node `i` (0-based).
    pub fn addr(&self, i: usize) -> String {
        format!("127.0.0.1:{}", self.nodes[i].port)
    }

    /// Root over node `i`'s socket (no database part).
    pub fn admin_url(&self, i: usize) -> String {
        format!(
            "mysql://root@localhost/?socket={}",
            self.nodes[i].socket.display()
        )
    }

    /// SIGKILL node `i` (0-based) and wait until it is gone.
    pub fn kill(&mut self, i: usize) {
        self.command(&format!("kill {}", i + 1));
    }

    /// Start node `i` again and wait until it is ready.
    pub fn restart(&mut self, i: usize) {
        self.command(&format!("start {}", i + 1));
    }

    /// SIGSTOP node `i`.
    pub fn freeze(&mut self, i: usize) {
        self.command(&format!("stop {}", i + 1));
    }

    /// SIGCONT node `i`.
    pub fn thaw(&mut self, i: usize) {
        self.command(&format!("cont {}", i + 1));
    }
}

impl Drop for Throwaway {
    fn drop(&mut self) {
        // EOF on its stdin: it stops every node and removes its files.
        drop(self.stdin.take());
        let _ = self.child.wait();
    }
}

/// Runs a future to completion on a fresh single-thread runtime.
pub fn block<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

/// What `migrate up` prints on an empty database.
pub const UP_FRESH: &str = "Applied V1__locks_create_table\nApplied V2__locks_audit_create_table\nSchema is now at version 2.\n";

/// What `migrate up` prints when there is nothing to do.
pub const UP_NOOP: &str = "Schema is up to date (version 2); nothing to apply.\n";

/// `migrate status` with both embedded migrations applied, as [`normal`]
/// leaves it (for [`Run::succeeds_like`]).
pub const STATUS_APPLIED: &str = "+-+\n\
    | VERSION NAME STATE APPLIED ON |\n\
    +=+\n\
    | 1 locks_create_table applied <TIME> |\n\
    | 2 locks_audit_create_table applied <TIME> |\n\
    +-+\n";

/// A database of its own for one test, on the shared server or on a
/// throwaway server of the test's own.
pub struct TestDb {
    pub name: String,
    addr: String,
    admin: String,
}

impl Default for TestDb {
    fn default() -> Self {
        TestDb::new()
    }
}

impl TestDb {
    /// A fresh, empty database on the shared server.
    pub fn new() -> TestDb {
        let s = shared();
        TestDb::create(s.addr.clone(), s.admin.clone())
    }

    /// A fresh, empty database on node `i` of a throwaway server, with the
    /// run's account allowed on it.
    pub fn on(server: &Throwaway, i: usize) -> TestDb {
        let (user, pw, run) = (user(), password().to_string(), shared().run.clone());
        let admin = server.admin_url(i);
        block(async {
            let mut c = admin_conn(&admin).await;
            c.query_drop(format!(
                "CREATE USER IF NOT EXISTS '{user}'@'%' IDENTIFIED BY '{pw}'"
            ))
            .await
            .unwrap();
            let pattern = run.replace('_', "\\_");
            c.query_drop(format!("GRANT ALL ON `{pattern}\\_%`.* TO '{user}'@'%'"))
                .await
                .unwrap();
            c.disconnect().await.unwrap();
        });
        TestDb::create(server.addr(i), admin)
    }

    fn create(addr: String, admin: String) -> TestDb {
        let name = unique_name("db");
        let n = name.clone();
        block(async {
            let mut c = admin_conn(&admin).await;
            c.query_drop(format!("CREATE DATABASE `{n}`"))
                .await
                .unwrap();
            c.disconnect().await.unwrap();
        });
        TestDb { name, addr, admin }
    }

    /// A fresh database with `migrate up` applied.
    pub fn migrated() -> TestDb {
        let db = TestDb::new();
        db.locksmith(&["migrate", "up"]).succeeds_with(UP_FRESH);
        db
    }

    /// The URL the tests' account uses for this database.
    pub fn url(&self) -> String {
        format!(
            "mysql://{}:{}@{}/{}",
            user(),
            password(),
            self.addr,
            self.name
        )
    }

    /// The URL for these nodes of a cluster, in this order (0-based).
    pub fn url_over(&self, server: &Throwaway, nodes: &[usize]) -> String {
        let hosts: Vec<String> = nodes.iter().map(|i| server.addr(*i)).collect();
        format!(
            "mysql://{}:{}@{}/{}",
            user(),
            password(),
            hosts.join(","),
            self.name
        )
    }

    /// The same, through a proxy listening on `port`.
    pub fn url_via(&self, port: u16) -> String {
        format!(
            "mysql://{}:{}@127.0.0.1:{port}/{}",
            user(),
            password(),
            self.name
        )
    }

    /// host:port of the server.
    pub fn addr(&self) -> String {
        self.addr.clone()
    }

    /// Runs `locksmith` with DATABASE_URL pointing here.
    pub fn locksmith(&self, args: &[&str]) -> Run {
        run(&mut self.command(args), None)
    }

    /// Runs `locksmith` with this stdin.
    pub fn locksmith_stdin(&self, args: &[&str], stdin: &str) -> Run {
        run(&mut self.command(args), Some(stdin))
    }

    /// A `locksmith` command with DATABASE_URL set, not started yet.
    pub fn command(&self, args: &[&str]) -> Command {
        command_at(&self.url(), args)
    }

    /// Starts `locksmith ARGS` on a pseudo-terminal of its own (through
    /// `script` from util-linux): what is written to the child's stdin is
    /// typed at that terminal, and its stdout is the terminal's output.
    pub fn spawn_on_tty(&self, args: &str) -> Child {
        self.spawn_on_tty_sized(None, args)
    }

    /// Like [`TestDb::spawn_on_tty`], on a terminal `cols` columns wide
    /// (0: one that does not say).
    pub fn spawn_on_tty_sized(&self, cols: Option<u16>, args: &str) -> Child {
        let size = cols
            .map(|c| format!("stty cols {c} rows 50; "))
            .unwrap_or_default();
        let cmd = format!("{size}{} {args}", bin().display());
        Command::new("script")
            .args(["-qec", &cmd, "/dev/null"])
            .env("DATABASE_URL", self.url())
            .env("XDG_CACHE_HOME", cache_home())
            .env_remove("NO_COLOR")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("script(1) from util-linux")
    }

    /// Starts `locksmith` in the background, stdout and stderr captured;
    /// `Run::from(child.wait_with_output()?)` collects it.
    pub fn spawn(&self, args: &[&str]) -> Child {
        self.command(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn locksmith")
    }

    /// Runs SQL statements (as the test account) on this database.
    pub fn sql(&self, stmts: &str) {
        let (url, stmts) = (self.url(), stmts.to_string());
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

    /// Sessions connected to this database, other than the one asking.
    pub fn sessions(&self) -> usize {
        self.scalar(&format!(
            "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE DB = '{}' AND ID <> CONNECTION_ID()",
            self.name
        ))
        .unwrap()
        .parse()
        .unwrap()
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let (admin, name) = (self.admin.clone(), self.name.clone());
        // A server already gone (a fault test's) has nothing left to drop;
        // one that is frozen gets a few seconds.
        let _ = std::panic::catch_unwind(|| {
            block(async move {
                tokio::time::timeout(std::time::Duration::from_secs(5), async move {
                    if let Ok(opts) = mysql_async::Opts::from_url(&admin) {
                        let opts = mysql_async::OptsBuilder::from_opts(opts).prefer_socket(false);
                        if let Ok(mut c) = mysql_async::Conn::new(opts).await {
                            let _ = c
                                .query_drop(format!("DROP DATABASE IF EXISTS `{name}`"))
                                .await;
                            let _ = c.disconnect().await;
                        }
                    }
                })
                .await
            })
        });
    }
}

/// A holder (or any raw JSON locksmith reports exactly as stored) as a
/// JSON value, to compare.
pub fn json(raw: &serde_json::value::RawValue) -> serde_json::Value {
    serde_json::from_str(raw.get()).unwrap()
}

/// Path of the built binary.
pub fn bin() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_locksmith"))
}

/// A `locksmith` command with DATABASE_URL set to `url` (a proxy's, some
/// nodes'), not started yet.
pub fn command_at(url: &str, args: &[&str]) -> Command {
    let mut c = Command::new(bin());
    c.args(args)
        .env("DATABASE_URL", url)
        .env("XDG_CACHE_HOME", cache_home())
        .env_remove("NO_COLOR");
    c
}

/// The cache directory the runs of `locksmith` get (what it remembers of
/// servers stays out of the user's own, ~/.cache/locksmith).
pub fn cache_home() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("xdg-cache")
}

/// Runs `locksmith ARGS` with DATABASE_URL set to `url`.
pub fn locksmith_at(url: &str, args: &[&str]) -> Run {
    run(&mut command_at(url, args), None)
}

/// Starts `locksmith ARGS` with DATABASE_URL set to `url`, in the
/// background, stdout and stderr captured.
pub fn spawn_at(url: &str, args: &[&str]) -> Child {
    command_at(url, args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn locksmith")
}

/// Sends `sig` to process `pid`.
pub fn signal(pid: u32, sig: nix::sys::signal::Signal) {
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), sig).expect("send a signal");
}

/// Reads `stream` line by line until a line contains `marker`; returns
/// everything read so far.
pub fn read_until(stream: &mut impl BufRead, marker: &str) -> String {
    let mut seen = String::new();
    loop {
        let mut line = String::new();
        let n = stream.read_line(&mut line).unwrap();
        seen.push_str(&line);
        assert!(n > 0, "{marker:?} never came; got {seen:?}");
        if line.contains(marker) {
            return seen;
        }
    }
}

/// Runs `locksmith` with no DATABASE_URL at all.
pub fn locksmith_bare(args: &[&str]) -> Run {
    run(
        Command::new(bin())
            .args(args)
            .env("XDG_CACHE_HOME", cache_home())
            .env_remove("DATABASE_URL"),
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

/// What a finished `locksmith` run printed, and how it exited. Its checks
/// look at status, stdout and stderr together: a success says nothing on
/// stderr and prints exactly what the test says (nothing, for
/// [`Run::success`]); an error leaves stdout empty unless the test says
/// otherwise.
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
    /// Asserts exit 0, an empty stderr and an empty stdout: for commands
    /// that print nothing when they work (`acquire`, `release`, `run` of a
    /// quiet command).
    #[track_caller]
    pub fn success(&self) -> &Run {
        self.quiet_success();
        self.no_stdout()
    }

    /// Asserts exit 0, an empty stderr, and stdout exactly this.
    #[track_caller]
    pub fn succeeds_with(&self, stdout: &str) -> &Run {
        self.quiet_success();
        self.stdout_is(stdout)
    }

    /// Asserts exit 0, an empty stderr, and stdout, once [`normal`] has
    /// replaced what changes from run to run (times, ages, `HOST:PID`, the
    /// run's account), exactly this.
    #[track_caller]
    pub fn succeeds_like(&self, stdout: &str) -> &Run {
        self.quiet_success();
        self.stdout_like(stdout)
    }

    /// Asserts exit 0 and an empty stderr, and parses stdout as JSON into
    /// `T` (the output types deny unknown fields, so nothing goes unseen).
    #[track_caller]
    pub fn success_json<T: serde::de::DeserializeOwned>(&self) -> T {
        self.quiet_success();
        self.json()
    }

    /// Asserts exit 0 and an empty stderr, and hands stdout to `check`: for
    /// output that is open-ended by nature (help, man page, completions,
    /// measured numbers), where the caller asserts what matters in it.
    #[track_caller]
    pub fn succeeds_where(&self, check: impl FnOnce(&str)) -> &Run {
        self.quiet_success();
        assert!(!self.stdout.is_empty(), "expected output: {self:#?}");
        check(&self.stdout);
        self
    }

    /// The same run with each known value in both streams replaced by its
    /// name (`[(&holder, "<FIRST>")]`): to compare whole output holding a
    /// value that [`normal`] would hide but the test knows.
    pub fn named(&self, names: &[(&str, &str)]) -> Run {
        let (mut stdout, mut stderr) = (self.stdout.clone(), self.stderr.clone());
        for (value, name) in names {
            stdout = stdout.replace(value, name);
            stderr = stderr.replace(value, name);
        }
        Run {
            code: self.code,
            stdout,
            stderr,
        }
    }

    #[track_caller]
    fn quiet_success(&self) {
        assert_eq!(self.code, 0, "expected success: {self:#?}");
        assert_eq!(self.stderr, "", "expected a quiet stderr: {self:#?}");
    }

    /// Asserts this exit code, an error on stderr (`locksmith: …`, several
    /// lines at most) and nothing on stdout.
    #[track_caller]
    pub fn fails(&self, code: i32) -> &Run {
        self.fails_with_output(code);
        assert_eq!(
            self.stdout, "",
            "an error prints nothing on stdout: {self:#?}"
        );
        self
    }

    /// Asserts this exit code, nothing on stdout, and stderr exactly this.
    #[track_caller]
    pub fn fails_with(&self, code: i32, stderr: &str) -> &Run {
        self.fails(code).stderr_is(stderr)
    }

    /// Like [`Run::fails_with`], comparing stderr once [`normal`] has
    /// replaced what changes from run to run.
    #[track_caller]
    pub fn fails_like(&self, code: i32, stderr: &str) -> &Run {
        self.fails(code).stderr_like(stderr)
    }

    /// Like [`Run::fails`], for the few commands that print data before
    /// failing (`migrate status --check`, a partly applied `migrate up`):
    /// the caller asserts stdout itself.
    #[track_caller]
    pub fn fails_with_output(&self, code: i32) -> &Run {
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

    /// Asserts stderr is exactly this.
    #[track_caller]
    pub fn stderr_is(&self, s: &str) -> &Run {
        assert_eq!(self.stderr, s, "stderr differs: {self:#?}");
        self
    }

    /// Asserts stdout, once [`normal`] has replaced what changes from run
    /// to run, is exactly this.
    #[track_caller]
    pub fn stdout_like(&self, s: &str) -> &Run {
        assert_eq!(normal(&self.stdout), s, "stdout differs: {self:#?}");
        self
    }

    /// Asserts stderr, once [`normal`] has replaced what changes from run
    /// to run, is exactly this.
    #[track_caller]
    pub fn stderr_like(&self, s: &str) -> &Run {
        assert_eq!(normal(&self.stderr), s, "stderr differs: {self:#?}");
        self
    }

    /// Asserts stderr, whole, matches this regular expression (anchored at
    /// both ends): for a message with a hole in it for words that are not
    /// locksmith's (the OS's, the resolver's).
    #[track_caller]
    pub fn stderr_matches(&self, pattern: &str) -> &Run {
        let re = regex::Regex::new(&format!("^(?s:{pattern})$")).unwrap();
        assert!(
            re.is_match(&self.stderr),
            "stderr does not match {pattern:?}: {self:#?}"
        );
        self
    }

    /// Asserts stdout is empty.
    #[track_caller]
    pub fn no_stdout(&self) -> &Run {
        assert_eq!(self.stdout, "", "expected no stdout: {self:#?}");
        self
    }

    /// Asserts stdout contains each of these. Only for output that is
    /// open-ended (help text, a server's own words); the caller says why.
    #[track_caller]
    pub fn stdout_has(&self, parts: &[&str]) -> &Run {
        for p in parts {
            assert!(self.stdout.contains(p), "stdout lacks {p:?}: {self:#?}");
        }
        self
    }

    /// Asserts stderr contains each of these. Only for messages that are
    /// open-ended (they quote the server or the OS); the caller says why.
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
        let pw = password();
        assert!(
            !self.stdout.contains(pw) && !self.stderr.contains(pw),
            "password leaked: {self:#?}"
        );
        self
    }

    /// Parses stdout as JSON into T (the caller has checked the status and
    /// stderr; see [`Run::success_json`]).
    #[track_caller]
    pub fn json<T: serde::de::DeserializeOwned>(&self) -> T {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| panic!("bad JSON ({e}): {self:#?}"))
    }
}

/// Output with what changes from run to run replaced, so that it can be
/// compared whole:
///
/// - RFC 3339 times (`2026-01-02T03:04:05.678Z`) become `<TIME>`;
/// - `OSUSER@HOST` (this process's) becomes `<ME>`, and `HOST:PID` becomes
///   `<HOST>:<PID>`;
/// - the run's account (`lt_…_u`) becomes `<USER>`, and the client host in
///   the server's "Access denied for user 'U'@'HOST'" becomes `<CLIENT>`;
/// - `MariaDB 10.11.9` becomes `MariaDB <VERSION>`;
/// - in table lines (those starting with `|` or `+`), runs of spaces,
///   dashes and equals signs become one, so column widths (which follow
///   the contents) do not matter, and an age after a time becomes `<AGE>`.
pub fn normal(s: &str) -> String {
    use regex::Regex;
    static RULES: OnceLock<Vec<(Regex, String)>> = OnceLock::new();
    let rules = RULES.get_or_init(|| {
        let (host, me) = (
            regex::escape(&locksmith::host::hostname()),
            regex::escape(&locksmith::host::os_user()),
        );
        [
            (
                r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z".to_string(),
                "<TIME>".to_string(),
            ),
            (format!(r"\b{me}@{host}\b"), "<ME>".into()),
            (format!(r"\b{host}:\d+\b"), "<HOST>:<PID>".into()),
            (format!(r"{}\b", regex::escape(&user())), "<USER>".into()),
            (
                r"Access denied for user '([^']*)'@'[^']*'".into(),
                "Access denied for user '$1'@'<CLIENT>'".into(),
            ),
            (r"MariaDB \d+\.\d+\.\d+".into(), "MariaDB <VERSION>".into()),
        ]
        .into_iter()
        .map(|(re, to)| (Regex::new(&re).unwrap(), to))
        .collect()
    });
    static TABLE: OnceLock<[Regex; 4]> = OnceLock::new();
    let [spaces, dashes, equals, age] = TABLE.get_or_init(|| {
        [
            Regex::new(" +").unwrap(),
            Regex::new("-+").unwrap(),
            Regex::new("=+").unwrap(),
            Regex::new(r"<TIME> \d+[dhms](\d\d[hms])? \|").unwrap(),
        ]
    });
    let mut s = s.to_string();
    for (re, to) in rules {
        s = re.replace_all(&s, to.as_str()).into_owned();
    }
    let mut out = String::with_capacity(s.len());
    for line in s.split_inclusive('\n') {
        if line.starts_with('|') || line.starts_with('+') {
            let l = spaces.replace_all(line, " ");
            let l = if l.starts_with('+') {
                equals
                    .replace_all(&dashes.replace_all(&l, "-"), "=")
                    .into_owned()
            } else {
                l.into_owned()
            };
            out.push_str(&age.replace_all(&l, "<TIME> <AGE> |"));
        } else {
            out.push_str(line);
        }
    }
    out
}

/// Polls `cond` every 10 ms until it holds; panics, naming `what`, if it
/// does not within `limit`. The way tests wait for something to happen
/// (never a fixed sleep).
#[track_caller]
pub fn wait_until(what: &str, limit: std::time::Duration, cond: impl FnMut() -> bool) {
    assert!(
        poll_until(limit, cond),
        "waited {limit:?}, but never: {what}"
    );
}

/// Polls `cond` every 10 ms until it holds (true) or `limit` has passed
/// (false): for something that may rightly never happen.
pub fn poll_until(limit: std::time::Duration, mut cond: impl FnMut() -> bool) -> bool {
    let t = std::time::Instant::now();
    while !cond() {
        if t.elapsed() >= limit {
            return false;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    true
}

// ------------------------------------------------------------------
// For the connection tests (tests/it/connect.rs).

impl Throwaway {
    /// A single server on this SQL port (`--port`), with extra mariadbd
    /// arguments: for a client that was started before its server. Fails
    /// when the port is taken.
    pub fn start_on_port(port: u16, extra: &[String]) -> Throwaway {
        Throwaway::launch(["--port".into(), port.to_string()], extra)
    }

    /// Runs SQL as root on node `i` (0-based).
    pub fn admin_sql(&self, i: usize, stmts: &str) {
        admin_sql_at(&self.admin_url(i), stmts)
    }
}

/// Runs SQL as the administrator whose URL this is.
pub fn admin_sql_at(admin: &str, stmts: &str) {
    let (admin, stmts) = (admin.to_string(), stmts.to_string());
    block(async move {
        let mut c = admin_conn(&admin).await;
        c.query_drop(stmts).await.unwrap();
        c.disconnect().await.unwrap();
    })
}

impl TestDb {
    /// Runs SQL as the administrator of this database's server (to make
    /// and drop accounts of the test's own).
    pub fn admin_sql(&self, stmts: &str) {
        admin_sql_at(&self.admin, stmts)
    }
}

/// Runs a `locksmith` command built by the caller (its environment,
/// working directory and arguments as the caller set them; stdin empty).
pub fn run_command(cmd: &mut Command) -> Run {
    run(cmd, None)
}

impl Run {
    /// Asserts none of these secrets appears in stdout or stderr.
    #[track_caller]
    pub fn no_secrets(&self, secrets: &[&str]) -> &Run {
        for s in secrets {
            assert!(
                !self.stdout.contains(s) && !self.stderr.contains(s),
                "a secret leaked: {self:#?}"
            );
        }
        self
    }
}
