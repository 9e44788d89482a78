//! Operator edits as pure planned changes: what force-release, release by
//! holder, release-all, bump and repair would do to a row as read. No I/O
//! here; [`super::table::LockTable`] reads the row, plans with
//! [`Edit::apply`], and writes the result by compare-and-swap.

use super::data::{validate_text, LockData, RowState, Version, VERSION_MAX};
use super::entries::{Entry, Locks};
use crate::error::{Kind, Result};
use crate::liveness::{judge, Here, Liveness, Registration};

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
    /// Mend what is wrong with the row (see [`RowState::problem`]): a
    /// version that is NULL, not a number or at the INT maximum starts
    /// over at 1; a name written twice keeps its last holder, as JSON
    /// parsers read it; data that is not a JSON object becomes `{}`.
    Repair,
    /// Remove exactly the locks whose holders are dead at the moment of
    /// the write (see [`crate::liveness`]), with the evidence. Holders
    /// locksmith did not register are judged by these verdicts of an
    /// operator's probe (holder → verdict), and are otherwise unknown,
    /// which is never dead.
    Dead(Vec<(String, Liveness)>),
    /// Take lock `name` over for `holder` from a holder that is dead (by the
    /// registry's evidence), once `delay` (the lock-delay) has passed since
    /// a lease-based death began: the dead holder's entry goes and
    /// `holder`'s comes, in one audited write.
    TakeOver {
        name: String,
        holder: String,
        delay: std::time::Duration,
    },
}

/// A change made (or, for a dry run, planned) to one row.
#[derive(Clone, Debug)]
pub struct Change {
    /// The row.
    pub row: String,
    /// Version before, as stored.
    pub version_before: Version,
    /// Version after (what it would be, for a dry run).
    pub version_after: i64,
    /// Locks removed, exactly as they were stored.
    pub removed: Locks,
    /// The data replaced, verbatim: unparsable text (release-all), or
    /// whatever a repair rewrote.
    pub replaced_raw: Option<String>,
    /// Locks left in the row afterwards.
    pub remaining: Locks,
    /// The row's data is not a JSON object and was left as it is (a bump).
    pub raw_kept: bool,
    /// What a repair mends, in words (empty for other edits, and for a row
    /// that needs no repair).
    pub repairs: Vec<String>,
    /// True when nothing was written.
    pub dry_run: bool,
    /// For a release of dead holders (or a take-over): each lock removed,
    /// and the evidence that its holder is dead, in words.
    pub evidence: Vec<(String, String)>,
}

impl Change {
    /// A change of `row` from `version_before` to `version_after` that, so
    /// far, touches no lock.
    fn of(row: &str, version_before: Version, version_after: i64) -> Change {
        Change {
            row: row.into(),
            version_before,
            version_after,
            removed: Locks::new(),
            replaced_raw: None,
            remaining: Locks::new(),
            raw_kept: false,
            repairs: Vec::new(),
            dry_run: false,
            evidence: Vec::new(),
        }
    }

    /// Does this change remove what `planned` removes: the same locks,
    /// from holders with equal JSON values (another writer may have
    /// re-spaced or re-ordered a holder object meanwhile; see
    /// [`Locks::same_meaning`]), and the same replaced text? A plan an
    /// operator confirmed is only carried out while this holds.
    pub fn same_effect(&self, planned: &Change) -> bool {
        self.removed.same_meaning(&planned.removed)
            && self.replaced_raw == planned.replaced_raw
            && self.repairs == planned.repairs
    }

    /// Whether every lock this change removes because its holder is dead
    /// still has a dead holder by the registrations as they are now (read
    /// at `now_us`, server clock): a holder that renewed its lease since
    /// keeps its lock. Holders without a registration were judged by a
    /// probe, which is not asked again.
    pub fn still_dead(&self, regs: &[Registration], now_us: i64, here: &dyn Here) -> bool {
        self.removed.iter().all(|e| {
            let Some(name) = e.name() else {
                return true;
            };
            let holder = e.holder_text();
            match regs
                .iter()
                .find(|r| r.lock == name && r.holder == holder && r.row == self.row)
            {
                Some(r) => judge(r, now_us, here).is_dead(),
                None => true,
            }
        })
    }

