//! Servers and Galera clusters of a test's own, started by
//! `scripts/throwaway-mariadb` and driven through its stdin: killed,
//! restarted, frozen and thawed; and SQL run as their administrator.

use super::*;

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

    /// How many nodes it has.
    pub fn nodes(&self) -> usize {
        self.nodes.len()
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

// For the connection tests (tests/it/connect/).

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
