//! `locksmith bench`: measure, print, and remove the scratch row whatever
//! happens (a signal stops the workers first).

use super::args::BenchArgs;
use super::ctx::Ctx;
use super::exit;
use super::output::{note, out, out_json, tables, text, Format, Progress};
use super::signals::GRACE;
use crate::bench::Bench;
use crate::db::Deadline;
use crate::error::{Kind, Result};

pub(super) async fn run(ctx: &Ctx, args: BenchArgs) -> Result<u8> {
    let url = ctx.url.clone();
    let (options, connect) = (args.options(), ctx.connect());
    let start = Bench::start(&url, &options, &connect);
    let bench = ctx
        .stop
        .guard(async {
            ctx.deadline().run(start).await.unwrap_or_else(|| {
                Err(Kind::TimedOut {
                    after: ctx.timeout,
                    what: "connecting the bench's workers and filling its row".into(),
                }
                .into())
            })
        })
        .await?;
    let mut line = Progress::new();
    let report = ctx
        .stop
        .guard(bench.measure_with(|p| line.say(&text::bench_phase(&p))))
        .await;
    line.done();
    let row = bench.row().to_string();
    // After a signal the clean-up gets the grace period, else --timeout.
    let limit = match ctx.stop.received() {
        Some(_) => GRACE,
        None => ctx.timeout,
    };
    let finished = Deadline::after(limit).run(bench.finish()).await;
    let finished = finished.unwrap_or_else(|| {
        Err(Kind::TimedOut {
            after: limit,
            what: "removing the scratch row".into(),
        }
        .into())
    });
    if let Err(e) = finished {
        note(&format!(
            "warning: could not remove the scratch row `{row}`: {e}\nlocksmith: hint: remove it with `DELETE FROM locks WHERE id = '{row}'`"
        ));
    }
    let report = report?;
    match args.format.format {
        Format::Json => out_json(&report)?,
        Format::Table => out(&format!("{}\n", tables::bench_table(&report)))?,
    }
    for p in &report.problems {
        note(&format!("bench check: {p}"));
    }
    report.check()?;
    Ok(exit::OK)
}
