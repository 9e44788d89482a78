//! One connection that survives being cut off mid-statement.
//!
//! A statement whose reply never arrives (the connection broke, or the
//! future running it was dropped: Ctrl-C, a timeout) may still be running on
//! the server. Reading the row then could show it from before a write that
//! is about to land, and repeating the write could apply it twice. So a
//! connection given up on mid-statement is not reused: the next statement
//! (of the same [`Lease`] or of the next one) opens a new one and first
//! *settles* the old session (`KILL CONNECTION`,
//! then waits until the server has dropped it). After that, whatever it was
//! running has committed or rolled back, and a read tells the truth.

use super::connect::{connect_node, Flavour};
use super::deadline;
use super::failover::connect;
use super::sql;
use super::url::DbUrl;
use super::value::Cells;
use crate::error::{Error, Kind, Result};
use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Row};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long each connect and each statement may take, unless the deadline
/// in force comes sooner (see [`super::deadline`]).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// A connection of its own, replaced (and the old session settled) when it
/// breaks. Operations take turns through [`Session::lease`].
pub(crate) struct Session {
    url: DbUrl,
    timeout: Duration,
    slot: Arc<tokio::sync::Mutex<Slot>>,
    flavour: Flavour,
}

struct Slot {
    /// Where to connect again when `conn` is given up on.
    url: DbUrl,
    conn: Option<Conn>,
    /// The node `conn` is connected to (index in the URL); the next
    /// connection tries it first.
    node: usize,
    galera: bool,
    timeout: Duration,
    last_used: Instant,
    /// A statement was sent on `conn` and its reply not yet read. Still set
    /// when a lease is dropped: the operation's future was dropped
    /// mid-statement, so `conn` is out of step with the server.
    in_flight: bool,
    /// A session of ours, given up on while a statement of it may still be
    /// running on the server. The next connection ends it and waits until
    /// it is gone before anything reads or writes (see [`settle`]).
    unsettled: Option<Abandoned>,
}

/// A session given up on: its id, its node, and when.
#[derive(Clone, Copy)]
struct Abandoned {
    id: u32,
    node: usize,
    galera: bool,
    at: Instant,
}

impl Slot {
    /// Gives up on the connection; if it may have a statement running, its
    /// session is settled before the next one is used.
    fn abandon(&mut self) {
        if let Some(c) = self.conn.take() {
            if self.in_flight || self.unsettled.is_none() {
                self.unsettled = Some(Abandoned {
                    id: c.id(),
                    node: self.node,
                    galera: self.galera,
                    at: Instant::now(),
                });
            }
        }
        self.in_flight = false;
    }
}

/// How long to wait for an abandoned session to end on the server.
const SETTLE_TIMEOUT: Duration = Duration::from_secs(10);

/// Idle time after which a connection is pinged before use: the server may
/// have closed it (`wait_timeout`) in the meantime.
const IDLE_PING: Duration = Duration::from_secs(30);

impl Session {
    /// Connects (in strict mode). Each connect and statement later may take
    /// `timeout` at most.
    pub(crate) async fn open(url: &DbUrl, timeout: Duration) -> Result<Session> {
        Session::open_at(url, timeout, 0).await
    }

    /// Connects to node `first` of the URL (or the next that answers).
    pub(crate) async fn open_at(url: &DbUrl, timeout: Duration, first: usize) -> Result<Session> {
        let c = connect(url, timeout, first).await?;
        Ok(Session {
            url: url.clone(),
            timeout,
            flavour: c.flavour,
            slot: Arc::new(tokio::sync::Mutex::new(Slot {
                url: url.clone(),
                conn: Some(c.conn),
                node: c.node,
                galera: c.flavour.galera,
                timeout,
                last_used: Instant::now(),
                in_flight: false,
                unsettled: None,
            })),
        })
    }

    /// The URL this session connects to.
    pub(crate) fn url(&self) -> &DbUrl {
        &self.url
    }

