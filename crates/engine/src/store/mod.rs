//! The event store (SPEC §4, §11): Parquet tables (events partitioned by month),
//! a manifest that names the current files, a lock, and atomic writes.
//!
//! Data files carry a content hash in their name and are never overwritten; the
//! manifest is replaced last by a rename, so a command killed at any moment leaves
//! the store as before or as after. Files the manifest does not name are leftovers
//! of a killed command and are removed under the lock — but only files koc names
//! itself (`<stem>-<16 hex>.parquet`), never through a symlink: the store owns only
//! what it wrote, and a folder holding anything else is refused, not cleaned.
use crate::error::{ErrorKind, KocError};
use crate::fmt::day_of_ts;
use crate::table::{Row, SourceSpec, ACTIVITY};
use anyhow::{Context, Result};
use polars::prelude::*;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};

pub mod checksum;
mod files;
mod frames;
pub(crate) mod parquet;
mod slices;
mod write;
pub(crate) use files::read_regular;
pub use files::refuse_output_inside;
use files::{remove_empty_dirs, walk, OWN_ENTRIES};
use frames::{from_frame, packed_from_frame, packed_to_frame};
pub use write::{dir_mode, file_mode, write_atomic};

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Counts {
    pub rows: u64,
    pub inserted: u64,
    pub updated: u64,
    pub unchanged: u64,
    pub ignored: u64,
    pub rejected: u64,
}

impl Counts {
    /// rows, inserted, updated, unchanged, ignored, rejected — the order of every count table.
    pub fn values(&self) -> [u64; 6] {
        [
            self.rows,
            self.inserted,
            self.updated,
            self.unchanged,
            self.ignored,
            self.rejected,
        ]
    }

    pub fn add(&mut self, o: &Counts) {
        self.rows += o.rows;
        self.inserted += o.inserted;
        self.updated += o.updated;
        self.unchanged += o.unchanged;
        self.ignored += o.ignored;
        self.rejected += o.rejected;
    }
}

/// What the store knows of one ingested export file.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct FileRecord {
    pub path: String,
    pub source: String,
    pub sha256: String,
    pub encoding: String,
    pub counts: Counts,
    /// Reject reasons (their kind, without the value) and how often each occurred.
    #[serde(default)]
    pub reject_reasons: BTreeMap<String, u64>,
    #[serde(default)]
    pub rejects_file: Option<String>,
    /// When it was ingested, program-local `YYYY-MM-DD HH:MM:SS` (freshness, SPEC §11).
    #[serde(default)]
    pub ingested_at: Option<String>,
    /// The ingest that took it (1, 2, …): the files of the latest batch are "tonight's
    /// files" of the report, a function of the store like every output.
    #[serde(default)]
    pub batch: u64,
    /// Size and modification time when it was read: the same path with the same size
    /// and time is not read and hashed again (like make and rsync).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stat: Option<FileStat>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq)]
pub struct FileStat {
    pub size: u64,
    pub mtime_ns: i128,
    /// The inode's change time and number: copy tools (`cp -p`, `rsync -a`, unzip)
    /// keep a file's mtime but cannot keep these, so a re-sent file is read again.
    #[serde(default)]
    pub ctime_ns: i128,
    #[serde(default)]
    pub inode: u64,
}

