//! TLS for connections: the modes of the URL's `ssl-mode` (sqlx's and the
//! mysql client's convention), the driver options each one means, and what
//! a refused handshake means in words: the server has no TLS, the CA did
//! not verify the server's certificate, or the host name did not match.
//!
//! rustls with the ring provider: no OpenSSL, no C toolchain beyond a
//! linker. `verify_ca` checks the chain but not the name; mysql_async
//! 0.37's own switch for that does nothing with rustls 0.23 (upstream bug
//! #404), so a name mismatch after a verified chain (rustls checks the
//! chain first) is retried with a name the certificate holds.
//!
//! The client's own files are read and checked before connecting
//! (`files`): what is wrong with one of them is said of that file.

mod files;

use mysql_async::{ClientIdentity, DriverError, IoError, SslOpts, TlsError};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

/// How a connection uses TLS (`ssl-mode=`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SslMode {
    /// Never.
    Disabled,
    /// When the server offers it, unverified; plaintext otherwise (the
    /// default, as in the mysql client and sqlx).
    #[default]
    Preferred,
    /// Always, unverified: a server without TLS is refused.
    Required,
    /// Always, with the server's certificate verified against the CA
    /// (`ssl-ca`, or the system's trusted CAs); any host name.
    VerifyCa,
    /// Always, verified, and the certificate must name the host connected to.
    VerifyIdentity,
}

impl SslMode {
    /// Parses `disabled|preferred|required|verify_ca|verify_identity` (any
    /// case, `-` or `_`).
    pub fn parse(s: &str) -> Option<SslMode> {
        Some(match s.to_ascii_lowercase().replace('-', "_").as_str() {
            "disabled" => SslMode::Disabled,
            "preferred" => SslMode::Preferred,
            "required" => SslMode::Required,
            "verify_ca" => SslMode::VerifyCa,
            "verify_identity" => SslMode::VerifyIdentity,
            _ => return None,
        })
    }

    /// The name as the URL spells it.
    pub fn name(self) -> &'static str {
        match self {
            SslMode::Disabled => "disabled",
            SslMode::Preferred => "preferred",
            SslMode::Required => "required",
            SslMode::VerifyCa => "verify_ca",
            SslMode::VerifyIdentity => "verify_identity",
        }
    }

    /// Whether the server's certificate is checked.
    pub fn verifies(self) -> bool {
        matches!(self, SslMode::VerifyCa | SslMode::VerifyIdentity)
    }
}

/// The TLS settings of a URL.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TlsConfig {
    /// The mode.
    pub mode: SslMode,
    /// The CA to verify the server's certificate with (`ssl-ca`); none:
    /// the system's trusted CAs.
    pub ca: Option<PathBuf>,
    /// A client certificate (`ssl-cert`), PEM; its key is `key`, or in the
    /// same file.
    pub cert: Option<PathBuf>,
    /// The client certificate's private key (`ssl-key`), PEM.
    pub key: Option<PathBuf>,
    /// The files' contents, once read and checked ([`TlsConfig::load`]):
    /// what the driver is given instead of the paths.
    loaded: Option<Arc<files::Loaded>>,
}

impl TlsConfig {
    /// The driver's options for the mode (`None`: plaintext). `name`: the
    /// host name to check the certificate against instead of the one
    /// connected to.
    pub(crate) fn ssl_opts(&self, mode: SslMode, name: Option<&str>) -> Option<SslOpts> {
        let loaded = self.loaded.as_deref();
        // The contents read and checked, else the path (the driver's
        // `PathOrBuf`, which it does not export by name).
        macro_rules! bytes {
            ($b:expr, $p:expr) => {
                match $b {
                    Some(b) => b.clone().into(),
                    None => $p.clone().into(),
                }
            };
        }
        let identity = self.cert.as_ref().map(|cert| {
            let key = self.key.as_ref().unwrap_or(cert);
            ClientIdentity::new(
                bytes!(loaded.and_then(|l| l.cert.as_ref()), cert),
                bytes!(loaded.and_then(|l| l.key.as_ref()), key),
            )
        });
        let base = SslOpts::default().with_client_identity(identity);
        match mode {
            SslMode::Disabled => None,
            SslMode::Preferred | SslMode::Required => {
                Some(base.with_danger_accept_invalid_certs(true))
            }
            SslMode::VerifyCa | SslMode::VerifyIdentity => {
                let mut o = base;
                if let Some(ca) = &self.ca {
                    o = o
                        .with_root_certs(vec![bytes!(loaded.and_then(|l| l.ca.as_ref()), ca)])
                        .with_disable_built_in_roots(true);
                }
                if mode == SslMode::VerifyCa {
                    o = o.with_danger_skip_domain_validation(true);
                }
                if let Some(n) = name {
                    o = o.with_danger_tls_hostname_override(Some(n.to_string()));
                }
                Some(o)
            }
        }
    }

    /// Reads and checks the files named (`ssl-ca`, `ssl-cert`, `ssl-key`)
    /// before `until`, and keeps their contents for every connection:
    /// what is wrong with one is said of that file, before connecting.
    pub fn load(&mut self, until: Instant) -> crate::Result<()> {
        let loaded = files::load(
            self.ca.as_deref(),
            self.cert.as_deref(),
            self.key.as_deref(),
            until,
        )?;
        self.loaded = Some(Arc::new(loaded));
        Ok(())
    }

    /// Checks the files named, unless [`TlsConfig::load`] did already: the
    /// driver would blame a bad one on the server, or say nothing of which.
    pub(crate) fn check_files(&self, d: super::Deadline) -> crate::Result<()> {
        if self.loaded.is_some() || (self.ca.is_none() && self.cert.is_none()) {
            return Ok(());
        }
        let mut copy = self.clone();
        copy.load(d.instant())
    }

