//! The migration run guard: makes racing deployers safe on one server and
//! on a multi-primary cluster alike. `GET_LOCK` and `LOCK TABLES` are per
//! node on Galera (a second node's run takes the same named lock at the
//! same time), so the guard is a lease row every node sees, taken by a
//! conditional UPDATE that the cluster certifies: of two runs on two nodes,
//! one gets the row, the other a conflict.
//!
//! The run holding it keeps it alive with a heartbeat from a connection of
//! its own. A run that dies stops beating; after the TTL, the next run takes
//! over, and says so. Before each migration the run records which one it is
//! applying, and who it is; a run that dies mid-migration leaves that
//! record for `migrate status` and the next `up` to find.

use crate::db::retry::{Failure, Policy, Retry};
use crate::db::value::{epoch_text, Cells, Record};
use crate::db::{sql, ConnectOptions, DbUrl, Deadline, Lease, Session};
use crate::error::{Error, Kind, Remedy, Result};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long a run's guard lives without a heartbeat, by default.
pub const DEFAULT_TTL: Duration = Duration::from_secs(30);

/// Who holds the guard.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Holder {
    /// `HOST:PID` of the run.
    pub holder: String,
    /// Since when, RFC 3339 UTC (server clock).
    pub since: Option<String>,
    /// Its heartbeat is older than the TTL, or its process is gone from
    /// this host: the run is dead, and the next run takes over.
    pub stale: bool,
    /// The run's token, to take over from it by.
    token: String,
}

/// A migration a run recorded it was applying, and did not finish.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Applying {
    /// Its version.
    pub version: i32,
    /// Its name, without the `V<n>__` prefix.
    pub name: String,
    /// `HOST:PID` of the run.
    pub by: String,
    /// Since when, RFC 3339 UTC (server clock).
    pub since: Option<String>,
    /// The server connection that was applying it, when it is still there:
    /// the client died, but its statement runs on.
    pub still_running: Option<u64>,
}

/// The guard row as it stands.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GuardState {
    /// Held by a run (maybe a stale one), or free.
    pub holder: Option<Holder>,
    /// What a run was applying and has not recorded as done.
    pub applying: Option<Applying>,
}

/// Reads the guard row; a missing table or row means: free, nothing
/// applying.
pub(crate) async fn read(c: &mut Lease, ttl: Duration) -> Result<GuardState> {
    match c.query_rows(&sql::guard_read(ttl.as_secs_f64())).await {
        Ok(rows) => from_rows(c, rows).await,
        Err(e) if matches!(e.kind(), Kind::NoTable(_)) => Ok(GuardState::default()),
        Err(e) => Err(e),
    }
}

/// The guard as the rows of [`sql::guard_read`] say; asks the server
/// whether the connection of a migration recorded as being applied is
/// still there.
pub(crate) async fn from_rows(c: &mut Lease, rows: Vec<Record>) -> Result<GuardState> {
    let Some(row) = rows.into_iter().next() else {
        return Ok(GuardState::default());
    };
    let mut cells = Cells::new(row, sql::GUARD_TABLE);
    cells.name_row("run");
    let token: Option<String> = cells.take(0, "token")?;
    let holder: Option<String> = cells.take(1, "holder")?;
    let since: Option<String> = cells.take(2, "since")?;
    let stale: Option<i64> = cells.take(3, "beat")?;
    let applying: Option<i32> = cells.take(4, "applying")?;
    let applying_name: Option<String> = cells.take(5, "applying_name")?;
    let applying_by: Option<String> = cells.take(6, "applying_by")?;
    let applying_since: Option<String> = cells.take(7, "applying_since")?;
    let applying_conn: Option<u64> = cells.take(8, "applying_conn")?;
    let still_running = match applying_conn.filter(|_| applying.is_some()) {
        Some(id) => {
            let n = c
                .exec_number(
                    sql::APPLYING_CONN_THERE,
                    (id,),
                    "information_schema.PROCESSLIST",
                )
                .await?;
            (n.unwrap_or(0) > 0).then_some(id)
        }
        None => None,
    };
    Ok(GuardState {
        holder: token.map(|token| {
            let holder = holder.unwrap_or_default();
            Holder {
                stale: stale.unwrap_or(1) != 0 || crate::host::gone(&holder),
                holder,
                since: since.as_deref().map(epoch_text),
                token,
            }
        }),
        applying: applying.map(|version| Applying {
            version,
            name: applying_name.unwrap_or_default(),
            by: applying_by.unwrap_or_default(),
            since: applying_since.as_deref().map(epoch_text),
            still_running,
        }),
    })
}

