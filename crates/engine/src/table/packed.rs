//! Rows packed into one allocation each while ingest holds them: the encoding, and
//! reading values back without unpacking the whole row.
use super::{Row, Val};
use crate::fmt::{Day, Ts};

/// A row packed into one allocation while ingest holds it (a `Row` of ten values
/// costs ~500 bytes in small allocations; packed, an event is ~60): per value a tag
/// byte, then its bytes in the shortest form that holds it: a text as a length (one
/// byte under 256, else four) and its UTF-8 bytes; an integer in one byte (0–255),
/// four or eight; a number or time in eight; a day in four. Each value has one form,
/// so equal rows pack to equal bytes, and comparing packed rows is comparing rows.
/// (At 20 M events the short forms took the packed rows from ~100 to ~60 bytes: less
/// memory to fill while reading and to fetch while writing the months.)
pub type Packed = Box<[u8]>;

const TAG_NULL: u8 = 0;
/// A text of 256 bytes or more: u32 length, then the bytes.
const TAG_STR: u8 = 1;
const TAG_INT: u8 = 2;
const TAG_NUM: u8 = 3;
const TAG_TS: u8 = 4;
const TAG_DATE: u8 = 5;
/// A text under 256 bytes: u8 length, then the bytes.
const TAG_STR8: u8 = 6;
/// An integer 0–255 in one byte.
const TAG_INT8: u8 = 7;
/// An integer that fits an i32 (and not a byte), in four.
const TAG_INT32: u8 = 8;

pub fn pack(row: &[Val]) -> Packed {
    let mut out = Vec::with_capacity(16 * row.len());
    for v in row {
        push_packed(
            &mut out,
            match v {
                Val::Null => ValRef::Null,
                Val::Str(s) => ValRef::Str(s),
                Val::Int(i) => ValRef::Int(*i),
                Val::Num(x) => ValRef::Num(*x),
                Val::Ts(t) => ValRef::Ts(*t),
                Val::Date(d) => ValRef::Date(*d),
            },
        );
    }
    out.into_boxed_slice()
}

/// Append one value to a packed row being built.
pub fn push_packed(out: &mut Vec<u8>, v: ValRef) {
    match v {
        ValRef::Null => out.push(TAG_NULL),
        ValRef::Str(s) if s.len() <= 16 => push_short_text(out, s.as_bytes()),
        ValRef::Str(s) => match u8::try_from(s.len()) {
            Ok(len) => {
                out.extend_from_slice(&[TAG_STR8, len]);
                out.extend_from_slice(s.as_bytes());
            }
            Err(_) => {
                out.push(TAG_STR);
                out.extend_from_slice(&(s.len() as u32).to_le_bytes());
                out.extend_from_slice(s.as_bytes());
            }
        },
        ValRef::Int(i) => match (u8::try_from(i), i32::try_from(i)) {
            (Ok(byte), _) => out.extend_from_slice(&[TAG_INT8, byte]),
            (_, Ok(four)) => {
                out.push(TAG_INT32);
                out.extend_from_slice(&four.to_le_bytes());
            }
            _ => {
                out.push(TAG_INT);
                out.extend_from_slice(&i.to_le_bytes());
            }
        },
        ValRef::Num(x) => {
            out.push(TAG_NUM);
            // -0 and 0 are the same number: the same bytes
            let x = if x == 0.0 { 0.0f64 } else { x };
            out.extend_from_slice(&x.to_bits().to_le_bytes());
        }
        ValRef::Ts(t) => {
            out.push(TAG_TS);
            out.extend_from_slice(&t.to_le_bytes());
        }
        ValRef::Date(d) => {
            out.push(TAG_DATE);
            out.extend_from_slice(&d.to_le_bytes());
        }
    }
}

