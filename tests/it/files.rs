//! The files locksmith reads before it connects (issue 15, classes 5 and
//! 9): every one is read within `--timeout`, a FIFO nobody writes to
//! included; option files follow the mysql client's rules (checked against
//! the real `mariadb` client's `--print-defaults`). The TLS files are
//! `tls_files`'.

use crate::harness::*;
use crate::room::Room;
use crate::tls_pki::Files;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// `migrate status` on an empty database.
pub const STATUS_FRESH: &str = "\
+-----------------------------------------------------------+
| VERSION   NAME                       STATE     APPLIED ON |
+===========================================================+
| 1         locks_create_table         pending   -          |
| 2         locks_audit_create_table   pending   -          |
| 3         holder_liveness            pending   -          |
+-----------------------------------------------------------+
";

fn mkfifo(path: &Path) {
    let ok = std::process::Command::new("mkfifo")
        .arg(path)
        .status()
        .unwrap()
        .success();
    assert!(ok, "mkfifo {}", path.display());
}

/// The test account's URL for `db`, without a password.
fn bare(db: &TestDb) -> String {
    format!("mysql://{}@{}/{}", user(), db.addr(), db.name)
}

// ------------------------------------------------------- bounded by --timeout

/// Where a FIFO nobody writes to is put, and what locksmith says of it
/// (`CWD`, `HOME` stand for the room's directories).
struct Fifo {
    what: &'static str,
    says: &'static str,
}

const FIFO_SAYS: &str = "nothing could be read from it before --timeout ran out: a FIFO nobody writes to, or a file system that does not answer?";

#[test]
fn a_fifo_nobody_writes_to_ends_the_command_within_the_timeout() {
    let db = TestDb::new();
    let cases = [
        Fifo {
            what: "--password-file",
            says: "--password-file CWD/fifo: ",
        },
        Fifo {
            what: "LOCKSMITH_PASSWORD_FILE",
            says: "the password file CWD/fifo (LOCKSMITH_PASSWORD_FILE): ",
        },
        Fifo {
            what: "~/.my.cnf",
            says: "option file HOME/.my.cnf: ",
        },
        Fifo {
            what: "--defaults-file",
            says: "option file CWD/fifo: ",
        },
        Fifo {
            what: "!include",
            says: "option file CWD/main.cnf, line 2: cannot read the included CWD/fifo: ",
        },
        Fifo {
            what: "!includedir",
            says: "option file CWD/main.cnf, line 2: cannot read the included CWD/d/x.cnf: ",
        },
        Fifo {
            what: "./.env",
            says: "cannot read ./.env: ",
        },
        Fifo {
            what: "ssl-ca",
            says: "ssl-ca=CWD/fifo: ",
        },
        Fifo {
            what: "ssl-cert",
            says: "ssl-cert=CWD/fifo: ",
        },
        Fifo {
            what: "ssl-key",
            says: "ssl-key=CWD/fifo: ",
        },
    ];
    let files = Files::write();
    for c in cases {
        let room = Room::new();
        let cwd = room.cwd.path();
        let fifo = cwd.join("fifo");
        let mut url = bare(&db);
        let mut args: Vec<String> = vec!["--timeout".into(), "1s".into()];
        let mut cmd_env: Vec<(&str, String)> = Vec::new();
        match c.what {
            "--password-file" => {
                args.extend(["--password-file".into(), fifo.display().to_string()])
            }
            "LOCKSMITH_PASSWORD_FILE" => {
                cmd_env.push(("LOCKSMITH_PASSWORD_FILE", fifo.display().to_string()))
            }
            "~/.my.cnf" => mkfifo(&room.home.path().join(".my.cnf")),
            "--defaults-file" => {
                args.extend(["--defaults-file".into(), fifo.display().to_string()])
            }
            "!include" | "!includedir" => {
                let main = room.file(
                    "main.cnf",
                    &match c.what {
                        "!include" => format!("[client]\n!include {}\n", fifo.display()),
                        _ => format!("[client]\n!includedir {}/d\n", cwd.display()),
                    },
                );
                args.extend(["--defaults-file".into(), main.display().to_string()]);
            }
            "./.env" => mkfifo(&cwd.join(".env")),
            "ssl-ca" => url = format!("{}?ssl-ca={}", db.url(), fifo.display()),
            "ssl-cert" => url = format!("{}?ssl-cert={}", db.url(), fifo.display()),
            _ => {
                url = format!(
                    "{}?ssl-cert={}&ssl-key={}",
                    db.url(),
                    files.path("client.pem"),
                    fifo.display()
                )
            }
        }
        match c.what {
            "~/.my.cnf" | "./.env" => {}
            "!includedir" => {
                std::fs::create_dir(cwd.join("d")).unwrap();
                mkfifo(&cwd.join("d/x.cnf"));
            }
            _ => mkfifo(&fifo),
        }
        let mut cmd = room.cmd(&[]);
        cmd.args(&args)
            .args(["migrate", "status"])
            .env("DATABASE_URL", &url);
        for (k, v) in &cmd_env {
            cmd.env(k, v);
        }
        let started = Instant::now();
        let r = run_command(&mut cmd);
        let took = started.elapsed();
        assert!(
            took >= Duration::from_millis(900) && took < Duration::from_millis(2500),
            "{}: took {took:?}: {r:#?}",
            c.what
        );
        r.fails(2).no_secret();
        let says = c
            .says
            .replace("CWD", &cwd.display().to_string())
            .replace("HOME", &room.home.path().display().to_string());
        assert_eq!(
            r.stderr,
            format!("locksmith: {says}{FIFO_SAYS}\n"),
            "{}",
            c.what
        );
    }
}

