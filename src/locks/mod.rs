//! The lock protocol on the `locks` table: the row model, operator edits,
//! the compare-and-swap writes, the public [`LockTable`] operations, waiting
//! with a deadline, and the audit trail of operator changes.
//!
//! * [`data`]: what a row holds, and what can be stored (pure).
//! * [`edit`]: operator edits as planned changes (pure).
//! * `cache` and `write` (crate-private): the client's copy of the row, and
//!   the one module that writes rows.
//! * [`table`]: [`LockTable`], every public operation.
//! * [`guard`]: acquiring with a deadline, cut-off clean-up, [`LockGuard`].
//! * [`audit`]: the `locks_audit` records.

pub mod audit;
mod cache;
pub mod data;
pub mod edit;
pub mod guard;
pub mod table;
pub(crate) mod write;

pub use audit::{AuditInfo, AuditRecord};
pub use data::{LockData, Locks, RowState};
pub use edit::{Change, Edit};
pub use guard::{AcquireOptions, LockGuard};
pub use table::{LockTable, WriteOpts};
pub use write::Stats;
