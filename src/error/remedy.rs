//! What would mend a failure, and what an operation may have left behind,
//! as facts. The library says *what* (apply the migrations, look at row
//! `platform` again, the lock may be held by `task-42`); the command line
//! words it as a `hint:` naming its own commands and flags.

use crate::shown::{shown, shown_id};

/// What would mend a failure. The command line words each as a hint.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Remedy {
    /// The migrations have not made the table yet: apply them.
    ApplyMigrations,
    /// A table an interrupted rollback renamed out of reach: bring back
    /// one of `copies` (one: the statement; several: the migration status
    /// says what each holds).
    RestoreTable { table: String, copies: Vec<String> },
    /// A copy an interrupted rollback left holds locks beside a table made
    /// anew: the migration status says how to swap it back in; or release
    /// what it holds and drop it.
    SwapCopyBack,
    /// The table is not as its migration makes it: alter it back (the
    /// migration status lists the differences).
    AlterTableBack,
    /// The row moved since it was looked at: look again.
    LookAgain { row: String },
    /// The row cannot be written safely: look at it, then repair it
    /// (`raw`: its data is not a JSON object, which a repair replaces).
    RepairRow { row: String, raw: bool },
    /// Another migration run holds the guard: wait for it, or wait longer;
    /// the migration status shows who.
    WaitForMigrationRun,
    /// The migration status says more.
    SeeMigrationStatus,
    /// The migration status says what each copy holds and how to bring it
    /// back.
    SeeCopies,
    /// Whether the lock is held cannot be told: look, and release it as
    /// its holder if it is.
    CheckLock {
        row: String,
        name: String,
        holder: String,
    },
    /// Look, and release everything the holder holds in the row if need be.
    CheckHolder { row: String, holder: String },
    /// Whether an operator's change was made cannot be told: the audit
    /// trail and the row say.
    CheckChange { row: String },
    /// A rollback would drop held locks: release them first, or force it.
    ReleaseLocksFirst,
    /// A rollback would drop audit records: export them first, or force it.
    ExportAuditFirst,
    /// A rollback is refused while a copy an interrupted one left holds
    /// something: bring it back (`restore`, the statement; applying the
    /// migrations does it too) and empty it first, or force it. `beside`:
    /// the table was made anew beside the copy.
    ClearCopy {
        table: String,
        restore: String,
        beside: bool,
    },
    /// A migration was interrupted or made by another tool: check by hand
    /// what of it is in place, finish it and record it as applied, or undo
    /// it and apply it again.
    RecordByHand,
    /// A migration that has not taken effect cannot be recorded: apply it
    /// (which also brings back a renamed table: `renamed`), or force it.
    ApplyOrForce { renamed: bool },
    /// A migration cannot be recorded before earlier ones: apply or record
    /// those first, or force it.
    EarlierFirst,
    /// A rollback's step ran but its history row stayed: roll back again.
    RollBackAgain,
    /// A migration's table is not as it makes it: alter it back (or
    /// restore it), then apply the migrations again.
    AlterBackThenApply,
    /// A copy an interrupted rollback left and a table made anew both
    /// stand: decide which holds the locks in use, swap that one in (the
    /// statement given above), or release what the copy holds and drop it.
    ChooseCopy,
    /// A migration's table was renamed away: rename back the copy to keep
    /// (the statement given above), then apply the migrations again.
    RenameBackThenApply,
    /// A migration to roll back was applied with other contents: forcing
    /// it runs this build's down step anyway.
    ForceRollBack,
}

/// What an operation may have left behind when the deadline passed before
/// its outcome could be told.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Pending {
    /// An acquire may have landed: the lock may be held by `holder`.
    Taken {
        row: String,
        name: String,
        holder: String,
    },
    /// A release may not have landed: the lock may still be held.
    Kept {
        row: String,
        name: String,
        holder: String,
    },
    /// An operator's change to the row may or may not have been made.
    Changed { row: String },
    /// Nothing more is known than that a write may have landed.
    Unknown,
}

impl Pending {
    /// What would tell, and mend it.
    pub fn remedy(&self) -> Option<Remedy> {
        match self {
            Pending::Taken { row, name, holder } | Pending::Kept { row, name, holder } => {
                Some(Remedy::CheckLock {
                    row: row.clone(),
                    name: name.clone(),
                    holder: holder.clone(),
                })
            }
            Pending::Changed { row } => Some(Remedy::CheckChange { row: row.clone() }),
            Pending::Unknown => None,
        }
    }
}

impl std::fmt::Display for Pending {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Pending::Taken { row, name, holder } => write!(
                f,
                "lock `{}` in row `{}` may be held by {}",
                shown(name),
                shown_id(row),
                shown_id(holder)
            ),
            Pending::Kept { row, name, holder } => write!(
                f,
                "lock `{}` in row `{}` may still be held by {}",
                shown(name),
                shown_id(row),
                shown_id(holder)
            ),
            Pending::Changed { row } => write!(
                f,
                "the change to row `{}` may or may not have been made",
                shown_id(row)
            ),
            Pending::Unknown => f.write_str("what was sent may or may not have landed"),
        }
    }
}
