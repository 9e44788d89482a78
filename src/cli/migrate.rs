//! `locksmith migrate up|down|status`.

use super::args::MigrateCmd;
use super::output::{self, note, out, out_json, tables, text, Format, WaitLine};
use super::Ctx;
use crate::db::deadline::within;
use crate::error::{exit, Kind, Result};
use crate::migrate::guard::DEFAULT_TTL;
use crate::migrate::{DownOptions, DownTo, Migrator, State, UpOptions};

pub(super) async fn run(ctx: &Ctx, cmd: MigrateCmd) -> Result<u8> {
    let stop = &ctx.stop;
    match cmd {
        MigrateCmd::Up {
            conn,
            source,
            guard,
            target,
            dry_run,
        } => {
            let set = source.set()?;
            let url = conn.parse_url()?;
            let m = stop
                .guard(within(ctx.timeout, Migrator::connect(&url, &ctx.connect())))
                .await?;
            let opts = UpOptions {
                target,
                dry_run,
                lock_timeout: guard.lock_timeout,
                lease_ttl: guard.lease_ttl,
            };
            let mut line = WaitLine::new();
            let result = stop
                .guard(m.up(&set, &opts, |h| line.say(&text::guard_wait(h))))
                .await;
            line.done();
            let _ = within(ctx.timeout, m.close()).await;
            match result {
                Ok(report) => {
                    if let Some(h) = &report.took_over {
                        note(&text::took_over(h));
                    }
                    out(&text::up(&report, dry_run))?
                }
                Err(e) => {
                    if let Kind::MigrationFailed { applied, .. } = e.kind() {
                        out(&text::applied_before_failure(applied))?;
                    }
                    return Err(e);
                }
            }
        }
        MigrateCmd::Down {
            conn,
            source,
            guard,
            target,
            all,
            dry_run,
            force,
        } => {
            let set = source.set()?;
            let to = match (target, all) {
                (Some(v), _) => DownTo::Version(v),
                (None, true) => DownTo::All,
                (None, false) => DownTo::One,
            };
            let url = conn.parse_url()?;
            let m = stop
                .guard(within(ctx.timeout, Migrator::connect(&url, &ctx.connect())))
                .await?;
            let opts = DownOptions {
                to,
                dry_run,
                force,
                lock_timeout: guard.lock_timeout,
                lease_ttl: guard.lease_ttl,
            };
            let mut line = WaitLine::new();
            let result = stop
                .guard(m.down(&set, &opts, |h| line.say(&text::guard_wait(h))))
                .await;
            line.done();
            let _ = within(ctx.timeout, m.close()).await;
            out(&text::down(&result?, dry_run))?;
        }
        MigrateCmd::Status {
            conn,
            source,
            format,
            check,
        } => {
            let set = source.set()?;
            let url = conn.parse_url()?;
            let (applied, guard) = stop
                .guard(within(ctx.timeout, async {
                    let m = Migrator::connect(&url, &ctx.connect()).await?;
                    let applied = m.applied().await;
                    let guard = m.guard(DEFAULT_TTL).await;
                    let _ = m.close().await;
                    Ok::<_, crate::Error>((applied?, guard?))
                }))
                .await?;
            let list = crate::migrate::status(&set, &applied);
            match format.format {
                Format::Table => {
                    let mut t = format!("{}\n", tables::status_table(&list));
                    if let Some(h) = &guard.holder {
                        t.push_str(&text::guard_line(h));
                    }
                    out(&t)?
                }
                Format::Json => out_json(&output::StatusDoc {
                    migrations: list.iter().map(Into::into).collect(),
                    guard: guard.holder.as_ref().map(Into::into),
                })?,
            }
            let off: Vec<String> = list
                .iter()
                .filter(|s| s.state != State::Applied)
                .map(|s| format!("V{}__{} is {}", s.version, s.name, s.state.label()))
                .collect();
            if check && !off.is_empty() {
                return Err(Kind::NotCurrent(off.join(", ")).into());
            }
        }
    }
    Ok(exit::OK)
}
