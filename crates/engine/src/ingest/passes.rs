//! An ingest in passes under a memory budget (`ingest.memory_budget`, `koc ingest
//! --memory-budget`; docs/scale-out.md): the whole history of a big program is read a
//! few files at a time, each pass committed before the next.
use super::{ingest_in, FileStatus, IngestReport, Mode};
use crate::diagnostics::Warning;
use crate::pipeline::program::Program;
use crate::store::{Counts, Store};
use anyhow::Result;
use std::collections::HashSet;
use std::path::{Path, PathBuf};

/// What a pass holds besides its new files: the process itself (koc and polars, about
/// 0.3 GB resident before the first file), the program and the members, and what grows
/// with the store (a stored month a re-delivered row sends it back to; the key index is
/// read a month at a time and no longer held). At 200 M stored events a pass of one
/// 1.1 GB file peaked below one of two files at 5 M (bench/README.md, session 16): a
/// few bytes per stored event cover it.
const BASE_BYTES: u64 = 320 << 20;
const BYTES_PER_STORED_EVENT: u64 = 4;
/// What a pass holds per byte of new export it reads (rows, arenas, the settle's sort,
/// a month's partition encoded a slice at a time: 2.2 at 20 M events, 2.85 for two
/// 0.78 GB files at 200 M), rounded up.
const BYTES_PER_EXPORT_BYTE: u64 = 3;

/// Ingest in passes whose new export files fit a memory budget (`ingest.memory_budget`,
/// `koc ingest --memory-budget`): each pass reads as many new export bytes, in the
/// files' order, as the budget leaves beside what the store already holds (at least
/// one file), settles and commits them before the next. SPEC §4 counts each file
/// against the store as the files before it left it, so the store and every file's
/// counts are those of one pass.
pub fn ingest_within(prog: &Program, store: &Store, progress: bool, budget: u64) -> Result<IngestReport> {
    let mut passes: Vec<IngestReport> = Vec::new();
    // every pass joins one batch: to the report, one ingest
    let batch = store.manifest()?.files.iter().map(|f| f.batch).max().unwrap_or(0) + 1;
    let mut tried: HashSet<PathBuf> = HashSet::new();
    loop {
        let mut pass = PassBudget::new(allowance(store, budget)?, std::mem::take(&mut tried));
        let report = ingest_in(prog, store, progress, Mode::Write, Some(&mut pass), Some(batch))?;
        passes.push(report);
        if pass.waiting == 0 {
            break;
        }
        // a file read once and not stored (held back by the reject gate, or a copy of a
        // stored file under another name) is not new to the next pass: no pass waits on it
        tried = pass.tried;
        tried.extend(pass.taken);
    }
    Ok(joined(passes))
}

/// The new export bytes one pass may read: the budget less what the store's events
/// take, in export bytes (a store past the budget leaves one file a pass).
fn allowance(store: &Store, budget: u64) -> Result<u64> {
    let stored: u64 = store
        .manifest()?
        .files
        .iter()
        .filter(|f| f.source == crate::table::ACTIVITY.name)
        .map(|f| f.counts.inserted)
        .sum();
    let base = BASE_BYTES + stored * BYTES_PER_STORED_EVENT;
    Ok((budget.saturating_sub(base) / BYTES_PER_EXPORT_BYTE).max(1))
}

/// The passes of one budgeted ingest as one report: each file with what the pass that
/// read it found (later passes see it as skipped), totals summed, warnings once.
fn joined(mut passes: Vec<IngestReport>) -> IngestReport {
    let count = passes.len();
    let mut last = passes.pop().unwrap_or_default();
    for earlier in passes.iter().rev() {
        for f in &earlier.files {
            if f.status == FileStatus::Skipped {
                continue;
            }
            if let Some(slot) = last
                .files
                .iter_mut()
                .find(|x| x.path == f.path && x.source == f.source && x.status == FileStatus::Skipped)
            {
                *slot = f.clone();
            }
        }
    }
    let mut warnings: Vec<Warning> = Vec::new();
    for w in passes
        .iter()
        .flat_map(|p| p.warnings.iter())
        .chain(last.warnings.iter())
    {
        if !warnings.iter().any(|x| x.code == w.code && x.message == w.message) {
            warnings.push(w.clone());
        }
    }
    // a gated file is read again by every later pass: listed once
    let mut gated: Vec<String> = Vec::new();
    for g in passes.iter().flat_map(|p| &p.gated).chain(&last.gated) {
        if !gated.contains(g) {
            gated.push(g.clone());
        }
    }
    let mut totals = Counts::default();
    for f in &last.files {
        totals.add(&f.counts);
    }
    IngestReport {
        files: last.files,
        totals,
        gated,
        events_of_unknown_members: last.events_of_unknown_members,
        warnings,
        passes: count,
    }
}