    /// The per-connect, per-statement limit.
    pub(crate) fn timeout(&self) -> Duration {
        self.timeout
    }

    /// True when the server is MariaDB (see [`super::connect::is_mariadb`]).
    pub(crate) fn is_mariadb(&self) -> bool {
        self.flavour.mariadb
    }

    /// True when the server is a Galera cluster node.
    pub(crate) fn is_galera(&self) -> bool {
        self.flavour.galera
    }

    /// The node the session is connected to now (index in the URL).
    pub(crate) async fn node(&self) -> usize {
        self.slot.lock().await.node
    }

    /// Closes the connection cleanly (once nobody is using it), within the
    /// per-statement limit.
    pub(crate) async fn close(&self) -> Result<()> {
        let mut slot = self.slot.lock().await;
        match slot.conn.take() {
            Some(c) => {
                match tokio::time::timeout(deadline::bound(self.timeout), c.disconnect()).await {
                    Ok(r) => r.map_err(Error::from),
                    Err(_) => Ok(()),
                }
            }
            None => Ok(()),
        }
    }

    /// Exclusive use of the connection, reconnecting if it broke or went
    /// stale. A connection given up on mid-statement has its session settled
    /// first, so nothing reads while that statement may still land.
    pub(crate) async fn lease(&self) -> Result<Lease> {
        let mut slot = self.slot.clone().lock_owned().await;
        slot.ready().await?;
        Ok(Lease { slot })
    }
}

impl Slot {
    /// Makes `conn` usable: gives up on one cut off mid-statement or
    /// broken, pings one that idled long, and connects again when there is
    /// none, settling the old session first.
    async fn ready(&mut self) -> Result<()> {
        // An operation cut off mid-statement (a dropped future) or a broken
        // connection: the statement it sent may or may not run.
        if self.in_flight || self.conn.as_ref().is_some_and(|c| c.is_disconnected()) {
            self.abandon();
        }
        // After a long idle spell the server may have closed it; nothing
        // was running on it, so there is nothing to settle.
        if self.last_used.elapsed() > IDLE_PING {
            if let Some(c) = self.conn.as_mut() {
                let limit = deadline::bound(self.timeout);
                if !matches!(tokio::time::timeout(limit, c.ping()).await, Ok(Ok(()))) {
                    self.conn = None;
                }
            }
        }
        if self.conn.is_none() {
            let mut c = connect(&self.url, self.timeout, self.node).await?;
            if let Some(old) = self.unsettled {
                self.settle(&mut c, old).await?;
                self.unsettled = None;
            }
            self.node = c.node;
            self.galera = c.flavour.galera;
            self.conn = Some(c.conn);
        }
        Ok(())
    }

    /// Settles `old` before anything reads or writes through `c`: ends it
    /// on its own node (through `c` when that is the node, else through a
    /// connection of its own). A Galera node that cannot be reached needs
    /// nothing: its write either was certified, and every node applies it,
    /// or it never will be, and the causal reads of this session wait until
    /// the cluster has decided which.
    async fn settle(&self, c: &mut super::connect::Connected, old: Abandoned) -> Result<()> {
        if c.node == old.node {
            return settle(&mut c.conn, old, self.timeout).await;
        }
        match connect_node(&self.url, old.node, self.timeout.min(OTHER_NODE)).await {
            Ok((mut there, _)) => {
                let settled = settle(&mut there, old, self.timeout).await;
                let _ = tokio::time::timeout(deadline::bound(OTHER_NODE), there.disconnect()).await;
                settled
            }
            Err(_) if old.galera => Ok(()),
            Err(e) => Err(e),
        }
    }
}

/// How long to try a node other than the one connected to, to settle a
/// session there.
const OTHER_NODE: Duration = Duration::from_secs(2);

