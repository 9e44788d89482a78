//! Where the password comes from (the URL, --password-file,
//! LOCKSMITH_PASSWORD_FILE, MYSQL_PWD, option files), which source wins,
//! `.env`, and that no password ever shows in any output.

use super::*;

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