/// A size such as `6G`, `6GiB`, `512M`, `800MB` or a number of bytes (powers of 1024).
pub fn parse_bytes(text: &str) -> Option<u64> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit() && c != '.').unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let n: f64 = number.parse().ok()?;
    let unit = unit.trim().to_ascii_lowercase();
    let scale: f64 = match unit.trim_end_matches("ib").trim_end_matches('b') {
        "" => 1.0,
        "k" => 1024.0,
        "m" => 1024.0 * 1024.0,
        "g" => 1024.0 * 1024.0 * 1024.0,
        "t" => 1024.0f64.powi(4),
        _ => return None,
    };
    let bytes = n * scale;
    (bytes.is_finite() && bytes >= 1.0).then_some(bytes as u64)
}

/// What one pass may still read: the new export bytes it took so far against its
/// share of the budget, across the sources in their ingest order.
#[derive(Debug)]
pub(super) struct PassBudget {
    max: u64,
    used: u64,
    /// A new file did not fit: every new file after it waits (SPEC §4's order of
    /// files, and the manifest's, is kept).
    full: bool,
    /// New files left for the next pass.
    pub(super) waiting: usize,
    /// Files an earlier pass read that are still not stored (gated, or copies): read
    /// again in their place, outside the budget, so that no pass waits on them.
    tried: HashSet<PathBuf>,
    /// The new files this pass takes.
    taken: Vec<PathBuf>,
}

impl PassBudget {
    pub(super) fn new(max: u64, tried: HashSet<PathBuf>) -> PassBudget {
        PassBudget {
            max,
            used: 0,
            full: false,
            waiting: 0,
            tried,
            taken: Vec::new(),
        }
    }

    /// The files of this pass: every stored one (known by size and time: it is only
    /// skipped), and the new ones in order while they fit (the pass's first always).
    pub(super) fn take(&mut self, files: Vec<PathBuf>, stored: impl Fn(&Path) -> bool) -> Vec<PathBuf> {
        let mut now = Vec::with_capacity(files.len());
        for path in files {
            if stored(&path) || self.tried.contains(&path) {
                now.push(path);
                continue;
            }
            let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
            if !self.full && (self.used == 0 || self.used + size <= self.max) {
                self.used += size;
                self.taken.push(path.clone());
                now.push(path);
            } else {
                self.full = true;
                self.waiting += 1;
            }
        }
        now
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_are_read_in_powers_of_1024() {
        assert_eq!(parse_bytes("6G"), Some(6 << 30));
        assert_eq!(parse_bytes("6GiB"), Some(6 << 30));
        assert_eq!(parse_bytes("512M"), Some(512 << 20));
        assert_eq!(parse_bytes("800MB"), Some(800 << 20));
        assert_eq!(parse_bytes("1.5k"), Some(1536));
        assert_eq!(parse_bytes("4096"), Some(4096));
        assert_eq!(parse_bytes("lots"), None);
        assert_eq!(parse_bytes("0"), None);
        assert_eq!(parse_bytes("6X"), None);
    }

    #[test]
    fn a_pass_takes_new_files_in_order_while_they_fit() {
        let dir = tempfile::tempdir().unwrap();
        let file = |name: &str, size: usize| {
            let p = dir.path().join(name);
            std::fs::write(&p, vec![b'x'; size]).unwrap();
            p
        };
        let files = vec![
            file("a", 10),
            file("b", 50),
            file("old", 500),
            file("c", 30),
            file("d", 5),
        ];
        let stored = |p: &Path| p.ends_with("old");
        // 10 + 50 fit 70; c (30) does not, so d waits too, though it would fit
        let mut pass = PassBudget::new(70, HashSet::new());
        let now = pass.take(files.clone(), stored);
        let names: Vec<_> = now.iter().map(|p| p.file_name().unwrap().to_str().unwrap()).collect();
        assert_eq!(names, ["a", "b", "old"]);
        assert_eq!(pass.waiting, 2);
        // a later source's new files wait too (the ingest order is kept)
        assert!(pass.take(vec![file("e", 1)], stored).is_empty());
        assert_eq!(pass.waiting, 3);
        // the pass's first new file always goes, however large
        let mut pass = PassBudget::new(1, HashSet::new());
        assert_eq!(pass.take(files.clone(), stored).len(), 2);
        assert_eq!(pass.waiting, 3);
        // a file an earlier pass read but could not store (gated) is read again outside
        // the budget, so the next new file still goes: every pass makes progress
        let mut pass = PassBudget::new(1, HashSet::from([files[0].clone()]));
        let names: Vec<_> = pass
            .take(files, stored)
            .iter()
            .map(|p| p.file_name().unwrap().to_str().unwrap().to_string())
            .collect();
        assert_eq!(names, ["a", "b", "old"]);
        assert_eq!(pass.taken.len(), 1, "b is the pass's one new file");
    }
}
