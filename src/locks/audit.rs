//! The audit trail: every operator change is recorded in `locks_audit` in the
//! same transaction as the change itself, so no change goes unrecorded and no
//! record describes a change that did not happen.
//!
//! Each record carries a random op id. When a connection drops after COMMIT
//! was sent, looking that id up tells whether the change landed.

use super::edit::Change;
use crate::db::value::{Args, Cells, Param, Record};
use crate::db::{sql, Lease};
use crate::error::Result;
use serde::{Deserialize, Serialize};

/// Who is making a change, and how.
#[derive(Clone, Debug)]
pub struct AuditInfo {
    /// Random id of this change, unique in `locks_audit`.
    pub op_id: String,
    /// `user@host` of the operating-system user.
    pub os_user: String,
    /// The command as run, without connection secrets.
    pub command: String,
    /// What kind of change (`force-release`, `release-by-holder`, …).
    pub action: String,
}

impl AuditInfo {
    /// Describes a change about to be made by this process.
    pub fn new(action: &str, command: String) -> AuditInfo {
        AuditInfo {
            op_id: format!("{:016x}{:016x}", fastrand::u64(..), fastrand::u64(..)),
            os_user: format!("{}@{}", crate::host::os_user(), crate::host::hostname()),
            command,
            action: action.into(),
        }
    }
}

/// Writes the record of `change`; runs inside the caller's transaction.
pub(crate) async fn insert(c: &mut Lease, a: &AuditInfo, change: &Change) -> Result<()> {
    let removed = (!change.removed.is_empty()).then(|| change.removed.to_json());
    let columns = vec![
        change.version_before.number().into(),
        change.version_after.into(),
        removed.into(),
        change.replaced_raw.clone().into(),
    ];
    write(c, a, &change.row, columns).await?;
    if change.evidence.is_empty() {
        return Ok(());
    }
    let evidence: serde_json::Map<String, serde_json::Value> = change
        .evidence
        .iter()
        .map(|(name, why)| (name.clone(), serde_json::Value::String(why.clone())))
        .collect();
    let json = serde_json::Value::Object(evidence).to_string();
    c.exec_drop(sql::INSERT_AUDIT_EVIDENCE, (a.op_id.as_str(), json))
        .await
}

/// Writes the record of a migration marked applied by hand (`row` is the
/// migration, `V<n>__<name>`); runs inside the caller's transaction.
pub(crate) async fn insert_marked(c: &mut Lease, a: &AuditInfo, migration: &str) -> Result<()> {
    write(c, a, migration, vec![Param::Null; 4]).await
}

/// One record: who and what (`a`), about `row`, then the change's columns:
/// version before and after, the removed locks, the replaced raw text.
async fn write(c: &mut Lease, a: &AuditInfo, row: &str, change: Vec<Param>) -> Result<()> {
    let mut params: Vec<Param> = vec![
        a.op_id.as_str().into(),
        a.os_user.as_str().into(),
        a.command.as_str().into(),
        a.action.as_str().into(),
        row.into(),
    ];
    params.extend(change);
    c.exec_drop(sql::INSERT_AUDIT, Args(params)).await
}

/// Did the change carrying this op id commit?
pub(crate) async fn landed(c: &mut Lease, op_id: &str) -> Result<bool> {
    let n = c
        .exec_number(sql::AUDIT_BY_OP, (op_id,), "locks_audit")
        .await?;
    Ok(n.unwrap_or(0) > 0)
}

/// One audit record, as `locks history` shows it and as its JSON output
/// serialises it.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditRecord {
    /// Record number, increasing.
    pub id: u64,
    /// When, RFC 3339 in UTC, from the server's clock.
    pub at: String,
    /// The database account (`CURRENT_USER()`).
    pub db_user: String,
    /// `user@host` of the operator.
    pub os_user: String,
    /// The command, without connection secrets.
    pub command: String,
    /// `force-release`, `release-by-holder`, `release-all`, `bump`,
    /// `repair`, or `mark-applied` (then `row` names the migration).
    pub action: String,
    /// The lock row changed.
    pub row: String,
    /// Version before the change.
    pub version_before: Option<i64>,
    /// Version after the change.
    pub version_after: Option<i64>,
    /// Locks removed, name → holder, exactly as they were stored (null when
    /// none were).
    pub removed: Option<Box<serde_json::value::RawValue>>,
    /// Unparsable data that was replaced, verbatim.
    pub replaced_raw: Option<String>,
    /// What a release of dead holders (or a take-over) rested on: lock
    /// name → the evidence, in words (null for other changes).
    pub evidence: Option<Box<serde_json::value::RawValue>>,
}

impl AuditRecord {
    /// The locks removed, as entries (none when the record holds none, or
    /// holds text that is not a JSON object).
    pub fn removed_locks(&self) -> super::entries::Locks {
        self.removed
            .as_ref()
            .and_then(|r| super::entries::Locks::parse(r.get()).ok())
            .unwrap_or_default()
    }
}

/// Reads the audit records, oldest first, optionally of one row only.
pub(crate) async fn history(c: &mut Lease, row: Option<&str>) -> Result<Vec<AuditRecord>> {
    let read = match row {
        Some(r) => c.exec_rows(sql::SELECT_AUDIT_ROW, (r,)).await,
        None => c.query_rows(sql::SELECT_AUDIT).await,
    };
    let rows = match read {
        // Before migration V3, there is no evidence table.
        Err(e) if matches!(e.kind(), crate::error::Kind::NoTable(_)) => match row {
            Some(r) => c.exec_rows(sql::SELECT_AUDIT_ROW_V2, (r,)).await?,
            None => c.query_rows(sql::SELECT_AUDIT_V2).await?,
        },
        read => read?,
    };
    rows.into_iter().map(record).collect()
}

fn record(row: Record) -> Result<AuditRecord> {
    let mut c = Cells::new(row, "locks_audit");
    let id: u64 = c.take(0, "id")?;
    c.name_row(format!("#{id}"));
    let at: String = c.take(1, "at")?;
    let removed: Option<String> = c.take(9, "removedJson")?;
    Ok(AuditRecord {
        id,
        at: crate::db::value::epoch_text(&at),
        db_user: c.take(2, "dbUser")?,
        os_user: c.take(3, "osUser")?,
        command: c.take(4, "command")?,
        action: c.take(5, "action")?,
        row: c.take(6, "rowId")?,
        version_before: c.take(7, "versionBefore")?,
        version_after: c.take(8, "versionAfter")?,
        removed: removed.and_then(|t| serde_json::value::RawValue::from_string(t).ok()),
        replaced_raw: c.take(10, "replacedRaw")?,
        evidence: c
            .take::<Option<String>>(11, "evidenceJson")?
            .and_then(|t| serde_json::value::RawValue::from_string(t).ok()),
    })
}
