//! Counting a prepared file against the store as it stands (SPEC §4): inserted,
//! updated, unchanged, ignored, rejected, over a working set of packed rows that reads
//! stored months only when a key of theirs is needed.
use super::keyed::{key_hash, Change, Keyed, Undo};
use super::prepare::ParsedRow;
use crate::store::{month_of_packed, Counts, Manifest, Store};
use crate::table::{self, SourceSpec, ACTIVITY};
use anyhow::Result;
use std::collections::{BTreeMap, BTreeSet};

/// One source's rows held in memory while ingesting.
pub(super) struct Working {
    pub(super) spec: &'static SourceSpec,
    pub(super) rows: Keyed,
    pub(super) touched_months: BTreeSet<u32>,
    pub(super) changed: bool,
    /// Activity only: months are read from the store when a key of theirs is needed,
    /// so one more day of events reads the key index and the month or two it touches.
    pub(super) lazy: Option<LazyMonths>,
}

pub(super) struct LazyMonths {
    /// Where each stored event_id may live.
    keys: crate::event_keys::KeyIndex,
    /// Stored partition of each month.
    files: BTreeMap<u32, String>,
    loaded: BTreeSet<u32>,
}

impl Working {
    pub(super) fn new(store: &Store, manifest: &Manifest, spec: &'static SourceSpec) -> Result<Working> {
        let mut w = Working {
            spec,
            rows: Keyed::new(spec),
            touched_months: BTreeSet::new(),
            changed: false,
            lazy: None,
        };
        if spec.name != ACTIVITY.name {
            for r in store.load(manifest, spec)? {
                let packed = table::pack(&r);
                w.rows.insert(key_hash(spec, &packed), packed);
            }
            return Ok(w);
        }
        let mut lazy = LazyMonths {
            keys: crate::event_keys::KeyIndex::load(store, manifest)?,
            files: BTreeMap::new(),
            loaded: BTreeSet::new(),
        };
        for (name, rel) in &manifest.events {
            lazy.files.insert(crate::event_keys::month_number(name), rel.clone());
        }
        w.lazy = Some(lazy);
        Ok(w)
    }

    /// Make sure the stored row with the key of `row` (hashing to `hash`), if any, is in `rows`.
    pub(super) fn ensure_key(&mut self, store: &Store, hash: u64, row: &[u8]) -> Result<()> {
        // nothing stored (a first ingest) or not lazy (read whole): nothing to read
        let Some(lazy) = self.lazy.as_ref().filter(|l| !l.keys.is_empty()) else {
            return Ok(());
        };
        if self.rows.contains(hash, row) {
            return Ok(());
        }
        let months: Vec<u32> = lazy.keys.months_of(hash).collect();
        for m in months {
            self.ensure_month(store, m)?;
        }
        Ok(())
    }

    /// Forget the key index (every file is counted; the commit does not need it).
    pub(super) fn forget_keys(&mut self) {
        if let Some(lazy) = self.lazy.as_mut() {
            lazy.keys = Default::default();
        }
    }

    /// The stored partition of `month` if this ingest never read it: no row of the
    /// ingest has a key stored there, so every stored row stays as it is.
    pub(super) fn unread_partition(&self, month: u32) -> Option<&str> {
        let lazy = self.lazy.as_ref()?;
        (!lazy.loaded.contains(&month))
            .then(|| lazy.files.get(&month).map(String::as_str))
            .flatten()
    }

    /// Read a stored month into `rows`, keeping any newer version read in this ingest.
    pub(super) fn ensure_month(&mut self, store: &Store, month: u32) -> Result<()> {
        let Some(lazy) = self.lazy.as_mut() else { return Ok(()) };
        if !lazy.loaded.insert(month) {
            return Ok(());
        }
        if let Some(rel) = lazy.files.get(&month) {
            for r in store.read_packed(self.spec, rel)? {
                self.rows.insert_if_absent(key_hash(self.spec, &r), r);
            }
        }
        Ok(())
    }
}

