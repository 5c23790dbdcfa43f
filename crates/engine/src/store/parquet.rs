//! The store's Parquet files, written through polars' public writer.
//!
//! Row groups of 512² rows (a file written frame after frame, `batched`, has a row
//! group per frame at most that long), LZ4 pages (files are rewritten on every ingest that
//! touches their month, and polars' writer compresses pages on one thread: zstd at
//! its default level would be most of the ingest's writing; polars' public API does
//! not take zstd's fastest level), no statistics, and polars' own choice of encodings
//! (a dictionary for text columns with repeated values, plain for the rest). The store
//! names a file by its bytes' checksum, and nothing else depends on the bytes.
use anyhow::Result;
use polars::prelude::*;

/// polars' default row group: 512² rows.
const ROW_GROUP: usize = 512 * 512;

/// How a stored file is compressed.
pub struct Layout {
    pub compressed: bool,
}

/// A month partition.
pub const PARTITION: Layout = Layout { compressed: true };

/// A month's key file: sorted 64-bit hashes, random in their low bits, which LZ4 does
/// not shrink.
pub const KEYS: Layout = Layout { compressed: false };

/// Write `df` into `out` as one Parquet file laid out as `layout` says.
pub fn write(df: &mut DataFrame, layout: &Layout, out: &mut Vec<u8>) -> Result<()> {
    writer(out, layout).finish(df)?;
    Ok(())
}

/// A writer of one Parquet file laid out as `layout` says, frame after frame (each
/// frame its own row groups).
pub fn batched<W: std::io::Write>(
    out: W,
    layout: &Layout,
    schema: &Schema,
) -> Result<polars::io::parquet::write::BatchedWriter<W>> {
    Ok(writer(out, layout).batched(schema)?)
}

fn writer<W: std::io::Write>(out: W, layout: &Layout) -> ParquetWriter<W> {
    let compression = match layout.compressed {
        true => ParquetCompression::Lz4Raw,
        false => ParquetCompression::Uncompressed,
    };
    ParquetWriter::new(out)
        .with_compression(compression)
        // koc reads its files whole (the checksum covers every byte), never by
        // statistics: computing them was a tenth of writing a month
        .with_statistics(StatisticsOptions::empty())
        .with_row_group_size(Some(ROW_GROUP))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two row groups (the second partial), a plain column, dictionary columns with
    /// nulls, numbers and times: read back by polars as the same frame, in order.
    #[test]
    fn a_written_frame_reads_back_the_same() {
        let n = ROW_GROUP + 1000;
        let ids: Vec<String> = (0..n).map(|i| format!("E{i}")).collect();
        let members: Vec<Option<String>> = (0..n).map(|i| (i % 7 != 0).then(|| format!("M{}", i % 50))).collect();
        let likes: Vec<Option<i64>> = (0..n).map(|i| (i % 3 != 0).then_some(i as i64)).collect();
        let at: Vec<i64> = (0..n).map(|i| 1_700_000_000_000 + i as i64 * 60_000).collect();
        let mut df = DataFrame::new(
            n,
            vec![
                Column::new("event_id".into(), ids),
                Column::new("member_id".into(), members),
                Column::new("likes".into(), likes),
                Column::new("occurred_at".into(), at)
                    .cast(&DataType::Datetime(TimeUnit::Milliseconds, None))
                    .unwrap(),
            ],
        )
        .unwrap();
        let read_back = |df: &mut DataFrame| {
            let mut buf = Vec::new();
            write(df, &PARTITION, &mut buf).unwrap();
            ParquetReader::new(std::io::Cursor::new(buf)).finish().unwrap()
        };
        let back = read_back(&mut df);
        assert_eq!(back.height(), n);
        assert!(back.equals_missing(&df), "{back:?}\n{df:?}");
        // the same rows in chunks that do not fall on row groups' bounds
        let mut pieces = df.slice(0, 100_000);
        pieces.vstack_mut_owned(df.slice(100_000, n)).unwrap();
        assert_eq!(pieces.first_col_n_chunks(), 2);
        assert!(read_back(&mut pieces).equals_missing(&df));
    }

    /// Sorted hashes across two row groups and the sign bit: read back as the same
    /// numbers.
    #[test]
    fn key_hashes_read_back_the_same() {
        let n = ROW_GROUP + 7;
        let mut hashes: Vec<u64> = (0..n as u64)
            .map(|i| i.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ (i << 7))
            .chain([0, 1, i64::MAX as u64, i64::MAX as u64 + 1, u64::MAX])
            .collect();
        hashes.sort_unstable();
        let mut df = DataFrame::new(hashes.len(), vec![Column::new("key_hash".into(), hashes.clone())]).unwrap();
        let mut buf = Vec::new();
        write(&mut df, &KEYS, &mut buf).unwrap();
        let back = ParquetReader::new(std::io::Cursor::new(buf)).finish().unwrap();
        let back: Vec<u64> = back
            .column("key_hash")
            .unwrap()
            .u64()
            .unwrap()
            .into_no_null_iter()
            .collect();
        assert_eq!(back, hashes);
    }
}
