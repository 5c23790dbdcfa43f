//! `ledger.parquet` (SPEC §5), the largest output: written row group by row group
//! straight from the typed ledger, never as a table of strings.
use anyhow::Result;
use koc_engine::fmt::{write_day, write_ts};
use koc_engine::model::Dataset;
use koc_engine::pipeline::plans::RulesPlan;
use koc_engine::stages::points::{rule_ids, LedgerEntry, Points};

/// Rows per Parquet row group of the ledger (polars' default), and per batch built.
const LEDGER_BATCH: usize = 512 * 512;

/// Batches built at once, each as a task on all cores, then written in order by
/// polars' writer; at most this many batches' columns exist at a time (the ledger is
/// the largest output).
const BATCHES_AT_ONCE: usize = 4;

/// Write `ledger.parquet` a few batches at a time, one row group per batch, with
/// polars' own writer (its encodings and statistics, Snappy pages). Returns the number
/// of rows.
pub fn write_ledger(rules: Option<&RulesPlan>, ds: &Dataset, pts: &Points, path: &std::path::Path) -> Result<usize> {
    use polars::prelude::*;
    use rayon::prelude::*;
    let failed = |e: PolarsError| anyhow::anyhow!("cannot write {}: {e}", path.display());
    let file = std::fs::File::create(path).map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))?;
    let first = ledger_batch(rules, ds, &pts.ledger[..0])?;
    // Snappy: polars' writer compresses every page on the writing thread, and zstd took
    // seconds of a 20 M-event run there; every Parquet reader knows Snappy
    let mut writer = ParquetWriter::new(file)
        .with_compression(ParquetCompression::Snappy)
        .batched(first.schema())
        .map_err(failed)?;
    for window in pts.ledger.chunks(LEDGER_BATCH * BATCHES_AT_ONCE) {
        let frames: Vec<DataFrame> = window
            .par_chunks(LEDGER_BATCH)
            .map(|chunk| ledger_batch(rules, ds, chunk))
            .collect::<Result<_>>()?;
        for frame in &frames {
            writer.write_batch(frame).map_err(failed)?;
        }
    }
    writer.finish().map_err(failed)?;
    Ok(pts.ledger.len())
}

/// Ledger entries as columns (no per-cell strings).
fn ledger_batch(rules: Option<&RulesPlan>, ds: &Dataset, l: &[LedgerEntry]) -> Result<polars::prelude::DataFrame> {
    use polars::prelude::*;
    use rayon::prelude::*;
    let ids = rule_ids(rules);
    let ev = &ds.events;
    // straight from the typed columns into Arrow builders, one column per core
    let text = |name: &str, f: &(dyn Fn(&LedgerEntry, &mut [u8; 19]) -> usize + Sync)| -> Column {
        let mut b = StringChunkedBuilder::new(name.into(), l.len());
        let mut buf = [0u8; 19];
        for e in l {
            let n = f(e, &mut buf);
            b.append_value(std::str::from_utf8(&buf[..n]).expect("ASCII"));
        }
        b.finish().into_column()
    };
    let build = |k: usize| -> Column {
        match k {
            0 => Column::new(
                "event_id".into(),
                l.iter().map(|e| ev.id(e.event as usize)).collect::<Vec<_>>(),
            ),
            1 => Column::new(
                "member_id".into(),
                l.iter()
                    .map(|e| ds.members[ev.member(e.event as usize)].id.as_str())
                    .collect::<Vec<_>>(),
            ),
            2 => text("occurred_at", &|e, buf| write_ts(buf, ev.ts[e.event as usize]).len()),
            3 => text("date", &|e, buf| {
                let mut d = [0u8; 10];
                write_day(&mut d, ev.day[e.event as usize]);
                buf[..10].copy_from_slice(&d);
                10
            }),
            4 => Column::new(
                "rule_id".into(),
                l.iter().map(|e| ids[&(e.rule as usize)].as_str()).collect::<Vec<_>>(),
            ),
            5 => Column::new("raw_points".into(), l.iter().map(|e| e.raw).collect::<Vec<_>>()),
            6 => Column::new("awarded_points".into(), l.iter().map(|e| e.awarded).collect::<Vec<_>>()),
            _ => Column::new(
                "capped_by".into(),
                l.iter().map(|e| e.capped_by.map(|c| c.as_str())).collect::<Vec<_>>(),
            ),
        }
    };
    let cols: Vec<Column> = (0..8).into_par_iter().map(build).collect();
    Ok(DataFrame::new(l.len(), cols)?)
}
