//! A guard's heartbeat: while a registered holder with a lease holds its
//! lock, a task of its guard's own renews the lease every third of it, and
//! each time also checks that the lock is still the holder's. A lock found
//! lost (an operator released it, or another holder took it over after the
//! lease ran out) is reported once, with who holds it now and why, as the
//! audit trail tells it; then the task ends.
//!
//! A heartbeat that cannot reach the server is tried again soon (a tenth
//! of a beat, at most a second, later), not at the next beat: a server
//! restart shorter than the lease goes unnoticed by everyone, however it
//! falls between the beats. One that finds the holder's registration gone
//! while it still holds the lock registers it again.

use super::guard::{Keeper, Lost};
use super::table::LockTable;
use crate::db::Deadline;
use crate::error::Kind;
use crate::liveness::{Registering, Stage};
use std::time::Duration;
use tokio::sync::watch;

/// Starts the heartbeat of `holder`'s lease on `name` in `row`.
pub(super) fn start(
    table: LockTable,
    (row, name, holder): (&str, &str, &str),
    who: Option<Registering>,
    lease: Duration,
) -> Keeper {
    let (tx, rx) = watch::channel(None);
    let (row, name, holder) = (row.to_string(), name.to_string(), holder.to_string());
    let task = tokio::spawn(async move {
        let every = (lease / 3).max(Duration::from_millis(10));
        let again = (every / 10).clamp(Duration::from_millis(10), Duration::from_secs(1));
        let mut next = tokio::time::Instant::now() + every;
        loop {
            tokio::time::sleep_until(next).await;
            let began = tokio::time::Instant::now();
            next = began + every;
            // A beat gets until the next one is due. One that fails (a
            // server that refuses connections fails at once) is tried again
            // soon: waiting a whole beat after it would let a restart that
            // spans two beats use up the lease.
            let t = table.until(Deadline::after(every));
            match t.renew(&row, &name, &holder).await {
                Ok(()) => {}
                Err(e)
                    if matches!(
                        e.kind(),
                        Kind::NotHeld { .. } | Kind::WrongHolder { .. } | Kind::NoRow(_)
                    ) =>
                {
                    let now_held_by = match e.kind() {
                        Kind::WrongHolder { holder, .. } => Some(holder.clone()),
                        _ => None,
                    };
                    let why = table
                        .until(Deadline::after(every))
                        .why_lost(&row, &name, &holder)
                        .await
                        .unwrap_or_else(|| "the audit trail does not say by whom".into());
                    let _ = tx.send(Some(Lost { now_held_by, why }));
                    return;
                }
                Err(e) if matches!(e.kind(), Kind::NotRegistered { .. }) => {
                    if let Some(w) = &who {
                        let _ = t
                            .register(w, (&row, &name, &holder), Stage::Holds, &[])
                            .await;
                    }
                }
                Err(_) => next = tokio::time::Instant::now() + again,
            }
        }
    });
    Keeper { task, lost: rx }
}
