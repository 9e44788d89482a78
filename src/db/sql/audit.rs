//! The statements of the audit trail: the transaction an operator's change
//! and its record share, the record, the evidence it rests on, and reading
//! them back.

// ---- audit ----------------------------------------------------------------

/// Start the transaction that holds an operator's change and its record.
pub const BEGIN: &str = "START TRANSACTION";
/// Commit it.
pub const COMMIT: &str = "COMMIT";
/// Roll it back.
pub const ROLLBACK: &str = "ROLLBACK";

/// One audit record. `at` and the database user come from the server.
pub const INSERT_AUDIT: &str = "INSERT INTO locks_audit \
     (opId, dbUser, osUser, command, action, rowId, versionBefore, versionAfter, removedJson, replacedRaw) \
     VALUES (?, CURRENT_USER(), ?, ?, ?, ?, ?, ?, ?, ?)";

/// The evidence an audit record rests on (a release of dead holders, a
/// take-over), in `locks_audit_evidence` (migration V3), written in the
/// same transaction as the record. Params: op id, the evidence as JSON
/// (lock name → why).
pub const INSERT_AUDIT_EVIDENCE: &str =
    "INSERT INTO locks_audit_evidence (opId, evidenceJson) VALUES (?, ?)";

/// Did the transaction carrying this op id commit? Used after a dropped
/// connection left the outcome unknown.
pub const AUDIT_BY_OP: &str = "SELECT COUNT(*) FROM locks_audit WHERE opId = ?";

/// The columns of an audit record (`at` as seconds since the epoch), with
/// its evidence (`$evidence`: from `locks_audit_evidence`, joined by op id,
/// or NULL before migration V3).
macro_rules! audit_columns {
    ($evidence:literal, $join:literal) => {
        concat!(
            "SELECT a.id, UNIX_TIMESTAMP(a.at), a.dbUser, a.osUser, a.command, a.action, a.rowId, \
             a.versionBefore, a.versionAfter, a.removedJson, a.replacedRaw, ",
            $evidence,
            " FROM locks_audit a ",
            $join
        )
    };
}

/// Audit records, oldest first.
pub const SELECT_AUDIT: &str = concat!(
    audit_columns!(
        "e.evidenceJson",
        "LEFT JOIN locks_audit_evidence e ON e.opId = a.opId "
    ),
    "ORDER BY a.id"
);
/// Audit records of one row, oldest first.
pub const SELECT_AUDIT_ROW: &str = concat!(
    audit_columns!(
        "e.evidenceJson",
        "LEFT JOIN locks_audit_evidence e ON e.opId = a.opId "
    ),
    "WHERE a.rowId = ? ORDER BY a.id"
);
/// [`SELECT_AUDIT`] before migration V3 (no evidence table).
pub const SELECT_AUDIT_V2: &str = concat!(audit_columns!("NULL", ""), "ORDER BY a.id");
/// [`SELECT_AUDIT_ROW`] before migration V3.
pub const SELECT_AUDIT_ROW_V2: &str = concat!(
    audit_columns!("NULL", ""),
    "WHERE a.rowId = ? ORDER BY a.id"
);
