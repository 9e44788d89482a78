//! `locksmith locks dump|force-release|bump|history|acquire|release`.

use super::args::{ChangeOpts, ConnectOpts, LockRef, LocksCmd};
use super::output::{self, confirm, note, out, out_json, tables, text, Format};
use crate::error::{exit, Result};
use crate::locks::{AuditInfo, Edit, LockData, LockTable, WriteOpts};

pub(super) async fn run(cmd: LocksCmd) -> Result<u8> {
    match cmd {
        LocksCmd::Dump { conn, format, rows } => {
            let table = LockTable::connect(&conn.parse_url()?).await?;
            let states = table.read_rows(&rows).await;
            let _ = table.disconnect().await;
            let states = states?;
            for s in &states {
                if let LockData::Raw(_) = s.data {
                    note(&format!(
                        "warning: row `{}` holds data that is not a JSON object; shown raw",
                        s.id
                    ));
                }
            }
            let doc = output::Dump {
                rows: states.iter().map(Into::into).collect(),
            };
            match format.format {
                Format::Table => out(&format!("{}\n", tables::dump_table(&doc)))?,
                Format::Json => out_json(&doc)?,
            }
        }
        LocksCmd::ForceRelease {
            conn,
            change,
            row,
            names,
            holder,
            all,
        } => {
            let edit = match (holder, all) {
                (Some(h), _) => Edit::Holder(h),
                (None, true) => Edit::All,
                (None, false) => Edit::Names(names),
            };
            change_cmd(&conn, &change, &row, edit).await?;
        }
        LocksCmd::Bump {
            conn,
            change,
            row,
            by,
        } => change_cmd(&conn, &change, &row, Edit::Bump(by)).await?,
        LocksCmd::History { conn, format, row } => {
            let table = LockTable::connect(&conn.parse_url()?).await?;
            let records = table.history(row.as_deref()).await;
            let _ = table.disconnect().await;
            let records = records?;
            match format.format {
                Format::Table => out(&format!("{}\n", tables::history_table(&records)))?,
                Format::Json => out_json(&output::HistoryDoc { records })?,
            }
        }
        LocksCmd::Acquire {
            conn,
            wait,
            lock: LockRef { row, name },
            holder,
        } => {
            let opts = wait.options()?;
            let table = LockTable::connect(&conn.parse_url()?).await?;
            let result = super::signals::lock(&table, &row, &name, &holder, &opts).await;
            let _ = table.disconnect().await;
            // The lock outlives this process on purpose: `locks release`
            // (or `force-release`) frees it later.
            let _held = result?;
        }
        LocksCmd::Release {
            conn,
            lock: LockRef { row, name },
            holder,
        } => {
            let table = LockTable::connect(&conn.parse_url()?).await?;
            let result = table.release(&row, &name, &holder).await;
            let _ = table.disconnect().await;
            result?;
        }
        LocksCmd::Run {
            conn,
            wait,
            lock: LockRef { row, name },
            holder,
            command,
        } => {
            let opts = wait.options()?;
            let holder = holder.unwrap_or_else(crate::host::default_holder);
            let table = LockTable::connect(&conn.parse_url()?).await?;
            let code = super::run::run_locked(&table, &row, &name, &holder, &opts, &command).await;
            let _ = table.disconnect().await;
            return code;
        }
    }
    Ok(exit::OK)
}

/// force-release and bump: plan, show, confirm, carry out by CAS with an
/// audit record, then print before → after.
async fn change_cmd(conn: &ConnectOpts, opts: &ChangeOpts, row: &str, edit: Edit) -> Result<()> {
    edit.validate()?;
    let table = LockTable::connect(&conn.parse_url()?).await?;
    let result = change_with(&table, opts, row, &edit).await;
    let _ = table.disconnect().await;
    result
}

async fn change_with(table: &LockTable, opts: &ChangeOpts, row: &str, edit: &Edit) -> Result<()> {
    let plan = table.plan(row, edit, opts.expect_version).await?;
    let shown = text::change(&plan, edit, true);
    if opts.dry_run {
        return out(&format!("{shown}Dry run: nothing was changed.\n"));
    }
    if !opts.yes {
        confirm(&shown)?;
    }
    let write = WriteOpts {
        expect_version: opts.expect_version,
        dry_run: false,
        audit: Some(AuditInfo::new(edit.action(), audit_command())),
    };
    let done = table.carry_out(&plan, edit, &write).await?;
    out(&text::change(&done, edit, false))
}

/// The command line for the audit record, without `--url` and its value.
fn audit_command() -> String {
    let mut parts = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        if a == "--url" {
            args.next();
            continue;
        }
        if a.starts_with("--url=") {
            continue;
        }
        if a.is_empty() || a.contains(|c: char| c.is_whitespace() || "'\"\\$`".contains(c)) {
            parts.push(format!("{a:?}"));
        } else {
            parts.push(a);
        }
    }
    format!("locksmith {}", parts.join(" "))
}
