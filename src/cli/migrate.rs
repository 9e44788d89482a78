//! `locksmith migrate up|down|status`.

use super::args::MigrateCmd;
use super::output::{self, out, out_json, tables, text, Format};
use super::Ctx;
use crate::db::deadline::within;
use crate::error::{exit, Kind, Result};
use crate::migrate::{DownOptions, DownTo, Migrator, State, UpOptions};

pub(super) async fn run(ctx: &Ctx, cmd: MigrateCmd) -> Result<u8> {
    let stop = &ctx.stop;
    match cmd {
        MigrateCmd::Up {
            conn,
            source,
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
                lock_timeout: source.lock_timeout,
            };
            let result = stop.guard(m.up(&set, &opts)).await;
            let _ = within(ctx.timeout, m.close()).await;
            match result {
                Ok(report) => out(&text::up(&report, dry_run))?,
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
                lock_timeout: source.lock_timeout,
            };
            let result = stop.guard(m.down(&set, &opts)).await;
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
            let applied = stop
                .guard(within(ctx.timeout, async {
                    let m = Migrator::connect(&url, &ctx.connect()).await?;
                    let applied = m.applied().await;
                    let _ = m.close().await;
                    applied
                }))
                .await?;
            let list = crate::migrate::status(&set, &applied);
            match format.format {
                Format::Table => out(&format!("{}\n", tables::status_table(&list)))?,
                Format::Json => out_json(&output::StatusDoc {
                    migrations: list.iter().map(Into::into).collect(),
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
