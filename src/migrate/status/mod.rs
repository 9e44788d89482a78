//! Where a database stands against a migration set: the history refinery
//! keeps, the live tables, and what a run recorded it was applying. The
//! history alone can lie (another tool dropped `locks`, a run died between
//! its DDL and its history row), so each migration's state comes from all
//! three.

mod observe;
mod quarantine;

pub(crate) use observe::{applied, observe};
pub use observe::{Applied, Observed};

use super::schema::{self, Live, Quarantined};
use super::set::{MigrationSet, Planned};
use crate::error::{Kind, Remedy, Result};
use serde::Serialize;

/// The state of one migration, as `migrate status` reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum State {
    /// In the history with the same checksum as this binary's copy, and
    /// its tables are there as it made them.
    Applied,
    /// Known to this binary, not yet applied.
    Pending,
    /// Applied, but its checksum (or name) differs from this binary's copy.
    Divergent,
    /// In the history, but this binary does not carry it (a newer binary applied it).
    AppliedUnknown,
    /// In the history, but a table it creates is gone.
    Missing,
    /// Not in the history, but its tables are there (identical, where
    /// locksmith can check them): made by another tool, or by a run that
    /// died before recording it.
    PresentUnrecorded,
    /// Its tables are there but differ from what it makes.
    Drifted,
    /// A run started applying it and died before finishing: it may be
    /// half-applied.
    Interrupted,
    /// Its tables are there, and beside one of them a copy that an
    /// interrupted `migrate down` left (`<table>_dropping_<tag>`) still
    /// holds locks or audit records, which lock commands do not see.
    Stranded,
}

impl State {
    /// The label used in tables and JSON.
    pub fn label(self) -> &'static str {
        match self {
            State::Applied => "applied",
            State::Pending => "pending",
            State::Divergent => "divergent",
            State::AppliedUnknown => "applied-unknown",
            State::Missing => "missing",
            State::PresentUnrecorded => "present-unrecorded",
            State::Drifted => "drifted",
            State::Interrupted => "interrupted",
            State::Stranded => "stranded",
        }
    }
}

/// What `migrate up` does about a migration.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    /// Run it and record it.
    Apply,
    /// Record it without running it: its tables are there and identical.
    Adopt,
    /// Run it again without recording it again: it is recorded, but its
    /// tables are gone.
    Recreate,
    /// Rename back the tables an interrupted `migrate down` left renamed
    /// out of reach (each the one copy of its table, made as the migration
    /// makes it), and record it if it is not recorded.
    Restore,
}

impl Action {
    /// The label used in tables and JSON.
    pub fn label(self) -> &'static str {
        match self {
            Action::Apply => "apply",
            Action::Adopt => "adopt",
            Action::Recreate => "re-create",
            Action::Restore => "restore",
        }
    }
}

/// One line of `migrate status`.
#[derive(Clone, Debug, Serialize)]
pub struct MigrationStatus {
    /// Migration version.
    pub version: i32,
    /// Migration name.
    pub name: String,
    /// Its state.
    pub state: State,
    /// When it was applied (refinery's text), if it was.
    pub applied_on: Option<String>,
    /// What is off, in words: the differences of a drifted table, the run
    /// that was cut off, a table a cut-off `down` left renamed.
    pub detail: Vec<String>,
    /// What `migrate up` would do about it; `None` for an applied
    /// migration, and for one that `up` refuses to touch.
    pub next: Option<Action>,
    /// This state is also what another run midway through the migration
    /// looks like from outside (its tables made, its history row not yet
    /// written), so only a look under the run guard can tell.
    pub midway: bool,
    /// The tables it makes that do not exist.
    #[serde(skip)]
    pub absent: Vec<String>,
    /// For [`Action::Restore`]: the copies to rename back.
    #[serde(skip)]
    pub copies: Vec<Quarantined>,
}

impl MigrationStatus {
    /// `V<n>__<name>`.
    pub fn label(&self) -> String {
        format!("V{}__{}", self.version, self.name)
    }

    /// Whether `migrate up` refuses to go on because of this migration.
    pub fn blocks(&self) -> bool {
        self.state != State::Applied && self.next.is_none()
    }
}

