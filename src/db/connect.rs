//! Connecting, and turning driver errors into messages an operator can act
//! on: server unreachable, access denied, no such database, missing table.
//!
//! Every connection runs locksmith's session setup first, in the same round
//! trip that learns what the server is: strict `sql_mode` on every session,
//! and on a Galera node, causal reads (`wsrep_sync_wait`), so that a read
//! that drives a decision sees every write the cluster committed before it.
//! One node at a time: [`super::failover`] goes through the nodes of a
//! URL, and [`super::tls_memory`] spares `ssl-mode=preferred` a wasted TLS
//! attempt on a server known to have none.

use super::deadline::Deadline;
use super::sql;
use super::tls::{self, SslMode};
use super::tls_memory::{self, Offer};
use super::url::DbUrl;
use super::Reporter;
use crate::error::{Error, Kind, Result};
use mysql_async::prelude::Queryable;
use mysql_async::Conn;
use std::time::Duration;

/// What kind of server a connection reached.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Flavour {
    /// MariaDB, not MySQL (see [`is_mariadb`]).
    pub(crate) mariadb: bool,
    /// A Galera cluster node (`@@wsrep_on`).
    pub(crate) galera: bool,
}

/// An open, set-up connection and the node it reached.
pub(crate) struct Connected {
    pub(crate) conn: Conn,
    /// Index of the node in the URL.
    pub(crate) node: usize,
    pub(crate) flavour: Flavour,
}

/// Why a node could not be connected to.
pub(crate) enum Failure {
    /// It did not answer within this long.
    Silent(Duration),
    /// No time was left to try.
    NoTime,
    /// It answered, or the attempt failed, with this error.
    Failed(Error),
}

impl Failure {
    /// The failure as an error of its own: what a URL with one node says.
    pub(crate) fn into_error(self, url: &DbUrl, i: usize) -> Error {
        match self {
            Failure::Silent(after) => Kind::Unreachable {
                url: shown(url, i),
                reason: format!("no answer within {:.1}s", after.as_secs_f64()),
            }
            .into(),
            Failure::NoTime => Kind::Lost("no time was left to connect again".into()).into(),
            Failure::Failed(e) => e,
        }
    }
}

/// The URL as a message names it, with node `i` when it has several.
fn shown(url: &DbUrl, i: usize) -> String {
    match url.nodes().len() {
        1 => url.redacted().to_string(),
        _ => format!("{} (node {})", url.redacted(), url.nodes()[i]),
    }
}

/// Opens and sets up one connection to node `i`, within `limit` (or the
/// deadline, if sooner).
pub(crate) async fn connect_node(
    url: &DbUrl,
    i: usize,
    limit: Duration,
    d: Deadline,
    report: Option<&Reporter>,
) -> Result<(Conn, Flavour)> {
    try_node(url, i, d.bound(limit), d, report)
        .await
        .map_err(|f| f.into_error(url, i))
}

/// Opens and sets up one connection to node `i` within `limit`, saying why
/// not. `d` bounds the reading of the client's files (which the driver
/// would do on this thread).
pub(crate) async fn try_node(
    url: &DbUrl,
    i: usize,
    limit: Duration,
    d: Deadline,
    report: Option<&Reporter>,
) -> std::result::Result<(Conn, Flavour), Failure> {
    let limit = d.bound(limit);
    if limit.is_zero() {
        return Err(Failure::NoTime);
    }
    let attempt = async {
        let (mut conn, tls) = open(url, i, d).await?;
        let flavour = set_up(&mut conn).await?;
        if let Some(report) = report {
            report(&describe(&mut conn, url, i, tls, flavour).await?);
        }
        Ok::<_, Error>((conn, flavour))
    };
    let started = std::time::Instant::now();
    match tokio::time::timeout(limit, attempt).await {
        Ok(Ok(done)) => Ok(done),
        Ok(Err(e)) => Err(Failure::Failed(match e.kind() {
            Kind::Unreachable { reason, .. } if reason.contains("failed to lookup address") => {
                let kind = Kind::UnknownHost {
                    url: shown(url, i),
                    host: url.nodes()[i].host.clone(),
                    reason: reason.clone(),
                };
                e.with_kind(kind)
            }
            Kind::Unreachable { reason, .. } => {
                let kind = Kind::Unreachable {
                    url: shown(url, i),
                    reason: reason.clone(),
                };
                e.with_kind(kind)
            }
            _ if e.server_code() == Some(1044) => {
                let left = limit.saturating_sub(started.elapsed());
                tokio::time::timeout(left, denied_database(url, i, d))
                    .await
                    .unwrap_or(None)
                    .unwrap_or(e)
            }
            _ => e,
        })),
        Err(_) => Err(Failure::Silent(limit)),
    }
}

