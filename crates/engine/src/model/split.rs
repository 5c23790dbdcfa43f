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
        let df = store.frames_of(rel, None)?;
        let shard_of_row = shard_of_rows(&df, as_of, count)?;
        let written: Vec<Option<String>> = (0..count)
            .into_par_iter()
            .map(|s| -> Result<Option<String>> {
                let mask: BooleanChunked = shard_of_row.iter().map(|x| *x == s).collect();
                let mut part = df.filter(&mask)?;
                if part.height() == 0 {
                    return Ok(None);
                }
                let dir = format!("{rel_dir}/shard-{s}/month={month}");
                Ok(Some(store.write_frame(&dir, "part", &mut part)?))
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

/// Each row's shard, or `count` (no shard) for a row after D. A member's shard is
/// worked out once per month.
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