impl FileStat {
    pub fn of(meta: &std::fs::Metadata) -> Option<FileStat> {
        let mtime = meta.modified().ok()?.duration_since(std::time::UNIX_EPOCH).ok()?;
        #[cfg(unix)]
        let (ctime_ns, inode) = {
            use std::os::unix::fs::MetadataExt;
            (
                meta.ctime() as i128 * 1_000_000_000 + meta.ctime_nsec() as i128,
                meta.ino(),
            )
        };
        #[cfg(not(unix))]
        let (ctime_ns, inode) = (0, 0);
        Some(FileStat {
            size: meta.len(),
            mtime_ns: mtime.as_nanos() as i128,
            ctime_ns,
            inode,
        })
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Manifest {
    /// Every file taken into the store, in ingest order (latest version per path).
    pub files: Vec<FileRecord>,
    /// Current data file of each non-event source, relative to the store.
    pub tables: BTreeMap<String, String>,
    /// Current data file of each month of events ("2025-07" → path).
    pub events: BTreeMap<String, String>,
    /// Events whose member is not in the members source, as of the last commit.
    #[serde(default)]
    pub events_of_unknown_members: u64,
    /// The same count per month of events, so one more day recounts only its months.
    #[serde(default)]
    pub unknown_by_month: BTreeMap<String, u64>,
    /// The event-id → month index (`event_keys`).
    #[serde(default)]
    pub event_keys: Option<KeyIndexFile>,
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, PartialEq)]
pub struct KeyIndexFile {
    /// Per month of events ("2025-07"), the file of its event-id hashes (a month
    /// without one is hashed from its partition and gets one at the next commit).
    #[serde(default)]
    pub months: BTreeMap<String, String>,
    /// The partition each key file was made from: a key file whose month has another
    /// partition now is stale and not used (the month is hashed from its partition).
    #[serde(default)]
    pub partitions: BTreeMap<String, String>,
    /// The hash function of the index (`event_keys::HASH`).
    pub hash: String,
}

impl Manifest {
    /// The files of the latest ingest that took any.
    pub fn last_batch(&self) -> impl Iterator<Item = &FileRecord> {
        let last = self.files.iter().map(|f| f.batch).max().unwrap_or(0);
        self.files.iter().filter(move |f| f.batch == last)
    }

    /// The sha256 recorded for this path when its size and modification time are
    /// unchanged since it was read.
    pub fn unchanged_sha(&self, path: &str, stat: Option<FileStat>) -> Option<&str> {
        let stat = stat?;
        self.files
            .iter()
            .rev()
            .find(|f| f.path == path)
            .filter(|f| f.stat == Some(stat))
            .map(|f| f.sha256.as_str())
    }

    pub fn knows_sha(&self, sha: &str) -> bool {
        self.files.iter().any(|f| f.sha256 == sha)
    }
}

pub struct Store {
    pub dir: PathBuf,
    _lock: Option<File>,
}

impl Store {
    /// Open (creating) the store and take its lock; a held lock is exit 4 at once.
    /// The lock is an OS file lock, so one left by a killed process is free again.
    pub fn open_locked(dir: &Path) -> Result<Store> {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create store {}", dir.display()))?;
        let lock_path = dir.join(".lock");
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .with_context(|| format!("cannot open {}", lock_path.display()))?;
        match fs4::fs_std::FileExt::try_lock_exclusive(&file) {
            Ok(true) => {
                // the holder's process id, for the message another command gives
                use std::io::Write;
                let mut f = &file;
                let _ = file.set_len(0).and_then(|_| writeln!(f, "{}", std::process::id()));
            }
            _ => {
                let holder = std::fs::read_to_string(&lock_path)
                    .ok()
                    .and_then(|t| t.trim().parse::<u32>().ok())
                    .map(|pid| format!(" (process {pid})"))
                    .unwrap_or_default();
                return Err(KocError::new(
                    ErrorKind::Locked,
                    format!("another koc command{holder} holds the lock of the store {}", dir.display()),
                )
                .with_hint("wait for it to finish (a nightly run takes minutes), or check that the process is still alive: `ps -p PID`")
                .into());
            }
        }
        let store = Store {
            dir: dir.to_path_buf(),
            _lock: Some(file),
        };
        store.check_ownership()?;
        if !store.dir.join("manifest.json").exists() && !store.has_partitions() {
            // a new store gets its (empty) manifest before its first data file: files
            // of a first ingest killed half way are then leftovers like any other's
            store.write_manifest(&Manifest::default())?;
        }
        store.remove_leftovers()?;
        Ok(store)
    }

    /// Open without the lock, for read-only commands.
    pub fn open_read(dir: &Path) -> Store {
        Store {
            dir: dir.to_path_buf(),
            _lock: None,
        }
    }

