//! Counting a prepared file against the store as it stands (SPEC §4): inserted,
//! updated, unchanged, ignored, rejected. The sources other than activity are counted
//! here, file by file, over a working set of packed rows; activity's rows are tallied
//! here and counted by settle.rs, which reads the stored months a key of theirs may be
//! in.
use super::keyed::{key_hash, Change, Keyed, Undo};
use super::prepare::ParsedRow;
use crate::store::{Counts, Manifest, Store};
use crate::table::{self, SourceSpec, ACTIVITY};
use anyhow::Result;
use std::collections::{BTreeMap, BTreeSet};

/// One source's rows held in memory while ingesting.
pub(super) struct Working {
    pub(super) spec: &'static SourceSpec,
    pub(super) rows: Keyed,
    pub(super) touched_months: BTreeSet<u32>,
    pub(super) changed: bool,
    /// Activity: every key's final row and its month, settled by sorting (`rows` is
    /// then empty).
    pub(super) settled: Option<super::settle::Settled>,
    /// Activity only: the stored months a key of the ingest may be in are read, so one
    /// more day of events reads the key index and the month or two it touches.
    pub(super) lazy: Option<LazyMonths>,
}

pub(super) struct LazyMonths {
    /// Where each stored event_id may live.
    keys: crate::ingest::event_keys::KeyIndex,
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
            settled: None,
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
            keys: crate::ingest::event_keys::KeyIndex::load(manifest),
            files: BTreeMap::new(),
            loaded: BTreeSet::new(),
        };
        for (name, rel) in &manifest.events {
            lazy.files
                .insert(crate::ingest::event_keys::month_number(name), rel.clone());
        }
        w.lazy = Some(lazy);
        Ok(w)
    }

    /// The stored partition of `month` if this ingest never read it: no row of the
    /// ingest has a key stored there, so every stored row stays as it is.
    pub(super) fn unread_partition(&self, month: u32) -> Option<&str> {
        let lazy = self.lazy.as_ref()?;
        (!lazy.loaded.contains(&month))
            .then(|| lazy.files.get(&month).map(String::as_str))
            .flatten()
    }

    /// The stored months a key among `hashes` may be in (none on a first ingest).
    pub(super) fn months_to_read(&self, store: &Store, hashes: Vec<u64>) -> Result<BTreeSet<u32>> {
        match self.lazy.as_ref().filter(|l| !l.keys.is_empty()) {
            Some(lazy) => lazy.keys.months_holding(store, hashes),
            None => Ok(BTreeSet::new()),
        }
    }

    /// The stored rows of `months`, read (and marked read, so the commit rewrites a
    /// touched one from the rows settled, not by adding to its partition).
    pub(super) fn read_months(&mut self, store: &Store, months: &BTreeSet<u32>) -> Result<Vec<table::Packed>> {
        let Some(lazy) = self.lazy.as_mut() else {
            return Ok(Vec::new());
        };
        let mut rows = Vec::new();
        for m in months {
            if lazy.loaded.insert(*m) {
                if let Some(rel) = lazy.files.get(m) {
                    rows.extend(store.read_packed(self.spec, rel)?);
                }
            }
        }
        Ok(rows)
    }
}

/// The result of reading one file against the working set.
pub(super) struct FileResult {
    pub(super) counts: Counts,
    /// How to take the file's rows back out of the working set (they are in it).
    pub(super) log: Vec<Undo>,
    pub(super) rejects: Vec<u8>,
    pub(super) reasons: BTreeMap<String, u64>,
}

/// The rows of a file the working set never sees: ignored, rejected and unreadable
/// ones, counted and written to the file's rejects (the same for every source).
pub(super) struct Tally<'a> {
    spec: &'static SourceSpec,
    rel: &'a str,
    pub(super) counts: Counts,
    rejects: csv::Writer<Vec<u8>>,
    pub(super) reasons: BTreeMap<String, u64>,
}

