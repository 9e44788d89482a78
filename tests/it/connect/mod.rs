//! Connections and conventions (issue 12), against real servers only: TLS
//! in each `ssl-mode` against a server with TLS (certificates made here, at
//! run time) and one without, accounts that require SSL, a client
//! certificate or ed25519, where the password comes from and in which
//! order, `.env`, connection flags before and after the subcommand,
//! `--wait-for-db`, and the shell and help documents.
//!
//! Every `locksmith` here runs in a clean room ([`Room`]): no
//! `DATABASE_URL`, password variable or option file of this machine
//! reaches it, `HOME` and the working directory are empty temp dirs, and
//! `RUST_BACKTRACE=1`, so that a password leaking through a panic or a
//! backtrace would show. This module holds what the topics share: the
//! status of a fresh database, what a connection says with `--verbose`,
//! accounts of a test's own, and the refusals a wrong password or a
//! missing database get.

mod credentials;
mod flags;
mod help;
mod tls;

use crate::harness::*;
use crate::room::{random_password, redacted, Room};
use crate::tls_pki::{start_tls, tls_server, Files};
use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// `migrate status` on an empty database: what every connection test runs.
pub(crate) const STATUS_FRESH: &str = "\
+-----------------------------------------------------------+
| VERSION   NAME                       STATE     APPLIED ON |
+===========================================================+
| 1         locks_create_table         pending   -          |
| 2         locks_audit_create_table   pending   -          |
| 3         holder_liveness            pending   -          |
+-----------------------------------------------------------+
";

/// A database on a server without TLS: the shared server, when the
/// harness started it (one given by LOCKSMITH_TEST_DATABASE_URL may have
/// TLS), else a plain throwaway of this binary's own.
fn plain_db() -> TestDb {
    static PLAIN: OnceLock<Throwaway> = OnceLock::new();
    if own_server() {
        TestDb::new()
    } else {
        TestDb::on(PLAIN.get_or_init(|| Throwaway::start(1, &[])), 0)
    }
}

/// Asserts success with `migrate status` on a fresh database, and that
/// every line on stderr is `--verbose`'s, over TLS: returns the first.
#[track_caller]
pub(crate) fn connected_over_tls(r: &Run) -> String {
    assert_eq!(r.code, 0, "{r:#?}");
    r.stdout_is(STATUS_FRESH);
    let re = regex::Regex::new(
        r"^locksmith: connected to 127\.0\.0\.1:\d+ \(MariaDB \d+\.\d+\.\d+\) over TLS: TLSv1\.[23], \S+$",
    )
    .unwrap();
    assert!(!r.stderr.is_empty(), "no --verbose line: {r:#?}");
    for line in r.stderr.lines() {
        assert!(re.is_match(line), "not a TLS line: {line:?} in {r:#?}");
    }
    r.stderr.lines().next().unwrap().to_string()
}

/// The same, without TLS.
#[track_caller]
pub(crate) fn connected_in_plaintext(r: &Run) {
    assert_eq!(r.code, 0, "{r:#?}");
    r.stdout_is(STATUS_FRESH);
    let re =
        regex::Regex::new(r"^locksmith: connected to \S+ \(MariaDB \d+\.\d+\.\d+\) without TLS$")
            .unwrap();
    assert!(!r.stderr.is_empty(), "no --verbose line: {r:#?}");
    for line in r.stderr.lines() {
        assert!(
            re.is_match(line),
            "not a plaintext line: {line:?} in {r:#?}"
        );
    }
}

/// Asserts `migrate status` on a fresh database worked, quietly.
#[track_caller]
fn status_ok(r: &Run) {
    r.succeeds_with(STATUS_FRESH);
}

/// An account of one test, on a test database's server, allowed on that
/// database only; dropped with the value (and named so that the harness's
/// reaper drops it should the test die first).
pub(crate) struct Account<'a> {
    db: &'a TestDb,
    name: String,
    password: String,
}

impl<'a> Account<'a> {
    /// `CREATE USER name@'%' <how(password)>`.
    pub(crate) fn create(db: &'a TestDb, what: &str, how: impl Fn(&str) -> String) -> Account<'a> {
        let (name, password) = (unique_name(what), random_password());
        db.admin_sql(&format!(
            "CREATE USER '{name}'@'%' {}; GRANT ALL ON `{}`.* TO '{name}'@'%'",
            how(&password),
            db.name
        ));
        Account { db, name, password }
    }

    /// Its URL for the database, with these query parameters ("" for none).
    pub(crate) fn url(&self, params: &str) -> String {
        let q = if params.is_empty() { "" } else { "?" };
        format!(
            "mysql://{}:{}@{}/{}{q}{params}",
            self.name,
            self.password,
            self.db.addr(),
            self.db.name
        )
    }
}

impl Drop for Account<'_> {
    fn drop(&mut self) {
        self.db
            .admin_sql(&format!("DROP USER IF EXISTS '{}'@'%'", self.name));
    }
}

/// What a refused password for an account of the test's own says (the
/// URL, from DATABASE_URL, holding `password`; the server's client host
/// normalised).
fn account_denied(acct: &Account, url: &str, password: &str) -> String {
    format!(
        "locksmith: access denied for {}: Access denied for user '{}'@'<CLIENT>' (using password: YES); the password came from the URL (DATABASE_URL)\n\
         hint: check the user name and password (an account created REQUIRE X509 also needs ssl-cert= and ssl-key= in the URL)\n",
        redacted(url, password),
        acct.name
    )
}

/// `url` with these query parameters.
fn with(url: &str, params: &str) -> String {
    format!("{url}?{params}")
}

/// The URL of the test account without its password.
fn url_without_password(db: &TestDb) -> String {
    format!("mysql://{}@{}/{}", user(), db.addr(), db.name)
}

/// Asserts the run was refused the password it was given, which came
/// from `from` (`MYSQL_PWD`, `--password-file PATH`, …).
#[track_caller]
fn denied(r: &Run, db: &TestDb, from: &str, secrets: &[&str]) {
    r.fails_like(
        3,
        &format!(
            "locksmith: access denied for mysql://<USER>:***@{}/{}: Access denied for user '<USER>'@'<CLIENT>' (using password: YES); the password came from {from}\n\
             hint: check the user name and password (an account created REQUIRE X509 also needs ssl-cert= and ssl-key= in the URL)\n",
            db.addr(),
            db.name
        ),
    )
    .no_secret()
    .no_secrets(secrets);
}

/// What a run that gave no password at all is told.
fn no_password_given(db: &TestDb) -> String {
    format!(
        "locksmith: access denied for mysql://<USER>@{}/{}: Access denied for user '<USER>'@'<CLIENT>' (using password: NO); no password was given (none in the URL, --password-file, MYSQL_PWD or an option file's [client])\n\
         hint: check the user name and password (an account created REQUIRE X509 also needs ssl-cert= and ssl-key= in the URL)\n",
        db.addr(),
        db.name
    )
}

/// What a URL naming a database that does not exist is told.
fn no_database(name: &str, url: &str) -> String {
    format!(
        "locksmith: database `{name}` does not exist on {}\n\
         hint: create it first (CREATE DATABASE `{name}`), or fix the name in the URL\n",
        redacted(url, password())
    )
}

/// Success with `--verbose`, either way (the shared server may have TLS
/// when it is not the harness's own).
#[track_caller]
fn connected_in_plaintext_or_tls(r: &Run) {
    if r.stderr.contains("over TLS") {
        connected_over_tls(r);
    } else {
        connected_in_plaintext(r);
    }
    r.no_secret();
}
