//! No secret in any output (issue 15, class 2), and no repeated URL
//! parameter (class 7): a table of inputs, each carrying a distinctive
//! secret of its own, given every way locksmith takes one (`--url`,
//! `DATABASE_URL`, `./.env`, option files, password files, `MYSQL_PWD`,
//! stray positional arguments), several variants each. Each run's exit
//! status and stderr are checked (all of it, but for the server's words
//! in an access denied), stdout is empty, and no run of 4 characters of
//! the secret appears in either ([`hides`]).
//!
//! The inputs that parse go to the real server with a wrong password:
//! access denied, which says where the password came from.

use crate::harness::*;
use crate::room::{hides, Room};

/// How the secret is given (`SECRET` in each text stands for it; `BARE`
/// for the test account's URL without a password, `ADDR` and `DB` for its
/// parts, `HOME` and `CWD` for the room's directories).
enum Way {
    /// `--url VALUE migrate status`.
    Url(&'static str),
    /// `DATABASE_URL=VALUE migrate status`.
    Env(&'static str),
    /// This `./.env`; `migrate status` and nothing else.
    DotEnv(&'static str),
    /// This `~/.my.cnf`, and `DATABASE_URL=BARE`.
    MyCnf(&'static str),
    /// `--defaults-file CWD/main.cnf` with this text, which may include
    /// `CWD/inc.cnf` with the second; `DATABASE_URL=BARE`.
    Defaults(&'static str, &'static str),
    /// `--password-file CWD/pw` holding these bytes; `DATABASE_URL=BARE`.
    PasswordFile(&'static [u8]),
    /// `LOCKSMITH_PASSWORD_FILE=CWD/pw` holding this; `DATABASE_URL=BARE`.
    PasswordFileEnv(&'static str),
    /// `MYSQL_PWD=VALUE`; `DATABASE_URL=BARE`.
    MysqlPwd(&'static str),
    /// These arguments (split as given, no shell), `DATABASE_URL=BARE`.
    Args(&'static [&'static str]),
}

/// What stderr must be (with the same stand-ins).
enum Says {
    /// All of it.
    Exactly(&'static str),
    /// Access denied, the password having come from this: the server's
    /// own words name the client's host, so the rest is checked around
    /// them.
    DeniedFrom(&'static str),
}

struct Case {
    what: &'static str,
    secret: &'static str,
    way: Way,
    code: i32,
    says: Says,
}

const fn case(what: &'static str, secret: &'static str, way: Way, code: i32, says: Says) -> Case {
    Case {
        what,
        secret,
        way,
        code,
        says,
    }
}

use Says::*;
use Way::*;

/// Every way, several variants each.
const CASES: &[Case] = &[
    // ---- URL parameters: an unknown one by its name only, whatever it is.
    case("misspelt ?pasword=", "Kq7Vx2Lw9Zp", Url("BARE?pasword=SECRET"), 2, Exactly(
        "locksmith: invalid database URL mysql://***@ADDR/DB?pasword=***: unknown parameter `pasword` (locksmith understands: socket, password, ssl-mode, ssl-ca, ssl-cert, ssl-key)\n")),
    case("?pwd=", "Jt4Rm8Qc1Xy", Url("BARE?pwd=SECRET"), 2, Exactly(
        "locksmith: invalid database URL mysql://***@ADDR/DB?pwd=***: unknown parameter `pwd` (locksmith understands: socket, password, ssl-mode, ssl-ca, ssl-cert, ssl-key)\n")),
    case("?Password= (case)", "Hn5Bv3Wz7Ke", Url("BARE?Password=SECRET"), 2, Exactly(
        "locksmith: invalid database URL mysql://***@ADDR/DB?Password=***: unknown parameter `Password` (locksmith understands: socket, password, ssl-mode, ssl-ca, ssl-cert, ssl-key)\n")),
    case("?pass= after a valid parameter", "Gd2Yp6Nt4Ua", Url("BARE?ssl-mode=disabled&pass=SECRET"), 2, Exactly(
        "locksmith: invalid database URL mysql://***@ADDR/DB?ssl-mode=disabled&pass=***: unknown parameter `pass`: locksmith spells it password= (or better, --password-file) (it understands: socket, password, ssl-mode, ssl-ca, ssl-cert, ssl-key)\n")),
    case("?passwd:SECRET, no `=`", "Fc8Lq1Ms5Rb", Url("BARE?passwd:SECRET"), 2, Exactly(
        "locksmith: invalid database URL mysql://***@ADDR/DB?***: an unknown parameter, not shown as it is not a plain name (locksmith understands: socket, password, ssl-mode, ssl-ca, ssl-cert, ssl-key)\n")),
    case("the password as ssl-mode's value", "Ew3Zk9Pd2Vh", Url("BARE?ssl-mode=SECRET"), 2, Exactly(
        "locksmith: invalid database URL mysql://***@ADDR/DB?ssl-mode=***: unknown ssl-mode value; use disabled, preferred, required, verify_ca or verify_identity\n")),
    case("?password= twice", "Dv6Xn2Ja8Qm", Url("BARE?password=SECRET&password=SECRETx"), 2, Exactly(
        "locksmith: invalid database URL mysql://***@ADDR/DB?password=***&password=***: parameter `password` is given twice; give each parameter once\n")),
    case("a password before the @ and as ?password=", "Cs1Wb7Kr3Ty", Url("mysql://USER:SECRET@ADDR/DB?password=SECRET"), 2, Exactly(
        "locksmith: invalid database URL mysql://USER:***@ADDR/DB?password=***: the password is given twice, before the `@` and as ?password=; give it once\n")),
    // ---- A password holding what ends its part of the URL: all of it goes.
    case("an unencoded @", "Br9Ue4Hx@Lk2", Url("mysql://USER:SECRET@ADDR/DB"), 2, Exactly(
        "locksmith: invalid database URL mysql://USER:***@ADDR/DB: the user name or password holds an `@` that is not percent-encoded; write it as %40 (if the password or user name contains @, :, /, ? or #, percent-encode it (%40, %3A, %2F, %3F, %23))\n")),
    case("two unencoded @", "Aq3@Zt8Wd@Nm5", Env("mysql://USER:SECRET@ADDR/DB"), 2, Exactly(
        "locksmith: invalid database URL mysql://USER:***@ADDR/DB: the user name or password holds an `@` that is not percent-encoded; write it as %40 (if the password or user name contains @, :, /, ? or #, percent-encode it (%40, %3A, %2F, %3F, %23))\n")),
    case("an unencoded /", "Zp5Kc/Vr1Ws", Url("mysql://USER:SECRET@ADDR/DB"), 2, Exactly(
        "locksmith: invalid database URL mysql://USER:***@ADDR/DB: an `@` after the host part: the password or user name holds a character that is not percent-encoded; if the password or user name contains @, :, /, ? or #, percent-encode it (%40, %3A, %2F, %3F, %23)\n")),
    case("an unencoded ? and &", "Yn2Qa?Lb7&Xe", Env("mysql://USER:SECRET@ADDR/DB"), 2, Exactly(
        "locksmith: invalid database URL mysql://USER:***@ADDR/DB: an `@` after the host part: the password or user name holds a character that is not percent-encoded; if the password or user name contains @, :, /, ? or #, percent-encode it (%40, %3A, %2F, %3F, %23)\n")),
    case("an unencoded #", "Xm8Rj#Pc4Tf", Url("mysql://USER:SECRET@ADDR/DB"), 2, Exactly(
        "locksmith: invalid database URL mysql://USER:***@ADDR/DB: a URL has no `#` part; if the password or user name contains @, :, /, ? or #, percent-encode it (%40, %3A, %2F, %3F, %23)\n")),
    case("@ / ? together", "Wl1@Gs6/Dz?Hk", Url("mysql://USER:SECRET@ADDR/DB?ssl-mode=disabled"), 2, Exactly(
        "locksmith: invalid database URL mysql://USER:***@ADDR/DB?ssl-mode=disabled: an `@` after the host part: the password or user name holds a character that is not percent-encoded; if the password or user name contains @, :, /, ? or #, percent-encode it (%40, %3A, %2F, %3F, %23)\n")),
    case("no @host after the password", "Vk4Ny9Bq3Jr", Url("mysql://USER:SECRET/DB"), 2, Exactly(
        "locksmith: invalid database URL mysql://USER:***/DB: invalid port in the host part, or a password without `@host`; if the password or user name contains @, :, /, ? or #, percent-encode it (%40, %3A, %2F, %3F, %23)\n")),
    // ---- URLs that parse: the server says no, and where the password came from is said.
    case("a space and a `:` in --url", "Uj7 Mc2:Fw6", Url("mysql://USER:SECRET@ADDR/DB"), 3,
        DeniedFrom("the URL (--url); the password in the URL holds a `:` that is not percent-encoded; if it is not part of the password, fix the URL (a `:` in a password is written %3A)")),
    case("percent-encoded, in DATABASE_URL", "Th3%40Ld8%2FSx", Env("mysql://USER:SECRET@ADDR/DB"), 3, DeniedFrom("the URL (DATABASE_URL)")),
    case("?password= in DATABASE_URL", "Sg6Pe1Kv9Qn", Env("BARE?password=SECRET"), 3, DeniedFrom("the URL's ?password= (DATABASE_URL)")),
    // ---- ./.env: a line that does not parse by its number only.
    case(".env: a value with spaces", "Rf2Od7Jm4Wc", DotEnv("# the app\nDATABASE_URL=mysql://USER:SECRET@ADDR/DB x y\n"), 2, Exactly(
        "locksmith: cannot read ./.env: line 2 is not KEY=VALUE (or holds an unclosed quote or `${`) (the line is not shown: it may hold a password)\n")),
    case(".env: not KEY=VALUE at all", "Qe9Nc3Hl8Vb", DotEnv("A=1\n\nSECRET\n"), 2, Exactly(
        "locksmith: cannot read ./.env: line 3 is not KEY=VALUE (or holds an unclosed quote or `${`) (the line is not shown: it may hold a password)\n")),
    case(".env: an unclosed quote", "Pd1Mb6Gk2Ua", DotEnv("DATABASE_URL=BARE\nLOCKSMITH_X='SECRET\nB=2\n"), 2, Exactly(
        "locksmith: cannot read ./.env: line 2: a quote opened there is not closed (the line is not shown: it may hold a password)\n")),
    case(".env: a bad escape", "Oc5La9Fj3Tz", DotEnv("DATABASE_URL=\"mysql://USER:SECRET\\q@ADDR/DB\"\n"), 2, Exactly(
        "locksmith: cannot read ./.env: line 1 is not KEY=VALUE (or holds an unclosed quote or `${`) (the line is not shown: it may hold a password)\n")),
    case(".env: a misspelt parameter", "Nb8Kz2Ei6Sy", DotEnv("DATABASE_URL=BARE?pasword=SECRET\n"), 2, Exactly(
        "locksmith: invalid database URL mysql://***@ADDR/DB?pasword=***: unknown parameter `pasword` (locksmith understands: socket, password, ssl-mode, ssl-ca, ssl-cert, ssl-key)\n")),
    case(".env: a wrong password", "Ma4Jy8Dh1Rx", DotEnv("DATABASE_URL=mysql://USER:SECRET@ADDR/DB\n"), 3, DeniedFrom("the URL (DATABASE_URL of ./.env)")),
    // ---- Option files: errors by file and line; a wrong password by where it is.
    case("~/.my.cnf: a password before any group", "Lz7Ix3Cg5Qw", MyCnf("password=SECRET\n[client]\n"), 2, Exactly(
        "locksmith: option file HOME/.my.cnf, line 1: an option before any [group] (the mysql client refuses it too); put it under [client]\n")),
    case("~/.my.cnf: an unclosed group", "Ky2Hw6Bf9Pv", MyCnf("[client\npassword=SECRET\n"), 2, Exactly(
        "locksmith: option file HOME/.my.cnf, line 1: a [group] line without its closing `]` (the mysql client refuses it too)\n")),
    case("~/.my.cnf: the password as the port", "Jx5Gv1Ae4Ou", MyCnf("[client]\nport = SECRET\n"), 2, Exactly(
        "locksmith: option file HOME/.my.cnf, line 2: `port` is not a port number (1 to 65535)\n")),
    case("~/.my.cnf: a wrong password", "Iw8Fu4Zd7Nt", MyCnf("[client]\n# ours\npassword = \"SECRET\"\n"), 3, DeniedFrom("the option file HOME/.my.cnf, line 3")),
    case("--defaults-file: a wrong password behind !include", "Hv1Et7Yc2Ms",
        Defaults("[client]\n!include CWD/inc.cnf\n", "[mysql]\nuser=x\n[client]\npassword=SECRET\n"), 3, DeniedFrom("the option file CWD/inc.cnf, line 4")),
    case("--defaults-file: an included file's option before any group", "Gu4Ds1Xb5Lr",
        Defaults("[client]\n!include CWD/inc.cnf\n", "password=SECRET\n"), 2, Exactly(
        "locksmith: option file CWD/inc.cnf, line 1: an option before any [group] (the mysql client refuses it too); put it under [client]\n")),
    // ---- Password files and MYSQL_PWD.
    case("--password-file: wrong", "Ft7Cr4Wa8Kq", PasswordFile(b"SECRET\n"), 3, DeniedFrom("--password-file CWD/pw")),
    case("--password-file: two lines", "Es1Bq7Vz3Jp", PasswordFile(b"SECRET\nSECRET\n"), 3, DeniedFrom("--password-file CWD/pw")),
    case("--password-file: not UTF-8", "Dr4Ap1Uy6Io", PasswordFile(b"SECRET\xff\xfe\n"), 2, Exactly(
        "locksmith: --password-file CWD/pw: the file is not UTF-8 text\n")),
    case("LOCKSMITH_PASSWORD_FILE: wrong", "Cq7Zo4Tx9Hn", PasswordFileEnv("SECRET"), 3, DeniedFrom("the password file CWD/pw (LOCKSMITH_PASSWORD_FILE)")),
    case("MYSQL_PWD: wrong", "Bp2Yn8Sw5Gm", MysqlPwd("SECRET"), 3, DeniedFrom("MYSQL_PWD")),
    // ---- Stray arguments.
    case("a URL without --url", "Ao5Xm2Rv8Fl", Args(&["migrate", "status", "mysql://USER:SECRET@ADDR/DB"]), 2, Exactly(
        "locksmith: unexpected argument 'mysql://USER:***@ADDR/DB' found\n\nUsage: locksmith migrate status [OPTIONS]\n\nFor more information, try '--help'.\n")),
    case("a URL taken for a row", "Zn8Wl5Qu1Ek", Args(&["locks", "dump", "mysql://USER:SECRET@ADDR/DB"]), 2, Exactly(
        "locksmith: argument 3 looks like a database URL with its password, outside --url; it is not shown, and nothing was done\nhint: give the URL with --url, or better in DATABASE_URL with the password in --password-file\n")),
    case("a URL taken for a holder", "Ym1Vk8Pt4Dj", Args(&["locks", "acquire", "r", "n", "--holder", "mysql://USER:SECRET@ADDR/DB"]), 2, Exactly(
        "locksmith: argument 6 looks like a database URL with its password, outside --url; it is not shown, and nothing was done\nhint: give the URL with --url, or better in DATABASE_URL with the password in --password-file\n")),
    case("a password split by the shell at its space", "Xl4Uj Os7Ci", Args(&["migrate", "status", "--url", "mysql://USER:Xl4Uj", "Os7Ci@ADDR/DB"]), 2, Exactly(
        "locksmith: unexpected argument '***@ADDR/DB' found\n\nUsage: locksmith migrate status [OPTIONS]\n\nFor more information, try '--help'.\n")),
    case("a password split twice", "Wk7Ti 2Nr Bh5", Args(&["migrate", "status", "--url=mysql://USER:Wk7Ti", "2Nr", "Bh5@ADDR/DB"]), 2, Exactly(
        "locksmith: unexpected argument '***' found\n\nUsage: locksmith migrate status [OPTIONS]\n\nFor more information, try '--help'.\n")),
    case("a URL as another flag's value", "Vj2Sh9Mq6Ag", Args(&["migrate", "status", "--timeout", "mysql://USER:SECRET@ADDR/DB"]), 2, Exactly(
        "locksmith: invalid value 'mysql://USER:***@ADDR/DB' for '--timeout <DURATION>': expected number at 0 (try 30s, 5m or 250ms)\n\nFor more information, try '--help'.\n")),
];

/// Runs one case in a room of its own.
fn give(db: &TestDb, room: &Room, way: &Way, secret: &str) -> Run {
    let cwd = room.cwd.path().display().to_string();
    let fill = |t: &str| {
        // The secret last: its own letters are not stand-ins.
        t.replace(
            "BARE",
            &format!("mysql://{}@{}/{}", user(), db.addr(), db.name),
        )
        .replace("USER", &user())
        .replace("ADDR", &db.addr())
        .replace("DB", &db.name)
        .replace("CWD", &cwd)
        .replace("SECRET", secret)
    };
    let bare = fill("BARE");
    let status = |args: &[&str], env: &[(&str, String)]| {
        let mut all = args.to_vec();
        all.extend(["migrate", "status"]);
        let mut cmd = room.cmd(&all);
        for (k, v) in env {
            cmd.env(k, v);
        }
        run_command(&mut cmd)
    };
    match way {
        Url(u) => status(&["--url", &fill(u)], &[]),
        Env(u) => status(&[], &[("DATABASE_URL", fill(u))]),
        DotEnv(text) => {
            room.file(".env", &fill(text));
            status(&[], &[])
        }
        MyCnf(text) => {
            std::fs::write(room.home.path().join(".my.cnf"), fill(text)).unwrap();
            status(&[], &[("DATABASE_URL", bare)])
        }
        Defaults(main, inc) => {
            let main = room.file("main.cnf", &fill(main));
            room.file("inc.cnf", &fill(inc));
            status(
                &["--defaults-file", main.to_str().unwrap()],
                &[("DATABASE_URL", bare)],
            )
        }
        PasswordFile(bytes) => {
            let p = room.cwd.path().join("pw");
            // Byte by byte: some are not UTF-8 on purpose.
            std::fs::write(&p, replace_bytes(bytes, b"SECRET", secret.as_bytes())).unwrap();
            status(
                &["--password-file", p.to_str().unwrap()],
                &[("DATABASE_URL", bare)],
            )
        }
        PasswordFileEnv(text) => {
            let p = room.file("pw", &fill(text));
            status(
                &[],
                &[
                    ("DATABASE_URL", bare),
                    ("LOCKSMITH_PASSWORD_FILE", p.display().to_string()),
                ],
            )
        }
        MysqlPwd(v) => status(&[], &[("DATABASE_URL", bare), ("MYSQL_PWD", fill(v))]),
        Args(args) => {
            let args: Vec<String> = args.iter().map(|a| fill(a)).collect();
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let mut cmd = room.cmd(&args);
            run_command(cmd.env("DATABASE_URL", bare))
        }
    }
}

fn replace_bytes(hay: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < hay.len() {
        if hay[i..].starts_with(from) {
            out.extend_from_slice(to);
            i += from.len();
        } else {
            out.push(hay[i]);
            i += 1;
        }
    }
    out
}

#[test]
fn no_secret_in_any_output() {
    let db = TestDb::new();
    for c in CASES {
        let room = Room::new();
        let r = give(&db, &room, &c.way, c.secret);
        let fill = |t: &str| {
            t.replace("USER", &user())
                .replace("ADDR", &db.addr())
                .replace("DB", &db.name)
                .replace("HOME", &room.home.path().display().to_string())
                .replace("CWD", &room.cwd.path().display().to_string())
        };
        assert_eq!(r.code, c.code, "{}: {r:#?}", c.what);
        assert_eq!(r.stdout, "", "{}: {r:#?}", c.what);
        match &c.says {
            Exactly(text) => assert_eq!(r.stderr, fill(text), "{}", c.what),
            DeniedFrom(from) => {
                let (head, rest) = r
                    .stderr
                    .split_once(": Access denied for user '")
                    .unwrap_or_else(|| panic!("{}: {r:#?}", c.what));
                assert!(
                    head.starts_with("locksmith: access denied for mysql://"),
                    "{}: {r:#?}",
                    c.what
                );
                assert!(
                    rest.ends_with(&format!(
                        "' (using password: YES); the password came from {}\nhint: check the user name and password (an account created REQUIRE X509 also needs ssl-cert= and ssl-key= in the URL)\n",
                        fill(from)
                    )),
                    "{}: {r:#?}",
                    c.what
                );
            }
        }
        hides(&r, c.secret);
        r.no_secret();
    }
    // Nothing was made.
    assert_eq!(db.rows("SHOW TABLES"), Vec::<Vec<Option<String>>>::new());
}

#[test]
fn no_password_at_all_is_said_so() {
    let db = TestDb::new();
    let room = Room::new();
    let r = room.run(
        &format!("mysql://{}@{}/{}", user(), db.addr(), db.name),
        &["migrate", "status"],
    );
    assert_eq!(r.code, 3, "{r:#?}");
    assert!(
        r.stderr.ends_with("' (using password: NO); no password was given (none in the URL, --password-file, MYSQL_PWD or an option file's [client])\nhint: check the user name and password (an account created REQUIRE X509 also needs ssl-cert= and ssl-key= in the URL)\n"),
        "{r:#?}"
    );
}

#[test]
fn a_repeated_url_parameter_is_refused_by_name() {
    let db = TestDb::new();
    let url = db.url();
    let shown = format!("mysql://{}:***@{}/{}", user(), db.addr(), db.name);
    for (params, says) in [
        (
            "ssl-mode=required&ssl-mode=disabled",
            "parameter `ssl-mode` is given twice",
        ),
        (
            "ssl-mode=disabled&ssl-mode=disabled",
            "parameter `ssl-mode` is given twice",
        ),
        (
            "ssl-mode=verify_ca&ssl-ca=/a.pem&ssl-ca=/b.pem",
            "parameter `ssl-ca` is given twice",
        ),
        (
            "ssl-cert=/c.pem&ssl-key=/k.pem&ssl-cert=/c.pem",
            "parameter `ssl-cert` is given twice",
        ),
        ("socket=/s&socket=/t", "parameter `socket` is given twice"),
    ] {
        let r = locksmith_at(&format!("{url}?{params}"), &["migrate", "status"]);
        r.fails(2).no_secret();
        assert_eq!(
            r.stderr,
            format!(
                "locksmith: invalid database URL {shown}?{params}: {says}; give each parameter once\n"
            ),
            "{params}"
        );
    }
}
