//! The lock-row protocol: reading a row of `locks`, and changing it only by
//! compare-and-swap on its `version`, exactly as the seed's writers do.
//!
//! A row's `dataJson` is a JSON object mapping lock name to holder. Holders
//! may be any JSON value; what locksmith does not understand it keeps as it
//! is, key order included. Every write is
//! `UPDATE … SET dataJson=?, version=version+1 WHERE id=? AND version=?`;
//! 0 rows matched is a conflict, answered by re-reading and retrying with
//! jittered, bounded backoff (or, for an operator's `--expect-version`, by
//! reporting it). Plain acquire and release first try one conditional UPDATE
//! that the server evaluates under its row lock, which needs no prior read;
//! when it matches nothing, the read-then-CAS path decides.
//!
//! No row locks, no `LOCK TABLES`, no session state: this works through
//! connection pools and from many processes at once.

use crate::audit::AuditInfo;
use crate::db;
use crate::error::{Error, Kind, Result};
use crate::sql;
use crate::url::DbUrl;
use mysql_async::prelude::Queryable;
use mysql_async::Conn;
use serde_json::{Map, Value};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use std::time::Instant;

/// Bytes a `TEXT` column holds.
pub const TEXT_LIMIT: usize = 65_535;

/// The largest version the `version` column (`INT`) holds.
pub const VERSION_MAX: i64 = i32::MAX as i64;

/// Characters the `id` column (`VARCHAR(128)`) holds.
pub const ROW_ID_LIMIT: usize = 128;

/// The locks of a row: lock name → holder, in stored order.
pub type Locks = Map<String, Value>;

/// What a row's `dataJson` holds.
#[derive(Clone, Debug, PartialEq)]
pub enum LockData {
    /// A JSON object of locks (possibly empty).
    Locks(Locks),
    /// `NULL`: a row created without data. Holds no locks.
    Null,
    /// Anything that is not a JSON object, kept verbatim.
    Raw(String),
}

impl LockData {
    /// Parses the column's text.
    pub fn parse(text: Option<&str>) -> LockData {
        match text {
            None => LockData::Null,
            Some(t) => match serde_json::from_str::<Value>(t) {
                Ok(Value::Object(m)) => LockData::Locks(m),
                _ => LockData::Raw(t.to_string()),
            },
        }
    }

    /// The locks, when the data is an object (or `NULL`, which holds none).
    pub fn locks(&self) -> Option<Locks> {
        match self {
            LockData::Locks(m) => Some(m.clone()),
            LockData::Null => Some(Locks::new()),
            LockData::Raw(_) => None,
        }
    }

    /// A one-line description of what is held, or `None` when nothing is.
    /// Data that cannot be parsed counts as held: it cannot be shown safe.
    pub fn held_summary(&self) -> Option<String> {
        match self {
            LockData::Locks(m) if !m.is_empty() => Some(
                m.iter()
                    .map(|(k, v)| format!("{k} (held by {})", holder_text(v)))
                    .collect::<Vec<_>>()
                    .join(", "),
            ),
            LockData::Raw(r) => Some(format!("dataJson is not a JSON object: {r}")),
            _ => None,
        }
    }
}

/// A holder as text: strings bare, other JSON values as JSON.
pub fn holder_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// One row of `locks`, as read.
#[derive(Clone, Debug)]
pub struct RowState {
    /// The row's id.
    pub id: String,
    /// Its version.
    pub version: i64,
    /// Its data.
    pub data: LockData,
    /// Last change, seconds since the epoch (server clock, no time zone).
    pub changed_at: Option<i64>,
    /// The server's clock when the row was read, seconds since the epoch.
    pub read_at: i64,
}

impl RowState {
    /// The locks, or [`Kind::Corrupt`] when the data is not a JSON object.
    pub fn locks_or_corrupt(&self) -> Result<Locks> {
        self.data.locks().ok_or_else(|| {
            let raw = match &self.data {
                LockData::Raw(raw) => raw.clone(),
                _ => String::new(),
            };
            Kind::Corrupt {
                row: self.id.clone(),
                raw,
            }
            .into()
        })
    }

    /// Seconds since the last change, by the server's clock.
    pub fn age_secs(&self) -> Option<i64> {
        self.changed_at.map(|t| (self.read_at - t).max(0))
    }
}

type RawRow = (String, Option<i64>, Option<String>, Option<i64>, i64);

fn to_state(r: RawRow) -> Result<RowState> {
    let (id, version, data, changed_at, read_at) = r;
    let version = version.ok_or_else(|| Kind::Corrupt {
        row: id.clone(),
        raw: "version is NULL".into(),
    })?;
    Ok(RowState {
        data: LockData::parse(data.as_deref()),
        id,
        version,
        changed_at,
        read_at,
    })
}

/// Checks a lock name (or holder) can be stored as given: not empty, no
/// control characters, and nothing outside the Basic Multilingual Plane,
/// which the table's 3-byte `utf8` cannot store.
pub fn validate_text(what: &str, s: &str) -> Result<()> {
    if s.is_empty() {
        return Err(Kind::Invalid(format!("{what} must not be empty")).into());
    }
    if let Some(c) = s.chars().find(|c| c.is_control()) {
        return Err(Kind::Invalid(format!(
            "{what} {s:?} contains the control character U+{:04X}",
            c as u32
        ))
        .into());
    }
    if let Some(c) = first_unstorable(s) {
        return Err(Kind::Invalid(format!(
            "{what} {s:?} contains {c:?} (U+{:X}), which the locks table's 3-byte utf8 cannot store; use characters up to U+FFFF",
            c as u32
        ))
        .into());
    }
    Ok(())
}

/// The first character outside the Basic Multilingual Plane, which the
/// `locks` table's 3-byte `utf8` cannot store (emoji, for one).
fn first_unstorable(s: &str) -> Option<char> {
    s.chars().find(|c| (*c as u32) > 0xFFFF)
}

