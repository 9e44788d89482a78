//! The client's own TLS files (`ssl-ca`, `ssl-cert`, `ssl-key`), read once
//! and checked before anything connects, so that what is wrong with one of
//! them is said of that file, and never blamed on the server: a CA that is
//! empty, a directory, not PEM, a key instead of a certificate, or does not
//! parse; a certificate of X.509 version 1 (rustls takes version 3 only);
//! a key that is encrypted, missing, or not the certificate's. The driver
//! is then given the bytes read here, so it reads no file itself.

use crate::db::files;
use crate::error::{Kind, Result};
use crate::shown::shown;
use rustls::pki_types::pem::{PemObject, SectionKind, SliceIter};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::path::Path;
use std::time::Instant;

/// The TLS files of a URL, read and checked.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Loaded {
    pub(crate) ca: Option<Vec<u8>>,
    pub(crate) cert: Option<Vec<u8>>,
    pub(crate) key: Option<Vec<u8>>,
}

/// A file as messages name it: `ssl-ca=/etc/ca.pem`.
fn named(param: &str, path: &Path) -> String {
    format!("{param}={}", shown(&path.display().to_string()))
}

fn invalid(msg: String) -> crate::Error {
    Kind::Invalid(msg).into()
}

/// Reads and checks the files given, before `until`.
pub(crate) fn load(
    ca: Option<&Path>,
    cert: Option<&Path>,
    key: Option<&Path>,
    until: Instant,
) -> Result<Loaded> {
    let read = |param: &str, path: &Path| -> Result<Vec<u8>> {
        let bytes = files::read(path, until)
            .map_err(|e| invalid(format!("{}: {e}", named(param, path))))?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Err(invalid(format!(
                "{} is empty: it should hold, in PEM form, {}",
                named(param, path),
                match param {
                    "ssl-key" => "the client certificate's private key",
                    "ssl-cert" => "the client certificate",
                    _ => "the certificate of the CA that signed the server's",
                }
            )));
        }
        Ok(bytes)
    };
    let ca = match ca {
        Some(p) => {
            let bytes = read("ssl-ca", p)?;
            check_ca(&named("ssl-ca", p), &bytes)?;
            Some(bytes)
        }
        None => None,
    };
    let (cert, key) = match cert {
        Some(c) => {
            let cert_bytes = read("ssl-cert", c)?;
            let chain = certificates(&named("ssl-cert", c), &cert_bytes, "the client certificate")?;
            check_end_entity(&named("ssl-cert", c), &chain[0])?;
            let key_bytes = match key {
                Some(k) => read("ssl-key", k)?,
                None => cert_bytes.clone(),
            };
            let key_named = match key {
                Some(k) => named("ssl-key", k),
                None => named("ssl-cert", c),
            };
            let private = private_key(&key_named, &key_bytes, key.is_none())?;
            matches(&named("ssl-cert", c), &key_named, chain, private)?;
            (Some(cert_bytes), Some(key_bytes))
        }
        None => (None, None),
    };
    Ok(Loaded { ca, cert, key })
}

/// What a PEM file holds that is not what was asked for, in words.
fn what_else(bytes: &[u8]) -> &'static str {
    let Ok(text) = std::str::from_utf8(bytes) else {
        return "is not a PEM file (binary: DER? convert it with `openssl x509 -inform der -out FILE.pem`)";
    };
    if text.contains("PRIVATE KEY-----") {
        return "holds a private key, not a certificate";
    }
    if text.contains("-----BEGIN CERTIFICATE REQUEST-----") {
        return "holds a certificate request, not a certificate";
    }
    if text.contains("-----BEGIN ") {
        return "holds no certificate (no -----BEGIN CERTIFICATE----- section)";
    }
    "is not a PEM file (no -----BEGIN CERTIFICATE----- section)"
}

