//! `koc run` (SPEC §11): ingest, compute, render, and write `STORE/runs/<D>/`
//! as a whole (temp folder, then rename).
use crate::output::ledger::LedgerSource;
use crate::output::Table;
use anyhow::{Context, Result};
use koc_engine::compute::Computed;
use koc_engine::error::KocError;
use koc_engine::fmt::{fmt_day, Day};
use koc_engine::ingest::IngestReport;
use koc_engine::model::Dataset;
use koc_engine::pipeline::program::Program;
use koc_engine::store::{sha256_hex, Store};
use polars::prelude::*;
use serde_json::json;
use std::path::{Path, PathBuf};
use std::time::Instant;

pub struct RunOutcome {
    pub folder: PathBuf,
    pub ingest: IngestReport,
    pub computed: Computed,
    pub gate_failed: bool,
    /// Every warning of the run (also in run.json and the report).
    pub warnings: Vec<koc_engine::diagnostics::Warning>,
    /// D is stale and `ingest.fail_on_stale` is set: exit 3 after writing the run.
    pub stale_failed: bool,
}

/// Tables written as Parquet instead of CSV, with their integer columns.
const PARQUET: [(&str, &[&str]); 1] = [("layer_history", &[])];

pub fn run(loaded: &Program, as_of: Day, progress: bool) -> Result<RunOutcome> {
    let t0 = Instant::now();
    let _stages = koc_engine::progress::stages(progress, &format!("koc run {}", fmt_day(as_of)));
    koc_engine::progress::stage("ingest");
    let store = Store::open_locked(&loaded.file().store_dir())?;
    let ingest = koc_engine::ingest::ingest(loaded, &store, progress)?;
    let t_ingest = t0.elapsed();
    compute_and_write(loaded, &store, as_of, ingest, t0, t_ingest)
}

/// A run after its ingest: load the store, compute every stage, write the folder.
pub fn compute_and_write(
    loaded: &Program,
    store: &Store,
    as_of: Day,
    ingest: IngestReport,
    t0: Instant,
    t_ingest: std::time::Duration,
) -> Result<RunOutcome> {
    let manifest = store.manifest()?;
    koc_engine::progress::stage("loading the store");
    let ds = Dataset::load(store, &manifest, as_of)?;
    if std::env::var_os("KOC_TIMINGS").is_some() {
        eprintln!("timing ingest + load: {} ms", t0.elapsed().as_millis());
    }
    let computed = koc_engine::compute::compute(loaded, &ds)?;
    let t_compute = t0.elapsed() - t_ingest;
    let started = Started {
        at: t0,
        ingest: t_ingest,
        compute: t_compute,
    };
    let results = Results { computed, ledger: None };
    write_run(loaded, store, &manifest, &ds, results, ingest, started)
}

/// When a run started, and how long its ingest and computation took (run.json).
pub struct Started {
    pub at: Instant,
    pub ingest: std::time::Duration,
    pub compute: std::time::Duration,
}

/// A finished computation, and where its ledger's rows come from: the shards' ledger
/// files for a merge (None: the computation's own ledger).
pub struct Results {
    pub computed: Computed,
    pub ledger: Option<koc_engine::parts::ledger::Merged>,
}

