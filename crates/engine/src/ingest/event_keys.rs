//! Where each stored event lives: a persisted index of event-id hashes to months, so
//! that ingesting one more day reads the new rows and the months they touch, not
//! every event id of the store (issue 12: the increment is proportional to the day).
//!
//! The index holds a 64-bit FNV-1a hash of each event_id and its month. A hash hit
//! only says "look in this month": the month is then read and the key compared
//! exactly, so a collision costs one extra month read, never a wrong count. The hash
//! is written by hand (not std's or foldhash's, whose output may change between
//! versions) because it is persisted.
use crate::store::{Manifest, Store};
use anyhow::Result;
use polars::prelude::*;

/// The hash named in the manifest; an index with another name is rebuilt.
pub const HASH: &str = "fnv1a64";

pub fn key_hash(key: &str) -> u64 {
    key_hash_bytes(key.as_bytes())
}

pub fn key_hash_bytes(key: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in key {
        h ^= b as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// Per month, the sorted hashes of its event ids (each month's key file is written
/// sorted, so loading needs no global sort; a lookup is one binary search per month).
#[derive(Default)]
pub struct KeyIndex {
    months: Vec<(u32, Vec<u64>)>,
}

impl KeyIndex {
    /// The stored index: each month's key file, or (a month without one, another
    /// hash) the month's event ids hashed from its partition.
    pub fn load(store: &Store, manifest: &Manifest) -> Result<KeyIndex> {
        let ix = manifest.event_keys.as_ref().filter(|ix| ix.hash == HASH);
        let mut months = Vec::new();
        for (name, rel) in &manifest.events {
            // a key file made from this very partition; else (missing, stale, unreadable)
            // the month's ids are hashed from the partition itself
            let stored: Option<Vec<u64>> = ix
                .filter(|ix| ix.partitions.get(name) == Some(rel))
                .and_then(|ix| ix.months.get(name))
                .and_then(|keys| store.frames_of(keys, None).ok())
                .and_then(|df| Some(df.column("key_hash").ok()?.u64().ok()?.iter().flatten().collect()));
            let mut hashes: Vec<u64> = match stored {
                Some(h) => h,
                None => {
                    let df = store.frames_of(rel, Some(&["event_id"]))?;
                    df.column("event_id")?.str()?.iter().flatten().map(key_hash).collect()
                }
            };
            if !hashes.is_sorted() {
                hashes.sort_unstable();
            }
            months.push((month_number(name), hashes));
        }
        Ok(KeyIndex { months })
    }

    /// The months that may hold the key hashing to `h` (usually none or one).
    pub fn months_of(&self, h: u64) -> impl Iterator<Item = u32> + '_ {
        self.months
            .iter()
            .filter(move |(_, hashes)| hashes.binary_search(&h).is_ok())
            .map(|(m, _)| *m)
    }

    pub fn len(&self) -> usize {
        self.months.iter().map(|(_, h)| h.len()).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.months.iter().all(|(_, h)| h.is_empty())
    }
}

/// Write one month's key file (the hashes of the event ids its partition now holds);
/// returns its path relative to the store. Only rewritten months are written, so one
/// more day writes one or two small files, not the whole index.
pub fn write_month(store: &Store, month: &str, hashes: Vec<u64>) -> Result<String> {
    let hashes = sort_hashes(hashes);
    let mut df = DataFrame::new(hashes.len(), vec![Column::new("key_hash".into(), hashes)])?;
    // beside the tables, not in the month folders: `events/` stays a dataset other
    // tools read whole (docs/outputs.md)
    store.write_frame_as(
        "tables/event_keys",
        &format!("keys-{month}"),
        &mut df,
        &crate::store::parquet::KEYS,
    )
}

/// Hashes in ascending order: by their top bits into buckets (one counting pass, one
/// scatter), then each bucket sorted in cache, on all cores. Hashes spread evenly, so
/// the buckets are alike; a comparison sort of a month's 1.7 M hashes at 20 M events
/// went to memory at every level (a tenth of writing the months).
fn sort_hashes(mut hashes: Vec<u64>) -> Vec<u64> {
    use rayon::prelude::*;
    const BITS: u32 = 12;
    if hashes.len() < 1 << 16 {
        hashes.sort_unstable();
        return hashes;
    }
    let bucket = |h: u64| (h >> (64 - BITS)) as usize;
    let mut bounds = vec![0usize; (1 << BITS) + 1];
    for h in &hashes {
        bounds[bucket(*h) + 1] += 1;
    }
    for b in 0..1 << BITS {
        bounds[b + 1] += bounds[b];
    }
    let mut place = bounds.clone();
    let mut sorted = vec![0u64; hashes.len()];
    for h in hashes {
        let at = &mut place[bucket(h)];
        sorted[*at] = h;
        *at += 1;
    }
    super::hash_groups::buckets(&mut sorted, &bounds)
        .into_par_iter()
        .for_each(|b| b.sort_unstable());
    sorted
}

/// Point the manifest at the rewritten months' key files (and forget removed months).
pub fn record_months(manifest: &mut Manifest, written: Vec<(String, String)>, removed: &[String]) {
    let partitions: Vec<Option<String>> = written.iter().map(|(m, _)| manifest.events.get(m).cloned()).collect();
    let ix = manifest.event_keys.get_or_insert_with(|| crate::store::KeyIndexFile {
        months: Default::default(),
        partitions: Default::default(),
        hash: HASH.into(),
    });
    if ix.hash != HASH {
        ix.months.clear();
        ix.partitions.clear();
        ix.hash = HASH.into();
    }
    for ((month, rel), partition) in written.into_iter().zip(partitions) {
        match partition {
            Some(p) => {
                ix.partitions.insert(month.clone(), p);
            }
            None => {
                ix.partitions.remove(&month);
            }
        }
        ix.months.insert(month, rel);
    }
    for m in removed {
        ix.months.remove(m);
        ix.partitions.remove(m);
    }
}

/// "2025-07" → 202507.
pub fn month_number(name: &str) -> u32 {
    name.replace('-', "").parse().unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hash_is_fnv1a_and_stable() {
        // FNV-1a 64 of "" and "a" (published test vectors): the index on disk depends on them
        assert_eq!(key_hash(""), 0xcbf29ce484222325);
        assert_eq!(key_hash("a"), 0xaf63dc4c8601ec8c);
    }

    /// Hashes sorted as a comparison sort sorts them: spread, clustered in one bucket,
    /// repeated, at the bucket edges, and below the size that takes buckets.
    #[test]
    fn hashes_are_sorted() {
        let spread: Vec<u64> = (0..200_000u64)
            .map(|i| key_hash(&format!("E{}", i % 150_000)))
            .collect();
        let clustered: Vec<u64> = (0..100_000u64).map(|i| (i * 7919) % 100_003).collect();
        let edges: Vec<u64> = (0..70_000u64)
            .map(|i| [0, u64::MAX, 1 << 52, (1 << 52) - 1][i as usize % 4] ^ (i % 3))
            .collect();
        let small: Vec<u64> = (0..1000u64).map(|i| key_hash(&i.to_string())).collect();
        for hashes in [spread, clustered, edges, small] {
            let mut expected = hashes.clone();
            expected.sort_unstable();
            assert_eq!(sort_hashes(hashes), expected);
        }
    }

    #[test]
    fn months_are_found_by_hash() {
        let ix = KeyIndex {
            months: vec![(202501, vec![key_hash("e1")]), (202502, vec![key_hash("e2")])],
        };
        assert_eq!(ix.months_of(key_hash("e2")).collect::<Vec<_>>(), [202502]);
        assert_eq!(ix.months_of(key_hash("e3")).count(), 0);
        assert_eq!(ix.len(), 2);
    }
}