/// Ends session `old` (ours, abandoned while a statement of it may still be
/// running) and waits until the server has dropped it, so that whatever it
/// was running has committed or rolled back. A server that restarted since
/// has no session of before, and reuses their ids for new ones: then there
/// is nothing to end, and nothing must be.
async fn settle(c: &mut Conn, old: Abandoned, limit: Duration) -> Result<()> {
    let uptime = bounded(limit, scalar(c, sql::SERVER_UPTIME, ())).await?;
    if uptime.is_some_and(|up| up < 0 || up as u64 <= old.at.elapsed().as_secs()) {
        return Ok(());
    }
    let id = old.id;
    let kill = async {
        c.query_drop(sql::kill_connection(id))
            .await
            .map_err(Error::from)
    };
    match bounded(limit, kill).await {
        // 1094: no such session (it is gone already); 1095: the id now
        // belongs to someone else's session, so ours is gone too.
        Err(e) if !matches!(e.server_code(), Some(1094 | 1095)) => return Err(e),
        _ => {}
    }
    let until = Instant::now() + SETTLE_TIMEOUT;
    loop {
        if bounded(limit, scalar(c, sql::SESSION_EXISTS, (id,)))
            .await?
            .unwrap_or(0)
            == 0
        {
            return Ok(());
        }
        if Instant::now() > until || deadline::remaining().is_some_and(|r| r.is_zero()) {
            return Err(Kind::Lost(format!(
                "an earlier session ({id}), cut off mid-statement, is still running on the server after {:.1}s",
                old.at.elapsed().as_secs_f64()
            ))
            .into());
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// `f` within `limit` (or the deadline, if sooner).
async fn bounded<T>(limit: Duration, f: impl std::future::Future<Output = Result<T>>) -> Result<T> {
    tokio::time::timeout(deadline::bound(limit), f)
        .await
        .unwrap_or_else(|_| Err(Kind::Lost("the server did not answer".into()).into()))
}

/// One number from a statement on a bare connection.
async fn scalar<P>(c: &mut Conn, stmt: &str, params: P) -> Result<Option<i64>>
where
    P: Into<mysql_async::Params> + Send,
{
    match c.exec_first::<Row, _, _>(stmt, params).await? {
        Some(row) => Cells::new(row, "a status query").take::<Option<i64>>(0, "value"),
        None => Ok(None),
    }
}

/// One statement's result in a batch ([`Lease::query_sets`]).
#[derive(Debug, Default)]
pub(crate) struct ResultSet {
    /// The columns as the server described them (empty for a statement
    /// that returns no result set).
    pub columns: std::sync::Arc<[mysql_async::Column]>,
    /// The rows.
    pub rows: Vec<Row>,
}

/// Exclusive use of the session's connection for one step of an operation.
///
/// Statements run through its methods, which mark the connection in flight
/// until the reply is read: a future dropped mid-statement leaves the mark,
/// and the next lease then replaces the connection and settles its session
/// instead of reading a stale reply or guessing about a write that may
/// still land.
pub(crate) struct Lease {
    slot: tokio::sync::OwnedMutexGuard<Slot>,
}

/// Runs one statement on a lease's connection with the in-flight mark set,
/// within the per-statement limit. A statement that runs out of time stays
/// marked in flight: its connection is given up on and settled.
macro_rules! tracked {
    ($lease:expr, |$c:ident| $call:expr) => {{
        let slot = &mut *$lease.slot;
        // A statement of this lease failed and its connection was given
        // up on (or was cut off): the next one connects again, settling
        // the old session first.
        if slot.conn.is_none() || slot.in_flight {
            slot.ready().await?;
        }
        let limit = deadline::bound(slot.timeout);
        match slot.conn.as_mut() {
            None => Err(Kind::Lost("no connection".into()).into()),
            Some($c) => {
                slot.in_flight = true;
                match tokio::time::timeout(limit, $call).await {
                    Ok(r) => {
                        slot.in_flight = false;
                        r.map_err(Error::from)
                    }
                    Err(_) => Err(Kind::Lost(format!(
                        "no answer within {:.1}s",
                        limit.as_secs_f64()
                    ))
                    .into()),
                }
            }
        }
    }};
}

impl Lease {
    /// Drops the connection instead of keeping it: after it broke, or when
    /// the outcome of what was sent on it is unknown.
    pub(crate) fn discard(&mut self) {
        self.slot.abandon();
    }

    /// Rows changed by the last statement (0 once its connection was
    /// given up on).
    pub(crate) fn affected_rows(&self) -> u64 {
        self.slot.conn.as_ref().map_or(0, |c| c.affected_rows())
    }

    /// `LAST_INSERT_ID()` as reported by the last statement's OK packet.
    pub(crate) fn last_insert_id(&self) -> Option<u64> {
        self.slot.conn.as_ref().and_then(|c| c.last_insert_id())
    }

    /// Runs a prepared statement, discarding any result.
    pub(crate) async fn exec_drop<P>(&mut self, stmt: &str, params: P) -> Result<()>
    where
        P: Into<mysql_async::Params> + Send,
    {
        tracked!(self, |c| c.exec_drop(stmt, params))
    }

    /// Runs a prepared statement, returning its rows.
    pub(crate) async fn exec_rows<P>(&mut self, stmt: &str, params: P) -> Result<Vec<Row>>
    where
        P: Into<mysql_async::Params> + Send,
    {
        tracked!(self, |c| c.exec(stmt, params))
    }

    /// Runs a prepared statement, returning its first row.
    pub(crate) async fn exec_first_row<P>(&mut self, stmt: &str, params: P) -> Result<Option<Row>>
    where
        P: Into<mysql_async::Params> + Send,
    {
        tracked!(self, |c| c.exec_first(stmt, params))
    }

    /// Runs a text statement, discarding any result.
    pub(crate) async fn query_drop(&mut self, stmt: &str) -> Result<()> {
        tracked!(self, |c| c.query_drop(stmt))
    }

    /// Runs a text statement, returning its rows.
    pub(crate) async fn query_rows(&mut self, stmt: &str) -> Result<Vec<Row>> {
        tracked!(self, |c| c.query(stmt))
    }

    /// Runs several statements in one round trip (`a; b; c`), returning
    /// each one's result: its columns as the server described them (none
    /// for a statement without a result set, such as `SET`) and its rows.
    /// Only for statements that cannot fail on their own (reads of tables
    /// known to exist): after a failure midway through the batch the driver
    /// may be out of step with the server, and session settings the batch
    /// changed may stay changed, so the connection is dropped, and the next
    /// statement connects afresh.
    pub(crate) async fn query_sets(&mut self, stmts: &str) -> Result<Vec<ResultSet>> {
        let sets = tracked!(self, |c| async move {
            let mut result = c.query_iter(stmts).await?;
            let mut sets = Vec::new();
            while !result.is_empty() {
                let columns = result.columns().unwrap_or_else(|| Vec::new().into());
                sets.push(ResultSet {
                    columns,
                    rows: result.collect::<Row>().await?,
                });
            }
            Ok::<_, mysql_async::Error>(sets)
        });
        if sets.is_err() {
            self.discard();
        }
        sets
    }

    /// Runs a prepared statement that returns one number (a `COUNT(*)`, a
    /// `GET_LOCK`); `None` for no row or NULL.
    pub(crate) async fn exec_number<P>(
        &mut self,
        stmt: &str,
        params: P,
        what: &'static str,
    ) -> Result<Option<i64>>
    where
        P: Into<mysql_async::Params> + Send,
    {
        match self.exec_first_row(stmt, params).await? {
            Some(row) => Cells::new(row, what).take::<Option<i64>>(0, "result"),
            None => Ok(None),
        }
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.slot.last_used = Instant::now();
    }
}
