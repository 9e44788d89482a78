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
//! backtrace would show.

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

// --------------------------------------------------------------------- TLS

#[test]
fn verify_identity_with_the_right_ca_connects() {
    let (files, room) = (Files::write(), Room::new());
    let db = TestDb::on(tls_server(), 0);
    let ca = files.path("ca.pem");
    let url = with(&db.url(), &format!("ssl-mode=verify_identity&ssl-ca={ca}"));
    let r = room.run(&url, &["--verbose", "migrate", "status"]);
    let line = connected_over_tls(&r);
    r.no_secret();
    eprintln!("verbose TLS line: {line}");
    // By name (DNS:localhost) as well as by address (IP:127.0.0.1).
    let by_name = url.replace("@127.0.0.1:", "@localhost:");
    let r = room.run(&by_name, &["migrate", "status"]);
    status_ok(&r);
    // An ssl-ca alone means verify_ca, as in the mysql client.
    let r = room.run(
        &with(&db.url(), &format!("ssl-ca={ca}")),
        &["migrate", "status", "-v"],
    );
    connected_over_tls(&r);
    // required: TLS, unverified.
    let r = room.run(
        &with(&db.url(), "ssl-mode=required"),
        &["-v", "migrate", "status"],
    );
    connected_over_tls(&r);
    // preferred (the default) takes TLS when the server has it.
    let r = room.run(&db.url(), &["-v", "migrate", "status"]);
    connected_over_tls(&r);
    // disabled: plaintext even so.
    let r = room.run(
        &with(&db.url(), "ssl-mode=disabled"),
        &["-v", "migrate", "status"],
    );
    connected_in_plaintext(&r);
}

#[test]
fn a_certificate_from_another_ca_is_refused() {
    let (files, room) = (Files::write(), Room::new());
    let db = TestDb::on(tls_server(), 0);
    let other = files.path("other-ca.pem");
    for mode in ["verify_identity", "verify_ca"] {
        let url = with(&db.url(), &format!("ssl-mode={mode}&ssl-ca={other}"));
        let r = room.run(&url, &["migrate", "status"]);
        r.fails(3).no_secret();
        assert_eq!(
            r.stderr,
            format!(
                "locksmith: cannot connect to {}: ssl-mode={mode}: the CA did not verify the server's certificate (checked with the CA in ssl-ca={other})\nhint: pass the CA that signed the server's certificate as ssl-ca=PATH\n",
                redacted(&url, password())
            ),
            "{r:#?}"
        );
    }
    // Without ssl-ca: the system's CAs, which know nothing of ours.
    let url = with(&db.url(), "ssl-mode=verify_identity");
    let r = room.run(&url, &["migrate", "status"]);
    r.fails_with(
        3,
        &format!(
            "locksmith: cannot connect to {}: ssl-mode=verify_identity: the CA did not verify the server's certificate (checked with the system's trusted CAs (no ssl-ca given))\n\
             hint: pass the CA that signed the server's certificate as ssl-ca=PATH\n",
            redacted(&url, password())
        ),
    )
    .no_secret();
}

#[test]
fn a_host_name_mismatch_is_refused_by_verify_identity_not_by_verify_ca() {
    let (files, room) = (Files::write(), Room::new());
    // A server of its own, whose certificate names localhost only.
    let server = start_tls("localhost.pem", "localhost-key.pem");
    let db = TestDb::on(&server, 0);
    let ca = files.path("ca.pem");
    let url = with(&db.url(), &format!("ssl-mode=verify_identity&ssl-ca={ca}"));
    let r = room.run(&url, &["migrate", "status"]);
    r.fails(3).no_secret();
    assert_eq!(
        r.stderr,
        format!(
            "locksmith: cannot connect to {}: ssl-mode=verify_identity: the host name did not match: the certificate is for DnsName(\"localhost\"), not `127.0.0.1`\nhint: connect by a name the certificate holds, or use ssl-mode=verify_ca to check the CA only\n",
            redacted(&url, password())
        ),
        "{r:#?}"
    );
    // The same certificate under verify_ca: the chain is all it checks.
    let url = with(&db.url(), &format!("ssl-mode=verify_ca&ssl-ca={ca}"));
    let r = room.run(&url, &["--verbose", "migrate", "status"]);
    connected_over_tls(&r);
    r.no_secret();
    // verify_ca still checks the chain.
    let other = files.path("other-ca.pem");
    let url = with(&db.url(), &format!("ssl-mode=verify_ca&ssl-ca={other}"));
    room.run(&url, &["migrate", "status"]).fails_with(
        3,
        &format!(
            "locksmith: cannot connect to {}: ssl-mode=verify_ca: the CA did not verify the server's certificate (checked with the CA in ssl-ca={other})\n\
             hint: pass the CA that signed the server's certificate as ssl-ca=PATH\n",
            redacted(&url, password())
        ),
    );
    // And by the name it holds, verify_identity connects.
    let url = with(&db.url(), &format!("ssl-mode=verify_identity&ssl-ca={ca}"))
        .replace("@127.0.0.1:", "@localhost:");
    status_ok(&room.run(&url, &["migrate", "status"]));
    drop(db);
}

