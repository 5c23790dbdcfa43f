//! The months' split among a budgeted run's shards, kept in the store
//! (`STORE/split/n=<N>/`, docs/scale-out.md): a month's stored file changes only when
//! an ingest touches that month, so a nightly run splits the new month alone and
//! reuses the rest. An entry is keyed by the month's file name (which carries the
//! checksum of its bytes); its shards' files are named by their own checksums and
//! verified before they are used, and `shards.json`, written last, makes the entry
//! whole. An entry a kill cut short, a damaged file, another shard count or a month
//! file the manifest no longer names is removed, and the month is split again.
//! `koc ingest --split N` lays the same split out for a scheduler's N tasks, which read
//! it as it is (`as_it_is`, `shard_file`) and never remove or mend anything.
use crate::store::{checksum, Manifest, Store};
use anyhow::{Context, Result};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

/// The cache's folder in the store.
pub const DIR: &str = "split";

/// The file that completes an entry.
const ENTRY: &str = "shards.json";

/// What the split writes and how it names it; an entry of another version is split again.
const VERSION: u32 = 1;

/// One month file's split: the file holding each shard's rows (None: no row of that
/// shard's members).
#[derive(Serialize, Deserialize)]
struct Entry {
    version: u32,
    month_file: String,
    shards: Vec<Option<String>>,
}

