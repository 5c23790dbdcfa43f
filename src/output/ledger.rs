//! `ledger.parquet` (SPEC §5), the largest output: written row group by row group
//! from typed ledger columns, never as a table of strings — from the run's ledger, or
//! (`koc merge`) from the shards' ledger files, the same batches either way.
use anyhow::Result;
use koc_engine::fmt::{write_day, write_ts};
use koc_engine::model::Dataset;
use koc_engine::parts::ledger::{LedgerColumns, Merged};
use koc_engine::pipeline::plans::RulesPlan;
use koc_engine::stages::points::{rule_ids, Points};
use polars::io::parquet::write::RowGroupIterColumns;
use polars::prelude::*;

/// Rows per Parquet row group of the ledger (polars' default), and per batch built.
pub const LEDGER_BATCH: usize = 512 * 512;

/// Batches built at once, each as a task on all cores, then handed to the writer
/// thread in order. In memory at most: this many being built, as many encoded row
/// groups waiting for the writer (they keep their frames' columns) and one being
/// written; from the shards' files, as many more decoded in the reader's channel and
/// one in the reader.
const BATCHES_AT_ONCE: usize = 4;

/// Where the ledger's rows come from.
pub enum LedgerSource<'a> {
    /// The run's own ledger and the events it points at.
    Computed(&'a Dataset, &'a Points),
    /// The shards' ledger files, merged in member order (`koc merge`).
    Parts(Merged),
}

/// Write `ledger.parquet` a few batches at a time, one row group per batch, with
/// polars' own encodings and statistics and Snappy pages. Returns the number of rows.
///
/// Three kinds of work overlap: (from the shards' files) a reader decodes and merges
/// the next batches; all cores build a window of batches' frames and start their
/// encoding (polars builds the dictionaries there, most of the cost); a writer thread
/// encodes the plain pages, compresses every page and appends the row groups in order.
pub fn write_ledger(rules: Option<&RulesPlan>, source: LedgerSource, path: &std::path::Path) -> Result<usize> {
    use rayon::prelude::*;
    let failed = |e: PolarsError| anyhow::anyhow!("cannot write {}: {e}", path.display());
    let file = std::fs::File::create(path).map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))?;
    let ids = rule_ids(rules);
    let first = ledger_frame(&ids, &LedgerColumns::default())?;
    // Snappy: every Parquet reader knows it, and zstd cost seconds of a 20 M-event run
    let writer = ParquetWriter::new(file)
        .with_compression(ParquetCompression::Snappy)
        .batched(first.schema())
        .map_err(failed)?;
    let writer = &writer;
    let encode = |frame: DataFrame| -> Result<Vec<RowGroupIterColumns<'static, PolarsError>>> {
        Ok(writer.encode_and_compress(&frame).collect::<PolarsResult<_>>()?)
    };
    let rows = std::thread::scope(|scope| -> Result<usize> {
        let (to_disk, encoded) =
            std::sync::mpsc::sync_channel::<Vec<RowGroupIterColumns<'static, PolarsError>>>(BATCHES_AT_ONCE);
        let disk = scope.spawn(move || -> PolarsResult<()> {
            for groups in encoded {
                writer.write_row_groups(groups)?;
            }
            Ok(())
        });
        let mut rows = 0;
        // a window's row groups, handed to the writer in order
        let hand_over = |groups: Vec<Vec<RowGroupIterColumns<'static, PolarsError>>>| -> bool {
            groups.into_iter().all(|g| to_disk.send(g).is_ok())
        };
        let built = (|| -> Result<()> {
            match source {
                LedgerSource::Computed(ds, pts) => {
                    for window in pts.ledger.chunks(LEDGER_BATCH * BATCHES_AT_ONCE) {
                        let groups = window
                            .par_chunks(LEDGER_BATCH)
                            .map(|chunk| encode(ledger_frame(&ids, &LedgerColumns::of(ds, chunk))?))
                            .collect::<Result<_>>()?;
                        rows += window.len();
                        if !hand_over(groups) {
                            break; // the writer stopped on an error of its own
                        }
                    }
                    Ok(())
                }
                LedgerSource::Parts(merged) => read_parts(merged, |window| {
                    let groups = window
                        .par_iter()
                        .map(|batch| encode(ledger_frame(&ids, batch)?))
                        .collect::<Result<_>>()?;
                    rows += window.iter().map(LedgerColumns::len).sum::<usize>();
                    Ok(hand_over(groups))
                }),
            }
        })();
        // a failed build drops the sender, which stops the writer
        drop(to_disk);
        let written = disk
            .join()
            .map_err(|_| anyhow::anyhow!("the ledger's writer panicked"))?;
        built?;
        written.map_err(failed)?;
        Ok(rows)
    })?;
    writer.finish().map_err(failed)?;
    Ok(rows)
}

/// The shards' ledger files, merged in member order on a thread of their own, handed
/// to `take` BATCHES_AT_ONCE batches at a time while the reader works ahead; `take`
/// says whether to go on.
fn read_parts(mut merged: Merged, mut take: impl FnMut(Vec<LedgerColumns>) -> Result<bool>) -> Result<()> {
    let mut window = Vec::with_capacity(BATCHES_AT_ONCE);
    let mut going = true;
    koc_engine::read_ahead::read_ahead(
        BATCHES_AT_ONCE,
        |send| {
            while let Some(batch) = merged.next_batch()? {
                send(batch)?;
            }
            Ok(())
        },
        |batch| {
            window.push(batch);
            if window.len() == BATCHES_AT_ONCE {
                going = take(std::mem::take(&mut window))?;
            }
            Ok(going)
        },
    )?;
    if going && !window.is_empty() {
        take(window)?;
    }
    Ok(())
}

/// Ledger rows as the file's columns (no per-cell strings beyond the ids).
fn ledger_frame(ids: &std::collections::HashMap<usize, String>, l: &LedgerColumns) -> Result<DataFrame> {
    use rayon::prelude::*;
    let n = l.len();
    // the rules' ids by their index (rule_ids numbers them 0, 1, …)
    let rule_names: Vec<&str> = (0..ids.len()).map(|i| ids[&i].as_str()).collect();
    // straight from the typed columns into Arrow builders, one column per core
    let build = |k: usize| -> Column {
        match k {
            0 => Column::new("event_id".into(), l.event_ids().collect::<Vec<&str>>()),
            1 => Column::new("member_id".into(), l.member_ids().collect::<Vec<&str>>()),
            2 => {
                let mut b = StringChunkedBuilder::new("occurred_at".into(), n);
                let mut buf = [0u8; 19];
                for &ts in &l.ts[..n] {
                    b.append_value(write_ts(&mut buf, ts));
                }
                b.finish().into_column()
            }
            3 => {
                // a member's rows come in time order: the day's text is made when it changes
                let mut b = StringChunkedBuilder::new("date".into(), n);
                let (mut buf, mut text, mut shown) = ([0u8; 10], String::new(), None);
                for &day in &l.day[..n] {
                    if shown != Some(day) {
                        text.clear();
                        text.push_str(write_day(&mut buf, day));
                        shown = Some(day);
                    }
                    b.append_value(&text);
                }
                b.finish().into_column()
            }
            4 => Column::new(
                "rule_id".into(),
                l.rule.iter().map(|r| rule_names[*r as usize]).collect::<Vec<_>>(),
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