/// Write `STORE/runs/<D>/` from a finished computation (a run's, or a merge's of the
/// shards' parts), then the history across runs. `ingest` is what the run's ingest
/// did (or found, for a merge); the warnings follow from it and from the store.
pub fn write_run(
    loaded: &Program,
    store: &Store,
    manifest: &koc_engine::store::Manifest,
    ds: &Dataset,
    results: Results,
    ingest: IngestReport,
    started: Started,
) -> Result<RunOutcome> {
    let Results { computed, ledger } = results;
    let as_of = computed.as_of;
    let pipeline = &loaded.file().pipeline;
    // gated files changed nothing; the run goes on with the rest, then exits 3
    let gate_error = ingest.gate(pipeline.ingest.max_reject_ratio).err();
    let freshness = koc_engine::freshness::of(store, manifest)?;
    // per-ingest notes stay on stderr; what the store says is a warning of every run
    let mut warnings: Vec<_> = ingest
        .warnings
        .iter()
        .filter(|w| w.code != koc_engine::diagnostics::Code::UnknownContest)
        .cloned()
        .collect();
    let stale = if pipeline.sources.activity.is_some() {
        koc_engine::freshness::stale_warning(&freshness, as_of, pipeline.ingest.stale_after_days)
    } else {
        None
    };
    let stale_failed = stale.is_some() && pipeline.ingest.fail_on_stale;
    warnings.extend(stale);
    if !ingest
        .files
        .iter()
        .any(|f| f.status == koc_engine::ingest::FileStatus::Ingested)
    {
        warnings.push(koc_engine::diagnostics::Warning::new(
            koc_engine::diagnostics::Code::NoNewFiles,
            "no new export file: every file the sources name was ingested before, so tonight's \
             figures are computed from the data already stored"
                .into(),
        ));
    }
    warnings.extend(koc_engine::stages::contests::unknown_contest_warnings(loaded, ds));
    let (t0, t_ingest, t_compute) = (started.at, started.ingest, started.compute);
    let runs = store.dir.join("runs");
    std::fs::create_dir_all(&runs).with_context(|| format!("cannot create {}", runs.display()))?;
    recover_runs(&runs)?;
    let tmp = tempfile::Builder::new()
        .prefix(".tmp-")
        .permissions(koc_engine::store::dir_mode())
        .tempdir_in(&runs)
        .with_context(|| format!("cannot create a folder in {}", runs.display()))?;
    koc_engine::progress::stage("writing the ledger");
    let mut timer = koc_engine::timing::Timer::new();
    let mut row_counts = serde_json::Map::new();
    let source = match ledger {
        Some(merged) => LedgerSource::Parts(merged),
        None => LedgerSource::Computed(ds, &computed.points),
    };
    // its place among the outputs in run.json; the count comes when it is written
    row_counts.insert("ledger".into(), json!(0));
    let ledger_path = tmp.path().join("ledger.parquet");
    let inputs = FolderInputs {
        loaded,
        ds,
        computed: &computed,
        manifest,
        warnings: &warnings,
        gated: &ingest.gated,
        runs: &runs,
        folder: tmp.path(),
    };
    let (ctx, nights, ledger_rows) = std::thread::scope(|scope| -> Result<_> {
        // the ledger, the largest output, is written on a thread of its own (on all cores)
        // beside the tables, the report and the workbook, mostly one core's work
        let ledger = scope.spawn(|| -> Result<usize> {
            let mut timer = koc_engine::timing::Timer::new();
            let rows = crate::output::ledger::write_ledger(loaded.rules.as_ref(), source, &ledger_path)?;
            timer.lap("write: ledger (beside the rest)");
            Ok(rows)
        });
        let rest = write_tables_and_report(&inputs, &mut row_counts, &mut timer, t0);
        let rows = ledger
            .join()
            .map_err(|_| anyhow::anyhow!("the ledger's writer panicked"))?;
        let (ctx, nights) = rest?;
        Ok((ctx, nights, rows?))
    })?;
    row_counts.insert("ledger".into(), json!(ledger_rows));
    let pipeline_sha = sha256_hex(loaded.file().text.as_bytes());
    let inputs: Vec<_> = manifest
        .files
        .iter()
        .map(|f| json!({"path": f.path, "source": f.source, "sha256": f.sha256, "counts": f.counts}))
        .collect();
    let run_json = json!({
        "pipeline": loaded.file().path.display().to_string(),
        "pipeline_sha256": pipeline_sha,
        "as_of": fmt_day(as_of),
        "inputs": inputs,
        "ingest": ingest.files,
        "outputs": row_counts,
        "headline": ctx["headline"],
        "freshness": freshness.sources,
        "warnings": warnings,
        "timings_ms": {"ingest": t_ingest.as_millis() as u64, "compute": t_compute.as_millis() as u64, "total": t0.elapsed().as_millis() as u64},
        "exit_status": if gate_error.is_some() || stale_failed { 3 } else { 0 },
    });
    let run_json_path = tmp.path().join("run.json");
    std::fs::write(&run_json_path, serde_json::to_vec_pretty(&run_json)?)
        .with_context(|| format!("cannot write {}", run_json_path.display()))?;
    let folder = runs.join(fmt_day(as_of));
    keep_notify_record(&folder, tmp.path())?;
    replace_dir(tmp.keep(), &folder)?;
    // the nights' record (the report's, D's own among them): history.parquet and runs/index.html
    crate::output::history::write_parquet(&store.dir.join(crate::output::history::FILE), &nights)?;
    crate::output::history::write_index(loaded.file(), &runs, &nights, &ctx)?;
    Ok(RunOutcome {
        folder,
        ingest,
        computed,
        gate_failed: gate_error.is_some(),
        warnings,
        stale_failed,
    })
}