    pub fn manifest(&self) -> Result<Manifest> {
        let p = self.dir.join("manifest.json");
        if !p.exists() {
            if self.has_partitions() {
                return Err(KocError::new(
                    ErrorKind::Runtime,
                    format!(
                        "the store {} has data files but no manifest.json: it cannot tell which are current",
                        self.dir.display()
                    ),
                )
                .with_hint(
                    "restore manifest.json from a backup; or move the store folder aside and run `koc ingest` \
                     again from every export (run `koc check-store PIPELINE` to see what is there)",
                )
                .into());
            }
            return Ok(Manifest::default());
        }
        let bytes = std::fs::read(&p).with_context(|| format!("cannot read the store manifest {}", p.display()))?;
        serde_json::from_slice(&bytes).map_err(|e| {
            KocError::new(
                ErrorKind::Runtime,
                format!("the store manifest {} is damaged: {e}", p.display()),
            )
            .with_hint("restore manifest.json from a backup, or move the store folder aside and ingest again")
            .into()
        })
    }

    /// Whether `events/` or `tables/` hold any entry (data written by an earlier ingest).
    fn has_partitions(&self) -> bool {
        ["events", "tables"].iter().any(|sub| {
            std::fs::read_dir(self.dir.join(sub))
                .map(|mut d| d.next().is_some())
                .unwrap_or(false)
        })
    }

    /// Refuse a store folder that holds what koc did not write: a new store must be an
    /// empty (or new) folder, and under `events/` and `tables/` only koc's own data
    /// files may live. Nothing is deleted here.
    fn check_ownership(&self) -> Result<()> {
        let foreign = |what: String| -> anyhow::Error {
            KocError::usage(format!("the store folder {} {what}", self.dir.display()))
                .with_hint(
                    "koc only deletes files it wrote; point `store:` at a new or empty folder, \
                     or move the foreign files out of the store",
                )
                .into()
        };
        if !self.dir.join("manifest.json").exists() && !self.has_partitions() {
            let mut others: Vec<String> = std::fs::read_dir(&self.dir)?
                .flatten()
                .map(|e| e.file_name().to_string_lossy().to_string())
                // a `.tmp…` is koc's own: the temp file of an atomic write a kill
                // interrupted (the first manifest's, killed before its rename)
                .filter(|n| !OWN_ENTRIES.contains(&n.as_str()) && !n.starts_with(".tmp"))
                .collect();
            if !others.is_empty() {
                others.sort();
                others.truncate(3);
                return Err(foreign(format!(
                    "is not a koc store and is not empty (it holds {})",
                    others.join(", ")
                )));
            }
        }
        for sub in ["tables", "events"] {
            let root = self.dir.join(sub);
            if let Some(bad) = walk(&root)?.into_iter().find(|e| !e.owned) {
                return Err(foreign(format!("holds {} that koc did not write", bad.path.display())));
            }
        }
        Ok(())
    }

    pub fn write_manifest(&self, m: &Manifest) -> Result<()> {
        let json = serde_json::to_vec_pretty(m)?;
        write_atomic(&self.dir.join("manifest.json"), &json)?;
        self.remove_leftovers()
    }

    /// Delete data files the manifest does not name (left by a killed command).
    fn remove_leftovers(&self) -> Result<()> {
        let m = self.manifest()?;
        let keep: std::collections::HashSet<PathBuf> = m
            .tables
            .values()
            .chain(m.events.values())
            .chain(m.event_keys.iter().flat_map(|k| k.months.values()))
            .map(|p| self.dir.join(p))
            .collect();
        for sub in ["tables", "events"] {
            let root = self.dir.join(sub);
            if !root.exists() {
                continue;
            }
            for entry in walk(&root)? {
                if entry.owned && !keep.contains(&entry.path) {
                    let _ = std::fs::remove_file(&entry.path);
                }
            }
            remove_empty_dirs(&root);
        }
        let _ = std::fs::remove_dir_all(self.dir.join(".tmp"));
        Ok(())
    }

    /// Write rows (packed, as ingest holds them) as a new content-named Parquet file;
    /// returns its store-relative path.
    pub fn write_packed(&self, rel_dir: &str, stem: &str, spec: &SourceSpec, rows: &[&[u8]]) -> Result<String> {
        self.write_frame(rel_dir, stem, &mut packed_frame(spec, rows)?)
    }

