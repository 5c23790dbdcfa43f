//! `koc ingest` (SPEC §4): export rows → canonical rows, rejects, upsert counts,
//! the reject-ratio gate, and one atomic commit of the store.
pub mod convert;
pub mod event_keys;
pub mod privacy;
pub mod sources;
pub mod timestamps;
use crate::config::Loaded;
use crate::convert::{Converter, Outcome};
use crate::error::{ErrorKind, KocError};
use crate::store::{month_name, month_of_packed, sha256_hex, write_atomic, Counts, FileRecord, Keyed, Manifest, Store};
use crate::table::{self, SourceSpec, ACTIVITY};
use crate::timestamps::TsParser;
use anyhow::Result;
use rayon::prelude::*;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// What one ingest did, file by file.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct IngestReport {
    pub files: Vec<FileOutcome>,
    pub totals: Counts,
    /// Files whose rejects exceeded the gate (they changed nothing).
    pub gated: Vec<String>,
    /// Events in the store whose member is not in the members source.
    pub events_of_unknown_members: u64,
    /// Problems that did not stop the ingest (SPEC §2 warnings).
    pub warnings: Vec<Warning>,
}

/// A warning of SPEC §2: a code and a message, on stderr, in run.json and the report.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, PartialEq)]
pub struct Warning {
    pub code: String,
    pub message: String,
}

impl IngestReport {
    pub fn warn(&mut self, code: &str, message: String) {
        self.warnings.push(Warning {
            code: code.into(),
            message,
        });
    }
}