/// Opens a connection to node `i` as the URL's `ssl-mode` says: with
/// `preferred`, plaintext only when the server has no TLS (see
/// [`tls_memory::open_preferred`]); with
/// `verify_ca`, the chain verified but any name. Says whether it is
/// encrypted.
async fn open(url: &DbUrl, i: usize, d: Deadline) -> Result<(Conn, bool)> {
    let tls = url.tls();
    let mode = if url.over_socket() {
        SslMode::Disabled
    } else {
        tls.mode
    };
    if mode != SslMode::Disabled {
        tls.check_files(d)?;
    }
    if mode == SslMode::Preferred {
        return tls_memory::open_preferred(url, i).await;
    }
    let key = tls_memory::key(&url.nodes()[i]);
    let e = match Conn::new(url.opts_tls(i, tls.ssl_opts(mode, None))).await {
        Ok(c) if mode == SslMode::Disabled => return Ok((c, false)),
        Ok(c) => {
            tls_memory::learn(&key, Offer::Tls).await;
            return Ok((c, true));
        }
        Err(e) => e,
    };
    if tls::server_has_none(&e) {
        tls_memory::learn(&key, Offer::NoTls).await;
    }
    if mode == SslMode::VerifyCa {
        // The chain verified (rustls checks it before the name): check it
        // again, in full, against a name the certificate holds.
        if let Some(name) = tls::name_in_certificate(&e) {
            return match Conn::new(url.opts_tls(i, tls.ssl_opts(mode, Some(&name)))).await {
                Ok(c) => Ok((c, true)),
                Err(e) => Err(refused(url, i, e, mode).await),
            };
        }
    }
    Err(refused(url, i, e, mode).await)
}

/// A failed connect in words: what TLS refused, an account that must use
/// TLS, or what [`classify`] makes of it.
pub(super) async fn refused(url: &DbUrl, i: usize, e: mysql_async::Error, mode: SslMode) -> Error {
    if let Some((what, hint)) = tls::refusal(&e, url.tls(), mode, &url.nodes()[i].host) {
        return driver_error(
            Kind::TlsRefused {
                url: url.redacted().to_string(),
                what,
                hint,
            },
            e,
        );
    }
    let denied = matches!(&e, mysql_async::Error::Server(se) if se.code == 1045);
    if denied && mode == SslMode::Disabled && !url.over_socket() {
        // The server says the same to a wrong password and to an account
        // created REQUIRE SSL that came without TLS: the same credentials
        // over TLS tell them apart.
        let ssl = url.tls().ssl_opts(SslMode::Required, None);
        if let Ok(c) = Conn::new(url.opts_tls(i, ssl)).await {
            let _ = c.disconnect().await;
            return driver_error(
                Kind::NeedsTls {
                    url: url.redacted().to_string(),
                    user: url.user().to_string(),
                },
                e,
            );
        }
    }
    classify(e, Some(url))
}

/// What a connection reached, for `--verbose`.
#[derive(Clone, Debug)]
pub struct Reached {
    /// The URL, password hidden.
    pub url: String,
    /// The node (`host:port`, or the socket).
    pub node: String,
    /// `MariaDB 11.8.3`, `MySQL 8.0.39`; `(Galera)` for a cluster node.
    pub server: String,
    /// The TLS version and cipher, or `None` for plaintext.
    pub tls: Option<String>,
}