/// Writes `text` into the FIFO at `path` once a reader opens it, on a
/// thread of its own (as `<(command)` or a secrets agent would).
fn feed(path: PathBuf, text: String) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        std::fs::write(path, text).unwrap();
    })
}

#[test]
fn a_fifo_that_is_written_to_is_read_like_a_file() {
    let db = TestDb::new();
    // The password through a FIFO, as with --password-file <(pass show db).
    let room = Room::new();
    let fifo = room.cwd.path().join("pw");
    mkfifo(&fifo);
    let writer = feed(fifo.clone(), format!("{}\n", password()));
    let r = room.run(
        &bare(&db),
        &[
            "--password-file",
            fifo.to_str().unwrap(),
            "migrate",
            "status",
        ],
    );
    r.succeeds_with(STATUS_FRESH);
    writer.join().unwrap();
    // An option file through a FIFO.
    let room = Room::new();
    let cnf = room.home.path().join(".my.cnf");
    mkfifo(&cnf);
    let writer = feed(cnf, format!("[client]\npassword={}\n", password()));
    room.run(&bare(&db), &["migrate", "status"])
        .succeeds_with(STATUS_FRESH);
    writer.join().unwrap();
}

#[test]
fn a_file_that_is_not_one_is_named() {
    let db = TestDb::new();
    let room = Room::new();
    let cwd = room.cwd.path().display().to_string();
    for (args, says) in [
        (
            vec!["--password-file", "/dev/zero"],
            "--password-file /dev/zero: it holds more than 1024 KiB, far more than it should (not a file of this kind?)".to_string(),
        ),
        (
            vec!["--password-file", &cwd],
            format!("--password-file {cwd}: it is a directory, not a file"),
        ),
        (
            vec!["--defaults-file", &cwd],
            format!("option file {cwd}: it is a directory, not a file"),
        ),
        (
            vec!["--defaults-file", "/dev/urandom"],
            "option file /dev/urandom: it holds more than 1024 KiB, far more than it should (not a file of this kind?)".to_string(),
        ),
    ] {
        let mut all = args.clone();
        all.extend(["migrate", "status"]);
        let r = room.run(&bare(&db), &all);
        r.fails(2).no_secret();
        assert_eq!(r.stderr, format!("locksmith: {says}\n"), "{args:?}");
    }
}

// ----------------------------------------------------- the mysql client's rules

/// One option-file layout: the main file and the others it names (paths
/// relative to the room's working directory, `CWD` in texts standing for
/// it).
struct Layout {
    what: &'static str,
    main: &'static str,
    others: &'static [(&'static str, &'static str)],
    /// The user the option files give (both clients agree), or the error
    /// locksmith gives (the mysql client refuses too).
    outcome: Result<&'static str, &'static str>,
}

