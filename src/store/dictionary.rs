//! A text column's Parquet dictionary, built here rather than by polars-parquet.
//!
//! For a dictionary-encoded text column, polars-parquet estimates the column's
//! cardinality, casts it to a dictionary array through a general value map (hashing
//! every value's bytes, comparing with `memcmp`), and writes that array's pages. The
//! same pages come from the same dictionary array built with a map keyed by each short
//! value's 16-byte view (inline views are zero-padded, so equal values have equal
//! views): at 20 M events the cast was about 5 % of the ingest. The decision to use a
//! dictionary is polars-parquet's own, from the same estimate, so the bytes written are
//! the ones it writes (a test compares them).
//!
//! That estimate (a HyperLogLog) depends only on the set of distinct values: each value
//! raises registers to a maximum, so a repeat changes nothing. A column of few distinct
//! values has its estimate taken over the dictionary's values as they are found, not
//! over every row again (4 % of writing a month at 20 M events). A column whose first
//! rows are mostly distinct (ids) is estimated over all its rows first, as polars-parquet
//! does, so no map of a million ids is built for a column that will be written plain.
use polars_arrow::array::{Array, DictionaryArray, MutableBinaryViewArray, PrimitiveArray, Utf8ViewArray, View};
use polars_arrow::datatypes::{ArrowDataType, IntegerType};
use std::collections::HashMap;

type Map<K> = HashMap<K, u32, foldhash::fast::FixedState>;
use polars_compute::hyperloglogplus::HyperLogLog;

/// Whether more than three in four of the column's first 1,024 values (nulls aside) are
/// distinct: a column of ids, which its estimate will very likely write plain.
fn starts_distinct(array: &Utf8ViewArray) -> bool {
    const SAMPLE: usize = 1024;
    let n = array.len().min(SAMPLE);
    let mut seen: std::collections::HashSet<&str, foldhash::fast::FixedState> = Default::default();
    let mut valid = 0;
    for i in 0..n {
        if array.is_valid(i) {
            valid += 1;
            // SAFETY: i < len
            seen.insert(unsafe { array.value_unchecked(i) });
        }
    }
    seen.len() * 4 > valid * 3
}