/// Checks a row id fits the `id` column.
pub fn validate_row_id(id: &str) -> Result<()> {
    validate_text("row id", id)?;
    let n = id.chars().count();
    if n > ROW_ID_LIMIT {
        return Err(Kind::Invalid(format!(
            "row id is {n} characters long; the id column holds at most {ROW_ID_LIMIT}"
        ))
        .into());
    }
    Ok(())
}

/// Serialises locks for the `dataJson` column, refusing what would not fit.
pub fn encode(row: &str, locks: &Locks) -> Result<String> {
    let text = json_text(locks);
    if text.len() > TEXT_LIMIT {
        return Err(Kind::TooLarge {
            row: row.to_string(),
            bytes: text.len(),
            limit: TEXT_LIMIT,
        }
        .into());
    }
    Ok(text)
}

/// Locks as compact JSON that a 3-byte `utf8` column can store: characters
/// beyond U+FFFF, which locksmith never writes itself but another writer
/// may have stored escaped (`"\ud83d\ude80"`), stay escaped.
pub fn json_text(locks: &Locks) -> String {
    let mut out = Vec::with_capacity(128);
    let mut ser = serde_json::Serializer::with_formatter(&mut out, Utf8mb3Formatter);
    serde::Serialize::serialize(locks, &mut ser).expect("a JSON map always serialises");
    String::from_utf8(out).expect("serde_json writes UTF-8")
}

/// serde_json's compact output, but with characters beyond U+FFFF written
/// as `\uXXXX` surrogate pairs.
struct Utf8mb3Formatter;

impl serde_json::ser::Formatter for Utf8mb3Formatter {
    fn write_string_fragment<W: ?Sized + std::io::Write>(
        &mut self,
        writer: &mut W,
        fragment: &str,
    ) -> std::io::Result<()> {
        let mut rest = fragment;
        // A 4-byte UTF-8 sequence, and only such, starts with 0xF0..=0xF4.
        while let Some(i) = rest.bytes().position(|b| b >= 0xF0) {
            writer.write_all(&rest.as_bytes()[..i])?;
            let c = rest[i..].chars().next().expect("a char starts here");
            for unit in c.encode_utf16(&mut [0u16; 2]) {
                write!(writer, "\\u{unit:04x}")?;
            }
            rest = &rest[i + c.len_utf8()..];
        }
        writer.write_all(rest.as_bytes())
    }
}

/// How a write deals with conflicts.
#[derive(Clone, Debug, Default)]
pub struct WriteOpts {
    /// Fail with [`Kind::VersionMoved`] unless the row is at this version;
    /// never retry.
    pub expect_version: Option<i64>,
    /// Compute and return the change, but write nothing.
    pub dry_run: bool,
    /// Record the change in `locks_audit`, in the same transaction.
    pub audit: Option<AuditInfo>,
}

/// A change made (or, for a dry run, planned) to one row.
#[derive(Clone, Debug)]
pub struct Change {
    /// The row.
    pub row: String,
    /// Version before.
    pub version_before: i64,
    /// Version after (what it would be, for a dry run).
    pub version_after: i64,
    /// Locks removed, with the holders they had.
    pub removed: Locks,
    /// The unparsable text that was replaced, if any.
    pub replaced_raw: Option<String>,
    /// Locks left in the row afterwards.
    pub remaining: Locks,
    /// The row's data is not a JSON object and was left as it is (a bump).
    pub raw_kept: bool,
    /// True when nothing was written.
    pub dry_run: bool,
}

/// What an operator change does to the locks of a row.
#[derive(Clone, Debug)]
pub enum Edit {
    /// Remove these locks, whoever holds them. Each must be held.
    Names(Vec<String>),
    /// Remove every lock this holder holds (at least one).
    Holder(String),
    /// Remove everything; also replaces unparsable data with `{}`.
    All,
    /// Leave the locks, add this to the version.
    Bump(i64),
}

impl Edit {
    /// The audit action name.
    pub fn action(&self) -> &'static str {
        match self {
            Edit::Names(_) => "force-release",
            Edit::Holder(_) => "release-by-holder",
            Edit::All => "release-all",
            Edit::Bump(_) => "bump",
        }
    }

    /// Applies the edit to a row as read: the new locks, or why not.
    pub fn apply(&self, state: &RowState) -> Result<Change> {
        let id = &state.id;
        let mut change = Change {
            row: id.clone(),
            version_before: state.version,
            version_after: state.version + 1,
            removed: Locks::new(),
            replaced_raw: None,
            remaining: Locks::new(),
            raw_kept: false,
            dry_run: false,
        };
        match (self, &state.data) {
            (Edit::All, LockData::Raw(raw)) => {
                change.replaced_raw = Some(raw.clone());
                return Ok(change);
            }
            (Edit::Bump(by), data) => {
                change.version_after = state
                    .version
                    .checked_add(*by)
                    .filter(|v| *v <= VERSION_MAX)
                    .ok_or_else(|| {
                        Kind::Invalid(format!(
                            "bumping row `{id}` (version {}) by {by} would take its version past {VERSION_MAX}, the most the INT column holds; nothing was changed",
                            state.version
                        ))
                    })?;
                match data.locks() {
                    Some(locks) => change.remaining = locks,
                    None => change.raw_kept = true,
                }
                return Ok(change);
            }
            _ => {}
        }
        let mut locks = state.locks_or_corrupt()?;
        match self {
            Edit::Names(names) => {
                for n in names {
                    match locks.shift_remove(n) {
                        Some(h) => {
                            change.removed.insert(n.clone(), h);
                        }
                        None if change.removed.contains_key(n) => {}
                        None => {
                            return Err(Kind::NotHeld {
                                row: id.clone(),
                                name: n.clone(),
                            }
                            .into())
                        }
                    }
                }
            }
            Edit::Holder(h) => {
                let (gone, kept): (Vec<_>, Vec<_>) = std::mem::take(&mut locks)
                    .into_iter()
                    .partition(|(_, v)| holder_matches(v, h));
                if gone.is_empty() {
                    return Err(Kind::NotHeld {
                        row: id.clone(),
                        name: format!("(any lock held by {h})"),
                    }
                    .into());
                }
                change.removed = gone.into_iter().collect();
                locks = kept.into_iter().collect();
            }
            Edit::All => {
                change.removed = std::mem::take(&mut locks);
            }
            Edit::Bump(_) => unreachable!("handled above"),
        }
        change.remaining = locks;
        Ok(change)
    }
}