    /// True when there is nothing to write (a repair of a sound row, a
    /// release of dead holders that found none).
    pub fn is_noop(&self) -> bool {
        self.repairs.is_empty()
            && self.replaced_raw.is_none()
            && matches!(self.version_before, Version::Number(v) if v == self.version_after)
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
            Edit::Repair => "repair",
            Edit::Dead(_) => "release-dead",
            Edit::TakeOver { .. } => "take-over",
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
            Edit::All | Edit::Repair | Edit::Dead(_) => Ok(()),
            Edit::TakeOver { name, holder, .. } => {
                validate_text("lock name", name)?;
                validate_text("holder", holder)
            }
            Edit::Bump(by) if *by < 1 => Err(Kind::Invalid(format!(
                "a bump must add at least 1 to the version, not {by}"
            ))
            .into()),
            Edit::Bump(_) => Ok(()),
        }
    }

    /// Applies the edit to a row as read: the change, or why not.
    pub fn apply(&self, state: &RowState) -> Result<Change> {
        if let Edit::Repair = self {
            return Ok(repair(state));
        }
        if let Edit::Dead(probed) = self {
            // Without the registry: only what a probe said.
            return Edit::release_dead(state, |e| self.probed(e, probed), None);
        }
        if let Edit::TakeOver { .. } = self {
            // Without the registry nobody is dead.
            return self.take_over(state, |_| Liveness::unregistered(), 0);
        }
        let id = &state.id;
        let version = state.number()?;
        let mut change = Change::of(id, Version::Number(version), version + 1);
        match (self, &state.data) {
            (Edit::Bump(by), data) => {
                change.version_after = version
                    .checked_add(*by)
                    .filter(|v| *v <= VERSION_MAX)
                    .ok_or_else(|| {
                        Kind::Invalid(format!(
                            "bumping row `{id}` (version {version}) by {by} would take its version past {VERSION_MAX}, the most the INT column holds; nothing was changed"
                        ))
                    })?;
                match data.locks() {
                    Some(locks) => change.remaining = locks,
                    None => change.raw_kept = true,
                }
            }
            (Edit::All, LockData::Raw { text, .. }) => change.replaced_raw = Some(text.clone()),
            (Edit::All, data) => change.removed = data.locks().unwrap_or_default(),
            (Edit::Names(names), _) => {
                let mut locks = state.locks_to_write()?;
                for n in names {
                    let gone = locks.remove(n);
                    if gone.is_empty() && !change.removed.contains(n) {
                        return Err(Kind::NotHeld {
                            row: id.clone(),
                            name: n.clone(),
                        }
                        .into());
                    }
                    for e in gone.iter() {
                        change.removed.push(e.clone());
                    }
                }
                change.remaining = locks;
            }
            (Edit::Holder(h), _) => {
                let mut locks = state.locks_to_write()?;
                change.removed = locks.split_off(|e| e.held_by(h));
                if change.removed.is_empty() {
                    return Err(Kind::NotHeld {
                        row: id.clone(),
                        name: format!("(any lock held by {h})"),
                    }
                    .into());
                }
                change.remaining = locks;
            }
            (Edit::Repair, _) | (Edit::Dead(_), _) | (Edit::TakeOver { .. }, _) => {}
        }
        Ok(change)
    }

    /// The take-over of [`Edit::TakeOver`] from `state`, judging the
    /// holder in the way by `verdict` at server time `now_us`: fails with
    /// [`Kind::Held`] (saying why) unless it is dead and the lock-delay has
    /// passed; with [`Kind::NotHeld`] when nobody holds the lock any more
    /// (a plain acquire takes it then).
    pub fn take_over(
        &self,
        state: &RowState,
        verdict: impl Fn(&Entry) -> Liveness,
        now_us: i64,
    ) -> Result<Change> {
        let Edit::TakeOver {
            name,
            holder,
            delay,
        } = self
        else {
            return Err(Kind::Internal("take_over of another edit".into()).into());
        };
        let id = &state.id;
        let version = state.number()?;
        let mut locks = state.locks_to_write()?;
        let Some(old) = locks.get(name).cloned() else {
            return Err(Kind::NotHeld {
                row: id.clone(),
                name: name.clone(),
            }
            .into());
        };
        let v = verdict(&old);
        let delay_us = i64::try_from(delay.as_micros()).unwrap_or(i64::MAX);
        let waits = v
            .dead_since_us()
            .map(|at| at.saturating_add(delay_us) - now_us)
            .filter(|left| *left > 0);
        if !v.is_dead() || waits.is_some() {
            return Err(Kind::Held {
                row: id.clone(),
                name: name.clone(),
                holder: old.holder_text(),
            }
            .into());
        }
        let mut change = Change::of(id, Version::Number(version), version + 1);
        change.removed = locks.remove(name);
        locks.add(Entry::new(name, holder));
        change.remaining = locks;
        change.evidence = vec![(name.clone(), v.why)];
        Ok(change)
    }

    /// What the operator's probe said of `e`'s holder (see [`Edit::Dead`]),
    /// or unknown.
    pub fn probed(&self, e: &Entry, probed: &[(String, Liveness)]) -> Liveness {
        let holder = e.holder_text();
        probed
            .iter()
            .find(|(h, _)| *h == holder)
            .map_or_else(Liveness::unregistered, |(_, v)| v.clone())
    }

    /// The change that removes the locks of `state` whose holders `verdict`
    /// finds dead, each with its evidence; with `planned` (what an
    /// operator confirmed), only those of them the plan removes: a holder
    /// that renewed its lease since the plan is kept, and one that died
    /// since is left for the next look. Nothing dead: a change that writes
    /// nothing ([`Change::is_noop`]).
    pub fn release_dead(
        state: &RowState,
        verdict: impl Fn(&Entry) -> Liveness,
        planned: Option<&Locks>,
    ) -> Result<Change> {
        let id = &state.id;
        let version = state.number()?;
        let mut locks = state.locks_to_write()?;
        let mut evidence = Vec::new();
        let removed = locks.split_off(|e| {
            let v = verdict(e);
            let in_plan = planned.is_none_or(|p| p.iter().any(|q| q.same_meaning(e)));
            let gone = v.is_dead() && in_plan;
            if gone {
                evidence.push((e.shown_name().into_owned(), v.why));
            }
            gone
        });
        let mut change = Change::of(id, Version::Number(version), version + 1);
        if removed.is_empty() {
            change.version_after = version;
        }
        change.removed = removed;
        change.remaining = locks;
        change.evidence = evidence;
        Ok(change)
    }
}

