//! Rows by key without a `String` per key: the working set of the sources other than
//! activity (members, redemptions, contest entries…; activity is settled by sorting,
//! settle.rs). Each row is found by the 64-bit hash of its key (computed once, when
//! the row is prepared) and confirmed by comparing the key fields inside the packed
//! rows, so two keys with one hash are never mixed up: the second goes to a small
//! map by the key text.
//!
//! A file's rows are applied in place as they are counted, with an undo log: a file
//! the reject gate holds back is rolled back (rare), and the common path costs one
//! lookup per row instead of a second map per file.
use crate::table::{field_bytes, packed_ref, text_field, Packed, SourceSpec};
use indexmap::map::Entry;
use indexmap::IndexMap;

type Map<K> = IndexMap<K, Packed, foldhash::fast::RandomState>;

/// Rows of one source by key, in first-insertion order (a replaced row keeps its place).
pub struct Keyed {
    spec: &'static SourceSpec,
    by_hash: Map<u64>,
    /// Rows whose key hash another key already holds (practically never).
    collided: Map<String>,
}

/// The hash of a row's key: FNV-1a of the key text (the event-key index uses the
/// same hash, so an event's hash is also where the index files it).
pub fn key_hash(spec: &SourceSpec, row: &[u8]) -> u64 {
    KeyHash::of(spec).hash(row)
}

/// `key_hash` for the rows of one source, its key column found once (by name for every
/// row, it was a string comparison per row).
pub struct KeyHash<'s> {
    spec: &'s SourceSpec,
    /// the key's column, when the key is one column
    single: Option<usize>,
}

impl<'s> KeyHash<'s> {
    pub fn of(spec: &'s SourceSpec) -> KeyHash<'s> {
        let single = match spec.key {
            [one] => Some(spec.index(one)),
            _ => None,
        };
        KeyHash { spec, single }
    }

    #[inline]
    pub fn hash(&self, row: &[u8]) -> u64 {
        match self.single {
            // a text key: its bytes, as stored after the tag and length
            Some(i) => match text_field(row, i) {
                Some(text) => crate::ingest::event_keys::key_hash_bytes(text),
                None => crate::ingest::event_keys::key_hash(&packed_ref(row, i).to_key()),
            },
            None => crate::ingest::event_keys::key_hash(&self.spec.key_of_packed(row)),
        }
    }
}

/// Whether two rows have the same key.
pub(super) fn same_key(spec: &SourceSpec, a: &[u8], b: &[u8]) -> bool {
    spec.key
        .iter()
        .map(|name| spec.index(name))
        .all(|i| field_bytes(a, i) == field_bytes(b, i))
}

impl Keyed {
    pub fn new(spec: &'static SourceSpec) -> Keyed {
        Keyed {
            spec,
            by_hash: Map::default(),
            collided: Map::default(),
        }
    }

    /// Room for `more` rows, so a big file does not grow the map step by step.
    pub fn reserve(&mut self, more: usize) {
        self.by_hash.reserve(more);
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.by_hash.len() + self.collided.len()
    }

    /// The row with the key of `row` (whose key hashes to `hash`), if any.
    #[cfg(test)]
    pub fn get(&self, hash: u64, row: &[u8]) -> Option<&Packed> {
        if !self.collided.is_empty() {
            if let Some(r) = self.collided.get(&self.spec.key_of_packed(row)) {
                return Some(r);
            }
        }
        self.by_hash.get(&hash).filter(|old| same_key(self.spec, old, row))
    }

    /// Put `row` in place of the row with its key (returned), or add it.
    pub fn insert(&mut self, hash: u64, row: Packed) -> Option<Packed> {
        self.put(hash, row).2
    }

    /// `insert`, saying where the row went: (in `collided`, index, the row replaced).
    fn put(&mut self, hash: u64, row: Packed) -> (bool, usize, Option<Packed>) {
        if !self.collided.is_empty() {
            let key = self.spec.key_of_packed(&row);
            if let Some((i, _, old)) = self.collided.get_full_mut(&key) {
                return (true, i, Some(std::mem::replace(old, row)));
            }
        }
        match self.by_hash.entry(hash) {
            Entry::Occupied(mut o) if same_key(self.spec, o.get(), &row) => (false, o.index(), Some(o.insert(row))),
            Entry::Occupied(_) => {
                let key = self.spec.key_of_packed(&row);
                let (i, old) = self.collided.insert_full(key, row);
                (true, i, old)
            }
            Entry::Vacant(v) => {
                let i = v.index();
                v.insert(row);
                (false, i, None)
            }
        }
    }

    fn at_mut(&mut self, collided: bool, index: usize) -> Option<&mut Packed> {
        if collided {
            self.collided.get_index_mut(index).map(|(_, v)| v)
        } else {
            self.by_hash.get_index_mut(index).map(|(_, v)| v)
        }
    }

