//! Awkward URLs: an IPv6 literal, a password with unencoded `/`, `@` or
//! `:`, a database that does not exist, an extra path segment, a host that
//! does not resolve; each refused in its own words, the password never
//! shown.

use super::*;

fn port(db: &TestDb) -> u16 {
    db.addr().rsplit_once(':').unwrap().1.parse().unwrap()
}

#[test]
fn url_ipv6_literal() {
    // A server that listens on ::1 too, where this machine has IPv6
    // loopback: then a bracketed literal must migrate, lock and dump.
    if std::net::TcpListener::bind(("::1", 0)).is_ok() {
        static V6: std::sync::OnceLock<Throwaway> = std::sync::OnceLock::new();
        let server =
            V6.get_or_init(|| Throwaway::start(1, &["--bind-address=127.0.0.1,::1".to_string()]));
        let db = TestDb::on(server, 0);
        let p = server.node(0).port;
        let url = format!("mysql://{}:{}@[::1]:{p}/{}", user(), password(), db.name);
        let r = locksmith_bare(&["migrate", "up", "--url", &url, "--verbose"]);
        r.no_secret();
        assert_eq!(r.code, 0, "{r:#?}");
        assert_eq!(
            r.stderr,
            format!(
                "locksmith: connected to [::1]:{p} (MariaDB {}) without TLS\n",
                server_version(&db)
            ),
        );
        r.stdout_is(UP_FRESH);
        locksmith_bare(&[
            "locks", "acquire", "platform", "backup", "--holder", "v6", "--url", &url,
        ])
        .success();
        let r = locksmith_bare(&["locks", "dump", "--format", "json", "--url", &url]);
        r.no_secret();
        let dump: Dump = r.success_json();
        let held: Vec<(&str, &str)> = dump.rows[0]
            .locks
            .iter()
            .map(|l| (l.name.as_str(), l.holder.get()))
            .collect();
        assert_eq!(held, [("backup", "\"v6\"")]);
        locksmith_bare(&[
            "locks", "release", "platform", "backup", "--holder", "v6", "--url", &url,
        ])
        .success();
        return;
    }
    // No IPv6 here: the literal still parses, and the connect goes to ::1
    // (refused), not to a name lookup.
    let db = TestDb::migrated();
    let p = port(&db);
    let url = format!("mysql://{}:{}@[::1]:{p}/{}", user(), password(), db.name);
    let r = locksmith_bare(&["locks", "dump", "--url", &url]);
    r.no_secret();
    // The hole is the OS's words for the refusal.
    r.fails(3).stderr_matches(&format!(
        "locksmith: cannot connect to mysql://{}:\\*\\*\\*@\\[::1\\]:{p}/{}: .*\n",
        user(),
        db.name
    ));
    assert!(!r.stderr.contains("did not resolve"), "{r:#?}");
    assert!(!r.stderr.contains("lookup"), "{r:#?}");
}

/// The server's version, as `--verbose` names it (`10.11.19`).
fn server_version(db: &TestDb) -> String {
    let v = db.scalar("SELECT VERSION()").unwrap();
    v.split('-').next().unwrap().to_string()
}

/// A URL for this database whose password is the real one with `extra`
/// appended, unencoded.
fn url_with_password_suffix(db: &TestDb, extra: &str) -> String {
    format!(
        "mysql://{}:{}{extra}@{}/{}",
        user(),
        password(),
        db.addr(),
        db.name
    )
}

/// Asserts a URL whose password holds `extra`, unencoded, is refused with
/// `says` after the URL (shown without its password), changing nothing.
#[track_caller]
fn refuses_unencoded(db: &TestDb, extra: &str, says: &str) {
    let url = url_with_password_suffix(db, extra);
    let before = snapshot(db);
    let r = locksmith_bare(&["locks", "dump", "--url", &url]);
    r.fails_with(
        2,
        &format!(
            "locksmith: invalid database URL mysql://{}:***@{}/{}: {says}\n",
            user(),
            db.addr(),
            db.name,
        ),
    )
    .no_secret();
    unchanged(db, &before, &r);
}

