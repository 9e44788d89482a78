//! `locksmith locks dump|force-release|bump|history|acquire|release` (and
//! `watch`'s way in: it lives in `watch/`); what `dump` prints is in `listing`.

mod listing;

pub(super) use listing::print_dump;
use listing::prometheus;

use super::args::{ChangeOpts, DumpFormat, LockRef, LocksCmd};
use super::ctx::Ctx;
use super::exit;
use super::output::{self, note, out, out_json, tables, text, Format, WaitLine};
use super::signals::{interrupted, GRACE};
use crate::db::Deadline;
use crate::error::{Kind, Remedy, Result};
use crate::host::Process;
use crate::liveness::Registering;
use crate::locks::{AcquireOptions, AuditInfo, Edit, LockGuard, LockTable, WriteOpts};
use crate::shown::{shown, shown_id};

pub(super) async fn run(ctx: &Ctx, cmd: LocksCmd) -> Result<u8> {
    match cmd {
        LocksCmd::Dump {
            conn: _,
            format,
            probe,
            metrics,
            waiters,
            rows,
        } => {
            let probe = probe.probe();
            if format.format == DumpFormat::Prometheus {
                return prometheus(ctx, probe, metrics.options(), rows).await;
            }
            let snap = with_table(ctx, async |t| t.observe(&rows, probe.as_ref()).await).await?;
            // Prometheus went its own way above.
            let format = match format.format {
                DumpFormat::Table => Format::Table,
                DumpFormat::Json | DumpFormat::Prometheus => Format::Json,
            };
            print_dump(&snap, format, waiters)?;
        }
        LocksCmd::ForceRelease {
            conn: _,
            format,
            change,
            row,
            names,
            holder,
            all,
            dead,
            probe,
        } => {
            let edit = match (holder, all, dead) {
                (Some(h), _, _) => Edit::Holder(h),
                (None, true, _) => Edit::All,
                (None, false, true) => Edit::Dead(probed(ctx, &row, probe.probe()).await?),
                (None, false, false) => Edit::Names(names),
            };
            change_cmd(ctx, &change, &row, edit, format.format).await?;
        }
        LocksCmd::Bump {
            conn: _,
            format,
            change,
            row,
            by,
        } => change_cmd(ctx, &change, &row, Edit::Bump(by), format.format).await?,
        LocksCmd::Repair {
            conn: _,
            format,
            change,
            row,
        } => change_cmd(ctx, &change, &row, Edit::Repair, format.format).await?,
        LocksCmd::History {
            conn: _,
            format,
            row,
        } => {
            let records = with_table(ctx, async |t| t.history(row.as_deref()).await).await?;
            match format.format {
                Format::Table => out(&format!("{}\n", tables::history_table(&records)))?,
                Format::Json => out_json(&output::HistoryDoc { records })?,
            }
        }
        LocksCmd::Acquire {
            conn: _,
            format,
            wait,
            lock: LockRef { row, name },
            holder,
            holder_pid,
            lease,
            take_over,
        } => {
            let mut opts = wait.options()?;
            // The lock follows the process that asked for it: the shell or
            // service that runs this command, unless told which.
            let process = match holder_pid {
                Some(pid) => Process::of(pid).ok_or_else(|| {
                    crate::Error::from(Kind::Invalid(format!(
                        "--holder-pid {pid}: there is no process {pid} on this host"
                    )))
                })?,
                None => Process::parent().unwrap_or_else(Process::this),
            };
            opts.register = Some(Registering {
                process,
                lease,
                command: super::ctx::audit_command(),
            });
            opts.take_over_dead = take_over.delay();
            let url = ctx.url.clone();
            let (table, held) = acquire(ctx, &url, &row, &name, &holder, &opts).await?;
            if !held.registered() {
                not_registered(&opts, &holder, &name);
            }
            // The lock outlives this process on purpose: `locks release`
            // (or `force-release`) frees it later.
            let held: LockGuard = held;
            let mut code = exit::OK;
            if format.format == Format::Json {
                let doc = output::LockDoc {
                    action: "acquire".into(),
                    row,
                    name,
                    holder,
                    changed: !held.held_before(),
                    fence: held.fence(),
                };
                if let Err(e) = out_json(&doc) {
                    code = unreported(ctx, held, &e).await;
                }
            }
            let _ = table.until(Deadline::after(GRACE)).disconnect().await;
            return Ok(code);
        }
        LocksCmd::Renew {
            conn: _,
            lock: LockRef { row, name },
            holder,
        } => {
            with_table(ctx, async |t| t.renew(&row, &name, &holder).await).await?;
        }
        LocksCmd::Release {
            conn: _,
            format,
            lock: LockRef { row, name },
            holder,
        } => {
            with_table(ctx, async |t| {
                t.release(&row, &name, &holder).await?;
                // The registration `locks acquire` made goes with the lock
                // (best effort: the release stands either way). One left
                // behind would judge the next holder of that name.
                let _ = t.unregister(&row, &name, &holder).await;
                Ok(())
            })
            .await?;
            if format.format == Format::Json {
                let doc = output::LockDoc {
                    action: "release".into(),
                    row,
                    name,
                    holder,
                    changed: true,
                    fence: None,
                };
                if let Err(e) = out_json(&doc) {
                    // The release stands: exit 0, and say so.
                    note(&format!(
                        "released lock `{}` in row `{}` (held by {}), but cannot write to stdout: {}",
                        shown(&doc.name),
                        shown_id(&doc.row),
                        shown(&doc.holder),
                        output::unwritable(&e)
                    ));
                }
            }
        }
        LocksCmd::Watch(args) => return super::watch::run(ctx, args).await,
        LocksCmd::Run {
            conn: _,
            wait,
            lock: LockRef { row, name },
            holder,
            release_timeout,
            kill_after,
            lease,
            on_lost,
            take_over,
            command,
        } => {
            let mut opts = wait.options()?;
            let holder = holder.unwrap_or_else(crate::host::default_holder);
            opts.register = Some(Registering {
                process: Process::this(),
                lease: Some(lease),
                command: super::ctx::audit_command(),
            });
            opts.take_over_dead = take_over.delay();
            let url = ctx.url.clone();
            let (table, guard) = acquire(ctx, &url, &row, &name, &holder, &opts).await?;
            if !guard.registered() {
                not_registered(&opts, &holder, &name);
            }
            let limits = super::run::Limits {
                release_timeout,
                kill_after,
                on_lost,
            };
            let code = super::run::run_locked(ctx, guard, limits, &command).await;
            let _ = table.until(Deadline::after(GRACE)).disconnect().await;
            return code;
        }
    }
    Ok(exit::OK)
}

