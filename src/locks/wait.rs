//! Waiting for a busy lock, for [`LockTable::lock`]. The protocol has no
//! notifications (no session state, no row locks held while waiting), so a
//! waiter polls: it looks (one read) every 20–60 ms, tries (a write) only
//! when the lock looks free, and reports what it waits for, until its
//! deadline. Failures that pass (a lost connection, a conflict) are the
//! plain operations' to retry; this loop waits only on a lock that is held.

use super::data::{validate_entry, validate_row_id, validate_text};
use super::guard::{AcquireOptions, Acquired, CutOff, LockGuard, CLEANUP_GRACE, YIELD};
use super::table::LockTable;
use crate::db::Deadline;
use crate::error::{Error, Kind, Pending, Result};
use crate::liveness::Stage;
use std::time::{Duration, Instant};

/// How often a waiter looks, on average (each look is one read; with
/// jitter, every 20–60 ms).
const POLL: Duration = Duration::from_millis(40);
/// After this long, a waiter looks less often, to spare the server.
const POLL_PATIENT_AFTER: Duration = Duration::from_secs(30);
const POLL_PATIENT: Duration = Duration::from_millis(250);

/// A waiter's look that starts this close to the end of its wait and is
/// cut off by the deadline ends the wait as one that ran out while the lock
/// was held (as it was at the look before), not as a lost connection: a
/// healthy server needs well under this for one look, and an outage that
/// began earlier would have shown in an earlier look.
const LAST_LOOK: Duration = Duration::from_millis(300);

/// The pause before the next look, with jitter (0.5–1.5×), so waiters do
/// not look in lockstep.
fn poll_pause(waited: Duration) -> Duration {
    let base = if waited < POLL_PATIENT_AFTER {
        POLL
    } else {
        POLL_PATIENT
    };
    base.mul_f64(0.5 + fastrand::f64())
}

/// [`LockTable::lock`]: acquires by `d`, waiting while the lock is busy
/// when `opts.wait` asks to, and leaves nothing held when cut off.
pub(super) async fn lock(
    t: &LockTable,
    (row, name, holder): (&str, &str, &str),
    opts: &AcquireOptions,
    d: Deadline,
    on_wait: impl FnMut(&Error),
) -> Result<LockGuard> {
    let t = t.until(d);
    let started = Instant::now();
    validate_row_id(row)?;
    validate_text("lock name", name)?;
    validate_text("holder", holder)?;
    validate_entry(row, name, holder)?;
    // What the registry cannot hold is not registered (the guard says so).
    let register = opts
        .register
        .as_ref()
        .filter(|w| w.validate(holder, name).is_ok());
    // Whether the holder held the lock before: the acquire itself says so
    // (it writes nothing then), unless it is cut off before it can. Only
    // when there is reason to think so (this table took the lock for the
    // holder and has not released it, or the caller asks) is the row read
    // first, so that a cut-off acquisition never releases a lock held
    // before it began.
    let held_before = match opts.check_held_first || t.remembers(row, name, holder) {
        true => t.holds(row, name, holder).await?,
        false => false,
    };
    // Registered before it tries: a holder that dies right after its
    // write is still one whose liveness can be told. While it waits, the
    // registry says what it waits for.
    // (A holder that held the lock before registers once it is sure it
    // still does: a failed acquire changes nothing.)
    let mut registered = match (register, held_before) {
        (Some(who), false) => {
            let unless: Vec<String> = opts
                .unless_held
                .iter()
                .map(|p| p.as_str().to_string())
                .collect();
            t.register(who, (row, name, holder), Stage::Waits, &unless)
                .await?
        }
        _ => false,
    };
    let mut cut_off = CutOff {
        table: &t,
        lock: (!held_before).then_some((row, name, holder)),
        registered,
    };
    // A registered waiter with a lease renews it while it waits, as a
    // holder does while it holds: it is alive as long as it polls.
    let beat_every = register
        .and_then(|w| w.lease)
        .filter(|_| registered)
        .map(|l| l / 3);
    let result = waiting(&t, (row, name, holder), opts, d, beat_every, on_wait).await;
    cut_off.disarm();
    match result {
        Ok(took) => {
            t.remember(row, name, holder);
            if let (Some(who), true) = (register, held_before) {
                registered = t
                    .register(who, (row, name, holder), Stage::Holds, &[])
                    .await
                    .unwrap_or(false);
            }
            if registered {
                // Best effort: the registration made before the acquire
                // already tells who the holder is; this says since when.
                let _ = t.registered_holds((row, name, holder), took.fence).await;
            }
            let lease = register.and_then(|w| w.lease);
            let keeper = match (registered, lease) {
                (true, Some(lease)) => Some(super::keeper::start(
                    t.unbounded(),
                    (row, name, holder),
                    register.cloned(),
                    lease,
                )),
                _ => None,
            };
            Ok(LockGuard {
                table: t.clone(),
                row: row.into(),
                name: name.into(),
                holder: holder.into(),
                held_before: held_before || !took.changed,
                fence: took.fence,
                registered,
                keeper,
            })
        }
        Err(e) if matches!(e.kind(), Kind::Unsettled { .. }) && !held_before => {
            t.release_later(row, name, holder, registered);
            let grace = Deadline::after(CLEANUP_GRACE);
            match t.until(grace).finish_pending().await {
                Ok(()) => Err(Kind::TimedOut {
                    after: started.elapsed(),
                    what: format!(
                        "whether lock `{name}` in row `{row}` was taken could not be told in time; it is released again, nothing is left held"
                    ),
                }
                .into()),
                Err(cleanup) => Err(Kind::Unsettled {
                    pending: Pending::Taken {
                        row: row.into(),
                        name: name.into(),
                        holder: holder.into(),
                    },
                    why: format!(
                        "{}; and releasing it again failed: {cleanup}",
                        first_line(&e)
                    ),
                }
                .into()),
            }
        }
        Err(e) => {
            if registered && !held_before {
                // It never took the lock: it is not waiting any more.
                let grace = Deadline::after(CLEANUP_GRACE);
                let _ = t.until(grace).unregister(row, name, holder).await;
            }
            Err(e)
        }
    }
}