/// What mending a row takes. A sound row gets a change that writes nothing
/// ([`Change::is_noop`]).
fn repair(state: &RowState) -> Change {
    let mut change = Change::of(&state.id, state.version.clone(), 1);
    match &state.version {
        Version::Number(v) if (0..VERSION_MAX).contains(v) => change.version_after = *v + 1,
        other => change
            .repairs
            .push(format!("version {other} starts over at 1")),
    }
    match &state.data {
        LockData::Raw { why, .. } => change.repairs.push(format!(
            "dataJson, which is not a JSON object ({why}), is replaced by {{}}"
        )),
        LockData::Null => {}
        LockData::Locks(locks) => {
            let mut kept = locks.clone();
            let gone = kept.dedupe();
            if !gone.is_empty() {
                change.repairs.push(format!(
                    "names written more than once keep their last holder: {}",
                    locks
                        .duplicates()
                        .iter()
                        .map(|n| format!("`{n}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
            change.removed = gone;
            change.remaining = kept;
        }
    }
    if change.repairs.is_empty() {
        change.version_after = match state.version {
            Version::Number(v) => v,
            _ => 1,
        };
    } else {
        // Verbatim: the write matches the row by it, and the audit keeps it.
        change.replaced_raw = state.stored.clone();
    }
    change
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::locks::data::read_row;

    #[test]
    fn edits() {
        let s = read_row(Version::Number(7), r#"{"a":"t1","b":"t2","c":"t1"}"#);
        let c = Edit::Names(vec!["b".into()]).apply(&s).unwrap();
        assert_eq!(c.remaining.to_json(), r#"{"a":"t1","c":"t1"}"#);
        assert_eq!(c.removed.to_json(), r#"{"b":"t2"}"#);
        let c = Edit::Holder("t1".into()).apply(&s).unwrap();
        assert_eq!(c.remaining.to_json(), r#"{"b":"t2"}"#);
        assert_eq!(c.removed.len(), 2);
        let e = Edit::Names(vec!["zz".into()]).apply(&s).unwrap_err();
        assert!(matches!(e.kind(), Kind::NotHeld { .. }));
        let e = Edit::Holder("nobody".into()).apply(&s).unwrap_err();
        assert!(matches!(e.kind(), Kind::NotHeld { .. }));
        let c = Edit::Bump(5).apply(&s).unwrap();
        assert_eq!(
            (c.version_before.clone(), c.version_after),
            (Version::Number(7), 12)
        );
        assert_eq!(c.remaining.len(), 3);
        let raw = read_row(Version::Number(7), "[1,2]");
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
    fn an_ambiguous_row_is_refused_by_name_and_holder_but_listed_by_all() {
        let s = read_row(Version::Number(1), r#"{"b":"x","c":"z","b":"y"}"#);
        for e in [Edit::Names(vec!["b".into()]), Edit::Holder("x".into())] {
            assert!(matches!(
                e.apply(&s).unwrap_err().kind(),
                Kind::Damaged { .. }
            ));
        }
        let all = Edit::All.apply(&s).unwrap();
        assert_eq!(all.removed.to_json(), r#"{"b":"x","c":"z","b":"y"}"#);
    }

    #[test]
    fn repairs_mend_each_problem_and_list_what_goes() {
        let dup = Edit::Repair
            .apply(&read_row(
                Version::Number(4),
                r#"{"b":"x","c":"z","b":"y"}"#,
            ))
            .unwrap();
        assert_eq!(dup.remaining.to_json(), r#"{"b":"y","c":"z"}"#);
        assert_eq!(dup.removed.to_json(), r#"{"b":"x"}"#);
        assert_eq!(dup.version_after, 5);
        assert_eq!(
            dup.replaced_raw.as_deref(),
            Some(r#"{"b":"x","c":"z","b":"y"}"#)
        );
        for v in [
            Version::Null,
            Version::Text("abc".into()),
            Version::Number(VERSION_MAX),
        ] {
            let c = Edit::Repair
                .apply(&read_row(v.clone(), r#"{"a":"t"}"#))
                .unwrap();
            assert_eq!(c.version_after, 1, "{v:?}");
            assert_eq!(c.remaining.to_json(), r#"{"a":"t"}"#, "no lock goes");
            assert!(c.removed.is_empty());
        }
        let raw = Edit::Repair
            .apply(&read_row(Version::Number(2), "[1]"))
            .unwrap();
        assert_eq!(raw.replaced_raw.as_deref(), Some("[1]"));
        let sound = Edit::Repair
            .apply(&read_row(Version::Number(2), r#"{"a":"t"}"#))
            .unwrap();
        assert!(sound.is_noop(), "{sound:?}");
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
