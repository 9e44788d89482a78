//! The bench's own writes, on its scratch row and never on a real one:
//! filling it with locks, the two ceilings' blind commits, and removing
//! it. They are privileged (no lock protocol: the ceilings write blindly,
//! the removal deletes a row), which is why they live here and not with
//! the lock writes.

use crate::db::{sql, Deadline};
use crate::error::{Kind, Result};
use crate::locks::{data::encode, Entry, LockTable, Locks};
use std::time::Instant;

/// The two texts one row-ceiling worker writes in turn: exactly what its
/// lock operations leave in the row.
#[derive(Clone, Debug)]
pub(super) struct RowTexts {
    /// The filler locks and the worker's own lock, first (where a lock
    /// write adds its entry): what an acquire writes.
    held: String,
    /// The filler locks alone: what a release writes.
    alone: String,
}

impl RowTexts {
    /// The texts for the worker that holds `name` as `holder`, in a row
    /// that holds `fillers`. Fails when they would not fit in the column
    /// (then neither would the worker's lock).
    pub(super) fn new(row: &str, fillers: &Locks, name: &str, holder: &str) -> Result<RowTexts> {
        let mut held = Locks::new();
        held.push(Entry::new(name, holder));
        for e in fillers.iter() {
            held.push(e.clone());
        }
        Ok(RowTexts {
            held: encode(row, &held)?,
            alone: encode(row, fillers)?,
        })
    }
}

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

/// The row ceiling: blind rewrites of the scratch row's `dataJson` until
/// `until`, in pairs (`texts.held`, then `texts.alone`), so that the row
/// holds its fillers alone again once every worker stops. Returns how many
/// landed, and how many the server refused for now; a refused write is
/// tried again (as in [`ceiling`]) until it lands, so that no pair is left
/// half done.
pub(super) async fn row_ceiling(
    t: &LockTable,
    row: &str,
    texts: &RowTexts,
    until: Instant,
) -> Result<(u64, u64)> {
    // The loop stops at `until`; its last pair may take its timeout.
    let d = Deadline::at(until + t.timeout());
    let mut c = t.session().lease(d).await?;
    let (mut n, mut refused) = (0u64, 0u64);
    while Instant::now() < until {
        for text in [&texts.held, &texts.alone] {
            loop {
                match c
                    .exec_drop(sql::BENCH_ROW_CEILING, (text.as_str(), row))
                    .await
                {
                    Ok(()) => {
                        n += c.affected_rows();
                        break;
                    }
                    Err(e) if matches!(e.kind(), Kind::Transient(_)) => refused += 1,
                    Err(e) => return Err(e),
                }
            }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_row_ceiling_writes_what_lock_operations_leave() {
        let mut fillers = Locks::new();
        fillers.push(Entry::new("filler_00000", "bench-filler-0"));
        fillers.push(Entry::new("filler_00001", "bench-filler-1"));
        let t = RowTexts::new("r", &fillers, "bench_worker_3", "bench-3").unwrap();
        assert_eq!(
            t.held,
            r#"{"bench_worker_3":"bench-3","filler_00000":"bench-filler-0","filler_00001":"bench-filler-1"}"#
        );
        assert_eq!(
            t.alone,
            r#"{"filler_00000":"bench-filler-0","filler_00001":"bench-filler-1"}"#
        );
        // No fillers: the worker's lock alone, then an empty object.
        let t = RowTexts::new("r", &Locks::new(), "bench_worker_0", "bench-0").unwrap();
        assert_eq!(t.held, r#"{"bench_worker_0":"bench-0"}"#);
        assert_eq!(t.alone, "{}");
    }
}