    /// What the server's certificate was verified with, for messages.
    fn trusted(&self) -> String {
        match &self.ca {
            Some(ca) => format!("the CA in ssl-ca={}", shown_path(ca)),
            None => "the system's trusted CAs (no ssl-ca given)".into(),
        }
    }
}

fn shown_path(p: &Path) -> String {
    crate::shown::shown(&p.display().to_string()).to_string()
}

/// The rustls error inside a driver error, if the handshake failed.
fn rustls_error(e: &mysql_async::Error) -> Option<&rustls::Error> {
    match e {
        mysql_async::Error::Io(IoError::Io(io)) => {
            io.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>())
        }
        mysql_async::Error::Io(IoError::Tls(TlsError::Tls(r))) => Some(r),
        _ => None,
    }
}

/// Whether the server said it has no TLS.
pub(crate) fn server_has_none(e: &mysql_async::Error) -> bool {
    matches!(
        e,
        mysql_async::Error::Driver(DriverError::NoClientSslFlagFromServer)
    )
}

/// After a name mismatch (the chain verified already), a name the
/// certificate holds, to check it against instead: what `verify_ca` needs.
pub(crate) fn name_in_certificate(e: &mysql_async::Error) -> Option<String> {
    let Some(rustls::Error::InvalidCertificate(rustls::CertificateError::NotValidForNameContext {
        presented,
        ..
    })) = rustls_error(e)
    else {
        return None;
    };
    presented.iter().find_map(|p| usable_name(p))
}

/// `DnsName("db.example")` or `IpAddress(10.0.0.1)` (as webpki presents a
/// certificate's names) as a server name; a wildcard gets a label.
fn usable_name(p: &str) -> Option<String> {
    if let Some(rest) = p
        .strip_prefix("DnsName(\"")
        .and_then(|r| r.strip_suffix("\")"))
    {
        let name = match rest.strip_prefix("*.") {
            Some(base) => format!("verify-ca.{base}"),
            None => rest.to_string(),
        };
        return rustls::pki_types::ServerName::try_from(name.as_str())
            .is_ok()
            .then_some(name);
    }
    let ip = p.strip_prefix("IpAddress(")?.strip_suffix(')')?;
    ip.parse::<std::net::IpAddr>().ok().map(|_| ip.to_string())
}

/// A refused TLS connection in words (what went wrong, and what to do),
/// or `None` when the error is not about TLS.
pub(crate) fn refusal(
    e: &mysql_async::Error,
    tls: &TlsConfig,
    mode: SslMode,
    host: &str,
) -> Option<(String, String)> {
    let m = mode.name();
    if server_has_none(e) {
        return Some((
            format!("ssl-mode={m}, but the server has no TLS (it offers no encrypted connections)"),
            "enable TLS on the server (ssl_cert and ssl_key in its configuration), or use ssl-mode=preferred to allow a plaintext connection".into(),
        ));
    }
    let r = rustls_error(e)?;
    use rustls::CertificateError as C;
    Some(match r {
        rustls::Error::InvalidCertificate(C::UnknownIssuer | C::BadSignature) => (
            format!(
                "ssl-mode={m}: the CA did not verify the server's certificate (checked with {})",
                tls.trusted()
            ),
            "pass the CA that signed the server's certificate as ssl-ca=PATH".into(),
        ),
        rustls::Error::InvalidCertificate(C::NotValidForNameContext { presented, .. }) => (
            format!(
                "ssl-mode={m}: the host name did not match: the certificate is for {}, not `{host}`",
                if presented.is_empty() { "no names at all".to_string() } else { presented.join(", ") }
            ),
            "connect by a name the certificate holds, or use ssl-mode=verify_ca to check the CA only".into(),
        ),
        rustls::Error::InvalidCertificate(C::NotValidForName) => (
            format!("ssl-mode={m}: the host name did not match: the certificate is not for `{host}`"),
            "connect by a name the certificate holds, or use ssl-mode=verify_ca to check the CA only".into(),
        ),
        rustls::Error::InvalidCertificate(other) => (
            format!("ssl-mode={m}: the server's certificate is not valid: {other:?}"),
            "renew or fix the server's certificate".into(),
        ),
        rustls::Error::AlertReceived(alert) => (
            format!("the server ended the TLS handshake: {alert:?}"),
            match &tls.cert {
                Some(c) => format!("the server may not accept the client certificate ssl-cert={}", shown_path(c)),
                None => "the server may want a client certificate (ssl-cert=PATH, ssl-key=PATH)".into(),
            },
        ),
        other => (
            format!("TLS failed: {other}"),
            "check ssl-ca, ssl-cert and ssl-key (PEM files; keys unencrypted, PKCS#8, PKCS#1 or SEC1)".into(),
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_parse_in_either_spelling() {
        assert_eq!(
            SslMode::parse("VERIFY-IDENTITY"),
            Some(SslMode::VerifyIdentity)
        );
        assert_eq!(SslMode::parse("verify_ca"), Some(SslMode::VerifyCa));
        assert_eq!(SslMode::parse("Required"), Some(SslMode::Required));
        assert_eq!(SslMode::parse("require"), None);
        assert_eq!(SslMode::default(), SslMode::Preferred);
    }

    #[test]
    fn names_webpki_presents_become_server_names() {
        assert_eq!(
            usable_name("DnsName(\"db.example\")").as_deref(),
            Some("db.example")
        );
        assert_eq!(
            usable_name("DnsName(\"*.db.test\")").as_deref(),
            Some("verify-ca.db.test")
        );
        assert_eq!(
            usable_name("IpAddress(127.0.0.1)").as_deref(),
            Some("127.0.0.1")
        );
        assert_eq!(usable_name("Other"), None);
    }
}
