//! Rows by key without a `String` per key: the working set of an ingest holds millions
//! of rows, and a key string for each cost ~50 bytes and a hash of the string at every
//! lookup. Here each row is found by the 64-bit hash of its key (computed once, when
//! the row is prepared) and confirmed by comparing the key fields inside the packed
//! rows, so two keys with one hash are never mixed up: the second goes to a small
//! map by the key text.
use crate::table::{field_bytes, packed_ref, Packed, SourceSpec, TAG_STR};
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
    match spec.key {
        // a text key: its bytes, as stored after the tag and length
        [one] => match field_bytes(row, spec.index(one)) {
            [TAG_STR, _, _, _, _, text @ ..] => crate::event_keys::key_hash_bytes(text),
            _ => crate::event_keys::key_hash(&packed_ref(row, spec.index(one)).to_key()),
        },
        _ => crate::event_keys::key_hash(&spec.key_of_packed(row)),
    }
}

/// Whether two rows have the same key.
fn same_key(spec: &SourceSpec, a: &[u8], b: &[u8]) -> bool {
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

    #[cfg(test)]
    fn len(&self) -> usize {
        self.by_hash.len() + self.collided.len()
    }

    /// The row with the key of `row` (whose key hashes to `hash`), if any.
    pub fn get(&self, hash: u64, row: &[u8]) -> Option<&Packed> {
        if !self.collided.is_empty() {
            if let Some(r) = self.collided.get(&self.spec.key_of_packed(row)) {
                return Some(r);
            }
        }
        self.by_hash.get(&hash).filter(|old| same_key(self.spec, old, row))
    }

    pub fn contains(&self, hash: u64, row: &[u8]) -> bool {
        self.get(hash, row).is_some()
    }

    /// Put `row` in place of the row with its key (returned), or add it.
    pub fn insert(&mut self, hash: u64, row: Packed) -> Option<Packed> {
        if !self.collided.is_empty() {
            let key = self.spec.key_of_packed(&row);
            if let Some(old) = self.collided.get_mut(&key) {
                return Some(std::mem::replace(old, row));
            }
        }
        match self.by_hash.entry(hash) {
            Entry::Occupied(mut o) if same_key(self.spec, o.get(), &row) => Some(o.insert(row)),
            Entry::Occupied(_) => {
                let key = self.spec.key_of_packed(&row);
                self.collided.insert(key, row)
            }
            Entry::Vacant(v) => {
                v.insert(row);
                None
            }
        }
    }

    /// Add `row` unless a row with its key is there (that one is newer).
    pub fn insert_if_absent(&mut self, hash: u64, row: Packed) {
        if !self.contains(hash, &row) {
            self.insert(hash, row);
        }
    }

    pub fn values(&self) -> impl Iterator<Item = &Packed> {
        self.by_hash.values().chain(self.collided.values())
    }

    /// The rows with their key hashes, in order.
    pub fn into_entries(self) -> Vec<(u64, Packed)> {
        let spec = self.spec;
        self.by_hash
            .into_iter()
            .chain(self.collided.into_values().map(|r| (key_hash(spec, &r), r)))
            .collect()
    }
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
    fn the_hash_is_the_event_key_index_hash() {
        let row = event("E-1", 0);
        assert_eq!(key_hash(&ACTIVITY, &row), crate::event_keys::key_hash("E-1"));
    }
}
