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
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in key.bytes() {
        h ^= b as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// (hash, month) pairs sorted by hash, then month.
#[derive(Default)]
pub struct KeyIndex {
    entries: Vec<(u64, u32)>,
}

impl KeyIndex {
    /// The stored index, or (an older store, another hash) one built from every
    /// partition's event ids.
    pub fn load(store: &Store, manifest: &Manifest) -> Result<KeyIndex> {
        if let Some(ix) = manifest.event_keys.as_ref().filter(|ix| ix.hash == HASH) {
            let df = store.frames_of(&ix.file, None)?;
            let hashes = df.column("key_hash")?.u64()?.clone();
            let months = df.column("month")?.u32()?.clone();
            let entries = hashes
                .iter()
                .zip(months.iter())
                .filter_map(|(h, m)| Some((h?, m?)))
                .collect();
            return Ok(KeyIndex { entries });
        }
        let mut entries = Vec::new();
        for (name, rel) in &manifest.events {
            let month = month_number(name);
            let df = store.frames_of(rel, Some(&["event_id"]))?;
            for id in df.column("event_id")?.str()?.iter().flatten() {
                entries.push((key_hash(id), month));
            }
        }
        entries.sort_unstable();
        Ok(KeyIndex { entries })
    }

    /// The months that may hold `key` (usually none or one).
    pub fn months_of(&self, key: &str) -> impl Iterator<Item = u32> + '_ {
        let h = key_hash(key);
        let start = self.entries.partition_point(|e| e.0 < h);
        self.entries[start..].iter().take_while(move |e| e.0 == h).map(|e| e.1)
    }

    /// Replace the entries of the rewritten months with the keys they now hold.
    pub fn replace_months(&mut self, months: &std::collections::BTreeSet<u32>, mut keys: Vec<(u64, u32)>) {
        self.entries.retain(|e| !months.contains(&e.1));
        keys.sort_unstable();
        // merge two sorted lists: linear, where sorting everything again is not
        let old = std::mem::take(&mut self.entries);
        let mut out = Vec::with_capacity(old.len() + keys.len());
        let (mut a, mut b) = (old.into_iter().peekable(), keys.into_iter().peekable());
        loop {
            let next = match (a.peek(), b.peek()) {
                (Some(x), Some(y)) if x <= y => a.next(),
                (Some(_), Some(_)) => b.next(),
                (Some(_), None) => a.next(),
                (None, Some(_)) => b.next(),
                (None, None) => break,
            };
            out.extend(next);
        }
        self.entries = out;
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Write the index as a store data file; returns its path relative to the store.
    pub fn write(&self, store: &Store) -> Result<String> {
        let mut df = DataFrame::new(
            self.entries.len(),
            vec![
                Column::new(
                    "key_hash".into(),
                    self.entries.iter().map(|e| e.0).collect::<Vec<u64>>(),
                ),
                Column::new("month".into(), self.entries.iter().map(|e| e.1).collect::<Vec<u32>>()),
            ],
        )?;
        store.write_frame("tables", "event_keys", &mut df)
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

    #[test]
    fn months_are_found_and_replaced() {
        let mut ix = KeyIndex::default();
        ix.replace_months(
            &Default::default(),
            vec![(key_hash("e1"), 202501), (key_hash("e2"), 202502)],
        );
        assert_eq!(ix.months_of("e2").collect::<Vec<_>>(), [202502]);
        assert_eq!(ix.months_of("e3").count(), 0);
        ix.replace_months(&[202502].into_iter().collect(), vec![(key_hash("e2"), 202503)]);
        assert_eq!(ix.months_of("e2").collect::<Vec<_>>(), [202503]);
        assert_eq!(ix.len(), 2);
    }
}