/// The longest prefix of `s` of at most `max` bytes that ends on a character boundary.
pub fn cut_at_char(s: &str, max: usize) -> String {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_string()
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct FileOutcome {
    pub path: String,
    pub source: String,
    pub status: String,
    pub sha256: String,
    #[serde(flatten)]
    pub counts: Counts,
    pub reject_reasons: BTreeMap<String, u64>,
    pub rejects_file: Option<String>,
}

/// One source's rows held in memory while ingesting.
struct Working {
    spec: &'static SourceSpec,
    rows: Keyed,
    touched_months: BTreeSet<u32>,
    changed: bool,
    /// Activity only: months are read from the store when a key of theirs is needed,
    /// so one more day of events reads the ids of the store and one or two months.
    lazy: Option<LazyMonths>,
}

struct LazyMonths {
    /// Where each stored event_id may live.
    keys: crate::event_keys::KeyIndex,
    /// Stored partition of each month.
    files: BTreeMap<u32, String>,
    loaded: BTreeSet<u32>,
}

impl Working {
    fn new(store: &Store, manifest: &Manifest, spec: &'static SourceSpec) -> Result<Working> {
        let mut w = Working {
            spec,
            rows: Keyed::default(),
            touched_months: BTreeSet::new(),
            changed: false,
            lazy: None,
        };
        if spec.name != ACTIVITY.name {
            for r in store.load(manifest, spec)? {
                w.rows.insert(spec.key_of(&r), table::pack(&r));
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

    /// Make sure the stored row of `key`, if any, is in `rows`.
    fn ensure_key(&mut self, store: &Store, key: &str) -> Result<()> {
        if self.rows.contains_key(key) {
            return Ok(());
        }
        let months: Vec<u32> = match &self.lazy {
            Some(l) => l.keys.months_of(key).collect(),
            None => return Ok(()),
        };
        for m in months {
            self.ensure_month(store, m)?;
        }
        Ok(())
    }

    /// Read a stored month into `rows`, keeping any newer version read in this ingest.
    fn ensure_month(&mut self, store: &Store, month: u32) -> Result<()> {
        let Some(lazy) = self.lazy.as_mut() else { return Ok(()) };
        if !lazy.loaded.insert(month) {
            return Ok(());
        }
        if let Some(rel) = lazy.files.get(&month) {
            for r in store.read_packed(self.spec, rel)? {
                self.rows.entry(self.spec.key_of_packed(&r)).or_insert(r);
            }
        }
        Ok(())
    }
}

pub fn ingest(loaded: &Loaded, store: &Store, progress: bool) -> Result<IngestReport> {
    let mut manifest = store.manifest()?;
    let tz = crate::check::timezone(loaded)?;
    let now = {
        use chrono::TimeZone;
        crate::fmt::fmt_ts(crate::fmt::ts_of(
            tz.from_utc_datetime(&chrono::Utc::now().naive_utc()).naive_local(),
        ))
    };
    let batch = manifest.files.iter().map(|f| f.batch).max().unwrap_or(0) + 1;
    let privacy = crate::privacy::Privacy::new(loaded.pipeline.privacy.as_ref())?;
    let mut report = IngestReport::default();
    let mut new_records: Vec<FileRecord> = Vec::new();
    let mut working: Vec<Working> = Vec::new();
    let mut stat_updates: Vec<(String, String, crate::store::FileStat)> = Vec::new();
    let mut timer = crate::compute::Timer::new();
    // (source, contest_id) → rows naming a contest the pipeline does not have
    let mut contest_ids: BTreeMap<(&'static str, String), u64> = BTreeMap::new();
    let layer_ids: Vec<String> = loaded
        .pipeline
        .layers
        .iter()
        .flat_map(|l| &l.levels)
        .map(|l| l.id.clone())
        .collect();

    for spec in table::ALL {
        let Some(cfg) = crate::check::source_cfg(&loaded.pipeline, spec.name) else {
            continue;
        };
        let files = sources::files_of(loaded, spec.name, cfg)?;
        let mut w: Option<Working> = None;
        let ctx = PrepareCtx {
            loaded,
            spec,
            cfg,
            tz,
            privacy: privacy.as_ref(),
            layer_ids: &layer_ids,
            manifest: &manifest,
        };
        // files are read, decoded and converted on all cores, a few at a time (memory
        // stays near one file per core); they are classified one after the other, in
        // order, since each file counts against the store as the ones before left it
        for chunk in files.chunks(rayon::current_num_threads().max(1)) {
            let prepared: Vec<Result<Prepared>> = chunk.par_iter().map(|path| prepare(&ctx, path)).collect();
            for p in prepared {
                let Prepared { rel, sha, stat, kind } = p?;
                let kind = if new_records.iter().any(|r| r.sha256 == sha) {
                    PreparedKind::Known
                } else {
                    kind
                };
                let (encoding, rows) = match kind {
                    PreparedKind::Known => {
                        // a record from before sizes and times were kept learns them now
                        if let Some(s) = stat {
                            stat_updates.push((rel.clone(), sha.clone(), s));
                        }
                        report.files.push(FileOutcome {
                            path: rel,
                            source: spec.name.into(),
                            status: "skipped".into(),
                            sha256: sha,
                            counts: Counts::default(),
                            reject_reasons: BTreeMap::new(),
                            rejects_file: None,
                        });
                        continue;
                    }
                    PreparedKind::Empty { encoding } => {
                        report.warn(
                            "empty_file",
                            format!("{rel}: the file is empty (no header, no rows): counted as 0 rows"),
                        );
                        new_records.push(FileRecord {
                            path: rel.clone(),
                            source: spec.name.into(),
                            sha256: sha.clone(),
                            encoding: encoding.into(),
                            counts: Counts::default(),
                            reject_reasons: BTreeMap::new(),
                            rejects_file: None,
                            ingested_at: Some(now.clone()),
                            batch,
                            stat,
                        });
                        report.files.push(FileOutcome {
                            path: rel,
                            source: spec.name.into(),
                            status: "empty".into(),
                            sha256: sha,
                            counts: Counts::default(),
                            reject_reasons: BTreeMap::new(),
                            rejects_file: None,
                        });
                        continue;
                    }
                    PreparedKind::Rows { encoding, rows } => (encoding, rows),
                };
                if w.is_none() {
                    w = Some(Working::new(store, &manifest, spec)?);
                }
                let work = w.as_mut().expect("working set");
                let outcome = classify(spec, rows, work, store, &rel, progress)?;
                let gated = outcome.counts.rows > 0
                    && outcome.counts.rejected as f64 / outcome.counts.rows as f64
                        > loaded.pipeline.ingest.max_reject_ratio;
                let rejects_file = if outcome.rejects.is_empty() {
                    None
                } else {
                    let stem = Path::new(&rel)
                        .file_stem()
                        .map(|s| s.to_string_lossy().to_string())
                        .unwrap_or_default();
                    // a file name holds at most 255 bytes: a long export name is cut
                    let stem = cut_at_char(&stem, 120);
                    let name = format!("rejects/{stem}-{}.csv", &sha[..8]);
                    write_atomic(&store.dir.join(&name), &outcome.rejects)?;
                    Some(name)
                };
                let status = if gated {
                    report.gated.push(rel.clone());
                    "gated"
                } else {
                    // the file's changes stand: fold them into the working set
                    unknown_contests(spec, &outcome.staged, &loaded.pipeline, &mut contest_ids);
                    for (key, row) in outcome.staged {
                        if spec.name == ACTIVITY.name {
                            work.touched_months.insert(month_of_packed(&row));
                        }
                        match work.rows.entry(key) {
                            indexmap::map::Entry::Occupied(mut o) => {
                                if spec.name == ACTIVITY.name {
                                    work.touched_months.insert(month_of_packed(o.get()));
                                }
                                o.insert(row);
                            }
                            indexmap::map::Entry::Vacant(v) => {
                                v.insert(row);
                            }
                        }
                        work.changed = true;
                    }
                    new_records.push(FileRecord {
                        path: rel.clone(),
                        source: spec.name.into(),
                        sha256: sha.clone(),
                        encoding: encoding.into(),
                        counts: outcome.counts.clone(),
                        reject_reasons: outcome.reasons.clone(),
                        rejects_file: rejects_file.clone(),
                        ingested_at: Some(now.clone()),
                        batch,
                        stat,
                    });
                    "ingested"
                };
                report.totals.add(&outcome.counts);
                report.files.push(FileOutcome {
                    path: rel,
                    source: spec.name.into(),
                    status: status.into(),
                    sha256: sha,
                    counts: outcome.counts,
                    reject_reasons: outcome.reasons,
                    rejects_file,
                });
            }
        }
        if let Some(w) = w {
            working.push(w);
        }
    }

    timer.lap("ingest: files read and classified");
    for (path, sha, stat) in stat_updates {
        if let Some(f) = manifest
            .files
            .iter_mut()
            .find(|f| f.path == path && f.sha256 == sha && f.stat.is_none())
        {
            f.stat = Some(stat);
        }
    }
    commit(store, &mut manifest, working, new_records, &mut timer)?;
    report.events_of_unknown_members = manifest.events_of_unknown_members;
    for ((source, id), n) in contest_ids {
        report.warnings.push(Warning {
            code: "unknown_contest".into(),
            message: format!(
                "{source}: {n} row(s) name contest '{id}', which no contest of the pipeline has (stored, e.g. for an earlier season; add the contest under contests: to judge them)"
            ),
        });
    }
    Ok(report)
}

impl IngestReport {
    /// Exit 3 when a file's rejects exceeded the gate (SPEC §4): those files changed nothing.
    pub fn gate(&self, max_ratio: f64) -> Result<()> {
        if self.gated.is_empty() {
            return Ok(());
        }
        Err(KocError::new(
            ErrorKind::QualityGate,
            format!(
                "data-quality gate: too many rejected rows in {} (over ingest.max_reject_ratio = {max_ratio}); these files changed nothing",
                self.gated.join(", ")
            ),
        )
        .with_hint("read the rejects in STORE/rejects/, fix the export and ingest again")
        .into())
    }
}

/// Count the rows of contest entries and judge scores whose contest_id no contest
/// of the pipeline has (SPEC §4: stored, and reported as a warning per id).
fn unknown_contests(
    spec: &'static SourceSpec,
    rows: &[(String, table::Packed)],
    pipeline: &crate::config::Pipeline,
    out: &mut BTreeMap<(&'static str, String), u64>,
) {
    if spec.name != table::CONTEST_ENTRIES.name && spec.name != table::JUDGE_SCORES.name {
        return;
    }
    let col = spec.index("contest_id");
    for (_, row) in rows {
        let id = table::packed_field(row, col).string().unwrap_or_default();
        let id = id.as_str();
        if !pipeline.contests.iter().any(|c| c.id == id) {
            *out.entry((spec.name, id.to_string())).or_insert(0) += 1;
        }
    }
}

/// The result of reading one file against the working set.
struct FileResult {
    counts: Counts,
    staged: Vec<(String, table::Packed)>,
    rejects: Vec<u8>,
    reasons: BTreeMap<String, u64>,
}

/// What every file of a source shares while it is prepared.
struct PrepareCtx<'a> {
    loaded: &'a Loaded,
    spec: &'static SourceSpec,
    cfg: &'a crate::config::SourceCfg,
    tz: chrono_tz::Tz,
    privacy: Option<&'a crate::privacy::Privacy>,
    layer_ids: &'a [String],
    manifest: &'a Manifest,
}

/// One export read, hashed and (unless the store has it) converted row by row.
struct Prepared {
    rel: String,
    sha: String,
    stat: Option<crate::store::FileStat>,
    kind: PreparedKind,
}

enum PreparedKind {
    /// The store has these bytes already.
    Known,
    Empty {
        encoding: &'static str,
    },
    Rows {
        encoding: &'static str,
        rows: Vec<ParsedRow>,
    },
}

/// A data line of an export: its line number and what it became. Accepted rows are
/// keyed and packed on the thread that converted them (allocated and freed there).
enum ParsedRow {
    Unreadable { line: u64, reason: String },
    Converted { line: u64, outcome: Outcome },
    Row { key: String, packed: table::Packed },
}

/// Read, hash, decode and convert one file: pure work on the file alone, so files
/// run in parallel.
fn prepare(ctx: &PrepareCtx, path: &Path) -> Result<Prepared> {
    let rel = relative(&ctx.loaded.dir, path);
    let stat = std::fs::metadata(path)
        .ok()
        .as_ref()
        .and_then(crate::store::FileStat::of);
    if let Some(sha) = ctx.manifest.unchanged_sha(&rel, stat) {
        let sha = sha.to_string();
        return Ok(Prepared {
            rel,
            sha,
            stat,
            kind: PreparedKind::Known,
        });
    }
    let bytes = std::fs::read(path).map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
    let sha = sha256_hex(&bytes);
    if ctx.manifest.knows_sha(&sha) {
        return Ok(Prepared {
            rel,
            sha,
            stat,
            kind: PreparedKind::Known,
        });
    }
    let export = sources::open_bytes(path, &bytes, ctx.cfg)?;
    drop(bytes);
    if export.is_empty() {
        let encoding = export.encoding;
        return Ok(Prepared {
            rel,
            sha,
            stat,
            kind: PreparedKind::Empty { encoding },
        });
    }
    let (positions, header_len) = export.map_header(ctx.spec, ctx.cfg)?;
    let conv = Converter {
        spec: ctx.spec,
        cfg: ctx.cfg,
        positions,
        header_len,
        ts: TsParser::new(ctx.cfg.timestamp_formats.as_ref(), ctx.tz),
        ignore_actions: &ctx.loaded.pipeline.ingest.ignore_actions,
        layer_ids: ctx.layer_ids,
    };
    let mut rows = Vec::new();
    let mut rdr = export.reader();
    let mut record = csv::StringRecord::new();
    loop {
        let line = rdr.position().line();
        match rdr.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                // a malformed record (bad UTF-8 cannot happen: the text is decoded)
                rows.push(ParsedRow::Unreadable {
                    line,
                    reason: format!("unreadable row: {e}"),
                });
                continue;
            }
        }
        let line = record.position().map(|p| p.line()).unwrap_or(line);
        if record.len() == 1 && record[0].is_empty() {
            continue; // a blank line is no row
        }
        match conv.convert(&record) {
            Outcome::Row(mut row) => {
                if let Some(p) = ctx.privacy {
                    p.apply(ctx.spec, &mut row);
                }
                rows.push(ParsedRow::Row {
                    key: ctx.spec.key_of(&row),
                    packed: table::pack(&row),
                });
            }
            outcome => rows.push(ParsedRow::Converted { line, outcome }),
        }
    }
    let encoding = export.encoding;
    Ok(Prepared {
        rel,
        sha,
        stat,
        kind: PreparedKind::Rows { encoding, rows },
    })
}

/// Count a converted file against the store as it stands: inserted, updated,
/// unchanged, ignored, rejected (SPEC §4), with the rejects file's rows.
fn classify(
    spec: &'static SourceSpec,
    parsed: Vec<ParsedRow>,
    work: &mut Working,
    store: &Store,
    rel: &str,
    progress: bool,
) -> Result<FileResult> {
    let mut counts = Counts::default();
    // rows of this file so far, on top of the store (they count as "the store as it stands")
    let mut staged: Keyed = Keyed::default();
    let mut rejects = csv::Writer::from_writer(Vec::new());
    rejects.write_record(["source", "file", "line", "column", "value", "reason"])?;
    let mut reasons = BTreeMap::new();
    let bar = crate::progress::bar(progress, parsed.len() as u64 * 64, rel);
    for (n, row) in parsed.into_iter().enumerate() {
        if let Some(b) = &bar {
            if n % 4096 == 0 {
                b.set_position(n as u64 * 64);
            }
        }
        counts.rows += 1;
        let (line, outcome) = match row {
            ParsedRow::Unreadable { line, reason } => {
                counts.rejected += 1;
                *reasons
                    .entry(crate::convert::RejectKind::Unreadable.label().to_string())
                    .or_insert(0) += 1;
                rejects.write_record([spec.name, rel, &line.to_string(), "", "", &reason])?;
                continue;
            }
            ParsedRow::Converted { line, outcome } => (line, outcome),
            ParsedRow::Row { key, packed: row } => {
                if !staged.contains_key(&key) {
                    work.ensure_key(store, &key)?;
                }
                let known = staged.get(&key).or_else(|| work.rows.get(&key));
                match known {
                    None => counts.inserted += 1,
                    Some(old) if *old == row => counts.unchanged += 1,
                    Some(_) => counts.updated += 1,
                }
                staged.insert(key, row);
                continue;
            }
        };
        match outcome {
            Outcome::Ignored => counts.ignored += 1,
            Outcome::Rejected(d) => {
                counts.rejected += 1;
                *reasons.entry(d.kind.label().to_string()).or_insert(0) += 1;
                rejects.write_record([spec.name, rel, &line.to_string(), &d.column, &d.value, &d.reason])?;
            }
            // accepted rows arrive packed (`ParsedRow::Row`); a converted row here
            // would be one that `prepare` did not pack: count it rejected, never drop it
            Outcome::Row(_) => {
                counts.rejected += 1;
                *reasons.entry("internal".to_string()).or_insert(0) += 1;
                rejects.write_record([spec.name, rel, &line.to_string(), "", "", "internal: row not packed"])?;
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
        staged: staged.into_iter().collect(),
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

fn commit(
    store: &Store,
    manifest: &mut Manifest,
    working: Vec<Working>,
    new_records: Vec<FileRecord>,
    timer: &mut crate::compute::Timer,
) -> Result<()> {
    if new_records.is_empty() {
        return Ok(());
    }
    let recount = working
        .iter()
        .any(|w| w.changed && (w.spec.name == ACTIVITY.name || w.spec.name == table::MEMBERS.name));
    let members: Option<std::collections::HashSet<String>> =
        working.iter().find(|w| w.spec.name == table::MEMBERS.name).map(|w| {
            w.rows
                .values()
                .filter_map(|r| table::packed_field(r, 0).string())
                .collect()
        });
    let members_changed = working.iter().any(|w| w.changed && w.spec.name == table::MEMBERS.name);
    for mut w in working {
        if !w.changed {
            continue;
        }
        if w.spec.name == ACTIVITY.name {
            // a partition is rewritten whole: read the touched months not read yet
            for m in w.touched_months.clone() {
                w.ensure_month(store, m)?;
            }
            let mut by_month: BTreeMap<u32, Vec<&table::Packed>> = BTreeMap::new();
            for r in w.rows.values() {
                let m = month_of_packed(r);
                if w.touched_months.contains(&m) {
                    by_month.entry(m).or_default().push(r);
                }
            }
            // events of unknown members: only the rewritten months are recounted, unless
            // the members changed (then every month is, below)
            let known = if members_changed {
                None
            } else {
                Some(known_members(store, manifest, members.as_ref())?)
            };
            let mut key_files: Vec<(String, String)> = Vec::new();
            let mut removed: Vec<String> = Vec::new();
            for m in &w.touched_months {
                match by_month.get(m) {
                    Some(packed) => {
                        use table::{packed_ref, ValRef};
                        fn text(r: &[u8], i: usize) -> &str {
                            match packed_ref(r, i) {
                                ValRef::Str(s) => s,
                                _ => "",
                            }
                        }
                        fn ts(r: &[u8]) -> i64 {
                            match packed_ref(r, 2) {
                                ValRef::Ts(t) => t,
                                _ => 0,
                            }
                        }
                        // one order inside a partition: by time, then event_id (ids are unique)
                        let mut order: Vec<(i64, &str, &[u8])> =
                            packed.iter().map(|p| (ts(p), text(p, 0), &p[..])).collect();
                        order.sort_unstable_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)));
                        let rows: Vec<&[u8]> = order.iter().map(|o| o.2).collect();
                        let rel =
                            store.write_packed(&format!("events/month={}", month_name(*m)), "part", w.spec, &rows)?;
                        manifest.events.insert(month_name(*m), rel);
                        let hashes = order.iter().map(|o| crate::event_keys::key_hash(o.1)).collect();
                        key_files.push((
                            month_name(*m),
                            crate::event_keys::write_month(store, &month_name(*m), hashes)?,
                        ));
                        if let Some(known) = &known {
                            let n = rows
                                .iter()
                                .filter(|r| matches!(packed_ref(r, 1), ValRef::Str(id) if !known.contains(id)))
                                .count() as u64;
                            manifest.unknown_by_month.insert(month_name(*m), n);
                        }
                    }
                    None => {
                        manifest.events.remove(&month_name(*m));
                        manifest.unknown_by_month.remove(&month_name(*m));
                        removed.push(month_name(*m));
                    }
                }
            }
            // the key index follows the rewritten months; a store from before the
            // index gets the files of its other months too
            let missing: Vec<(String, String)> = manifest
                .events
                .iter()
                .filter(|(m, _)| {
                    !key_files.iter().any(|(k, _)| k == *m)
                        && !manifest
                            .event_keys
                            .as_ref()
                            .is_some_and(|ix| ix.hash == crate::event_keys::HASH && ix.months.contains_key(*m))
                })
                .map(|(m, rel)| (m.clone(), rel.clone()))
                .collect();
            for (m, rel) in missing {
                let df = store.frames_of(&rel, Some(&["event_id"]))?;
                let hashes = df
                    .column("event_id")?
                    .str()?
                    .iter()
                    .flatten()
                    .map(crate::event_keys::key_hash)
                    .collect();
                key_files.push((m.clone(), crate::event_keys::write_month(store, &m, hashes)?));
            }
            crate::event_keys::record_months(manifest, key_files, &removed);
            timer.lap("ingest: months and their keys written");
        } else {
            let rows: Vec<&[u8]> = w.rows.values().map(|p| &p[..]).collect();
            let rel = store.write_packed("tables", w.spec.name, w.spec, &rows)?;
            manifest.tables.insert(w.spec.name.to_string(), rel);
        }
    }
    if recount {
        let complete = manifest
            .events
            .keys()
            .all(|m| manifest.unknown_by_month.contains_key(m));
        if members_changed || !complete {
            manifest.unknown_by_month = count_unknown_member_events(store, manifest, members)?;
        }
        manifest.unknown_by_month.retain(|m, _| manifest.events.contains_key(m));
        manifest.events_of_unknown_members = manifest.unknown_by_month.values().sum();
    }
    for r in new_records {
        manifest.files.retain(|f| f.path != r.path);
        manifest.files.push(r);
    }
    store.write_manifest(manifest)
}

/// The member ids of the members source: as ingested now, or as stored.
fn known_members(
    store: &Store,
    m: &Manifest,
    members: Option<&std::collections::HashSet<String>>,
) -> Result<std::collections::HashSet<String>> {
    Ok(match members {
        Some(set) => set.clone(),
        None => store
            .load(m, &table::MEMBERS)?
            .into_iter()
            .filter_map(|r| r[0].string())
            .collect(),
    })
}

/// Per month, the events whose member_id is not in the members source: the members as
/// ingested (or stored), the events' member_id column of the partitions `m` names.
fn count_unknown_member_events(
    store: &Store,
    m: &Manifest,
    members: Option<std::collections::HashSet<String>>,
) -> Result<BTreeMap<String, u64>> {
    let members = known_members(store, m, members.as_ref())?;
    let mut out = BTreeMap::new();
    for (month, rel) in &m.events {
        let df = store.frames_of(rel, Some(&["member_id"]))?;
        let col = df.column("member_id")?.str()?.clone();
        let n = col
            .iter()
            .filter(|id| id.is_some_and(|id| !members.contains(id)))
            .count() as u64;
        out.insert(month.clone(), n);
    }
    Ok(out)
}

/// A path as the pipeline names it: relative to the pipeline's folder when inside it.
pub fn relative(base: &Path, path: &Path) -> String {
    path.strip_prefix(base)
        .unwrap_or(path)
        .to_string_lossy()
        .replace('\\', "/")
}
