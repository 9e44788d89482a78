//! Byte-exact writes (issue 18): a lock write changes only the bytes of the
//! entry it adds or removes and the separator next to it, on every path
//! (the server's single UPDATE, a CAS from the cached row, read + CAS,
//! audited operator changes, the guard); and a confirmed operator plan
//! matches holders by meaning, not by spelling.
//!
//! `text` makes rows as text and works out the rule on their spans;
//! `paths` runs them through every path; `respaced` re-spaces a holder
//! between an operator's plan and its write.

mod paths;
mod respaced;
mod text;

use crate::harness::*;
use locksmith::{AcquireOptions, DbUrl, LockTable};
