//! The members source's ids, looked up once per event to count the events of members
//! the members export does not have (20 M lookups at 20 M events).
use super::short_text::ShortText;
use std::collections::HashSet;

type Set<T> = HashSet<T, foldhash::fast::FixedState>;

/// A set of member ids, exact, shaped for the lookups' cache misses (what is left of
/// their cost):
/// - an id written as a decimal number (a community's user ids, mostly) is held as
///   that number, as a bit over the numbers' span when that is no bigger than a table
///   of them (130,000 ids from 100000 up: 16 KB, in the first-level cache), else in a
///   table of numbers;
/// - another id of up to 16 bytes is held as a `ShortText` (numbers), so a lookup
///   compares numbers; a set of `String`s also followed a pointer and called `memcmp`;
/// - a longer one is held as its bytes.
#[derive(Clone, Default)]
pub(super) struct MemberIds {
    numbers: Numbers,
    short: Set<ShortText>,
    long: Set<Vec<u8>>,
}

#[derive(Clone)]
enum Numbers {
    /// bit `n - low` of `bits` is set for each number n
    Bits {
        low: u64,
        bits: Vec<u64>,
    },
    Table(Set<u64>),
}

impl Default for Numbers {
    fn default() -> Self {
        Numbers::Table(Set::default())
    }
}

impl Numbers {
    fn of(mut numbers: Vec<u64>) -> Numbers {
        numbers.sort_unstable();
        numbers.dedup();
        let (Some(&low), Some(&high)) = (numbers.first(), numbers.last()) else {
            return Numbers::default();
        };
        // a table takes at least 16 bytes a number (with its control byte and room)
        let words = (high - low) / 64 + 1;
        if words.saturating_mul(8) <= (numbers.len() as u64).saturating_mul(16).max(64 * 1024) {
            let mut bits = vec![0u64; words as usize];
            for n in numbers {
                let i = n - low;
                bits[(i / 64) as usize] |= 1 << (i % 64);
            }
            Numbers::Bits { low, bits }
        } else {
            Numbers::Table(numbers.into_iter().collect())
        }
    }

    #[inline]
    fn contains(&self, n: u64) -> bool {
        match self {
            Numbers::Bits { low, bits } => n.checked_sub(*low).is_some_and(|i| {
                bits.get((i / 64) as usize)
                    .is_some_and(|word| word & (1 << (i % 64)) != 0)
            }),
            Numbers::Table(set) => set.contains(&n),
        }
    }
}

/// The id as a number, if it is written as one: 1 to 19 digits, no leading zero but
/// for "0" itself (so "007" stays text: it is another id than "7").
#[inline]
fn decimal(b: &[u8]) -> Option<u64> {
    if b.is_empty() || b.len() > 19 || (b[0] == b'0' && b.len() > 1) {
        return None;
    }
    b.iter()
        .try_fold(0u64, |n, c| c.is_ascii_digit().then(|| n * 10 + (c - b'0') as u64))
}

impl MemberIds {
    pub(super) fn contains(&self, id: &[u8]) -> bool {
        if let Some(n) = decimal(id) {
            return self.numbers.contains(n);
        }
        match ShortText::of(id) {
            Some(key) => self.short.contains(&key),
            None => self.long.contains(id),
        }
    }
}

impl FromIterator<String> for MemberIds {
    fn from_iter<I: IntoIterator<Item = String>>(ids: I) -> Self {
        let mut set = MemberIds::default();
        let mut numbers = Vec::new();
        for id in ids {
            if let Some(n) = decimal(id.as_bytes()) {
                numbers.push(n);
                continue;
            }
            match ShortText::of(id.as_bytes()) {
                Some(key) => set.short.insert(key),
                None => set.long.insert(id.into_bytes()),
            };
        }
        set.numbers = Numbers::of(numbers);
        set
    }
}

#[cfg(test)]
mod tests {
    use super::{MemberIds, Numbers};

    fn set(ids: &[&str]) -> MemberIds {
        ids.iter().map(|s| s.to_string()).collect()
    }

    /// Ids short and long (16 and 17 bytes are the edge), multi-byte, and ids that
    /// differ only in length or in trailing zero bytes are told apart.
    #[test]
    fn member_ids_are_found_exactly() {
        let ids = [
            "M1",
            "",
            "a\0",
            "123456789012345x",
            "1234567890123456x",
            "会员一二三四五",
        ];
        let set = set(&ids);
        for id in ids {
            assert!(set.contains(id.as_bytes()), "{id:?}");
        }
        for other in [
            "M",
            "M10",
            "a",
            "a\0\0",
            "123456789012345",
            "123456789012345x ",
            "123456789012345y",
            "1234567890123456",
            "1234567890123456y",
            "会员",
            "0",
        ] {
            assert!(!set.contains(other.as_bytes()), "{other:?}");
        }
    }

    /// Numbers as bits over a dense span, and in a table when sparse: the same answers,
    /// at the span's ends and past them, and a leading zero makes another id.
    #[test]
    fn numeric_ids_are_found_exactly_dense_or_sparse() {
        let dense = ["100000", "100001", "100063", "100064", "100130", "007", "0"];
        let sparse = ["5", "9999999999999999999", "100000", "007", "0", "18446744073709551615"];
        let d = set(&dense);
        assert!(matches!(d.numbers, Numbers::Bits { low: 0, .. }), "dense ids are bits");
        let s = set(&sparse);
        assert!(matches!(s.numbers, Numbers::Table(_)), "sparse ids are a table");
        for (set, ids) in [(&d, &dense[..]), (&s, &sparse[..])] {
            for id in ids {
                assert!(set.contains(id.as_bytes()), "{id:?}");
            }
        }
        for other in [
            "99999", "100002", "100062", "100065", "100131", "7", "07", "00", "1000000", "-5", "+5",
        ] {
            assert!(!d.contains(other.as_bytes()), "{other:?}");
        }
        for other in ["6", "7", "9999999999999999998", "99999999999999999990", "1000000"] {
            assert!(!s.contains(other.as_bytes()), "{other:?}");
        }
        // the dense set's span starts at its lowest number: below it is absent
        let high = set(&["200000", "200005"]);
        assert!(matches!(high.numbers, Numbers::Bits { low: 200000, .. }));
        assert!(!high.contains(b"199999") && high.contains(b"200005") && !high.contains(b"200006"));
    }
}
