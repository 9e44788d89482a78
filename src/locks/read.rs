//! Reading lock rows, on a lease of the table's session: one row, every
//! row, and whether a holder holds a lock (which is also how the outcome of
//! a write whose reply was lost is told, once its session is settled).

use super::data::RowState;
use crate::db::{sql, Lease};
use crate::error::{Kind, Result};

/// One row; `None` when it does not exist.
pub(crate) async fn row(c: &mut Lease, row: &str) -> Result<Option<RowState>> {
    c.exec_first_row(sql::SELECT_ROW, (row,))
        .await?
        .map(RowState::from_row)
        .transpose()
}

/// Every row, by id.
pub(crate) async fn rows(c: &mut Lease) -> Result<Vec<RowState>> {
    let rows = c.query_rows(sql::SELECT_ROWS).await?;
    rows.into_iter().map(RowState::from_row).collect()
}

/// Does `holder` hold `name` in `row` right now?
pub(crate) async fn holds(c: &mut Lease, row: &str, name: &str, holder: &str) -> Result<bool> {
    Ok(self::row(c, row)
        .await?
        .and_then(|s| s.data.locks())
        .and_then(|l| l.get(name).map(|e| e.held_by(holder)))
        .unwrap_or(false))
}

/// A row read by id, which must be exactly that id: the `id` column's
/// collation ignores trailing spaces, so `WHERE id = 'plat'` also finds a
/// row `"plat "` another writer created. Such a row is not silently taken
/// for this one.
pub(crate) fn exact(state: Option<RowState>, row: &str) -> Result<Option<RowState>> {
    match state {
        Some(s) if s.id != row => Err(Kind::Invalid(format!(
            "row `{row}` cannot be used: the table holds {:?}, which its collation takes for the same id; name that row exactly",
            s.id
        ))
        .into()),
        other => Ok(other),
    }
}
