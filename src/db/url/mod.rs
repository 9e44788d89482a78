//! The database URL: where it comes from (`--url` or `DATABASE_URL`), how it
//! is turned into driver options, and how it is shown without its password.
//!
//! `mysql://user:pass@host:port/db?params`, or with several nodes of one
//! cluster, in libpq's convention: `mysql://user:pass@h1:3306,h2:3306/db`.
//! IPv6 literals go in brackets (`[::1]:3306`). Characters of the user
//! name or password that would end their part of the URL (`@ : / ? #`)
//! must be percent-encoded (`%40 %3A %2F %3F %23`).
//!
//! This is the only place that sees the password. Everything printed about a
//! connection goes through [`DbUrl::redacted`]; a URL that does not parse
//! is shown as `redact` says, and no message quotes a parameter's value
//! unless it is a file name or a valid `ssl-mode`.

mod hosts;
mod params;
mod redact;

pub use hosts::Node;
pub use redact::{carries_password, hide_in_usage};

use super::tls::{SslMode, TlsConfig};
use crate::error::{Kind, Result};
use hosts::{parse_hosts, ENCODE_HINT};
use mysql_async::{Opts, OptsBuilder, SslOpts};
use percent_encoding::percent_decode_str;
use redact::redact_unparsed;
use std::path::PathBuf;

/// What must be percent-encoded in a user or database name shown in a URL.
const URL_RESERVED: &percent_encoding::AsciiSet = &percent_encoding::CONTROLS
    .add(b' ')
    .add(b'@')
    .add(b':')
    .add(b'/')
    .add(b'?')
    .add(b'#')
    .add(b'%')
    .add(b',')
    .add(b'[')
    .add(b']');

/// A parsed `mysql://` URL: one or more nodes of the same database.
#[derive(Clone)]
pub struct DbUrl {
    scheme: String,
    user: String,
    password: Option<String>,
    nodes: Vec<Node>,
    /// The URL named a host (otherwise `localhost`, or what the client
    /// defaults say).
    host_given: bool,
    db: String,
    socket: Option<String>,
    tls: TlsConfig,
    /// The URL set `ssl-mode` (otherwise an `ssl-ca` means verify_ca).
    mode_given: bool,
    /// The password holds a `:` that was not percent-encoded.
    colon_in_password: bool,
    /// Where the password came from, for an access-denied message: "the
    /// URL", "the option file ~/.my.cnf, line 3", "MYSQL_PWD", ….
    password_from: Option<String>,
    /// Where the URL came from (`--url`, `DATABASE_URL`, …), if said.
    origin: Option<String>,
    /// Parameters to show, without secrets.
    shown_params: Vec<(String, String)>,
    redacted: String,
}

impl std::fmt::Debug for DbUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("DbUrl").field(&self.redacted).finish()
    }
}

/// Where a bad URL went wrong, for the message.
/// Both escaped for the terminal: a URL may hold any bytes.
fn bad(raw: &str, reason: impl Into<String>) -> crate::Error {
    let shown = |s: &str| crate::shown::shown(s).into_owned();
    Kind::BadUrl {
        url: shown(&redact_unparsed(raw)),
        reason: shown(&reason.into()),
    }
    .into()
}

