//! The JSON documents of the commands that change something (`--format
//! json` on `migrate up|down|mark-applied`, `locks force-release|bump|
//! repair|acquire|release`): one document each, with what was planned and
//! what was done, pinned by `deny_unknown_fields` like the listings in
//! [`super::tables`].

use super::tables::GuardDoc;
use crate::locks::{Change, Edit, Locks};
use crate::migrate::{DownReport, MarkReport, Step, UpReport};
use serde::{Deserialize, Serialize};

/// A migration, by version and name.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct MigrationRef {
    /// Version.
    pub version: i32,
    /// `V<n>__<name>`.
    pub label: String,
}

/// `migrate up --format json`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpDoc {
    /// Planned only (`--dry-run`): nothing was changed.
    pub dry_run: bool,
    /// The highest applied version before (null: none).
    pub version_before: Option<i32>,
    /// The highest applied version after (for a dry run: planned).
    pub version_after: Option<i32>,
    /// What was done (or planned), oldest first.
    pub steps: Vec<StepDoc>,
    /// Migrations another run applied while this one waited.
    pub applied_elsewhere: Vec<String>,
    /// The dead run whose guard this one took over, if any.
    pub took_over: Option<GuardDoc>,
}

/// One migration `up` dealt with.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StepDoc {
    /// Which.
    pub migration: MigrationRef,
    /// `apply`, `adopt` or `re-create`.
    pub action: String,
    /// Its state before (`pending`, `present-unrecorded`, `missing`,
    /// `interrupted`).
    pub state_before: String,
    /// Why, in words.
    pub detail: Vec<String>,
}

impl From<&Step> for StepDoc {
    fn from(s: &Step) -> StepDoc {
        StepDoc {
            migration: MigrationRef {
                version: s.migration.version,
                label: s.migration.label.clone(),
            },
            action: s.action.label().into(),
            state_before: s.state.label().into(),
            detail: s.detail.clone(),
        }
    }
}

impl UpDoc {
    /// The document of a run (or plan).
    pub fn new(r: &UpReport, dry_run: bool) -> UpDoc {
        UpDoc {
            dry_run,
            version_before: r.version_before,
            version_after: r.version,
            steps: r.steps.iter().map(Into::into).collect(),
            applied_elsewhere: r.applied_elsewhere.clone(),
            took_over: r.took_over.as_ref().map(Into::into),
        }
    }
}

/// `migrate down --format json`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DownDoc {
    /// Planned only (`--dry-run`): nothing was changed.
    pub dry_run: bool,
    /// The highest applied version before (null: none).
    pub version_before: Option<i32>,
    /// The highest applied version after.
    pub version_after: Option<i32>,
    /// Rolled back (or planned), newest first.
    pub rolled_back: Vec<MigrationRef>,
    /// Tables an interrupted `migrate down` had left renamed out of reach
    /// (`locks_dropping_<tag>`), dropped (or planned to be) with the table
    /// they were.
    pub dropped_copies: Vec<String>,
}

impl DownDoc {
    /// The document of a run (or plan).
    pub fn new(r: &DownReport, dry_run: bool) -> DownDoc {
        DownDoc {
            dry_run,
            version_before: r.version_before,
            version_after: r.version,
            rolled_back: r
                .rolled_back
                .iter()
                .map(|p| MigrationRef {
                    version: p.version,
                    label: p.label.clone(),
                })
                .collect(),
            dropped_copies: r.dropped_copies.clone(),
        }
    }
}

/// `migrate mark-applied --format json`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MarkDoc {
    /// Planned only (`--dry-run`): nothing was changed.
    pub dry_run: bool,
    /// Which.
    pub migration: MigrationRef,
    /// The checksum recorded, as text (refinery's u64 does not fit a
    /// JSON number exactly).
    pub checksum: String,
    /// Its state before.
    pub state_before: String,
    /// Whether the audit trail has a record of it (for a dry run: would
    /// have; false without a `locks_audit` table).
    pub audited: bool,
}

impl MarkDoc {
    /// The document of what was done.
    pub fn new(r: &MarkReport, version: i32) -> MarkDoc {
        MarkDoc {
            dry_run: false,
            migration: MigrationRef {
                version,
                label: r.migration.clone(),
            },
            checksum: r.checksum.to_string(),
            state_before: r.state.label().into(),
            audited: r.audited,
        }
    }
}

/// `locks force-release|bump|repair --format json`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChangeDoc {
    /// `force-release`, `release-by-holder`, `release-all`, `bump` or
    /// `repair`.
    pub action: String,
    /// Planned only (`--dry-run`): nothing was changed.
    pub dry_run: bool,
    /// The row.
    pub row: String,
    /// Its version before (null when NULL or not a number).
    pub version_before: Option<i64>,
    /// Its version after.
    pub version_after: i64,
    /// Locks removed, exactly as they were stored.
    pub removed: Vec<ChangeLock>,
    /// Locks left in the row.
    pub remaining: Vec<ChangeLock>,
    /// The old dataJson, verbatim, when it was replaced (kept in the audit
    /// trail too).
    pub replaced_raw: Option<String>,
    /// What a repair mended, in words.
    pub repairs: Vec<String>,
    /// For a release of dead holders (`release-dead`) or a take-over: the
    /// evidence that each removed lock's holder is dead.
    pub evidence: Vec<Evidence>,
}

/// A lock a change removed or left.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChangeLock {
    /// Lock name.
    pub name: String,
    /// Holder: any JSON value, exactly as stored.
    pub holder: Box<serde_json::value::RawValue>,
}

/// Why a lock's holder was found dead.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Evidence {
    /// The lock.
    pub lock: String,
    /// The evidence, in words.
    pub why: String,
}

fn locks(m: &Locks) -> Vec<ChangeLock> {
    m.iter()
        .map(|e| ChangeLock {
            name: e.shown_name().into_owned(),
            holder: e.holder().to_owned(),
        })
        .collect()
}

impl ChangeDoc {
    /// The document of a change (planned or made).
    pub fn new(c: &Change, edit: &Edit, dry_run: bool) -> ChangeDoc {
        ChangeDoc {
            action: edit.action().into(),
            dry_run,
            row: c.row.clone(),
            version_before: c.version_before.number(),
            version_after: c.version_after,
            removed: locks(&c.removed),
            remaining: locks(&c.remaining),
            replaced_raw: c.replaced_raw.clone(),
            repairs: c.repairs.clone(),
            evidence: c
                .evidence
                .iter()
                .map(|(lock, why)| Evidence {
                    lock: lock.clone(),
                    why: why.clone(),
                })
                .collect(),
        }
    }
}

/// `locks acquire|release --format json`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct LockDoc {
    /// `acquire` or `release`.
    pub action: String,
    /// The row.
    pub row: String,
    /// The lock.
    pub name: String,
    /// Its holder.
    pub holder: String,
    /// Whether it changed the row: false when the holder held the lock
    /// already (acquire).
    pub changed: bool,
    /// The lock's fencing token (acquire): the row's version right after
    /// it; every later acquire on the row gets a greater one. Null for a
    /// release.
    pub fence: Option<i64>,
}
