//! Where a database stands against a migration set: the history refinery
//! keeps, and each migration's state (applied, pending, divergent,
//! applied-unknown).

use super::set::MigrationSet;
use crate::db::value::Cells;
use crate::db::{sql, Lease};
use crate::error::{Kind, Result};
use serde::Serialize;

#[derive(Clone, Debug)]
pub struct Applied {
    /// Migration version.
    pub version: i32,
    /// Migration name, without the `V<n>__` prefix.
    pub name: String,
    /// When refinery recorded it, RFC 3339, as refinery wrote it.
    pub applied_on: String,
    /// Refinery's checksum, as text.
    pub checksum: String,
}

/// The state of one migration, as `migrate status` reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum State {
    /// In the history with the same checksum as this binary's copy.
    Applied,
    /// Known to this binary, not yet applied.
    Pending,
    /// Applied, but its checksum (or name) differs from this binary's copy.
    Divergent,
    /// In the history, but this binary does not carry it (a newer binary applied it).
    AppliedUnknown,
}

impl State {
    /// The label used in tables and JSON.
    pub fn label(self) -> &'static str {
        match self {
            State::Applied => "applied",
            State::Pending => "pending",
            State::Divergent => "divergent",
            State::AppliedUnknown => "applied-unknown",
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
}

/// What `migrate up` did (or, with `dry_run`, would do).
/// Reads the history table; a missing table means nothing is applied.
pub(crate) async fn applied(c: &mut Lease) -> Result<Vec<Applied>> {
    let rows = match c.query_rows(sql::SELECT_HISTORY).await {
        Ok(rows) => rows,
        Err(e) if e.server_code() == Some(1146) => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    rows.into_iter()
        .map(|row| {
            let mut c = Cells::new(row, sql::HISTORY_TABLE);
            let version: i32 = c.take(0, "version")?;
            c.name_row(format!("version {version}"));
            Ok(Applied {
                version,
                name: c.take(1, "name")?,
                applied_on: c.take(2, "applied_on")?,
                checksum: c.take(3, "checksum")?,
            })
        })
        .collect()
}

/// Compares what the binary carries with what the database has applied.
pub fn status(set: &MigrationSet, applied: &[Applied]) -> Vec<MigrationStatus> {
    let mut out: Vec<MigrationStatus> = set
        .migrations()
        .iter()
        .map(|m| {
            let found = applied.iter().find(|a| a.version == m.version());
            let state = match found {
                None => State::Pending,
                Some(a) if a.name == m.name() && a.checksum == m.checksum().to_string() => {
                    State::Applied
                }
                Some(_) => State::Divergent,
            };
            MigrationStatus {
                version: m.version(),
                name: m.name().to_string(),
                state,
                applied_on: found.map(|a| a.applied_on.clone()),
            }
        })
        .collect();
    for a in applied {
        if set.find(a.version).is_none() {
            out.push(MigrationStatus {
                version: a.version,
                name: a.name.clone(),
                state: State::AppliedUnknown,
                applied_on: Some(a.applied_on.clone()),
            });
        }
    }
    out.sort_by_key(|s| s.version);
    out
}

/// Refuses to go on when the history disagrees with this binary.
pub(crate) fn check_consistent(list: &[MigrationStatus]) -> Result<()> {
    let bad: Vec<String> = list
        .iter()
        .filter_map(|s| match s.state {
            State::Divergent => Some(format!(
                "V{}__{} was applied with different contents than this locksmith carries (divergent checksum)",
                s.version, s.name
            )),
            State::AppliedUnknown => Some(format!(
                "V{}__{} is applied but unknown to this locksmith (applied by a newer version?)",
                s.version, s.name
            )),
            _ => None,
        })
        .collect();
    if bad.is_empty() {
        Ok(())
    } else {
        Err(Kind::Diverged(format!(
            "the database's migration history does not match this locksmith; nothing was changed:\n  {}\nhint: see `locksmith migrate status`",
            bad.join("\n  ")
        ))
        .into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_classifies_every_state() {
        let set = MigrationSet::embedded();
        let v1 = &set.migrations()[0];
        let applied = vec![
            Applied {
                version: 1,
                name: v1.name().into(),
                applied_on: "2024-01-01T00:00:00Z".into(),
                checksum: v1.checksum().to_string(),
            },
            Applied {
                version: 2,
                name: "locks_audit_create_table".into(),
                applied_on: "x".into(),
                checksum: "1".into(),
            },
            Applied {
                version: 9,
                name: "future".into(),
                applied_on: "x".into(),
                checksum: "1".into(),
            },
        ];
        let st: Vec<State> = status(&set, &applied).iter().map(|s| s.state).collect();
        assert_eq!(
            st,
            vec![State::Applied, State::Divergent, State::AppliedUnknown]
        );
        let none: Vec<State> = status(&set, &[]).iter().map(|s| s.state).collect();
        assert!(none.iter().all(|s| *s == State::Pending));
        assert!(check_consistent(&status(&set, &applied)).is_err());
    }
}
