//! Grouping settle's entries by key hash: each hash's entries in one run, in rank order.
use rayon::prelude::*;

/// A row's place in the settle's sort: its key's hash, then its rank (stored rows
/// first, then the files' rows in file and line order), and its month.
#[derive(Clone, Copy)]
pub(super) struct Entry {
    pub(super) hash: u64,
    pub(super) rank: u32,
    pub(super) month: u32,
}

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
    for b in 0..1 << BITS {
        bounds[b + 1] = bounds[b] + counts.iter().map(|count| count[b]).sum::<usize>();
    }
    let mut grouped = vec![
        Entry {
            hash: 0,
            rank: 0,
            month: 0
        };
        entries.len()
    ];
    // bucket b holds piece 0's entries of b, then piece 1's, …: the output cut into
    // those slots, each piece given its own (disjoint slices, so no piece can write
    // another's)
    let mut slots: Vec<Vec<&mut [Entry]>> = (0..pieces.len()).map(|_| Vec::with_capacity(1 << BITS)).collect();
    let mut rest: &mut [Entry] = &mut grouped;
    for b in 0..1 << BITS {
        for (count, slot) in counts.iter().zip(&mut slots) {
            let (this, after) = std::mem::take(&mut rest).split_at_mut(count[b]);
            slot.push(this);
            rest = after;
        }
    }
    pieces.into_par_iter().zip(slots).for_each(|(piece, mut slot)| {
        let mut filled = vec![0usize; 1 << BITS];
        for e in piece {
            let b = bucket(e);
            slot[b][filled[b]] = *e;
            filled[b] += 1;
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
                        hash: crate::ingest::event_keys::key_hash(&format!("E{}", rank / 5)),
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