#[test]
fn a_server_without_tls() {
    let room = Room::new();
    let db = plain_db();
    for mode in ["required", "verify_ca", "verify_identity"] {
        let url = with(&db.url(), &format!("ssl-mode={mode}"));
        let r = room.run(&url, &["migrate", "status"]);
        r.fails(3).no_secret();
        assert_eq!(
            r.stderr,
            format!(
                "locksmith: cannot connect to {}: ssl-mode={mode}, but the server has no TLS (it offers no encrypted connections)\nhint: enable TLS on the server (ssl_cert and ssl_key in its configuration), or use ssl-mode=preferred to allow a plaintext connection\n",
                redacted(&url, password())
            ),
            "{r:#?}"
        );
    }
    // preferred, the default, connects without TLS; so does disabled.
    connected_in_plaintext(&room.run(&db.url(), &["--verbose", "migrate", "status"]));
    let url = with(&db.url(), "ssl-mode=preferred");
    connected_in_plaintext(&room.run(&url, &["--verbose", "migrate", "status"]));
    let url = with(&db.url(), "ssl-mode=disabled");
    connected_in_plaintext(&room.run(&url, &["--verbose", "migrate", "status"]));
}

#[test]
fn an_account_that_requires_ssl() {
    let room = Room::new();
    let db = TestDb::on(tls_server(), 0);
    let acct = Account::create(&db, "ssl", |pw| format!("IDENTIFIED BY '{pw}' REQUIRE SSL"));
    // The default, preferred, uses TLS: it works.
    let r = room.run(&acct.url(""), &["--verbose", "migrate", "status"]);
    connected_over_tls(&r);
    // With TLS turned off the server only says "access denied"; locksmith
    // tells that from a wrong password.
    let url = acct.url("ssl-mode=disabled");
    let r = room.run(&url, &["migrate", "status"]);
    r.fails(3).no_secrets(&[&acct.password]);
    assert_eq!(
        r.stderr,
        format!(
            "locksmith: user `{}` must connect over TLS (the account requires SSL), and ssl-mode=disabled in {} turned TLS off\nhint: drop ssl-mode=disabled (the default, preferred, uses TLS whenever the server offers it)\n",
            acct.name,
            redacted(&url, &acct.password)
        ),
        "{r:#?}"
    );
    assert!(!r.stderr.contains("check the user name and password"));
    // A wrong password is still a wrong password.
    let wrong = random_password();
    let url = url.replace(&acct.password, &wrong);
    let r = room.run(&url, &["migrate", "status"]);
    r.fails_like(3, &account_denied(&acct, &url, &wrong))
        .no_secrets(&[&acct.password, &wrong]);
}