const LAYOUTS: &[Layout] = &[
    Layout {
        what: "!include, read where it stands",
        main: "[client]\nuser=u_first\n!include CWD/inc.cnf\n",
        others: &[("inc.cnf", "[client]\nuser=u_included\n")],
        outcome: Ok("u_included"),
    },
    Layout {
        what: "!includedir: .cnf files only, in name order",
        main: "[client]\nuser=u_main\n!includedir CWD/conf.d\n",
        others: &[
            ("conf.d/b.cnf", "[client]\nuser=u_b\n"),
            ("conf.d/a.cnf", "[client]\nuser=u_a\n"),
            ("conf.d/c.ini", "[client]\nuser=u_ini\n"),
            ("conf.d/d.cnf.bak", "[client]\nuser=u_bak\n"),
        ],
        outcome: Ok("u_b"),
    },
    Layout {
        what: "an included file starts outside any group; the includer's goes on",
        main: "[mysqld]\n!include CWD/inc.cnf\nuser=u_mysqld\n",
        others: &[("inc.cnf", "[client]\nuser=u_inc_client\n")],
        outcome: Ok("u_inc_client"),
    },
    Layout {
        what: "a missing !include is skipped",
        main: "[client]\nuser=u_kept\n!include CWD/missing.cnf\n",
        others: &[],
        outcome: Ok("u_kept"),
    },
    Layout {
        what: "group names in any case, loose- prefix, quotes and comments",
        main: "# mine\n[CLIENT]\nloose-user=u_loose\n; other\n[client]\nuser = \"u_quoted\" # last\n",
        others: &[],
        outcome: Ok("u_quoted"),
    },
    Layout {
        what: "the groups every MariaDB client reads, in file order",
        main: "[client-mariadb]\nuser=u_cm\n[client]\nuser=u_c\n[client-server]\nuser=u_cs\n[mysqld]\nuser=u_d\n",
        others: &[],
        outcome: Ok("u_cs"),
    },
    Layout {
        what: "[client-mariadb] last",
        main: "[client]\nuser=u_c\n[CLIENT-MARIADB]\nuser=u_cm\n",
        others: &[],
        outcome: Ok("u_cm"),
    },
    Layout {
        what: "an option before any group",
        main: "user=u_nogroup\n[client]\n",
        others: &[],
        outcome: Err("option file CWD/main.cnf, line 1: an option before any [group] (the mysql client refuses it too); put it under [client]"),
    },
    Layout {
        what: "a group line without its ]",
        main: "[client]\nuser=u_x\n[mysql\n",
        others: &[],
        outcome: Err("option file CWD/main.cnf, line 3: a [group] line without its closing `]` (the mysql client refuses it too)"),
    },
    Layout {
        what: "a missing !includedir",
        main: "[client]\n!includedir CWD/nodir\n",
        others: &[],
        outcome: Err("option file CWD/main.cnf, line 2: !includedir CWD/nodir: No such file or directory (os error 2)"),
    },
    Layout {
        what: "!include without a file",
        main: "[client]\n\n!include\n",
        others: &[],
        outcome: Err("option file CWD/main.cnf, line 3: !include without a file name"),
    },
];

/// The user the mysql client would connect as with this option file
/// (its last `--user=`), or `None` when it refuses the file.
fn mysql_client_user(file: &Path) -> Option<String> {
    let out = std::process::Command::new("mariadb")
        .arg(format!("--defaults-file={}", file.display()))
        .arg("--print-defaults")
        .output()
        .expect("the mariadb client (installed with mariadb-server)");
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.split_whitespace()
        .rev()
        .filter_map(|a| {
            a.strip_prefix("--user=")
                .or_else(|| a.strip_prefix("--loose-user="))
        })
        .next()
        .map(str::to_string)
}

#[test]
fn option_files_are_read_as_the_mysql_client_reads_them() {
    let db = TestDb::new();
    let no_user = format!("mysql://{}/{}", db.addr(), db.name);
    for l in LAYOUTS {
        let room = Room::new();
        let cwd = room.cwd.path().display().to_string();
        for (name, text) in l.others {
            let p = room.cwd.path().join(name);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text.replace("CWD", &cwd)).unwrap();
        }
        let main = room.file("main.cnf", &l.main.replace("CWD", &cwd));
        let r = room.run(
            &no_user,
            &[
                "--defaults-file",
                main.to_str().unwrap(),
                "migrate",
                "status",
            ],
        );
        r.no_secret();
        match l.outcome {
            Ok(u) => {
                // No such account: the server names the user it was asked for.
                assert_eq!(r.code, 3, "{}: {r:#?}", l.what);
                assert!(
                    r.stderr
                        .contains(&format!(": Access denied for user '{u}'@'")),
                    "{}: {r:#?}",
                    l.what
                );
                assert!(
                    r.stderr
                        .contains("(using password: NO); no password was given"),
                    "{}: {r:#?}",
                    l.what
                );
                assert_eq!(mysql_client_user(&main).as_deref(), Some(u), "{}", l.what);
            }
            Err(says) => {
                r.fails(2);
                assert_eq!(
                    r.stderr,
                    format!("locksmith: {}\n", says.replace("CWD", &cwd)),
                    "{}",
                    l.what
                );
                assert_eq!(
                    mysql_client_user(&main),
                    None,
                    "the mysql client accepts: {}",
                    l.what
                );
            }
        }
    }
}

#[test]
fn a_password_behind_an_include_is_used() {
    let db = TestDb::new();
    let room = Room::new();
    let d = room.home.path().join("conf.d");
    std::fs::create_dir(&d).unwrap();
    std::fs::write(d.join("10-app.cnf"), "[client]\npassword=not-this\n").unwrap();
    std::fs::write(
        d.join("20-secret.cnf"),
        format!("[client]\npassword={}\n", password()),
    )
    .unwrap();
    std::fs::write(
        room.home.path().join(".my.cnf"),
        format!("[client]\n!includedir {}\n", d.display()),
    )
    .unwrap();
    room.run(&bare(&db), &["migrate", "status"])
        .succeeds_with(STATUS_FRESH);
}
