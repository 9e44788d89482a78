//! A lease: exclusive use of a session's connection for one step of an
//! operation. Its statements are bounded by its deadline, marked in flight
//! until their reply is read (so that a connection cut off mid-statement is
//! settled before anything else uses it), and, while a [`Retrying`] says
//! so, retried by a policy of [`crate::db::retry`].

use super::super::deadline::Deadline;
use super::super::retry::{Failure, Policy, Retry};
use super::super::value::{Cells, Record};
use super::Slot;
use crate::error::{Error, Kind, Result};
use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Row};

/// One statement's result in a batch ([`Lease::query_sets`]).
#[derive(Default)]
pub(crate) struct ResultSet {
    /// The columns as the server described them (empty for a statement
    /// that returns no result set).
    columns: std::sync::Arc<[mysql_async::Column]>,
    /// The rows.
    pub rows: Vec<Record>,
}

impl ResultSet {
    /// Whether the statement returned a result set (a `SET` does not).
    pub(crate) fn has_columns(&self) -> bool {
        !self.columns.is_empty()
    }

    /// The columns as [`super::columns`] describes them, when it can.
    pub(crate) fn described(&self) -> Option<Vec<crate::db::columns::Column>> {
        crate::db::columns::described(&self.columns)
    }

    /// Whether lock writes can work on a table with these columns.
    pub(crate) fn usable_for_locks(&self) -> bool {
        crate::db::columns::usable_for_locks_described(&self.columns)
    }
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
    /// Its statements end by this.
    deadline: Deadline,
    /// How its statements are retried, while a [`Retrying`] says so.
    policy: Option<Policy>,
}

/// One statement on the connection: the driver's own boxed future, which
/// borrows the connection for `'c`.
type Statement<'c, T> = std::pin::Pin<
    Box<dyn std::future::Future<Output = std::result::Result<T, mysql_async::Error>> + Send + 'c>,
>;

/// Says that what a statement borrows from its caller (`'s`) outlives its
/// borrow of the connection (`'c`), so that a statement may borrow both.
type Within<'c, 's> = std::marker::PhantomData<&'c &'s ()>;

impl Lease {
    pub(super) fn new(slot: tokio::sync::OwnedMutexGuard<Slot>, deadline: Deadline) -> Lease {
        Lease {
            slot,
            deadline,
            policy: None,
        }
    }

