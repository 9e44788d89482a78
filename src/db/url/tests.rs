//! Unit tests of the parent module.

use super::*;

#[test]
fn redacts_password() {
    let u = DbUrl::parse("mysql://root:s3cret@127.0.0.1:3306/app").unwrap();
    assert_eq!(u.redacted(), "mysql://root:***@127.0.0.1:3306/app");
    assert_eq!(u.nodes().len(), 1);
    assert!(!format!("{u:?}").contains("s3cret"));
    assert_eq!(u.db_name(), "app");
    assert_eq!(u.user(), "root");
    assert_eq!(u.scrub("bad s3cret here"), "bad *** here");
}

#[test]
fn rejects_missing_db_and_scheme() {
    let e = DbUrl::parse("mysql://root:s3cret@127.0.0.1:3306").unwrap_err();
    assert!(e.to_string().contains("no database name"), "{e}");
    assert!(!e.to_string().contains("s3cret"));
    let e = DbUrl::parse("postgres://root:s3cret@h/db").unwrap_err();
    assert!(e.to_string().contains("unsupported scheme"), "{e}");
    assert!(!e.to_string().contains("s3cret"));
}

#[test]
fn unparsable_url_hides_password() {
    let e = DbUrl::parse("mysql://root:s3cret@[bad/db").unwrap_err();
    assert!(!e.to_string().contains("s3cret"), "{e}");
    assert!(
        matches!(e.kind(), crate::error::Kind::BadUrl { .. }),
        "{e:?}"
    );
}

#[test]
fn urls_without_slashes_hide_the_password() {
    for raw in [
        "mysql:root:s3cret@h/db",
        "postgres:u:s3cret@h/db",
        "mysql:/root:s3cret@h/db",
    ] {
        let e = DbUrl::parse(raw).unwrap_err();
        assert!(!e.to_string().contains("s3cret"), "{raw}: {e}");
        assert!(
            matches!(e.kind(), crate::error::Kind::BadUrl { .. }),
            "{e:?}"
        );
    }
}

#[test]
fn a_url_without_its_host_hides_what_may_be_the_password() {
    for raw in ["mysql://root:123456789/db", "mysql://root:s3cret_pw/db?x=1"] {
        let e = DbUrl::parse(raw).unwrap_err();
        let msg = e.to_string();
        assert!(
            !msg.contains("123456789") && !msg.contains("s3cret_pw"),
            "{raw}: {msg}"
        );
        assert!(msg.contains("mysql://root:***/db"), "{msg}");
    }
}

#[test]
fn missing_url_names_flag_and_variable() {
    let e = DbUrl::from_arg(None).unwrap_err();
    let msg = e.to_string();
    assert!(
        msg.contains("--url") && msg.contains("DATABASE_URL"),
        "{msg}"
    );
}

#[test]
fn several_nodes_ipv6_and_ports() {
    let u = DbUrl::parse("mysql://u:pw@h1:3306,[::1]:3307,h3/db").unwrap();
    let shown: Vec<String> = u.nodes().iter().map(|n| n.to_string()).collect();
    assert_eq!(shown, ["h1:3306", "[::1]:3307", "h3:3306"]);
    assert_eq!(u.redacted(), "mysql://u:***@h1:3306,[::1]:3307,h3:3306/db");
    assert_eq!(u.nodes()[1].host, "::1", "no brackets for the driver");
    let one = DbUrl::parse("mariadb://u@[::1]/db").unwrap();
    assert_eq!(one.nodes()[0].port, 3306);
}

#[test]
fn what_is_wrong_with_a_url_is_said_with_a_hint() {
    // The first `:` ends the user name, and RFC 3986 lets a password
    // hold more (said if the server refuses it); an `@` it does not.
    let u = DbUrl::parse("mysql://u:pa:ss@h/db").unwrap();
    assert_eq!(u.password.as_deref(), Some("pa:ss"));
    assert!(u.password_doubt().unwrap().contains("%3A"));
    let e = DbUrl::parse("mysql://u:p@ss@h/db").unwrap_err().to_string();
    assert!(
        e.contains("`@` that is not percent-encoded; write it as %40"),
        "{e}"
    );
    assert!(!e.contains("p@ss"), "{e}");
    for (raw, says) in [
        ("mysql://u:Qz7/Kw@h/db", "an `@` after the host part"),
        ("mysql://u:Qz7?Kw@h/db", "an `@` after the host part"),
        (
            "mysql://u:Qz7Kw@h/db?ssl-mode=Qz7Kw",
            "unknown ssl-mode value",
        ),
        (
            "mysql://u@h/db?pasword=Qz7Kw",
            "unknown parameter `pasword`",
        ),
        (
            "mysql://u@h/db?pass:Qz7Kw",
            "an unknown parameter, not shown",
        ),
        (
            "mysql://u@h/db?ssl-mode=required&ssl-mode=Qz7Kw",
            "parameter `ssl-mode` is given twice",
        ),
        (
            "mysql://u:Qz7Kw@h/db?password=Qz7Kw",
            "the password is given twice",
        ),
        ("mysql://u:Qz7Kw@h:99999/db", "invalid port `99999`"),
        ("mysql://u:Qz7Kw@h/db/extra", "unexpected path `/db/extra`"),
        ("mysql://u:Qz7Kw@[::1/db", "closing `]`"),
        (
            "mysql://u:Qz7Kw@h/db?require_ssl=true",
            "unknown parameter `require_ssl`",
        ),
    ] {
        let e = DbUrl::parse(raw).unwrap_err().to_string();
        assert!(e.contains(says), "{raw}: {e}");
        assert!(!e.contains("Qz7") && !e.contains("Kw@"), "{raw}: {e}");
    }
    let e = DbUrl::parse("mysql://u:Qz7/Kw@h/db")
        .unwrap_err()
        .to_string();
    assert!(e.contains("percent-encode"), "{e}");
}

#[test]
fn a_password_given_as_a_parameter_is_masked() {
    let u = DbUrl::parse("mysql://u@h/db?password=hunter22").unwrap();
    assert_eq!(u.redacted(), "mysql://u:***@h:3306/db?password=***");
    assert_eq!(u.scrub("x hunter22 y"), "x *** y");
}

#[test]
fn percent_encoded_password_is_scrubbed_decoded() {
    let u = DbUrl::parse("mysql://root:p%40ss%21word@h/db").unwrap();
    assert_eq!(u.scrub("x p@ss!word y"), "x *** y");
}

#[test]
fn a_bad_url_reaches_the_terminal_escaped() {
    let e = DbUrl::parse("mysql://u:pw@h\x1b[31m/db")
        .unwrap_err()
        .to_string();
    assert!(!e.contains('\x1b'), "{e:?}");
    assert!(e.contains("\\u{1b}[31m"), "{e:?}");
    assert!(!e.contains("pw@"), "{e:?}");
}
