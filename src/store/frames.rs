//! Rows as Parquet frames and back: the packed rows of ingest's working set.
use crate::table::{Kind, Row, SourceSpec};
use anyhow::Result;
use polars::prelude::*;

const MS: i64 = 1000;

/// Packed rows as a frame of the source's columns: one walk over each row's bytes,
/// values appended to the columns' builders in place (no per-value allocation, no
/// intermediate vectors).
pub(super) fn packed_to_frame(spec: &SourceSpec, rows: &[&[u8]]) -> Result<DataFrame> {
    use crate::table::{packed_raw, RawRef, ValRef};
    enum Buf {
        Text(StringChunkedBuilder),
        Int(PrimitiveChunkedBuilder<Int64Type>),
        Num(PrimitiveChunkedBuilder<Float64Type>),
        Ts(PrimitiveChunkedBuilder<Int64Type>),
        Date(PrimitiveChunkedBuilder<Int32Type>),
    }
    let n = rows.len();
    let mut bufs: Vec<Buf> = spec
        .cols
        .iter()
        .map(|c| {
            let name: PlSmallStr = c.name.into();
            match c.kind {
                Kind::Text | Kind::Action => Buf::Text(StringChunkedBuilder::new(name, n)),
                Kind::Count => Buf::Int(PrimitiveChunkedBuilder::new(name, n)),
                Kind::Num => Buf::Num(PrimitiveChunkedBuilder::new(name, n)),
                Kind::Ts => Buf::Ts(PrimitiveChunkedBuilder::new(name, n)),
                Kind::Date => Buf::Date(PrimitiveChunkedBuilder::new(name, n)),
            }
        })
        .collect();
    // rows come in the partition's order, scattered over the arenas: each is asked
    // for a few rows ahead, so it is in the cache when its turn comes
    const AHEAD: usize = 8;
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
                    b.append_value(unsafe { std::str::from_utf8_unchecked(t) });
                    continue;
                }
                (_, RawRef::Text(_)) => ValRef::Str(""),
                (_, RawRef::Other(v)) => v,
            };
            match buf {
                Buf::Text(b) => b.append_null(),
                Buf::Int(b) => b.append_option(match v {
                    ValRef::Null => None,
                    ValRef::Int(i) => Some(i),
                    ValRef::Num(x) => Some(x as i64),
                    _ => Some(0),
                }),
                Buf::Num(b) => b.append_option(match v {
                    ValRef::Null => None,
                    ValRef::Int(i) => Some(i as f64),
                    ValRef::Num(x) => Some(x),
                    _ => Some(0.0),
                }),
                Buf::Ts(b) => b.append_option(match v {
                    ValRef::Ts(t) => Some(t * MS),
                    _ => None,
                }),
                Buf::Date(b) => b.append_option(match v {
                    ValRef::Date(d) => Some(d),
                    _ => None,
                }),
            }
        }
    }
    let cols: Vec<Column> = bufs
        .into_iter()
        .map(|buf| match buf {
            Buf::Text(b) => b.finish().into_column(),
            Buf::Int(b) => b.finish().into_column(),
            Buf::Num(b) => b.finish().into_column(),
            Buf::Ts(b) => b.finish().into_datetime(TimeUnit::Milliseconds, None).into_column(),
            Buf::Date(b) => b.finish().into_date().into_column(),
        })
        .collect();
    Ok(DataFrame::new(n, cols)?)
}

/// Ask the CPU to start loading a packed row's first two cache lines (most rows fit).
#[inline(always)]
fn prefetch(row: &[u8]) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch is a hint: it never faults and reads nothing, whatever the
    // address (SSE, which every x86_64 has)
    unsafe {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        _mm_prefetch::<_MM_HINT_T0>(row.as_ptr() as *const i8);
        _mm_prefetch::<_MM_HINT_T0>(row.as_ptr().wrapping_add(64) as *const i8);
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = row;
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