    /// Runs the statement `call` makes on the connection, with the
    /// in-flight mark set, within the per-statement limit. A statement
    /// that runs out of time stays marked in flight: its connection is
    /// given up on and settled. While the lease has a policy
    /// ([`Lease::with`]), a failure that may pass is tried again as
    /// [`Retry`] says (`call` makes the statement anew for each try; a
    /// connection lost on the way is replaced first, its session settled).
    async fn tracked<'s, T, F>(&mut self, mut call: F) -> Result<T>
    where
        F: for<'c> FnMut(&'c mut Conn, Within<'c, 's>) -> Statement<'c, T>,
    {
        let Some(policy) = self.policy else {
            return self.once(&mut call).await;
        };
        Retry::new(self.deadline, policy)
            .run_with((self, &mut call), |(lease, call), _| async move {
                let tried = lease.once(call).await;
                if tried.as_ref().is_err_and(|e| e.is_lost()) {
                    lease.slot.abandon();
                }
                ((lease, call), tried.map_err(Failure::from))
            })
            .await
    }

    /// One try of [`Lease::tracked`].
    async fn once<'s, T, F>(&mut self, call: &mut F) -> Result<T>
    where
        F: for<'c> FnMut(&'c mut Conn, Within<'c, 's>) -> Statement<'c, T>,
    {
        let d = self.deadline;
        let slot = &mut *self.slot;
        // A statement of this lease failed and its connection was given up
        // on (or was cut off): the next one connects again, settling the
        // old session first.
        slot.ready_if_needed(d).await?;
        let limit = d.bound(slot.timeout);
        let Some(c) = slot.conn.as_mut() else {
            return Err(Kind::Lost("no connection".into()).into());
        };
        slot.in_flight = true;
        match tokio::time::timeout(limit, call(c, std::marker::PhantomData)).await {
            Ok(r) => {
                slot.in_flight = false;
                r.map_err(Error::from)
            }
            Err(_) => {
                Err(Kind::Lost(format!("no answer within {:.1}s", limit.as_secs_f64())).into())
            }
        }
    }

    /// When its statements must end.
    pub(crate) fn deadline(&self) -> Deadline {
        self.deadline
    }

    /// This lease, its statements retried as `policy` says until they
    /// succeed, fail for good or the lease's deadline passes (see
    /// [`Policy::STATEMENT`] for what may not run twice, and
    /// [`Policy::IDEMPOTENT`] for what may).
    pub(crate) fn with(&mut self, policy: Policy) -> Retrying<'_> {
        self.policy = Some(policy);
        Retrying { lease: self }
    }

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
        P: Into<mysql_async::Params> + Clone + Send,
    {
        self.tracked(move |c, _| c.exec_drop(stmt, params.clone()))
            .await
    }

    /// Runs a prepared statement, returning its rows.
    pub(crate) async fn exec_rows<P>(&mut self, stmt: &str, params: P) -> Result<Vec<Record>>
    where
        P: Into<mysql_async::Params> + Clone + Send,
    {
        let rows: Vec<Row> = self
            .tracked(move |c, _| c.exec(stmt, params.clone()))
            .await?;
        Ok(rows.into_iter().map(Record).collect())
    }

    /// Runs a prepared statement, returning its first row.
    pub(crate) async fn exec_first_row<P>(
        &mut self,
        stmt: &str,
        params: P,
    ) -> Result<Option<Record>>
    where
        P: Into<mysql_async::Params> + Clone + Send,
    {
        let row: Option<Row> = self
            .tracked(move |c, _| c.exec_first(stmt, params.clone()))
            .await?;
        Ok(row.map(Record))
    }

    /// Runs a text statement, discarding any result.
    pub(crate) async fn query_drop(&mut self, stmt: &str) -> Result<()> {
        self.tracked(|c, _| c.query_drop(stmt)).await
    }

    /// Runs a text statement, returning its rows.
    pub(crate) async fn query_rows(&mut self, stmt: &str) -> Result<Vec<Record>> {
        let rows: Vec<Row> = self.tracked(|c, _| c.query(stmt)).await?;
        Ok(rows.into_iter().map(Record).collect())
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
        let sets = self
            .tracked(|c, _| {
                Box::pin(async move {
                    let mut result = c.query_iter(stmts).await?;
                    let mut sets = Vec::new();
                    while !result.is_empty() {
                        let columns = result.columns().unwrap_or_else(|| Vec::new().into());
                        sets.push(ResultSet {
                            columns,
                            rows: result
                                .collect::<Row>()
                                .await?
                                .into_iter()
                                .map(Record)
                                .collect(),
                        });
                    }
                    Ok::<_, mysql_async::Error>(sets)
                })
            })
            .await;
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
        P: Into<mysql_async::Params> + Clone + Send,
    {
        match self.exec_first_row(stmt, params).await? {
            Some(row) => Cells::new(row, what).take::<Option<i64>>(0, "result"),
            None => Ok(None),
        }
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.slot.last_used = std::time::Instant::now();
    }
}

/// A lease whose statements are retried by a policy, until it is dropped
/// (see [`Lease::with`]). It is the lease otherwise, and is used as one.
pub(crate) struct Retrying<'a> {
    lease: &'a mut Lease,
}

impl std::ops::Deref for Retrying<'_> {
    type Target = Lease;
    fn deref(&self) -> &Lease {
        self.lease
    }
}

impl std::ops::DerefMut for Retrying<'_> {
    fn deref_mut(&mut self) -> &mut Lease {
        self.lease
    }
}

impl Drop for Retrying<'_> {
    fn drop(&mut self) {
        self.lease.policy = None;
    }
}
