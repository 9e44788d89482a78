//! The bench's own writes, on its scratch row and never on a real one:
//! filling it with locks, the ceiling's plain commits, and removing it.
//! They are privileged (no lock protocol: the ceiling writes blindly, the
//! removal deletes a row), which is why they live here and not with the
//! lock writes.

use crate::db::{sql, Deadline};
use crate::error::{Kind, Result};
use crate::locks::{data::encode, LockTable, Locks};
use std::time::Instant;

/// Fills the freshly created scratch row with `locks`, by CAS.
pub(super) async fn fill(t: &LockTable, row: &str, locks: &Locks) -> Result<()> {
    let state = t.read(row).await?.ok_or_else(|| Kind::NoRow(row.into()))?;
    let json = encode(row, locks)?;
    let d = Deadline::after(t.timeout());
    let mut c = t.session().lease(d).await?;
    c.exec_drop(sql::CAS_WRITE, (json, row, state.number()?))
        .await?;
    if c.affected_rows() != 1 {
        return Err(Kind::Contended(row.into()).into());
    }
    Ok(())
}

/// The ceiling: plain single-row commits on the scratch row until `until`.
/// Returns how many landed, and how many the server refused for now. On a
/// cluster node, a commit the cluster refuses for now (1213: another
/// node's write was being applied) is counted and tried again, as the lock
/// protocol would.
pub(super) async fn ceiling(t: &LockTable, row: &str, until: Instant) -> Result<(u64, u64)> {
    // The loop stops at `until`; its last statement may take its timeout.
    let d = Deadline::at(until + t.timeout());
    let mut c = t.session().lease(d).await?;
    let (mut n, mut refused) = (0u64, 0u64);
    while Instant::now() < until {
        match c.exec_drop(sql::BENCH_CEILING, (row,)).await {
            Ok(()) => n += c.affected_rows(),
            Err(e) if matches!(e.kind(), Kind::Transient(_)) => refused += 1,
            Err(e) => return Err(e),
        }
    }
    Ok((n, refused))
}

/// Removes the scratch row.
pub(super) async fn remove(t: &LockTable, row: &str) -> Result<()> {
    let d = Deadline::after(t.timeout());
    t.session()
        .lease(d)
        .await?
        .exec_drop(sql::DELETE_ROW, (row,))
        .await
}