/// A text of at most 16 bytes (nearly every value of an export) appended as `TAG_STR8`,
/// its length and its bytes, copied as two overlapping words of a fixed size into a
/// 16-byte block: `extend_from_slice` of the text itself called `memcpy` for every
/// value, the longest part of packing a short one.
#[inline(always)]
fn push_short_text(out: &mut Vec<u8>, b: &[u8]) {
    let n = b.len();
    assert!(n <= 16);
    let mut block = [0u8; 18];
    block[0] = TAG_STR8;
    block[1] = n as u8;
    let text = &mut block[2..];
    if n >= 8 {
        text[..8].copy_from_slice(&b[..8]);
        text[n - 8..n].copy_from_slice(&b[n - 8..]);
    } else if n >= 4 {
        text[..4].copy_from_slice(&b[..4]);
        text[n - 4..n].copy_from_slice(&b[n - 4..]);
    } else if n > 0 {
        text[0] = b[0];
        text[n / 2] = b[n / 2];
        text[n - 1] = b[n - 1];
    }
    // the whole block (a copy of a fixed size, no call), then cut to the text's end
    let len = out.len();
    out.extend_from_slice(&block);
    out.truncate(len + 2 + n);
}

impl ValRef<'_> {
    /// As `Val::ts`: the time, or 0 when the value is not one.
    pub fn ts(self) -> Ts {
        match self {
            ValRef::Ts(t) => t,
            _ => 0,
        }
    }

    /// As `Val::to_key`.
    pub fn to_key(self) -> String {
        match self {
            ValRef::Null => String::new(),
            ValRef::Str(s) => s.to_string(),
            ValRef::Int(i) => i.to_string(),
            ValRef::Num(x) => x.to_string(),
            ValRef::Ts(t) => crate::fmt::fmt_ts(t),
            ValRef::Date(d) => crate::fmt::fmt_day(d),
        }
    }
}

/// The value at `at`, owned, and where the next one starts.
fn unpack_one(p: &[u8], at: usize) -> (Val, usize) {
    let (v, next) = value_at(p, at);
    let owned = match v {
        ValRef::Null => Val::Null,
        ValRef::Str(s) => Val::Str(s.to_string()),
        ValRef::Int(i) => Val::Int(i),
        ValRef::Num(x) => Val::Num(x),
        ValRef::Ts(t) => Val::Ts(t),
        ValRef::Date(d) => Val::Date(d),
    };
    (owned, next)
}

pub fn unpack(p: &[u8]) -> Row {
    let mut out = Vec::new();
    let mut at = 0;
    while at < p.len() {
        let (v, next) = unpack_one(p, at);
        out.push(v);
        at = next;
    }
    out
}

/// Value `index` of a packed row, skipping the ones before it.
pub fn packed_field(p: &[u8], index: usize) -> Val {
    unpack_one(p, field_start(p, index)).0
}

fn field_start(p: &[u8], index: usize) -> usize {
    let mut at = 0;
    for _ in 0..index {
        at = next_field(p, at);
    }
    at
}

/// Where the value after the one at `at` starts (`raw_at` knows each tag's width:
/// one table, inlined, so the value it also decodes costs nothing here).
fn next_field(p: &[u8], at: usize) -> usize {
    raw_at(p, at).1
}

/// The encoded bytes of value `index` (tag included): two values are equal exactly
/// when these are, so keys compare without decoding text.
pub fn field_bytes(p: &[u8], index: usize) -> &[u8] {
    let at = field_start(p, index);
    &p[at..next_field(p, at)]
}

/// The text of value `index` as bytes (empty when it is not text), not checked again.
pub fn text_bytes(p: &[u8], index: usize) -> &[u8] {
    text_field(p, index).unwrap_or(&[])
}

/// The text of value `index` as bytes, if it is a text (not checked again).
pub fn text_field(p: &[u8], index: usize) -> Option<&[u8]> {
    match raw_at(p, field_start(p, index)).0 {
        RawRef::Text(t) => Some(t),
        RawRef::Other(_) => None,
    }
}

/// A packed value, borrowed: writing a partition reads text without copying it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ValRef<'a> {
    Null,
    Str(&'a str),
    Int(i64),
    Num(f64),
    Ts(Ts),
    Date(Day),
}

/// Value `index` of a packed row, borrowed.
pub fn packed_ref(p: &[u8], index: usize) -> ValRef<'_> {
    value_at(p, field_start(p, index)).0
}

