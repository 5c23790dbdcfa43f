//! Rows as Parquet frames and back: the packed rows of ingest's working set.
use crate::table::{Kind, Row, SourceSpec};
use anyhow::Result;
use polars::prelude::*;

const MS: i64 = 1000;

/// Packed rows as a frame of the source's columns: one walk over each row's bytes,
/// numbers into vectors, a text column's values one after another into one buffer
/// (`TextBuf`), which is checked as UTF-8 once, in bulk.
pub(super) fn packed_to_frame(spec: &SourceSpec, rows: &[&[u8]]) -> Result<DataFrame> {
    use crate::table::{packed_raw, RawRef, ValRef};
    enum Buf {
        Text(TextBuf),
        Int(Vec<Option<i64>>),
        Num(Vec<Option<f64>>),
        Ts(Vec<Option<i64>>),
        Date(Vec<Option<i32>>),
    }
    let n = rows.len();
    let mut bufs: Vec<Buf> = spec
        .cols
        .iter()
        .map(|c| match c.kind {
            Kind::Text | Kind::Action => Buf::Text(TextBuf::with_capacity(n)),
            Kind::Count => Buf::Int(Vec::with_capacity(n)),
            Kind::Num => Buf::Num(Vec::with_capacity(n)),
            Kind::Ts => Buf::Ts(Vec::with_capacity(n)),
            Kind::Date => Buf::Date(Vec::with_capacity(n)),
        })
        .collect();
    for r in rows {
        for (buf, raw) in bufs.iter_mut().zip(packed_raw(r)) {
            let v = match (&mut *buf, raw) {
                (Buf::Text(b), RawRef::Text(t)) => {
                    b.push(Some(t));
                    continue;
                }
                (_, RawRef::Text(_)) => ValRef::Str(""),
                (_, RawRef::Other(v)) => v,
            };
            match buf {
                Buf::Text(b) => b.push(None),
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
            Ok(match buf {
                Buf::Text(b) => b.finish(name)?.into_column(),
                Buf::Int(b) => Int64Chunked::new(name, &b).into_column(),
                Buf::Num(b) => Float64Chunked::new(name, &b).into_column(),
                Buf::Ts(b) => Int64Chunked::new(name, &b)
                    .into_datetime(TimeUnit::Milliseconds, None)
                    .into_column(),
                Buf::Date(b) => Int32Chunked::new(name, &b).into_date().into_column(),
            })
        })
        .collect::<Result<_>>()?;
    Ok(DataFrame::new(n, cols)?)
}

/// A text column's values one after another in one buffer, with where each ends (None:
/// null). Packed text is only ever written from a `&str` (`table::push_packed`), so the
/// buffer is checked as UTF-8 once, with SIMD, and each value is a slice of it at
/// character boundaries (checked too): a row cut at a wrong offset is an error here,
/// never a broken string. (Checking each value on its own was a core-second of the
/// 20 M ingest.)
struct TextBuf {
    bytes: Vec<u8>,
    ends: Vec<Option<u32>>,
}

impl TextBuf {
    fn with_capacity(n: usize) -> TextBuf {
        TextBuf {
            bytes: Vec::with_capacity(n * 8),
            ends: Vec::with_capacity(n),
        }
    }

    fn push(&mut self, value: Option<&[u8]>) {
        if let Some(v) = value {
            self.bytes.extend_from_slice(v);
        }
        // a piece of rows is far under 4 GiB of text (`packed_frame` cuts 2^18 rows)
        self.ends.push(value.map(|_| self.bytes.len() as u32));
    }

    fn finish(self, name: PlSmallStr) -> Result<StringChunked> {
        let broken = || anyhow::anyhow!("the packed text of {name} is not UTF-8 (rows cut at a wrong offset)");
        if self.bytes.len() > u32::MAX as usize {
            anyhow::bail!("the text of {name} in one piece passes 4 GiB");
        }
        let text = simdutf8::basic::from_utf8(&self.bytes).map_err(|_| broken())?;
        let mut out = StringChunkedBuilder::new(name.clone(), self.ends.len());
        let mut start = 0usize;
        for end in &self.ends {
            match end {
                Some(end) => {
                    let end = *end as usize;
                    out.append_value(text.get(start..end).ok_or_else(broken)?);
                    start = end;
                }
                None => out.append_null(),
            }
        }
        Ok(out.finish())
    }
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
    let total = rows.iter().map(|r| r.len()).sum();
    let mut bytes = Vec::with_capacity(total);
    let mut lens = Vec::with_capacity(rows.len());
    for r in rows {
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

    /// Values and nulls come back as they went in; a value cut inside a character
    /// (its bytes valid only together with the next value's) is an error, not text.
    #[test]
    fn a_text_buffer_checks_each_value_at_character_bounds() {
        let mut ok = TextBuf::with_capacity(4);
        for v in [
            Some("签到".as_bytes()),
            None,
            Some(b"".as_slice()),
            Some(b"M1".as_slice()),
        ] {
            ok.push(v);
        }
        let col = ok.finish("t".into()).unwrap();
        let values: Vec<Option<&str>> = col.iter().collect();
        assert_eq!(values, vec![Some("签到"), None, Some(""), Some("M1")]);
        let bytes = "签".as_bytes();
        let mut cut = TextBuf::with_capacity(2);
        cut.push(Some(&bytes[..1]));
        cut.push(Some(&bytes[1..]));
        assert!(cut.finish("t".into()).is_err());
        let mut broken = TextBuf::with_capacity(1);
        broken.push(Some(b"\xff".as_slice()));
        assert!(broken.finish("t".into()).is_err());
    }
}
