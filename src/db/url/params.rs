//! The query parameters of a URL (`?ssl-mode=…&ssl-ca=…`): each known one
//! taken once, a repeated one refused (which of two values was meant is
//! not locksmith's guess), an unknown one refused by its name only (its
//! value may be a password under a misspelt name), and the spellings of
//! other tools pointed to locksmith's.

use super::redact::name_like;
use super::{bad, DbUrl};
use crate::db::tls::SslMode;
use crate::error::Result;
use std::path::PathBuf;

/// The query parameters locksmith understands.
const PARAMS: &[&str] = &[
    "socket", "password", "ssl-mode", "ssl-ca", "ssl-cert", "ssl-key",
];

/// Parameters other tools spell differently, and what locksmith calls them.
const OTHER_SPELLINGS: &[(&str, &str)] = &[
    (
        "sslmode",
        "ssl-mode=required (disabled|preferred|required|verify_ca|verify_identity)",
    ),
    ("ssl_mode", "ssl-mode=required"),
    ("ssl", "ssl-mode=required"),
    ("tls", "ssl-mode=required"),
    ("require_ssl", "ssl-mode=required"),
    ("requiressl", "ssl-mode=required"),
    ("useSSL", "ssl-mode=required"),
    ("verify_ca", "ssl-mode=verify_ca"),
    ("verify_identity", "ssl-mode=verify_identity"),
    ("sslrootcert", "ssl-ca=PATH"),
    ("sslca", "ssl-ca=PATH"),
    ("ssl_ca", "ssl-ca=PATH"),
    ("sslcert", "ssl-cert=PATH"),
    ("ssl_cert", "ssl-cert=PATH"),
    ("sslkey", "ssl-key=PATH"),
    ("ssl_key", "ssl-key=PATH"),
    ("pass", "password= (or better, --password-file)"),
    ("user", "user@ before the host"),
];

impl DbUrl {
    /// Takes the query string's parameters.
    pub(super) fn params(&mut self, raw: &str, query: &str) -> Result<()> {
        let mut seen: Vec<String> = Vec::new();
        for (k, v) in url::form_urlencoded::parse(query.as_bytes()) {
            if seen.iter().any(|s| *s == k) {
                return Err(bad(
                    raw,
                    match name_like(&k) {
                        true => format!("parameter `{k}` is given twice; give each parameter once"),
                        false => "a parameter is given twice; give each parameter once".into(),
                    },
                ));
            }
            seen.push(k.to_string());
            self.param(raw, &k, v.into_owned())?;
        }
        Ok(())
    }

    /// Takes one query parameter.
    fn param(&mut self, raw: &str, k: &str, v: String) -> Result<()> {
        let path = |v: &str| -> Result<PathBuf> {
            if v.is_empty() {
                return Err(bad(raw, format!("`{k}` needs a file name")));
            }
            Ok(PathBuf::from(v))
        };
        match k {
            "password" => {
                if self.password.is_some() {
                    return Err(bad(raw, "the password is given twice, before the `@` and as ?password=; give it once"));
                }
                self.password = Some(v);
                self.password_from = Some("the URL's ?password=".into());
                self.shown_params.push((k.into(), "***".into()));
                return Ok(());
            }
            "socket" => self.socket = Some(v.clone()),
            "ssl-mode" => {
                // The value is not quoted back: whatever was typed there
                // may be a password in the wrong place.
                self.tls.mode = SslMode::parse(&v).ok_or_else(|| {
                    bad(raw, "unknown ssl-mode value; use disabled, preferred, required, verify_ca or verify_identity")
                })?;
                self.mode_given = true;
            }
            "ssl-ca" => self.tls.ca = Some(path(&v)?),
            "ssl-cert" => self.tls.cert = Some(path(&v)?),
            "ssl-key" => self.tls.key = Some(path(&v)?),
            other => {
                // Its name only, never its value (a misspelt `pasword=`
                // holds a password), and not even the name unless it is
                // a plain word.
                let known = PARAMS.join(", ");
                return Err(bad(
                    raw,
                    match OTHER_SPELLINGS.iter().find(|(o, _)| o.eq_ignore_ascii_case(other)) {
                        Some((_, ours)) => format!("unknown parameter `{other}`: locksmith spells it {ours} (it understands: {known})"),
                        None if name_like(other) => format!("unknown parameter `{other}` (locksmith understands: {known})"),
                        None => format!("an unknown parameter, not shown as it is not a plain name (locksmith understands: {known})"),
                    },
                ));
            }
        }
        self.shown_params.push((k.into(), v));
        Ok(())
    }
}
