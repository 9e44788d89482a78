//! Connection flags before and after the subcommand, and `--wait-for-db`:
//! it waits for a server started later, never for a refusal.

use super::*;

#[test]
fn url_before_and_after_the_subcommand() {
    let db = TestDb::new();
    let room = Room::new();
    let good = db.url();
    let missing = unique_name("nodb");
    let bad = good.replace(&db.name, &missing);
    let cmd = |args: &[&str]| run_command(&mut room.cmd(args));
    status_ok(&cmd(&["--url", &good, "migrate", "status"]));
    status_ok(&cmd(&["migrate", "status", "--url", &good]));
    // After wins over before.
    status_ok(&cmd(&["--url", &bad, "migrate", "status", "--url", &good]));
    let r = cmd(&["--url", &good, "migrate", "status", "--url", &bad]);
    r.fails_with(5, &no_database(&missing, &bad)).no_secret();
    // Either wins over DATABASE_URL.
    status_ok(&room.run(&bad, &["migrate", "status", "--url", &good]));
    status_ok(&room.run(&bad, &["--url", &good, "migrate", "status"]));
    // The other connection flags go either side too.
    let r = cmd(&[
        "migrate",
        "status",
        "--url",
        &good,
        "--verbose",
        "--timeout",
        "5s",
    ]);
    connected_in_plaintext_or_tls(&r);
    let r = cmd(&[
        "--verbose",
        "--timeout",
        "5s",
        "locks",
        "dump",
        "--url",
        &good,
    ]);
    // Verbose: a line for each connection (the command's own, and the
    // look that names the missing table), then the error.
    let connected = format!(
        r"locksmith: connected to {} \(MariaDB \d+\.\d+\.\d+\) (without TLS|over TLS: TLSv1\.[23], \S+)\n",
        regex::escape(&db.addr())
    );
    r.fails(5).no_secret().stderr_matches(&format!(
        "{connected}{connected}{}",
        regex::escape(
            "locksmith: table `locks` does not exist\nhint: run `locksmith migrate up` first\n"
        )
    ));
}

/// A TCP port on loopback that nothing listens on, below the ephemeral
/// range (as the throwaway script picks them).
fn free_port() -> u16 {
    loop {
        let p = fastrand::u16(20000..32000);
        if std::net::TcpListener::bind(("127.0.0.1", p)).is_ok() {
            return p;
        }
    }
}

#[test]
fn wait_for_db_waits_for_a_server_started_later() {
    let port = free_port();
    let (name, user, pw) = (unique_name("wdb"), unique_name("wu"), random_password());
    let url = format!("mysql://{user}:{pw}@127.0.0.1:{port}/{name}");
    let room = Room::new();
    let started = Instant::now();
    let mut child = room
        .cmd(&["--wait-for-db", "60s", "migrate", "status"])
        .env("DATABASE_URL", &url)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Once it says it waits, it has tried and found no server: only then
    // does the server start.
    let mut stderr = std::io::BufReader::new(child.stderr.take().unwrap());
    let said = read_until(&mut stderr, "waiting up to 60s");
    assert!(
        child.try_wait().unwrap().is_none(),
        "did not wait: {said:?}"
    );
    // The account and database exist before the server takes connections:
    // --init-file runs before it accepts any.
    let init = tempfile::tempdir().unwrap();
    std::fs::set_permissions(init.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let sql = init.path().join("init.sql");
    std::fs::write(
        &sql,
        format!(
            "CREATE DATABASE `{name}`;\nCREATE USER '{user}'@'%' IDENTIFIED BY '{pw}';\nGRANT ALL ON `{name}`.* TO '{user}'@'%';\n"
        ),
    )
    .unwrap();
    std::fs::set_permissions(&sql, std::fs::Permissions::from_mode(0o644)).unwrap();
    let server = Throwaway::start_on_port(port, &[format!("--init-file={}", sql.display())]);
    drop(init);
    let up = started.elapsed();
    let mut r = Run::from(child.wait_with_output().unwrap());
    std::io::Read::read_to_string(&mut stderr, &mut r.stderr).unwrap();
    r.stderr.insert_str(0, &said);
    let took = started.elapsed();
    eprintln!(
        "--wait-for-db: server up after {:.2}s, locksmith done after {:.2}s",
        up.as_secs_f64(),
        took.as_secs_f64()
    );
    assert_eq!(r.code, 0, "{r:#?}");
    r.stdout_is(STATUS_FRESH).no_secrets(&[&pw]);
    let shown = redacted(&url, &pw);
    let first = format!(
        "locksmith: waiting up to 60s for the database at {shown}: cannot connect to {shown}: "
    );
    assert!(r.stderr.starts_with(&first), "{r:#?}");
    for line in r.stderr.lines() {
        assert!(
            line.starts_with(&format!(
                "locksmith: waiting up to 60s for the database at {shown}: "
            )),
            "{r:#?}"
        );
    }
    assert!(
        took < up + Duration::from_secs(5),
        "slow to notice: {took:?}"
    );
    server.admin_sql(
        0,
        &format!("DROP USER '{user}'@'%'; DROP DATABASE `{name}`"),
    );
}

#[test]
fn wait_for_db_does_not_wait_out_a_refusal() {
    let db = TestDb::new();
    let room = Room::new();
    let wrong = random_password();
    let url = db.url().replace(password(), &wrong);
    let t = Instant::now();
    let r = room.run(&url, &["--wait-for-db", "30s", "migrate", "status"]);
    let took = t.elapsed();
    denied(&r, &db, "the URL (DATABASE_URL)", &[&wrong]);
    assert_eq!(r.stderr.lines().count(), 2, "retried: {r:#?}");
    assert!(took < Duration::from_secs(5), "waited {took:?}: {r:#?}");
    // Nor a database that does not exist.
    let missing = unique_name("nodb");
    let url = db.url().replace(&db.name, &missing);
    let t = Instant::now();
    let r = room.run(&url, &["--wait-for-db", "30s", "migrate", "status"]);
    r.fails_with(5, &no_database(&missing, &url)).no_secret();
    assert!(t.elapsed() < Duration::from_secs(5), "{r:#?}");
}
