//! `locksmith serve` itself: loopback by default, `/healthz`, the same
//! metrics as `locks dump --format prometheus`, one read per `--interval`,
//! a frozen database shown as `locksmith_up 0` within the scrape timeout
//! (and 1 again after), and the password nowhere.

use super::*;

#[test]
fn serve_listens_on_loopback_by_default() {
    let db = TestDb::migrated();
    let s = Served::spawn(&db.url(), &["serve"]);
    assert_eq!(s.addr, "127.0.0.1:9464", "{}", s.log());
    let h = s.get("/healthz");
    assert_eq!(
        (h.status, h.content_type.as_str(), h.body.as_str()),
        (200, "text/plain; charset=utf-8", "ok\n")
    );
    assert_eq!(s.get("/nothing-here").status, 404);
    let (code, log) = s.stop();
    assert_eq!(code, 0, "{log}");
    let db_shown = db.url().replace(&format!(":{}@", password()), ":***@");
    assert_eq!(
        log,
        format!(
            "locksmith: listening on http://127.0.0.1:9464/ (/metrics, /healthz), reading {db_shown} at most every 1s\n\
             locksmith: stopping (signal 15)\n"
        )
    );
}

#[test]
fn serve_shows_what_dump_shows_and_reads_once_per_interval() {
    let promtool = tool("promtool");
    let db = TestDb::migrated();
    db.locksmith(&[
        "locks", "acquire", "platform", "backup", "--holder", "task-1",
    ])
    .success();
    let s = Served::start(&db.url(), &["--interval", "1h"]);
    let first = s.metrics();
    let dump = db.locksmith(&["locks", "dump", "--format", "prometheus"]);
    // serve counts its failed reads besides.
    let errors = "# HELP locksmith_scrape_errors_total Reads of the database that failed or timed out since the exporter started\n\
                  # TYPE locksmith_scrape_errors_total counter\n\
                  locksmith_scrape_errors_total 0\n";
    let (head, rest) = normal_metrics(&dump.stdout)
        .split_once("# HELP locksmith_locks_held")
        .map(|(h, r)| (h.to_string(), r.to_string()))
        .unwrap();
    assert_eq!(
        normal_metrics(&first),
        format!("{head}{errors}# HELP locksmith_locks_held{rest}")
    );
    if let Some(p) = &promtool {
        promtool_checks(p, &first);
    }
    // Within --interval, the same read: a lock taken since does not show.
    db.locksmith(&[
        "locks", "acquire", "platform", "update", "--holder", "task-2",
    ])
    .success();
    assert_eq!(s.metrics(), first);
    assert!(!first.contains("lock=\"update\""), "{first}");
    // A new serve reads it.
    let s2 = Served::start(&db.url(), &[]);
    assert!(s2.metrics().contains("lock=\"update\""));
}