async fn describe(
    conn: &mut Conn,
    url: &DbUrl,
    i: usize,
    tls: bool,
    f: Flavour,
) -> Result<Reached> {
    let (a, b, c) = conn.server_version();
    let server = format!(
        "{} {a}.{b}.{c}{}",
        if f.mariadb { "MariaDB" } else { "MySQL" },
        if f.galera { " (Galera)" } else { "" }
    );
    let mut version = String::new();
    let mut cipher = String::new();
    if tls {
        let rows: Vec<mysql_async::Row> = conn.query(sql::SESSION_TLS).await?;
        for row in rows {
            let mut c = super::value::Cells::new(super::value::Record(row), "SESSION STATUS");
            let name: String = c.take(0, "Variable_name")?;
            let value: String = c.take(1, "Value")?;
            match name.as_str() {
                "Ssl_version" => version = value,
                "Ssl_cipher" => cipher = value,
                _ => {}
            }
        }
    }
    Ok(Reached {
        url: url.redacted().to_string(),
        node: url.node_name(i),
        server,
        tls: (!version.is_empty()).then(|| format!("{version}, {cipher}")),
    })
}

/// After "access denied to database" (1044), which the server says both
/// for a database that does not exist and for one the user may not use:
/// connects without a database (the password is right, or 1044 would have
/// been 1045) and looks for it. Visible: the user lacks privileges on it.
/// Not visible: it does not exist (or the user may not even see it, which
/// the message says too). `None` when the probe itself fails.
async fn denied_database(url: &DbUrl, i: usize, d: Deadline) -> Option<Error> {
    let (mut conn, _) = open(&url.without_db(), i, d).await.ok()?;
    let seen: Option<i64> = conn
        .exec_first(sql::SCHEMA_EXISTS, (url.db_name(),))
        .await
        .ok()?;
    let _ = conn.disconnect().await;
    Some(if seen.unwrap_or(0) > 0 {
        Kind::NoPrivileges {
            url: url.redacted().to_string(),
            db: url.db_name().to_string(),
            user: url.user().to_string(),
        }
        .into()
    } else {
        Kind::NoDatabase {
            url: url.redacted().to_string(),
            db: url.db_name().to_string(),
            sure: false,
        }
        .into()
    })
}

/// Runs the session setup, learning in the same round trip whether this is
/// a Galera node.
async fn set_up(conn: &mut Conn) -> Result<Flavour> {
    let mariadb = is_mariadb(conn);
    if !mariadb {
        conn.query_drop(sql::SESSION_SETUP_MYSQL).await?;
        return Ok(Flavour::default());
    }
    let mut result = conn.query_iter(sql::SESSION_SETUP_MARIADB).await?;
    let mut galera = false;
    while !result.is_empty() {
        let rows: Vec<mysql_async::Row> = result.collect().await?;
        if let Some(row) = rows.into_iter().next() {
            galera = row.get_opt::<i64, _>(0).and_then(|r| r.ok()) == Some(1);
        }
    }
    Ok(Flavour { mariadb, galera })
}