#[test]
fn a_client_certificate_for_an_account_that_requires_x509() {
    let (files, room) = (Files::write(), Room::new());
    let db = TestDb::on(tls_server(), 0);
    let acct = Account::create(&db, "x509", |pw| {
        format!("IDENTIFIED BY '{pw}' REQUIRE X509")
    });
    let (cert, key) = (files.path("client.pem"), files.path("client-key.pem"));
    let url = acct.url(&format!("ssl-cert={cert}&ssl-key={key}"));
    let r = room.run(&url, &["--verbose", "migrate", "status"]);
    connected_over_tls(&r);
    r.no_secrets(&[&acct.password]);
    // Verified both ways.
    let ca = files.path("ca.pem");
    let url = acct.url(&format!(
        "ssl-mode=verify_identity&ssl-ca={ca}&ssl-cert={cert}&ssl-key={key}"
    ));
    status_ok(&room.run(&url, &["migrate", "status"]));
    // Without the certificate the server refuses the account.
    let url = acct.url("");
    let r = room.run(&url, &["migrate", "status"]);
    r.fails(3).no_secrets(&[&acct.password]);
    assert_eq!(
        r.stderr,
        format!(
            "locksmith: access denied for {}: Access denied for user '{}'@'127.0.0.1' (using password: YES); the password came from the URL (DATABASE_URL)\nhint: check the user name and password (an account created REQUIRE X509 also needs ssl-cert= and ssl-key= in the URL)\n",
            redacted(&url, &acct.password),
            acct.name
        ),
        "{r:#?}"
    );
}

#[test]
fn an_ed25519_account_connects() {
    let room = Room::new();
    let db = TestDb::on(tls_server(), 0);
    let acct = Account::create(&db, "ed", |pw| {
        format!("IDENTIFIED VIA ed25519 USING PASSWORD('{pw}')")
    });
    let r = room.run(&acct.url(""), &["--verbose", "migrate", "status"]);
    connected_over_tls(&r);
    r.no_secrets(&[&acct.password]);
    let r = room.run(
        &acct.url("ssl-mode=disabled"),
        &["--verbose", "migrate", "status"],
    );
    connected_in_plaintext(&r);
    r.no_secrets(&[&acct.password]);
    // A wrong password is refused, not a panic.
    let wrong = random_password();
    let url = acct.url("").replace(&acct.password, &wrong);
    let r = room.run(&url, &["migrate", "status"]);
    r.fails_like(3, &account_denied(&acct, &url, &wrong))
        .no_secrets(&[&acct.password, &wrong]);
}

// ------------------------------------------------------------- credentials

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

#[test]
fn each_password_source_works_on_its_own() {
    let db = TestDb::new();
    let bare = url_without_password(&db);
    let pw = password();
    // In the URL.
    let room = Room::new();
    status_ok(&room.run(&db.url(), &["migrate", "status"]));
    // --password-file, before or after the subcommand, its one newline
    // dropped.
    let file = room.file("pw", &format!("{pw}\n"));
    let file = file.to_str().unwrap();
    status_ok(&room.run(&bare, &["--password-file", file, "migrate", "status"]));
    status_ok(&room.run(&bare, &["migrate", "status", "--password-file", file]));
    // LOCKSMITH_PASSWORD_FILE.
    status_ok(&run_command(
        room.cmd(&["migrate", "status"])
            .env("DATABASE_URL", &bare)
            .env("LOCKSMITH_PASSWORD_FILE", file),
    ));
    // MYSQL_PWD.
    status_ok(&run_command(
        room.cmd(&["migrate", "status"])
            .env("DATABASE_URL", &bare)
            .env("MYSQL_PWD", pw),
    ));
    // ~/.my.cnf [client].
    let home = Room::new();
    std::fs::write(
        home.home.path().join(".my.cnf"),
        format!("[mysqld]\npassword=not-this\n[client]\npassword = \"{pw}\"\n"),
    )
    .unwrap();
    status_ok(&home.run(&bare, &["migrate", "status"]));
    // --defaults-file instead, which may give the user as well.
    let cnf = room.file(
        "client.cnf",
        &format!("[client]\nuser={}\npassword={pw}\n", user()),
    );
    let no_user = format!("mysql://{}/{}", db.addr(), db.name);
    status_ok(&room.run(
        &no_user,
        &[
            "--defaults-file",
            cnf.to_str().unwrap(),
            "migrate",
            "status",
        ],
    ));
    // With no source at all, the server is asked without a password.
    let r = Room::new().run(&bare, &["migrate", "status"]);
    r.fails_like(3, &no_password_given(&db)).no_secret();
}

