//! How `locks dump` prints what it read: warnings about damaged rows on
//! stderr, then a table, JSON or the Prometheus text format (the one
//! output that reads the migrations too). `watch` prints through it when
//! there is no terminal.

use super::super::ctx::Ctx;
use super::super::exit;
use super::super::output::{self, dump, note, out, out_json, Format};
use super::super::signals::GRACE;
use crate::db::Deadline;
use crate::error::{Kind, Result};
use crate::locks::{LockData, Snapshot};
use crate::shown::{shown, shown_id};

/// Prints a snapshot as `locks dump` does (and `locks watch` without a
/// terminal): warnings about the rows on stderr, then the table (with the
/// waiters and deadlocks when asked) or the JSON document.
pub(in crate::cli) fn print_dump(snap: &Snapshot, format: Format, waiters: bool) -> Result<()> {
    if snap.registry.is_none() {
        note("note: the holder registry (table `locks_holders`) is not there or this account may not read it, so every holder's liveness is unknown; `locksmith migrate up` creates it");
    }
    for s in &snap.rows {
        match (&s.data, s.problem()) {
            (LockData::Raw { .. }, _) => note(&format!(
                "warning: row `{}` holds data that is not a JSON object; shown raw",
                shown_id(&s.id)
            )),
            (_, Some(what)) => note(&format!(
                "warning: row `{}`: {}; `locksmith locks repair {}` mends it",
                shown_id(&s.id),
                shown(&what),
                shown_id(&s.id)
            )),
            _ => {}
        }
    }
    let doc = output::Dump::of(snap);
    match (format, waiters) {
        (Format::Table, false) => out(&format!("{}\n", dump::dump_table(&doc))),
        (Format::Table, true) => out(&format!(
            "{}\n{}",
            dump::dump_table(&doc),
            dump::waiters_table(&doc)
        )),
        (Format::Json, _) => out_json(&doc),
    }
}

/// `locks dump --format prometheus`: one read of the locks and the
/// migrations, within `--timeout`, as the metrics of `locksmith serve`
/// (for node_exporter's textfile collector). A read that fails fails the
/// command: a textfile is replaced only by a whole read.
pub(super) async fn prometheus(
    ctx: &Ctx,
    probe: Option<crate::liveness::Probe>,
    opts: output::metrics::MetricsOptions,
    rows: Vec<String>,
) -> Result<u8> {
    let mut reader = crate::cli::scrape::Reader::new(ctx.url.clone(), ctx.connect(), probe, rows);
    let started = std::time::Instant::now();
    let read = ctx.stop.guard(reader.read(ctx.deadline())).await;
    let took = started.elapsed();
    reader.close(Deadline::after(GRACE)).await;
    let reading = read?;
    let meta = output::metrics::ScrapeMeta { took, errors: None };
    let text = output::metrics::exposition(Some(&reading), &meta, &opts)
        .map_err(|_| Kind::Internal("the metrics could not be written".into()))?;
    out(&text)?;
    Ok(exit::OK)
}
