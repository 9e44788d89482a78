//! `locksmith bench`: measure, print, and remove the scratch row whatever
//! happens (a signal stops the workers first).

use super::args::BenchArgs;
use super::ctx::Ctx;
use super::output::{note, out, out_json, tables, text, Format, Progress};
use super::signals::GRACE;
use crate::bench::Bench;
use crate::db::deadline::{grace, within};
use crate::error::{exit, Result};

pub(super) async fn run(ctx: &Ctx, args: BenchArgs) -> Result<u8> {
    let url = ctx.url.clone();
    let bench = ctx
        .stop
        .guard(within(
            ctx.timeout,
            Bench::start(&url, &args.options(), &ctx.connect()),
        ))
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
    if let Err(e) = grace(limit, bench.finish()).await {
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
