//! The event partitions split among the shards of one process (`koc run
//! --memory-budget`, docs/scale-out.md): each month is read once and its rows go to
//! one file per shard, so a shard then reads its members' rows only. Reading every
//! month in every shard cost the whole history's decoding once per shard (about 45 s
//! per shard at 200 M events); this costs it once, plus writing it back.
use crate::fmt::Day;
use crate::shard::shard_of;
use crate::store::{Manifest, Store};
use anyhow::Result;
use polars::prelude::*;
use rayon::prelude::*;

/// Rows of a month decoded at a time while it is split (about 250 MB of polars frame;
/// four million rows at a time took as long at 200 M events and peaked 1 GB higher).
const SLICE_ROWS: usize = 1 << 20;

/// Split the months up to D's into `count` shards' partitions under `rel_dir` (a folder
/// of the store, named like the store's own files by their checksums). Returns, per
/// shard, the manifest whose events are that shard's partitions (a month without any
/// of its members is left out); the rows keep their partition order and only the days
/// up to D are kept.
pub fn split_events(
    store: &Store,
    manifest: &Manifest,
    as_of: Day,
    count: u64,
    rel_dir: &str,
) -> Result<Vec<Manifest>> {
    let mut shards: Vec<Manifest> = (0..count)
        .map(|_| Manifest {
            events: Default::default(),
            ..manifest.clone()
        })
        .collect();
    let last_month = crate::fmt::fmt_day(as_of)[..7].to_string();
    let mut timer = crate::timing::Timer::new();
    for (month, rel) in manifest.events.iter().filter(|(month, _)| **month <= last_month) {
        let parts = split_month(store, rel, as_of, count)?;
        let written: Vec<Option<String>> = parts
            .into_par_iter()
            .enumerate()
            .map(|(s, bytes)| -> Result<Option<String>> {
                let dir = format!("{rel_dir}/shard-{s}/month={month}");
                bytes.map(|b| store.write_parquet_bytes(&dir, "part", &b)).transpose()
            })
            .collect::<Result<_>>()?;
        for (shard, rel) in shards.iter_mut().zip(written) {
            if let Some(rel) = rel {
                shard.events.insert(month.clone(), rel);
            }
        }
        timer.lap(&format!("split: {month}"));
    }
    Ok(shards)
}

/// One stored month as each shard's Parquet bytes (None: no row of that shard), read
/// and written a slice of rows at a time. The next slice is decoded on a thread of its
/// own while this one is encoded, on all cores, into the shards' files.
fn split_month(store: &Store, rel: &str, as_of: Day, count: u64) -> Result<Vec<Option<Vec<u8>>>> {
    let mut buffers: Vec<Vec<u8>> = (0..count).map(|_| Vec::new()).collect();
    let mut rows = vec![0usize; count as usize];
    std::thread::scope(|scope| -> Result<()> {
        let (tx, slices) = std::sync::mpsc::sync_channel::<DataFrame>(1);
        let reader = scope.spawn(move || -> Result<()> {
            store.frames_in_slices(rel, SLICE_ROWS, &mut |df| {
                // a closed channel: the splitter stopped on an error of its own
                tx.send(df).map_err(|_| anyhow::anyhow!("the split stopped"))
            })
        });
        let split = (|| -> Result<()> {
            let mut writers: Vec<polars::io::parquet::write::BatchedWriter<&mut Vec<u8>>> = Vec::new();
            for df in slices.iter() {
                let shard_of_row = shard_of_rows(&df, as_of, count)?;
                if writers.is_empty() {
                    let schema = df.schema().clone();
                    writers = buffers
                        .iter_mut()
                        .map(|out| crate::store::parquet::batched(out, &crate::store::parquet::PARTITION, &schema))
                        .collect::<Result<_>>()?;
                }
                // each shard's rows of the slice encoded on all cores
                writers
                    .par_iter_mut()
                    .zip(rows.par_iter_mut())
                    .enumerate()
                    .try_for_each(|(s, (w, n))| -> Result<()> {
                        let mask: BooleanChunked = shard_of_row.iter().map(|x| *x == s as u64).collect();
                        let piece = df.filter(&mask)?;
                        if piece.height() > 0 {
                            *n += piece.height();
                            w.write_batch(&piece)?;
                        }
                        Ok(())
                    })?;
            }
            for w in &writers {
                w.finish()?;
            }
            Ok(())
        })();
        // an error here drops the receiver, which stops the reader
        drop(slices);
        let read = reader
            .join()
            .map_err(|_| anyhow::anyhow!("the split's reader panicked"))?;
        // the split's own error first: the reader's "the split stopped" only follows it
        split.and(read)
    })?;
    Ok(buffers
        .into_iter()
        .zip(rows)
        .map(|(bytes, n)| (n > 0).then_some(bytes))
        .collect())
}

/// Each row's shard, or `count` (no shard) for a row after D. A member's shard is
/// worked out once per slice.
fn shard_of_rows(df: &DataFrame, as_of: Day, count: u64) -> Result<Vec<u64>> {
    let ids = df.column("member_id")?.str()?;
    let days: Vec<Day> = df
        .column("occurred_at")?
        .cast(&DataType::Int64)?
        .i64()?
        .iter()
        .map(|t| crate::fmt::day_of_ts(t.unwrap_or(0) / 1000))
        .collect();
    let mut known: super::events::FastMap<&str, u64> = Default::default();
    Ok(ids
        .iter()
        .zip(days)
        .map(|(id, day)| match day <= as_of {
            true => {
                let id = id.unwrap_or("");
                *known.entry(id).or_insert_with(|| shard_of(id, count))
            }
            false => count,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each row goes to its member's shard (`shard_of`), a row after D to none.
    #[test]
    fn rows_go_to_their_members_shards() {
        // an hour into each day (UTC), in milliseconds as partitions hold them
        let ms = |m: u32, d: u32| crate::fmt::days_from_civil(2025, m, d) as i64 * 86_400_000 + 3_600_000;
        let members = ["M0001", "M0002", "M0001", "M0003"];
        let times = [ms(1, 1), ms(1, 2), ms(1, 31), ms(2, 1)];
        let df = DataFrame::new(
            4,
            vec![
                Column::new("member_id".into(), members.to_vec()),
                Column::new("occurred_at".into(), times.to_vec())
                    .cast(&DataType::Datetime(TimeUnit::Milliseconds, None))
                    .unwrap(),
            ],
        )
        .unwrap();
        let as_of = crate::fmt::days_from_civil(2025, 1, 31);
        let shards = shard_of_rows(&df, as_of, 7).unwrap();
        let expected: Vec<u64> = vec![shard_of("M0001", 7), shard_of("M0002", 7), shard_of("M0001", 7), 7];
        assert_eq!(shards, expected);
        // M0001 is in shard 5 of 7 (docs/scale-out.md)
        assert_eq!(shards[0], 5);
    }
}