impl DbUrl {
    /// Parses `mysql://user:pass@host:port/db?params` (several
    /// `host:port` separated by commas for the nodes of a cluster).
    pub fn parse(raw: &str) -> Result<DbUrl> {
        let raw = raw.trim();
        let Some((scheme, rest)) = raw.split_once("://") else {
            return Err(bad(raw, "expected mysql://user:pass@host:port/db"));
        };
        if !matches!(scheme, "mysql" | "mariadb") {
            return Err(bad(
                raw,
                format!("unsupported scheme `{scheme}`; use mysql://user:pass@host:port/db"),
            ));
        }
        if rest.contains('#') {
            return Err(bad(raw, format!("a URL has no `#` part; {ENCODE_HINT}")));
        }
        // An `@` belongs between the user info and the host only: one
        // after them means a password (or user name) with an unencoded
        // `/`, `?` or `@`, which would otherwise be taken for the host,
        // database or a parameter, and shown as one.
        if rest
            .find(['/', '?'])
            .is_some_and(|end| rest[end..].contains('@'))
        {
            return Err(bad(
                raw,
                format!("an `@` after the host part: the password or user name holds a character that is not percent-encoded; {ENCODE_HINT}"),
            ));
        }
        let (before_query, query) = rest.split_once('?').unwrap_or((rest, ""));
        let (authority, path) = match before_query.find('/') {
            Some(i) => before_query.split_at(i),
            None => (before_query, ""),
        };
        let (userinfo, hosts) = match authority.rfind('@') {
            Some(at) => (Some(&authority[..at]), &authority[at + 1..]),
            None => (None, authority),
        };
        if userinfo.is_some_and(|u| u.contains('@')) {
            return Err(bad(
                raw,
                format!("the user name or password holds an `@` that is not percent-encoded; write it as %40 ({ENCODE_HINT})"),
            ));
        }
        // A second `:` is the password's own (RFC 3986 allows it), but it
        // may as well be a mistake: said when the server refuses.
        let colon_in_password = userinfo
            .and_then(|u| u.split_once(':'))
            .is_some_and(|(_, pw)| pw.contains(':'));
        let decode = |what: &str, s: &str| -> Result<String> {
            percent_decode_str(s)
                .decode_utf8()
                .map(|c| c.into_owned())
                .map_err(|_| {
                    bad(
                        raw,
                        format!("the {what} is not valid UTF-8 once percent-decoded"),
                    )
                })
        };
        let (user, password) = match userinfo {
            None => (String::new(), None),
            Some(u) => match u.split_once(':') {
                Some((name, pw)) => (decode("user name", name)?, Some(decode("password", pw)?)),
                None => (decode("user name", u)?, None),
            },
        };
        // Without an `@`, what looks like `host:port` may be `user:password`
        // whose host was left out: then no part of it is quoted back.
        let nodes = parse_hosts(hosts, userinfo.is_some()).map_err(|why| bad(raw, why))?;
        let db = match path.strip_prefix('/') {
            None | Some("") => {
                return Err(bad(
                    raw,
                    "no database name; use mysql://user:pass@host:port/db",
                ))
            }
            Some(p) if p.contains('/') => {
                // (No `@` in it: checked above, so no password either.)
                return Err(bad(
                    raw,
                    format!("unexpected path `{path}`: a URL names one database, as in mysql://user:pass@host:port/db; {ENCODE_HINT}"),
                ));
            }
            Some(p) => decode("database name", p)?,
        };
        let password_from = password.as_ref().map(|_| "the URL".to_string());
        let mut url = DbUrl {
            scheme: scheme.to_string(),
            user,
            password,
            password_from,
            origin: None,
            host_given: !hosts.is_empty(),
            nodes,
            db,
            socket: None,
            tls: TlsConfig::default(),
            mode_given: false,
            colon_in_password,
            shown_params: Vec::new(),
            redacted: String::new(),
        };
        url.params(raw, query)?;
        url.settle(raw)?;
        Ok(url)
    }

    /// Checks the settings together, and works out what they add up to.
    fn settle(&mut self, raw: &str) -> Result<()> {
        if self.tls.ca.is_some() && !self.mode_given {
            // As the mysql client does: a CA given means verify with it.
            self.tls.mode = SslMode::VerifyCa;
        }
        if self.tls.key.is_some() && self.tls.cert.is_none() {
            return Err(bad(raw, "ssl-key needs its certificate, ssl-cert=PATH"));
        }
        if self.socket.is_some() && !matches!(self.tls.mode, SslMode::Preferred | SslMode::Disabled)
        {
            return Err(bad(
                raw,
                format!("ssl-mode={} cannot be used over a Unix socket (socket=), which is local and never encrypted; connect over TCP for TLS", self.tls.mode.name()),
            ));
        }
        self.redacted = self.show();
        Ok(())
    }

    /// The URL as it may be shown: the password (wherever it was given)
    /// replaced by `***`.
    fn show(&self) -> String {
        let enc = |s: &str| percent_encoding::utf8_percent_encode(s, URL_RESERVED).to_string();
        let mut out = format!("{}://", self.scheme);
        if !self.user.is_empty() || self.password.is_some() {
            out.push_str(&enc(&self.user));
            if self.password.is_some() {
                out.push_str(":***");
            }
            out.push('@');
        }
        if self.host_given || self.socket.is_none() {
            let hosts: Vec<String> = self.nodes.iter().map(|n| n.to_string()).collect();
            out.push_str(&hosts.join(","));
        }
        out.push('/');
        out.push_str(&enc(&self.db));
        let params: Vec<String> = self
            .shown_params
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        if !params.is_empty() {
            out.push('?');
            out.push_str(&params.join("&"));
        }
        out
    }

    /// Fills in what the URL leaves out from the client's defaults (an
    /// option file's `[client]` section, a password file, `MYSQL_PWD`):
    /// values the URL gives always win.
    pub fn with_defaults(mut self, d: &ClientDefaults) -> Result<DbUrl> {
        if self.password.is_none() {
            self.password = d.password.clone();
            self.password_from = d.password_from.clone();
        }
        if self.user.is_empty() {
            if let Some(u) = &d.user {
                self.user = u.clone();
            }
        }
        if !self.host_given {
            if let Some(h) = &d.host {
                self.nodes = vec![Node {
                    host: h.clone(),
                    port: d.port.unwrap_or(3306),
                }];
                self.host_given = true;
            } else if let Some(p) = d.port {
                self.nodes[0].port = p;
            }
            if self.socket.is_none() && d.host.is_none() {
                self.socket = d.socket.clone();
            }
        }
        if self.tls.ca.is_none() {
            if let Some(ca) = &d.ssl_ca {
                self.tls.ca = Some(ca.clone());
            }
        }
        let raw = self.redacted.clone();
        self.settle(&raw)?;
        Ok(self)
    }

