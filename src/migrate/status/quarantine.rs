//! What the tables an interrupted `migrate down` left renamed out of reach
//! (`locks_dropping_<tag>`, `locks_audit_dropping_<tag>`) mean for a
//! migration's state. Such a copy may hold live locks or audit records:
//! `up` must bring it back rather than make an empty table beside it, and
//! must not go on while a copy beside a live table still holds something
//! (a lock held there would be granted again in the live one).

use super::{Action, State, TableSet};
use crate::migrate::schema::{Live, Quarantined};

/// A migration's state as the copies of its tables decide it.
pub(super) struct Decided {
    pub state: State,
    pub detail: Vec<String>,
    pub next: Option<Action>,
    /// For [`Action::Restore`]: the copies to rename back.
    pub copies: Vec<Quarantined>,
}

/// What the copies of a migration's tables decide: `None` when no copy
/// changes its state (there are none, or only empty ones beside live
/// tables, which [`notes`] mentions).
pub(super) fn decide(t: &TableSet<'_>, live: &Live, recorded: bool) -> Option<Decided> {
    let stranded: Vec<&Quarantined> = t
        .present
        .iter()
        .flat_map(|(name, _, _)| live.copies_of(name))
        .filter(|q| q.holds_something())
        .collect();
    let absent: Vec<(&str, Vec<&Quarantined>)> = t
        .absent
        .iter()
        .map(|a| (a.as_str(), live.copies_of(a).collect()))
        .collect();
    if stranded.is_empty() && absent.iter().all(|(_, copies)| copies.is_empty()) {
        return None;
    }
    let mut detail = Vec::new();
    for (table, copies) in &absent {
        detail.push(format!("table `{table}` does not exist"));
        for q in copies {
            detail.push(format!(
                "`{}` is what an interrupted `migrate down` left of it, holding {}: {} brings it back",
                q.name,
                q.holding(),
                q.restore_sql()
            ));
            let diffs = q.differences();
            if !diffs.is_empty() {
                detail.push(format!(
                    "`{}` differs from what this migration makes: {}",
                    q.name,
                    diffs.join("; ")
                ));
            }
        }
        if copies.len() > 1 {
            detail.push(format!(
                "there are {} such copies of `{table}`: rename back the one to keep, and drop the others once nothing in them is needed",
                copies.len()
            ));
        }
    }
    for q in &stranded {
        let tag = q.name.rsplit('_').next().unwrap_or_default();
        detail.push(format!(
            "`{}`, left by an interrupted `migrate down`, is there beside `{}` and still holds {}, which lock commands do not see: RENAME TABLE `{}` TO `{}_replaced_{tag}`, `{}` TO `{}` swaps it back in (keeping the other as `{}_replaced_{tag}`)",
            q.name, q.of, q.holding(), q.of, q.of, q.name, q.of, q.of
        ));
    }
    if !stranded.is_empty() {
        return Some(Decided {
            state: State::Stranded,
            detail,
            next: None,
            copies: Vec::new(),
        });
    }
    // Brought back when each absent table has exactly one copy, made as
    // this migration makes it; any other mix is for the operator.
    let restorable = absent
        .iter()
        .all(|(_, copies)| copies.len() == 1 && copies.iter().all(|q| q.differences().is_empty()));
    let state = if recorded {
        State::Missing
    } else {
        State::Pending
    };
    match restorable {
        true => {
            let copies = absent
                .iter()
                .flat_map(|(_, copies)| copies.iter().map(|q| (*q).clone()))
                .collect();
            Some(Decided {
                state,
                detail,
                next: Some(Action::Restore),
                copies,
            })
        }
        false => Some(Decided {
            state,
            detail,
            next: None,
            copies: Vec::new(),
        }),
    }
}

/// The copies beside a migration's live tables that hold nothing: worth a
/// line, not a refusal.
pub(super) fn notes(t: &TableSet<'_>, live: &Live) -> Vec<String> {
    t.present
        .iter()
        .flat_map(|(name, _, _)| live.copies_of(name))
        .filter(|q| !q.holds_something())
        .map(|q| {
            format!(
                "`{}`, left by an interrupted `migrate down`, is there beside `{}` and holds nothing of value ({}): DROP TABLE `{}` removes it",
                q.name,
                q.of,
                q.holding(),
                q.name
            )
        })
        .collect()
}
