//! The one retry policy: what is worth trying again, how long to wait
//! before the next try, and what to say when the deadline passes first.
//!
//! Every loop in locksmith that tries something again goes through
//! [`Retry`] ([`Retry::after`] decides, after each attempt, whether and
//! when to try again): lock operations, statements retried on a lease
//! (`Lease::with` in `session`, which migrations, the migration guard
//! and its heartbeat use), `locks run`'s release, and waiting for a server
//! to come up. A failure is worth another try when it is *passing* (see
//! [`passing`]): the connection broke or could not be made, the server
//! said to try again (1213, 1205, 1047), or another writer won a
//! compare-and-swap. Which of these a loop retries, and how it backs off
//! after each, is its [`Policy`].
//!
//! An attempt that sent a write and lost the reply does not know whether
//! it landed. It says so by failing with [`Failure::unsure`]; the next
//! attempt is told ([`Attempt::unsure`]) and settles that first, and a
//! deadline that passes while it is still unknown ends the operation with
//! [`Kind::Unsettled`], naming what may be left ([`Pending`]). The
//! operation never keeps that state itself.

use super::deadline::Deadline;
use crate::error::{Error, Kind, Pending, Result};
use std::time::{Duration, Instant};

/// Why a failure may pass.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Passing {
    /// The connection broke, or stopped answering, or could not be made
    /// (the server is restarting, the node is down, too many connections).
    Lost = 0,
    /// The server refused for now and nothing landed: a deadlock or a
    /// cluster write conflict (1213), a lock wait timeout (1205), a node
    /// not ready (1047).
    Refused = 1,
    /// Another writer changed the row first (a compare-and-swap matched
    /// nothing).
    Conflict = 2,
    /// A host name did not resolve (worth waiting for only while a machine
    /// boots).
    Unresolved = 3,
}

/// Whether `e` may pass if tried again, and why: the one definition.
pub fn passing(e: &Error) -> Option<Passing> {
    match e.kind() {
        Kind::Lost(_) | Kind::Unreachable { .. } | Kind::NoNodeAnswered { .. } => {
            Some(Passing::Lost)
        }
        Kind::Transient(_) => Some(Passing::Refused),
        Kind::Contended(_) => Some(Passing::Conflict),
        Kind::UnknownHost { .. } => Some(Passing::Unresolved),
        // Too many connections, or shutting down: the server is there.
        _ if matches!(e.server_code(), Some(1040 | 1053)) => Some(Passing::Lost),
        _ => None,
    }
}

/// Full-jitter exponential backoff: each pause is uniformly random up to a
/// step that doubles from `first` to `max`.
#[derive(Clone, Copy, Debug)]
pub struct Backoff {
    next: Duration,
    max: Duration,
}

impl Backoff {
    /// Starting at `first`, doubling up to `max`.
    pub const fn new(first: Duration, max: Duration) -> Backoff {
        Backoff { next: first, max }
    }

    /// The next pause.
    pub fn next_pause(&mut self) -> Duration {
        let step = self.next;
        self.next = (self.next * 2).min(self.max);
        step.mul_f64(fastrand::f64())
    }
}

/// How one class of passing failure is retried: the backoff, and how many
/// times at most (`None`: until the deadline).
#[derive(Clone, Copy, Debug)]
pub struct Curve {
    pub backoff: Backoff,
    pub tries: Option<u32>,
}

impl Curve {
    /// Pauses from `first_us` microseconds, doubling up to `max_ms`
    /// milliseconds; at most `tries` tries in all.
    pub const fn new(first_us: u64, max_ms: u64, tries: Option<u32>) -> Option<Curve> {
        Some(Curve {
            backoff: Backoff::new(
                Duration::from_micros(first_us),
                Duration::from_millis(max_ms),
            ),
            tries,
        })
    }
}

const fn curve(first_us: u64, max_ms: u64, tries: Option<u32>) -> Option<Curve> {
    Curve::new(first_us, max_ms, tries)
}

/// Which passing failures a loop retries, and how. A class it does not
/// retry ends the loop with that error at once.
#[derive(Clone, Copy, Debug)]
pub struct Policy {
    /// After a lost or refused connection.
    pub lost: Option<Curve>,
    /// After the server refused for now: short, since the other writer has
    /// already won.
    pub refused: Option<Curve>,
    /// After a lost compare-and-swap: short and jittered, so that
    /// contenders spread out instead of colliding again in lockstep.
    pub conflict: Option<Curve>,
    /// After a host name that did not resolve.
    pub unresolved: Option<Curve>,
    /// When the deadline passes during lost connections, the error says
    /// the operation gave up after so long ([`Kind::TimedOut`]); otherwise
    /// it is the last failure itself.
    pub says_timeout: bool,
}

