//! `koc run` (SPEC §11): ingest, compute, render, and write `STORE/runs/<D>/`
//! as a whole (temp folder, then rename).
use crate::compute::Computed;
use crate::config::Loaded;
use crate::error::KocError;
use crate::fmt::{fmt_day, Day};
use crate::ingest::IngestReport;
use crate::model::Dataset;
use crate::output::Table;
use crate::store::{sha256_hex, Store};
use anyhow::{Context, Result};
use polars::prelude::*;
use serde_json::json;
use std::path::{Path, PathBuf};
use std::time::Instant;

pub struct RunOutcome {
    pub folder: PathBuf,
    pub ingest: IngestReport,
    pub computed: Computed,
    pub gate_failed: bool,
}

/// Tables written as Parquet instead of CSV, with their integer columns.
const PARQUET: [(&str, &[&str]); 1] = [("layer_history", &[])];

pub fn run(loaded: &Loaded, as_of: Day, progress: bool) -> Result<RunOutcome> {
    let t0 = Instant::now();
    let store = Store::open_locked(&loaded.store_dir())?;
    let ingest = crate::ingest::ingest(loaded, &store, progress)?;
    // gated files changed nothing; the run goes on with the rest, then exits 3
    let gate_error = ingest.gate(loaded.pipeline.ingest.max_reject_ratio).err();
    let t_ingest = t0.elapsed();
    let manifest = store.manifest()?;
    let ds = Dataset::load(&store, &manifest, as_of)?;
    if std::env::var_os("KOC_TIMINGS").is_some() {
        eprintln!("timing ingest + load: {} ms", t0.elapsed().as_millis());
    }
    let computed = crate::compute::compute(loaded, &ds)?;
    let t_compute = t0.elapsed() - t_ingest;
    let quality = crate::report::quality(&manifest, &ds, &ingest);
    let runs = store.dir.join("runs");
    std::fs::create_dir_all(&runs)?;
    recover_runs(&runs)?;
    let tmp = tempfile::Builder::new().prefix(".tmp-").tempdir_in(&runs)?;
    let mut row_counts = serde_json::Map::new();
    let mut ledger = computed.ledger.clone();
    ParquetWriter::new(std::fs::File::create(tmp.path().join("ledger.parquet"))?).finish(&mut ledger)?;
    row_counts.insert("ledger".into(), json!(ledger.height()));
    for t in &computed.tables {
        write_table(tmp.path(), t)?;
        row_counts.insert(t.name.clone(), json!(t.rows.len()));
    }
    if std::env::var_os("KOC_TIMINGS").is_some() {
        eprintln!("timing tables written: {} ms", t0.elapsed().as_millis());
    }
    let ctx = crate::report::context(loaded, &ds, &computed, &quality)?;
    crate::report::render_all(loaded, &ctx, tmp.path())?;
    // the Parquet tables (ledger, layer history) are for tools, not for a spreadsheet
    let sheets: Vec<Table> = computed
        .tables
        .iter()
        .filter(|t| !PARQUET.iter().any(|(n, _)| *n == t.name))
        .cloned()
        .collect();
    crate::xlsx::write(&tmp.path().join("report.xlsx"), &sheets, crate::fmt::date_of(as_of))?;
    let pipeline_sha = sha256_hex(loaded.text.as_bytes());
    let inputs: Vec<_> = manifest
        .files
        .iter()
        .map(|f| json!({"path": f.path, "source": f.source, "sha256": f.sha256, "counts": f.counts}))
        .collect();
    let run_json = json!({
        "pipeline": loaded.path.display().to_string(),
        "pipeline_sha256": pipeline_sha,
        "as_of": fmt_day(as_of),
        "inputs": inputs,
        "ingest": ingest.files,
        "outputs": row_counts,
        "timings_ms": {"ingest": t_ingest.as_millis() as u64, "compute": t_compute.as_millis() as u64, "total": t0.elapsed().as_millis() as u64},
        "warnings": ingest.warnings,
        "exit_status": if gate_error.is_some() { 3 } else { 0 },
    });
    std::fs::write(tmp.path().join("run.json"), serde_json::to_vec_pretty(&run_json)?)?;
    let folder = runs.join(fmt_day(as_of));
    replace_dir(tmp.keep(), &folder)?;
    Ok(RunOutcome {
        folder,
        ingest,
        computed,
        gate_failed: gate_error.is_some(),
    })
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
            std::fs::remove_dir_all(&path)?;
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

/// Swap a finished folder in place of `dest`: the old one is moved aside, then removed.
fn replace_dir(new: PathBuf, dest: &Path) -> Result<()> {
    if dest.exists() {
        let old = dest.with_file_name(format!(
            ".old-{}-{}",
            dest.file_name().map(|s| s.to_string_lossy()).unwrap_or_default(),
            std::process::id()
        ));
        std::fs::rename(dest, &old)?;
        std::fs::rename(&new, dest).with_context(|| format!("cannot move the run into {}", dest.display()))?;
        std::fs::remove_dir_all(&old)?;
    } else {
        std::fs::rename(&new, dest).with_context(|| format!("cannot move the run into {}", dest.display()))?;
    }
    Ok(())
}

pub fn write_table(dir: &Path, t: &Table) -> Result<()> {
    if let Some((_, ints)) = PARQUET.iter().find(|(n, _)| *n == t.name) {
        let mut df = table_frame(t, ints)?;
        let f = std::fs::File::create(dir.join(format!("{}.parquet", t.name)))?;
        ParquetWriter::new(f).finish(&mut df)?;
        return Ok(());
    }
    std::fs::write(dir.join(format!("{}.csv", t.name)), t.to_csv()?)?;
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

/// The as-of date: given, or yesterday in the program time zone.
pub fn as_of(loaded: &Loaded, given: Option<&str>) -> Result<Day> {
    match given {
        Some(s) => crate::timestamps::parse_day(s).ok_or_else(|| {
            KocError::usage(format!("--as-of '{s}' is not a date"))
                .with_hint("use YYYY-MM-DD")
                .into()
        }),
        None => Ok(crate::timestamps::today(crate::check::timezone(loaded)?) - 1),
    }
}