    /// Reads and checks the TLS files the URL names (`ssl-ca`, `ssl-cert`,
    /// `ssl-key`) before `until`, when TLS may be used (not with
    /// `ssl-mode=disabled`, nor over a socket): a bad one is reported now,
    /// by name, and the driver is given their contents.
    pub fn read_files(mut self, until: std::time::Instant) -> Result<DbUrl> {
        if self.tls.mode != SslMode::Disabled && self.socket.is_none() {
            self.tls.load(until)?;
        }
        Ok(self)
    }

    /// Says where the URL came from (`--url`, `DATABASE_URL`,
    /// `DATABASE_URL in ./.env`), for an access-denied message to say
    /// where its password came from.
    pub fn given_by(mut self, origin: &str) -> DbUrl {
        self.origin = Some(origin.to_string());
        self
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
        &self.db
    }

    /// The user name.
    pub fn user(&self) -> &str {
        &self.user
    }

    /// The nodes, in the order the URL lists them.
    pub fn nodes(&self) -> &[Node] {
        &self.nodes
    }

    /// Node `i` as a message names it: `host:port`, or the socket.
    pub fn node_name(&self, i: usize) -> String {
        match &self.socket {
            Some(s) => s.clone(),
            None => self.nodes[i.min(self.nodes.len() - 1)].to_string(),
        }
    }

    /// The same server and credentials, without a database (to look
    /// around after the database was refused).
    pub(crate) fn without_db(&self) -> DbUrl {
        DbUrl {
            db: String::new(),
            ..self.clone()
        }
    }

    /// The TLS settings.
    pub fn tls(&self) -> &TlsConfig {
        &self.tls
    }

    /// Whether connections go over a Unix socket (never encrypted).
    pub fn over_socket(&self) -> bool {
        self.socket.is_some()
    }

    /// Driver options for node `i`, plaintext. Not public: the driver's
    /// `Debug` output of them includes the password.
    pub(crate) fn opts(&self, i: usize) -> Opts {
        self.opts_tls(i, None)
    }

    /// Driver options for node `i`, with these TLS options.
    pub(crate) fn opts_tls(&self, i: usize, ssl: Option<SslOpts>) -> Opts {
        let node = &self.nodes[i.min(self.nodes.len() - 1)];
        let mut b = OptsBuilder::default()
            .user((!self.user.is_empty()).then(|| self.user.clone()))
            .pass(self.password.clone())
            .db_name((!self.db.is_empty()).then(|| self.db.clone()))
            .ip_or_hostname(node.host.clone())
            .tcp_port(node.port)
            // Reconnecting over the server's socket costs a second
            // handshake on every start; keep the transport the URL names.
            .prefer_socket(false)
            // Values the driver would otherwise ask the server for on every
            // connect; locksmith's packets are far below either limit.
            .max_allowed_packet(Some(16 * 1024 * 1024))
            .wait_timeout(Some(28_800));
        if let Some(sock) = &self.socket {
            b = b.socket(Some(sock.clone()));
        }
        b.ssl_opts(ssl).into()
    }

    /// What to add when the server refuses the password: where the
    /// password came from (or that none was given), and a reason to doubt
    /// it was meant as written, if the URL gives one.
    pub(crate) fn password_doubt(&self) -> Option<String> {
        let from_url = self
            .password_from
            .as_deref()
            .is_some_and(|f| f.starts_with("the URL"));
        let mut out = match (&self.password, &self.password_from) {
            (None, _) => "no password was given (none in the URL, --password-file, MYSQL_PWD or an option file's [client])".to_string(),
            (Some(_), Some(from)) if from_url => match &self.origin {
                Some(origin) => format!("the password came from {from} ({origin})"),
                None => format!("the password came from {from}"),
            },
            (Some(_), Some(from)) => format!("the password came from {from}"),
            (Some(_), None) => return None,
        };
        if self.colon_in_password && from_url {
            out.push_str("; the password in the URL holds a `:` that is not percent-encoded; if it is not part of the password, fix the URL (a `:` in a password is written %3A)");
        }
        Some(out)
    }

    /// Removes the password from a message that may quote it.
    pub fn scrub(&self, msg: &str) -> String {
        scrub(msg, self.password.as_deref())
    }
}

/// What the client's own configuration supplies for what a URL leaves out:
/// the `[client]` section of an option file (`~/.my.cnf`), a password file,
/// `MYSQL_PWD`. See [`super::credentials`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClientDefaults {
    pub user: Option<String>,
    pub password: Option<String>,
    /// Where `password` came from, for messages (`MYSQL_PWD`, `the option
    /// file ~/.my.cnf, line 3`, …).
    pub password_from: Option<String>,
    pub host: Option<String>,
    pub port: Option<u16>,
    pub socket: Option<String>,
    pub ssl_ca: Option<PathBuf>,
}

fn scrub(msg: &str, password: Option<&str>) -> String {
    match password {
        Some(p) if p.len() >= 3 => msg.replace(p, "***"),
        _ => msg.to_string(),
    }
}

#[cfg(test)]
mod tests;
