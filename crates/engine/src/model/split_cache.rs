//! The months' split among a budgeted run's shards, kept in the store
//! (`STORE/split/n=<N>/`, docs/scale-out.md): a month's stored file changes only when
//! an ingest touches that month, so a nightly run splits the new month alone and
//! reuses the rest. An entry is keyed by the month's file name (which carries the
//! checksum of its bytes); its shards' files are named by their own checksums and
//! verified before they are used, and `shards.json`, written last, makes the entry
//! whole. An entry a kill cut short, a damaged file, another shard count or a month
//! file the manifest no longer names is removed, and the month is split again.
use crate::store::{checksum, Manifest, Store};
use anyhow::{Context, Result};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

/// The cache's folder in the store.
pub const DIR: &str = "split";

/// The file that completes an entry.
const ENTRY: &str = "shards.json";

/// One month file's split: the file holding each shard's rows (None: no row of that
/// shard's members).
#[derive(Serialize, Deserialize)]
struct Entry {
    month_file: String,
    shards: Vec<Option<String>>,
}

/// The kept split for one shard count.
pub struct SplitCache<'a> {
    store: &'a Store,
    count: u64,
    root: String,
}

impl<'a> SplitCache<'a> {
    /// The cache for `count` shards, after dropping what no month of `manifest` can use
    /// (other shard counts, months' files the manifest no longer names), so the disk
    /// never holds more than one split of the history.
    pub fn open(store: &'a Store, manifest: &Manifest, count: u64) -> Result<SplitCache<'a>> {
        let cache = SplitCache {
            store,
            count,
            root: format!("{DIR}/n={count}"),
        };
        let wanted: std::collections::HashSet<String> = manifest
            .events
            .iter()
            .map(|(month, rel)| cache.key(month, rel))
            .collect();
        let top = store.dir.join(DIR);
        for entry in read_dir_or_none(&top)? {
            if entry.file_name().to_string_lossy() != format!("n={count}") {
                remove(&entry.path())?;
            }
        }
        for entry in read_dir_or_none(&store.dir.join(&cache.root))? {
            if !wanted.contains(entry.file_name().to_string_lossy().as_ref()) {
                remove(&entry.path())?;
            }
        }
        Ok(cache)
    }

    /// The shards' files of the month file `rel`, when it was split before and every
    /// file is whole; otherwise None (and what was there is removed).
    pub fn get(&self, month: &str, rel: &str) -> Result<Option<Vec<Option<String>>>> {
        let dir = self.store.dir.join(&self.root).join(self.key(month, rel));
        let entry = match std::fs::read(dir.join(ENTRY)) {
            Ok(bytes) => serde_json::from_slice::<Entry>(&bytes).ok(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(anyhow::Error::new(e).context(format!("cannot read {}", dir.display()))),
        };
        let usable = entry.filter(|e| {
            e.month_file == rel
                && e.shards.len() == self.count as usize
                && e.shards.par_iter().flatten().all(|f| self.store.holds_intact(f))
        });
        if usable.is_none() && dir.exists() {
            remove(&dir)?;
        }
        Ok(usable.map(|e| e.shards))
    }

    /// Keep the month file `rel`'s split: each shard's bytes, then the entry that
    /// completes it. Returns each shard's file in the store.
    pub fn put(&self, month: &str, rel: &str, parts: Vec<Option<Vec<u8>>>) -> Result<Vec<Option<String>>> {
        let dir = format!("{}/{}", self.root, self.key(month, rel));
        let shards: Vec<Option<String>> = parts
            .into_par_iter()
            .enumerate()
            .map(|(s, bytes)| -> Result<Option<String>> {
                bytes
                    .map(|b| self.store.write_parquet_bytes(&dir, &format!("shard-{s}"), &b))
                    .transpose()
            })
            .collect::<Result<_>>()?;
        let entry = Entry {
            month_file: rel.to_string(),
            shards,
        };
        crate::store::write_atomic(&self.store.dir.join(&dir).join(ENTRY), &serde_json::to_vec(&entry)?)?;
        Ok(entry.shards)
    }

    /// An entry's folder: the month and a checksum of its file's name (the name
    /// carries the checksum of the month's bytes, so a new file is a new entry).
    fn key(&self, month: &str, rel: &str) -> String {
        format!("month={month}-{}", checksum::content_hex(rel.as_bytes()))
    }
}

/// A folder's entries; none when it does not exist.
fn read_dir_or_none(dir: &std::path::Path) -> Result<Vec<std::fs::DirEntry>> {
    match std::fs::read_dir(dir) {
        Ok(entries) => Ok(entries.collect::<std::io::Result<_>>()?),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(anyhow::Error::new(e).context(format!("cannot read {}", dir.display()))),
    }
}

/// Remove a cache entry (a folder, or a stray file) koc wrote.
fn remove(path: &std::path::Path) -> Result<()> {
    let removed = match std::fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() => std::fs::remove_dir_all(path),
        Ok(_) => std::fs::remove_file(path),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    };
    removed.with_context(|| format!("cannot remove {}", path.display()))
}
