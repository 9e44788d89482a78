//! Whether the table lock writes go to is one they can work on, checked
//! once when a [`super::LockTable`] connects: `locks` exists (and if not,
//! whether an interrupted `migrate down` left it renamed, so that the
//! error names the `RENAME TABLE` that brings it back rather than advising
//! a new, empty table), no copy beside it holds locks a lock command would
//! not see, and its columns are of kinds the protocol's statements can use
//! (if not, the error says what differs, in `migrate status`'s words).

use super::data::LockData;
use crate::db::value::{Cells, Record};
use crate::db::{columns, sql, Lease};
use crate::error::{Kind, Result};

/// Checks, in the round trip that asks whether `locks` exists, that lock
/// writes can work on it (see [`columns::usable_for_locks`]). A missing
/// table is named with the copies an interrupted `migrate down` left of
/// it, if any; a drifted one with what differs, in `migrate status`'s
/// words.
pub(super) async fn check_table(c: &mut Lease) -> Result<()> {
    let reads = format!("{}; {}", sql::CHECK_LOCKS_TABLE, sql::SELECT_QUARANTINED);
    let (described, copies) = match c.query_sets(&reads).await {
        Ok(sets) => {
            let mut sets = sets.into_iter();
            (
                sets.next().unwrap_or_default(),
                sets.next().unwrap_or_default(),
            )
        }
        Err(e) => return Err(missing(c, e).await),
    };
    refuse_stranded(c, copies.rows).await?;
    if described.usable_for_locks() {
        return Ok(());
    }
    let rows = c
        .query_rows(&sql::select_columns(&["locks".into()]))
        .await?;
    let found = columns::from_rows(rows)?
        .remove("locks")
        .unwrap_or_default();
    if columns::usable_for_locks(&found) {
        return Ok(());
    }
    Err(Kind::Drifted {
        table: "locks".into(),
        differences: columns::differences("locks", &found, false),
    }
    .into())
}

/// Refuses to work on `locks` while a copy an interrupted `migrate down`
/// left of it (`copies`: rows of [`sql::SELECT_QUARANTINED`]) holds locks
/// beside it: `locks` was made anew since, and a lock held in the copy
/// could be granted again here.
async fn refuse_stranded(c: &mut Lease, copies: Vec<Record>) -> Result<()> {
    let names: Vec<String> = copies
        .into_iter()
        .filter_map(|row| {
            Cells::new(row, "information_schema.TABLES")
                .take::<String>(0, "TABLE_NAME")
                .ok()
        })
        .filter(|name| sql::quarantined_table(name) == Some("locks"))
        .collect();
    let mut holding = Vec::new();
    for name in names {
        let rows = match c.query_rows(&sql::select_lock_data(&name)).await {
            Ok(rows) => rows,
            // Dropped meanwhile (a `migrate down` finishing).
            Err(e) if matches!(e.kind(), Kind::NoTable(_)) => continue,
            Err(e) => return Err(e),
        };
        for row in rows {
            let data: Option<String> = Cells::new(row, "locks").take(1, "dataJson")?;
            if LockData::parse(data.as_deref()).held_summary().is_some() {
                holding.push(name.clone());
                break;
            }
        }
    }
    match holding.is_empty() {
        true => Ok(()),
        false => Err(Kind::Stranded {
            table: "locks".into(),
            copies: holding,
        }
        .into()),
    }
}

/// `e` as it is, unless it says a table of locksmith's is missing and an
/// interrupted `migrate down` left it renamed: then [`Kind::Quarantined`],
/// naming the copies (and so the `RENAME TABLE` that brings one back).
pub(crate) async fn missing(c: &mut Lease, e: crate::Error) -> crate::Error {
    let Kind::NoTable(table) = e.kind() else {
        return e;
    };
    let Ok(rows) = c.query_rows(sql::SELECT_QUARANTINED).await else {
        return e;
    };
    let copies: Vec<String> = rows
        .into_iter()
        .filter_map(|row| {
            Cells::new(row, "information_schema.TABLES")
                .take::<String>(0, "TABLE_NAME")
                .ok()
        })
        .filter(|name| sql::quarantined_table(name) == Some(table.as_str()))
        .collect();
    match copies.is_empty() {
        true => e,
        false => Kind::Quarantined {
            table: table.clone(),
            copies,
        }
        .into(),
    }
}
