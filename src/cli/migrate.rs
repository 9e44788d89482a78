//! `locksmith migrate up|down|status`.

use super::args::{GuardOpts, MigrateCmd};
use super::ctx::Ctx;
use super::exit;
use super::output::{self, note, out, out_json, tables, text, Format, WaitLine};
use crate::db::Deadline;
use crate::error::{Kind, Result};
use crate::locks::AuditInfo;
use crate::migrate::guard::DEFAULT_TTL;
use crate::migrate::mark::markable;
use crate::migrate::{DownOptions, DownTo, MarkOptions, MigrationSet, Migrator, State, UpOptions};

/// Connects within `--timeout` (a signal stops it), runs `f` with the
/// migrator, and closes it (within `--timeout`) whatever `f` returned.
async fn connected<T>(ctx: &Ctx, f: impl AsyncFnOnce(&Migrator) -> Result<T>) -> Result<T> {
    let m = ctx
        .stop
        .guard(Migrator::connect_until(
            &ctx.url,
            &ctx.connect(),
            ctx.deadline(),
        ))
        .await?;
    let result = f(&m).await;
    let _ = m.close(ctx.deadline()).await;
    result
}

pub(super) async fn run(ctx: &Ctx, cmd: MigrateCmd) -> Result<u8> {
    let stop = &ctx.stop;
    match cmd {
        MigrateCmd::Up {
            conn: _,
            format,
            source,
            guard,
            target,
            dry_run,
        } => {
            let set = source.set(ctx.timeout)?;
            let opts = UpOptions {
                target,
                dry_run,
                lock_timeout: guard.lock_timeout,
                lease_ttl: guard.lease_ttl,
            };
            let result = connected(ctx, async |m| {
                let mut line = WaitLine::new();
                let result = stop
                    .guard(m.up(&set, &opts, |h| line.say(&text::guard_wait(h))))
                    .await;
                line.done();
                result
            })
            .await;
            match result {
                Ok(report) => {
                    if let Some(h) = &report.took_over {
                        note(&text::took_over(h));
                    }
                    let printed = match format.format {
                        Format::Json => out_json(&output::UpDoc::new(&report, dry_run)),
                        Format::Table => out(&text::up(&report, dry_run)),
                    };
                    match dry_run || report.steps.is_empty() {
                        true => printed?,
                        false => output::reported(printed, &text::up(&report, false))?,
                    }
                }
                Err(e) => {
                    if let (Kind::MigrationFailed { applied, .. }, Format::Table) =
                        (e.kind(), format.format)
                    {
                        out(&text::applied_before_failure(applied))?;
                    }
                    return Err(e);
                }
            }
        }
        MigrateCmd::Down {
            conn: _,
            format,
            source,
            guard,
            target,
            all,
            dry_run,
            force,
        } => {
            let set = source.set(ctx.timeout)?;
            let to = match (target, all) {
                (Some(v), _) => DownTo::Version(v),
                (None, true) => DownTo::All,
                (None, false) => DownTo::One,
            };
            let opts = DownOptions {
                to,
                dry_run,
                force,
                lock_timeout: guard.lock_timeout,
                lease_ttl: guard.lease_ttl,
            };
            let report = connected(ctx, async |m| {
                let mut line = WaitLine::new();
                let result = stop
                    .guard(m.down(&set, &opts, |h| line.say(&text::guard_wait(h))))
                    .await;
                line.done();
                result
            })
            .await?;
            let printed = match format.format {
                Format::Json => out_json(&output::DownDoc::new(&report, dry_run)),
                Format::Table => out(&text::down(&report, dry_run)),
            };
            match dry_run || report.rolled_back.is_empty() {
                true => printed?,
                false => output::reported(printed, &text::down(&report, false))?,
            }
        }
        MigrateCmd::Status {
            conn: _,
            source,
            format,
            check,
        } => {
            let set = source.set(ctx.timeout)?;
            let d = ctx.deadline();
            let seen = stop
                .guard(async {
                    let m = Migrator::connect_until(&ctx.url, &ctx.connect(), d).await?;
                    let seen = m.until(d).observe(&set, DEFAULT_TTL).await;
                    let _ = m.close(d).await;
                    seen
                })
                .await?;
            let list = crate::migrate::status(&set, &seen);
            match format.format {
                Format::Table => {
                    let mut t = format!("{}\n", tables::status_table(&list));
                    t.push_str(&text::status_notes(&list));
                    if let Some(h) = &seen.guard.holder {
                        t.push_str(&text::guard_line(h));
                    }
                    out(&t)?
                }
                Format::Json => out_json(&output::StatusDoc {
                    migrations: list.iter().map(Into::into).collect(),
                    guard: seen.guard.holder.as_ref().map(Into::into),
                })?,
            }
            let off: Vec<String> = list
                .iter()
                .filter(|s| s.state != State::Applied)
                .map(|s| format!("{} is {}", s.label(), s.state.label()))
                .collect();
            if check && !off.is_empty() {
                return Err(Kind::NotCurrent(off.join(", ")).into());
            }
        }
        MigrateCmd::MarkApplied {
            conn: _,
            format,
            source,
            guard,
            version,
            dry_run,
            yes,
            force,
        } => {
            let set = source.set(ctx.timeout)?;
            let how = Mark {
                version,
                dry_run,
                yes,
                force,
                json: format.format == Format::Json,
            };
            connected(ctx, async |m| {
                mark_applied(ctx, m, &set, &guard, &how).await
            })
            .await?;
        }
    }
    Ok(exit::OK)
}

/// What `mark-applied` was asked to do.
struct Mark {
    version: i32,
    dry_run: bool,
    yes: bool,
    force: bool,
    json: bool,
}

/// `migrate mark-applied`: look, show, ask, record.
async fn mark_applied(
    ctx: &Ctx,
    m: &Migrator,
    set: &MigrationSet,
    guard: &GuardOpts,
    how: &Mark,
) -> Result<()> {
    let version = how.version;
    let stop = &ctx.stop;
    let seen = stop
        .guard(m.until(ctx.deadline()).observe(set, guard.lease_ttl))
        .await?;
    let s = markable(set, &crate::migrate::status(set, &seen), version, how.force)?;
    let checksum = set
        .migrations()
        .iter()
        .find(|m| m.version() == version)
        .map(|m| m.checksum())
        .unwrap_or_default();
    let plan = text::mark_plan(&s, checksum);
    if how.dry_run && how.json {
        return out_json(&output::MarkDoc {
            dry_run: true,
            migration: output::docs::MigrationRef {
                version,
                label: s.label(),
            },
            checksum: checksum.to_string(),
            state_before: s.state.label().into(),
            audited: seen.live.tables.contains_key("locks_audit"),
        });
    }
    if how.dry_run {
        return out(&format!("{plan}Dry run: nothing was changed.\n"));
    }
    if !how.yes {
        super::ctx::ask(stop, plan).await?;
    }
    let opts = MarkOptions {
        version,
        lock_timeout: guard.lock_timeout,
        lease_ttl: guard.lease_ttl,
        audit: AuditInfo::new("mark-applied", super::ctx::audit_command()),
        force: how.force,
    };
    let mut line = WaitLine::new();
    let d = Deadline::after(ctx.timeout + guard.lock_timeout);
    let done = stop
        .guard(
            m.until(d)
                .mark_applied(set, &opts, |h| line.say(&text::guard_wait(h))),
        )
        .await;
    line.done();
    let done = done?;
    let printed = match how.json {
        true => out_json(&output::MarkDoc::new(&done, version)),
        false => out(&text::marked(&done)),
    };
    output::reported(printed, &text::marked(&done))
}
