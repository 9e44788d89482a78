//! Unit tests of the parent module: each kind of bad file, made here.

use super::*;
use rcgen::{CertificateParams, DnType, KeyPair};
use std::time::Duration;

fn soon() -> Instant {
    Instant::now() + Duration::from_secs(10)
}

/// A self-signed certificate and its key, PEM.
fn pair() -> (String, String) {
    let key = KeyPair::generate().unwrap();
    let mut p = CertificateParams::new(vec!["client".to_string()]).unwrap();
    p.distinguished_name.push(DnType::CommonName, "client");
    (p.self_signed(&key).unwrap().pem(), key.serialize_pem())
}

struct Dir(tempfile::TempDir);

impl Dir {
    fn file(&self, name: &str, bytes: &[u8]) -> std::path::PathBuf {
        let p = self.0.path().join(name);
        std::fs::write(&p, bytes).unwrap();
        p
    }
}

#[track_caller]
fn fails(r: Result<Loaded>, says: &str) {
    match r {
        Ok(_) => panic!("accepted; expected {says:?}"),
        Err(e) => assert!(e.to_string().contains(says), "{e}\nexpected: {says}"),
    }
}

#[test]
fn a_bad_ca_file_is_named_with_what_is_wrong() {
    let d = Dir(tempfile::tempdir().unwrap());
    let (cert, key) = pair();
    let ca = |bytes: &[u8]| {
        let p = d.file("ca.pem", bytes);
        load(Some(&p), None, None, soon())
    };
    assert!(ca(cert.as_bytes()).is_ok());
    let named = format!("ssl-ca={}", d.0.path().join("ca.pem").display());
    fails(
        ca(b""),
        &format!("{named} is empty: it should hold, in PEM form, the certificate of the CA"),
    );
    fails(ca(b"\n \n"), "is empty");
    fails(
        ca(key.as_bytes()),
        &format!("{named} holds a private key, not a certificate"),
    );
    fails(
        ca(b"hello\n"),
        "is not a PEM file (no -----BEGIN CERTIFICATE----- section)",
    );
    fails(
        ca(&[0x30, 0x82, 0xff, 0x00, 0x9c]),
        "is not a PEM file (binary: DER?",
    );
    fails(
        ca(b"-----BEGIN CERTIFICATE-----\n!!!notbase64!!!\n-----END CERTIFICATE-----\n"),
        "a PEM section does not decode",
    );
    fails(
        ca(b"-----BEGIN CERTIFICATE-----\naGVsbG8gd29ybGQ=\n-----END CERTIFICATE-----\n"),
        "certificate 1 of the file does not decode as an X.509 certificate",
    );
    fails(
        load(Some(d.0.path()), None, None, soon()),
        "it is a directory, not a file",
    );
    fails(
        load(Some(&d.0.path().join("none")), None, None, soon()),
        "No such file or directory",
    );
}

#[test]
fn a_bad_client_certificate_or_key_is_named_with_what_is_wrong() {
    let d = Dir(tempfile::tempdir().unwrap());
    let (cert, key) = pair();
    let (_, other_key) = pair();
    let c = d.file("c.pem", cert.as_bytes());
    let k = d.file("k.pem", key.as_bytes());
    let both = d.file("both.pem", format!("{cert}{key}").as_bytes());
    assert!(load(None, Some(&c), Some(&k), soon()).is_ok());
    assert!(load(None, Some(&both), None, soon()).is_ok());
    let cn = format!("ssl-cert={}", c.display());
    fails(
        load(None, Some(&c), None, soon()),
        &format!("{cn} holds no private key, and no ssl-key= was given"),
    );
    let o = d.file("o.pem", other_key.as_bytes());
    fails(
        load(None, Some(&c), Some(&o), soon()),
        &format!(
            "ssl-key={} is not the private key of the certificate in {cn}",
            o.display()
        ),
    );
    fails(
        load(None, Some(&c), Some(&c), soon()),
        "holds a certificate, not a private key (ssl-cert and ssl-key swapped?)",
    );
    fails(
        load(None, Some(&k), Some(&k), soon()),
        "holds a private key, not a certificate; it should hold the client certificate",
    );
    let enc = d.file(
        "enc.pem",
        b"-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIBvTBXBgkqhkiG9w0BBQ0wSjApBgkqhkiG9w0BBQwwHAQI\n-----END ENCRYPTED PRIVATE KEY-----\n",
    );
    fails(
        load(None, Some(&c), Some(&enc), soon()),
        "the private key is encrypted (it needs a passphrase",
    );
    let legacy = d.file(
        "legacy.pem",
        b"-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,00112233445566778899AABBCCDDEEFF\n\nabcd\n-----END RSA PRIVATE KEY-----\n",
    );
    fails(load(None, Some(&c), Some(&legacy), soon()), "is encrypted");
}

