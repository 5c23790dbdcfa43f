//! Rows as Parquet frames and back: the packed rows of ingest's working set.
use crate::table::{Kind, Row, SourceSpec};
use anyhow::Result;
use polars::prelude::*;

const MS: i64 = 1000;

/// Packed rows as a frame of the source's columns: one walk over each row's bytes,
/// values appended to Arrow arrays in place (no per-value allocation, no intermediate
/// rows; polars' `PrimitiveChunkedBuilder` took a call per value).
pub(super) fn packed_to_frame(spec: &SourceSpec, rows: &[&[u8]]) -> Result<DataFrame> {
    use crate::table::{packed_raw, RawRef, ValRef};
    enum Buf {
        Text(TextColumn),
        Int(MutablePrimitiveArray<i64>),
        Num(MutablePrimitiveArray<f64>),
        Ts(MutablePrimitiveArray<i64>),
        Date(MutablePrimitiveArray<i32>),
    }
    let n = rows.len();
    let mut bufs: Vec<Buf> = spec
        .cols
        .iter()
        .map(|c| match c.kind {
            Kind::Text | Kind::Action => Buf::Text(TextColumn::new(n)),
            Kind::Count => Buf::Int(MutablePrimitiveArray::with_capacity(n)),
            Kind::Num => Buf::Num(MutablePrimitiveArray::with_capacity(n)),
            Kind::Ts => Buf::Ts(MutablePrimitiveArray::with_capacity(n)),
            Kind::Date => Buf::Date(MutablePrimitiveArray::with_capacity(n)),
        })
        .collect();
    // rows come in the partition's order, scattered over the arenas: each is asked
    // for a few rows ahead, so it is in the cache when its turn comes (24 rows ahead
    // took a tenth off this loop against 8, with rows of ~60 bytes)
    const AHEAD: usize = 24;
    for (i, r) in rows.iter().enumerate() {
        if let Some(next) = rows.get(i + AHEAD) {
            prefetch(next);
        }
        for (buf, raw) in bufs.iter_mut().zip(packed_raw(r)) {
            let v = match (&mut *buf, raw) {
                (Buf::Text(b), RawRef::Text(t)) => {
                    // SAFETY: packed text is only ever written from a `&str`
                    // (`table::push_packed`), so these bytes are UTF-8 already (as long
                    // as rows are cut from their arenas at the right offsets: checked in
                    // debug builds)
                    debug_assert!(std::str::from_utf8(t).is_ok(), "packed text is not UTF-8");
                    b.push(t);
                    continue;
                }
                (_, RawRef::Text(_)) => ValRef::Str(""),
                (_, RawRef::Other(v)) => v,
            };
            match buf {
                Buf::Text(b) => b.push_null(),
                Buf::Int(b) => b.push(match v {
                    ValRef::Null => None,
                    ValRef::Int(i) => Some(i),
                    ValRef::Num(x) => Some(x as i64),
                    _ => Some(0),
                }),
                Buf::Num(b) => b.push(match v {
                    ValRef::Null => None,
                    ValRef::Int(i) => Some(i as f64),
                    ValRef::Num(x) => Some(x),
                    _ => Some(0.0),
                }),
                Buf::Ts(b) => b.push(match v {
                    ValRef::Ts(t) => Some(t * MS),
                    _ => None,
                }),
                Buf::Date(b) => b.push(match v {
                    ValRef::Date(d) => Some(d),
                    _ => None,
                }),
            }
        }
    }
    let cols: Vec<Column> = bufs
        .into_iter()
        .zip(spec.cols)
        .map(|(buf, c)| {
            let name: PlSmallStr = c.name.into();
            match buf {
                Buf::Text(b) => b.finish(name).into_column(),
                Buf::Int(b) => Int64Chunked::with_chunk(name, b.into()).into_column(),
                Buf::Num(b) => Float64Chunked::with_chunk(name, b.into()).into_column(),
                Buf::Ts(b) => Int64Chunked::with_chunk(name, b.into())
                    .into_datetime(TimeUnit::Milliseconds, None)
                    .into_column(),
                Buf::Date(b) => Int32Chunked::with_chunk(name, b.into()).into_date().into_column(),
            }
        })
        .collect();
    Ok(DataFrame::new(n, cols)?)
}