/// The column as the dictionary array polars-parquet's cast would make (values in order
/// of first appearance, keys u32, nulls where the column's are), or None when
/// polars-parquet would not use a dictionary (three values in four distinct, by its
/// estimate) and writes the column plain.
pub(super) fn text_dictionary(array: &Utf8ViewArray) -> Option<DictionaryArray<u32>> {
    // (an empty column is left to polars-parquet, which writes an empty dictionary)
    let len = array.len();
    debug_assert!(len > 0, "an empty text column");
    // polars-parquet's rule: plain when the estimate finds more than three values in four
    // distinct (never for 128 rows or fewer)
    let plain = |estimate: usize| len > 128 && estimate as f64 / len as f64 > 0.75;
    let validity = array.validity().filter(|v| v.unset_bits() > 0);
    let mut estimated = false;
    if validity.is_some_and(|v| v.unset_bits() == len) || starts_distinct(array) {
        if plain(polars_compute::cardinality::estimate_cardinality(array)) {
            return None;
        }
        estimated = true;
    }
    // the estimate of the values found (a null counts as the empty value, as there)
    let mut hll = HyperLogLog::<[u8]>::new();
    if validity.is_some() {
        hll.add(b"");
    }
    let mut short: Map<u128> = Map::default();
    let mut long: Map<&[u8]> = Map::default();
    let mut values = MutableBinaryViewArray::<str>::new();
    let mut keys: Vec<u32> = Vec::with_capacity(len);
    for (i, view) in array.views().iter().enumerate() {
        if validity.is_some_and(|v| !v.get_bit(i)) {
            keys.push(0);
            continue;
        }
        // SAFETY: i < len
        let value = unsafe { array.value_unchecked(i) };
        let next = values.len() as u32;
        let key = if view.length <= View::MAX_INLINE_SIZE {
            *short.entry(view.as_u128()).or_insert(next)
        } else {
            *long.entry(value.as_bytes()).or_insert(next)
        };
        if key == next {
            values.push_value(value);
            hll.add(value.as_bytes());
        }
        keys.push(key);
    }
    if !estimated && plain(hll.count()) {
        return None;
    }
    let keys = PrimitiveArray::new(ArrowDataType::UInt32, keys.into(), validity.cloned());
    let dtype = ArrowDataType::Dictionary(IntegerType::UInt32, Box::new(ArrowDataType::Utf8View), false);
    let values: Utf8ViewArray = values.freeze();
    DictionaryArray::try_new(dtype, keys, values.boxed()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// polars-parquet's choice for a column: a dictionary unless its estimate over all
    /// rows finds more than three values in four distinct (columns over 128 rows).
    fn polars_uses_dictionary(array: &Utf8ViewArray) -> bool {
        let len = array.len();
        let estimate = polars_compute::cardinality::estimate_cardinality(array);
        !(len > 128 && estimate as f64 / len as f64 > 0.75)
    }

    fn column(values: impl IntoIterator<Item = Option<String>>) -> Utf8ViewArray {
        let mut b = MutableBinaryViewArray::<str>::new();
        for v in values {
            b.push(v);
        }
        b.freeze()
    }

    /// koc decides as polars-parquet does, whichever way it estimates: ids, ids then
    /// repeats, repeats then ids, columns around the threshold of three in four, nulls,
    /// all nulls, short columns. A dictionary holds the values in order of first
    /// appearance and a key for every row.
    #[test]
    fn the_dictionary_choice_is_polars_parquets() {
        let mut columns: Vec<Utf8ViewArray> = vec![
            column((0..5000).map(|i| Some(format!("E{i}")))),
            column((0..5000).map(|i| Some(format!("E{}", if i < 2000 { i } else { i % 7 })))),
            column((0..5000).map(|i| Some(format!("E{}", if i < 2000 { i % 7 } else { i })))),
            column((0..5000).map(|i| (i % 3 != 0).then(|| format!("一个很长的会员编号-{}", i % 11)))),
            column((0..300).map(|_| None)),
            column((0..100).map(|i| Some(format!("{i}")))),
            // a validity bitmap without a null: no null's empty value in the estimate
            column((0..400).map(|i| Some(format!("V{}", if i < 200 { i % 7 } else { i }))))
                .with_validity(Some(polars_arrow::bitmap::Bitmap::new_with_value(true, 400))),
        ];
        // distinct shares from 0.65 to 0.85 of 4,000 rows, ids first and last
        for distinct in (2600..=3400).step_by(40) {
            columns.push(column((0..4000).map(|i| Some(format!("M{}", i % distinct)))));
            columns.push(column((0..4000).map(|i| Some(format!("M{}", (4000 - i) % distinct)))));
        }
        // the same around the threshold, with first rows that do not look like ids (so
        // the estimate is taken over the values found)
        for later in (1900..=2700).step_by(40) {
            columns.push(column((0..4000).map(|i| match i < 1024 {
                true => Some(format!("F{}", i % 700)),
                false => Some(format!("N{}", i % later)),
            })));
        }
        let mut chosen = [0, 0];
        for array in &columns {
            let ours = text_dictionary(array);
            assert_eq!(ours.is_some(), polars_uses_dictionary(array), "{:?}", array.get(0));
            chosen[ours.is_some() as usize] += 1;
            let Some(dict) = ours else { continue };
            let values = dict.values().as_any().downcast_ref::<Utf8ViewArray>().unwrap();
            let mut first_seen: Vec<&str> = Vec::new();
            for (i, v) in array.iter().enumerate() {
                let Some(v) = v else {
                    assert!(!dict.keys().is_valid(i));
                    continue;
                };
                if !first_seen.contains(&v) {
                    first_seen.push(v);
                }
                assert_eq!(values.value(dict.keys().value(i) as usize), v);
            }
            assert_eq!(values.values_iter().collect::<Vec<_>>(), first_seen);
        }
        // both choices are made (the threshold falls inside the range)
        assert!(chosen[0] > 3 && chosen[1] > 3, "{chosen:?}");
    }
}
