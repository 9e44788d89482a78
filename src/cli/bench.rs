//! `locksmith bench`.

use super::args::BenchArgs;
use super::output::{note, out, out_json, tables, Format};
use crate::error::{exit, Result};

pub(super) async fn run(args: BenchArgs) -> Result<u8> {
    let report = crate::bench::run(&args.conn.parse_url()?, &args.options()).await?;
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