/// The guard, held by this run until [`RunGuard::release`].
pub(crate) struct RunGuard {
    token: String,
    me: String,
    lost: Arc<AtomicBool>,
    heartbeat: tokio::task::JoinHandle<()>,
    /// The stale holder this run took over from, if it did.
    took_over: Option<Holder>,
}

impl RunGuard {
    /// Runs `f` under the guard: takes it through `c` (see
    /// [`RunGuard::take`]), runs `f`, and releases it whatever `f`
    /// returned (`f`'s error comes first). Also says which stale run's
    /// guard it took over, if it did.
    pub(crate) async fn holding<T>(
        c: &mut Lease,
        session: &Session,
        wait: Duration,
        ttl: Duration,
        on_wait: impl FnMut(&Holder),
        f: impl AsyncFnOnce(&mut Lease, &RunGuard) -> Result<T>,
    ) -> Result<(T, Option<Holder>)> {
        let (url, connect) = (session.url(), session.options());
        let guard = RunGuard::take(c, url, connect, wait, ttl, on_wait).await?;
        let result = f(c, &guard).await;
        if result.as_ref().is_err_and(|e| e.is_lost()) {
            // Let go of the guard on a new connection.
            c.discard();
        }
        let took_over = guard.took_over.clone();
        let released = guard.release(c).await;
        let value = result?;
        released?;
        Ok((value, took_over))
    }

    /// Takes the guard through `c`, waiting up to `wait` while another run
    /// holds it (`on_wait` hears who, each time it looks), and starts the
    /// heartbeat on a connection of its own. Waiting is polling the guard
    /// row; each look and each try goes through the one retry policy, and
    /// the wait ends by its deadline whatever they meet.
    async fn take(
        c: &mut Lease,
        url: &DbUrl,
        connect: &ConnectOptions,
        wait: Duration,
        ttl: Duration,
        mut on_wait: impl FnMut(&Holder),
    ) -> Result<RunGuard> {
        c.with(Policy::IDEMPOTENT)
            .query_drop(sql::GUARD_CREATE)
            .await?;
        c.with(Policy::IDEMPOTENT)
            .query_drop(sql::GUARD_ROW)
            .await?;
        let token = format!("{:016x}{:016x}", fastrand::u64(..), fastrand::u64(..));
        let me = crate::host::default_holder();
        let until = Deadline::after(wait);
        let ttl_secs = ttl.as_secs_f64();
        // Who held it at the last look.
        let mut last: Option<Holder> = None;
        loop {
            if until.passed() {
                return Err(Kind::MigrationLockTimeout {
                    holder: last
                        .map(|h| held_by(&h))
                        .unwrap_or_else(|| "another run".into()),
                    seconds: wait.as_secs(),
                }
                .into());
            }
            let before = read(&mut c.with(Policy::IDEMPOTENT), ttl).await?;
            // A take whose reply was lost may have landed.
            let ours = before.holder.as_ref().filter(|h| h.token == token);
            let gone = before
                .holder
                .as_ref()
                .filter(|h| crate::host::gone(&h.holder));
            let taken = match (ours, gone) {
                (Some(_), _) => Ok(()),
                // Its process is gone from this host: take over from
                // exactly that run, without waiting for its lease to run
                // out. (A lease that ran out is taken by GUARD_TAKE, whose
                // condition is the heartbeat itself.)
                (None, Some(dead)) => {
                    let params = (&token, &me, &dead.token);
                    c.with(Policy::STATEMENT)
                        .exec_drop(sql::GUARD_TAKE_FROM, params)
                        .await
                }
                (None, None) => {
                    let params = (&token, &me, ttl_secs);
                    c.with(Policy::STATEMENT)
                        .exec_drop(sql::GUARD_TAKE, params)
                        .await
                }
            }
            .map(|()| ours.is_some() || c.affected_rows() == 1);
            match taken {
                Ok(true) => {
                    let lost = Arc::new(AtomicBool::new(false));
                    let heartbeat = tokio::spawn(beat(
                        url.clone(),
                        connect.clone(),
                        token.clone(),
                        ttl,
                        lost.clone(),
                    ));
                    return Ok(RunGuard {
                        token,
                        me,
                        lost,
                        heartbeat,
                        took_over: before.holder.filter(|h| h.stale),
                    });
                }
                // The reply was lost: whether it landed, the next look
                // says (on a new connection, the old session settled).
                Err(e) if e.is_lost() => {
                    c.discard();
                    continue;
                }
                Err(e) => return Err(e),
                Ok(false) => {}
            }
            last = read(&mut c.with(Policy::IDEMPOTENT), ttl).await?.holder;
            if let Some(h) = last.as_ref().filter(|_| !until.passed()) {
                on_wait(h);
            }
            let pause = Duration::from_millis(100).mul_f64(1.0 + 4.0 * fastrand::f64());
            until.pause(pause).await;
        }
    }