/// Compares what the binary carries with what the database has: the
/// history, the live tables, and a run that was cut off.
pub fn status(set: &MigrationSet, seen: &Observed) -> Vec<MigrationStatus> {
    let planned: Vec<Planned> = set.migrations().iter().map(Planned::up).collect();
    let mut out: Vec<MigrationStatus> = planned
        .iter()
        .zip(set.migrations())
        .map(|(p, m)| {
            let found = seen.history.iter().find(|a| a.version == p.version);
            let t = tables(p, &planned, &seen.live);
            let absent = t.absent.clone();
            let mut copies = Vec::new();
            let (state, detail, next) = match found {
                Some(a) if a.name != m.name() || a.checksum != m.checksum().to_string() => {
                    (State::Divergent, Vec::new(), None)
                }
                _ => match quarantine::decide(&t, &seen.live, found.is_some()) {
                    Some(d) => {
                        copies = d.copies;
                        (d.state, d.detail, d.next)
                    }
                    None => {
                        let (state, mut detail, next) = match found {
                            Some(_) => recorded(&t),
                            None => unrecorded(p, &t, seen),
                        };
                        detail.extend(quarantine::notes(&t, &seen.live));
                        (state, detail, next)
                    }
                },
            };
            MigrationStatus {
                version: p.version,
                name: m.name().to_string(),
                midway: found.is_none()
                    && (state == State::PresentUnrecorded
                        || (state == State::Drifted
                            && detail.iter().any(|d| d.starts_with(PARTIAL)))),
                state,
                applied_on: found.map(|a| a.applied_on.clone()),
                detail,
                next,
                absent,
                copies,
            }
        })
        .collect();
    for a in &seen.history {
        if set.find(a.version).is_none() {
            out.push(MigrationStatus {
                version: a.version,
                name: a.name.clone(),
                state: State::AppliedUnknown,
                applied_on: Some(a.applied_on.clone()),
                detail: Vec::new(),
                next: None,
                midway: false,
                absent: Vec::new(),
                copies: Vec::new(),
            });
        }
    }
    out.sort_by_key(|s| s.version);
    out
}

/// A migration's tables as they stand: the ones it makes that no later
/// migration drops, and whether a later one alters them.
struct TableSet<'a> {
    present: Vec<(&'a str, &'a [schema::Column], bool)>,
    absent: Vec<String>,
}

fn tables<'a>(p: &Planned, all: &[Planned], live: &'a Live) -> TableSet<'a> {
    let mut gone = Vec::new();
    let mut altered = Vec::new();
    for later in all.iter().filter(|l| l.version > p.version) {
        let (g, a) = schema::reshaped_by(later);
        gone.extend(g);
        altered.extend(a);
    }
    let mut t = TableSet {
        present: Vec::new(),
        absent: Vec::new(),
    };
    for name in schema::tables_of(p) {
        if gone.iter().any(|g| g.eq_ignore_ascii_case(&name)) {
            continue;
        }
        match live.tables.get_key_value(&name) {
            Some((n, cols)) => t.present.push((
                n.as_str(),
                cols.as_slice(),
                altered.iter().any(|a| a.eq_ignore_ascii_case(&name)),
            )),
            None => t.absent.push(name),
        }
    }
    t
}

/// The state of a migration the history records.
fn recorded(t: &TableSet<'_>) -> (State, Vec<String>, Option<Action>) {
    if !t.absent.is_empty() {
        let detail: Vec<String> = t
            .absent
            .iter()
            .map(|name| format!("table `{name}` does not exist"))
            .collect();
        return (State::Missing, detail, Some(Action::Recreate));
    }
    let diffs: Vec<String> = t
        .present
        .iter()
        .filter(|(_, _, altered)| !altered)
        .flat_map(|(name, cols, _)| schema::differences(name, cols, false))
        .collect();
    if diffs.is_empty() {
        (State::Applied, Vec::new(), None)
    } else {
        (State::Drifted, diffs, None)
    }
}