/// The rows copied one after another into one buffer, in their order: their bytes and
/// lengths (`rows_of` cuts them apart again).
///
/// A month's rows come in partition order (by time) but lie in memory in the files'
/// order, so each is a jump. Decoding them where they lie waited on those loads with
/// the decoding in between (the loads in flight are few); a plain copy keeps many loads
/// in flight, and the decoding then walks memory in order. At 20 M events building the
/// frames took about half the time.
pub(super) fn gather(rows: &[&[u8]]) -> (Vec<u8>, Vec<u32>) {
    const AHEAD: usize = 16;
    let total = rows.iter().map(|r| r.len()).sum();
    let mut bytes = Vec::with_capacity(total);
    let mut lens = Vec::with_capacity(rows.len());
    for (i, r) in rows.iter().enumerate() {
        if let Some(next) = rows.get(i + AHEAD) {
            prefetch(next);
        }
        bytes.extend_from_slice(r);
        lens.push(u32::try_from(r.len()).expect("a packed row under 4 GiB"));
    }
    (bytes, lens)
}

/// The rows `gather` copied, as slices of its buffer.
pub(super) fn rows_of<'b>(bytes: &'b [u8], lens: &[u32]) -> Vec<&'b [u8]> {
    let mut at = 0;
    lens.iter()
        .map(|len| {
            let row = &bytes[at..at + *len as usize];
            at += *len as usize;
            row
        })
        .collect()
}

/// A text column built as Arrow string views directly. polars' builder copies a short
/// value into its view through a small `memcpy` on the stack and reads it back at
/// once, so the read waits on the copy's stores for every value. Here a short value
/// is loaded into its view in two overlapping reads, never through memory. (Building
/// a month's frame stays bound by the loads of its scattered packed rows.)
struct TextColumn {
    views: Vec<View>,
    /// the bytes of values longer than a view holds
    long: Vec<u8>,
    /// set from the first null on (a column without nulls has no bitmap)
    validity: Option<MutableBitmap>,
    total_bytes: usize,
}

use polars_arrow::array::{MutablePrimitiveArray, Utf8ViewArray, View};
use polars_arrow::bitmap::MutableBitmap;

impl TextColumn {
    fn new(capacity: usize) -> Self {
        TextColumn {
            views: Vec::with_capacity(capacity),
            long: Vec::new(),
            validity: None,
            total_bytes: 0,
        }
    }

    /// Append a value (its bytes must be UTF-8: the caller's promise).
    fn push(&mut self, bytes: &[u8]) {
        self.total_bytes += bytes.len();
        let view = if bytes.len() <= View::MAX_INLINE_SIZE as usize {
            inline_view(bytes)
        } else {
            let offset = u32::try_from(self.long.len()).expect("a piece's text under 4 GiB");
            self.long.extend_from_slice(bytes);
            // SAFETY: the value is longer than a view holds, as the function asks
            unsafe { View::new_noninline_unchecked(bytes, 0, offset) }
        };
        self.views.push(view);
        if let Some(v) = &mut self.validity {
            v.push(true);
        }
    }

    fn push_null(&mut self) {
        let validity = self.validity.get_or_insert_with(|| {
            let mut v = MutableBitmap::with_capacity(self.views.capacity());
            v.extend_constant(self.views.len(), true);
            v
        });
        validity.push(false);
        self.views.push(View::default());
    }

    fn finish(self, name: PlSmallStr) -> StringChunked {
        let total_buffer_len = self.long.len();
        let buffers = match self.long.is_empty() {
            true => Vec::new(),
            false => vec![self.long.into()],
        };
        // SAFETY: every view is inline or points into the one buffer at the offset and
        // length its value was copied to; the values are UTF-8 (`push`'s contract)
        let array = unsafe {
            Utf8ViewArray::new_unchecked(
                ArrowDataType::Utf8View,
                self.views.into(),
                buffers.into(),
                self.validity.map(Into::into),
                Some(self.total_bytes),
                total_buffer_len,
            )
        };
        StringChunked::with_chunk(name, array)
    }
}