#[test]
fn url_password_with_unencoded_slash() {
    refuses_unencoded(
        &TestDb::migrated(),
        "/x",
        "an `@` after the host part: the password or user name holds a character that is not percent-encoded; \
         if the password or user name contains @, :, /, ? or #, percent-encode it (%40, %3A, %2F, %3F, %23)",
    );
}

#[test]
fn url_password_with_unencoded_at() {
    refuses_unencoded(
        &TestDb::migrated(),
        "@x",
        "the user name or password holds an `@` that is not percent-encoded; write it as %40 \
         (if the password or user name contains @, :, /, ? or #, percent-encode it (%40, %3A, %2F, %3F, %23))",
    );
}

#[test]
fn url_password_with_unencoded_colon() {
    // RFC 3986 lets a password hold `:`, so the URL is sent as written; the
    // refusal says the `:` may be the mistake.
    let db = TestDb::migrated();
    let url = url_with_password_suffix(&db, ":x");
    let before = snapshot(&db);
    let r = locksmith_bare(&["locks", "dump", "--url", &url]);
    r.fails_like(3, &format!(
        "locksmith: access denied for mysql://<USER>:***@{}/{}: Access denied for user '<USER>'@'<CLIENT>' (using password: YES); the password came from the URL (--url); the password in the URL holds a `:` that is not percent-encoded; if it is not part of the password, fix the URL (a `:` in a password is written %3A)\n\
         hint: check the user name and password (an account created REQUIRE X509 also needs ssl-cert= and ssl-key= in the URL)\n",
        db.addr(),
        db.name
    ))
    .no_secret();
    unchanged(&db, &before, &r);
}

#[test]
fn url_missing_database() {
    let db = TestDb::new();
    let missing = unique_name("missing");
    let url = format!("mysql://{}:{}@{}/{missing}", user(), password(), db.addr());
    let r = locksmith_bare(&["locks", "dump", "--url", &url]);
    r.fails_with(
        5,
        &format!(
            "locksmith: database `{missing}` does not exist on mysql://{}:***@{}/{missing}\n\
             hint: create it first (CREATE DATABASE `{missing}`), or fix the name in the URL\n",
            user(),
            db.addr()
        ),
    )
    .no_secret();
}

#[test]
fn url_with_an_extra_path_segment() {
    let db = TestDb::migrated();
    let url = format!("{}/extra", db.url());
    let before = snapshot(&db);
    let r = locksmith_bare(&["locks", "dump", "--url", &url]);
    r.fails_with(
        2,
        &format!(
            "locksmith: invalid database URL mysql://{user}:***@{addr}/{name}/extra: unexpected path `/{name}/extra`: a URL names one database, as in mysql://user:pass@host:port/db; if the password or user name contains @, :, /, ? or #, percent-encode it (%40, %3A, %2F, %3F, %23)\n",
            user = user(),
            addr = db.addr(),
            name = db.name
        ),
    )
    .no_secret();
    unchanged(&db, &before, &r);
}

#[test]
fn url_host_that_does_not_resolve() {
    let r = locksmith_bare(&[
        "locks",
        "dump",
        "--url",
        "mysql://u:secret-pw@no-such-host.invalid/db",
    ]);
    // The hole is the resolver's own words, which differ between systems.
    r.fails(3).stderr_matches(concat!(
        r"locksmith: cannot connect to mysql://u:\*\*\*@no-such-host\.invalid:3306/db: the host name `no-such-host\.invalid` did not resolve \(.*\)\n",
        r"hint: check the host name in the URL \(and the DNS or /etc/hosts of this machine\)\n",
    ));
    assert!(!r.stderr.contains("secret-pw"), "{r:#?}");
}