/// What a run folder's tables, report and workbook are made from, and the folder.
struct FolderInputs<'a> {
    loaded: &'a Program,
    ds: &'a Dataset,
    computed: &'a Computed,
    manifest: &'a koc_engine::store::Manifest,
    warnings: &'a [koc_engine::diagnostics::Warning],
    gated: &'a [String],
    runs: &'a Path,
    folder: &'a Path,
}

/// Every file of the run folder but the ledger and run.json: the report's figures
/// first (the workbook's summary sheet opens with them), then each table built,
/// written as its file and its sheet and dropped before the next, the report, the
/// digest and the workbook. Returns the report's context and the nights' record.
fn write_tables_and_report(
    inputs: &FolderInputs,
    row_counts: &mut serde_json::Map<String, serde_json::Value>,
    timer: &mut koc_engine::timing::Timer,
    t0: Instant,
) -> Result<(serde_json::Value, Vec<crate::output::history::Night>)> {
    let FolderInputs {
        loaded,
        ds,
        computed,
        manifest,
        warnings,
        gated,
        runs,
        folder,
    } = *inputs;
    let pipeline = &loaded.file().pipeline;
    let as_of = computed.as_of;
    // the report's figures first: the workbook's summary sheet opens it, and each table
    // is then built, written as a file and a sheet, and dropped before the next
    koc_engine::progress::stage("the report");
    let crate::output::report::Built { ctx, actions, nights } =
        crate::output::report::build_with_actions(loaded, ds, computed, manifest, warnings, gated, runs)?;
    timer.lap("write: report built");
    let mask = pipeline.privacy.as_ref().is_some_and(|p| p.mask_nicknames);
    let masked = |t: &Table| -> Option<Table> {
        mask.then(|| {
            let mut t = t.clone();
            t.mask_nicknames();
            t
        })
    };
    let shown = crate::output::xlsx::display_names(pipeline, loaded.locale.is_en());
    let mut book = crate::output::xlsx::Book::new(
        folder,
        koc_engine::fmt::date_of(as_of),
        &crate::output::xlsx::summary(&ctx),
        masked(&actions).as_ref().unwrap_or(&actions),
        !loaded.locale.is_en(),
        &shown,
    )?;
    // a table that comes in pieces is written piece by piece into its file and sheet
    let mut open: Option<CsvFile> = None;
    let mut frame_so_far: Option<DataFrame> = None;
    crate::output::tables::each(loaded, ds, computed, &mut |t, more| {
        // the Parquet tables (ledger, layer history) are for tools, not for a spreadsheet:
        // their pieces' frames are put together and written as one
        if let Some((_, ints)) = PARQUET.iter().find(|(n, _)| *n == t.name) {
            let piece = table_frame(&t, ints)?;
            let mut frame = match frame_so_far.take() {
                Some(mut so_far) => {
                    so_far.vstack_mut_owned(piece)?;
                    so_far
                }
                None => piece,
            };
            if more {
                frame_so_far = Some(frame);
            } else {
                frame.rechunk_mut();
                row_counts.insert(t.name.clone(), json!(frame.height()));
                write_parquet_table(folder, &t.name, &mut frame)?;
                timer.lap(&format!("write: {}", t.name));
            }
            return Ok(());
        }
        let masked = masked(&t);
        let sheet = masked.as_ref().unwrap_or(&t);
        let mut file = match open.take() {
            Some(file) => file,
            None => {
                book.begin(sheet)?;
                CsvFile::create(folder, &t)?
            }
        };
        file.rows(&t)?;
        book.rows(sheet)?;
        if more {
            open = Some(file);
        } else {
            row_counts.insert(t.name.clone(), json!(file.finish()?));
            book.end(sheet)?;
            timer.lap(&format!("write: {}", t.name));
        }
        Ok(())
    })?;
    if std::env::var_os("KOC_TIMINGS").is_some() {
        eprintln!("timing tables written: {} ms", t0.elapsed().as_millis());
    }
    write_table(folder, &actions)?;
    row_counts.insert(actions.name.clone(), json!(actions.rows.len()));
    timer.lap("write: actions");
    crate::output::report::render_all(loaded.file(), &ctx, folder)?;
    timer.lap("write: report rendered");
    if loaded.notices.is_some() {
        let notices = crate::output::messages::notices_table(loaded, ds, &computed.notices)?;
        write_table(folder, &notices)?;
        row_counts.insert(notices.name.clone(), json!(notices.rows.len()));
    }
    let report_path = std::fs::canonicalize(runs)
        .unwrap_or_else(|_| runs.to_path_buf())
        .join(fmt_day(as_of))
        .join("report.html");
    let notices_count = loaded.notices.is_some().then_some(computed.notices.len());
    let digest = crate::output::digest::render(loaded, &ctx, &report_path, notices_count)?;
    koc_engine::store::write_atomic(&folder.join(crate::output::digest::FILE), &digest)?;
    book.save(&folder.join("report.xlsx"))?;
    timer.lap("write: workbook");
    Ok((ctx, nights))
}

