//! A stored Parquet file read a slice of rows at a time, and Parquet bytes written
//! under their checksum: for the work that passes over a whole partition once (a
//! budgeted run splitting the months among its shards), so that no more than a slice
//! of a month is decoded at a time (polars holds a text value in 16 bytes and more: a
//! month of 17 M events decodes to about 4 GB).
use super::{checksum, files::read_regular, write_atomic, Store};
use anyhow::Result;
use polars::prelude::*;

impl Store {
    /// The rows of the stored file `rel` in order, `rows` at a time, each slice handed
    /// to `each`. The bytes are checked against the checksum in the name first, as
    /// `frames_of` does.
    pub fn frames_in_slices(
        &self,
        rel: &str,
        rows: usize,
        each: &mut dyn FnMut(DataFrame) -> Result<()>,
    ) -> Result<()> {
        let path = self.dir.join(rel);
        let bytes = read_regular(&path)?;
        checksum::verify(&path, rel, &bytes)?;
        let reader = || ParquetReader::new(std::io::Cursor::new(bytes.as_slice()));
        let metadata = metadata_of(&path, &bytes)?;
        let total = metadata.num_rows;
        let rows = rows.max(1);
        let mut offset = 0;
        while offset < total {
            let slice = crate::caught::caught(|| {
                let mut r = reader();
                r.set_metadata(metadata.clone());
                r.with_slice(Some((offset, rows))).finish()
            });
            match slice {
                Ok(Ok(df)) => each(df)?,
                Ok(Err(e)) => return Err(undecodable(&path, Some(e))),
                Err(_) => return Err(undecodable(&path, None)),
            }
            offset += rows;
        }
        Ok(())
    }

    /// How many rows the stored file `rel` holds (its Parquet footer), its bytes checked
    /// against the checksum in the name first.
    pub fn rows_in(&self, rel: &str) -> Result<usize> {
        let path = self.dir.join(rel);
        let bytes = read_regular(&path)?;
        checksum::verify(&path, rel, &bytes)?;
        Ok(metadata_of(&path, &bytes)?.num_rows)
    }

    /// Whether the stored file `rel` is a regular file whose bytes match the checksum
    /// in its name.
    pub fn holds_intact(&self, rel: &str) -> bool {
        read_regular(&self.dir.join(rel)).is_ok_and(|bytes| checksum::matches(rel, &bytes))
    }

    /// Parquet bytes written as `rel_dir/stem-<checksum>.parquet` (the store's naming:
    /// never overwritten, verified on every read); returns the path in the store.
    pub fn write_parquet_bytes(&self, rel_dir: &str, stem: &str, bytes: &[u8]) -> Result<String> {
        let rel = format!("{rel_dir}/{stem}-{}.parquet", checksum::content_hex(bytes));
        write_atomic(&self.dir.join(&rel), bytes)?;
        Ok(rel)
    }
}

/// The Parquet footer of `bytes`, the stored file at `path`.
fn metadata_of(path: &std::path::Path, bytes: &[u8]) -> Result<polars::io::parquet::metadata::FileMetadataRef> {
    match crate::caught::caught(|| ParquetReader::new(std::io::Cursor::new(bytes)).get_metadata().cloned()) {
        Ok(Ok(metadata)) => Ok(metadata),
        Ok(Err(e)) => Err(undecodable(path, Some(e))),
        Err(_) => Err(undecodable(path, None)),
    }
}

/// The error for a stored file whose bytes are whole but cannot be decoded.
fn undecodable(path: &std::path::Path, e: Option<PolarsError>) -> anyhow::Error {
    let why = match e {
        Some(e) => format!("it cannot be read as Parquet ({e})"),
        None => "its Parquet cannot be decoded".to_string(),
    };
    checksum::damaged(path, &why).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A file read 3 rows at a time gives its rows in order, every one once, and its
    /// footer their number; a damaged one is an error naming it.
    #[test]
    fn slices_are_the_file_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_locked(&dir.path().join("store")).unwrap();
        let ids: Vec<String> = (0..10).map(|i| format!("E{i}")).collect();
        let mut df = DataFrame::new(10, vec![Column::new("event_id".into(), ids.clone())]).unwrap();
        let rel = store.write_frame("x", "part", &mut df).unwrap();
        let mut heights = Vec::new();
        let mut seen: Vec<String> = Vec::new();
        store
            .frames_in_slices(&rel, 3, &mut |slice| {
                heights.push(slice.height());
                seen.extend(slice.column("event_id")?.str()?.iter().flatten().map(str::to_string));
                Ok(())
            })
            .unwrap();
        assert_eq!(heights, [3, 3, 3, 1]);
        assert_eq!(seen, ids);
        assert_eq!(store.rows_in(&rel).unwrap(), 10);
        let path = store.dir.join(&rel);
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[20] ^= 1;
        std::fs::write(&path, bytes).unwrap();
        let err = store.frames_in_slices(&rel, 3, &mut |_| Ok(())).unwrap_err();
        assert!(format!("{err:#}").contains(&rel), "{err:#}");
        let err = store.rows_in(&rel).unwrap_err();
        assert!(format!("{err:#}").contains(&rel), "{err:#}");
    }
}