/// The certificates of a PEM file, at least one.
fn certificates(named: &str, bytes: &[u8], what: &str) -> Result<Vec<CertificateDer<'static>>> {
    let mut out = Vec::new();
    for section in SliceIter::<(SectionKind, Vec<u8>)>::new(bytes) {
        match section {
            Ok((SectionKind::Certificate, der)) => out.push(CertificateDer::from(der)),
            Ok(_) => {}
            Err(_) => {
                return Err(invalid(format!(
                    "{named}: a PEM section does not decode (damaged base64, or a BEGIN without its END)"
                )))
            }
        }
    }
    if out.is_empty() {
        return Err(invalid(format!(
            "{named} {}; it should hold {what}",
            what_else(bytes)
        )));
    }
    Ok(out)
}

/// The CA file: certificates that rustls takes as trust anchors.
fn check_ca(named: &str, bytes: &[u8]) -> Result<()> {
    let what = "the certificate of the CA that signed the server's";
    for (i, der) in certificates(named, bytes, what)?.iter().enumerate() {
        if let Err(e) = webpki::anchor_from_trusted_cert(der) {
            return Err(invalid(format!(
                "{named}: certificate {} of the file {}",
                i + 1,
                not_x509(&e)
            )));
        }
    }
    Ok(())
}

/// The client certificate: one rustls can present (X.509 version 3).
fn check_end_entity(named: &str, der: &CertificateDer<'static>) -> Result<()> {
    match webpki::EndEntityCert::try_from(der) {
        Ok(_) => Ok(()),
        Err(webpki::Error::UnsupportedCertVersion) => Err(invalid(format!(
            "{named} is an X.509 version 1 certificate; TLS here (rustls) takes version 3 only: re-issue it as version 3 (`openssl x509 -req … -extfile FILE` with any extension, e.g. extendedKeyUsage=clientAuth)"
        ))),
        Err(e) => Err(invalid(format!("{named}: the certificate {}", not_x509(&e)))),
    }
}

/// What webpki found wrong with a certificate, in words.
fn not_x509(e: &webpki::Error) -> String {
    use webpki::Error::*;
    match e {
        BadDer | BadDerTime | TrailingData(_) => {
            "does not decode as an X.509 certificate (damaged, or not a certificate)".into()
        }
        other => format!("is not one rustls can use ({other:?})"),
    }
}

/// The private key of a PEM file.
fn private_key(named: &str, bytes: &[u8], in_cert_file: bool) -> Result<PrivateKeyDer<'static>> {
    let text = String::from_utf8_lossy(bytes);
    if text.contains("-----BEGIN ENCRYPTED PRIVATE KEY-----")
        || text.contains("Proc-Type: 4,ENCRYPTED")
    {
        return Err(invalid(format!(
            "{named}: the private key is encrypted (it needs a passphrase, which locksmith does not take); give it unencrypted, e.g. `openssl pkey -in KEY -out KEY.plain`, readable by this user only"
        )));
    }
    match PrivateKeyDer::from_pem_slice(bytes) {
        Ok(k) => Ok(k),
        Err(_) if in_cert_file => Err(invalid(format!(
            "{named} holds no private key, and no ssl-key= was given: give the certificate's key as ssl-key=PATH"
        ))),
        Err(_) if text.contains("-----BEGIN CERTIFICATE-----") => Err(invalid(format!(
            "{named} holds a certificate, not a private key (ssl-cert and ssl-key swapped?)"
        ))),
        Err(_) if std::str::from_utf8(bytes).is_err() => Err(invalid(format!(
            "{named} is not a PEM file (binary: DER? convert it with `openssl pkey -inform der -out KEY.pem`)"
        ))),
        Err(_) => Err(invalid(format!(
            "{named} holds no private key in PEM form (-----BEGIN PRIVATE KEY-----, RSA PRIVATE KEY or EC PRIVATE KEY)"
        ))),
    }
}

/// The key must be usable, and the certificate's.
fn matches(
    cert_named: &str,
    key_named: &str,
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
) -> Result<()> {
    let signing = rustls::crypto::ring::sign::any_supported_type(&key)
        .map_err(|e| invalid(format!("{key_named}: the private key cannot be used ({e})")))?;
    match rustls::sign::CertifiedKey::new(chain, signing).keys_match() {
        Err(rustls::Error::InconsistentKeys(rustls::InconsistentKeys::KeyMismatch)) => {
            Err(invalid(format!(
                "{key_named} is not the private key of the certificate in {cert_named}"
            )))
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests;
