//! One down step by quarantine: rename each guarded table out of every
//! writer's reach, check it, drop it (or rename it back and refuse).
//!
//! Whatever cuts the step off midway (a lost connection, a server error, a
//! refusal), a table must not stay under its quarantine name unnoticed:
//! lock commands would find no `locks`, and its locks would be lost to
//! them. So on any failure after a rename was sent, the step looks (on a
//! new connection when the old one broke) where each table is, renames
//! back what is out of reach, and says what happened. What it cannot bring
//! back, or cannot tell, is named in the error with the `RENAME TABLE`
//! that brings it back.

use super::{refuse_if_kept, Planned};
use crate::db::retry::{Curve, Failure, Policy, Retry};
use crate::db::value::Cells;
use crate::db::{sql, Lease};
use crate::error::{Error, Kind, Left, Result};
use crate::migrate::schema::Quarantined;
use std::time::Duration;

/// A table this step renamed (or sent the rename for).
struct Moved {
    table: &'static str,
    copy: String,
    /// The rename is known to have landed.
    sure: bool,
}

/// Renames each table out of every writer's reach, checks it, and drops
/// it, then drops `old`, the empty copies an earlier, interrupted down
/// left of these tables; or, when one still holds something, renames them
/// all back and refuses.
pub(super) async fn quarantine_and_drop(
    c: &mut Lease,
    p: &Planned,
    tables: &[&'static str],
    old: &[&Quarantined],
    timeout: Duration,
) -> Result<()> {
    let tag = format!("{:08x}", fastrand::u32(..));
    let mut moved: Vec<Moved> = Vec::new();
    for t in tables {
        let copy = sql::quarantine_name(t, &tag);
        let r = c
            .with(Policy::STATEMENT)
            .query_drop(&sql::rename_table(t, &copy))
            .await;
        match r {
            Ok(()) => moved.push(Moved {
                table: t,
                copy,
                sure: true,
            }),
            // Not there (IF EXISTS): nothing to drop.
            Err(e) if matches!(e.kind(), Kind::NoTable(_)) => {}
            Err(e) => {
                moved.push(Moved {
                    table: t,
                    copy,
                    sure: false,
                });
                return Err(put_back(c, p, &moved, e, timeout).await);
            }
        }
    }
    let checked: Vec<(&str, &str)> = moved.iter().map(|m| (m.table, m.copy.as_str())).collect();
    if let Err(e) = refuse_if_kept(c, p, &checked).await {
        return Err(put_back(c, p, &moved, e, timeout).await);
    }
    for m in &moved {
        let r = c
            .with(Policy::STATEMENT)
            .query_drop(&sql::drop_table(&m.copy))
            .await;
        if let Err(e) = r {
            // Its reply may be what was lost: gone is dropped.
            if !still_there(c, &e, &m.copy).await {
                continue;
            }
            return Err(put_back(c, p, &moved, e, timeout).await);
        }
    }
    drop_copies(c, old).await
}

/// Drops copies an earlier, interrupted down left (checked to hold
/// nothing, or `--force`). A copy gone already is fine.
pub(super) async fn drop_copies(c: &mut Lease, old: &[&Quarantined]) -> Result<()> {
    for q in old {
        let r = c
            .with(Policy::STATEMENT)
            .query_drop(&sql::drop_table(&q.name))
            .await;
        match r {
            Ok(()) => {}
            Err(e) if still_there(c, &e, &q.name).await => return Err(e),
            Err(_) => {}
        }
    }
    Ok(())
}

/// After a failed `DROP TABLE`: is the table still there? (A lost reply
/// may hide a drop that landed.) When that cannot be told, it counts as
/// there.
async fn still_there(c: &mut Lease, e: &Error, table: &str) -> bool {
    if e.is_lost() {
        c.discard();
    }
    match where_are(c, &[table.to_string()]).await {
        Ok(there) => there.iter().any(|t| t == table),
        Err(_) => true,
    }
}

/// Which of these tables exist.
async fn where_are(c: &mut Lease, tables: &[String]) -> Result<Vec<String>> {
    let mut there = Vec::new();
    for row in c.query_rows(&sql::select_tables(tables)).await? {
        there.push(Cells::new(row, "information_schema.TABLES").take::<String>(0, "TABLE_NAME")?);
    }
    Ok(there)
}

/// How a look after a failed rename is taken again: three tries at most,
/// after a lost connection (replaced, its session settled) or a refusal.
const LOOK_AGAIN: Policy = Policy {
    lost: Curve::new(1_000, 100, Some(3)),
    refused: Curve::new(2_000, 200, Some(3)),
    conflict: None,
    unresolved: None,
    says_timeout: false,
};

/// The step failed with `e` after renaming (or sending the rename of) the
/// tables in `moved`: renames back what is out of reach, and returns the
/// error to report, which says what was renamed back and names what is (or
/// may be) left, with the `RENAME TABLE` that brings it back.
async fn put_back(
    c: &mut Lease,
    p: &Planned,
    moved: &[Moved],
    e: Error,
    timeout: Duration,
) -> Error {
    if moved.is_empty() {
        return e;
    }
    if e.is_lost() {
        // Settled before the next statement: whatever it was running has
        // landed or not by then, so the look below tells the truth.
        c.discard();
    }
    // What is in place after the look: renamed back, or never moved.
    let mut placed: Vec<&Moved> = Vec::new();
    // Until a look says otherwise, every rename counts as landed when it
    // is known to have, and as unknown when not.
    let mut left: Vec<Left> = moved
        .iter()
        .map(|m| Left {
            table: m.table.into(),
            copy: m.copy.clone(),
            sure: m.sure,
        })
        .collect();
    let names: Vec<String> = moved
        .iter()
        .flat_map(|m| [m.table.to_string(), m.copy.clone()])
        .collect();
    // A connection lost on the way is replaced (and its session settled,
    // so that a rename it sent has landed or not) and the look taken
    // again: a few times, each bounded by the statement timeout.
    let names = &names;
    let looked = Retry::new(c.deadline(), LOOK_AGAIN)
        .run_with(c, |c, _| async move {
            let looked = async {
                c.query_drop(&sql::lock_wait_timeout(timeout)).await?;
                let there = where_are(c, names).await?;
                let has = |t: &str| there.iter().any(|x| x == t);
                let mut still = Vec::new();
                let mut here = Vec::new();
                for m in moved.iter().rev() {
                    match (has(m.table), has(&m.copy)) {
                        (false, true) => {
                            c.with(Policy::STATEMENT)
                                .query_drop(&sql::rename_table(&m.copy, m.table))
                                .await?;
                            here.push(m);
                        }
                        // Something made a new table of that name meanwhile.
                        (true, true) => still.push(Left {
                            table: m.table.into(),
                            copy: m.copy.clone(),
                            sure: true,
                        }),
                        // Never moved, or moved back.
                        (true, false) => here.push(m),
                        // Dropped after its check.
                        (false, false) => {}
                    }
                }
                Ok::<_, Error>((still, here))
            }
            .await;
            if looked.as_ref().is_err_and(|e| e.is_lost()) {
                c.discard();
            }
            (c, looked.map_err(Failure::from))
        })
        .await;
    // A look that failed for good leaves the worst case, as counted above.
    if let Ok((still, here)) = looked {
        left = still;
        placed = here;
    }
    // Whether a lost rename had landed (and was undone) or not, the words
    // are the same: where the table is, and the name it had or would have.
    let back = placed
        .iter()
        .rev()
        .map(|m| {
            format!(
                "`{}` is in place (it was being renamed to `{}` to be checked)",
                m.table, m.copy
            )
        })
        .collect::<Vec<_>>()
        .join("; ");
    match (e.kind(), left.is_empty()) {
        // Refused, and nothing is left out of reach: the refusal says it.
        (Kind::Refused(_), true) => e,
        (Kind::Refused(why), false) => Kind::MigrationFailed {
            migration: format!("{} (down)", p.label),
            reason: why.replace('\n', "; "),
            applied: Vec::new(),
            left,
        }
        .into(),
        _ => Kind::MigrationFailed {
            migration: format!("{} (down)", p.label),
            reason: match back.is_empty() {
                true => super::first_line(&e),
                false => format!(
                    "{}; {back}: nothing of it was rolled back",
                    super::first_line(&e)
                ),
            },
            applied: Vec::new(),
            left,
        }
        .into(),
    }
}