/// The result of reading one file against the working set.
pub(super) struct FileResult {
    pub(super) counts: Counts,
    /// How to take the file's rows back out of the working set (they are in it).
    pub(super) log: Vec<Undo>,
    /// Months whose partition the file's rows change (activity).
    pub(super) months: BTreeSet<u32>,
    pub(super) rejects: Vec<u8>,
    pub(super) reasons: BTreeMap<String, u64>,
}

/// Count a converted file against the store as it stands: inserted, updated,
/// unchanged, ignored, rejected (SPEC §4), with the rejects file's rows.
pub(super) fn classify(
    spec: &'static SourceSpec,
    parsed: Vec<ParsedRow>,
    work: &mut Working,
    store: &Store,
    rel: &str,
    progress: bool,
) -> Result<FileResult> {
    let mut counts = Counts::default();
    // the file's rows go into the working set as they are counted (so later rows count
    // against them, as SPEC §4 says), with a log to take them back out if gated
    let mut log = Vec::new();
    let mut months = BTreeSet::new();
    let activity = spec.name == ACTIVITY.name;
    let mut rejects = csv::Writer::from_writer(Vec::new());
    rejects.write_record(["source", "file", "line", "column", "value", "reason"])?;
    let mut reasons = BTreeMap::new();
    work.rows.reserve(parsed.len());
    let bar = crate::progress::bar(progress, parsed.len() as u64 * 64, rel);
    for (n, row) in parsed.into_iter().enumerate() {
        if let Some(b) = &bar {
            if n % 4096 == 0 {
                b.set_position(n as u64 * 64);
            }
        }
        counts.rows += 1;
        match row {
            ParsedRow::Unreadable { line, reason } => {
                counts.rejected += 1;
                *reasons
                    .entry(crate::convert::RejectKind::Unreadable.label().to_string())
                    .or_insert(0) += 1;
                rejects.write_record([spec.name, rel, &line.to_string(), "", "", &reason])?;
            }
            ParsedRow::Ignored => counts.ignored += 1,
            ParsedRow::Rejected { line, defect: d } => {
                counts.rejected += 1;
                *reasons.entry(d.kind.label().to_string()).or_insert(0) += 1;
                rejects.write_record([spec.name, rel, &line.to_string(), &d.column, &d.value, &d.reason])?;
            }
            ParsedRow::Row { hash, packed: row } => {
                work.ensure_key(store, hash, &row)?;
                if activity {
                    months.insert(month_of_packed(&row));
                }
                let (change, old) = work.rows.apply(hash, row, &mut log);
                match change {
                    Change::Inserted => counts.inserted += 1,
                    Change::Unchanged => counts.unchanged += 1,
                    Change::Updated => counts.updated += 1,
                }
                if let (true, Some(old)) = (activity, old) {
                    months.insert(month_of_packed(old));
                }
            }
        }
    }
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    let rejects = if counts.rejected > 0 {
        excel_safe(&rejects.into_inner()?)?
    } else {
        vec![]
    };
    Ok(FileResult {
        counts,
        log,
        months,
        rejects,
        reasons,
    })
}

/// The rejects as an output CSV: with a BOM, and text cells guarded like every CSV output.
fn excel_safe(csv_bytes: &[u8]) -> Result<Vec<u8>> {
    let mut rdr = csv::ReaderBuilder::new().has_headers(false).from_reader(csv_bytes);
    let mut rows = rdr.records();
    let header: Vec<String> = match rows.next() {
        Some(h) => h?.iter().map(str::to_string).collect(),
        None => return Ok(vec![]),
    };
    let mut t = crate::output::Table::with_columns("rejects", header);
    for r in rows {
        let r = r?;
        // line is a number; the rest is text from the export
        t.push(
            r.iter()
                .enumerate()
                .map(|(i, c)| {
                    if i == 2 {
                        crate::output::p(c)
                    } else {
                        crate::output::t(c)
                    }
                })
                .collect(),
        );
    }
    t.to_csv()
}
