//! A database of each test's own, on the shared server or a server of the
//! test's own: its URLs, `locksmith` run against it, and SQL to set it up
//! and look into it.

use super::*;

/// What `migrate up` prints on an empty database.
pub const UP_FRESH: &str = "Applied V1__locks_create_table\nApplied V2__locks_audit_create_table\nApplied V3__holder_liveness\nSchema is now at version 3.\n";

/// What `locks dump` says on stderr without a holder registry.
pub const NO_REGISTRY: &str = "locksmith: note: the holder registry (table `locks_holders`) is not there or this account may not read it, so every holder's liveness is unknown; `locksmith migrate up` creates it\n";

/// What `migrate up` prints when there is nothing to do.
pub const UP_NOOP: &str = "Schema is up to date (version 3); nothing to apply.\n";

/// What `migrate up --dry-run` prints for V3 when it would apply it (no
/// last line), as a literal for `concat!`.
macro_rules! v3_would_apply {
    () => {
        "-- Would apply V3__holder_liveness:\n\
         CREATE TABLE IF NOT EXISTS locks_holders(\n    \
             holder VARCHAR(255) NOT NULL,\n    \
             rowId VARCHAR(128) NOT NULL,\n    \
             lockName VARCHAR(255) NOT NULL,\n    \
             state VARCHAR(8) NOT NULL,\n    \
             since DATETIME(6) NOT NULL,\n    \
             host VARCHAR(255) NOT NULL,\n    \
             pid INT NOT NULL,\n    \
             pidStart BIGINT,\n    \
             bootId VARCHAR(64),\n    \
             started DATETIME(6),\n    \
             leaseMs INT,\n    \
             beat DATETIME(6) NOT NULL,\n    \
             fence BIGINT,\n    \
             unlessHeld TEXT,\n    \
             command TEXT,\n    \
             PRIMARY KEY (holder, rowId, lockName),\n    \
             KEY locks_holders_lock (rowId, lockName)\n\
         ) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin;\n\
         CREATE TABLE IF NOT EXISTS locks_audit_evidence(\n    \
             opId CHAR(32) NOT NULL PRIMARY KEY,\n    \
             evidenceJson MEDIUMTEXT NOT NULL\n\
         ) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin;\n"
    };
}

/// What `migrate up --dry-run` prints for V2 and V3 when it would apply
/// them, and its last line.
pub const V2_PLAN: &str = concat!(
    "-- Would apply V2__locks_audit_create_table:\n\
     CREATE TABLE IF NOT EXISTS locks_audit(\n    \
         id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,\n    \
         opId CHAR(32) NOT NULL UNIQUE,\n    \
         at TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),\n    \
         dbUser VARCHAR(288) NOT NULL,\n    \
         osUser VARCHAR(255) NOT NULL,\n    \
         command TEXT NOT NULL,\n    \
         action VARCHAR(32) NOT NULL,\n    \
         rowId VARCHAR(128) NOT NULL,\n    \
         versionBefore INT,\n    \
         versionAfter INT,\n    \
         removedJson MEDIUMTEXT,\n    \
         replacedRaw MEDIUMTEXT,\n    \
         KEY locks_audit_row (rowId, id)\n\
     ) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin;\n",
    v3_would_apply!(),
    "-- Dry run: nothing was changed.\n"
);

/// What `migrate up --dry-run` prints for V3 alone (V1 and V2 applied),
/// and its last line.
pub const V3_PLAN: &str = concat!(v3_would_apply!(), "-- Dry run: nothing was changed.\n");

/// What `migrate down --dry-run` prints for V3's down step (no last line).
pub const V3_DOWN_PLAN: &str = "-- Would roll back V3__holder_liveness:\n\
     DROP TABLE IF EXISTS locks_audit_evidence;\n\
     DROP TABLE IF EXISTS locks_holders;\n";

/// `migrate status` with every embedded migration applied, as [`normal`]
/// leaves it (for [`Run::succeeds_like`]).
pub const STATUS_APPLIED: &str = "+-+\n\
    | VERSION NAME STATE APPLIED ON |\n\
    +=+\n\
    | 1 locks_create_table applied <TIME> |\n\
    | 2 locks_audit_create_table applied <TIME> |\n\
    | 3 holder_liveness applied <TIME> |\n\
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
        let db = TestDb::create(server.addr(i), admin);
        // On a cluster, the other nodes apply the account and the database
        // a moment later (in that order): a test's first run on one of them
        // must find them.
        for j in (0..server.nodes()).filter(|j| *j != i) {
            let there = server.admin_url(j);
            let q = format!(
                "SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = '{}'",
                db.name
            );
            wait_until(
                &format!("node {} has database {}", j + 1, db.name),
                std::time::Duration::from_secs(30),
                || {
                    block(async {
                        let mut c = admin_conn(&there).await;
                        let n: Option<u64> = c.query_first(q.as_str()).await.unwrap();
                        c.disconnect().await.unwrap();
                        n == Some(1)
                    })
                },
            );
        }
        db
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

    /// Runs `locksmith ARGS` on a terminal of its own; once it asks
    /// `Proceed? [y/N] `, runs `meanwhile`, then types `answer`. Returns its
    /// exit status and what the terminal showed (line ends as `\n`, colours
    /// removed).
    pub fn answer_prompt(
        &self,
        args: &str,
        answer: &str,
        meanwhile: impl FnOnce(),
    ) -> (i32, String) {
        use std::io::{BufRead, BufReader, Read, Write};
        let mut child = self.spawn_on_tty(args);
        let mut stdin = child.stdin.take().unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut seen = Vec::new();
        // The terminal's echo of the answer must follow the prompt, as a
        // person would see it: type only once the prompt is there.
        while !String::from_utf8_lossy(&seen).contains("Proceed? [y/N] ") {
            let buf = stdout.fill_buf().unwrap();
            assert!(
                !buf.is_empty(),
                "no prompt: {:?}",
                String::from_utf8_lossy(&seen)
            );
            let n = buf.len();
            seen.extend_from_slice(buf);
            stdout.consume(n);
        }
        meanwhile();
        stdin.write_all(format!("{answer}\n").as_bytes()).unwrap();
        stdout.read_to_end(&mut seen).unwrap();
        let status = child.wait().unwrap();
        drop(stdin);
        let colour = regex::Regex::new("\x1b\\[[0-9;]*m").unwrap();
        let shown = String::from_utf8_lossy(&seen).replace("\r\n", "\n");
        (
            status.code().unwrap_or(-1),
            colour.replace_all(&shown, "").into_owned(),
        )
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

    /// Every lock held, as `locks dump --format json` reports it: (row,
    /// name, holder). (Without the holder registry, dump says so on stderr;
    /// that alone may be there.)
    pub fn locks_held(&self) -> Vec<(String, String, serde_json::Value)> {
        let r = self.locksmith(&["locks", "dump", "--format", "json"]);
        assert_eq!(r.code, 0, "{r:#?}");
        if !r.stderr.is_empty() {
            r.stderr_is(NO_REGISTRY);
        }
        let doc: locksmith::cli::output::Dump = r.json();
        doc.rows
            .into_iter()
            .flat_map(|r| {
                let row = r.row;
                r.locks
                    .into_iter()
                    .map(move |l| (row.clone(), l.name, json(&l.holder)))
            })
            .collect()
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

impl TestDb {
    /// Runs SQL as the administrator of this database's server (to make
    /// and drop accounts of the test's own).
    pub fn admin_sql(&self, stmts: &str) {
        admin_sql_at(&self.admin, stmts)
    }
}