    /// A stored event partition with `rows` added, sorted as partitions are (by
    /// occurred_at, then event_id: ids are unique, so the order is total).
    pub fn add_sorted(&self, spec: &SourceSpec, stored_rel: &str, rows: &[&[u8]]) -> Result<DataFrame> {
        let names: Vec<&str> = spec.cols.iter().map(|c| c.name).collect();
        let mut all = self.frames_of(stored_rel, None)?.select(names)?;
        all.vstack_mut_owned(packed_to_frame(spec, rows)?)?;
        Ok(all.sort(["occurred_at", "event_id"], SortMultipleOptions::default())?)
    }

    /// Write a frame as a new content-named Parquet file; returns its store-relative path.
    pub fn write_frame(&self, rel_dir: &str, stem: &str, df: &mut DataFrame) -> Result<String> {
        self.write_frame_as(rel_dir, stem, df, &parquet::PARTITION)
    }

    /// `write_frame` with a layout of its own (key files).
    pub fn write_frame_as(
        &self,
        rel_dir: &str,
        stem: &str,
        df: &mut DataFrame,
        layout: &parquet::Layout,
    ) -> Result<String> {
        let mut buf = Vec::new();
        parquet::write(df, layout, &mut buf).map_err(|e| anyhow::anyhow!("writing parquet: {e}"))?;
        // the content's checksum names the file: never overwritten, verified on every read
        self.write_parquet_bytes(rel_dir, stem, &buf)
    }

    pub fn read_rows(&self, spec: &SourceSpec, rel: &str) -> Result<Vec<Row>> {
        from_frame(spec, &self.frames_of(rel, None)?)
    }

    /// `read_rows`, packed straight from the columns (no `Val` per value).
    pub fn read_packed(&self, spec: &SourceSpec, rel: &str) -> Result<Vec<crate::table::Packed>> {
        packed_from_frame(spec, &self.frames_of(rel, None)?)
    }

    /// One stored Parquet file, optionally only some columns. Its bytes are checked
    /// against the checksum in its name before they are decoded: a damaged or swapped
    /// file is an error naming it, never a panic or other numbers.
    pub fn frames_of(&self, rel: &str, columns: Option<&[&str]>) -> Result<DataFrame> {
        let path = self.dir.join(rel);
        let bytes = read_regular(&path)?;
        checksum::verify(&path, rel, &bytes)?;
        let columns: Option<Vec<String>> = columns.map(|cols| cols.iter().map(|c| c.to_string()).collect());
        let decoded = crate::caught::caught(|| {
            ParquetReader::new(std::io::Cursor::new(bytes.as_slice()))
                .with_columns(columns)
                .finish()
        });
        match decoded {
            Ok(Ok(df)) => Ok(df),
            Ok(Err(e)) => Err(checksum::damaged(&path, &format!("it cannot be read as Parquet ({e})")).into()),
            Err(_) => Err(checksum::damaged(&path, "its Parquet cannot be decoded").into()),
        }
    }

    /// The stored Parquet frames of a source (events: one per month, in month order).
    pub fn frames(&self, m: &Manifest, spec: &SourceSpec, columns: Option<&[&str]>) -> Result<Vec<DataFrame>> {
        let rels: Vec<&String> = if spec.name == ACTIVITY.name {
            m.events.values().collect()
        } else {
            m.tables.get(spec.name).into_iter().collect()
        };
        rels.into_iter().map(|rel| self.frames_of(rel, columns)).collect()
    }