/// Clean up after a run that was killed: a temp folder is dropped, and a previous run
/// moved aside but not yet replaced is put back (under the store's lock).
fn recover_runs(runs: &Path) -> Result<()> {
    for entry in std::fs::read_dir(runs)? {
        let path = entry?.path();
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default();
        if name.starts_with(".tmp-") {
            std::fs::remove_dir_all(&path).with_context(|| format!("cannot remove {}", path.display()))?;
        } else if let Some(rest) = name.strip_prefix(".old-") {
            // .old-<D>-<pid>: <D> is 10 characters
            let day = rest.get(..10).unwrap_or(rest);
            let dest = runs.join(day);
            if dest.exists() {
                std::fs::remove_dir_all(&path)?;
            } else {
                std::fs::rename(&path, &dest)?;
            }
        }
    }
    Ok(())
}

/// A re-run of D keeps what `koc notify` already sent for D (SPEC §17): the record
/// moves into the new folder, so a later notify does not send it twice.
fn keep_notify_record(folder: &Path, new: &Path) -> Result<()> {
    let record = folder.join(crate::cmd::notify::RECORD);
    match std::fs::read(&record) {
        Ok(bytes) => koc_engine::store::write_atomic(&new.join(crate::cmd::notify::RECORD), &bytes),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(anyhow::Error::new(e).context(format!("cannot read {}", record.display()))),
    }
}

/// Swap a finished folder in place of `dest`: the old one is moved aside, then removed.
fn replace_dir(new: PathBuf, dest: &Path) -> Result<()> {
    if dest.exists() {
        let old = dest.with_file_name(format!(
            ".old-{}-{}",
            dest.file_name().map(|s| s.to_string_lossy()).unwrap_or_default(),
            std::process::id()
        ));
        std::fs::rename(dest, &old).with_context(|| format!("cannot move {} aside", dest.display()))?;
        std::fs::rename(&new, dest).with_context(|| format!("cannot move the run into {}", dest.display()))?;
        std::fs::remove_dir_all(&old).with_context(|| format!("cannot remove {}", old.display()))?;
    } else {
        std::fs::rename(&new, dest).with_context(|| format!("cannot move the run into {}", dest.display()))?;
    }
    Ok(())
}

/// A table's CSV file written a piece at a time (UTF-8 with a BOM, as `Table::to_csv`).
struct CsvFile {
    path: PathBuf,
    csv: csv::Writer<std::io::BufWriter<std::fs::File>>,
    rows: usize,
}

