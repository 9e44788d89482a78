//! Errors as the command line says them: the library's message, then a
//! `hint:` line for each remedy it names, worded with this tool's own
//! commands and flags.

use crate::error::{Error, Remedy};
use crate::shown::{shown, shown_id};

/// An error as printed after `locksmith: `, hints included.
pub fn error_text(e: &Error) -> String {
    let mut s = e.to_string();
    for r in e.remedies() {
        s.push_str("\nhint: ");
        s.push_str(&hint(&r));
    }
    s
}

/// One remedy in this tool's words.
pub fn hint(r: &Remedy) -> String {
    match r {
        Remedy::ApplyMigrations => "run `locksmith migrate up` first".into(),
        Remedy::RestoreTable { table, copies } => {
            let renames: Vec<String> = copies
                .iter()
                .map(|c| format!("RENAME TABLE `{}` TO `{}`", shown(c), shown(table)))
                .collect();
            match renames.as_slice() {
                [one] => format!("bring it back with: {one}"),
                many => format!(
                    "bring back the one that holds the locks in use (`locksmith migrate status` shows what each holds) with one of: {}",
                    many.join("; ")
                ),
            }
        }
        Remedy::SwapCopyBack => "`locksmith migrate status` says how to swap a copy back in; or release what it holds and DROP TABLE it".into(),
        Remedy::AlterTableBack => "alter it back to what V1 makes (`locksmith migrate status` lists the differences); lock commands refuse to use it until then".into(),
        Remedy::LookAgain { row } => {
            format!("look again with `locksmith locks dump {}`", shown_id(row))
        }
        Remedy::RepairRow { row, raw: true } => format!(
            "inspect it with `locksmith locks dump {r}`; `locksmith locks repair {r}` replaces it with {{}} and keeps the old text in the audit trail",
            r = shown_id(row)
        ),
        Remedy::RepairRow { row, raw: false } => format!(
            "look with `locksmith locks dump {r}`; `locksmith locks repair {r}` mends it, and shows first every lock it would drop",
            r = shown_id(row)
        ),
        Remedy::WaitForMigrationRun => "wait for it to finish, or raise --lock-timeout; `locksmith migrate status` shows the guard".into(),
        Remedy::SeeMigrationStatus => "see `locksmith migrate status`".into(),
        Remedy::SeeCopies => "`locksmith migrate status` shows what each copy holds, and the RENAME that brings it back".into(),
        Remedy::CheckLock { row, name, holder } => format!(
            "check with `locksmith locks dump {r}`; `locksmith locks release {r} '{}' --holder '{}'` frees it",
            shown(name),
            shown(holder),
            r = shown_id(row)
        ),
        Remedy::CheckHolder { row, holder } => format!(
            "check with `locksmith locks dump {r}`; `locksmith locks force-release {r} --holder '{}'` frees it",
            shown(holder),
            r = shown_id(row)
        ),
        Remedy::CheckChange { row } => format!(
            "check with `locksmith locks history {r}` and `locksmith locks dump {r}`",
            r = shown_id(row)
        ),
        Remedy::ReleaseLocksFirst => {
            "release them first (`locksmith locks dump`), or pass --force to drop them".into()
        }
        Remedy::ExportAuditFirst => "export them first (`locksmith locks history --format json`), or pass --force to drop them".into(),
        Remedy::ClearCopy {
            table,
            restore,
            beside: false,
        } => format!(
            "bring it back with: {} (`locksmith migrate up` does too), and {} first; or pass --force to drop it",
            shown(restore),
            match table.as_str() {
                "locks" => "release its locks",
                _ => "export its records (`locksmith locks history --format json`)",
            }
        ),
        Remedy::ClearCopy {
            table,
            beside: true,
            ..
        } => format!(
            "`{}` was made anew beside it: `locksmith migrate status` says how to swap it back in; or pass --force to drop it",
            shown(table)
        ),
        Remedy::RecordByHand => "check by hand what of it is in place; finish it and record it with `locksmith migrate mark-applied <VERSION>`, or undo what landed and run `up` again".into(),
        Remedy::ApplyOrForce { renamed: false } => {
            "`locksmith migrate up` applies it; --force records it anyway".into()
        }
        Remedy::ApplyOrForce { renamed: true } => "`locksmith migrate up` brings the renamed table back (or applies it); --force records it anyway".into(),
        Remedy::EarlierFirst => "apply or record the earlier ones first (`locksmith migrate up`, `locksmith migrate mark-applied`); --force records it anyway".into(),
        Remedy::RollBackAgain => "`locksmith migrate down` removes it".into(),
        Remedy::AlterBackThenApply => "alter the table back to what its migration makes (or restore it), then run `up` again".into(),
        Remedy::ChooseCopy => "decide which table holds the locks in use: swap the copy back in (the RENAME above), or release what it holds and DROP TABLE it".into(),
        Remedy::RenameBackThenApply => "rename back the copy to keep (its RENAME TABLE is above), then run `up` again".into(),
        Remedy::ForceRollBack => "--force rolls it back with this locksmith's down step anyway".into(),
    }
}