/// Says that the holder could not be registered, and why: others cannot
/// tell whether it is alive.
fn not_registered(opts: &AcquireOptions, holder: &str, name: &str) {
    let why = match opts.register.as_ref().map(|w| w.validate(holder, name)) {
        Some(Err(e)) => e.to_string(),
        _ => "the holder registry (table `locks_holders`) is not there, or this account may not write it; `locksmith migrate up` creates it".into(),
    };
    note(&format!(
        "warning: the holder is not registered, so others cannot tell whether it is alive: {why}"
    ));
}

/// The verdicts of an operator's probe on the holders of `row` that
/// locksmith did not register (none without a probe).
async fn probed(
    ctx: &Ctx,
    row: &str,
    probe: Option<crate::liveness::Probe>,
) -> Result<Vec<(String, crate::liveness::Liveness)>> {
    let Some(probe) = probe else {
        return Ok(Vec::new());
    };
    let rows = vec![row.to_string()];
    let snap = with_table(ctx, async |t| t.observe(&rows, Some(&probe)).await).await?;
    Ok(snap
        .held
        .iter()
        .filter(|h| h.registration.is_none())
        .map(|h| (h.entry.holder_text(), h.liveness.clone()))
        .collect())
}

/// Connects, runs `f` on the table and disconnects, all within
/// `--timeout`; a signal stops it at once.
pub(super) async fn with_table<T>(
    ctx: &Ctx,
    f: impl AsyncFnOnce(&LockTable) -> Result<T>,
) -> Result<T> {
    let d = ctx.deadline();
    ctx.stop
        .guard(async {
            let table = LockTable::connect_until(&ctx.url, &ctx.connect(), d)
                .await?
                .until(d);
            let result = f(&table).await;
            let _ = table.disconnect().await;
            result
        })
        .await
}

/// Connects and acquires, with a wait line on stderr, all within the
/// command's deadline (`--wait`, or `--timeout` without it). A signal ends
/// it at once; whatever the cut-off acquisition may have taken is released
/// within [`GRACE`].
pub(super) async fn acquire(
    ctx: &Ctx,
    url: &crate::DbUrl,
    row: &str,
    name: &str,
    holder: &str,
    opts: &AcquireOptions,
) -> Result<(LockTable, LockGuard)> {
    // One deadline for connecting and acquiring: a slow connect uses up
    // the wait, it does not come on top of it.
    let until = Deadline::after(opts.wait.unwrap_or(ctx.timeout));
    let table = ctx.lock_table(url, until).await?;
    let mut line = WaitLine::new();
    let result = ctx
        .stop
        .guard(
            table
                .until(until)
                .lock(row, name, holder, opts, |why| line.waiting(why)),
        )
        .await;
    line.done();
    match result {
        Ok(guard) => Ok((table, guard)),
        Err(e) => match e.kind() {
            // The lock() future was dropped: pay what it owes now.
            Kind::Interrupted { signal, .. } => {
                let sig = *signal;
                let grace = table.until(Deadline::after(GRACE));
                Err(match grace.finish_pending().await {
                    Ok(()) => interrupted(sig, "nothing is left held"),
                    Err(why) => interrupted(
                        sig,
                        &format!(
                            "could not make sure lock `{name}` in row `{row}` is not left held by {holder}: {why}\nhint: {}",
                            output::hints::hint(&Remedy::CheckHolder {
                                row: row.into(),
                                holder: holder.into(),
                            })
                        ),
                    ),
                })
            }
            // lock() has cleaned up after itself (within its grace).
            _ => Err(e),
        },
    }
}