#[test]
fn a_higher_password_source_wins_over_a_lower_one() {
    let db = TestDb::new();
    let bare = url_without_password(&db);
    let (pw, wrong) = (password(), random_password());
    let wrong = wrong.as_str();
    // The sources, highest first.
    #[derive(Clone, Copy, Debug)]
    enum Src {
        Url,
        Flag,
        EnvFile,
        MysqlPwd,
        DefaultsFile,
        MyCnf,
    }
    // The run, and how locksmith names where the first (highest) source's
    // password came from.
    let run = |sources: &[(Src, &str)]| -> (Run, String) {
        let room = Room::new();
        let mut url = bare.clone();
        let mut args: Vec<String> = Vec::new();
        let mut cmd = room.cmd(&[]);
        let mut from = Vec::new();
        for (i, (src, secret)) in sources.iter().enumerate() {
            match src {
                Src::Url => {
                    url = url.replace('@', &format!(":{secret}@"));
                    from.push("the URL (DATABASE_URL)".to_string());
                }
                Src::Flag => {
                    let f = room.file(&format!("flag{i}"), secret);
                    args.extend(["--password-file".into(), f.display().to_string()]);
                    from.push(format!("--password-file {}", f.display()));
                }
                Src::EnvFile => {
                    let f = room.file(&format!("env{i}"), secret);
                    from.push(format!(
                        "the password file {} (LOCKSMITH_PASSWORD_FILE)",
                        f.display()
                    ));
                    cmd.env("LOCKSMITH_PASSWORD_FILE", f);
                }
                Src::MysqlPwd => {
                    cmd.env("MYSQL_PWD", secret);
                    from.push("MYSQL_PWD".into());
                }
                Src::DefaultsFile => {
                    let f = room.file(
                        &format!("d{i}.cnf"),
                        &format!("[client]\npassword={secret}\n"),
                    );
                    args.extend(["--defaults-file".into(), f.display().to_string()]);
                    from.push(format!("the option file {}, line 2", f.display()));
                }
                Src::MyCnf => {
                    let f = room.home.path().join(".my.cnf");
                    std::fs::write(&f, format!("[client]\npassword={secret}\n")).unwrap();
                    from.push(format!("the option file {}, line 2", f.display()));
                }
            }
        }
        args.extend(["migrate".into(), "status".into()]);
        let r = run_command(cmd.args(&args).env("DATABASE_URL", &url));
        (r, from.swap_remove(0))
    };
    use Src::*;
    let pairs = [
        (Url, Flag),
        (Url, MysqlPwd),
        (Flag, EnvFile),
        (Flag, MysqlPwd),
        (EnvFile, MysqlPwd),
        (MysqlPwd, MyCnf),
        (MysqlPwd, DefaultsFile),
        (DefaultsFile, MyCnf),
    ];
    for (high, low) in pairs {
        // The higher one right, the lower one wrong: it works.
        let (r, _) = run(&[(high, pw), (low, wrong)]);
        assert_eq!(r.code, 0, "{high:?} over {low:?}: {r:#?}");
        status_ok(&r);
        r.no_secrets(&[wrong]);
        // The higher one wrong, the lower one right: refused, naming the
        // higher one as the one used.
        let (r, from) = run(&[(high, wrong), (low, pw)]);
        assert_eq!(r.code, 3, "{high:?} wrong over {low:?} right: {r:#?}");
        denied(&r, &db, &from, &[wrong]);
    }
}

#[test]
fn dotenv_supplies_the_url_but_never_overrides_the_environment() {
    let db = TestDb::new();
    let room = Room::new();
    let missing = unique_name("nodb");
    let elsewhere = db.url().replace(&db.name, &missing);
    // .env alone.
    room.file(
        ".env",
        &format!("# for locksmith\nDATABASE_URL={}\n", db.url()),
    );
    status_ok(&run_command(&mut room.cmd(&["migrate", "status"])));
    // An empty DATABASE_URL in the environment counts as none.
    status_ok(&run_command(
        room.cmd(&["migrate", "status"]).env("DATABASE_URL", ""),
    ));
    // The environment's wins: it names a database that does not exist.
    let r = room.run(&elsewhere, &["migrate", "status"]);
    r.fails(5).no_secret();
    assert_eq!(
        r.stderr,
        format!(
            "locksmith: database `{missing}` does not exist on {}\nhint: create it first (CREATE DATABASE `{missing}`), or fix the name in the URL\n",
            redacted(&elsewhere, password())
        ),
        "{r:#?}"
    );
    // And the other way round.
    room.file(".env", &format!("DATABASE_URL={elsewhere}\n"));
    status_ok(&room.run(&db.url(), &["migrate", "status"]));
    // Only DATABASE_URL and LOCKSMITH_*: a MYSQL_PWD in .env is ignored,
    // a LOCKSMITH_PASSWORD_FILE is used.
    let bare = url_without_password(&db);
    room.file(
        ".env",
        &format!("DATABASE_URL={bare}\nMYSQL_PWD={}\n", password()),
    );
    let r = run_command(&mut room.cmd(&["migrate", "status"]));
    r.fails_like(3, &no_password_given(&db)).no_secret();
    let pwf = room.file("pw", password());
    room.file(
        ".env",
        &format!(
            "DATABASE_URL={bare}\nLOCKSMITH_PASSWORD_FILE={}\n",
            pwf.display()
        ),
    );
    status_ok(&run_command(&mut room.cmd(&["migrate", "status"])));
    // A .env the program cannot read is an error, not silence.
    room.file(".env", "DATABASE_URL='unterminated\n");
    let r = room.run(&db.url(), &["migrate", "status"]);
    r.fails_with(
        2,
        "locksmith: cannot read ./.env: line 1: a quote opened there is not closed (the line is not shown: it may hold a password)\n",
    )
    .no_secret();
}