/// Does a stored holder match the holder named on the command line? Strings
/// compare exactly; other values by their JSON text (so `42` matches "42").
pub fn holder_matches(stored: &Value, wanted: &str) -> bool {
    match stored {
        Value::String(s) => s == wanted,
        Value::Null => false,
        other => serde_json::to_string(other).is_ok_and(|text| text == wanted),
    }
}

/// Counters of what the protocol did, for the bench.
#[derive(Debug, Default)]
pub struct Stats {
    /// Operations answered by the single server-evaluated UPDATE.
    pub fast: AtomicU64,
    /// Operations that needed the read-then-CAS path.
    pub slow: AtomicU64,
    /// CAS writes that matched no row (someone else wrote first) and retried.
    pub conflicts: AtomicU64,
}

/// Bounded, jittered exponential backoff between CAS retries.
#[derive(Clone, Copy, Debug)]
pub struct Backoff {
    attempt: u32,
}

impl Backoff {
    /// Attempts before giving up with [`Kind::Contended`].
    pub const MAX_ATTEMPTS: u32 = 64;

    /// A fresh backoff.
    pub fn new() -> Backoff {
        Backoff { attempt: 0 }
    }

    /// Waits before the next attempt; `false` when attempts are used up.
    pub async fn wait(&mut self) -> bool {
        self.attempt += 1;
        if self.attempt >= Self::MAX_ATTEMPTS {
            return false;
        }
        // Full jitter over 0.2 ms · 2^n, capped at 50 ms: contenders spread
        // out instead of colliding again in lockstep.
        let cap_us = (200u64 << self.attempt.min(8)).min(50_000);
        tokio::time::sleep(Duration::from_micros(fastrand::u64(0..=cap_us))).await;
        true
    }
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff::new()
    }
}

/// Result of one CAS attempt.
enum Cas {
    Landed,
    Conflict,
}

/// The `locks` table, reached through one connection of its own.
///
/// One connection is all a lock client needs: every operation is one or two
/// statements, and a pool would only add a hand-off per operation. Cloning
/// is cheap and shares the connection (operations on clones take turns);
/// for operations in parallel, connect several tables. A connection that
/// broke is replaced on next use.
#[derive(Clone)]
pub struct LockTable {
    inner: Arc<Inner>,
}

struct Inner {
    url: DbUrl,
    slot: Arc<tokio::sync::Mutex<Slot>>,
    stats: Stats,
    cache: std::sync::Mutex<Cache>,
    /// The server edits JSON in place (MariaDB), so the server-evaluated
    /// acquire and release keep every other lock exactly as stored. On
    /// MySQL they would re-sort keys, so read + CAS does all the work there.
    server_json: bool,
}

/// A plain acquire (or release) of one lock for one holder.
#[derive(Clone, Copy)]
struct Plain<'a> {
    row: &'a str,
    name: &'a str,
    holder: &'a str,
    acquire: bool,
}

impl Plain<'_> {
    /// Applies this operation to `locks` in place; `false` (and `locks`
    /// untouched) where it does not apply: already held, or not held by this
    /// holder.
    fn apply(&self, locks: &mut Locks) -> bool {
        if self.acquire {
            if locks.contains_key(self.name) {
                return false;
            }
            locks.insert(self.name.into(), Value::String(self.holder.into()));
            true
        } else {
            match locks.get(self.name) {
                Some(h) if holder_matches(h, self.holder) => {
                    locks.shift_remove(self.name);
                    true
                }
                _ => false,
            }
        }
    }
}

/// What this table last knew of one row: a CAS from it needs no read. It is
/// only a guess; the version check makes a stale guess a harmless conflict.
#[derive(Default)]
struct Cache {
    /// (row, version, locks at that version), and when that was learnt: a
    /// copy is trusted for [`CACHE_TTL`] only, so a row deleted and
    /// recreated (its version starting over) cannot be mistaken for it.
    known: Option<(String, i64, Locks)>,
    known_at: Option<Instant>,
    /// (row, version) our last write produced.
    last_write: Option<(String, i64)>,
}

impl Cache {
    /// Takes the cached row out, with `op` applied: the version to CAS
    /// against and the locks to write. (Taken, not copied: a large row is
    /// not cloned per operation; [`Cache::wrote`] puts it back.)
    fn take_next(&mut self, op: &Plain<'_>) -> Option<(i64, Locks)> {
        if self.known_at.is_none_or(|t| t.elapsed() > CACHE_TTL) {
            self.forget();
        }
        let (row, version, mut locks) = self.known.take()?;
        if row == op.row && op.apply(&mut locks) {
            Some((version, locks))
        } else {
            self.known = Some((row, version, locks));
            None
        }
    }

    /// Our write took `row` to `version`, leaving `locks` (if known).
    fn wrote(&mut self, row: &str, version: i64, locks: Option<Locks>) {
        self.known = locks.map(|l| (row.to_string(), version, l));
        self.known_at = Some(Instant::now());
        self.last_write = Some((row.to_string(), version));
    }

    /// A server-evaluated `op` took the row to `version`. Returns true when
    /// nobody else wrote since our previous write and nothing is cached:
    /// then a read pays off.
    fn applied(&mut self, op: &Plain<'_>, version: Option<i64>) -> bool {
        let Some(v) = version else {
            self.forget();
            return false;
        };
        let quiet = self
            .last_write
            .as_ref()
            .is_some_and(|(r, last)| r == op.row && *last == v - 1);
        let known = self
            .known
            .take()
            .filter(|(r, before, _)| r == op.row && *before == v - 1)
            .and_then(|(_, _, mut locks)| op.apply(&mut locks).then_some(locks));
        let want_read = quiet && known.is_none();
        self.wrote(op.row, v, known);
        want_read
    }

