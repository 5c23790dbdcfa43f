//! Parquet written with every (row group, column) encoded and compressed as a task of
//! its own, on all cores: the store's partitions (`write`) and `ledger.parquet`
//! (`Pages`, with polars' own compression: the same bytes as polars' writer).
//!
//! polars' `ParquetWriter` encodes a row group's columns in parallel but compresses
//! their pages on the writing thread, one after another; at 20 M events that thread
//! was a tenth of the ingest. Here the pages are compressed where they are encoded,
//! and columns whose values are unique (event ids) are written plain without the
//! dictionary attempt (polars estimates every text column's cardinality first). The
//! encoder, the page format, the statistics and the footer are polars-parquet's, so
//! polars (and DuckDB) read the file back as the same frame. The bytes are not what
//! polars' writer would give: row groups are cut at every 512² rows (polars splits a
//! frame into equal parts), and zstd runs at level 1. The store names partitions by
//! their bytes' hash, and nothing else depends on the bytes.
use anyhow::Result;
use polars::prelude::*;
use polars_parquet::write::{
    array_to_columns, compress, CompressedPage, CompressionOptions, Encoding, StatisticsOptions, Version, WriteOptions,
    ZstdLevel,
};
use rayon::prelude::*;

/// polars' default row group: 512² rows.
const ROW_GROUP: usize = 512 * 512;

/// How a stored file's columns are laid out: encodings other than polars' choice, by
/// column name, and whether pages are compressed (zstd at its fastest level: files are
/// rewritten on every ingest that touches their month, and level 1 took half of level
/// 3's time for a few percent more bytes).
pub struct Layout {
    pub encodings: &'static [(&'static str, Encoding)],
    pub zstd: bool,
}

/// A month partition: event ids (unique) plain, since a dictionary cannot help them.
pub const PARTITION: Layout = Layout {
    encodings: &[("event_id", Encoding::Plain)],
    zstd: true,
};

/// A month's key file: sorted 64-bit hashes, random in their low bits. Deltas packed
/// to their width (about 44 bits at 1.7 M hashes a month) beat zstd's 10 % on plain
/// values, and cost no compression pass.
pub const KEYS: Layout = Layout {
    encodings: &[("key_hash", Encoding::DeltaBinaryPacked)],
    zstd: false,
};

/// Write `df` into `out` as one Parquet file laid out as `layout` says.
pub fn write(df: &mut DataFrame, layout: &Layout, out: &mut Vec<u8>) -> Result<()> {
    let compression = match layout.zstd {
        true => ParquetCompression::Zstd(Some(ZstdLevel::try_new(1)?)),
        false => ParquetCompression::Uncompressed,
    };
    let mut writer = ParquetWriter::new(out)
        .with_compression(compression)
        .with_statistics(StatisticsOptions::default())
        .batched(df.schema())?;
    let pages = Pages::new(&mut writer, df.schema(), compression.into(), layout.encodings);
    // row groups of ROW_GROUP rows; a frame built in pieces of that size (packed_frame)
    // is cut without a copy
    df.align_chunks_par();
    let mut parts = Vec::new();
    let mut offset = 0;
    while offset < df.height() {
        let mut part = df.slice(offset as i64, ROW_GROUP);
        offset += part.height();
        if part.first_col_n_chunks() > 1 {
            part.rechunk_mut_par();
        }
        parts.push(part);
    }
    pages.write(&mut writer, &parts)?;
    writer.finish()?;
    Ok(())
}

/// How the pages of a file's columns are encoded and compressed: polars' choices
/// (`get_encodings`, default statistics, format version 1), a compression, and
/// encodings of its own for some columns.
pub struct Pages {
    options: WriteOptions,
    encodings: Vec<Vec<Encoding>>,
    fields: Vec<polars_parquet::write::ParquetType>,
}

impl Pages {
    /// The pages of the file `writer` writes (made for `schema`). With polars'
    /// default compression and no encoding of its own, they are the pages polars' own
    /// `write_batch` makes, byte for byte.
    pub fn new<W: std::io::Write>(
        writer: &mut polars::io::parquet::write::BatchedWriter<W>,
        schema: &Schema,
        compression: CompressionOptions,
        own: &[(&str, Encoding)],
    ) -> Pages {
        let arrow_schema = schema.to_arrow(CompatLevel::newest());
        let mut encodings: Vec<Vec<Encoding>> = polars::io::parquet::write::get_encodings(&arrow_schema).to_vec();
        for (name, enc) in schema.iter_names().zip(encodings.iter_mut()) {
            if let Some((_, own)) = own.iter().find(|(n, _)| *n == name.as_str()) {
                *enc = vec![*own];
            }
        }
        Pages {
            options: WriteOptions {
                statistics: StatisticsOptions::default(),
                version: Version::V1,
                compression,
                data_page_size: None,
            },
            encodings,
            fields: writer.parquet_schema().fields().to_vec(),
        }
    }

