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
use super::deadline::Deadline;
use super::failover::connect;
use super::sql;
use super::url::DbUrl;
use super::value::{Cells, Record};

mod lease;

use super::ConnectOptions;
use crate::error::{Error, Kind, Result};
pub(crate) use lease::Lease;
use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Row};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long each connect and each statement may take, unless the deadline
/// of the operation comes sooner (see [`super::deadline`]).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// A connection of its own, replaced (and the old session settled) when it
/// breaks. Operations take turns through [`Session::lease`]; clones share
/// the connection.
#[derive(Clone)]
pub(crate) struct Session {
    url: DbUrl,
    opts: ConnectOptions,
    slot: Arc<tokio::sync::Mutex<Slot>>,
    flavour: Flavour,
}

struct Slot {
    /// Where and how to connect again when `conn` is given up on.
    url: DbUrl,
    opts: ConnectOptions,
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
    /// Connects (in strict mode) to node `opts.first_node` of the URL, or
    /// the next that answers, by `d`. Each connect and statement later may
    /// take `opts.timeout` at most.
    pub(crate) async fn open(url: &DbUrl, opts: &ConnectOptions, d: Deadline) -> Result<Session> {
        let c = connect(url, opts, d, opts.first_node).await?;
        Ok(Session {
            url: url.clone(),
            opts: opts.clone(),
            flavour: c.flavour,
            slot: Arc::new(tokio::sync::Mutex::new(Slot {
                url: url.clone(),
                opts: opts.clone(),
                conn: Some(c.conn),
                node: c.node,
                galera: c.flavour.galera,
                timeout: opts.timeout,
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
        self.opts.timeout
    }

    /// How it connects.
    pub(crate) fn options(&self) -> &ConnectOptions {
        &self.opts
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
    /// per-statement limit or by `d`.
    pub(crate) async fn close(&self, d: Deadline) -> Result<()> {
        let mut slot = self.slot.lock().await;
        match slot.conn.take() {
            Some(c) => {
                match tokio::time::timeout(d.bound(self.opts.timeout), c.disconnect()).await {
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
    /// Its statements end by `d`.
    pub(crate) async fn lease(&self, d: Deadline) -> Result<Lease> {
        let mut slot = self.slot.clone().lock_owned().await;
        slot.ready(d).await?;
        Ok(Lease::new(slot, d))
    }
}

impl Slot {
    /// Connects again if the last statement left no usable connection (it
    /// failed and was given up on, or was cut off mid-statement).
    async fn ready_if_needed(&mut self, d: Deadline) -> Result<()> {
        if self.conn.is_none() || self.in_flight {
            self.ready(d).await?;
        }
        Ok(())
    }

    /// Makes `conn` usable: gives up on one cut off mid-statement or
    /// broken, pings one that idled long, and connects again when there is
    /// none, settling the old session first.
    async fn ready(&mut self, d: Deadline) -> Result<()> {
        // An operation cut off mid-statement (a dropped future) or a broken
        // connection: the statement it sent may or may not run.
        if self.in_flight || self.conn.as_ref().is_some_and(|c| c.is_disconnected()) {
            self.abandon();
        }
        // After a long idle spell the server may have closed it; nothing
        // was running on it, so there is nothing to settle.
        if self.last_used.elapsed() > IDLE_PING {
            if let Some(c) = self.conn.as_mut() {
                let limit = d.bound(self.timeout);
                if !matches!(tokio::time::timeout(limit, c.ping()).await, Ok(Ok(()))) {
                    self.conn = None;
                }
            }
        }
        if self.conn.is_none() {
            let mut c = connect(&self.url, &self.opts, d, self.node).await?;
            if let Some(old) = self.unsettled {
                self.settle(&mut c, old, d).await?;
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
    async fn settle(
        &self,
        c: &mut super::connect::Connected,
        old: Abandoned,
        d: Deadline,
    ) -> Result<()> {
        if c.node == old.node {
            return settle(&mut c.conn, old, d.bound(self.timeout), d).await;
        }
        let report = self.opts.report.as_ref();
        let limit = self.timeout.min(OTHER_NODE);
        match connect_node(&self.url, old.node, limit, d, report).await {
            Ok((mut there, _)) => {
                let settled = settle(&mut there, old, d.bound(self.timeout), d).await;
                let _ = tokio::time::timeout(d.bound(OTHER_NODE), there.disconnect()).await;
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
async fn settle(c: &mut Conn, old: Abandoned, limit: Duration, d: Deadline) -> Result<()> {
    let uptime = bounded(d.bound(limit), scalar(c, sql::SERVER_UPTIME, ())).await?;
    if uptime.is_some_and(|up| up < 0 || up as u64 <= old.at.elapsed().as_secs()) {
        return Ok(());
    }
    let id = old.id;
    let kill = async {
        c.query_drop(sql::kill_connection(id))
            .await
            .map_err(Error::from)
    };
    match bounded(d.bound(limit), kill).await {
        // 1094: no such session (it is gone already); 1095: the id now
        // belongs to someone else's session, so ours is gone too.
        Err(e) if !matches!(e.server_code(), Some(1094 | 1095)) => return Err(e),
        _ => {}
    }
    let until = Instant::now() + SETTLE_TIMEOUT;
    loop {
        if bounded(d.bound(limit), scalar(c, sql::SESSION_EXISTS, (id,)))
            .await?
            .unwrap_or(0)
            == 0
        {
            return Ok(());
        }
        if Instant::now() > until || d.passed() {
            return Err(Kind::Lost(format!(
                "an earlier session ({id}), cut off mid-statement, is still running on the server after {:.1}s",
                old.at.elapsed().as_secs_f64()
            ))
            .into());
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// `f` within `limit`.
async fn bounded<T>(limit: Duration, f: impl std::future::Future<Output = Result<T>>) -> Result<T> {
    tokio::time::timeout(limit, f)
        .await
        .unwrap_or_else(|_| Err(Kind::Lost("the server did not answer".into()).into()))
}

/// One number from a statement on a bare connection.
async fn scalar<P>(c: &mut Conn, stmt: &str, params: P) -> Result<Option<i64>>
where
    P: Into<mysql_async::Params> + Clone + Send,
{
    match c.exec_first::<Row, _, _>(stmt, params).await? {
        Some(row) => Cells::new(Record(row), "a status query").take::<Option<i64>>(0, "value"),
        None => Ok(None),
    }
}