    /// Remembers a row as read.
    fn seen(&mut self, state: &RowState) {
        self.known_at = Some(Instant::now());
        self.known = match &state.data {
            LockData::Locks(l) => Some((state.id.clone(), state.version, l.clone())),
            _ => None,
        };
    }

    fn forget(&mut self) {
        self.known = None;
    }
}

struct Slot {
    conn: Option<Conn>,
    last_used: Instant,
    /// A statement was sent on `conn` and its reply not yet read. Still set
    /// when a lease is dropped: the operation's future was dropped
    /// mid-statement, so `conn` is out of step with the server.
    in_flight: bool,
    /// Id of a session of ours, given up on while a statement of it may
    /// still be running on the server. The next connection ends it and waits
    /// until it is gone before anything reads or writes (see [`settle`]).
    unsettled: Option<u32>,
}

impl Slot {
    /// Gives up on the connection; if it may have a statement running, its
    /// session is settled before the next one is used.
    fn abandon(&mut self) {
        if let Some(c) = self.conn.take() {
            self.unsettled = Some(c.id());
        }
        self.in_flight = false;
    }
}

/// How long to wait for an abandoned session to end on the server.
const SETTLE_TIMEOUT: Duration = Duration::from_secs(10);

/// Ends session `id` (ours, abandoned while a statement of it may still be
/// running) and waits until the server has dropped it, so that whatever it
/// was running has committed or rolled back. Until then a read could see
/// the row from before a write that is about to land; after, a read tells
/// whether it landed, and repeating it is safe when it did not.
async fn settle(c: &mut Conn, id: u32) -> Result<()> {
    match c.query_drop(sql::kill_connection(id)).await {
        // 1094: no such session (it is gone already); 1095: the id now
        // belongs to someone else's session, so ours is gone too.
        Err(e) if !matches!(db::server_code(&e), Some(1094 | 1095)) => return Err(e.into()),
        _ => {}
    }
    let deadline = Instant::now() + SETTLE_TIMEOUT;
    loop {
        let n: Option<u64> = c.exec_first(sql::SESSION_EXISTS, (id,)).await?;
        if n.unwrap_or(0) == 0 {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(Kind::Db(format!(
                "an earlier connection (session {id}) was cut off mid-statement and is still running on the server after {}s, so whether its write landed cannot be told yet; check with `locksmith locks dump`",
                SETTLE_TIMEOUT.as_secs()
            ))
            .into());
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// How long a cached copy of a row is trusted without a write or read.
const CACHE_TTL: Duration = Duration::from_secs(5);

/// Idle time after which a connection is pinged before use: the server may
/// have closed it (`wait_timeout`) in the meantime.
const IDLE_PING: Duration = Duration::from_secs(30);

/// Exclusive use of the table's connection for one step of an operation.
///
/// Statements run through its methods, which mark the connection in flight
/// until the reply is read: a future dropped mid-statement (Ctrl-C, a
/// timeout around an operation) leaves the mark, and the next lease then
/// replaces the connection and settles its session instead of reading a
/// stale reply or guessing about a write that may still land.
pub struct Lease {
    slot: tokio::sync::OwnedMutexGuard<Slot>,
}

/// Runs one statement on a lease's connection with the in-flight mark set.
macro_rules! tracked {
    ($lease:expr, |$c:ident| $call:expr) => {{
        let slot = &mut *$lease.slot;
        slot.in_flight = true;
        let $c = slot.conn.as_mut().expect(LEASED);
        let r = $call.await;
        slot.in_flight = false;
        r
    }};
}

const LEASED: &str = "a lease always holds a connection";

impl Lease {
    /// Drops the connection instead of keeping it: after it broke, or when
    /// the outcome of what was sent on it is unknown.
    fn discard(&mut self) {
        self.slot.abandon();
    }

    /// Runs a prepared statement, discarding any result.
    pub async fn exec_drop<P>(&mut self, stmt: &str, params: P) -> mysql_async::Result<()>
    where
        P: Into<mysql_async::Params> + Send,
    {
        tracked!(self, |c| c.exec_drop(stmt, params))
    }

    /// Runs a prepared statement, returning its first row.
    pub async fn exec_first<T, P>(
        &mut self,
        stmt: &str,
        params: P,
    ) -> mysql_async::Result<Option<T>>
    where
        T: mysql_async::prelude::FromRow + Send + 'static,
        P: Into<mysql_async::Params> + Send,
    {
        tracked!(self, |c| c.exec_first(stmt, params))
    }

    /// Runs a text statement, discarding any result.
    pub async fn query_drop(&mut self, stmt: &str) -> mysql_async::Result<()> {
        tracked!(self, |c| c.query_drop(stmt))
    }

    /// Runs a text statement, returning every row.
    pub async fn query<T>(&mut self, stmt: &str) -> mysql_async::Result<Vec<T>>
    where
        T: mysql_async::prelude::FromRow + Send + 'static,
    {
        tracked!(self, |c| c.query(stmt))
    }
}

/// Read-only access to the connection (affected rows, last insert id).
impl std::ops::Deref for Lease {
    type Target = Conn;
    fn deref(&self) -> &Conn {
        self.slot.conn.as_ref().expect(LEASED)
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.slot.last_used = Instant::now();
    }
}

impl std::fmt::Debug for LockTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LockTable")
            .field("url", &self.inner.url)
            .finish_non_exhaustive()
    }
}

impl LockTable {
    /// Connects (in strict mode), checking that the server answers and the
    /// `locks` table exists.
    pub async fn connect(url: &DbUrl) -> Result<LockTable> {
        let mut conn = db::connect(url).await?;
        conn.query_drop(sql::CHECK_LOCKS_TABLE).await?;
        let server_json = db::is_mariadb(&conn);
        Ok(LockTable {
            inner: Arc::new(Inner {
                url: url.clone(),
                slot: Arc::new(tokio::sync::Mutex::new(Slot {
                    conn: Some(conn),
                    last_used: Instant::now(),
                    in_flight: false,
                    unsettled: None,
                })),
                stats: Stats::default(),
                cache: Default::default(),
                server_json,
            }),
        })
    }

    /// What the protocol did so far.
    pub fn stats(&self) -> &Stats {
        &self.inner.stats
    }

    /// Closes the connection cleanly (once no clone is using it).
    pub async fn disconnect(self) -> Result<()> {
        let mut slot = self.inner.slot.lock().await;
        match slot.conn.take() {
            Some(c) => c.disconnect().await.map_err(Error::from),
            None => Ok(()),
        }
    }

    /// The table's connection, reconnecting if it broke or went stale.
    /// A connection given up on mid-statement has its session settled
    /// first, so nothing reads the row while that statement may still land.
    pub async fn conn(&self) -> Result<Lease> {
        let mut slot = self.inner.slot.clone().lock_owned().await;
        // An operation cut off mid-statement (a dropped future) or a broken
        // connection: the statement it sent may or may not run.
        if slot.in_flight || slot.conn.as_ref().is_some_and(|c| c.is_disconnected()) {
            slot.abandon();
        }
        // After a long idle spell the server may have closed it; nothing
        // was running on it, so there is nothing to settle.
        if slot.last_used.elapsed() > IDLE_PING {
            if let Some(c) = slot.conn.as_mut() {
                if c.ping().await.is_err() {
                    slot.conn = None;
                }
            }
        }
        if slot.conn.is_none() {
            let mut c = db::connect(&self.inner.url).await?;
            if let Some(id) = slot.unsettled {
                settle(&mut c, id).await?;
                slot.unsettled = None;
            }
            slot.conn = Some(c);
        }
        Ok(Lease { slot })
    }

    /// Reads one row; `None` when it does not exist.
    pub async fn read(&self, row: &str) -> Result<Option<RowState>> {
        let mut c = self.conn().await?;
        read_with(&mut c, row).await
    }

    /// Reads every row, by id.
    pub async fn read_all(&self) -> Result<Vec<RowState>> {
        let mut c = self.conn().await?;
        let rows: Vec<RawRow> = c.query(sql::SELECT_ROWS).await?;
        rows.into_iter().map(to_state).collect()
    }

    /// Creates the row with no locks unless it exists. Never deletes rows.
    pub async fn ensure_row(&self, row: &str) -> Result<()> {
        validate_row_id(row)?;
        let mut c = self.conn().await?;
        c.exec_drop(sql::ENSURE_ROW, (row,)).await?;
        Ok(())
    }

    /// Takes `name` for `holder`; fails with [`Kind::Held`] when taken.
    /// Creates the row when it is missing.
    pub async fn acquire(&self, row: &str, name: &str, holder: &str) -> Result<()> {
        self.acquire_unless(row, name, holder, &[]).await
    }

    /// Like [`LockTable::acquire`], but also refuses with [`Kind::Blocked`]
    /// while any other lock whose name matches one of `unless` is held.
    pub async fn acquire_unless(
        &self,
        row: &str,
        name: &str,
        holder: &str,
        unless: &[glob::Pattern],
    ) -> Result<()> {
        validate_row_id(row)?;
        validate_text("lock name", name)?;
        validate_text("holder", holder)?;
        let op = Plain {
            row,
            name,
            holder,
            acquire: true,
        };
        let try_plain = || async {
            if unless.is_empty() {
                self.plain(op).await
            } else {
                Ok(false)
            }
        };
        if try_plain().await? {
            return Ok(());
        }
        self.inner.stats.slow.fetch_add(1, Ordering::Relaxed);
        let mut backoff = Backoff::new();
        loop {
            let mut c = self.conn().await?;
            let Some(state) = read_with(&mut c, row).await? else {
                // A new row: create it, then the usual single UPDATE.
                c.exec_drop(sql::ENSURE_ROW, (row,)).await?;
                drop(c);
                if try_plain().await? {
                    return Ok(());
                }
                continue;
            };
            let mut locks = state.locks_or_corrupt()?;
            for p in unless {
                if let Some((k, v)) = locks.iter().find(|(k, _)| *k != name && p.matches(k)) {
                    return Err(Kind::Blocked {
                        row: row.into(),
                        name: k.clone(),
                        pattern: p.as_str().into(),
                        holder: holder_text(v),
                    }
                    .into());
                }
            }
            if let Some(h) = locks.get(name) {
                if holder_matches(h, holder) {
                    // Already ours: acquiring is idempotent. (This is also
                    // how a write whose reply was lost turns out to have
                    // landed after all.)
                    return Ok(());
                }
                return Err(Kind::Held {
                    row: row.into(),
                    name: name.into(),
                    holder: holder_text(h),
                }
                .into());
            }
            locks.insert(name.into(), Value::String(holder.into()));
            if self.cas_plain(c, &op, state.version, locks).await? {
                return Ok(());
            }
            self.inner.stats.conflicts.fetch_add(1, Ordering::Relaxed);
            if !backoff.wait().await {
                return Err(Kind::Contended(row.into()).into());
            }
        }
    }

    /// Releases `name` if `holder` holds it; otherwise fails, naming the real
    /// holder ([`Kind::WrongHolder`]) or saying it is not held.
    pub async fn release(&self, row: &str, name: &str, holder: &str) -> Result<()> {
        validate_row_id(row)?;
        validate_text("lock name", name)?;
        let op = Plain {
            row,
            name,
            holder,
            acquire: false,
        };
        if self.plain(op).await? {
            return Ok(());
        }
        self.inner.stats.slow.fetch_add(1, Ordering::Relaxed);
        let mut backoff = Backoff::new();
        loop {
            let mut c = self.conn().await?;
            let state = read_with(&mut c, row)
                .await?
                .ok_or_else(|| Kind::NoRow(row.into()))?;
            let mut locks = state.locks_or_corrupt()?;
            match locks.get(name) {
                None => {
                    return Err(Kind::NotHeld {
                        row: row.into(),
                        name: name.into(),
                    }
                    .into())
                }
                Some(h) if !holder_matches(h, holder) => {
                    return Err(Kind::WrongHolder {
                        row: row.into(),
                        name: name.into(),
                        holder: holder_text(h),
                        wanted: holder.into(),
                    }
                    .into())
                }
                Some(_) => {}
            }
            locks.shift_remove(name);
            if self.cas_plain(c, &op, state.version, locks).await? {
                return Ok(());
            }
            self.inner.stats.conflicts.fetch_add(1, Ordering::Relaxed);
            if !backoff.wait().await {
                return Err(Kind::Contended(row.into()).into());
            }
        }
    }

    /// Releases every lock `holder` holds in `row` (what a crashed holder
    /// left behind). Returns what was removed.
    pub async fn release_by_holder(
        &self,
        row: &str,
        holder: &str,
        opts: &WriteOpts,
    ) -> Result<Change> {
        self.edit(row, &Edit::Holder(holder.into()), opts, None)
            .await
    }

    /// Releases the named locks, whoever holds them.
    pub async fn force_release(
        &self,
        row: &str,
        names: &[String],
        opts: &WriteOpts,
    ) -> Result<Change> {
        self.edit(row, &Edit::Names(names.to_vec()), opts, None)
            .await
    }

    /// Writes `{}`: releases everything, and repairs unparsable data (the old
    /// text is returned in [`Change::replaced_raw`]).
    pub async fn release_all(&self, row: &str, opts: &WriteOpts) -> Result<Change> {
        self.edit(row, &Edit::All, opts, None).await
    }

    /// Adds `by` to the version without touching the locks, so that any
    /// writer still holding the old version can no longer commit its CAS.
    pub async fn bump(&self, row: &str, by: i64, opts: &WriteOpts) -> Result<Change> {
        if by < 1 {
            return Err(Kind::Invalid("--by must be at least 1".into()).into());
        }
        self.edit(row, &Edit::Bump(by), opts, None).await
    }

    /// Applies an operator edit by CAS. With `approved`, the edit must remove
    /// exactly those locks with those holders (what the operator saw and
    /// confirmed); anything else aborts instead of retrying.
    pub async fn edit(
        &self,
        row: &str,
        edit: &Edit,
        opts: &WriteOpts,
        approved: Option<&Change>,
    ) -> Result<Change> {
        validate_row_id(row)?;
        match edit {
            Edit::Names(names) => {
                for n in names {
                    validate_text("lock name", n)?;
                }
            }
            Edit::Holder(h) => validate_text("holder", h)?,
            Edit::All | Edit::Bump(_) => {}
        }
        self.inner.cache.lock().expect("cache lock").forget();
        let mut backoff = Backoff::new();
        loop {
            let mut c = self.conn().await?;
            let state = read_with(&mut c, row)
                .await?
                .ok_or_else(|| Kind::NoRow(row.into()))?;
            if let Some(expected) = opts.expect_version {
                if state.version != expected {
                    return Err(Kind::VersionMoved {
                        row: row.into(),
                        expected,
                        actual: state.version,
                    }
                    .into());
                }
            }
            let mut change = edit.apply(&state)?;
            if let Some(seen) = approved {
                if seen.removed != change.removed || seen.replaced_raw != change.replaced_raw {
                    return Err(Kind::VersionMoved {
                        row: row.into(),
                        expected: seen.version_before,
                        actual: state.version,
                    }
                    .into());
                }
            }
            if opts.dry_run {
                change.dry_run = true;
                return Ok(change);
            }
            let outcome = match edit {
                Edit::Bump(by) => {
                    self.cas_bump(c, row, state.version, *by, &change, opts.audit.as_ref())
                        .await
                }
                _ => {
                    let json = encode(row, &change.remaining)?;
                    self.cas(
                        c,
                        row,
                        state.version,
                        &json,
                        opts.audit.as_ref().map(|a| (a, &change)),
                    )
                    .await
                }
            };
            match outcome {
                Ok(Cas::Landed) => return Ok(change),
                Ok(Cas::Conflict) => {}
                Err(WriteError::Failed(e)) => return Err(e),
                Err(WriteError::Ambiguous) => {
                    // By the time a new connection is leased, the session
                    // that sent the write has been settled: this answer is
                    // final, and a write that did not land can be retried.
                    let landed = match &opts.audit {
                        Some(audit) => {
                            crate::audit::landed(&mut self.conn().await?, &audit.op_id).await?
                        }
                        // Without a record to look up, only a row that did
                        // not move shows for certain that nothing landed.
                        None => {
                            let now = self.read(row).await?.map(|s| s.version);
                            if now != Some(state.version) {
                                return Err(Kind::Db(format!(
                                    "the connection dropped while writing row `{row}`, and the row has changed since; the change may or may not be ours, check with `locksmith locks dump {row}`"
                                ))
                                .into());
                            }
                            false
                        }
                    };
                    if landed {
                        return Ok(change);
                    }
                    if !backoff.wait().await {
                        return Err(Kind::Contended(row.into()).into());
                    }
                    continue;
                }
            }
            self.inner.stats.conflicts.fetch_add(1, Ordering::Relaxed);
            if opts.expect_version.is_some() {
                let actual = self.read(row).await?.map(|s| s.version).unwrap_or(-1);
                return Err(Kind::VersionMoved {
                    row: row.into(),
                    expected: state.version,
                    actual,
                }
                .into());
            }
            if !backoff.wait().await {
                return Err(Kind::Contended(row.into()).into());
            }
        }
    }

    /// A plain acquire or release in one statement, with no read: a CAS
    /// from this table's cached copy of the row when it has one (no JSON
    /// work on the server), else, on MariaDB, the server-evaluated
    /// conditional UPDATE. `true`: it landed. `false`: the read + CAS path
    /// must decide. On a dropped connection, re-reads to learn whether it
    /// landed.
    async fn plain(&self, op: Plain<'_>) -> Result<bool> {
        let cached = self.inner.cache.lock().expect("cache lock").take_next(&op);
        if let Some((version, next)) = cached {
            let c = self.conn().await?;
            if self.cas_plain(c, &op, version, next).await? {
                self.inner.stats.fast.fetch_add(1, Ordering::Relaxed);
                return Ok(true);
            }
            self.inner.stats.conflicts.fetch_add(1, Ordering::Relaxed);
            self.inner.cache.lock().expect("cache lock").forget();
        }
        if !self.inner.server_json {
            return Ok(false);
        }
        let mut c = self.conn().await?;
        let path = sql::json_path(op.name);
        let sent = if op.acquire {
            let params = (&path, op.holder, op.row, &path);
            c.exec_drop(sql::FAST_ACQUIRE, params).await
        } else {
            let params = (&path, op.row, &path, sql::json_string(op.holder));
            c.exec_drop(sql::FAST_RELEASE, params).await
        };
        match sent {
            Ok(()) if c.affected_rows() == 1 => {
                self.inner.stats.fast.fetch_add(1, Ordering::Relaxed);
                let version = c.last_insert_id().map(|v| v as i64);
                let quiet = self
                    .inner
                    .cache
                    .lock()
                    .expect("cache lock")
                    .applied(&op, version);
                if quiet {
                    // Nobody else wrote between our last two writes: worth
                    // one read so the next operations can skip the JSON work.
                    // Only a cache refill: the operation has landed, and a
                    // failed read must not turn it into an error.
                    if let Ok(Some(state)) = read_with(&mut c, op.row).await {
                        self.inner.cache.lock().expect("cache lock").seen(&state);
                    }
                }
                Ok(true)
            }
            Ok(()) => Ok(false),
            Err(e) if db::is_connection_loss(&e) => {
                // Sent, but did it land? Ask, on a fresh connection. (For a
                // release, "we do not hold it" is the outcome either way.)
                c.discard();
                drop(c);
                Ok(self.holds(op.row, op.name, op.holder).await? == op.acquire)
            }
            // Nothing was written: unparsable data made a JSON function fail,
            // or the server's spacing made the value too long for TEXT (1406).
            // The read + CAS path decides, and reports exactly; the limit is
            // on locksmith's own compact JSON, whichever path writes it.
            Err(e) if db::server_code(&e).is_some() => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// Writes `locks`, the result of a plain acquire or release, by CAS
    /// against `version`. `true` once it is done (also when a dropped
    /// connection turns out to have landed it); `false` on a conflict.
    async fn cas_plain(
        &self,
        c: Lease,
        op: &Plain<'_>,
        version: i64,
        locks: Locks,
    ) -> Result<bool> {
        let json = encode(op.row, &locks)?;
        match self.cas(c, op.row, version, &json, None).await {
            Ok(Cas::Landed) => {
                let mut cache = self.inner.cache.lock().expect("cache lock");
                cache.wrote(op.row, version + 1, Some(locks));
                Ok(true)
            }
            Ok(Cas::Conflict) => Ok(false),
            Err(WriteError::Failed(e)) => Err(e),
            Err(WriteError::Ambiguous) => {
                Ok(self.holds(op.row, op.name, op.holder).await? == op.acquire)
            }
        }
    }

    /// Does `holder` hold `name` in `row` right now? (Also how a dropped
    /// connection is resolved, once its session is settled.)
    pub async fn holds(&self, row: &str, name: &str, holder: &str) -> Result<bool> {
        Ok(self
            .read(row)
            .await?
            .and_then(|s| s.data.locks())
            .and_then(|l| l.get(name).map(|h| holder_matches(h, holder)))
            .unwrap_or(false))
    }

    /// One CAS write, optionally with its audit record in one transaction.
    async fn cas(
        &self,
        mut c: Lease,
        row: &str,
        version: i64,
        json: &str,
        audit: Option<(&AuditInfo, &Change)>,
    ) -> Result<Cas, WriteError> {
        let r: std::result::Result<bool, mysql_async::Error> = async {
            match audit {
                None => {
                    c.exec_drop(sql::CAS_WRITE, (json, row, version)).await?;
                    Ok(c.affected_rows() == 1)
                }
                Some((a, change)) => {
                    c.query_drop(sql::BEGIN).await?;
                    c.exec_drop(sql::CAS_WRITE, (json, row, version)).await?;
                    if c.affected_rows() != 1 {
                        c.query_drop(sql::ROLLBACK).await?;
                        return Ok(false);
                    }
                    crate::audit::insert(&mut c, a, change).await?;
                    c.query_drop(sql::COMMIT).await?;
                    Ok(true)
                }
            }
        }
        .await;
        finish(r, row, &mut c, audit.is_some()).await
    }

    async fn cas_bump(
        &self,
        mut c: Lease,
        row: &str,
        version: i64,
        by: i64,
        change: &Change,
        audit: Option<&AuditInfo>,
    ) -> Result<Cas, WriteError> {
        let r: std::result::Result<bool, mysql_async::Error> = async {
            if audit.is_some() {
                c.query_drop(sql::BEGIN).await?;
            }
            c.exec_drop(sql::CAS_BUMP, (by, row, version)).await?;
            if c.affected_rows() != 1 {
                if audit.is_some() {
                    c.query_drop(sql::ROLLBACK).await?;
                }
                return Ok(false);
            }
            if let Some(a) = audit {
                crate::audit::insert(&mut c, a, change).await?;
                c.query_drop(sql::COMMIT).await?;
            }
            Ok(true)
        }
        .await;
        finish(r, row, &mut c, audit.is_some()).await
    }
}

/// Why a CAS attempt did not return a definite answer.
enum WriteError {
    /// The connection dropped after the statement was sent, so it may or may
    /// not have landed. Callers resolve it by re-reading, never by repeating.
    Ambiguous,
    /// The server refused the statement: it did not apply.
    Failed(Error),
}

/// Classifies a write's outcome. A failed audited write rolls its
/// transaction back; a connection whose outcome is unknown is not reused.
async fn finish(
    r: std::result::Result<bool, mysql_async::Error>,
    row: &str,
    c: &mut Lease,
    in_transaction: bool,
) -> Result<Cas, WriteError> {
    if let Err(e) = &r {
        if db::is_connection_loss(e)
            || (in_transaction && c.query_drop(sql::ROLLBACK).await.is_err())
        {
            c.discard();
        }
    }
    match r {
        Ok(true) => Ok(Cas::Landed),
        Ok(false) => Ok(Cas::Conflict),
        Err(e) if db::is_connection_loss(&e) => Err(WriteError::Ambiguous),
        Err(e) if db::server_code(&e) == Some(1406) => Err(WriteError::Failed(
            Kind::TooLarge {
                row: row.into(),
                bytes: TEXT_LIMIT + 1,
                limit: TEXT_LIMIT,
            }
            .into(),
        )),
        Err(e) => Err(WriteError::Failed(e.into())),
    }
}

/// Reads one row on a leased connection.
async fn read_with(c: &mut Lease, row: &str) -> Result<Option<RowState>> {
    let r: Option<RawRow> = c.exec_first(sql::SELECT_ROW, (row,)).await?;
    r.map(to_state).transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(data: &str) -> RowState {
        RowState {
            id: "r".into(),
            version: 7,
            data: LockData::parse(Some(data)),
            changed_at: Some(0),
            read_at: 5,
        }
    }

    #[test]
    fn parse_keeps_order_and_raw_text() {
        let d = LockData::parse(Some(r#"{"z":"1","a":{"x":[1,2]},"m":3}"#));
        let LockData::Locks(m) = &d else { panic!() };
        assert_eq!(m.keys().collect::<Vec<_>>(), ["z", "a", "m"]);
        assert_eq!(
            serde_json::to_string(m).unwrap(),
            r#"{"z":"1","a":{"x":[1,2]},"m":3}"#
        );
        assert_eq!(LockData::parse(Some("[1]")), LockData::Raw("[1]".into()));
        assert_eq!(
            LockData::parse(Some("\"s\"")),
            LockData::Raw("\"s\"".into())
        );
        assert_eq!(LockData::parse(Some("nope")), LockData::Raw("nope".into()));
        assert_eq!(LockData::parse(None), LockData::Null);
        assert!(LockData::parse(Some("{}")).held_summary().is_none());
        assert!(LockData::parse(None).held_summary().is_none());
        assert!(LockData::parse(Some("[]")).held_summary().is_some());
    }

    #[test]
    fn edits() {
        let s = state(r#"{"a":"t1","b":"t2","c":"t1"}"#);
        let c = Edit::Names(vec!["b".into()]).apply(&s).unwrap();
        assert_eq!(
            serde_json::to_string(&c.remaining).unwrap(),
            r#"{"a":"t1","c":"t1"}"#
        );
        assert_eq!(c.removed.get("b"), Some(&Value::String("t2".into())));
        let c = Edit::Holder("t1".into()).apply(&s).unwrap();
        assert_eq!(
            serde_json::to_string(&c.remaining).unwrap(),
            r#"{"b":"t2"}"#
        );
        assert_eq!(c.removed.len(), 2);
        let e = Edit::Names(vec!["zz".into()]).apply(&s).unwrap_err();
        assert!(matches!(e.kind(), Kind::NotHeld { .. }));
        let e = Edit::Holder("nobody".into()).apply(&s).unwrap_err();
        assert!(matches!(e.kind(), Kind::NotHeld { .. }));
        let c = Edit::Bump(5).apply(&s).unwrap();
        assert_eq!((c.version_before, c.version_after), (7, 12));
        assert_eq!(c.remaining.len(), 3);
        let raw = state("[1,2]");
        assert!(matches!(
            Edit::Names(vec!["a".into()])
                .apply(&raw)
                .unwrap_err()
                .kind(),
            Kind::Corrupt { .. }
        ));
        let c = Edit::All.apply(&raw).unwrap();
        assert_eq!(c.replaced_raw.as_deref(), Some("[1,2]"));
        assert!(c.remaining.is_empty());
    }

    #[test]
    fn text_validation() {
        assert!(validate_text(
            "lock name",
            "app_1 'x' \"y\" \\ % _ ; DROP TABLE locks; é ☃"
        )
        .is_ok());
        let e = validate_text("lock name", "party 🎉").unwrap_err();
        assert!(e.to_string().contains("3-byte utf8"), "{e}");
        assert!(validate_text("lock name", "").is_err());
        assert!(validate_text("lock name", "a\nb").is_err());
        assert!(validate_row_id(&"r".repeat(128)).is_ok());
        assert!(validate_row_id(&"r".repeat(129)).is_err());
    }

    #[test]
    fn encode_enforces_text_limit() {
        let mut m = Locks::new();
        // {"k":"…"} is 8 bytes of syntax around the holder.
        m.insert("k".into(), Value::String("x".repeat(TEXT_LIMIT - 8)));
        assert_eq!(encode("r", &m).unwrap().len(), TEXT_LIMIT);
        m.insert("k".into(), Value::String("x".repeat(TEXT_LIMIT - 7)));
        assert!(
            matches!(encode("r", &m).unwrap_err().kind(), Kind::TooLarge { bytes, .. } if *bytes == TEXT_LIMIT + 1)
        );
    }

    #[test]
    fn characters_beyond_the_bmp_stay_escaped() {
        let d = LockData::parse(Some(
            r#"{"deploy \ud83d\ude80":"h\ud83c\udf89 1","a":"é☃"}"#,
        ));
        let locks = d.locks().unwrap();
        assert_eq!(locks.get("deploy 🚀"), Some(&Value::String("h🎉 1".into())));
        assert_eq!(
            encode("r", &locks).unwrap(),
            r#"{"deploy \ud83d\ude80":"h\ud83c\udf89 1","a":"é☃"}"#
        );
    }

    #[test]
    fn holder_matching() {
        assert!(holder_matches(&Value::String("42".into()), "42"));
        assert!(holder_matches(&serde_json::json!(42), "42"));
        assert!(!holder_matches(&Value::String("42".into()), "4"));
        assert!(!holder_matches(&Value::Null, "null"));
    }
}