    /// Encode and compress every (chunk, column) of `frames` as a task of its own on
    /// all cores, then write the chunks in order, one row group each (empty ones
    /// skipped), as polars' `write_batch` of each frame would.
    pub fn write<W: std::io::Write>(
        &self,
        writer: &mut polars::io::parquet::write::BatchedWriter<W>,
        frames: &[DataFrame],
    ) -> PolarsResult<()> {
        let batches: Vec<_> = frames
            .iter()
            .flat_map(|df| df.iter_chunks(CompatLevel::newest(), false))
            .filter(|b| !b.is_empty())
            .collect();
        let width = self.fields.len();
        let tasks: Vec<(usize, usize)> = (0..batches.len())
            .flat_map(|b| (0..width).map(move |c| (b, c)))
            .collect();
        let pages: Vec<Vec<CompressedPage>> = tasks
            .par_iter()
            .map(|&(b, c)| -> PolarsResult<Vec<CompressedPage>> {
                let mut out = Vec::new();
                let array = &batches[b].columns()[c];
                // a text column's dictionary is built here (store/dictionary.rs): the
                // same pages, with a cheaper map than polars-parquet's cast
                let text = (self.encodings[c] == [Encoding::RleDictionary])
                    .then(|| array.as_any().downcast_ref::<polars_arrow::array::Utf8ViewArray>())
                    .flatten()
                    .filter(|a| a.len() > 0);
                let columns = match text.map(super::dictionary::text_dictionary) {
                    Some(Some(dictionary)) => array_to_columns(
                        dictionary.boxed(),
                        self.fields[c].clone(),
                        self.options,
                        &self.encodings[c],
                    )?,
                    // too many distinct values: plain, as polars-parquet falls back to
                    Some(None) => array_to_columns(array, self.fields[c].clone(), self.options, &[Encoding::Plain])?,
                    None => array_to_columns(array, self.fields[c].clone(), self.options, &self.encodings[c])?,
                };
                // one leaf per column: the frames written are flat (a nested column
                // would need an encoding per leaf, and its pages kept apart)
                polars_ensure!(columns.len() == 1, ComputeError: "a nested column in a Parquet frame");
                for column in columns {
                    for page in column {
                        out.push(compress(page?, Vec::new(), self.options.compression)?);
                    }
                }
                Ok(out)
            })
            .collect::<PolarsResult<_>>()?;
        for (b, columns) in pages.chunks(width.max(1)).enumerate() {
            writer.write_row_group(batches[b].len() as u64, columns)?;
        }
        Ok(())
    }
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

    /// Sorted hashes, delta-encoded and uncompressed, across two row groups and the
    /// sign bit (deltas wrap as signed integers): read back as the same numbers.
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
        assert!(buf.len() < hashes.len() * 8, "{} bytes", buf.len());
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

    /// With polars' default compression and no plain column, `Pages` writes the bytes
    /// polars' own `write_batch` writes, frame by frame (ledger.parquet relies on it):
    /// text columns' dictionaries built here (short and long values, nulls, one value,
    /// none) and unique text written plain included.
    #[test]
    fn pages_are_polars_pages() {
        let frame = |k: usize| {
            let n = 1000 * (k + 1);
            DataFrame::new(
                n,
                vec![
                    Column::new("entry".into(), (0..n).map(|i| format!("L{k}-{i}")).collect::<Vec<_>>()),
                    Column::new(
                        "rule".into(),
                        (0..n)
                            .map(|i| (i % 5 != 0).then(|| format!("r{}", i % 3)))
                            .collect::<Vec<_>>(),
                    ),
                    Column::new("points".into(), (0..n).map(|i| i as i64 % 17).collect::<Vec<_>>()),
                    // long values (not inline in their views), repeated, with nulls
                    Column::new(
                        "note".into(),
                        (0..n)
                            .map(|i| (i % 4 != 1).then(|| format!("一条较长的备注 {}", i % 9)))
                            .collect::<Vec<_>>(),
                    ),
                    Column::new("nothing".into(), vec![None::<&str>; n]),
                    Column::new("one".into(), vec!["签到"; n]),
                ],
            )
            .unwrap()
        };
        let frames: Vec<DataFrame> = (0..3).map(frame).collect();
        let mut by_polars = Vec::new();
        let mut writer = ParquetWriter::new(&mut by_polars).batched(frames[0].schema()).unwrap();
        for f in &frames {
            writer.write_batch(f).unwrap();
        }
        writer.finish().unwrap();
        let mut by_pages = Vec::new();
        let mut writer = ParquetWriter::new(&mut by_pages).batched(frames[0].schema()).unwrap();
        let pages = Pages::new(
            &mut writer,
            frames[0].schema(),
            ParquetCompression::default().into(),
            &[],
        );
        pages.write(&mut writer, &frames[..2]).unwrap();
        pages.write(&mut writer, &frames[2..]).unwrap();
        writer.finish().unwrap();
        assert!(
            by_pages == by_polars,
            "{} bytes against {}",
            by_pages.len(),
            by_polars.len()
        );
    }
}