/// force-release and bump: plan, show, confirm, carry out by CAS with an
/// audit record, then print before → after. The plan and the write each
/// get `--timeout`; the person at the prompt gets as long as they need.
async fn change_cmd(
    ctx: &Ctx,
    opts: &ChangeOpts,
    row: &str,
    edit: Edit,
    format: Format,
) -> Result<()> {
    edit.validate()?;
    let table = ctx.lock_table(&ctx.url, ctx.deadline()).await?;
    let result = change_with(ctx, &table, opts, row, &edit, format).await;
    let _ = table.until(Deadline::after(GRACE)).disconnect().await;
    result
}

async fn change_with(
    ctx: &Ctx,
    table: &LockTable,
    opts: &ChangeOpts,
    row: &str,
    edit: &Edit,
    format: Format,
) -> Result<()> {
    let stop = &ctx.stop;
    let json = format == Format::Json;
    let plan = stop
        .guard(
            table
                .until(ctx.deadline())
                .plan(row, edit, opts.expect_version),
        )
        .await?;
    if plan.is_noop() && json {
        return out_json(&output::ChangeDoc::new(&plan, edit, opts.dry_run));
    }
    if plan.is_noop() {
        return out(&match edit {
            Edit::Dead(_) => text::nothing_dead(row),
            _ => format!(
                "row `{}` needs no repair; nothing was changed\n",
                shown_id(row)
            ),
        });
    }
    let shown = text::change(&plan, edit, true);
    if opts.dry_run && json {
        return out_json(&output::ChangeDoc::new(&plan, edit, true));
    }
    if opts.dry_run {
        return out(&format!("{shown}Dry run: nothing was changed.\n"));
    }
    if !opts.yes {
        super::ctx::ask(stop, shown.clone()).await?;
    }
    let write = WriteOpts {
        expect_version: opts.expect_version,
        dry_run: false,
        audit: Some(AuditInfo::new(edit.action(), super::ctx::audit_command())),
    };
    let done = stop
        .guard(table.until(ctx.deadline()).carry_out(&plan, edit, &write))
        .await
        .map_err(|e| match e.kind() {
            Kind::Interrupted { signal, .. } => interrupted(
                *signal,
                &format!(
                    "the change may or may not have been made; {}",
                    output::hints::hint(&Remedy::CheckChange { row: row.into() })
                ),
            ),
            _ => e,
        })?;
    if done.is_noop() {
        // Every holder the plan found dead has renewed its lease since.
        let said = match json {
            true => out_json(&output::ChangeDoc::new(&done, edit, true)),
            false => out(&text::nothing_dead(row)),
        };
        return said;
    }
    let said = match json {
        true => out_json(&output::ChangeDoc::new(&done, edit, false)),
        false => out(&text::change(&done, edit, false)),
    };
    // The change stands (exit 0): the operator must know it landed.
    output::reported(said, &text::change(&done, edit, false))
}

/// `acquire` took the lock but could not say so on stdout (a full disk, a
/// reader that went away). Its caller cannot know it holds the lock, and so
/// would never release it: it is released again, and the exit status says
/// it is not held. A lock the holder held before this command is left as
/// it was (whoever took it knows). Returns the exit code.
async fn unreported(ctx: &Ctx, held: LockGuard, e: &crate::Error) -> u8 {
    let why = output::unwritable(e);
    let (row, name, holder) = (
        held.row().to_string(),
        held.name().to_string(),
        held.holder().to_string(),
    );
    let lock = format!("lock `{}` in row `{}`", shown(&name), shown_id(&row));
    if held.held_before() {
        note(&format!(
            "cannot write to stdout: {why}; {lock} stays held by {}, which held it before this command",
            shown(&holder)
        ));
        return exit::FAILURE;
    }
    let release = async {
        let t = held.table().until(ctx.deadline());
        t.release(held.row(), held.name(), held.holder()).await
    };
    let failed = match ctx.stop.guard(release).await {
        Ok(()) => None,
        // Not held by this holder any more: as good as released.
        Err(e)
            if matches!(
                e.kind(),
                Kind::NotHeld { .. } | Kind::NoRow(_) | Kind::WrongHolder { .. }
            ) =>
        {
            None
        }
        Err(e) => Some(e),
    };
    match failed {
        None => {
            note(&format!(
                "cannot write to stdout: {why}; released {lock} again, so it is not held by {}",
                shown(&holder)
            ));
            exit::FAILURE
        }
        Some(err) => {
            note(&format!(
                "cannot write to stdout: {why}; {lock} must not stay held unknown to the caller"
            ));
            eprint!("{}", text::still_held(&row, &name, &holder, &err));
            exit::of(&err)
        }
    }
}
