//! Byte-exact writes (issue 18): a lock write changes only the bytes of the
//! entry it adds or removes and the separator next to it, on every path
//! (the server's single UPDATE, a CAS from the cached row, read + CAS,
//! audited operator changes, the guard); a confirmed operator plan matches
//! holders by meaning, not by spelling; and a client of the seed's protocol
//! (written here, SQL only, like Cloudron's box) keeps its bytes beside
//! locksmith's workers and operators.
//!
//! `text` makes rows as text and works out the rule on their spans;
//! `paths` runs them through every path; `respaced` re-spaces a holder
//! between an operator's plan and its write; `seed_client` is the contest
//! (galera.rs runs it across a cluster).

mod paths;
mod respaced;
pub mod seed_client;
mod text;

use crate::harness::*;
use locksmith::{AcquireOptions, DbUrl, LockTable};
