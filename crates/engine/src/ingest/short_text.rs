//! A short text (an action label, a member id) as numbers, so that looking it up
//! compares and hashes numbers instead of calling `memcmp` on its bytes.

/// A text of up to 16 bytes as two words and its length: its first and last eight
/// bytes, overlapping when it is shorter (each byte is in one of them), so two texts
/// are equal exactly when their `ShortText`s are. The bytes are read as integers in
/// overlapping loads, never copied into a buffer (a copy of a variable length is a call
/// to `memcpy`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(super) struct ShortText(u64, u64, usize);

impl ShortText {
    /// The text's numbers, if it has at most 16 bytes.
    #[inline]
    pub(super) fn of(b: &[u8]) -> Option<ShortText> {
        let n = b.len();
        let u64_at = |i: usize| u64::from_le_bytes(b[i..i + 8].try_into().expect("eight bytes"));
        let u32_at = |i: usize| u32::from_le_bytes(b[i..i + 4].try_into().expect("four bytes")) as u64;
        Some(match n {
            0 => ShortText(0, 0, 0),
            1..=3 => ShortText(b[0] as u64 | (b[n / 2] as u64) << 8 | (b[n - 1] as u64) << 16, 0, n),
            4..=7 => ShortText(u32_at(0) | u32_at(n - 4) << 32, 0, n),
            8..=16 => ShortText(u64_at(0), u64_at(n - 8), n),
            _ => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::ShortText;
    use proptest::prelude::*;

    proptest! {
        /// A text's numbers differ from those of any near neighbour (one byte changed,
        /// one added or taken off the end); an edit that changes nothing keeps them.
        #[test]
        fn short_texts_tell_near_neighbours_apart(
            a in prop::collection::vec(prop::sample::select(vec![0u8, 1, b'a', 0xe7, 0xad]), 0..18),
            at in 0usize..18,
            byte in prop::sample::select(vec![0u8, 1, b'a', 0xe7, 0xad]),
            edit in 0u8..3,
        ) {
            let mut b = a.clone();
            match edit {
                0 if !b.is_empty() => { let i = at % b.len(); b[i] = byte; }
                1 => b.push(byte),
                _ => { b.pop(); }
            }
            match (ShortText::of(&a), ShortText::of(&b)) {
                (Some(x), Some(y)) => prop_assert_eq!(x == y, a == b, "{:?} {:?}", a, b),
                _ => prop_assert!(a.len() > 16 || b.len() > 16),
            }
        }
    }
}