/// A packed value with text as its bytes, not checked again as UTF-8 (packed text is
/// only ever written from a `&str`: `store::frames` builds partitions from it as is).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum RawRef<'a> {
    Text(&'a [u8]),
    Other(ValRef<'a>),
}

/// Every value of a packed row in order, text as bytes (one walk over the bytes).
pub fn packed_raw(p: &[u8]) -> impl Iterator<Item = RawRef<'_>> {
    let mut at = 0;
    std::iter::from_fn(move || {
        if at >= p.len() {
            return None;
        }
        let (v, next) = raw_at(p, at);
        at = next;
        Some(v)
    })
}

/// The value at `at`, text checked as UTF-8, and where the next one starts.
fn value_at(p: &[u8], at: usize) -> (ValRef<'_>, usize) {
    match raw_at(p, at) {
        (RawRef::Text(t), next) => (ValRef::Str(std::str::from_utf8(t).expect("packed from a String")), next),
        (RawRef::Other(v), next) => (v, next),
    }
}

/// The value at `at` as packed (text as bytes), and where the next one starts.
// always inlined: a call per value was a tenth of building a month's frame
#[inline(always)]
fn raw_at(p: &[u8], at: usize) -> (RawRef<'_>, usize) {
    let n4 = |i: usize| -> [u8; 4] { p[i..i + 4].try_into().expect("4 bytes") };
    let n8 = |i: usize| -> [u8; 8] { p[i..i + 8].try_into().expect("8 bytes") };
    let other = |v: ValRef<'static>, next: usize| (RawRef::Other(v), next);
    match p[at] {
        TAG_STR8 => {
            let end = at + 2 + p[at + 1] as usize;
            (RawRef::Text(&p[at + 2..end]), end)
        }
        TAG_STR => {
            let end = at + 5 + u32::from_le_bytes(n4(at + 1)) as usize;
            (RawRef::Text(&p[at + 5..end]), end)
        }
        TAG_INT8 => other(ValRef::Int(p[at + 1] as i64), at + 2),
        TAG_INT32 => other(ValRef::Int(i32::from_le_bytes(n4(at + 1)) as i64), at + 5),
        TAG_INT => other(ValRef::Int(i64::from_le_bytes(n8(at + 1))), at + 9),
        TAG_NUM => other(ValRef::Num(f64::from_bits(u64::from_le_bytes(n8(at + 1)))), at + 9),
        TAG_TS => other(ValRef::Ts(i64::from_le_bytes(n8(at + 1))), at + 9),
        TAG_DATE => other(ValRef::Date(Day::from_le_bytes(n4(at + 1))), at + 5),
        _ => other(ValRef::Null, at + 1),
    }
}

#[cfg(test)]
mod packing_tests {
    use super::*;

    /// Texts of every length up to past 16, from every offset of a longer text, appended
    /// to rows of any length and spare room: the tag, the length and exactly the bytes.
    #[test]
    fn short_texts_pack_as_their_bytes() {
        let text = "ab发帖c签到xyz0123456789KLMNOPQRSTUV";
        for before in 0..3usize {
            for start in 0..4 {
                for n in 0..=20 {
                    let b = &text.as_bytes()[start..start + n];
                    let Ok(s) = std::str::from_utf8(b) else { continue };
                    let mut out: Vec<u8> = Vec::with_capacity(before + n % 5);
                    out.extend(std::iter::repeat_n(9u8, before));
                    push_packed(&mut out, ValRef::Str(s));
                    let mut expected = vec![9u8; before];
                    expected.extend([TAG_STR8, n as u8]);
                    expected.extend_from_slice(b);
                    assert_eq!(out, expected, "{s:?} after {before}");
                }
            }
        }
    }

