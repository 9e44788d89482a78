//! A real Prometheus scraping `locksmith serve`, with the alerting rules of
//! contrib/prometheus loaded; promtool checking and testing those rules.

use super::*;
use std::path::Path;

/// A Prometheus of the test's own on a free loopback port, its config and
/// data in a temp dir. Dropping it kills it.
struct Prometheus {
    child: std::process::Child,
    addr: String,
    dir: tempfile::TempDir,
}

impl Prometheus {
    /// Starts one that scrapes `target` (host:port) every second as job
    /// `locksmith`, with the rules of contrib/prometheus/alerts.yml.
    fn start(bin: &Path, target: &str) -> Prometheus {
        let dir = tempfile::tempdir().unwrap();
        let rules = Path::new(env!("CARGO_MANIFEST_DIR")).join("contrib/prometheus/alerts.yml");
        let config = dir.path().join("prometheus.yml");
        std::fs::write(
            &config,
            format!(
                "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n\
                 rule_files:\n  - {}\n\
                 scrape_configs:\n  - job_name: locksmith\n    scrape_timeout: 1s\n    \
                 static_configs:\n      - targets: ['{target}']\n",
                rules.display()
            ),
        )
        .unwrap();
        let addr = format!("127.0.0.1:{}", free_port());
        let log = std::fs::File::create(dir.path().join("prometheus.log")).unwrap();
        let child = std::process::Command::new(bin)
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address={addr}"))
            .stdin(std::process::Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("start prometheus");
        let p = Prometheus { child, addr, dir };
        wait_until("prometheus is ready", Duration::from_secs(60), || {
            std::net::TcpStream::connect(&p.addr).is_ok()
                && http_get(&p.addr, "/-/ready", Duration::from_secs(5)).status == 200
        });
        p
    }

    /// GET an API path, as JSON.
    fn api(&self, path: &str) -> serde_json::Value {
        let r = http_get(&self.addr, path, Duration::from_secs(10));
        assert_eq!(r.status, 200, "{path}: {r:?}\n{}", self.log());
        serde_json::from_str(&r.body).unwrap()
    }

    /// The result of an instant query.
    fn query(&self, q: &str) -> Vec<serde_json::Value> {
        let q = percent_encoding::utf8_percent_encode(q, percent_encoding::NON_ALPHANUMERIC);
        let v = self.api(&format!("/api/v1/query?query={q}"));
        assert_eq!(v["status"], "success", "{v}");
        v["data"]["result"].as_array().unwrap().clone()
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("prometheus.log")).unwrap_or_default()
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn a_real_prometheus_scrapes_serve() {
    let Some(bin) = tool("prometheus") else {
        return;
    };
    let db = TestDb::migrated();
    db.locksmith(&[
        "locks", "acquire", "platform", "backup", "--holder", "task-1",
    ])
    .success();
    // A row and a lock name with a quote, a backslash, a newline and ESCs.
    db.sql(
        r#"INSERT INTO locks (id, dataJson, version) VALUES (CONCAT('r"\\', CHAR(27), '[31m'), '{"a\\"b\\\\c\\nd\\u001b[0m":"h"}', 1)"#,
    );
    let s = Served::start(&db.url(), &[]);
    let p = Prometheus::start(&bin, &s.addr);
    wait_until(
        "Prometheus has scraped serve",
        Duration::from_secs(60),
        || {
            p.query("up{job=\"locksmith\"}")
                .first()
                .is_some_and(|r| r["value"][1] == "1")
        },
    );
    let up = p.query("up{job=\"locksmith\"}");
    eprintln!("up: {}", serde_json::to_string(&up).unwrap());
    let exporter_up = p.query("locksmith_up");
    assert_eq!(exporter_up[0]["value"][1], "1", "{exporter_up:?}");
    let ages = p.query("locksmith_lock_age_seconds{lock=\"backup\"}");
    eprintln!(
        "locksmith_lock_age_seconds{{lock=\"backup\"}}: {}",
        serde_json::to_string(&ages).unwrap()
    );
    assert_eq!(ages.len(), 1, "{ages:?}");
    assert_eq!(
        ages[0]["metric"],
        serde_json::json!({
            "__name__": "locksmith_lock_age_seconds",
            "instance": s.addr,
            "job": "locksmith",
            "row": "platform",
            "lock": "backup",
            "liveness": "alive",
        })
    );
    let age: f64 = ages[0]["value"][1].as_str().unwrap().parse().unwrap();
    assert!(age > 0.0 && age < 600.0, "{age}");
    // Label values arrive as `locks dump` shows the names: control
    // characters escaped, quotes and backslashes kept.
    let odd = p.query("locksmith_lock_age_seconds{row!=\"platform\"}");
    assert_eq!(odd.len(), 1, "{odd:?}");
    assert_eq!(odd[0]["metric"]["row"], "r\"\\\\u{1b}[31m");
    assert_eq!(odd[0]["metric"]["lock"], "a\"b\\c\\nd\\u{1b}[0m");
    // The alerting rules are loaded, and healthy.
    let rules = p.api("/api/v1/rules");
    let groups = rules["data"]["groups"].as_array().unwrap();
    assert_eq!(groups.len(), 1, "{rules}");
    assert_eq!(groups[0]["name"], "locksmith");
    let loaded = groups[0]["rules"].as_array().unwrap();
    assert_eq!(loaded.len(), 10, "{rules}");
    wait_until("every rule evaluated", Duration::from_secs(30), || {
        let rules = p.api("/api/v1/rules");
        rules["data"]["groups"][0]["rules"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["health"] == "ok")
    });
}

#[test]
fn promtool_checks_the_rules_and_shows_them_firing() {
    let Some(promtool) = tool("promtool") else {
        return;
    };
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("contrib/prometheus");
    let run = |args: &[&str]| {
        let out = std::process::Command::new(&promtool)
            .args(args)
            .current_dir(&dir)
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    assert_eq!(
        run(&["check", "rules", "alerts.yml"]),
        (
            Some(0),
            "Checking alerts.yml\n  SUCCESS: 10 rules found\n\n".into(),
            String::new()
        )
    );
    // The held-too-long (1 h, then 6 h), dead-holder, waiter and
    // exporter-down alerts fire when their tests say, with the labels and
    // texts they say.
    assert_eq!(
        run(&["test", "rules", "alerts_test.yml"]),
        (
            Some(0),
            "Unit Testing:  alerts_test.yml\n  SUCCESS\n\n".into(),
            String::new()
        )
    );
}
