//! Operator edits as pure planned changes: what force-release, release by
//! holder, release-all and bump would do to a row as read. No I/O here;
//! [`super::table::LockTable`] reads the row, plans with [`Edit::apply`],
//! and writes the result by compare-and-swap.

use super::data::{holder_matches, validate_text, LockData, Locks, RowState, VERSION_MAX};
use crate::error::{Kind, Result};

/// What an operator change does to the locks of a row.
#[derive(Clone, Debug)]
pub enum Edit {
    /// Remove these locks, whoever holds them. Each must be held.
    Names(Vec<String>),
    /// Remove every lock this holder holds (at least one).
    Holder(String),
    /// Remove everything; also replaces unparsable data with `{}`.
    All,
    /// Leave the locks, add this (at least 1) to the version.
    Bump(i64),
}

/// A change made (or, for a dry run, planned) to one row.
#[derive(Clone, Debug)]
pub struct Change {
    /// The row.
    pub row: String,
    /// Version before.
    pub version_before: i64,
    /// Version after (what it would be, for a dry run).
    pub version_after: i64,
    /// Locks removed, with the holders they had.
    pub removed: Locks,
    /// The unparsable text that was replaced, if any.
    pub replaced_raw: Option<String>,
    /// Locks left in the row afterwards.
    pub remaining: Locks,
    /// The row's data is not a JSON object and was left as it is (a bump).
    pub raw_kept: bool,
    /// True when nothing was written.
    pub dry_run: bool,
}

impl Change {
    /// Does this change remove exactly what `planned` removes (the same
    /// locks from the same holders, the same unparsable text)? A plan an
    /// operator confirmed is only carried out while this holds.
    pub fn same_effect(&self, planned: &Change) -> bool {
        self.removed == planned.removed && self.replaced_raw == planned.replaced_raw
    }
}

impl Edit {
    /// The audit action name.
    pub fn action(&self) -> &'static str {
        match self {
            Edit::Names(_) => "force-release",
            Edit::Holder(_) => "release-by-holder",
            Edit::All => "release-all",
            Edit::Bump(_) => "bump",
        }
    }

    /// Checks the edit can be carried out at all, before anything is read:
    /// names and holders that can be stored, a bump of at least 1.
    pub fn validate(&self) -> Result<()> {
        match self {
            Edit::Names(names) if names.is_empty() => {
                Err(Kind::Invalid("name at least one lock to release".into()).into())
            }
            Edit::Names(names) => names.iter().try_for_each(|n| validate_text("lock name", n)),
            Edit::Holder(h) => validate_text("holder", h),
            Edit::All => Ok(()),
            Edit::Bump(by) if *by < 1 => Err(Kind::Invalid(format!(
                "a bump must add at least 1 to the version, not {by}"
            ))
            .into()),
            Edit::Bump(_) => Ok(()),
        }
    }

    /// Applies the edit to a row as read: the new locks, or why not.
    pub fn apply(&self, state: &RowState) -> Result<Change> {
        let id = &state.id;
        let mut change = Change {
            row: id.clone(),
            version_before: state.version,
            version_after: state.version + 1,
            removed: Locks::new(),
            replaced_raw: None,
            remaining: Locks::new(),
            raw_kept: false,
            dry_run: false,
        };
        if let Edit::Bump(by) = self {
            change.version_after = state
                .version
                .checked_add(*by)
                .filter(|v| *v <= VERSION_MAX)
                .ok_or_else(|| {
                    Kind::Invalid(format!(
                        "bumping row `{id}` (version {}) by {by} would take its version past {VERSION_MAX}, the most the INT column holds; nothing was changed",
                        state.version
                    ))
                })?;
            match state.data.locks() {
                Some(locks) => change.remaining = locks,
                None => change.raw_kept = true,
            }
            return Ok(change);
        }
        if let (Edit::All, LockData::Raw(raw)) = (self, &state.data) {
            change.replaced_raw = Some(raw.clone());
            return Ok(change);
        }
        let mut locks = state.locks_or_corrupt()?;
        match self {
            Edit::Names(names) => {
                for n in names {
                    match locks.shift_remove(n) {
                        Some(h) => {
                            change.removed.insert(n.clone(), h);
                        }
                        None if change.removed.contains_key(n) => {}
                        None => {
                            return Err(Kind::NotHeld {
                                row: id.clone(),
                                name: n.clone(),
                            }
                            .into())
                        }
                    }
                }
            }
            Edit::Holder(h) => {
                let (gone, kept): (Locks, Locks) = std::mem::take(&mut locks)
                    .into_iter()
                    .partition(|(_, v)| holder_matches(v, h));
                if gone.is_empty() {
                    return Err(Kind::NotHeld {
                        row: id.clone(),
                        name: format!("(any lock held by {h})"),
                    }
                    .into());
                }
                change.removed = gone;
                locks = kept;
            }
            Edit::All => change.removed = std::mem::take(&mut locks),
            // Returned above.
            Edit::Bump(_) => {}
        }
        change.remaining = locks;
        Ok(change)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn state(data: &str) -> RowState {
        RowState {
            id: "r".into(),
            version: 7,
            data: LockData::parse(Some(data)),
            changed_at: Some(0),
            read_at: 5,
        }
    }

    #[test]
    fn edits() {
        let s = state(r#"{"a":"t1","b":"t2","c":"t1"}"#);
        let c = Edit::Names(vec!["b".into()]).apply(&s).unwrap();
        assert_eq!(
            serde_json::to_string(&c.remaining).unwrap(),
            r#"{"a":"t1","c":"t1"}"#
        );
        assert_eq!(c.removed.get("b"), Some(&Value::String("t2".into())));
        let c = Edit::Holder("t1".into()).apply(&s).unwrap();
        assert_eq!(
            serde_json::to_string(&c.remaining).unwrap(),
            r#"{"b":"t2"}"#
        );
        assert_eq!(c.removed.len(), 2);
        let e = Edit::Names(vec!["zz".into()]).apply(&s).unwrap_err();
        assert!(matches!(e.kind(), Kind::NotHeld { .. }));
        let e = Edit::Holder("nobody".into()).apply(&s).unwrap_err();
        assert!(matches!(e.kind(), Kind::NotHeld { .. }));
        let c = Edit::Bump(5).apply(&s).unwrap();
        assert_eq!((c.version_before, c.version_after), (7, 12));
        assert_eq!(c.remaining.len(), 3);
        let raw = state("[1,2]");
        assert!(matches!(
            Edit::Names(vec!["a".into()])
                .apply(&raw)
                .unwrap_err()
                .kind(),
            Kind::Corrupt { .. }
        ));
        let c = Edit::All.apply(&raw).unwrap();
        assert_eq!(c.replaced_raw.as_deref(), Some("[1,2]"));
        assert!(c.remaining.is_empty());
    }

    #[test]
    fn validation_is_in_library_words() {
        let e = Edit::Bump(0).validate().unwrap_err();
        assert_eq!(
            e.to_string(),
            "a bump must add at least 1 to the version, not 0"
        );
        assert!(Edit::Bump(1).validate().is_ok());
        assert!(Edit::Names(vec![]).validate().is_err());
        assert!(Edit::Holder("task-1".into()).validate().is_ok());
        assert!(Edit::Holder("a\x1bb".into()).validate().is_err());
    }
}
