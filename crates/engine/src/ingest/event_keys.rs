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

/// Per month, where the sorted hashes of its event ids are: its key file (written
/// sorted, so a lookup needs no global sort) or, without a usable one, its partition.
/// The months are read one at a time when asked, so an ingest holds one month's
/// hashes beside its own, not the whole history's (8 bytes per stored event: 1.6 GB
/// at 200 M events, over what a budgeted pass may hold).
#[derive(Default)]
pub struct KeyIndex {
    months: Vec<MonthKeys>,
}

struct MonthKeys {
    month: u32,
    /// A key file made from this very partition, if the manifest names one.
    key_file: Option<String>,
    partition: String,
}

impl KeyIndex {
    /// The stored index's months (nothing is read yet).
    pub fn load(manifest: &Manifest) -> KeyIndex {
        let ix = manifest.event_keys.as_ref().filter(|ix| ix.hash == HASH);
        let months = manifest
            .events
            .iter()
            .map(|(name, rel)| MonthKeys {
                month: month_number(name),
                key_file: ix
                    .filter(|ix| ix.partitions.get(name) == Some(rel))
                    .and_then(|ix| ix.months.get(name))
                    .cloned(),
                partition: rel.clone(),
            })
            .collect();
        KeyIndex { months }
    }

    /// The months that may hold a key hashing to one of `hashes` (usually few): each
    /// month's sorted hashes, read in turn, against the new ones sorted once.
    pub fn months_holding(&self, store: &Store, hashes: Vec<u64>) -> Result<std::collections::BTreeSet<u32>> {
        let mut found = std::collections::BTreeSet::new();
        if self.months.is_empty() || hashes.is_empty() {
            return Ok(found);
        }
        let mut wanted = sort_hashes(hashes);
        wanted.dedup();
        for m in &self.months {
            if any_shared(&wanted, &m.hashes(store)?) {
                found.insert(m.month);
            }
        }
        Ok(found)
    }

    pub fn is_empty(&self) -> bool {
        self.months.is_empty()
    }
}

impl MonthKeys {
    /// The month's key hashes, sorted: from its key file, or (missing, stale or
    /// unreadable) hashed from the partition's event ids.
    fn hashes(&self, store: &Store) -> Result<Vec<u64>> {
        let stored: Option<Vec<u64>> = self
            .key_file
            .as_ref()
            .and_then(|keys| store.frames_of(keys, None).ok())
            .and_then(|df| Some(df.column("key_hash").ok()?.u64().ok()?.iter().flatten().collect()));
        let mut hashes: Vec<u64> = match stored {
            Some(h) => h,
            None => {
                let df = store.frames_of(&self.partition, Some(&["event_id"]))?;
                df.column("event_id")?.str()?.iter().flatten().map(key_hash).collect()
            }
        };
        if !hashes.is_sorted() {
            hashes = sort_hashes(hashes);
        }
        Ok(hashes)
    }
}

/// Whether two ascending lists share a value: one walk over both.
fn any_shared(a: &[u64], b: &[u64]) -> bool {
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => return true,
        }
    }
    false
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
    fn sorted_lists_share_a_value_or_not() {
        assert!(any_shared(&[1, 5, 9], &[2, 5]));
        assert!(any_shared(&[u64::MAX], &[0, u64::MAX]));
        assert!(!any_shared(&[1, 3, 5], &[0, 2, 4, 6]));
        assert!(!any_shared(&[], &[1]));
    }
}
