//! The event partitions split among the shards of one process (`koc run
//! --memory-budget`, docs/scale-out.md): each month is read once and its rows go to
//! one file per shard, so a shard then reads its members' rows only. Reading every
//! month in every shard cost the whole history's decoding once per shard (about 45 s
//! per shard at 200 M events); this costs it once, plus writing it back.
use super::events::FastMap;
use super::split_cache::{KeptShard, SplitCache};
use crate::fmt::Day;
use crate::shard::shard_of;
use crate::store::{Manifest, Store};
use anyhow::Result;
use polars::prelude::*;
use rayon::prelude::*;

/// Rows of a month decoded at a time while it is split (about 250 MB of polars frame;
/// four million rows at a time took as long at 200 M events and peaked 1 GB higher).
const SLICE_ROWS: usize = 1 << 20;

/// Split the months up to D's among `count` shards. Returns, per shard, the manifest
/// whose events are that shard's partitions (a month without any of its members is
/// left out); the rows keep their partition order, every day of the month included (a
/// shard keeps the days up to D as it reads them). A month split before, for as many
/// shards and from the same stored file, is taken from the store's kept split
/// (`split_cache`). `at_once` months are split at a time (each holds its slices and
/// its shards' files in memory until it is written).
pub fn split_events(
    store: &Store,
    manifest: &Manifest,
    as_of: Day,
    count: u64,
    at_once: usize,
) -> Result<Vec<Manifest>> {
    Ok(split_months(store, manifest, Some(&month_of(as_of)), count, at_once)?.0)
}

/// Lay out every month of the store for `count` shards (`koc ingest --split N` for
/// the tasks of a scheduler, which then read their members' rows only, `kept_split_of`;
/// a budgeted ingest for the shards of the budgeted run), `at_once` months at a time.
/// Returns how many months were split now (the others were kept).
pub fn split_every_month(store: &Store, manifest: &Manifest, count: u64, at_once: usize) -> Result<usize> {
    Ok(split_months(store, manifest, None, count, at_once)?.1)
}

/// What shard `shard` reads when it runs as a task of its own (`koc run --shard`,
/// which writes nothing to the store): each month up to D's from the store's kept split
/// for as many shards when the shard's file there is whole, else the month's own file
/// (the shard then picks its members' rows as it reads).
pub fn kept_split_of(store: &Store, manifest: &Manifest, as_of: Day, shard: crate::shard::Shard) -> KeptSplit {
    let last_month = month_of(as_of);
    let cache = SplitCache::as_it_is(store, shard.count);
    let mut out = KeptSplit {
        manifest: without_events(manifest),
        laid_out: cache.is_some(),
        months: 0,
        not_kept: 0,
        damaged: Vec::new(),
    };
    for (month, rel) in manifest.events.iter().filter(|(month, _)| **month <= last_month) {
        out.months += 1;
        let kept = match &cache {
            Some(c) => c.shard_file(month, rel, shard.index as usize),
            None => KeptShard::NotKept,
        };
        let read = match kept {
            KeptShard::File(file) => Some(file),
            // a month without any of the shard's members is not read at all
            KeptShard::NoRows => None,
            KeptShard::NotKept => {
                out.not_kept += 1;
                Some(rel.clone())
            }
            KeptShard::Damaged(file) => {
                out.damaged.push(file);
                Some(rel.clone())
            }
        };
        if let Some(read) = read {
            out.manifest.events.insert(month.clone(), read);
        }
    }
    out
}

/// What a shard task reads (`kept_split_of`).
pub struct KeptSplit {
    /// The store's manifest with each month's events where the shard reads them.
    pub manifest: Manifest,
    /// Whether the store holds a split for this shard count at all.
    pub laid_out: bool,
    /// The months up to D's, and those of them the split does not hold (read from the
    /// months themselves).
    pub months: usize,
    pub not_kept: usize,
    /// The kept files that are missing or damaged (their months were read instead).
    pub damaged: Vec<String>,
}

/// The store's manifest with no month of events yet (a shard's months go in as they
/// are found).
fn without_events(manifest: &Manifest) -> Manifest {
    Manifest {
        events: Default::default(),
        ..manifest.clone()
    }
}

/// D's month, `YYYY-MM`: the last month a run at D reads.
pub(crate) fn month_of(as_of: Day) -> String {
    crate::fmt::fmt_day(as_of)[..7].to_string()
}

/// Split the months up to `last_month` (every month: None) among `count` shards: each
/// shard's manifest, and how many months were split now (the others were kept).
fn split_months(
    store: &Store,
    manifest: &Manifest,
    last_month: Option<&str>,
    count: u64,
    at_once: usize,
) -> Result<(Vec<Manifest>, usize)> {
    let mut shards: Vec<Manifest> = (0..count).map(|_| without_events(manifest)).collect();
    let cache = SplitCache::open(store, manifest, count)?;
    let wanted = |month: &str| last_month.is_none_or(|last| month <= last);
    let months: Vec<(&String, &String)> = manifest.events.iter().filter(|(month, _)| wanted(month)).collect();
    // a month's decoding is mostly one core's: `at_once` months at a time
    let split = crate::at_once::map_at_once(at_once, months, |(month, rel)| {
        let mut timer = crate::timing::Timer::new();
        let kept = cache.get(month, rel)?;
        let fresh = kept.is_none();
        let files = match kept {
            Some(files) => files,
            None => cache.put(month, rel, split_month(store, rel, count)?)?,
        };
        timer.lap(&format!("split: {month} ({})", if fresh { "split" } else { "kept" }));
        Ok((month, files, fresh))
    })?;
    let mut split_now = 0;
    for (month, files, fresh) in split {
        split_now += usize::from(fresh);
        for (shard, file) in shards.iter_mut().zip(files) {
            if let Some(file) = file {
                shard.events.insert(month.clone(), file);
            }
        }
    }
    Ok((shards, split_now))
}