fn first_line(e: &Error) -> String {
    e.to_string().lines().next().unwrap_or_default().to_string()
}

/// Tries, and while the lock is busy, looks again until it looks free or
/// the deadline passes.
async fn waiting(
    t: &LockTable,
    (row, name, holder): (&str, &str, &str),
    opts: &AcquireOptions,
    d: Deadline,
    beat_every: Option<Duration>,
    mut on_wait: impl FnMut(&Error),
) -> Result<Acquired> {
    let start = Instant::now();
    let mut beaten = Instant::now();
    let waits = opts.wait.is_some();
    // Just released by us, and taking it again in a loop of waiters: let
    // a waiter have its turn first. (One try, without waiting, takes it at
    // once.)
    if let Some(at) = t.released_at(row, name).filter(|_| waits) {
        let left = YIELD.saturating_sub(at.elapsed());
        if !left.is_zero() {
            d.pause(left).await;
        }
    }
    // Why the last look found it busy.
    let mut busy: Option<Error> = None;
    loop {
        let looked = Instant::now();
        // Once it was busy, look (one read) before trying (a write).
        let attempt = async {
            if busy.is_some() {
                t.may_take(row, name, holder, &opts.unless_held).await?;
            }
            t.acquire_unless(row, name, holder, &opts.unless_held).await
        };
        let attempt = async {
            match (attempt.await, opts.take_over_dead) {
                // Held: by a dead holder, it may be taken over.
                (Err(e), Some(delay)) if matches!(e.kind(), Kind::Held { .. }) => {
                    let command = opts
                        .register
                        .as_ref()
                        .map_or_else(|| "locksmith (library)".to_string(), |w| w.command.clone());
                    match t.take_over((row, name, holder), delay, &command).await {
                        Err(again) if matches!(again.kind(), Kind::NotHeld { .. }) => {
                            t.acquire_unless(row, name, holder, &opts.unless_held).await
                        }
                        Err(again) if again.is_busy() => Err(e),
                        done => done,
                    }
                }
                (done, _) => done,
            }
        };
        match attempt.await {
            Ok(took) => return Ok(took),
            Err(e) if e.is_busy() => {
                if !waits {
                    return Err(e);
                }
                if d.passed() {
                    return Err(Kind::WaitTimeout {
                        waited: start.elapsed(),
                        what: e.to_string(),
                    }
                    .into());
                }
                on_wait(&e);
                busy = Some(e);
                if let Some(every) = beat_every.filter(|e| beaten.elapsed() >= *e) {
                    // Best effort, and no longer than a beat: a missed one
                    // is made at the next look.
                    let bounded = t.until(d.within(every));
                    if bounded.beat(row, name, holder).await.is_ok() {
                        beaten = Instant::now();
                    }
                }
                d.pause(poll_pause(start.elapsed())).await;
            }
            // The wait ran out during a look that began at its very end
            // (see LAST_LOOK); nothing of it landed (that would be
            // `Unsettled`).
            Err(e)
                if matches!(e.kind(), Kind::TimedOut { .. } | Kind::Lost(_))
                    && busy.is_some()
                    && waits
                    && d.passed()
                    && d.instant().saturating_duration_since(looked) < LAST_LOOK =>
            {
                return Err(Kind::WaitTimeout {
                    waited: start.elapsed(),
                    what: busy.map(|b| b.to_string()).unwrap_or_default(),
                }
                .into());
            }
            Err(e) => return Err(e),
        }
    }
}
