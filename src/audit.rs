//! The audit trail: every operator change is recorded in `locks_audit` in the
//! same transaction as the change itself, so no change goes unrecorded and no
//! record describes a change that did not happen.
//!
//! Each record carries a random op id. When a connection drops after COMMIT
//! was sent, looking that id up tells whether the change landed.

use crate::error::Result;
use crate::row::{Change, Lease};
use crate::sql;
use mysql_async::prelude::Queryable;
use mysql_async::Conn;
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
            os_user: format!("{}@{}", os_user(), hostname()),
            command,
            action: action.into(),
        }
    }
}

/// The login name of the user running this process: `$USER`, `$LOGNAME`,
/// or the password database's name for our uid.
pub fn os_user() -> String {
    for var in ["USER", "LOGNAME"] {
        if let Ok(v) = std::env::var(var) {
            if !v.is_empty() {
                return v;
            }
        }
    }
    let uid = nix::unistd::Uid::current();
    match nix::unistd::User::from_uid(uid) {
        Ok(Some(user)) => user.name,
        _ => format!("uid{uid}"),
    }
}

/// This machine's host name.
pub fn hostname() -> String {
    nix::unistd::gethostname()
        .map(|h| h.to_string_lossy().into_owned())
        .unwrap_or_else(|_| "unknown-host".into())
}

/// Writes the record of `change`; runs inside the caller's transaction.
pub(crate) async fn insert(
    c: &mut Lease,
    a: &AuditInfo,
    change: &Change,
) -> mysql_async::Result<()> {
    let removed = (!change.removed.is_empty()).then(|| crate::row::json_text(&change.removed));
    c.exec_drop(
        sql::INSERT_AUDIT,
        mysql_async::Params::Positional(vec![
            a.op_id.as_str().into(),
            a.os_user.as_str().into(),
            a.command.as_str().into(),
            a.action.as_str().into(),
            change.row.as_str().into(),
            change.version_before.into(),
            change.version_after.into(),
            removed.into(),
            change.replaced_raw.clone().into(),
        ]),
    )
    .await
}

/// Did the change carrying this op id commit?
pub(crate) async fn landed(c: &mut Lease, op_id: &str) -> Result<bool> {
    let n: Option<u64> = c.exec_first(sql::AUDIT_BY_OP, (op_id,)).await?;
    Ok(n.unwrap_or(0) > 0)
}

/// One audit record, as `locks history` shows it and as its JSON output
/// serialises it.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
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
    /// `force-release`, `release-by-holder`, `release-all` or `bump`.
    pub action: String,
    /// The lock row changed.
    pub row: String,
    /// Version before the change.
    pub version_before: Option<i64>,
    /// Version after the change.
    pub version_after: Option<i64>,
    /// Locks removed, name → holder.
    pub removed: serde_json::Map<String, serde_json::Value>,
    /// Unparsable data that was replaced, verbatim.
    pub replaced_raw: Option<String>,
}

type RawAudit = (
    u64,
    String,
    String,
    String,
    String,
    String,
    String,
    Option<i64>,
    Option<i64>,
    Option<String>,
    Option<String>,
);

/// Reads the audit records, oldest first, optionally of one row only.
pub async fn history(c: &mut Conn, row: Option<&str>) -> Result<Vec<AuditRecord>> {
    let rows: Vec<RawAudit> = match row {
        Some(r) => c.exec(sql::SELECT_AUDIT_ROW, (r,)).await?,
        None => c.query(sql::SELECT_AUDIT).await?,
    };
    Ok(rows
        .into_iter()
        .map(
            |(id, at, db_user, os_user, command, action, row, vb, va, removed, raw)| AuditRecord {
                id,
                at: crate::render::epoch_text(&at),
                db_user,
                os_user,
                command,
                action,
                row,
                version_before: vb,
                version_after: va,
                removed: removed
                    .and_then(|t| serde_json::from_str(&t).ok())
                    .unwrap_or_default(),
                replaced_raw: raw,
            },
        )
        .collect())
}