/// One stored month as each shard's Parquet bytes (None: no row of that shard), read
/// and written a slice of rows at a time. The next slice is decoded on a thread of its
/// own while this one is encoded, on all cores, into the shards' files.
fn split_month(store: &Store, rel: &str, count: u64) -> Result<Vec<Option<Vec<u8>>>> {
    let mut buffers: Vec<Vec<u8>> = (0..count).map(|_| Vec::new()).collect();
    let mut rows = vec![0usize; count as usize];
    let mut writers: Vec<polars::io::parquet::write::BatchedWriter<&mut Vec<u8>>> = Vec::new();
    // the buffers go to the writers with the first slice (its schema is theirs)
    let mut unused = Some(&mut buffers);
    // each member's shard, worked out once per month
    let mut known = Default::default();
    // the next slice is decoded while this one is encoded, no more ahead
    crate::read_ahead::read_ahead(
        0,
        |send| store.frames_in_slices(rel, SLICE_ROWS, &mut |df| send(df)),
        |df| {
            // the slice as it was read is dropped once grouped
            let (df, ends) = grouped_by_shard(&{ df }, count, &mut known)?;
            if let Some(buffers) = unused.take() {
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
                    let start = if s == 0 { 0 } else { ends[s - 1] };
                    let piece = df.slice(start as i64, ends[s] - start);
                    if piece.height() > 0 {
                        *n += piece.height();
                        w.write_batch(&piece)?;
                    }
                    Ok(())
                })?;
            Ok(true)
        },
    )?;
    for w in &writers {
        w.finish()?;
    }
    // the writers borrow the buffers they wrote into
    drop(writers);
    Ok(buffers
        .into_iter()
        .zip(rows)
        .map(|(bytes, n)| (n > 0).then_some(bytes))
        .collect())
}

/// The slice's rows grouped by shard, each shard's in their order (one gather of every
/// column, not a filter per shard), and where each shard's rows end.
fn grouped_by_shard(df: &DataFrame, count: u64, known: &mut FastMap<String, u64>) -> Result<(DataFrame, Vec<usize>)> {
    let shard_of_row = shard_of_rows(df, count, known)?;
    // a counting sort: where each shard's rows end, then each row in its place
    let mut ends = vec![0usize; count as usize];
    for &s in &shard_of_row {
        ends[s as usize] += 1;
    }
    let mut next = 0;
    for e in ends.iter_mut() {
        next += *e;
        *e = next;
    }
    let mut at: Vec<usize> = std::iter::once(0).chain(ends.iter().copied()).collect();
    let mut order = vec![0 as IdxSize; shard_of_row.len()];
    for (row, &s) in shard_of_row.iter().enumerate() {
        order[at[s as usize]] = row as IdxSize;
        at[s as usize] += 1;
    }
    let grouped = df.take(&IdxCa::from_vec("order".into(), order))?;
    Ok((grouped, ends))
}

/// Each row's shard; `known` keeps each member's, worked out once.
fn shard_of_rows(df: &DataFrame, count: u64, known: &mut FastMap<String, u64>) -> Result<Vec<u64>> {
    let ids = df.column("member_id")?.str()?;
    Ok(ids
        .iter()
        .map(|id| {
            let id = id.unwrap_or("");
            match known.get(id) {
                Some(s) => *s,
                None => *known.entry(id.to_string()).or_insert_with(|| shard_of(id, count)),
            }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each row goes to its member's shard (`shard_of`).
    #[test]
    fn rows_go_to_their_members_shards() {
        let members = ["M0001", "M0002", "M0001", "M0003"];
        let df = DataFrame::new(4, vec![Column::new("member_id".into(), members.to_vec())]).unwrap();
        let shards = shard_of_rows(&df, 7, &mut Default::default()).unwrap();
        let expected: Vec<u64> = members.iter().map(|m| shard_of(m, 7)).collect();
        assert_eq!(shards, expected);
        // M0001 is in shard 5 of 7 (docs/scale-out.md)
        assert_eq!(shards[0], 5);
        assert_ne!(shards[1], shards[0]);
    }

    /// A slice's rows come grouped by shard, each shard's in their order, with where
    /// each shard's rows end.
    #[test]
    fn a_slice_is_grouped_by_shard_in_order() {
        let members = ["M0001", "M0002", "M0001", "M0003", "M0002", "M0004", "M0005"];
        let df = DataFrame::new(
            7,
            vec![
                Column::new("member_id".into(), members.to_vec()),
                Column::new("row".into(), (0..7i64).collect::<Vec<_>>()),
            ],
        )
        .unwrap();
        let (grouped, ends) = grouped_by_shard(&df, 3, &mut Default::default()).unwrap();
        let shard: Vec<u64> = members.iter().map(|m| shard_of(m, 3)).collect();
        let (mut want, mut want_ends) = (Vec::new(), Vec::new());
        for s in 0..3 {
            want.extend((0..7i64).filter(|r| shard[*r as usize] == s));
            want_ends.push(want.len());
        }
        let got: Vec<i64> = grouped
            .column("row")
            .unwrap()
            .i64()
            .unwrap()
            .into_no_null_iter()
            .collect();
        assert_eq!(got, want);
        assert_eq!(ends, want_ends);
        // the members fall in more than one shard, so the order is not the input's
        assert_ne!(got, (0..7i64).collect::<Vec<_>>());
    }
}
