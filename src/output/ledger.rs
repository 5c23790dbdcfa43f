//! `ledger.parquet` (SPEC §5), the largest output: written row group by row group
//! from typed ledger columns, never as a table of strings — from the run's ledger, or
//! (`koc merge`) from the shards' ledger files, the same batches either way.
use anyhow::Result;
use koc_engine::fmt::{write_day, write_ts};
use koc_engine::model::Dataset;
use koc_engine::parts::ledger::{LedgerColumns, Merged};
use koc_engine::pipeline::plans::RulesPlan;
use koc_engine::stages::points::{rule_ids, Points};
use polars::prelude::*;

/// Rows per Parquet row group of the ledger (polars' default), and per batch built.
pub const LEDGER_BATCH: usize = 512 * 512;

/// Batches built at once, each as a task on all cores, then written in order by
/// polars' writer (the ledger is the largest output). From the shards' files, this
/// many more may wait decoded in the reader's channel, and one in the reader.
const BATCHES_AT_ONCE: usize = 4;

/// Where the ledger's rows come from.
pub enum LedgerSource<'a> {
    /// The run's own ledger and the events it points at.
    Computed(&'a Dataset, &'a Points),
    /// The shards' ledger files, merged in member order (`koc merge`).
    Parts(Merged),
}

/// Write `ledger.parquet` a few batches at a time, one row group per batch, with
/// polars' own writer (its encodings and statistics, Snappy pages). Returns the number
/// of rows.
pub fn write_ledger(rules: Option<&RulesPlan>, source: LedgerSource, path: &std::path::Path) -> Result<usize> {
    use rayon::prelude::*;
    let failed = |e: PolarsError| anyhow::anyhow!("cannot write {}: {e}", path.display());
    let file = std::fs::File::create(path).map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))?;
    let ids = rule_ids(rules);
    let first = ledger_frame(&ids, &LedgerColumns::default())?;
    // Snappy: polars' writer compresses every page on the writing thread, and zstd took
    // seconds of a 20 M-event run there; every Parquet reader knows Snappy
    let mut writer = ParquetWriter::new(file)
        .with_compression(ParquetCompression::Snappy)
        .batched(first.schema())
        .map_err(failed)?;
    let mut rows = 0;
    match source {
        LedgerSource::Computed(ds, pts) => {
            for window in pts.ledger.chunks(LEDGER_BATCH * BATCHES_AT_ONCE) {
                let frames: Vec<DataFrame> = window
                    .par_chunks(LEDGER_BATCH)
                    .map(|chunk| ledger_frame(&ids, &LedgerColumns::of(ds, chunk)))
                    .collect::<Result<_>>()?;
                for frame in &frames {
                    writer.write_batch(frame).map_err(failed)?;
                }
            }
            rows = pts.ledger.len();
        }
        LedgerSource::Parts(mut merged) => {
            // the shards' files are decoded and merged on a thread of their own, up to
            // BATCHES_AT_ONCE batches ahead of the frames built and written here
            let (tx, batches) = std::sync::mpsc::sync_channel::<LedgerColumns>(BATCHES_AT_ONCE);
            std::thread::scope(|scope| -> Result<()> {
                let reader = scope.spawn(move || -> Result<()> {
                    while let Some(batch) = merged.next_batch()? {
                        if tx.send(batch).is_err() {
                            break; // the writer stopped on an error of its own
                        }
                    }
                    Ok(())
                });
                let written = (|| -> Result<()> {
                    // a few batches' frames built at once on all cores, written in order
                    let mut arrived = batches.iter().peekable();
                    while arrived.peek().is_some() {
                        let window: Vec<LedgerColumns> = arrived.by_ref().take(BATCHES_AT_ONCE).collect();
                        let frames: Vec<DataFrame> = window
                            .par_iter()
                            .map(|batch| ledger_frame(&ids, batch))
                            .collect::<Result<_>>()?;
                        for (batch, frame) in window.iter().zip(&frames) {
                            rows += batch.len();
                            writer.write_batch(frame).map_err(failed)?;
                        }
                    }
                    Ok(())
                })();
                // a failed write drops the receiver, which stops the reader
                drop(batches);
                let read = reader
                    .join()
                    .map_err(|_| anyhow::anyhow!("the ledger's reader panicked"))?;
                written.and(read)
            })?;
        }
    }
    writer.finish().map_err(failed)?;
    Ok(rows)
}

/// Ledger rows as the file's columns (no per-cell strings beyond the ids).
fn ledger_frame(ids: &std::collections::HashMap<usize, String>, l: &LedgerColumns) -> Result<DataFrame> {
    use rayon::prelude::*;
    // straight from the typed columns into Arrow builders, one column per core
    let text = |name: &str, n: usize, f: &(dyn Fn(usize, &mut [u8; 19]) -> usize + Sync)| -> Column {
        let mut b = StringChunkedBuilder::new(name.into(), n);
        let mut buf = [0u8; 19];
        for i in 0..n {
            let len = f(i, &mut buf);
            b.append_value(std::str::from_utf8(&buf[..len]).expect("ASCII"));
        }
        b.finish().into_column()
    };
    let n = l.len();
    let build = |k: usize| -> Column {
        match k {
            0 => Column::new("event_id".into(), l.event_ids().collect::<Vec<&str>>()),
            1 => Column::new("member_id".into(), l.member_ids().collect::<Vec<&str>>()),
            2 => text("occurred_at", n, &|i, buf| write_ts(buf, l.ts[i]).len()),
            3 => text("date", n, &|i, buf| {
                let mut d = [0u8; 10];
                write_day(&mut d, l.day[i]);
                buf[..10].copy_from_slice(&d);
                10
            }),
            4 => Column::new(
                "rule_id".into(),
                l.rule.iter().map(|r| ids[&(*r as usize)].as_str()).collect::<Vec<_>>(),
            ),
            5 => Column::new("raw_points".into(), l.raw.clone()),
            6 => Column::new("awarded_points".into(), l.awarded.clone()),
            _ => Column::new(
                "capped_by".into(),
                l.capped_by.iter().map(|c| c.map(|c| c.as_str())).collect::<Vec<_>>(),
            ),
        }
    };
    let cols: Vec<Column> = (0..8).into_par_iter().map(build).collect();
    Ok(DataFrame::new(n, cols)?)
}
