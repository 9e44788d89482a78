//! Plain acquire and release, for programs: one statement when it can be
//! (a CAS from the cached row, or the server's conditional UPDATE), else a
//! read and a compare-and-swap. Each attempt goes through the one retry
//! policy ([`crate::db::retry`]): a lost connection, a server asking to try
//! again and a lost CAS race are tried again within the deadline, and an
//! attempt whose write was sent but not answered says so, so that the next
//! one first reads whether it landed.

use super::cache::Plain;
use super::data::{check_held, may_take, new_entry};
use super::guard::Acquired;
use super::read;
use super::write::{Outcome, Writer};
use crate::db::retry::{Failure, Passing, Policy, Retry};
use crate::db::{Deadline, Session};
use crate::error::{Error, Kind, Pending, Result};
use std::sync::atomic::{AtomicBool, Ordering};

/// Counts what the policy retries, for the bench: a lost CAS race, and a
/// statement the server refused for now.
pub(super) fn count(w: &Writer, class: Passing) {
    match class {
        Passing::Conflict => w.count_conflict(),
        Passing::Refused => w.count_transient(),
        Passing::Lost | Passing::Unresolved => {}
    }
}

/// An error met while an earlier attempt's outcome is still to be told: it
/// stays untold.
fn still(unsure: bool) -> impl Fn(Error) -> Failure {
    move |e| match unsure {
        true => Failure::unsure(e),
        false => Failure::from(e),
    }
}

/// Takes `op.name` for `op.holder`, unless it (or a lock matching one of
/// `unless`) is held by someone else. Creates the row when it is missing.
pub(super) async fn acquire(
    s: &Session,
    w: &Writer,
    op: Plain<'_>,
    unless: &[glob::Pattern],
    d: Deadline,
) -> Result<Acquired> {
    let (row, name, holder) = (op.row, op.name, op.holder);
    let heard = |class: Passing, _: &Error| count(w, class);
    let retry = Retry::new(d, Policy::OPERATION)
        .pending(|| Pending::Taken {
            row: row.into(),
            name: name.into(),
            holder: holder.into(),
        })
        .on_retry(&heard);
    let counted = AtomicBool::new(false);
    let counted = &counted;
    retry
        .run(|a| async move {
            let mut c = s.lease(d).await.map_err(still(a.unsure))?;
            // An earlier attempt's write may have landed: then it is done.
            if a.unsure {
                let now = read::row(&mut c, row).await.map_err(Failure::unsure)?;
                if let Some(s) = now.filter(|s| holds(s, name, holder)) {
                    return Ok(Acquired {
                        changed: true,
                        fence: s.version.number(),
                    });
                }
            }
            let mut created = false;
            let state = loop {
                if unless.is_empty() {
                    match w.plain(&mut c, op).await? {
                        Outcome::Landed(fence) => {
                            return Ok(Acquired {
                                changed: true,
                                fence,
                            })
                        }
                        Outcome::Unknown(e) => return Err(Failure::unsure(e)),
                        Outcome::Missed => {}
                    }
                }
                if !counted.swap(true, Ordering::Relaxed) {
                    w.count_slow();
                }
                match read::exact(read::row(&mut c, row).await?, row)? {
                    Some(state) => break state,
                    // A new row: create it, then the single statement again.
                    None if !created => {
                        w.ensure_row(&mut c, row).await?;
                        created = true;
                    }
                    None => return Err(Kind::Contended(row.into()).into()),
                }
            };
            let mut locks = state.locks_to_write()?;
            let version = state.number()?;
            if may_take(row, &locks, name, holder, unless)? {
                // Already ours: acquiring is idempotent.
                return Ok(Acquired {
                    changed: false,
                    fence: Some(version),
                });
            }
            locks.add(new_entry(name, holder));
            match w.cas_plain(&mut c, &op, version, locks).await? {
                Outcome::Landed(fence) => Ok(Acquired {
                    changed: true,
                    fence,
                }),
                Outcome::Unknown(e) => Err(Failure::unsure(e)),
                Outcome::Missed => Err(Kind::Contended(row.into()).into()),
            }
        })
        .await
}

/// Releases `op.name` if `op.holder` holds it; otherwise fails, naming the
/// real holder or saying it is not held. `policy` says how patiently;
/// `heard` hears of each failure tried again.
pub(super) async fn release(
    s: &Session,
    w: &Writer,
    op: Plain<'_>,
    d: Deadline,
    policy: Policy,
    heard: Option<&(dyn Fn(&Error) + Send + Sync)>,
) -> Result<()> {
    let (row, name, holder) = (op.row, op.name, op.holder);
    let on_retry = |class: Passing, e: &Error| {
        count(w, class);
        if let Some(h) = heard {
            h(e);
        }
    };
    let retry = Retry::new(d, policy)
        .pending(|| Pending::Kept {
            row: row.into(),
            name: name.into(),
            holder: holder.into(),
        })
        .on_retry(&on_retry);
    let counted = AtomicBool::new(false);
    let counted = &counted;
    retry
        .run(|a| async move {
            let mut c = s.lease(d).await.map_err(still(a.unsure))?;
            // An earlier attempt's write may have landed: then it is done.
            if a.unsure
                && !read::holds(&mut c, row, name, holder)
                    .await
                    .map_err(Failure::unsure)?
            {
                return Ok(());
            }
            match w.plain(&mut c, op).await? {
                Outcome::Landed(_) => return Ok(()),
                Outcome::Unknown(e) => return Err(Failure::unsure(e)),
                Outcome::Missed => {}
            }
            if !counted.swap(true, Ordering::Relaxed) {
                w.count_slow();
            }
            let state = read::exact(read::row(&mut c, row).await?, row)?
                .ok_or_else(|| Kind::NoRow(row.into()))?;
            let mut locks = state.locks_to_write()?;
            let version = state.number()?;
            check_held(row, &locks, name, holder)?;
            locks.remove(name);
            match w.cas_plain(&mut c, &op, version, locks).await? {
                Outcome::Landed(_) => Ok(()),
                Outcome::Unknown(e) => Err(Failure::unsure(e)),
                Outcome::Missed => Err(Kind::Contended(row.into()).into()),
            }
        })
        .await
}

/// Whether `holder` holds `name` in the row as read.
fn holds(s: &super::data::RowState, name: &str, holder: &str) -> bool {
    s.data
        .locks()
        .and_then(|l| l.get(name).map(|e| e.held_by(holder)))
        .unwrap_or(false)
}