    #[test]
    fn packed_rows_unpack_to_the_same_values_and_compare_as_rows() {
        let row = vec![
            Val::Str("E1".into()),
            Val::Null,
            Val::Ts(1_735_000_000),
            Val::Str("发帖".into()),
            Val::Int(-3),
            Val::Num(2.5),
            Val::Date(20_000),
            Val::Str(String::new()),
        ];
        let p = pack(&row);
        assert_eq!(unpack(&p), row);
        for (i, v) in row.iter().enumerate() {
            assert_eq!(&packed_field(&p, i), v, "field {i}");
        }
        let mut other = row.clone();
        other[4] = Val::Int(-4);
        assert_ne!(pack(&other), p);
        // -0 and 0 are one number
        assert_eq!(pack(&[Val::Num(-0.0)]), pack(&[Val::Num(0.0)]));
    }

    #[test]
    fn every_short_and_long_form_round_trips_at_its_size() {
        let long = "长".repeat(100); // 300 bytes: the four-byte length
        let cases: Vec<(Val, usize)> = vec![
            (Val::Int(0), 2),
            (Val::Int(255), 2),
            (Val::Int(256), 5),
            (Val::Int(-1), 5),
            (Val::Int(i32::MAX as i64), 5),
            (Val::Int(i32::MIN as i64), 5),
            (Val::Int(i32::MAX as i64 + 1), 9),
            (Val::Int(i64::MIN), 9),
            (Val::Str("x".repeat(255)), 257),
            (Val::Str("x".repeat(256)), 261),
            (Val::Str(long.clone()), 305),
            (Val::Str(String::new()), 2),
            (Val::Null, 1),
        ];
        for (v, size) in &cases {
            let p = pack(std::slice::from_ref(v));
            assert_eq!(p.len(), *size, "{v:?}");
            assert_eq!(unpack(&p), vec![v.clone()]);
        }
        // all in one row: each is found by walking the ones before it
        let row: Vec<Val> = cases.iter().map(|(v, _)| v.clone()).collect();
        let p = pack(&row);
        assert_eq!(unpack(&p), row);
        for (i, v) in row.iter().enumerate() {
            assert_eq!(&packed_field(&p, i), v, "field {i}");
            let text = match v {
                Val::Str(s) => Some(s.as_bytes()),
                _ => None,
            };
            assert_eq!(text_field(&p, i), text, "field {i}");
        }
        let raw: Vec<RawRef> = packed_raw(&p).collect();
        assert_eq!(raw[10], RawRef::Text(long.as_bytes()));
        assert_eq!(raw[2], RawRef::Other(ValRef::Int(256)));
    }

    proptest::proptest! {
        /// Each value has one form: rows are equal exactly when their packed bytes are
        /// (near rows included: the short forms' edges are a value apart).
        #[test]
        fn equal_rows_pack_to_equal_bytes(a in proptest::collection::vec(-300i64..70_000, 1..4), b in proptest::collection::vec(-300i64..70_000, 1..4), wide in proptest::prelude::any::<i64>()) {
            let row = |v: &[i64]| -> Vec<Val> {
                v.iter().map(|n| match n.rem_euclid(3) {
                    0 => Val::Int(*n * if *n % 2 == 0 { 1 } else { 40_000 }),
                    1 => Val::Str("a".repeat(n.unsigned_abs() as usize % 300)),
                    _ => Val::Null,
                }).chain([Val::Int(wide)]).collect()
            };
            let (ra, rb) = (row(&a), row(&b));
            proptest::prop_assert_eq!(unpack(&pack(&ra)), ra.clone());
            // rows drawn apart are rarely equal: distinct rows, distinct bytes
            proptest::prop_assert_eq!(pack(&ra) == pack(&rb), ra == rb);
            // and a row rebuilt from its values packs to the same bytes
            proptest::prop_assert_eq!(pack(&unpack(&pack(&ra))), pack(&ra));
            // a neighbour, one value moved by one (255 → 256, 255 → 256 bytes of text…),
            // packs apart
            let mut near = ra.clone();
            near[0] = match &near[0] {
                Val::Int(i) => Val::Int(i + 1),
                Val::Str(t) => Val::Str(format!("{t}a")),
                _ => Val::Int(0),
            };
            proptest::prop_assert_ne!(pack(&near), pack(&ra));
        }
    }
}
