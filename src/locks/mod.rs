//! The lock protocol on the `locks` table: the row model, operator edits,
//! the compare-and-swap writes, the public [`LockTable`] operations, waiting
//! with a deadline, and the audit trail of operator changes.
//!
//! * [`entries`]: a row's locks, each exactly as its writer stored it.
//! * [`data`]: what a row holds, what can be wrong with it, and what can
//!   be stored (pure).
//! * [`edit`]: operator edits as planned changes (pure).
//! * `cache` and `write` (crate-private): the client's copy of the row, and
//!   the one module that writes rows; `check`: whether the table they write
//!   to is one they can work on.
//! * [`table`]: [`LockTable`], every public operation; `operator` adds the
//!   operator's planned, audited changes to it, and `retry` says how each
//!   operation retries within its deadline.
//! * [`guard`]: acquiring with a deadline, cut-off clean-up, [`LockGuard`].
//! * [`audit`]: the `locks_audit` records.

pub mod audit;
mod cache;
mod check;
pub mod data;
pub mod edit;
pub mod entries;
pub mod guard;
mod operator;
mod retry;
pub mod table;
pub(crate) mod write;

pub use audit::{AuditInfo, AuditRecord};
pub use data::{LockData, RowState, Version};
pub use edit::{Change, Edit};
pub use entries::{Entry, Locks};
pub use guard::{AcquireOptions, LockGuard};
pub use table::{LockTable, WriteOpts};
pub use write::Stats;
