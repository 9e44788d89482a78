//! A bad TLS file of the client's (issue 15, class 5) is named, with what
//! is wrong with it, before connecting, and never blamed on the server: CA
//! files that are not PEM, a key, random bytes, empty or a directory; a
//! client certificate of X.509 version 1; a key that is missing, encrypted
//! (both PEM forms), another certificate's, or swapped with the
//! certificate.

use crate::files::STATUS_FRESH;
use crate::harness::*;
use crate::room::Room;
use crate::tls_pki::{as_version_1, pem_of, pki, tls_server, Files};

#[test]
fn a_bad_tls_file_of_the_client_is_named_not_blamed_on_the_server() {
    let files = Files::write();
    let db = TestDb::on(tls_server(), 0);
    let room = Room::new();
    let cwd = room.cwd.path().display().to_string();
    let p = pki();
    let (cert, key) = (files.path("client.pem"), files.path("client-key.pem"));
    let ca = files.path("ca.pem");
    let file = |name: &str, bytes: &[u8]| {
        let path = room.cwd.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        path.display().to_string()
    };
    // The control: the right files connect, verified both ways.
    let good = format!(
        "{}?ssl-mode=verify_identity&ssl-ca={ca}&ssl-cert={cert}&ssl-key={key}",
        db.url()
    );
    room.run(&good, &["migrate", "status"])
        .succeeds_with(STATUS_FRESH);
    let key_der = rustls_pem_der(&p.client.1);
    let cases: Vec<(&str, String, String)> = vec![
        (
            "ssl-ca: not PEM",
            format!("ssl-ca={}", file("text.pem", b"this is not a certificate\n")),
            format!("ssl-ca={cwd}/text.pem is not a PEM file (no -----BEGIN CERTIFICATE----- section); it should hold the certificate of the CA that signed the server's"),
        ),
        (
            "ssl-ca: a private key",
            format!("ssl-ca={key}"),
            format!("ssl-ca={key} holds a private key, not a certificate; it should hold the certificate of the CA that signed the server's"),
        ),
        (
            "ssl-ca: random bytes",
            format!("ssl-ca={}", file("random.pem", &[0x30, 0x82, 0x9c, 0xff, 0x01, 0xfe, 0x00, 0x80])),
            format!("ssl-ca={cwd}/random.pem is not a PEM file (binary: DER? convert it with `openssl x509 -inform der -out FILE.pem`); it should hold the certificate of the CA that signed the server's"),
        ),
        (
            "ssl-ca: random bytes in PEM",
            format!("ssl-ca={}", file("garbage.pem", pem_of("CERTIFICATE", b"random bytes, no DER").as_bytes())),
            format!("ssl-ca={cwd}/garbage.pem: certificate 1 of the file does not decode as an X.509 certificate (damaged, or not a certificate)"),
        ),
        (
            "ssl-ca: empty",
            format!("ssl-ca={}", file("empty.pem", b"")),
            format!("ssl-ca={cwd}/empty.pem is empty: it should hold, in PEM form, the certificate of the CA that signed the server's"),
        ),
        (
            "ssl-ca: a directory",
            format!("ssl-ca={cwd}"),
            format!("ssl-ca={cwd}: it is a directory, not a file"),
        ),
        (
            "ssl-ca: with verify_identity, a certificate request",
            format!("ssl-mode=verify_identity&ssl-ca={}", file("csr.pem", pem_of("CERTIFICATE REQUEST", b"x").as_bytes())),
            format!("ssl-ca={cwd}/csr.pem holds a certificate request, not a certificate; it should hold the certificate of the CA that signed the server's"),
        ),
        (
            "ssl-cert: X.509 version 1",
            format!("ssl-cert={}&ssl-key={key}", file("v1.pem", as_version_1(&p.client.0).as_bytes())),
            format!("ssl-cert={cwd}/v1.pem is an X.509 version 1 certificate; TLS here (rustls) takes version 3 only: re-issue it as version 3 (`openssl x509 -req … -extfile FILE` with any extension, e.g. extendedKeyUsage=clientAuth)"),
        ),
        (
            "ssl-cert without ssl-key",
            format!("ssl-cert={cert}"),
            format!("ssl-cert={cert} holds no private key, and no ssl-key= was given: give the certificate's key as ssl-key=PATH"),
        ),
        (
            "ssl-key: encrypted (PKCS#8)",
            format!("ssl-cert={cert}&ssl-key={}", file("enc.pem", pem_of("ENCRYPTED PRIVATE KEY", &key_der).as_bytes())),
            format!("ssl-key={cwd}/enc.pem: the private key is encrypted (it needs a passphrase, which locksmith does not take); give it unencrypted, e.g. `openssl pkey -in KEY -out KEY.plain`, readable by this user only"),
        ),
        (
            "ssl-key: encrypted (OpenSSL's old form)",
            format!("ssl-cert={cert}&ssl-key={}", file("old.pem", b"-----BEGIN EC PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-256-CBC,0123456789ABCDEF0123456789ABCDEF\n\nAAAA\n-----END EC PRIVATE KEY-----\n")),
            format!("ssl-key={cwd}/old.pem: the private key is encrypted (it needs a passphrase, which locksmith does not take); give it unencrypted, e.g. `openssl pkey -in KEY -out KEY.plain`, readable by this user only"),
        ),
        (
            "ssl-key: another certificate's",
            format!("ssl-cert={cert}&ssl-key={}", files.path("server-key.pem")),
            format!("ssl-key={} is not the private key of the certificate in ssl-cert={cert}", files.path("server-key.pem")),
        ),
        (
            "ssl-cert and ssl-key swapped",
            format!("ssl-cert={key}&ssl-key={cert}"),
            format!("ssl-cert={key} holds a private key, not a certificate; it should hold the client certificate"),
        ),
        (
            "ssl-key: empty",
            format!("ssl-cert={cert}&ssl-key={}", file("nokey.pem", b"\n")),
            format!("ssl-key={cwd}/nokey.pem is empty: it should hold, in PEM form, the client certificate's private key"),
        ),
    ];
    for (what, params, says) in cases {
        let r = room.run(&format!("{}?{params}", db.url()), &["migrate", "status"]);
        r.fails(2).no_secret();
        assert_eq!(r.stderr, format!("locksmith: {says}\n"), "{what}");
        assert!(
            !r.stderr.contains("server's certificate is not valid"),
            "{what}"
        );
    }
}

/// The DER inside a PEM text.
fn rustls_pem_der(pem: &str) -> Vec<u8> {
    use rustls::pki_types::pem::PemObject;
    rustls::pki_types::PrivateKeyDer::from_pem_slice(pem.as_bytes())
        .unwrap()
        .secret_der()
        .to_vec()
}