/// The view of a value of at most 12 bytes: its length, then its bytes, zero-padded.
/// The bytes are read as integers (two overlapping reads), not copied byte by byte.
#[inline(always)]
fn inline_view(b: &[u8]) -> View {
    let n = b.len();
    debug_assert!(n <= View::MAX_INLINE_SIZE as usize);
    let u32_at = |i: usize| u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]) as u64;
    let (low, high): (u64, u64) = if n >= 8 {
        let low = u64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]);
        // bytes 8..n are the top (n - 8) bytes of the last four
        (low, u32_at(n - 4) >> ((12 - n) * 8))
    } else if n >= 4 {
        // the first four and the last four, overlapping where they share bytes
        (u32_at(0) | (u32_at(n - 4) << ((n - 4) * 8)), 0)
    } else if n > 0 {
        let low = b[0] as u64 | (b[n / 2] as u64) << (n / 2 * 8) | (b[n - 1] as u64) << ((n - 1) * 8);
        (low, 0)
    } else {
        (0, 0)
    };
    View {
        length: n as u32,
        prefix: low as u32,
        buffer_idx: (low >> 32) as u32,
        offset: high as u32,
    }
}

/// Ask the CPU to start loading a packed row's first two cache lines (most rows fit).
#[inline(always)]
fn prefetch(row: &[u8]) {
    super::prefetch(row.as_ptr());
    super::prefetch(row.as_ptr().wrapping_add(64));
}

/// A stored frame as packed rows (ingest's working set), without a `Val` per value.
pub(super) fn packed_from_frame(spec: &SourceSpec, df: &DataFrame) -> Result<Vec<crate::table::Packed>> {
    use crate::table::{push_packed, ValRef};
    let n = df.height();
    let mut bufs: Vec<Vec<u8>> = (0..n).map(|_| Vec::with_capacity(96)).collect();
    for c in spec.cols {
        let col = df
            .column(c.name)
            .map_err(|_| anyhow::anyhow!("store table lacks column {}", c.name))?;
        match c.kind {
            Kind::Text | Kind::Action => {
                for (b, v) in bufs.iter_mut().zip(col.str()?.iter()) {
                    push_packed(b, v.map(ValRef::Str).unwrap_or(ValRef::Null));
                }
            }
            Kind::Count => {
                for (b, v) in bufs.iter_mut().zip(col.i64()?.iter()) {
                    push_packed(b, v.map(ValRef::Int).unwrap_or(ValRef::Null));
                }
            }
            Kind::Num => {
                for (b, v) in bufs.iter_mut().zip(col.f64()?.iter()) {
                    push_packed(b, v.map(ValRef::Num).unwrap_or(ValRef::Null));
                }
            }
            Kind::Ts => {
                let phys = col.cast(&DataType::Int64)?;
                for (b, v) in bufs.iter_mut().zip(phys.i64()?.iter()) {
                    push_packed(b, v.map(|ms| ValRef::Ts(ms / MS)).unwrap_or(ValRef::Null));
                }
            }
            Kind::Date => {
                let phys = col.cast(&DataType::Int32)?;
                for (b, v) in bufs.iter_mut().zip(phys.i32()?.iter()) {
                    push_packed(b, v.map(ValRef::Date).unwrap_or(ValRef::Null));
                }
            }
        }
    }
    Ok(bufs.into_iter().map(Vec::into_boxed_slice).collect())
}