impl CsvFile {
    fn create(dir: &Path, t: &Table) -> Result<CsvFile> {
        use std::io::Write;
        let path = dir.join(format!("{}.csv", t.name));
        let file = std::fs::File::create(&path).with_context(|| format!("cannot write {}", path.display()))?;
        let mut out = std::io::BufWriter::new(file);
        out.write_all(&[0xEF, 0xBB, 0xBF])
            .with_context(|| format!("cannot write {}", path.display()))?;
        let csv = t.csv_writer(out)?;
        Ok(CsvFile { path, csv, rows: 0 })
    }

    fn rows(&mut self, piece: &Table) -> Result<()> {
        piece
            .write_csv_rows(&mut self.csv)
            .with_context(|| format!("cannot write {}", self.path.display()))?;
        self.rows += piece.rows.len();
        Ok(())
    }

    /// Flush the file; returns its rows.
    fn finish(self) -> Result<usize> {
        use std::io::Write;
        let cannot = || format!("cannot write {}", self.path.display());
        let mut out = self
            .csv
            .into_inner()
            .map_err(|e| anyhow::anyhow!("{}", e.error()))
            .with_context(cannot)?;
        out.flush().with_context(cannot)?;
        Ok(self.rows)
    }
}

pub fn write_table(dir: &Path, t: &Table) -> Result<()> {
    if let Some((_, ints)) = PARQUET.iter().find(|(n, _)| *n == t.name) {
        return write_parquet_table(dir, &t.name, &mut table_frame(t, ints)?);
    }
    let path = dir.join(format!("{}.csv", t.name));
    std::fs::write(&path, t.to_csv()?).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

/// `DIR/<name>.parquet` from a table's frame (polars' defaults).
fn write_parquet_table(dir: &Path, name: &str, df: &mut DataFrame) -> Result<()> {
    let path = dir.join(format!("{name}.parquet"));
    let f = std::fs::File::create(&path).with_context(|| format!("cannot write {}", path.display()))?;
    ParquetWriter::new(f)
        .finish(df)
        .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))?;
    Ok(())
}

/// A table as a DataFrame: text columns (empty → NULL), the named ones as Int64.
pub fn table_frame(t: &Table, ints: &[&str]) -> Result<DataFrame> {
    let mut cols = Vec::new();
    for (i, name) in t.columns.iter().enumerate() {
        let col = if ints.contains(&name.as_str()) {
            Column::new(
                name.as_str().into(),
                t.rows
                    .iter()
                    .map(|r| r[i].as_str().parse::<i64>().ok())
                    .collect::<Vec<_>>(),
            )
        } else {
            Column::new(
                name.as_str().into(),
                t.rows
                    .iter()
                    .map(|r| Some(r[i].as_str()).filter(|s| !s.is_empty()))
                    .collect::<Vec<_>>(),
            )
        };
        cols.push(col);
    }
    Ok(DataFrame::new(t.rows.len(), cols)?)
}

/// The as-of date: given, or yesterday in the program time zone. A given D may be at
/// most a year after today: the day-by-day stages would otherwise run for hours on a
/// typo like 9999-12-31.
pub fn as_of(loaded: &Program, given: Option<&str>) -> Result<Day> {
    let today = koc_engine::ingest::timestamps::today(loaded.tz);
    match given {
        Some(s) => {
            let d = koc_engine::ingest::timestamps::parse_day(s).ok_or_else(|| {
                KocError::usage(format!("--as-of '{s}' is not a date"))
                    .with_hint("use YYYY-MM-DD, a year from 1900 to 2200")
            })?;
            if d > today + MAX_DAYS_AHEAD {
                return Err(KocError::usage(format!(
                    "--as-of {s} is more than {MAX_DAYS_AHEAD} days after today ({})",
                    fmt_day(today)
                ))
                .with_hint("give the date the data describes, usually yesterday")
                .into());
            }
            Ok(d)
        }
        None => Ok(today - 1),
    }
}

/// How far past today `--as-of` may go (what-if runs look a little ahead).
pub const MAX_DAYS_AHEAD: Day = 366;