    /// Fails once the guard is no longer ours (its heartbeat found another
    /// run holding it, or could not beat for a whole TTL).
    pub(crate) fn check(&self) -> Result<()> {
        if self.lost.load(Ordering::SeqCst) {
            return Err(Error::from(Kind::Refused(
                "this run lost the migration guard (no heartbeat reached the database for a whole TTL, and another run may have taken over); it stopped before the next migration".into(),
            ))
            .with_remedy(Remedy::SeeMigrationStatus));
        }
        Ok(())
    }

    /// Records that migration `version` (`name`) is being applied now.
    pub(crate) async fn applying(&self, c: &mut Lease, version: i32, name: &str) -> Result<()> {
        self.check()?;
        c.with(Policy::STATEMENT)
            .exec_drop(sql::GUARD_APPLYING, (version, name, &self.me, &self.token))
            .await?;
        if c.affected_rows() != 1 {
            self.lost.store(true, Ordering::SeqCst);
            self.check()?;
        }
        Ok(())
    }

    /// Records that the migration being applied is done.
    pub(crate) async fn applied(&self, c: &mut Lease) -> Result<()> {
        c.with(Policy::STATEMENT)
            .exec_drop(sql::GUARD_APPLIED, (&self.token,))
            .await?;
        Ok(())
    }

    /// Forgets what a dead run recorded it was applying, if that was
    /// `version` (now dealt with by hand).
    pub(crate) async fn forget(&self, c: &mut Lease, version: i32) -> Result<()> {
        c.with(Policy::STATEMENT)
            .exec_drop(sql::GUARD_FORGET, (&self.token, version))
            .await?;
        Ok(())
    }

    /// Lets go of the guard and stops the heartbeat. The statement is
    /// idempotent, so a connection lost on the way is simply tried again,
    /// once, on a new one: a guard left held would make the next run wait.
    async fn release(self, c: &mut Lease) -> Result<()> {
        self.heartbeat.abort();
        c.with(Policy::IDEMPOTENT)
            .exec_drop(sql::GUARD_RELEASE, (&self.token,))
            .await
    }
}

impl Drop for RunGuard {
    fn drop(&mut self) {
        // Not released (the run was cut off): the guard expires after its
        // TTL, and the next run takes over.
        self.heartbeat.abort();
    }
}

/// `HOST:PID` (since T), for messages.
pub fn held_by(h: &Holder) -> String {
    match &h.since {
        Some(t) => format!("{} (since {t})", h.holder),
        None => h.holder.clone(),
    }
}

/// Keeps the guard alive: beats every TTL/5 from a connection of its own.
/// Sets `lost` when a beat finds the guard is not ours, or when no beat got
/// through for most of a TTL (another run may take over by then).
async fn beat(
    url: DbUrl,
    connect: ConnectOptions,
    token: String,
    ttl: Duration,
    lost: Arc<AtomicBool>,
) {
    let every = ttl / 5;
    let mut last_ok = Instant::now();
    let mut session = None;
    loop {
        tokio::time::sleep(every).await;
        // The beat is an UPDATE keyed on the token: repeating it is harmless,
        // so it is retried like any operation, within the beat's time.
        let d = Deadline::after(every.max(Duration::from_secs(1)));
        let (url, connect, token) = (&url, &connect, &token);
        let beat = Retry::new(d, Policy::OPERATION)
            .run_with(&mut session, |session, _| async move {
                let tried = beat_once(session, url, connect, token, d).await;
                (session, tried.map_err(Failure::from))
            })
            .await;
        match beat {
            Ok(true) => last_ok = Instant::now(),
            Ok(false) => {
                lost.store(true, Ordering::SeqCst);
                return;
            }
            Err(_) if last_ok.elapsed() < ttl.mul_f64(0.8) => {}
            Err(_) => {
                lost.store(true, Ordering::SeqCst);
                return;
            }
        }
    }
}

/// One heartbeat by `d`; `true` while the guard is ours.
async fn beat_once(
    session: &mut Option<Session>,
    url: &DbUrl,
    connect: &ConnectOptions,
    token: &str,
    d: Deadline,
) -> Result<bool> {
    let s = match session {
        Some(s) => s,
        None => session.insert(Session::open(url, connect, d).await?),
    };
    let mut c = s.lease(d).await?;
    c.exec_drop(sql::GUARD_BEAT, (token,)).await?;
    Ok(c.affected_rows() == 1)
}