impl Policy {
    /// A lock-table operation: rides through lost connections and server
    /// restarts, cluster conflicts and lost CAS races, until its deadline
    /// (64 lost races at most: then the row is too busy to say).
    pub const OPERATION: Policy = Policy {
        lost: curve(20_000, 1000, None),
        refused: curve(1_000, 100, None),
        conflict: curve(200, 50, Some(64)),
        unresolved: None,
        says_timeout: true,
    };

    /// One autocommit statement whose connection must not be given up on
    /// (a migration's): only what the server refused for now, which
    /// nothing of landed, is tried again.
    pub const STATEMENT: Policy = Policy {
        lost: None,
        refused: curve(2_000, 200, Some(50)),
        conflict: None,
        unresolved: None,
        says_timeout: false,
    };

    /// [`Policy::STATEMENT`] for what may run twice to the same effect: a
    /// lost connection is also replaced, once, and it is run again.
    pub const IDEMPOTENT: Policy = Policy {
        lost: curve(1_000, 10, Some(2)),
        refused: curve(2_000, 200, Some(50)),
        conflict: None,
        unresolved: None,
        says_timeout: false,
    };

    /// Waiting for a server that is not up yet (`--wait-for-db`): also a
    /// name that does not resolve yet.
    pub const SERVER_START: Policy = Policy {
        lost: curve(100_000, 1000, None),
        refused: curve(100_000, 1000, None),
        conflict: None,
        unresolved: curve(100_000, 1000, None),
        says_timeout: false,
    };

    /// A release owed after a command ran (`locks run`): patient, since the
    /// server may be down for minutes, and a release is never given up on
    /// before its deadline.
    pub const RELEASE: Policy = Policy {
        lost: curve(100_000, 5000, None),
        refused: curve(1_000, 100, None),
        conflict: curve(200, 50, None),
        unresolved: curve(100_000, 5000, None),
        says_timeout: true,
    };
}

/// What an attempt is told about the ones before it.
#[derive(Clone, Copy, Debug)]
pub struct Attempt {
    /// 1 for the first.
    pub number: u32,
    /// The last attempt sent a write and lost the reply: it may have
    /// landed. Settle that first.
    pub unsure: bool,
    /// How long the operation has been trying.
    pub elapsed: Duration,
}

/// How an attempt failed: the error, and whether a write it sent may have
/// landed unseen.
#[derive(Debug)]
pub struct Failure {
    error: Error,
    unsure: bool,
}

impl Failure {
    /// A failure after which a write of this operation may have landed:
    /// the next attempt settles it first.
    pub fn unsure(error: Error) -> Failure {
        Failure {
            error,
            unsure: true,
        }
    }

    /// The error.
    pub fn error(&self) -> &Error {
        &self.error
    }
}

impl From<Error> for Failure {
    fn from(error: Error) -> Failure {
        Failure {
            error,
            unsure: false,
        }
    }
}

impl From<Kind> for Failure {
    fn from(kind: Kind) -> Failure {
        Failure::from(Error::from(kind))
    }
}

/// What an operation may leave behind, said when its deadline passes.
type PendingFn<'a> = dyn FnOnce() -> Pending + Send + Sync + 'a;

/// Hears of each failure that is tried again, and of what class.
pub type Heard<'a> = dyn Fn(Passing, &Error) + Send + Sync + 'a;

/// One operation's retrying: its deadline and policy, what it may leave
/// behind when its outcome cannot be told, who hears about retries, and
/// what the attempts so far have reported.
///
/// An operation hands it a closure that makes one attempt ([`Retry::run`]),
/// or, when each attempt needs a lease or connection to itself, a closure
/// that is handed that and hands it back ([`Retry::run_with`]):
///
/// ```ignore
/// Retry::new(d, Policy::OPERATION)
///     .run(|a| async move { /* one attempt, told `a` */ })
///     .await
/// ```
///
/// The closures return `async move` blocks rather than being async
/// closures: the future of a generic `AsyncFnMut` cannot be proved `Send`
/// on stable Rust ("implementation of `Send` is not general enough" where
/// a lock operation runs on a spawned task), while a plain closure's future
/// can. State an operation carries from one attempt to the next is handed
/// through [`Retry::run_with`] (a flag no attempt waits on may sit outside,
/// in an atomic). A statement retried on a lease (`session/lease.rs`) is one more
/// such attempt: it is handed the lease and the closure that makes the
/// statement, which borrows the driver's connection anew each time.
pub struct Retry<'a> {
    deadline: Deadline,
    policy: Policy,
    pending: Option<Box<PendingFn<'a>>>,
    on_retry: Option<&'a Heard<'a>>,
    started: Instant,
    /// Pauses of each class of failure.
    curves: [Option<Curve>; 4],
    /// Failures of each class so far.
    tried: [u32; 4],
    /// The last attempt reported that its write may have landed unseen.
    unsure: bool,
    number: u32,
}