#[test]
fn no_password_in_any_output() {
    let db = TestDb::new();
    let room = Room::new();
    let pw = password();
    let wrong = random_password();
    let wrong_url = db.url().replace(pw, &wrong);
    // A wrong password in the URL.
    let r = room.run(&wrong_url, &["--verbose", "migrate", "status"]);
    denied(&r, &db, "the URL (DATABASE_URL)", &[&wrong]);
    assert!(r.stderr.contains(&redacted(&wrong_url, &wrong)), "{r:#?}");
    // The same given with --url, before and after the subcommand.
    denied(
        &run_command(&mut room.cmd(&["--url", &wrong_url, "migrate", "status"])),
        &db,
        "the URL (--url)",
        &[&wrong],
    );
    denied(
        &run_command(&mut room.cmd(&["locks", "dump", "--url", &wrong_url])),
        &db,
        "the URL (--url)",
        &[&wrong],
    );
    // A wrong one from each other source.
    let f = room.file("wrong", &wrong);
    let bare = url_without_password(&db);
    denied(
        &room.run(
            &bare,
            &["migrate", "status", "--password-file", f.to_str().unwrap()],
        ),
        &db,
        &format!("--password-file {}", f.display()),
        &[&wrong],
    );
    denied(
        &run_command(
            room.cmd(&["migrate", "status"])
                .env("DATABASE_URL", &bare)
                .env("MYSQL_PWD", &wrong),
        ),
        &db,
        "MYSQL_PWD",
        &[&wrong],
    );
    // The right password, with errors after connecting: no database, no
    // table; and success, verbose.
    let nodb = unique_name("nodb");
    let missing = db.url().replace(&db.name, &nodb);
    room.run(&missing, &["migrate", "status"])
        .fails_with(5, &no_database(&nodb, &missing))
        .no_secret();
    room.run(&db.url(), &["locks", "dump"])
        .fails_with(
            5,
            "locksmith: table `locks` does not exist\nhint: run `locksmith migrate up` first\n",
        )
        .no_secret();
    connected_in_plaintext_or_tls(&room.run(&db.url(), &["-v", "migrate", "status"]));
    // A server that is not there.
    let gone = format!("mysql://{}:{wrong}@127.0.0.1:1/{}", user(), db.name);
    let r = room.run(&gone, &["migrate", "status", "--timeout", "2s"]);
    // The hole is the OS's word for the refusal.
    r.fails(3).no_secrets(&[&wrong]).stderr_matches(&format!(
        "locksmith: cannot connect to mysql://{}:\\*\\*\\*@127\\.0\\.0\\.1:1/{}: .*\n\
         hint: is the server running and listening on that host and port\\?\n",
        user(),
        db.name
    ));
    // URLs that do not parse, with the password in the user part: each
    // shown without it, and what is wrong with it.
    let (u, addr, name) = (user(), db.addr(), db.name.clone());
    let encode = "if the password or user name contains @, :, /, ? or #, percent-encode it (%40, %3A, %2F, %3F, %23)";
    for (url, says) in [
        (
            format!("mysql://{u}:{wrong}@{addr}"),
            format!("mysql://{u}:***@{addr}: no database name; use mysql://user:pass@host:port/db"),
        ),
        (
            format!("mysql://{u}:{wrong}@{addr}/{name}/x"),
            format!("mysql://{u}:***@{addr}/{name}/x: unexpected path `/{name}/x`: a URL names one database, as in mysql://user:pass@host:port/db; {encode}"),
        ),
        (
            format!("mysql://{u}:{wrong}@[::1/{name}"),
            format!("mysql://{u}:***@[::1/{name}: `[::1`: an IPv6 address needs its closing `]`"),
        ),
        (
            format!("mysql://{u}:{wrong}/{name}"),
            format!("mysql://{u}:***/{name}: invalid port in the host part, or a password without `@host`; {encode}"),
        ),
        (
            format!("postgres://{u}:{wrong}@{addr}/{name}"),
            format!("postgres://{u}:***@{addr}/{name}: unsupported scheme `postgres`; use mysql://user:pass@host:port/db"),
        ),
        (
            format!("{wrong_url}?ssl-mode=bogus"),
            format!("mysql://{u}:***@{addr}/{name}?ssl-mode=***: unknown ssl-mode value; use disabled, preferred, required, verify_ca or verify_identity"),
        ),
        (
            format!("{wrong_url}?sslmode=require"),
            format!("mysql://{u}:***@{addr}/{name}?sslmode=***: unknown parameter `sslmode`: locksmith spells it ssl-mode=required (disabled|preferred|required|verify_ca|verify_identity) (it understands: socket, password, ssl-mode, ssl-ca, ssl-cert, ssl-key)"),
        ),
    ] {
        let r = room.run(&url, &["migrate", "status"]);
        r.fails_with(2, &format!("locksmith: invalid database URL {says}\n"))
            .no_secrets(&[&wrong]);
    }
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

#[test]

fn no_password_from_the_query_in_a_url_that_does_not_parse() {
    let db = TestDb::new();
    let room = Room::new();
    let wrong = random_password();
    let bare = url_without_password(&db);
    let (addr, name) = (db.addr(), &db.name);
    for (url, says) in [
        (
            format!("{bare}?password={wrong}&foo=bar"),
            format!("mysql://***@{addr}/{name}?password=***&foo=***: unknown parameter `foo` (locksmith understands: socket, password, ssl-mode, ssl-ca, ssl-cert, ssl-key)"),
        ),
        (
            format!("{bare}?password={wrong}&ssl-mode=bogus"),
            format!("mysql://***@{addr}/{name}?password=***&ssl-mode=***: unknown ssl-mode value; use disabled, preferred, required, verify_ca or verify_identity"),
        ),
        (
            format!("mysql://{}@{addr}?password={wrong}", user()),
            format!("mysql://***@{addr}?password=***: no database name; use mysql://user:pass@host:port/db"),
        ),
    ] {
        let r = room.run(&url, &["migrate", "status"]);
        r.fails_with(2, &format!("locksmith: invalid database URL {says}\n"))
            .no_secrets(&[&wrong]);
    }
}

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

// ------------------------------------------------------------ --wait-for-db

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

// ------------------------------------------------------------ help and shell
//
// Help, completions and the man page are prose generated by clap, open-ended
// by nature: these tests look for what must be in them (or where), through
// `succeeds_where`, rather than pin every word.

#[test]
fn completions_and_man_page() {
    for (shell, marker) in [
        ("bash", "complete -F _locksmith"),
        ("zsh", "#compdef locksmith"),
        ("fish", "complete -c locksmith"),
    ] {
        locksmith_bare(&["completions", shell]).succeeds_where(|script| {
            assert!(script.len() > 1000, "{shell}: {script}");
            assert!(script.contains(marker), "{shell}: lacks {marker:?}");
            // Subcommands and connection flags are completed.
            for word in [
                "force-release",
                "mark-applied",
                "wait-for-db",
                "password-file",
            ] {
                assert!(script.contains(word), "{shell}: lacks {word}");
            }
        });
    }
    locksmith_bare(&["man"]).succeeds_where(|page| {
        assert!(page.contains("\n.TH locksmith 1"), "{page}");
        assert!(page.contains(".SH NAME"), "{page}");
        assert!(page.contains("\\-\\-password\\-file"), "{page}");
    });
    // Neither needs a database, and a bad URL in the environment does not
    // matter to them.
    let bash = locksmith_bare(&["completions", "bash"]).stdout;
    run_command(
        Command::new(bin())
            .args(["completions", "bash"])
            .env("DATABASE_URL", "not a url"),
    )
    .succeeds_with(&bash);
}

/// Every subcommand's path, e.g. `["locks", "force-release"]`, depth first.
fn subcommand_paths() -> Vec<Vec<String>> {
    use clap::CommandFactory;
    fn walk(cmd: &clap::Command, path: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
        for sub in cmd.get_subcommands() {
            path.push(sub.get_name().to_string());
            out.push(path.clone());
            walk(sub, path, out);
            path.pop();
        }
    }
    let mut out = Vec::new();
    walk(&locksmith::cli::Cli::command(), &mut Vec::new(), &mut out);
    out
}

#[test]
fn every_subcommand_help_ends_with_examples() {
    let paths = subcommand_paths();
    assert!(paths.len() >= 15, "{paths:?}");
    for path in &paths {
        let mut args: Vec<&str> = path.iter().map(String::as_str).collect();
        args.push("--help");
        locksmith_bare(&args).succeeds_where(|help| {
            let (_, examples) = help
                .rsplit_once("\nExamples:\n")
                .unwrap_or_else(|| panic!("{path:?}: no Examples: section: {help}"));
            let lines: Vec<&str> = examples.lines().collect();
            assert!(lines.len() >= 2, "{path:?}: {lines:?}");
            for line in &lines {
                assert!(
                    line.starts_with("  locksmith "),
                    "{path:?}: not an example at the end: {line:?}"
                );
            }
            // Each example is a command of this subcommand.
            let this = format!("  locksmith {}", path.join(" "));
            assert!(
                lines.iter().any(|l| l.starts_with(&this)),
                "{path:?}: no example of it: {lines:?}"
            );
        });
    }
}

#[test]
fn help_details() {
    // migrate status takes no migration guard, so offers no --lock-timeout
    // (--timeout's text names it, as a deadline of other commands).
    let offers = |help: &str, flag: &str| help.lines().any(|l| l.trim_start().starts_with(flag));
    locksmith_bare(&["migrate", "status", "--help"]).succeeds_where(|help| {
        assert!(!offers(help, "--lock-timeout"), "{help}");
        assert!(!offers(help, "--lease-ttl"), "{help}");
        assert!(offers(help, "--timeout <DURATION>"), "{help}");
    });
    locksmith_bare(&["migrate", "up", "--help"]).succeeds_where(|help| {
        assert!(offers(help, "--lock-timeout <DURATION>"), "{help}");
    });
    // force-release names the row first, in every form of its usage.
    locksmith_bare(&["locks", "force-release", "--help"]).succeeds_where(|help| {
        let usage: Vec<&str> = help
            .lines()
            .skip_while(|l| !l.starts_with("Usage:"))
            .take_while(|l| !l.is_empty())
            .collect();
        assert_eq!(usage.len(), 3, "{usage:?}");
        assert!(usage[0].contains("<ROW> <NAMES>..."), "{usage:?}");
        for line in &usage {
            let row = line.find("<ROW>").unwrap_or_else(|| panic!("{line:?}"));
            for other in ["<NAMES>", "--holder", "--all"] {
                if let Some(at) = line.find(other) {
                    assert!(row < at, "{other} before <ROW>: {line:?}");
                }
            }
        }
    });
    // The connection options show up under their own heading, in every
    // subcommand that connects.
    locksmith_bare(&["locks", "dump", "--help"]).succeeds_where(|help| {
        for part in [
            "Connection:",
            "--url <URL>",
            "--password-file <PATH>",
            "--wait-for-db <DURATION>",
        ] {
            assert!(help.contains(part), "lacks {part:?}: {help}");
        }
    });
}

#[test]
fn a_url_typed_without_url_is_not_echoed_with_its_password() {
    let r = locksmith_bare(&["migrate", "status", "mysql://app:Sekret-77@db.example/app"]);
    r.fails_with(
        2,
        "locksmith: unexpected argument 'mysql://app:***@db.example/app' found\n\n\
         Usage: locksmith migrate status [OPTIONS]\n\n\
         For more information, try '--help'.\n",
    );
    assert!(!r.stderr.contains("Sekret-77"), "{r:#?}");
}
