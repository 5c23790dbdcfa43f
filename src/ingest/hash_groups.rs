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
    if entries.len() < 1 << 16 {
        let mut entries = entries;
        entries.sort_unstable_by_key(|e| (e.hash, e.rank));
        return entries;
    }
    let bucket = |e: &Entry| (e.hash.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> (64 - BITS)) as usize;
    let mut starts = vec![0usize; (1 << BITS) + 1];
    for e in &entries {
        starts[bucket(e) + 1] += 1;
    }
    for b in 1..starts.len() {
        starts[b] += starts[b - 1];
    }
    let bounds = starts.clone();
    let mut grouped = vec![
        Entry {
            hash: 0,
            rank: 0,
            month: 0
        };
        entries.len()
    ];
    for e in entries {
        let at = &mut starts[bucket(&e)];
        grouped[*at] = e;
        *at += 1;
    }
    let mut buckets: Vec<&mut [Entry]> = Vec::with_capacity(1 << BITS);
    let mut rest = &mut grouped[..];
    for b in 0..1 << BITS {
        let (this, after) = rest.split_at_mut(bounds[b + 1] - bounds[b]);
        buckets.push(this);
        rest = after;
    }
    buckets
        .into_par_iter()
        .for_each(|b| b.sort_unstable_by_key(|e| (e.hash, e.rank)));
    grouped
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