pub(super) fn from_frame(spec: &SourceSpec, df: &DataFrame) -> Result<Vec<Row>> {
    Ok(packed_from_frame(spec, df)?
        .iter()
        .map(|p| crate::table::unpack(p))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every short length gives polars' own view (zero padding included: views are
    /// compared as integers), multi-byte characters too.
    #[test]
    fn inline_views_are_polars_views() {
        let text = "ab发帖c签到xyz0123456789";
        for start in 0..4 {
            for n in 0..=View::MAX_INLINE_SIZE as usize {
                let b = &text.as_bytes()[start..start + n];
                assert_eq!(inline_view(b), View::new_inline(b), "{b:?}");
            }
        }
    }

    /// Every source's columns, from packed rows with values of every size and nulls
    /// first, between and last: the frame polars builds from the same values.
    #[test]
    fn a_frame_of_packed_rows_is_the_frame_polars_builds() {
        use crate::table::{pack, Val};
        for spec in crate::table::ALL {
            // row i: a null in column c when (i + c) % 3 == 0, so every column has a
            // null somewhere and the first row's nulls differ from the last's
            let value = |i: usize, c: usize, kind: Kind| -> Val {
                if (i + c).is_multiple_of(3) {
                    return Val::Null;
                }
                let n = (i * 7 + c) as i64;
                match kind {
                    Kind::Text | Kind::Action => Val::Str(format!("值{}", "x".repeat(n as usize))),
                    Kind::Count => Val::Int([0, 255, 256, -5, 1 << 40][i % 5] + n),
                    Kind::Num => Val::Num(n as f64 / 4.0),
                    Kind::Ts => Val::Ts(1_735_000_000 + n * 3_601),
                    Kind::Date => Val::Date(20_000 + n as i32),
                }
            };
            let rows: Vec<crate::table::Packed> = (0..7)
                .map(|i| {
                    pack(
                        &spec
                            .cols
                            .iter()
                            .enumerate()
                            .map(|(c, col)| value(i, c, col.kind))
                            .collect::<Vec<_>>(),
                    )
                })
                .collect();
            let refs: Vec<&[u8]> = rows.iter().map(|r| &r[..]).collect();
            let built = packed_to_frame(spec, &refs).unwrap();
            let expected: Vec<Column> = spec
                .cols
                .iter()
                .enumerate()
                .map(|(c, col)| {
                    let values: Vec<Val> = (0..7).map(|i| value(i, c, col.kind)).collect();
                    let name: PlSmallStr = col.name.into();
                    fn pick<T>(values: &[Val], f: impl Fn(&Val) -> Option<T>) -> Vec<Option<T>> {
                        values.iter().map(f).collect()
                    }
                    match col.kind {
                        Kind::Text | Kind::Action => Column::new(name, pick(&values, Val::string)),
                        Kind::Count => Column::new(name, pick(&values, |v| matches!(v, Val::Int(_)).then(|| v.int()))),
                        Kind::Num => Column::new(name, pick(&values, |v| matches!(v, Val::Num(_)).then(|| v.num()))),
                        Kind::Ts => {
                            Int64Chunked::new(name, pick(&values, |v| matches!(v, Val::Ts(_)).then(|| v.ts() * MS)))
                                .into_datetime(TimeUnit::Milliseconds, None)
                                .into_column()
                        }
                        Kind::Date => Int32Chunked::new(name, pick(&values, Val::day))
                            .into_date()
                            .into_column(),
                    }
                })
                .collect();
            let expected = DataFrame::new(7, expected).unwrap();
            assert_eq!(built.schema(), expected.schema(), "{}", spec.name);
            assert!(built.equals_missing(&expected), "{}:\n{built}\n{expected}", spec.name);
            // the rows gathered into one buffer first (as months are built) decode alike
            let gathered = super::super::packed_frame(spec, &refs).unwrap();
            assert!(
                gathered.equals_missing(&expected),
                "{}:\n{gathered}\n{expected}",
                spec.name
            );
            let (bytes, lens) = gather(&refs);
            assert_eq!(rows_of(&bytes, &lens), refs, "{}", spec.name);
        }
    }

    /// Short, long, empty and null values, a null first and a null after values: the
    /// column polars builds from the same values.
    #[test]
    fn a_text_column_is_the_column_polars_builds() {
        let values = [
            None,
            Some("M100002"),
            Some(""),
            Some("一段超过十二个字节的评论内容"),
            None,
            Some("精华"),
            Some("a much longer value than twelve bytes"),
        ];
        for skip in 0..2 {
            let values = &values[skip..];
            let mut column = TextColumn::new(values.len());
            for v in values {
                match v {
                    Some(v) => column.push(v.as_bytes()),
                    None => column.push_null(),
                }
            }
            let built = column.finish("t".into());
            let expected = StringChunked::new("t".into(), values);
            assert!(built.into_series().equals_missing(&expected.into_series()));
        }
        let mut no_nulls = TextColumn::new(2);
        no_nulls.push(b"x");
        no_nulls.push("长长长长长长长长".as_bytes());
        let built = no_nulls.finish("t".into());
        assert_eq!(built.null_count(), 0);
        assert_eq!(built.get(1), Some("长长长长长长长长"));
    }
}
