//! Unit tests of the parent module.

use super::*;
use std::time::Duration;

fn soon() -> Instant {
    Instant::now() + Duration::from_secs(10)
}

fn set(value: &str, file: &Path, line: usize) -> Option<Set> {
    Some(Set {
        value: value.into(),
        at: format!("{}, line {line}", file.display()),
    })
}

#[test]
fn the_client_section_of_an_option_file() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("my.cnf");
    std::fs::write(
        &f,
        "# comment\n[mysqld]\nuser = mysql\n[CLIENT]\nuser=app\npassword = \"p#w \\\"x\\\"\"\nhost=db.example\nport = 3307 # the port\nloose_ssl_ca=/etc/ca.pem\nskip-ssl\n!bogus directive\n[mysql]\npassword=other\n",
    )
    .unwrap();
    let c = read(&f, true, soon()).unwrap();
    assert_eq!(
        c,
        Client {
            user: set("app", &f, 5),
            password: set("p#w \"x\"", &f, 6),
            host: set("db.example", &f, 7),
            port: Some(3307),
            socket: None,
            ssl_ca: set("/etc/ca.pem", &f, 9),
        }
    );
}

#[test]
fn includes_are_read_as_the_mysql_client_reads_them() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("conf.d");
    std::fs::create_dir(&d).unwrap();
    std::fs::write(d.join("b.cnf"), "[client]\nuser=from-b\n").unwrap();
    std::fs::write(d.join("a.cnf"), "[client]\nuser=from-a\nhost=h-a\n").unwrap();
    std::fs::write(d.join("c.ini"), "[client]\nhost=from-ini\n").unwrap();
    let inc = dir.path().join("inc.cnf");
    std::fs::write(&inc, "[client]\npassword=from-include\n").unwrap();
    let f = dir.path().join("my.cnf");
    std::fs::write(
        &f,
        format!(
            "!includedir {}\n[mysqld]\n!include {}\nuser=still-mysqld\n!include {}/missing.cnf\n",
            d.display(),
            inc.display(),
            dir.path().display()
        ),
    )
    .unwrap();
    let c = read(&f, true, soon()).unwrap();
    assert_eq!(c.user, set("from-b", &d.join("b.cnf"), 2));
    assert_eq!(c.host, set("h-a", &d.join("a.cnf"), 3));
    assert_eq!(c.password, set("from-include", &inc, 2));
}

#[test]
fn errors_name_the_file_and_line_never_the_text() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("my.cnf");
    let shown = f.display().to_string();
    let secret = "Zq9-Hidden-77";
    for (text, says) in [
        (
            format!("password={secret}\n[client]\n"),
            "line 1: an option before any [group] (the mysql client refuses it too); put it under [client]",
        ),
        (
            format!("# x\n[client\npassword={secret}\n"),
            "line 2: a [group] line without its closing `]`",
        ),
        (
            format!("[client]\nport={secret}\n"),
            "line 2: `port` is not a port number (1 to 65535)",
        ),
        (
            format!("[client]\n!includedir {}/{secret}\n", dir.path().display()),
            "line 2: !includedir ",
        ),
        ("[client]\n!include   \n".to_string(), "line 2: !include without a file name"),
        (
            format!("[client]\n!include {shown}\n"),
            "line 2: !include nests more than 10 files deep",
        ),
    ] {
        std::fs::write(&f, &text).unwrap();
        let e = read(&f, true, soon()).unwrap_err().to_string();
        assert!(e.starts_with(&format!("option file {shown}")), "{e}");
        assert!(e.contains(says), "{text:?}: {e}");
        if !says.contains("!includedir") {
            assert!(!e.contains("Zq9"), "{e}");
        }
    }
    std::fs::write(&f, b"[client]\npassword=\xff\xfe\n").unwrap();
    let e = read(&f, true, soon()).unwrap_err().to_string();
    assert_eq!(
        e,
        format!("option file {shown}, line 2: not valid UTF-8 text")
    );
    // A key outside any group in an included file is as wrong.
    let inc = dir.path().join("inc.cnf");
    std::fs::write(&inc, format!("\npassword={secret}\n")).unwrap();
    std::fs::write(&f, format!("[client]\n!include {}\n", inc.display())).unwrap();
    let e = read(&f, true, soon()).unwrap_err().to_string();
    assert!(
        e.starts_with(&format!(
            "option file {}, line 2: an option before",
            inc.display()
        )),
        "{e}"
    );
}

#[test]
fn a_missing_home_file_is_no_error_a_named_one_is() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("absent.cnf");
    assert_eq!(read(&f, false, soon()).unwrap(), Client::default());
    let e = read(&f, true, soon()).unwrap_err().to_string();
    assert!(e.contains("absent.cnf: No such file"), "{e}");
}
