//! `koc ingest` (SPEC §4): export rows → canonical rows, rejects, upsert counts,
//! the reject-ratio gate, and one atomic commit of the store.
pub mod blank;
mod classify;
mod commit;
pub mod convert;
pub mod event_keys;
mod hash_groups;
pub mod id_check;
mod keyed;
mod member_ids;
mod month_order;
pub mod passes;
pub mod paths;
mod prepare;
pub mod privacy;
pub mod records;
mod settle;
mod short_text;
pub mod sources;
pub mod timestamps;
use crate::diagnostics::{Code, Warning};
use crate::error::{ErrorKind, KocError};
use crate::pipeline::program::Program;
use crate::store::{write_atomic, Counts, FileRecord, Store};
use crate::table::{self, SourceSpec};
use anyhow::Result;
use classify::{classify, Tally, Working};
use commit::commit;
use prepare::{prepare, ParsedRow, PrepareCtx, Prepared, PreparedKind};
use settle::Settler;
use std::collections::BTreeMap;
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
    /// How many passes a budgeted ingest took (shown when more than one).
    #[serde(skip_serializing_if = "one_pass")]
    pub passes: usize,
}

fn one_pass(n: &usize) -> bool {
    *n <= 1
}

impl IngestReport {
    pub fn warn(&mut self, code: Code, message: String) {
        self.warnings.push(Warning::new(code, message));
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

text_enum! {
    /// What became of an export in an ingest (`koc ingest`'s table, run.json).
    pub enum FileStatus {
        Ingested => "ingested",
        /// Read before (same sha256): nothing to do.
        Skipped => "skipped",
        Empty => "empty",
        /// Over the reject ratio: its rows were not applied.
        Gated => "gated",
    }
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct FileOutcome {
    pub path: String,
    pub source: String,
    pub status: FileStatus,
    pub sha256: String,
    #[serde(flatten)]
    pub counts: Counts,
    pub reject_reasons: BTreeMap<String, u64>,
    pub rejects_file: Option<String>,
}

pub fn ingest(prog: &Program, store: &Store, progress: bool) -> Result<IngestReport> {
    match prog
        .file()
        .pipeline
        .ingest
        .memory_budget
        .as_deref()
        .and_then(passes::parse_bytes)
    {
        Some(budget) => passes::ingest_within(prog, store, progress, budget),
        None => ingest_in(prog, store, progress, Mode::Write, None, None),
    }
}

/// Whether an ingest may change the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Write,
    ReadOnly,
}

/// What `koc ingest` reports when every export file of the sources is in the store
/// already, without writing anything (`koc merge`: the shards and the merge must read
/// the same store). A file that is not in the store is an error naming it.
pub fn stored_only(prog: &Program, store: &Store) -> Result<IngestReport> {
    ingest_in(prog, store, false, Mode::ReadOnly, None, None)
}

/// One ingest; with a pass budget, the export files not yet stored are read only while
/// they fit it (at least one), in the ingest's order, the rest left for the next pass.
fn ingest_in(
    prog: &Program,
    store: &Store,
    progress: bool,
    mode: Mode,
    mut pass: Option<&mut passes::PassBudget>,
    batch: Option<u64>,
) -> Result<IngestReport> {
    // ingest reads what the file names: its sources' paths, privacy and ingest settings
    let loaded = prog.file();
    let mut manifest = store.manifest()?;
    let tz = prog.tz;
    let now = {
        use chrono::TimeZone;
        crate::fmt::fmt_ts(crate::fmt::ts_of(
            tz.from_utc_datetime(&chrono::Utc::now().naive_utc()).naive_local(),
        ))
    };
    // the passes of one budgeted ingest are one batch (the report's "this ingest")
    let batch = batch.unwrap_or_else(|| manifest.files.iter().map(|f| f.batch).max().unwrap_or(0) + 1);
    let privacy = crate::ingest::privacy::Privacy::new(loaded.pipeline.privacy.as_ref())?;
    let mut report = IngestReport::default();
    let mut new_records: Vec<FileRecord> = Vec::new();
    let mut working: Vec<Working> = Vec::new();
    let mut stat_updates: Vec<(String, String, crate::store::FileStat)> = Vec::new();
    let mut timer = crate::timing::Timer::new();
    // the sha256 of every file this ingest records (a copy of one is skipped)
    let mut seen: std::collections::HashSet<String> = std::collections::HashSet::new();
    // (source, contest_id) → rows naming a contest the pipeline does not have
    let mut contest_ids: BTreeMap<(&'static str, String), u64> = BTreeMap::new();
    let layer_ids: Vec<String> = prog.layers.as_ref().map(|l| l.ids.clone()).unwrap_or_default();

    let buffers = prepare::Buffers::default();
    // every source's path first: all missing files and folders in one error
    let configured = table::ALL
        .iter()
        .filter_map(|spec| loaded.pipeline.sources.of(spec.name).map(|c| (spec.name, c)));
    let mut found: std::collections::HashMap<&str, paths::SourceFiles> = paths::all_files(loaded, configured)?
        .into_iter()
        .map(|(name, _, files)| (name, files))
        .collect();
    // a glob that matches nothing for a source the store has never had a file of is a
    // mistake (a misspelt pattern), said before anything is read; once the source has
    // files, an empty match is a night without exports (or exports archived): a warning
    let never: Vec<String> = table::ALL
        .iter()
        .filter(|spec| {
            found
                .get(spec.name)
                .is_some_and(|f| f.files.is_empty() && f.skipped.is_empty())
        })
        .filter(|spec| !manifest.files.iter().any(|f| f.source == spec.name))
        .filter_map(|spec| {
            let cfg = loaded.pipeline.sources.of(spec.name)?;
            Some(format!("{:#}", paths::never_matched(loaded, spec.name, cfg)))
        })
        .collect();
    if !never.is_empty() {
        return Err(crate::error::usage_err(never.join("\n")));
    }
    for spec in table::ALL {
        let Some(cfg) = loaded.pipeline.sources.of(spec.name) else {
            continue;
        };
        let Some(source_files) = found.remove(spec.name) else {
            continue;
        };
        if let Some(warning) = source_files.nothing_matched(spec.name, cfg) {
            report.warnings.push(warning);
        }
        let paths::SourceFiles { files, skipped } = source_files;
        let files = match pass.as_deref_mut() {
            Some(pass) => pass.take(files, |path| {
                prepare::as_stored(&manifest, &loaded.dir, path).2.is_some()
            }),
            None => files,
        };
        for path in skipped {
            report.warnings.push(Warning::bilingual(
                Code::NotARegularFile,
                format!(
                    "sources.{}.path matches {path}: not a regular file, not read",
                    spec.name
                ),
                format!("sources.{}.path 匹配到 {path}：不是普通文件，未读取", spec.name),
            ));
        }
        let mut w: Option<Working> = None;
        let ctx = PrepareCtx {
            loaded,
            spec,
            cfg,
            tz,
            privacy: privacy.as_ref(),
            layer_ids: &layer_ids,
            manifest: &manifest,
            buffers: &buffers,
        };
        let mut settler = (spec.name == table::ACTIVITY.name).then(|| Settler::new(spec));
        let mut emits: Vec<Emit> = Vec::new();
        let bar = match settler {
            Some(_) => {
                let bytes = files
                    .iter()
                    .filter_map(|f| std::fs::metadata(f).ok())
                    .map(|m| m.len())
                    .sum();
                crate::progress::bar(progress, bytes, spec.name)
            }
            None => None,
        };
        // files are read, decoded and converted on all cores while the ones before them
        // are classified: one after the other, in order, since each file counts against
        // the store as the ones before left it. Reader k of n takes files k, k + n, …
        // and holds at most two finished files (one in its channel, one waiting to go
        // in), so memory stays near three files per core, and no reader waits for
        // another to finish its file (as pairs of files did).
        std::thread::scope(|scope| -> Result<()> {
            let readers = rayon::current_num_threads().clamp(1, files.len().max(1));
            let (ctx, files) = (&ctx, &files);
            let from_readers: Vec<std::sync::mpsc::Receiver<Result<Prepared>>> = (0..readers)
                .map(|k| {
                    let (tx, rx) = std::sync::mpsc::sync_channel::<Result<Prepared>>(1);
                    scope.spawn(move || {
                        for path in files.iter().skip(k).step_by(readers) {
                            if tx.send(prepare(ctx, path)).is_err() {
                                return; // the classifier stopped on an error
                            }
                        }
                    });
                    rx
                })
                .collect();
            let prepared = (0..files.len()).map_while(|i| from_readers[i % readers].recv().ok());
            for p in prepared {
                let Prepared {
                    rel,
                    sha,
                    stat,
                    kind,
                    odd_ids,
                } = p?;
                let show_ids = privacy
                    .as_ref()
                    .is_none_or(|p| !p.hashes("member_id") && !p.drops("member_id"));
                for (code, message) in odd_ids.warnings(&rel, show_ids) {
                    report.warn(code, message);
                }
                let kind = if seen.contains(&sha) { PreparedKind::Known } else { kind };
                if mode == Mode::ReadOnly && !matches!(kind, PreparedKind::Known) {
                    return Err(crate::error::KocError::usage(format!(
                        "{rel}: this export is not in the store, so the shards did not read it"
                    ))
                    .with_hint(
                        "run `koc ingest PIPELINE` once, then every shard, then the merge; a file the \
                         reject gate held back stays out of the store: mend it or move it out of the \
                         sources' folder",
                    )
                    .into());
                }
                let (encoding, rows, arena) = match kind {
                    PreparedKind::Known => {
                        // a record from before sizes and times were kept learns them now
                        if let Some(s) = stat {
                            stat_updates.push((rel.clone(), sha.clone(), s));
                        }
                        emits.push(Emit {
                            outcome: FileOutcome {
                                path: rel,
                                source: spec.name.into(),
                                status: FileStatus::Skipped,
                                sha256: sha,
                                counts: Counts::default(),
                                reject_reasons: BTreeMap::new(),
                                rejects_file: None,
                            },
                            record: None,
                            settled: None,
                        });
                        continue;
                    }
                    PreparedKind::Empty { encoding } => {
                        report.warn(
                            Code::EmptyFile,
                            format!("{rel}: the file is empty (no header, no rows): counted as 0 rows"),
                        );
                        seen.insert(sha.clone());
                        emits.push(Emit {
                            record: Some(FileRecord {
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
                            }),
                            outcome: FileOutcome {
                                path: rel,
                                source: spec.name.into(),
                                status: FileStatus::Empty,
                                sha256: sha,
                                counts: Counts::default(),
                                reject_reasons: BTreeMap::new(),
                                rejects_file: None,
                            },
                            settled: None,
                        });
                        continue;
                    }
                    PreparedKind::Rows { encoding, rows, arena } => (encoding, rows, arena),
                };
                if w.is_none() {
                    w = Some(Working::new(store, &manifest, spec)?);
                }
                let work = w.as_mut().expect("working set");
                let max_ratio = loaded.pipeline.ingest.max_reject_ratio;
                // the activity rows are gathered and counted all at once (settle.rs);
                // the other sources are counted here, file by file
                let (counts, reasons, rejects, gated, settled) = if let Some(settler) = settler.as_mut() {
                    let f = settler.start_file(rows.len(), arena)?;
                    let mut tally = Tally::new(spec, &rel)?;
                    let mut rows = rows;
                    for row in rows.drain(..) {
                        if let Some(ParsedRow::Kept { hash, month, len }) = tally.note(row)? {
                            settler.push(hash, month, len)?;
                        }
                    }
                    buffers.give_rows(rows);
                    let gated = tally.gated(max_ratio);
                    settler.set_gated(f, gated);
                    if let Some(b) = &bar {
                        b.inc(stat.map(|s| s.size).unwrap_or(0));
                    }
                    let counts = tally.counts.clone();
                    let reasons = std::mem::take(&mut tally.reasons);
                    (counts, reasons, tally.rejects()?, gated, Some(f))
                } else {
                    let outcome = classify(spec, rows, &arena, work, &rel, progress)?;
                    let gated = outcome.counts.rows > 0
                        && outcome.counts.rejected as f64 / outcome.counts.rows as f64 > max_ratio;
                    if gated {
                        work.rows.undo(outcome.log);
                    } else {
                        // the file's changes stand (they are in the working set already)
                        if [table::CONTEST_ENTRIES.name, table::JUDGE_SCORES.name].contains(&spec.name) {
                            let rows = work.rows.touched(&outcome.log);
                            unknown_contests(spec, &rows, &loaded.pipeline, &mut contest_ids);
                        }
                        work.changed |= !outcome.log.is_empty();
                    }
                    (outcome.counts, outcome.reasons, outcome.rejects, gated, None)
                };
                let rejects_file = if rejects.is_empty() {
                    None
                } else {
                    let stem = Path::new(&rel)
                        .file_stem()
                        .map(|s| s.to_string_lossy().to_string())
                        .unwrap_or_default();
                    // a file name holds at most 255 bytes: a long export name is cut
                    let stem = cut_at_char(&stem, 120);
                    let name = format!("rejects/{stem}-{}.csv", &sha[..8]);
                    write_atomic(&store.dir.join(&name), &rejects)?;
                    Some(name)
                };
                let record = (!gated).then(|| {
                    seen.insert(sha.clone());
                    FileRecord {
                        path: rel.clone(),
                        source: spec.name.into(),
                        sha256: sha.clone(),
                        encoding: encoding.into(),
                        counts: counts.clone(),
                        reject_reasons: reasons.clone(),
                        rejects_file: rejects_file.clone(),
                        ingested_at: Some(now.clone()),
                        batch,
                        stat,
                    }
                });
                emits.push(Emit {
                    outcome: FileOutcome {
                        path: rel,
                        source: spec.name.into(),
                        status: if gated { FileStatus::Gated } else { FileStatus::Ingested },
                        sha256: sha,
                        counts,
                        reject_reasons: reasons,
                        rejects_file,
                    },
                    record,
                    settled,
                });
            }
            Ok(())
        })?;
        // the files' buffers are not needed while the rows are settled and written
        buffers.release();
        if let Some(b) = bar {
            b.finish_and_clear();
        }
        if let (Some(settler), Some(work)) = (settler, w.as_mut()) {
            // the stored months a key of the ingest may be in come first, then the files
            timer.lap("ingest: activity files read");
            let months = work.months_to_read(store, rayon::iter::ParallelIterator::collect(settler.hashes()))?;
            let stored = work.read_months(store, &months)?;
            let settled = settler.settle(stored)?;
            for e in &mut emits {
                let Some(f) = e.settled else { continue };
                // the tally counted rows, ignored and rejected; the settle the rest
                let found = &settled.counts[f];
                for counts in std::iter::once(&mut e.outcome.counts).chain(e.record.as_mut().map(|r| &mut r.counts)) {
                    counts.add(found);
                }
                if e.record.is_some() {
                    work.touched_months.extend(settled.months[f].iter().copied());
                    work.changed |= found.inserted + found.updated + found.unchanged > 0;
                }
            }
            work.settled = Some(settled);
        }
        for e in emits {
            if e.outcome.status == FileStatus::Gated {
                report.gated.push(e.outcome.path.clone());
            }
            report.totals.add(&e.outcome.counts);
            report.files.push(e.outcome);
            new_records.extend(e.record);
        }
        if let Some(w) = w {
            working.push(w);
        }
    }

    timer.lap("ingest: files read and classified");
    if mode == Mode::ReadOnly {
        report.events_of_unknown_members = manifest.events_of_unknown_members;
        return Ok(report);
    }
    let mut learned = false;
    for (path, sha, stat) in stat_updates {
        if let Some(f) = manifest
            .files
            .iter_mut()
            .find(|f| f.path == path && f.sha256 == sha && f.stat != Some(stat))
        {
            f.stat = Some(stat);
            learned = true;
        }
    }
    if learned && new_records.is_empty() {
        // nothing new, but the next ingest need not hash these files again
        store.write_manifest(&manifest)?;
    }
    commit(store, &mut manifest, working, new_records, progress, &mut timer)?;
    report.events_of_unknown_members = manifest.events_of_unknown_members;
    for ((source, id), n) in contest_ids {
        report.warnings.push(Warning::unknown_contest(source, n, &id));
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
        .with_hint(format!(
            "read {} in the store's folder, fix the export and ingest again",
            self.files
                .iter()
                .filter(|f| f.status == FileStatus::Gated)
                .filter_map(|f| f.rejects_file.clone())
                .collect::<Vec<_>>()
                .join(", ")
        ))
        .into())
    }
}

/// Count the rows of contest entries and judge scores whose contest_id no contest
/// of the pipeline has (SPEC §4: stored, and reported as a warning per id).
fn unknown_contests(
    spec: &'static SourceSpec,
    rows: &[&table::Packed],
    pipeline: &crate::pipeline::config::Pipeline,
    out: &mut BTreeMap<(&'static str, String), u64>,
) {
    let col = spec.index("contest_id");
    for row in rows {
        let id = table::packed_field(row, col).string().unwrap_or_default();
        let id = id.as_str();
        if !pipeline.contests.iter().any(|c| c.id == id) {
            *out.entry((spec.name, id.to_string())).or_insert(0) += 1;
        }
    }
}

/// One file's outcome, held until its source is counted (activity's counts come
/// from the settle after its last file), so files are reported in order.
struct Emit {
    outcome: FileOutcome,
    /// The manifest's record (none for a skipped or gated file).
    record: Option<FileRecord>,
    /// The file's number in the settle.
    settled: Option<usize>,
}

/// A path as the pipeline names it: relative to the pipeline's folder when inside it.
pub fn relative(base: &Path, path: &Path) -> String {
    path.strip_prefix(base)
        .unwrap_or(path)
        .to_string_lossy()
        .replace('\\', "/")
}