impl<'a> Retry<'a> {
    /// Retries within `deadline` as `policy` says.
    pub fn new(deadline: Deadline, policy: Policy) -> Retry<'a> {
        Retry {
            deadline,
            policy,
            pending: None,
            on_retry: None,
            started: Instant::now(),
            curves: [
                policy.lost,
                policy.refused,
                policy.conflict,
                policy.unresolved,
            ],
            tried: [0; 4],
            unsure: false,
            number: 0,
        }
    }

    /// What may be left when the deadline passes while an attempt's write
    /// is unsure (default: [`Pending::Unknown`]).
    pub fn pending(mut self, what: impl FnOnce() -> Pending + Send + Sync + 'a) -> Retry<'a> {
        self.pending = Some(Box::new(what));
        self
    }

    /// Tells `f` of each failure that is tried again.
    pub fn on_retry(mut self, f: &'a Heard<'a>) -> Retry<'a> {
        self.on_retry = Some(f);
        self
    }

    /// The deadline it retries within.
    pub fn deadline(&self) -> Deadline {
        self.deadline
    }

    /// The next attempt, and what it is told about the ones before.
    pub fn attempt(&mut self) -> Attempt {
        self.number += 1;
        Attempt {
            number: self.number,
            unsure: self.unsure,
            elapsed: self.started.elapsed(),
        }
    }

    /// After an attempt: `Some` with the operation's result once it is over
    /// (it succeeded, failed for good, its class of failure has been tried
    /// as often as the policy allows, or the deadline passed); `None` after
    /// the pause before the next attempt.
    pub async fn after<T>(&mut self, tried: Result<T, Failure>) -> Option<Result<T>> {
        let failure = match tried {
            Ok(done) => return Some(Ok(done)),
            Err(f) => f,
        };
        self.unsure = failure.unsure;
        let Some(class) = passing(&failure.error) else {
            return Some(Err(failure.error));
        };
        let i = class as usize;
        let Some(curve) = self.curves[i].as_mut() else {
            return Some(Err(self.give_up(failure)));
        };
        self.tried[i] += 1;
        if curve.tries.is_some_and(|max| self.tried[i] >= max) {
            return Some(Err(self.give_up(failure)));
        }
        let pause = curve.backoff.next_pause();
        if let Some(f) = self.on_retry {
            f(class, &failure.error);
        }
        if !self.deadline.pause(pause).await {
            return Some(Err(self.give_up(failure)));
        }
        None
    }

    /// The error that ends the loop: what may be left when the last
    /// attempt is unsure, the last error itself when it says all there is
    /// (a row too busy, a refusal), or that the deadline passed.
    fn give_up(&mut self, last: Failure) -> Error {
        if last.unsure {
            let pending = self.pending.take().map_or(Pending::Unknown, |p| p());
            return Kind::Unsettled {
                pending,
                why: format!(
                    "the deadline passed before the outcome could be told (last error: {})",
                    first_line(&last.error)
                ),
            }
            .into();
        }
        match passing(&last.error) {
            Some(Passing::Lost | Passing::Unresolved)
                if self.policy.says_timeout && self.deadline.passed() =>
            {
                Kind::TimedOut {
                    after: self.started.elapsed(),
                    what: last.error.to_string(),
                }
                .into()
            }
            _ => last.error,
        }
    }
}

impl Retry<'_> {
    /// Runs `attempt` until it is done, as this retry says: each call is
    /// told about the ones before ([`Attempt`]), and the result is the
    /// operation's (see [`Retry::after`]).
    pub async fn run<T, F>(mut self, mut attempt: impl FnMut(Attempt) -> F) -> Result<T>
    where
        F: std::future::Future<Output = Result<T, Failure>>,
    {
        loop {
            let a = self.attempt();
            let tried = attempt(a).await;
            if let Some(done) = self.after(tried).await {
                return done;
            }
        }
    }

    /// [`Retry::run`] for attempts that need `r` (a lease, a connection)
    /// to themselves: each attempt is handed it and hands it back with its
    /// result, so that it can borrow it across its awaits.
    pub async fn run_with<R, T, F>(
        mut self,
        mut r: R,
        mut attempt: impl FnMut(R, Attempt) -> F,
    ) -> Result<T>
    where
        F: std::future::Future<Output = (R, Result<T, Failure>)>,
    {
        loop {
            let a = self.attempt();
            let (back, tried) = attempt(r, a).await;
            r = back;
            if let Some(done) = self.after(tried).await {
                return done;
            }
        }
    }
}

fn first_line(e: &Error) -> String {
    e.to_string().lines().next().unwrap_or_default().to_string()
}

#[cfg(test)]
mod tests;
