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
use polars_arrow::array::{Array, DictionaryArray, MutableBinaryViewArray, PrimitiveArray, Utf8ViewArray, View};
use polars_arrow::datatypes::{ArrowDataType, IntegerType};
use std::collections::HashMap;

type Map<K> = HashMap<K, u32, foldhash::fast::FixedState>;

/// The column as the dictionary array polars-parquet's cast would make (values in order
/// of first appearance, keys u32, nulls where the column's are), or None when
/// polars-parquet would not use a dictionary (three values in four distinct, by its
/// estimate) and writes the column plain.
pub(super) fn text_dictionary(array: &Utf8ViewArray) -> Option<DictionaryArray<u32>> {
    // (an empty column is left to polars-parquet, which writes an empty dictionary)
    let len = array.len();
    debug_assert!(len > 0, "an empty text column");
    let estimate = polars_compute::cardinality::estimate_cardinality(array);
    if len > 128 && estimate as f64 / len as f64 > 0.75 {
        return None;
    }
    let validity = array.validity().filter(|v| v.unset_bits() > 0);
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
        }
        keys.push(key);
    }
    let keys = PrimitiveArray::new(ArrowDataType::UInt32, keys.into(), validity.cloned());
    let dtype = ArrowDataType::Dictionary(IntegerType::UInt32, Box::new(ArrowDataType::Utf8View), false);
    let values: Utf8ViewArray = values.freeze();
    DictionaryArray::try_new(dtype, keys, values.boxed()).ok()
}