/// One shard's part of a month in the kept split.
#[derive(Debug, PartialEq, Eq)]
pub enum KeptShard {
    /// Its file in the store, whole.
    File(String),
    /// The month holds no row of the shard's members.
    NoRows,
    /// The month was not split for this shard count (or its entry is not whole).
    NotKept,
    /// The entry names this file, but it is missing or does not match its checksum.
    Damaged(String),
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
        let cache = SplitCache::of(store, count);
        let wanted: std::collections::HashSet<String> = manifest
            .events
            .iter()
            .map(|(month, rel)| cache.key(month, rel))
            .collect();
        // the cache's folders must be koc's own (not links to elsewhere), and only the
        // names koc writes in them are removed
        let top = store.dir.join(DIR);
        own_folder(&top)?;
        for entry in read_dir_or_none(&top)? {
            let name = entry.file_name().to_string_lossy().to_string();
            if is_count_folder(&name) && name != format!("n={count}") {
                remove(&entry.path())?;
            }
        }
        let root = store.dir.join(&cache.root);
        own_folder(&root)?;
        for entry in read_dir_or_none(&root)? {
            let name = entry.file_name().to_string_lossy().to_string();
            if is_entry_folder(&name) && !wanted.contains(&name) {
                remove(&entry.path())?;
            }
        }
        Ok(cache)
    }

    /// The kept split for `count` shards as it is, for a reader that writes nothing to
    /// the store (a scheduler's shard task): nothing is removed. None when the cache's
    /// folders are not koc's own (a link, a file): the months are read instead.
    pub fn as_it_is(store: &'a Store, count: u64) -> Option<SplitCache<'a>> {
        let cache = SplitCache::of(store, count);
        (is_own_folder(&store.dir.join(DIR)) && is_own_folder(&store.dir.join(&cache.root))).then_some(cache)
    }

    fn of(store: &'a Store, count: u64) -> SplitCache<'a> {
        SplitCache {
            store,
            count,
            root: format!("{DIR}/n={count}"),
        }
    }

    /// The entry of the month file `rel` in the folder `dir_rel` (its own folder, its
    /// `shards.json` a regular file), when it is of this version, this month file and
    /// this shard count; None otherwise (not there, cut short, damaged, of another kind).
    fn whole_entry(&self, dir_rel: &str, rel: &str) -> Option<Entry> {
        let dir = self.store.dir.join(dir_rel);
        if !is_own_folder(&dir) {
            return None;
        }
        let bytes = crate::store::read_regular(&dir.join(ENTRY)).ok()?;
        serde_json::from_slice::<Entry>(&bytes)
            .ok()
            .filter(|e| e.version == VERSION && e.month_file == rel && e.shards.len() == self.count as usize)
    }

    /// Shard `s`'s file of the month file `rel`, as the kept split holds it. Nothing is
    /// removed: a task that reads only leaves the mending to the next split.
    pub fn shard_file(&self, month: &str, rel: &str, s: usize) -> KeptShard {
        let dir_rel = format!("{}/{}", self.root, self.key(month, rel));
        let Some(entry) = self.whole_entry(&dir_rel, rel) else {
            return KeptShard::NotKept;
        };
        match entry.shards.into_iter().nth(s).flatten() {
            None => KeptShard::NoRows,
            Some(f) if is_shard_file(&f, &dir_rel, s) && self.store.holds_intact(&f) => KeptShard::File(f),
            Some(f) => KeptShard::Damaged(f),
        }
    }

    /// The shards' files of the month file `rel`, when it was split before and every
    /// file is whole; otherwise None (and what was there is removed).
    pub fn get(&self, month: &str, rel: &str) -> Result<Option<Vec<Option<String>>>> {
        let dir_rel = format!("{}/{}", self.root, self.key(month, rel));
        let dir = self.store.dir.join(&dir_rel);
        match std::fs::symlink_metadata(&dir) {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(anyhow::Error::new(e).context(format!("cannot read {}", dir.display()))),
        }
        // each shard's file where this entry writes it, whole
        let usable = self.whole_entry(&dir_rel, rel).filter(|e| {
            e.shards.par_iter().enumerate().all(|(s, file)| {
                file.as_ref()
                    .is_none_or(|f| is_shard_file(f, &dir_rel, s) && self.store.holds_intact(f))
            })
        });
        if usable.is_none() {
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
            version: VERSION,
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

/// A shard count's folder: `n=<digits>`.
fn is_count_folder(name: &str) -> bool {
    name.strip_prefix("n=")
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

/// An entry's folder: `month=YYYY-MM-<16 hex>`.
fn is_entry_folder(name: &str) -> bool {
    name.strip_prefix("month=").is_some_and(|rest| {
        let b = rest.as_bytes();
        b.len() == 7 + 1 + 16
            && b[..4].iter().all(u8::is_ascii_digit)
            && b[4] == b'-'
            && b[5..7].iter().all(u8::is_ascii_digit)
            && b[7] == b'-'
            && b[8..].iter().all(u8::is_ascii_hexdigit)
    })
}

/// Whether `file` is shard `s`'s file in the entry `dir_rel`, as `put` names it: a
/// name pointing anywhere else (another entry, another shard) is not taken.
fn is_shard_file(file: &str, dir_rel: &str, s: usize) -> bool {
    file.strip_prefix(dir_rel)
        .and_then(|rest| rest.strip_prefix(&format!("/shard-{s}-")))
        .and_then(|rest| rest.strip_suffix(".parquet"))
        .is_some_and(|hex| hex.len() == 16 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// Whether `dir` is a folder, not a link to one.
fn is_own_folder(dir: &std::path::Path) -> bool {
    std::fs::symlink_metadata(dir).is_ok_and(|m| m.is_dir())
}

/// A folder of the cache is a folder of its own (or not there yet), never a link: the
/// clean-up must not reach outside the store.
fn own_folder(dir: &std::path::Path) -> Result<()> {
    match std::fs::symlink_metadata(dir) {
        Ok(m) if m.is_dir() => Ok(()),
        Ok(_) => Err(crate::error::KocError::usage(format!(
            "{} is not a folder koc wrote (a link or a file): the kept split of a budgeted run lives there",
            dir.display()
        ))
        .with_hint("move it out of the store; the next budgeted run writes the folder again")
        .into()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(anyhow::Error::new(e).context(format!("cannot read {}", dir.display()))),
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Only the names the cache writes are taken (and removed) as its own.
    #[test]
    fn only_the_caches_own_names_are_its_own() {
        assert!(is_count_folder("n=9") && is_count_folder("n=12"));
        assert!(!is_count_folder("n=") && !is_count_folder("n=9x") && !is_count_folder("notes"));
        assert!(is_entry_folder("month=2025-01-0123456789abcdef"));
        for other in [
            "month=2025-01",
            "month=2025-1-0123456789abcdef",
            "month=2025-01-0123456789abcdeg",
            "photos",
        ] {
            assert!(!is_entry_folder(other), "{other}");
        }
        let dir = "split/n=3/month=2025-01-0123456789abcdef";
        assert!(is_shard_file(
            &format!("{dir}/shard-2-fedcba9876543210.parquet"),
            dir,
            2
        ));
        for other in [
            format!("{dir}/shard-1-fedcba9876543210.parquet"),
            "split/n=3/month=2025-02-0123456789abcdef/shard-2-fedcba9876543210.parquet".to_string(),
            format!("{dir}/../month=2025-02-0123456789abcdef/shard-2-fedcba9876543210.parquet"),
            format!("{dir}/shard-2-fedcba9876543210.parquet/x"),
            "events/month=2025-01/part-fedcba9876543210.parquet".to_string(),
        ] {
            assert!(!is_shard_file(&other, dir, 2), "{other}");
        }
    }
}
