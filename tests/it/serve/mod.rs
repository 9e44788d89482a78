//! The exporter, against real servers: `locks dump --format prometheus`
//! and `locksmith serve` (metrics whole, checked by promtool; label
//! escaping; the series cap; a frozen database; the password never shown),
//! a real Prometheus scraping it and loading the alerting rules, the
//! status page rendered by headless Chromium, and the exporter on the
//! Galera cluster with a node killed under it.
//!
//! Prometheus, promtool and Chromium come from Debian's packages, which
//! `scripts/test` installs (`scripts/install-tools`). A test that needs one
//! that is missing fails, saying how to get it, unless
//! `LOCKSMITH_TEST_TOOLS=0` asks to skip such tests (they say so).

mod exporter;
mod galera;
mod metrics;
mod page;
mod prometheus;

use crate::harness::*;
use std::io::{BufRead as _, Read as _};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The path of `name` (prometheus, promtool, chromium); `None` only when
/// `LOCKSMITH_TEST_TOOLS=0` asks to skip the tests that need it.
pub fn tool(name: &str) -> Option<PathBuf> {
    if std::env::var("LOCKSMITH_TEST_TOOLS").as_deref() == Ok("0") {
        eprintln!("skipped: LOCKSMITH_TEST_TOOLS=0 ({name})");
        return None;
    }
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join(name))
            .find(|p| p.is_file())
    });
    assert!(
        found.is_some(),
        "{name} is missing: scripts/test installs it (scripts/install-tools), \
         or LOCKSMITH_TEST_TOOLS=0 skips the tests that need it"
    );
    found
}

/// A `locksmith serve` of the test's own, on a free loopback port; its
/// stderr is collected. Dropping it stops it (SIGTERM).
pub struct Served {
    child: std::process::Child,
    /// host:port it listens on.
    pub addr: String,
    log: Arc<Mutex<String>>,
}

impl Served {
    /// Starts `locksmith serve --listen 127.0.0.1:0 ARGS` against `url`.
    pub fn start(url: &str, args: &[&str]) -> Served {
        let mut all = vec!["serve", "--listen", "127.0.0.1:0"];
        all.extend_from_slice(args);
        Served::spawn(url, &all)
    }

    /// Starts `locksmith ARGS` (a `serve`) and waits until it listens.
    pub fn spawn(url: &str, args: &[&str]) -> Served {
        let mut child = command_at(url, args)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("spawn locksmith serve");
        let mut stderr = std::io::BufReader::new(child.stderr.take().unwrap());
        let first = read_until(&mut stderr, "locksmith: listening on http://");
        let addr = first
            .split("http://")
            .nth(1)
            .and_then(|rest| rest.split('/').next())
            .unwrap_or_else(|| panic!("no address in {first:?}"))
            .to_string();
        let log = Arc::new(Mutex::new(first));
        let more = log.clone();
        std::thread::spawn(move || {
            let mut line = String::new();
            while stderr.read_line(&mut line).unwrap_or(0) > 0 {
                more.lock().unwrap().push_str(&line);
                line.clear();
            }
        });
        Served { child, addr, log }
    }

    /// GET `path`, within 30 s.
    pub fn get(&self, path: &str) -> Http {
        http_get(&self.addr, path, Duration::from_secs(30))
    }

    /// GET /metrics, checked to be a 200 in the text format.
    pub fn metrics(&self) -> String {
        let r = self.get("/metrics");
        assert_eq!(r.status, 200, "{r:?}");
        assert_eq!(
            r.content_type, "text/plain; version=0.0.4; charset=utf-8",
            "{r:?}"
        );
        r.body
    }

    /// What it said on stderr so far.
    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// Stops it with SIGTERM; its exit code and everything it said.
    pub fn stop(mut self) -> (i32, String) {
        signal(self.child.id(), nix::sys::signal::Signal::SIGTERM);
        let code = self.wait();
        // The reader thread has the last lines once the pipe closes.
        wait_until("serve's stderr is read", Duration::from_secs(5), || {
            self.log().contains("stopping")
        });
        (code, self.log())
    }

    fn wait(&mut self) -> i32 {
        let t = Instant::now();
        loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                return s.code().unwrap_or(-1);
            }
            assert!(t.elapsed() < Duration::from_secs(10), "serve did not stop");
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// An HTTP answer.
#[derive(Debug)]
pub struct Http {
    pub status: u16,
    pub content_type: String,
    pub body: String,
}

/// GET `path` from `addr` over HTTP/1.0 (no chunks; the connection closed
/// after it).
pub fn http_get(addr: &str, path: &str, limit: Duration) -> Http {
    use std::io::Write as _;
    let mut s = std::net::TcpStream::connect_timeout(&addr.parse().unwrap(), limit)
        .unwrap_or_else(|e| panic!("connect to {addr}: {e}"));
    s.set_read_timeout(Some(limit)).unwrap();
    write!(s, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)
        .unwrap_or_else(|e| panic!("GET {path} from {addr}: {e}"));
    let raw = String::from_utf8(raw).expect("an answer in UTF-8");
    let (head, body) = raw.split_once("\r\n\r\n").expect("an HTTP answer");
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("a status");
    let content_type = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-type")
                .then(|| v.trim().to_string())
        })
        .unwrap_or_default();
    Http {
        status,
        content_type,
        body: body.to_string(),
    }
}

/// Metrics with what changes from run to run replaced: the value of every
/// `_seconds` sample by `<S>`.
pub fn normal_metrics(text: &str) -> String {
    text.lines()
        .map(|l| match l.rsplit_once(' ') {
            Some((series, _)) if !l.starts_with('#') && name_of(series).ends_with("_seconds") => {
                format!("{series} <S>\n")
            }
            _ => format!("{l}\n"),
        })
        .collect()
}

fn name_of(series: &str) -> &str {
    series.split('{').next().unwrap_or(series)
}

/// The value of the sample whose series is exactly `series`, if any.
pub fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .find_map(|l| l.rsplit_once(' ').filter(|(s, _)| *s == series))
        .map(|(_, v)| v.parse().unwrap())
}

/// `promtool check metrics` on `text`: passes, with nothing to say.
pub fn promtool_checks(promtool: &std::path::Path, text: &str) {
    use std::io::Write as _;
    let mut child = std::process::Command::new(promtool)
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "promtool check metrics: {said}\n{text}"
    );
    assert_eq!(
        said, "",
        "promtool check metrics had more to say on:\n{text}"
    );
}

/// A process of the test's own that ends at once when told: a holder that
/// can die.
pub fn mortal() -> std::process::Child {
    std::process::Command::new("sleep")
        .arg("600")
        .spawn()
        .unwrap()
}

/// A loopback port free a moment ago.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}
