//! The database URL: where it comes from (`--url` or `DATABASE_URL`), how it
//! is turned into driver options, and how it is shown without its password.
//!
//! This is the only place that sees the password. Everything printed about a
//! connection goes through [`DbUrl::redacted`].

use crate::error::{Kind, Result};
use mysql_async::{Opts, OptsBuilder};

/// A parsed `mysql://` URL.
#[derive(Clone)]
pub struct DbUrl {
    opts: Opts,
    redacted: String,
    password: Option<String>,
}

impl std::fmt::Debug for DbUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("DbUrl").field(&self.redacted).finish()
    }
}

impl DbUrl {
    /// Parses `mysql://user:pass@host:port/db?params`.
    pub fn parse(raw: &str) -> Result<DbUrl> {
        let parsed = url::Url::parse(raw).map_err(|e| Kind::BadUrl {
            url: redact_unparsed(raw),
            reason: e.to_string(),
        })?;
        if parsed.cannot_be_a_base() || !parsed.has_host() {
            // `mysql:user:pass@host/db` parses, but as an opaque path: the
            // password would not be recognised as one.
            return Err(Kind::BadUrl {
                url: redact_unparsed(raw),
                reason: "expected mysql://user:pass@host:port/db".into(),
            }
            .into());
        }
        let mut shown = parsed.clone();
        let password = parsed.password().map(|p| {
            percent_encoding::percent_decode_str(p)
                .decode_utf8_lossy()
                .into_owned()
        });
        if password.is_some() {
            let _ = shown.set_password(Some("***"));
        }
        let redacted = shown.to_string();
        if !matches!(parsed.scheme(), "mysql" | "mariadb") {
            return Err(Kind::BadUrl {
                url: redacted,
                reason: format!(
                    "unsupported scheme `{}`; use mysql://user:pass@host:port/db",
                    parsed.scheme()
                ),
            }
            .into());
        }
        let mut normalised = parsed.clone();
        let _ = normalised.set_scheme("mysql");
        let opts = Opts::from_url(normalised.as_str()).map_err(|e| Kind::BadUrl {
            url: redacted.clone(),
            reason: scrub(&e.to_string(), password.as_deref()),
        })?;
        if opts.db_name().is_none() {
            return Err(Kind::BadUrl {
                url: redacted,
                reason: "no database name; use mysql://user:pass@host:port/db".into(),
            }
            .into());
        }
        let prefer_socket_given = parsed.query_pairs().any(|(k, _)| k == "prefer_socket");
        let mut builder = OptsBuilder::from_opts(opts)
            .setup(vec![super::sql::SESSION_SETUP.to_string()])
            // Values the driver would otherwise ask the server for on every
            // connect; locksmith's packets are far below either limit.
            .max_allowed_packet(Some(16 * 1024 * 1024))
            .wait_timeout(Some(28_800));
        if !prefer_socket_given {
            // Reconnecting over the server's socket costs a second handshake
            // on every start; keep the transport the URL names.
            builder = builder.prefer_socket(false);
        }
        Ok(DbUrl {
            opts: builder.into(),
            redacted,
            password,
        })
    }

    /// Takes `--url`, falling back to `DATABASE_URL` (clap already merged
    /// both into `value`).
    pub fn from_arg(value: Option<&str>) -> Result<DbUrl> {
        match value {
            Some(v) if !v.trim().is_empty() => DbUrl::parse(v),
            _ => Err(Kind::MissingUrl.into()),
        }
    }

    /// The URL with its password replaced by `***`.
    pub fn redacted(&self) -> &str {
        &self.redacted
    }

    /// The database name.
    pub fn db_name(&self) -> &str {
        self.opts.db_name().unwrap_or_default()
    }

    /// The user name.
    pub fn user(&self) -> &str {
        self.opts.user().unwrap_or_default()
    }

    /// Driver options, with strict-mode session setup. Not public: the
    /// driver's `Debug` output of them includes the password.
    pub(crate) fn opts(&self) -> &Opts {
        &self.opts
    }

    /// Removes the password from a message that may quote it.
    pub fn scrub(&self, msg: &str) -> String {
        scrub(msg, self.password.as_deref())
    }
}

fn scrub(msg: &str, password: Option<&str>) -> String {
    match password {
        Some(p) if p.len() >= 3 => msg.replace(p, "***"),
        _ => msg.to_string(),
    }
}

/// Best effort for a URL that does not parse as one: drop everything
/// between the scheme and the last `@`, which is where a password would be.
/// Without an `@`, what follows a `:` in the authority may be a password
/// whose `@host` was left out (`mysql://root:secret/db`), so it goes too.
fn redact_unparsed(raw: &str) -> String {
    let start = match raw.find("://") {
        Some(s) => s + 3,
        None => raw.find(':').map_or(0, |s| s + 1),
    };
    match raw.rfind('@') {
        Some(at) if at >= start => format!("{}***@{}", &raw[..start], &raw[at + 1..]),
        _ => {
            let authority_end = raw[start..].find('/').map_or(raw.len(), |i| start + i);
            match raw[start..authority_end].find(':') {
                Some(colon) => format!("{}:***{}", &raw[..start + colon], &raw[authority_end..]),
                None => raw.to_string(),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_password() {
        let u = DbUrl::parse("mysql://root:s3cret@127.0.0.1:3306/app").unwrap();
        assert_eq!(u.redacted(), "mysql://root:***@127.0.0.1:3306/app");
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
        assert_eq!(e.exit_code(), crate::error::exit::USAGE);
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
            assert_eq!(e.exit_code(), crate::error::exit::USAGE);
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
    fn percent_encoded_password_is_scrubbed_decoded() {
        let u = DbUrl::parse("mysql://root:p%40ss%21word@h/db").unwrap();
        assert_eq!(u.scrub("x p@ss!word y"), "x *** y");
    }
}
