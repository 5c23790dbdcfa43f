//! The order of a month partition's rows: by time, then by event_id's bytes (ids are
//! unique, so the order is total and the partition's bytes do not depend on the order
//! rows were read in).
//!
//! A month's times span at most a few million seconds, so rows are put in time order by
//! a radix sort of (time offset, row) pairs, which moves 8 bytes a row and compares
//! nothing; only rows that share a second are then ordered by id, in their small runs.
//! At 20 M events this took the sort from a tenth of writing the months to a few
//! percent.

/// Radix digits of 11 bits: three passes cover a 33-bit span, two a month's 22 bits.
const DIGIT: u32 = 11;

/// Row numbers (indexes into `times` and `ids`) in partition order: by time, then by
/// id bytes.
pub(super) fn partition_order(times: &[i64], ids: &[&[u8]]) -> Vec<u32> {
    debug_assert_eq!(times.len(), ids.len());
    let (Some(&min), Some(&max)) = (times.iter().min(), times.iter().max()) else {
        return Vec::new();
    };
    // rows are numbered as u32 (settling refuses more than 4 billion)
    let rows = u32::try_from(times.len()).expect("at most 4 billion rows a month");
    let span = max.abs_diff(min);
    if span > u32::MAX as u64 {
        // not a month's rows: a comparison sort
        let mut order: Vec<u32> = (0..rows).collect();
        order.sort_unstable_by_key(|r| (times[*r as usize], ids[*r as usize]));
        return order;
    }
    // (offset << 32 | row): sorting by the offset alone keeps rows in their order
    let mut keys: Vec<u64> = times
        .iter()
        .enumerate()
        .map(|(row, t)| ((t - min) as u64) << 32 | row as u64)
        .collect();
    radix_sort_by_high_half(&mut keys, span);
    let mut order: Vec<u32> = keys.iter().map(|k| *k as u32).collect();
    // runs of one second, ordered by id: by eight bytes after what every id shares
    // (exports' ids often share a long prefix) as one number, then by all their bytes.
    // The numbers are taken in the rows' order, as the ids lie in memory: in time
    // order every id is a jump (a tenth of the months' time went to those loads).
    let shared = ids.iter().map(|id| common_prefix(id, ids[0])).min().unwrap_or(0);
    let first_eight: Vec<u64> = ids.iter().map(|id| eight_bytes(&id[shared..])).collect();
    let mut run: Vec<(u64, u32)> = Vec::new();
    let mut start = 0;
    while start < keys.len() {
        let second = keys[start] >> 32;
        let end = start + keys[start..].iter().take_while(|k| *k >> 32 == second).count();
        if end - start > 1 {
            run.clear();
            run.extend(order[start..end].iter().map(|r| (first_eight[*r as usize], *r)));
            run.sort_unstable_by(|a, b| a.0.cmp(&b.0).then_with(|| ids[a.1 as usize].cmp(ids[b.1 as usize])));
            for (slot, (_, r)) in order[start..end].iter_mut().zip(&run) {
                *slot = *r;
            }
        }
        start = end;
    }
    order
}

/// How many first bytes `a` and `b` share.
fn common_prefix(a: &[u8], b: &[u8]) -> usize {
    a.iter().zip(b).take_while(|(x, y)| x == y).count()
}

/// The first eight bytes (zero-padded) as a number that orders as they do.
fn eight_bytes(b: &[u8]) -> u64 {
    if let Some(first) = b.first_chunk::<8>() {
        return u64::from_be_bytes(*first);
    }
    // shorter: byte by byte, zero-padded on the right (a copy of a variable length
    // called `memmove` for every id, a third of this sort's time)
    b.iter()
        .enumerate()
        .fold(0, |n, (i, x)| n | (*x as u64) << (56 - 8 * i))
}

/// Sort `keys` by their high 32 bits (all at most `span`), stably: least significant
/// digit first, one counting pass per 11 bits of the span.
fn radix_sort_by_high_half(keys: &mut Vec<u64>, span: u64) {
    let bits = 64 - span.leading_zeros();
    let mut spare = vec![0u64; keys.len()];
    let mut shift = 32;
    while shift < 32 + bits {
        let digit = |k: u64| ((k >> shift) & ((1 << DIGIT) - 1)) as usize;
        let mut starts = vec![0usize; 1 << DIGIT];
        for k in keys.iter() {
            starts[digit(*k)] += 1;
        }
        let mut at = 0;
        for s in starts.iter_mut() {
            let n = *s;
            *s = at;
            at += n;
        }
        for k in keys.iter() {
            let d = digit(*k);
            spare[starts[d]] = *k;
            starts[d] += 1;
        }
        std::mem::swap(keys, &mut spare);
        shift += DIGIT;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn bytes(ids: &[String]) -> Vec<&[u8]> {
        ids.iter().map(|s| s.as_bytes()).collect()
    }

    fn by_comparison(times: &[i64], ids: &[String]) -> Vec<u32> {
        let mut order: Vec<u32> = (0..times.len() as u32).collect();
        order.sort_by(|a, b| {
            (times[*a as usize], ids[*a as usize].as_bytes()).cmp(&(times[*b as usize], ids[*b as usize].as_bytes()))
        });
        order
    }

    #[test]
    fn rows_go_by_time_then_id_bytes() {
        // minutes shared by several rows, ids whose bytes sort unlike their numbers
        let times = [120, 60, 60, 0, 60, 3_000_000];
        let ids = ["E9", "E10", "E2", "E5", "事件1", "E0"].map(String::from);
        let order = partition_order(&times, &bytes(&ids));
        assert_eq!(order, vec![3, 1, 2, 4, 0, 5]);
        assert_eq!(order, by_comparison(&times, &ids));
        assert!(partition_order(&[], &[]).is_empty());
        // ids sharing a long prefix, one of them a prefix of another, a zero byte
        let ids = [
            "EV2025070100012",
            "EV202507010001",
            "EV2025070100011",
            "EV202507010001\0",
        ]
        .map(String::from);
        let times = [60; 4];
        assert_eq!(partition_order(&times, &bytes(&ids)), vec![1, 3, 2, 0]);
    }

    proptest! {
        /// Any times (spans of a month, of years, negative) and ids: the order a plain
        /// comparison sort gives.
        #[test]
        fn the_radix_order_is_the_comparison_order(
            rows in prop::collection::vec((0i64..5_000, "(ID00000000)?[a-c]{0,3}"), 0..300),
            base in -2_000_000_000i64..2_000_000_000,
            scale in prop::sample::select(vec![1i64, 60, 600, 2_000_000]),
        ) {
            let times: Vec<i64> = rows.iter().map(|(t, _)| base + t * scale).collect();
            // ids unique, as event ids are
            let ids: Vec<String> = rows.iter().enumerate().map(|(i, (_, id))| format!("P{id}{i}")).collect();
            prop_assert_eq!(partition_order(&times, &bytes(&ids)), by_comparison(&times, &ids));
        }
    }
}