/// Maps a driver error to an [`Error`] that says what failed and what to do.
/// `url` supplies the redacted URL for connection errors.
pub(crate) fn classify(e: mysql_async::Error, url: Option<&DbUrl>) -> Error {
    let shown = url
        .map(|u| u.redacted().to_string())
        .unwrap_or_else(|| "the server".into());
    let scrub = |s: String| match url {
        Some(u) => u.scrub(&s),
        None => s,
    };
    let kind = match &e {
        mysql_async::Error::Server(se) => match se.code {
            1044 | 1045 | 1698 => Kind::AccessDenied {
                url: shown,
                reason: match url.and_then(DbUrl::password_doubt) {
                    Some(doubt) => format!("{}; {doubt}", scrub(se.message.clone())),
                    None => scrub(se.message.clone()),
                },
            },
            1049 => Kind::NoDatabase {
                url: shown,
                db: url.map(|u| u.db_name().to_string()).unwrap_or_default(),
                sure: true,
            },
            1146 => Kind::NoTable(table_from_message(&se.message)),
            c if TRANSIENT.contains(&c) => {
                Kind::Transient(scrub(format!("{} (error {c})", se.message)))
            }
            c if LOST.contains(&c) => Kind::Lost(scrub(format!("{} (error {c})", se.message))),
            _ => Kind::Db(scrub(format!("{} (error {})", se.message, se.code))),
        },
        mysql_async::Error::Io(io) if url.is_some() => Kind::Unreachable {
            url: shown,
            reason: scrub(io.to_string()),
        },
        mysql_async::Error::Io(io) => Kind::Lost(io.to_string()),
        mysql_async::Error::Driver(mysql_async::DriverError::ConnectionClosed) => {
            Kind::Lost("the connection was closed".into())
        }
        other => Kind::Db(scrub(other.to_string())),
    };
    driver_error(kind, e)
}

/// An error of `kind` caused by the driver's `e`, with what other layers
/// decide by (the server's code and message, the kind of I/O error) taken
/// from it here, where the driver's types are known.
fn driver_error(kind: Kind, e: mysql_async::Error) -> Error {
    let driver = crate::error::Driver {
        server: match &e {
            mysql_async::Error::Server(se) => Some((se.code, se.message.clone())),
            _ => None,
        },
        io: match &e {
            mysql_async::Error::Io(mysql_async::IoError::Io(io)) => Some(io.kind()),
            _ => None,
        },
    };
    Error::with_source(kind, e).with_driver(driver)
}

impl From<mysql_async::Error> for Error {
    fn from(e: mysql_async::Error) -> Self {
        classify(e, None)
    }
}

/// Server errors after which nothing landed and trying again may work: a
/// deadlock or a write conflict between cluster nodes (1213), a lock wait
/// timeout (1205), a cluster node not ready for queries (1047).
const TRANSIENT: [u16; 3] = [1213, 1205, 1047];

/// Server errors that end the session: shutdown in progress (1053), the
/// connection was killed (1927), gone away (2006), lost during a query
/// (2013), closed for inactivity (4031).
const LOST: [u16; 5] = [1053, 1927, 2006, 2013, 4031];

/// The bare table name out of "Table 'db.locks' doesn't exist".
fn table_from_message(msg: &str) -> String {
    msg.split('\'')
        .nth(1)
        .map(|q| q.rsplit('.').next().unwrap_or(q).to_string())
        .unwrap_or_else(|| msg.to_string())
}

/// True when the server is MariaDB. MariaDB announces itself in the
/// handshake (`5.5.5-10.11.6-MariaDB`), which the driver parses to a
/// version of 10 or more; MySQL's versions are 5.x, 8.x and 9.x.
///
/// It matters for two things: the server-side splice of a lock write is
/// used (and tested) on MariaDB only, and only MariaDB has Galera's
/// `wsrep` settings.
pub(crate) fn is_mariadb(conn: &Conn) -> bool {
    server_is_mariadb(conn.server_version())
}

fn server_is_mariadb(version: (u16, u16, u16)) -> bool {
    version.0 >= 10
}

#[cfg(test)]
mod tests {
    #[test]
    fn mariadb_is_told_from_mysql_by_version() {
        assert!(super::server_is_mariadb((10, 11, 19)));
        assert!(super::server_is_mariadb((11, 4, 2)));
        assert!(!super::server_is_mariadb((8, 0, 39)));
        assert!(!super::server_is_mariadb((9, 1, 0)));
        assert!(!super::server_is_mariadb((5, 7, 44)));
    }

    #[test]
    fn table_name_from_message() {
        assert_eq!(
            super::table_from_message("Table 'app.locks' doesn't exist"),
            "locks"
        );
    }
}
