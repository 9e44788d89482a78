//! How one lock-table operation retries: until it is done, fails for good,
//! or its deadline passes. Passing failures (a lost connection, a server
//! restarting, a refusal for now such as a cluster write conflict) wait
//! with backoff; a write whose outcome was lost is settled by the next
//! attempt before anything else; a deadline that passes while an outcome
//! is still unknown says so in the operation's own words.

use super::write::Backoff;
use crate::db::deadline;
use crate::error::{Error, Kind, Result};
use std::time::{Duration, Instant};

/// Runs `$attempt` until it is done, fails for good, or the deadline (the
/// one in force, or else the table's timeout) passes, retrying passing failures
/// with backoff. `$r` ([`Retry`]) carries between attempts whether an
/// earlier one sent a write whose outcome is unknown; an attempt settles
/// that first. If the deadline passes while it is still unknown, the error
/// says so in `$unknown`'s words.
macro_rules! retrying {
    ($table:expr, $unknown:expr, |$r:ident| $attempt:expr) => {
        $crate::db::deadline::within_or($table.timeout(), async {
            let mut $r = $crate::locks::retry::Retry::new();
            loop {
                match $attempt {
                    Err(e) if e.is_transient() => {
                        if matches!(e.kind(), $crate::error::Kind::Transient(_)) {
                            $table.writer().count_transient();
                        }
                        $r.after(e, $unknown).await?
                    }
                    done => break done,
                }
            }
        })
        .await
    };
}

pub(crate) use retrying;

/// Between attempts of one operation: when it started, the backoff, and
/// whether a write of it may have landed unseen.
pub(crate) struct Retry {
    started: Instant,
    /// Backoff after a lost connection or an unreachable server.
    backoff: deadline::Backoff,
    /// Backoff after a write the server refused for now (1213 …): short,
    /// like a CAS conflict, since the other writer has already won.
    refused: deadline::Backoff,
    pub(crate) unsure: bool,
    /// Backoff between CAS conflicts (these are not passing failures: the
    /// row moved, so the attempt reads it again).
    pub(crate) conflicts: Backoff,
    /// The slow path was counted for the bench.
    pub(crate) counted: bool,
}

impl Retry {
    pub(crate) fn new() -> Retry {
        Retry {
            started: Instant::now(),
            backoff: deadline::Backoff::new(Duration::from_millis(20), Duration::from_secs(1)),
            refused: deadline::Backoff::new(Duration::from_millis(1), Duration::from_millis(100)),
            unsure: false,
            conflicts: Backoff::default(),
            counted: false,
        }
    }

    /// After a passing failure: waits before the next attempt, or gives up
    /// once the deadline has passed.
    pub(crate) async fn after(&mut self, e: Error, unknown: impl FnOnce() -> String) -> Result<()> {
        let waited = match e.kind() {
            Kind::Transient(_) => self.refused.wait().await,
            _ => self.backoff.wait().await,
        };
        if waited {
            return Ok(());
        }
        Err(match self.unsure {
            true => {
                let text = unknown();
                let (what, hint) = text.split_once("\nhint:").unwrap_or((&text, ""));
                let last = e.to_string();
                let last = last.lines().next().unwrap_or_default();
                Kind::Unsettled(format!(
                    "{what}: the deadline passed before the outcome could be told (last error: {last}){}",
                    if hint.is_empty() { String::new() } else { format!("\nhint:{hint}") }
                ))
                .into()
            }
            false => Kind::TimedOut {
                after: self.started.elapsed(),
                what: e.to_string(),
            }
            .into(),
        })
    }
}