#[test]
fn a_frozen_database_is_up_0_within_the_scrape_timeout_and_1_again_after() {
    let mut server = Throwaway::start(1, &[]);
    let db = TestDb::on(&server, 0);
    db.locksmith(&["migrate", "up"]).succeeds_with(UP_FRESH);
    db.locksmith(&[
        "locks", "acquire", "platform", "backup", "--holder", "task-1",
    ])
    .success();
    let s = Served::start(&db.url(), &["--interval", "0s", "--scrape-timeout", "2s"]);
    let m = s.metrics();
    assert_eq!(sample(&m, "locksmith_up"), Some(1.0), "{m}");
    server.freeze(0);
    for n in 1..=2 {
        let t = Instant::now();
        let m = s.metrics();
        let took = t.elapsed();
        eprintln!("scrape {n} of a frozen database took {took:?}");
        assert!(took < Duration::from_millis(2500), "took {took:?}: {m}");
        assert_eq!(
            normal_metrics(&m),
            format!(
                "# HELP locksmith_up Whether the last read of the database succeeded (1) or not (0)\n\
                 # TYPE locksmith_up gauge\n\
                 locksmith_up 0\n\
                 # HELP locksmith_scrape_duration_seconds How long the last read of the database took\n\
                 # TYPE locksmith_scrape_duration_seconds gauge\n\
                 locksmith_scrape_duration_seconds <S>\n\
                 # HELP locksmith_scrape_errors_total Reads of the database that failed or timed out since the exporter started\n\
                 # TYPE locksmith_scrape_errors_total counter\n\
                 locksmith_scrape_errors_total {n}\n"
            )
        );
    }
    // The exporter itself is fine, and its page says what is wrong.
    assert_eq!(s.get("/healthz").body, "ok\n");
    let page = s.get("/");
    assert_eq!(page.status, 200);
    assert!(
        page.body
            .contains("<p class=\"error\" id=\"error\">The database could not be read: "),
        "{}",
        page.body
    );
    server.thaw(0);
    wait_until("up is 1 again", Duration::from_secs(20), || {
        sample(&s.metrics(), "locksmith_up") == Some(1.0)
    });
    let m = s.metrics();
    assert!(
        m.contains(
            "locksmith_lock_age_seconds{row=\"platform\",lock=\"backup\",liveness=\"alive\"} "
        ),
        "{m}"
    );
    let (code, log) = s.stop();
    assert_eq!(code, 0, "{log}");
    eprintln!("{log}");
    // The outage said once (each failure names what it was doing), and its end.
    let lines: Vec<&str> = log.lines().collect();
    assert!(lines[0].starts_with("locksmith: listening on"), "{log}");
    assert!(
        lines[1].starts_with("locksmith: cannot read the database: "),
        "{log}"
    );
    assert_eq!(
        lines[lines.len() - 2..],
        [
            "locksmith: the database can be read again",
            "locksmith: stopping (signal 15)"
        ],
        "{log}"
    );
}

#[test]
fn serve_never_shows_the_password() {
    let db = TestDb::migrated();
    db.locksmith(&[
        "locks", "acquire", "platform", "backup", "--holder", "task-1",
    ])
    .success();
    let pw = password().to_string();
    let wrong = format!("Wr0ng-{}", fastrand::u32(..));
    let bad_url = db.url().replace(&format!(":{pw}@"), &format!(":{wrong}@"));
    for (url, secret, up) in [(db.url(), &pw, 1.0), (bad_url, &wrong, 0.0)] {
        let s = Served::start(&url, &[]);
        let m = s.metrics();
        assert_eq!(sample(&m, "locksmith_up"), Some(up), "{m}");
        let page = s.get("/").body;
        assert!(page.contains(":***@"), "{page}");
        let health = s.get("/healthz").body;
        let (_, log) = s.stop();
        if up == 0.0 {
            assert!(log.contains("cannot read the database: "), "{log}");
            assert!(page.contains("The database could not be read: "), "{page}");
        }
        for (what, text) in [
            ("metrics", &m),
            ("page", &page),
            ("healthz", &health),
            ("log", &log),
        ] {
            assert!(
                !text.contains(secret.as_str()),
                "the password in the {what}: {text}"
            );
        }
    }
}

#[test]
fn serve_dates_an_unregistered_lock_from_when_it_first_saw_it() {
    let db = TestDb::migrated();
    db.sql(
        r#"INSERT INTO locks (id, dataJson, version, ts) VALUES ('cloudron', '{"update":"task-99"}', 1, NOW() - INTERVAL 2 HOUR)"#,
    );
    let s = Served::start(&db.url(), &["--interval", "0s"]);
    let series = r#"locksmith_lock_age_seconds{row="cloudron",lock="update",liveness="unknown"}"#;
    let before = sample(&s.metrics(), series).unwrap();
    assert!(before >= 7200.0, "{before}");
    // Another lock taken in the row moves the row's last change on; the
    // exporter saw `update` held two hours ago.
    db.locksmith(&[
        "locks", "acquire", "cloudron", "backup", "--holder", "task-1",
    ])
    .success();
    let m = s.metrics();
    assert!(m.contains("lock=\"backup\""), "{m}");
    assert!(sample(&m, series).unwrap() >= before, "{m}");
    // A one-off dump has only the row's last change to go by.
    let d = db.locksmith(&["locks", "dump", "--format", "prometheus"]);
    assert!(sample(&d.stdout, series).unwrap() < 600.0, "{}", d.stdout);
}
