//! The bench's own writes, on its scratch row and never on a real one:
//! filling it with locks, the two ceilings' blind commits, and removing
//! it. They are privileged (no lock protocol: the ceilings write blindly,
//! the removal deletes a row), which is why they live here and not with
//! the lock writes.

use crate::db::{sql, Deadline};
use crate::error::{Kind, Result};
use crate::locks::{data::encode, Entry, LockTable, Locks};
use std::time::Instant;

/// The texts one row-ceiling worker writes: its lock operations' texts,
/// each of them a real rewrite of the row.
#[derive(Clone, Debug)]
pub(super) struct RowTexts {
    /// The filler locks and the worker's own lock, first (where a lock
    /// write adds its entry): what an acquire writes.
    held: String,
    /// The same, with the holder spelled otherwise at the same length
    /// (`bench+3` for `bench-3`): written in turn with `held`, so that each
    /// write changes the row, as each lock operation does. (Two writes of
    /// the same text would let the server skip rewriting the column.)
    held_other: String,
    /// The filler locks alone: what a release writes, and what each worker
    /// leaves behind at the end of a slice.
    alone: String,
}

impl RowTexts {
    /// The texts for the worker that holds `name` as `holder`, in a row
    /// that holds `fillers`. Fails when they would not fit in the column
    /// (then neither would the worker's lock).
    pub(super) fn new(row: &str, fillers: &Locks, name: &str, holder: &str) -> Result<RowTexts> {
        let with = |holder: &str| {
            let mut held = Locks::new();
            held.push(Entry::new(name, holder));
            for e in fillers.iter() {
                held.push(e.clone());
            }
            encode(row, &held)
        };
        Ok(RowTexts {
            held: with(holder)?,
            held_other: with(&holder.replacen('-', "+", 1))?,
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
/// `until` (`texts.held` and `texts.held_other` in turn, each write a real
/// change of the text), then `texts.alone` once, so that the row holds its
/// fillers alone again once every worker stops. Returns how many landed,
/// and how many the server refused for now; a refused write is tried again
/// (as in [`ceiling`]) until it lands, so that the last write is never
/// left undone.
pub(super) async fn row_ceiling(
    t: &LockTable,
    row: &str,
    texts: &RowTexts,
    until: Instant,
) -> Result<(u64, u64)> {
    // The loop stops at `until`; its last writes may take its timeout.
    let d = Deadline::at(until + t.timeout());
    let mut c = t.session().lease(d).await?;
    let (mut n, mut refused) = (0u64, 0u64);
    let mut write = async |text: &str, n: &mut u64, refused: &mut u64| loop {
        match c.exec_drop(sql::BENCH_ROW_CEILING, (text, row)).await {
            Ok(()) => {
                *n += c.affected_rows();
                return Ok::<_, crate::Error>(());
            }
            Err(e) if matches!(e.kind(), Kind::Transient(_)) => *refused += 1,
            Err(e) => return Err(e),
        }
    };
    while Instant::now() < until {
        for text in [&texts.held, &texts.held_other] {
            write(text, &mut n, &mut refused).await?;
        }
    }
    write(&texts.alone, &mut n, &mut refused).await?;
    Ok((n, refused))
}

/// Waits until InnoDB has purged what the last phase left (as long as a
/// slice at most, and 2 s), so that each phase is measured on a server
/// that is not busy cleaning up after the one before. A server that does
/// not say is not waited for.
pub(super) async fn settle(t: &LockTable, slice: std::time::Duration) {
    let until = Instant::now() + slice.min(std::time::Duration::from_secs(2));
    while Instant::now() < until {
        let d = Deadline::after(t.timeout());
        let Ok(mut c) = t.session().lease(d).await else {
            return;
        };
        let backlog = match c.query_rows(sql::PURGE_BACKLOG).await {
            Ok(rows) => rows.into_iter().next().and_then(|r| {
                crate::db::value::Cells::new(r, "SHOW GLOBAL STATUS")
                    .take::<String>(1, "Value")
                    .ok()
                    .and_then(|v| v.parse::<u64>().ok())
            }),
            Err(_) => None,
        };
        drop(c);
        match backlog {
            Some(n) if n > 50 => tokio::time::sleep(std::time::Duration::from_millis(20)).await,
            _ => return,
        }
    }
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
            t.held_other,
            r#"{"bench_worker_3":"bench+3","filler_00000":"bench-filler-0","filler_00001":"bench-filler-1"}"#
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