    /// Every stored row of a source other than activity (events are read by month:
    /// `frames`, `read_rows`).
    pub fn load(&self, m: &Manifest, spec: &SourceSpec) -> Result<Vec<Row>> {
        debug_assert_ne!(spec.name, ACTIVITY.name);
        match m.tables.get(spec.name) {
            Some(rel) => self.read_rows(spec, rel),
            None => Ok(vec![]),
        }
    }
}

/// The month partition of an event row, as a number (2025-07 → 202507): cheap to
/// compute for every row; `month_name` turns it into the folder's `YYYY-MM`.
pub fn month_of(row: &Row) -> u32 {
    month_of_ts(row[OCCURRED_AT].ts())
}

/// Packed rows as a frame, built in pieces of a fixed size on all cores (fixed, so
/// the frame does not depend on the number of threads).
pub fn packed_frame(spec: &SourceSpec, rows: &[&[u8]]) -> Result<DataFrame> {
    use rayon::prelude::*;
    const PIECE: usize = 1 << 18;
    let pieces: Vec<DataFrame> = rows
        .par_chunks(PIECE)
        .map(|piece| {
            let (bytes, lens) = frames::gather(piece);
            packed_to_frame(spec, &frames::rows_of(&bytes, &lens))
        })
        .collect::<Result<_>>()?;
    let mut pieces = pieces.into_iter();
    let mut df = match pieces.next() {
        Some(first) => first,
        None => packed_to_frame(spec, &[])?,
    };
    for piece in pieces {
        df.vstack_mut_owned(piece)?;
    }
    Ok(df)
}

/// The month partition of a packed event row.
pub fn month_of_packed(row: &[u8]) -> u32 {
    month_of_ts(ts_of_packed(row))
}

/// Where `occurred_at` is in a packed event row (`ACTIVITY`'s third column; a test
/// holds it to the spec): found once, not by name for every row.
const OCCURRED_AT: usize = 2;

/// The time of a packed event row (0 if it has none, which conversion never lets by).
pub fn ts_of_packed(row: &[u8]) -> crate::fmt::Ts {
    crate::table::packed_ref(row, OCCURRED_AT).ts()
}

/// The month (2025-07 → 202507) of a time.
pub fn month_of_ts(ts: crate::fmt::Ts) -> u32 {
    let (y, m, _) = crate::fmt::civil_from_days(day_of_ts(ts));
    y as u32 * 100 + m
}

pub fn month_name(m: u32) -> String {
    format!("{:04}-{:02}", m / 100, m % 100)
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    let mut h = Sha256::new();
    h.update(bytes);
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A new store has its (empty) manifest as soon as the lock is taken, before any
    /// data file: a first ingest killed later leaves only leftovers.
    #[test]
    fn a_new_store_gets_its_manifest_before_anything_else() {
        let dir = tempfile::tempdir().unwrap();
        let store_dir = dir.path().join("store");
        let store = Store::open_locked(&store_dir).unwrap();
        let m: Manifest = serde_json::from_slice(&std::fs::read(store_dir.join("manifest.json")).unwrap()).unwrap();
        assert!(m.files.is_empty() && m.events.is_empty() && m.tables.is_empty());
        drop(store);
        // an uncommitted data file beside it is a leftover, removed by the next open
        let leftover = store_dir.join("events/month=2025-01/part-0123456789abcdef.parquet");
        std::fs::create_dir_all(leftover.parent().unwrap()).unwrap();
        std::fs::write(&leftover, b"half written").unwrap();
        Store::open_locked(&store_dir).unwrap();
        assert!(!leftover.exists());
    }

    /// Outputs inside the store are refused, however the path is spelt; beside it not.
    #[test]
    fn outputs_inside_the_store_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let store = dir.path().join("store");
        std::fs::create_dir_all(store.join("runs")).unwrap();
        std::os::unix::fs::symlink(store.join("runs"), dir.path().join("link")).unwrap();
        for inside in [
            store.join("events"),
            store.join("runs/x/y"),
            dir.path().join("link/sim"),
            store.join("../store"),
        ] {
            assert!(
                refuse_output_inside(&store, &inside, "--out").is_err(),
                "{}",
                inside.display()
            );
        }
        for outside in [
            dir.path().join("sim"),
            dir.path().join("store2"),
            dir.path().join("store-sim/x"),
        ] {
            assert!(
                refuse_output_inside(&store, &outside, "--out").is_ok(),
                "{}",
                outside.display()
            );
        }
    }

    /// A packed event's time is read where the spec puts `occurred_at`.
    #[test]
    fn occurred_at_is_where_the_spec_puts_it() {
        assert_eq!(ACTIVITY.index("occurred_at"), OCCURRED_AT);
        let mut row = Vec::new();
        for (i, _) in ACTIVITY.cols.iter().enumerate() {
            crate::table::push_packed(
                &mut row,
                match i {
                    OCCURRED_AT => crate::table::ValRef::Ts(1_738_540_800), // 2025-02-03
                    _ => crate::table::ValRef::Str("x"),
                },
            );
        }
        assert_eq!(ts_of_packed(&row), 1_738_540_800);
        assert_eq!(month_of_packed(&row), 202502);
    }
}