/// The state of a migration the history does not record.
fn unrecorded(
    p: &Planned,
    t: &TableSet<'_>,
    seen: &Observed,
) -> (State, Vec<String>, Option<Action>) {
    let diffs: Vec<String> = t
        .present
        .iter()
        .filter(|(_, _, altered)| !altered)
        .flat_map(|(name, cols, _)| schema::differences(name, cols, true))
        .collect();
    let verified = !t.present.is_empty()
        && t.present
            .iter()
            .all(|(name, _, altered)| !altered && schema::checkable(name));
    let applying = seen
        .guard
        .applying
        .as_ref()
        .filter(|a| a.version == p.version);
    if let Some(a) = applying {
        // The run that recorded it, if it still holds the guard and lives.
        let running = seen
            .guard
            .holder
            .as_ref()
            .filter(|h| !h.stale && h.holder == a.by);
        let since = a
            .since
            .as_deref()
            .map(|s| format!(" at {s}"))
            .unwrap_or_default();
        if let Some(h) = running {
            return (
                State::Pending,
                vec![format!("being applied now by {}{since}", h.holder)],
                Some(Action::Apply),
            );
        }
        let mut detail = vec![format!(
            "a run by {} started applying it{since} and did not finish",
            a.by
        )];
        let next = if let Some(conn) = a.still_running {
            detail.push(format!(
                "its statement is still running on the server (connection {conn}): wait for it to end, or end it with KILL {conn}"
            ));
            None
        } else if !diffs.is_empty() {
            detail.extend(diffs);
            None
        } else if !t.absent.is_empty() && !t.present.is_empty() {
            detail.push(format!(
                "{PARTIAL}{} exist and {} do not",
                names(t.present.iter().map(|p| p.0)),
                names(t.absent.iter().map(String::as_str))
            ));
            None
        } else if verified && t.absent.is_empty() {
            detail
                .push("its tables are there and identical to what it makes: `up` adopts it".into());
            Some(Action::Adopt)
        } else if t.present.is_empty() && (!t.absent.is_empty() || !schema::has_ddl(p)) {
            detail.push(if t.absent.is_empty() {
                "it changes data only, in one transaction, which the server rolled back: `up` runs it again".into()
            } else {
                "none of its tables exist: `up` runs it again".into()
            });
            Some(Action::Apply)
        } else {
            detail.push("locksmith cannot tell how much of it took effect".into());
            None
        };
        return (State::Interrupted, detail, next);
    }
    if !diffs.is_empty() {
        return (State::Drifted, diffs, None);
    }
    if !t.present.is_empty() && !t.absent.is_empty() {
        let detail = vec![format!(
            "{PARTIAL}{} exist and {} do not",
            names(t.present.iter().map(|p| p.0)),
            names(t.absent.iter().map(String::as_str))
        )];
        return (State::Drifted, detail, None);
    }
    if !t.present.is_empty() {
        if verified {
            let detail = vec![format!(
                "{} already there, identical to what it makes",
                names(t.present.iter().map(|p| p.0))
            )];
            return (State::PresentUnrecorded, detail, Some(Action::Adopt));
        }
        let detail = vec![format!(
            "{} already there, and locksmith cannot check its columns",
            names(t.present.iter().map(|p| p.0))
        )];
        return (State::PresentUnrecorded, detail, None);
    }
    (State::Pending, Vec::new(), Some(Action::Apply))
}

/// How the detail of a migration whose tables are partly there begins.
const PARTIAL: &str = "of its tables, ";

/// `` `a`, `b` `` for messages.
fn names<'a>(list: impl Iterator<Item = &'a str>) -> String {
    list.map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Refuses to go on when a migration is in a state `up` must not touch,
/// naming each one, what is off, and what to do.
pub(crate) fn check_consistent(list: &[MigrationStatus]) -> Result<()> {
    let bad: Vec<String> = list
        .iter()
        .filter(|s| s.blocks())
        .map(why_blocked)
        .collect();
    if bad.is_empty() {
        return Ok(());
    }
    let states: Vec<State> = list
        .iter()
        .filter(|s| s.blocks())
        .map(|s| s.state)
        .collect();
    let any = |these: &[State]| these.iter().any(|s| states.contains(s));
    let remedies = [
        (any(&[State::Drifted]), Remedy::AlterBackThenApply),
        (any(&[State::Stranded]), Remedy::ChooseCopy),
        (
            any(&[State::Missing, State::Pending]),
            Remedy::RenameBackThenApply,
        ),
        (
            any(&[State::Interrupted, State::PresentUnrecorded]),
            Remedy::RecordByHand,
        ),
        (
            any(&[State::Divergent, State::AppliedUnknown]),
            Remedy::SeeMigrationStatus,
        ),
    ]
    .into_iter()
    .filter_map(|(applies, r)| applies.then_some(r));
    let e = crate::Error::from(Kind::Diverged(format!(
        "the database does not match this locksmith's migrations; nothing was changed:\n  {}",
        bad.join("\n  "),
    )));
    Err(remedies.fold(e, crate::Error::with_remedy))
}

/// One refused migration, in words.
fn why_blocked(s: &MigrationStatus) -> String {
    let what = match s.state {
        State::Divergent => {
            "was applied with different contents than this locksmith carries (divergent checksum)"
                .to_string()
        }
        State::AppliedUnknown => {
            "is applied but unknown to this locksmith (applied by a newer version?)".to_string()
        }
        State::Drifted => {
            "is drifted: its tables are there but differ from what it makes".to_string()
        }
        State::Interrupted => "is interrupted and may be half-applied".to_string(),
        State::PresentUnrecorded => "is not recorded, but its tables are there".to_string(),
        State::Stranded => {
            "has a copy of its table, left by an interrupted `migrate down`, that still holds something".to_string()
        }
        State::Missing | State::Pending if !s.copies.is_empty() || s.detail.iter().any(|d| d.contains("_dropping_")) => {
            "has its table renamed away by an interrupted `migrate down`, and `up` cannot tell which copy to bring back".to_string()
        }
        other => format!("is {}", other.label()),
    };
    let mut line = format!("{} {what}", s.label());
    for d in &s.detail {
        line.push_str("\n    ");
        line.push_str(d);
    }
    line
}

#[cfg(test)]
mod tests;