#[test]
fn an_x509_version_1_certificate_says_so() {
    // openssl x509 -req without extensions makes a version 1 certificate;
    // rcgen makes version 3 only, so the DER is edited: its version field
    // ([0] EXPLICIT INTEGER 2) is dropped and the lengths fixed.
    let d = Dir(tempfile::tempdir().unwrap());
    let (cert, key) = pair();
    let der = CertificateDer::from_pem_slice(cert.as_bytes()).unwrap();
    let v1 = drop_version(der.as_ref());
    let pem = format!(
        "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
        base64(&v1)
    );
    let c = d.file("v1.pem", pem.as_bytes());
    let k = d.file("k.pem", key.as_bytes());
    fails(
        load(None, Some(&c), Some(&k), soon()),
        &format!(
            "ssl-cert={} is an X.509 version 1 certificate; TLS here (rustls) takes version 3 only",
            c.display()
        ),
    );
}

/// A DER length at `i`: (length, bytes it takes).
fn der_len(b: &[u8], i: usize) -> (usize, usize) {
    match b[i] {
        n if n < 0x80 => (n as usize, 1),
        0x81 => (b[i + 1] as usize, 2),
        0x82 => (((b[i + 1] as usize) << 8) | b[i + 2] as usize, 3),
        _ => panic!("unexpected length"),
    }
}

fn der_put_len(out: &mut Vec<u8>, n: usize) {
    match n {
        n if n < 0x80 => out.push(n as u8),
        n if n < 0x100 => out.extend([0x81, n as u8]),
        n => out.extend([0x82, (n >> 8) as u8, n as u8]),
    }
}

fn drop_version(cert: &[u8]) -> Vec<u8> {
    let (_, l1) = der_len(cert, 1);
    let tbs_at = 1 + l1;
    let (tbs_len, l2) = der_len(cert, tbs_at + 1);
    let tbs_body = &cert[tbs_at + 1 + l2..tbs_at + 1 + l2 + tbs_len];
    assert_eq!(&tbs_body[..5], &[0xa0, 0x03, 0x02, 0x01, 0x02]);
    let rest_of_cert = &cert[tbs_at + 1 + l2 + tbs_len..];
    let mut tbs = vec![0x30];
    der_put_len(&mut tbs, tbs_len - 5);
    tbs.extend_from_slice(&tbs_body[5..]);
    let mut out = vec![0x30];
    der_put_len(&mut out, tbs.len() + rest_of_cert.len());
    out.extend(tbs);
    out.extend_from_slice(rest_of_cert);
    out
}

fn base64(b: &[u8]) -> String {
    const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut s = String::new();
    for chunk in b.chunks(3) {
        let n = chunk.iter().fold(0u32, |n, c| (n << 8) | *c as u32) << (8 * (3 - chunk.len()));
        for i in 0..4 {
            if i <= chunk.len() {
                s.push(A[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                s.push('=');
            }
        }
    }
    s
}
