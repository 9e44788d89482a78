//! TLS in each `ssl-mode`, against a server with TLS and one without, and
//! accounts that require SSL, a client certificate or ed25519.

use super::*;

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
