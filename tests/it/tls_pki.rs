//! The certificates of the TLS tests, made at run time with rcgen (a CA, a
//! second CA that signed nothing of ours, server and client certificates),
//! written as PEM files, and the throwaway server with TLS that uses them.
//! Shared by `connect` (each ssl-mode) and `files` (the client's own TLS
//! files).

use crate::harness::*;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    KeyUsagePurpose,
};
use std::os::unix::fs::PermissionsExt;
use std::sync::OnceLock;

// ------------------------------------------------------------ certificates

/// The certificates of this run, PEM: made once, in memory.
pub struct Pki {
    pub ca: String,
    /// A CA that signed nothing of ours.
    pub other_ca: String,
    /// The server's, for DNS:localhost and IP:127.0.0.1.
    pub server: (String, String),
    /// A server's for DNS:localhost only: connecting to 127.0.0.1 does not
    /// match it.
    pub localhost_only: (String, String),
    /// A client's, signed by the CA.
    pub client: (String, String),
}

pub fn ca(cn: &str) -> (rcgen::Certificate, KeyPair) {
    let key = KeyPair::generate().unwrap();
    let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
    p.distinguished_name.push(DnType::CommonName, cn);
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let cert = p.self_signed(&key).unwrap();
    (cert, key)
}

pub fn leaf(
    cn: &str,
    names: &[&str],
    purpose: ExtendedKeyUsagePurpose,
    (ca, ca_key): &(rcgen::Certificate, KeyPair),
) -> (String, String) {
    let key = KeyPair::generate().unwrap();
    let names: Vec<String> = names.iter().map(|s| s.to_string()).collect();
    let mut p = CertificateParams::new(names).unwrap();
    p.distinguished_name.push(DnType::CommonName, cn);
    p.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    p.extended_key_usages = vec![purpose];
    p.use_authority_key_identifier_extension = true;
    let cert = p.signed_by(&key, ca, ca_key).unwrap();
    (cert.pem(), key.serialize_pem())
}

pub fn pki() -> &'static Pki {
    static PKI: OnceLock<Pki> = OnceLock::new();
    PKI.get_or_init(|| {
        let root = ca("locksmith test CA");
        let other = ca("locksmith unrelated CA");
        let server = ExtendedKeyUsagePurpose::ServerAuth;
        Pki {
            ca: root.0.pem(),
            other_ca: other.0.pem(),
            server: leaf(
                "locksmith test server",
                &["localhost", "127.0.0.1"],
                server.clone(),
                &root,
            ),
            localhost_only: leaf("localhost", &["localhost"], server, &root),
            client: leaf(
                "locksmith test client",
                &[],
                ExtendedKeyUsagePurpose::ClientAuth,
                &root,
            ),
        }
    })
}

/// The PEM files in a temp dir that everyone may read (mariadbd runs as
/// `mysql` when the tests run as root); removed when dropped.
pub struct Files {
    dir: tempfile::TempDir,
}

impl Files {
    pub fn write() -> Files {
        let dir = tempfile::tempdir().unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let p = pki();
        let files = [
            ("ca.pem", &p.ca),
            ("other-ca.pem", &p.other_ca),
            ("server.pem", &p.server.0),
            ("server-key.pem", &p.server.1),
            ("localhost.pem", &p.localhost_only.0),
            ("localhost-key.pem", &p.localhost_only.1),
            ("client.pem", &p.client.0),
            ("client-key.pem", &p.client.1),
        ];
        for (name, pem) in files {
            let path = dir.path().join(name);
            std::fs::write(&path, pem).unwrap();
            // Keys too: a test key, readable by the server's user.
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        }
        Files { dir }
    }

    pub fn path(&self, name: &str) -> String {
        self.dir.path().join(name).display().to_string()
    }
}

/// A throwaway server with TLS: this certificate and key (file names in
/// [`Files`]), the CA for client certificates, and ed25519 loaded.
pub fn start_tls(cert: &str, key: &str) -> Throwaway {
    let files = Files::write();
    let server = Throwaway::start(
        1,
        &[
            format!("--ssl-ca={}", files.path("ca.pem")),
            format!("--ssl-cert={}", files.path(cert)),
            format!("--ssl-key={}", files.path(key)),
            "--plugin-load-add=auth_ed25519".to_string(),
        ],
    );
    // mariadbd read them at start-up; nothing of them is left behind.
    drop(files);
    server
}

/// The TLS server of this test binary, started on first use.
pub fn tls_server() -> &'static Throwaway {
    static TLS: OnceLock<Throwaway> = OnceLock::new();
    TLS.get_or_init(|| start_tls("server.pem", "server-key.pem"))
}

/// The same certificate as X.509 version 1, which `openssl x509 -req`
/// makes without extensions and rcgen cannot: the version field
/// (`[0] EXPLICIT INTEGER 2`) dropped from the DER and the lengths fixed.
/// (Its signature no longer matches; what is checked here is refused
/// before any signature is.)
pub fn as_version_1(pem: &str) -> String {
    use rustls::pki_types::pem::PemObject;
    let der = rustls::pki_types::CertificateDer::from_pem_slice(pem.as_bytes()).unwrap();
    let cert = der.as_ref();
    let len = |b: &[u8], i: usize| -> (usize, usize) {
        match b[i] {
            n if n < 0x80 => (n as usize, 1),
            0x81 => (b[i + 1] as usize, 2),
            0x82 => (((b[i + 1] as usize) << 8) | b[i + 2] as usize, 3),
            _ => panic!("a certificate longer than 64 KiB"),
        }
    };
    let put = |out: &mut Vec<u8>, n: usize| match n {
        n if n < 0x80 => out.push(n as u8),
        n if n < 0x100 => out.extend([0x81, n as u8]),
        n => out.extend([0x82, (n >> 8) as u8, n as u8]),
    };
    let (_, l1) = len(cert, 1);
    let tbs_at = 1 + l1;
    let (tbs_len, l2) = len(cert, tbs_at + 1);
    let body = &cert[tbs_at + 1 + l2..tbs_at + 1 + l2 + tbs_len];
    assert_eq!(
        &body[..5],
        &[0xa0, 0x03, 0x02, 0x01, 0x02],
        "a version 3 certificate"
    );
    let after = &cert[tbs_at + 1 + l2 + tbs_len..];
    let mut tbs = vec![0x30];
    put(&mut tbs, tbs_len - 5);
    tbs.extend_from_slice(&body[5..]);
    let mut out = vec![0x30];
    put(&mut out, tbs.len() + after.len());
    out.extend(tbs);
    out.extend_from_slice(after);
    pem_of("CERTIFICATE", &out)
}

/// DER as PEM with this label.
pub fn pem_of(label: &str, der: &[u8]) -> String {
    const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut b64 = String::new();
    for chunk in der.chunks(3) {
        let n = chunk.iter().fold(0u32, |n, c| (n << 8) | *c as u32) << (8 * (3 - chunk.len()));
        for i in 0..4 {
            b64.push(match i <= chunk.len() {
                true => A[((n >> (18 - 6 * i)) & 63) as usize] as char,
                false => '=',
            });
        }
    }
    let lines: Vec<&str> = b64
        .as_bytes()
        .chunks(64)
        .map(|l| std::str::from_utf8(l).unwrap())
        .collect();
    format!(
        "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
        lines.join("\n")
    )
}
