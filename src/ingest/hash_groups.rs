//! Grouping settle's entries by key hash: each hash's entries in one run, in rank order.
use super::settle::Entry;
use rayon::prelude::*;

/// The entries with each hash's in one run, in rank order: by a bucket of the hash's
/// mixed bits (one counting pass), then by (hash, rank) in each bucket on all cores.
/// At 20 M events one sort of all entries went to memory for every level; a bucket of
/// a few thousand entries is sorted in cache. The runs come in no meaningful order:
/// the walk over them only needs each hash's rows together.
pub(super) fn group_by_hash(entries: Vec<Entry>) -> Vec<Entry> {
    const BITS: u32 = 12;
    const PIECES: usize = 8;
    if entries.len() < 1 << 16 {
        let mut entries = entries;
        entries.sort_unstable_by_key(|e| (e.hash, e.rank));
        return entries;
    }
    let bucket = |e: &Entry| (e.hash.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> (64 - BITS)) as usize;
    // the counting pass on all cores: each piece counts its entries per bucket, then
    // moves them to its own place in each bucket (after the earlier pieces')
    let pieces: Vec<&[Entry]> = entries.chunks(entries.len().div_ceil(PIECES)).collect();
    let counts: Vec<Vec<usize>> = pieces
        .par_iter()
        .map(|piece| {
            let mut count = vec![0usize; 1 << BITS];
            for e in *piece {
                count[bucket(e)] += 1;
            }
            count
        })
        .collect();
    let mut bounds = vec![0usize; (1 << BITS) + 1];
    let mut places: Vec<Vec<usize>> = vec![vec![0; 1 << BITS]; pieces.len()];
    for b in 0..1 << BITS {
        let mut at = bounds[b];
        for (count, place) in counts.iter().zip(&mut places) {
            place[b] = at;
            at += count[b];
        }
        bounds[b + 1] = at;
    }
    let mut grouped = vec![
        Entry {
            hash: 0,
            rank: 0,
            month: 0
        };
        entries.len()
    ];
    let out = Target(grouped.as_mut_ptr());
    pieces.into_par_iter().zip(places).for_each(|(piece, mut place)| {
        for e in piece {
            let at = &mut place[bucket(e)];
            // SAFETY: piece p writes bucket b's slots from its place on, as many as it
            // counted there: the pieces' slots are disjoint and all below the length
            unsafe { out.get().add(*at).write(*e) };
            *at += 1;
        }
    });
    drop(entries);
    buckets(&mut grouped, &bounds)
        .into_par_iter()
        .for_each(|b| b.sort_unstable_by_key(|e| (e.hash, e.rank)));
    grouped
}

/// `items` cut into its buckets: bucket b is `bounds[b]..bounds[b + 1]` (bounds rise
/// from 0 to the length).
pub(super) fn buckets<'a, T>(items: &'a mut [T], bounds: &[usize]) -> Vec<&'a mut [T]> {
    let mut out = Vec::with_capacity(bounds.len().saturating_sub(1));
    let mut rest = items;
    for b in bounds.windows(2) {
        let (this, after) = rest.split_at_mut(b[1] - b[0]);
        out.push(this);
        rest = after;
    }
    out
}

/// Where the pieces write their entries: shared by the pieces, which write disjoint slots.
#[derive(Clone, Copy)]
struct Target(*mut Entry);

// SAFETY: the pointer is only written through at slots no other piece writes
unsafe impl Send for Target {}
unsafe impl Sync for Target {}

impl Target {
    /// The pointer (a method, so closures capture the whole `Sync` wrapper).
    fn get(self) -> *mut Entry {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Big enough for buckets (and small): every entry once, each hash's entries in one
    /// run, ranks rising in it.
    #[test]
    fn entries_are_grouped_by_hash_in_rank_order() {
        for n in [1000u32, 300_000] {
            // ranks in a scrambled order, a hash shared by up to five entries
            let entries: Vec<Entry> = (0..n)
                .map(|i| {
                    let rank = (i as u64 * 7919 % n as u64) as u32;
                    Entry {
                        hash: crate::event_keys::key_hash(&format!("E{}", rank / 5)),
                        rank,
                        month: 202501,
                    }
                })
                .collect();
            let grouped = group_by_hash(entries);
            let mut ranks: Vec<u32> = grouped.iter().map(|e| e.rank).collect();
            ranks.sort_unstable();
            assert_eq!(ranks, (0..n).collect::<Vec<_>>());
            let mut seen = std::collections::HashSet::new();
            for run in grouped.chunk_by(|a, b| a.hash == b.hash) {
                assert!(seen.insert(run[0].hash), "hash {} in two runs", run[0].hash);
                assert!(run.windows(2).all(|w| w[0].rank < w[1].rank));
                assert_eq!(run.len(), 5.min((n - run[0].rank / 5 * 5) as usize));
            }
        }
    }
}