    /// Apply one row of a file: what it did to the row with its key, and that row as
    /// it was (kept in `log`, so that `undo` can put it back).
    pub fn apply<'l>(&mut self, hash: u64, row: Packed, log: &'l mut Vec<Undo>) -> (Change, Option<&'l Packed>) {
        let (collided, index, old) = self.put(hash, row);
        let Some(old) = old else {
            log.push(Undo::Added { collided, index });
            return (Change::Inserted, None);
        };
        let same = self.at_mut(collided, index).is_some_and(|new| *new == old);
        log.push(Undo::Replaced { collided, index, old });
        let Some(Undo::Replaced { old, .. }) = log.last() else {
            unreachable!("just pushed")
        };
        (if same { Change::Unchanged } else { Change::Updated }, Some(old))
    }

    /// Roll back the rows a file applied (its log), newest first: each added row is
    /// the last of its map or was followed only by rows removed before it or read
    /// from the store (whose order does not matter), so removing it keeps the order.
    pub fn undo(&mut self, log: Vec<Undo>) {
        for u in log.into_iter().rev() {
            match u {
                Undo::Added { collided: true, index } => {
                    self.collided.swap_remove_index(index);
                }
                Undo::Added { collided: false, index } => {
                    self.by_hash.swap_remove_index(index);
                }
                Undo::Replaced { collided, index, old } => {
                    if let Some(slot) = self.at_mut(collided, index) {
                        *slot = old;
                    }
                }
            }
        }
    }

    /// The rows a log touched, each once, as they are now.
    pub fn touched<'a>(&'a self, log: &[Undo]) -> Vec<&'a Packed> {
        let mut places: Vec<(bool, usize)> = log
            .iter()
            .map(|u| match u {
                Undo::Added { collided, index } | Undo::Replaced { collided, index, .. } => (*collided, *index),
            })
            .collect();
        places.sort_unstable();
        places.dedup();
        places
            .into_iter()
            .filter_map(|(collided, i)| {
                if collided {
                    self.collided.get_index(i).map(|(_, v)| v)
                } else {
                    self.by_hash.get_index(i).map(|(_, v)| v)
                }
            })
            .collect()
    }

    pub fn values(&self) -> impl Iterator<Item = &Packed> {
        self.by_hash.values().chain(self.collided.values())
    }
}

/// What a row did to the row with its key (SPEC §4's counts).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Inserted,
    Unchanged,
    Updated,
}

/// How to take back one applied row.
pub enum Undo {
    Added { collided: bool, index: usize },
    Replaced { collided: bool, index: usize, old: Packed },
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::{pack, Val, ACTIVITY};

    fn event(id: &str, likes: i64) -> Packed {
        let mut row = vec![Val::Null; ACTIVITY.cols.len()];
        row[0] = Val::Str(id.into());
        row[ACTIVITY.index("likes")] = Val::Int(likes);
        pack(&row)
    }

    #[test]
    fn two_keys_with_one_hash_stay_apart() {
        let mut k = Keyed::new(&ACTIVITY);
        // force a collision: both rows filed under hash 7
        assert!(k.insert(7, event("a", 1)).is_none());
        assert!(k.insert(7, event("b", 2)).is_none());
        assert_eq!(k.len(), 2);
        assert_eq!(k.get(7, &event("a", 0)), Some(&event("a", 1)));
        assert_eq!(k.get(7, &event("b", 0)), Some(&event("b", 2)));
        // replacing either keeps the other
        assert_eq!(k.insert(7, event("b", 3)), Some(event("b", 2)));
        assert_eq!(k.insert(7, event("a", 4)), Some(event("a", 1)));
        assert_eq!(k.get(7, &event("b", 0)), Some(&event("b", 3)));
        assert_eq!(k.len(), 2);
        assert!(k.get(8, &event("c", 0)).is_none());
    }

    #[test]
    fn a_held_back_file_is_rolled_back_in_order() {
        let mut k = Keyed::new(&ACTIVITY);
        k.insert(1, event("a", 1));
        k.insert(2, event("b", 1));
        let mut log = Vec::new();
        assert_eq!(k.apply(3, event("c", 1), &mut log).0, Change::Inserted);
        assert_eq!(k.apply(1, event("a", 1), &mut log).0, Change::Unchanged);
        let (change, old) = k.apply(2, event("b", 2), &mut log);
        assert_eq!((change, old), (Change::Updated, Some(&event("b", 1))));
        assert_eq!(k.apply(3, event("c", 2), &mut log).0, Change::Updated);
        assert_eq!(k.touched(&log).len(), 3);
        k.undo(log);
        let rows: Vec<&Packed> = k.values().collect();
        assert_eq!(rows, [&event("a", 1), &event("b", 1)]);
    }

    #[test]
    fn the_hash_is_the_event_key_index_hash() {
        let row = event("E-1", 0);
        assert_eq!(key_hash(&ACTIVITY, &row), crate::ingest::event_keys::key_hash("E-1"));
    }
}
