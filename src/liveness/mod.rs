//! Holder liveness: whether the holder of a lock is still alive, so that
//! the dead are told from the live (the seed's own motivation: "we need a
//! way to know what locks were held by the crashing task").
//!
//! * [`registry`]: the `locks_holders` table, where the holders locksmith
//!   runs say who they are and since when, and keep their leases alive.
//! * [`verdict`]: alive, dead (with evidence) or unknown, and why.
//! * [`probe`]: an operator's command that judges holders locksmith did
//!   not register.
//!
//! The lock protocol ([`crate::locks`]) registers holders, heartbeats them
//! and releases the dead; this module only knows the registry and how to
//! judge what it says.

pub mod probe;
pub mod registry;
pub mod verdict;

pub use probe::{Probe, PROBE_TIMEOUT};
pub use registry::{Registering, Registration, Stage};
pub use verdict::{judge, Evidence, Here, Liveness, State, ThisHost};
