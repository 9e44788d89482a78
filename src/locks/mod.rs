//! The lock protocol on the `locks` table: the row model, operator edits,
//! the compare-and-swap writes, the public [`LockTable`] operations, waiting
//! with a deadline, and the audit trail of operator changes.
//!
//! * [`entries`]: a row's locks, each exactly as its writer stored it.
//! * [`data`]: what a row holds, what can be wrong with it, and what can
//!   be stored (pure).
//! * [`edit`]: operator edits as planned changes (pure).
//! * [`table`]: [`LockTable`], every public operation, each handing its
//!   work to one of the crate-private modules: `read` (reading rows),
//!   `plain` (acquire and release for programs), `wait` (waiting for a busy
//!   lock), `operator` (planned, audited changes for people), `write` (the
//!   one module that writes rows), `cache` (the client's copy of the row)
//!   and `check` (whether the table is one lock writes can work on).
//! * [`guard`]: [`LockGuard`], [`AcquireOptions`], and the release a cut-off
//!   acquisition owes; `keeper` is a guard's heartbeat, which also finds a
//!   lock lost.
//! * [`observe`]: a [`Snapshot`] of the rows with each holder judged alive,
//!   dead or unknown, and who waits for whom.
//! * [`audit`]: the `locks_audit` records.

pub mod audit;
mod cache;
mod check;
pub mod data;
pub mod edit;
pub mod entries;
pub mod guard;
mod keeper;
pub mod observe;
mod operator;
mod plain;
mod read;
pub mod table;
mod wait;
pub(crate) mod write;

pub use audit::{AuditInfo, AuditRecord};
pub use data::{LockData, RowState, Version};
pub use edit::{Change, Edit};
pub use entries::{Entry, Locks};
pub use guard::{AcquireOptions, Acquired, LockGuard, Lost};
pub use observe::{Held, Snapshot, Waiter};
pub use operator::WriteOpts;
pub use table::LockTable;
pub use write::Stats;