impl<'a> Tally<'a> {
    pub(super) fn new(spec: &'static SourceSpec, rel: &'a str) -> Result<Tally<'a>> {
        // an output CSV like every other: a BOM, and text cells guarded (`fmt::excel_text`)
        let mut rejects = csv::Writer::from_writer(vec![0xEF, 0xBB, 0xBF]);
        rejects.write_record(["source", "file", "line", "column", "value", "reason"])?;
        Ok(Tally {
            spec,
            rel,
            counts: Counts::default(),
            rejects,
            reasons: BTreeMap::new(),
        })
    }

    /// Count one row; an accepted row (`Kept`) comes back.
    pub(super) fn note(&mut self, row: ParsedRow) -> Result<Option<ParsedRow>> {
        self.counts.rows += 1;
        match row {
            ParsedRow::Ignored => self.counts.ignored += 1,
            ParsedRow::Rejected { line, defect: d } => {
                self.counts.rejected += 1;
                *self.reasons.entry(d.kind.label().to_string()).or_insert(0) += 1;
                use crate::fmt::excel_text;
                let line = line.to_string();
                let cells = [
                    excel_text(self.spec.name),
                    excel_text(self.rel),
                    line.as_str().into(),
                    excel_text(&d.column),
                    excel_text(&d.value),
                    excel_text(&d.reason),
                ];
                self.rejects.write_record(cells.iter().map(|c| c.as_bytes()))?;
            }
            accepted @ ParsedRow::Kept { .. } => return Ok(Some(accepted)),
        }
        Ok(None)
    }

    /// Whether the file's rejects exceed the gate (SPEC §4): known before its rows count.
    pub(super) fn gated(&self, max_reject_ratio: f64) -> bool {
        self.counts.rows > 0 && self.counts.rejected as f64 / self.counts.rows as f64 > max_reject_ratio
    }

    /// The rejects file's bytes (none when nothing was rejected).
    pub(super) fn rejects(self) -> Result<Vec<u8>> {
        if self.counts.rejected > 0 {
            Ok(self.rejects.into_inner()?)
        } else {
            Ok(vec![])
        }
    }
}

/// Count a converted file against the store as it stands: inserted, updated,
/// unchanged, ignored, rejected (SPEC §4), with the rejects file's rows.
pub(super) fn classify(
    spec: &'static SourceSpec,
    parsed: Vec<ParsedRow>,
    arena: &[u8],
    work: &mut Working,
    rel: &str,
    progress: bool,
) -> Result<FileResult> {
    // the file's rows go into the working set as they are counted (so later rows count
    // against them, as SPEC §4 says), with a log to take them back out if gated
    let mut log = Vec::new();
    let mut tally = Tally::new(spec, rel)?;
    let mut at = 0; // where the next kept row starts in `arena`
    work.rows.reserve(parsed.len());
    let bar = crate::progress::bar(progress, parsed.len() as u64 * 64, rel);
    for (n, row) in parsed.into_iter().enumerate() {
        if let Some(b) = &bar {
            if n % 4096 == 0 {
                b.set_position(n as u64 * 64);
            }
        }
        let (hash, row) = match tally.note(row)? {
            Some(ParsedRow::Kept { hash, len, .. }) => {
                let row = table::Packed::from(&arena[at..at + len as usize]);
                at += len as usize;
                (hash, row)
            }
            _ => continue,
        };
        let (change, _) = work.rows.apply(hash, row, &mut log);
        match change {
            Change::Inserted => tally.counts.inserted += 1,
            Change::Unchanged => tally.counts.unchanged += 1,
            Change::Updated => tally.counts.updated += 1,
        }
    }
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    let counts = tally.counts.clone();
    let reasons = std::mem::take(&mut tally.reasons);
    Ok(FileResult {
        counts,
        log,
        rejects: tally.rejects()?,
        reasons,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::convert::{Defect, RejectKind};

    /// A line the CSV reader cannot read is a rejection like any other (SPEC §4: rows
    /// in = rows accounted for): counted, under its own reason, with an empty column
    /// and value in the rejects file.
    #[test]
    fn an_unreadable_line_is_a_reject_row_with_its_reason() {
        let mut tally = Tally::new(&ACTIVITY, "exports/a.csv").unwrap();
        let unreadable = ParsedRow::Rejected {
            line: 7,
            defect: Box::new(Defect {
                kind: RejectKind::Unreadable,
                column: String::new(),
                value: String::new(),
                reason: "unreadable row: a broken record".into(),
            }),
        };
        assert!(tally.note(unreadable).unwrap().is_none());
        assert!(tally.note(ParsedRow::Ignored).unwrap().is_none());
        assert_eq!(
            (tally.counts.rows, tally.counts.rejected, tally.counts.ignored),
            (2, 1, 1)
        );
        assert_eq!(tally.reasons, BTreeMap::from([("unreadable row".to_string(), 1)]));
        let text = String::from_utf8(tally.rejects().unwrap()).unwrap();
        assert!(
            text.ends_with("activity,exports/a.csv,7,,,unreadable row: a broken record\n"),
            "{text}"
        );
    }
}
