//! `koc run --shard I/N --out DIR` and `koc merge` (docs/scale-out.md): the per-member
//! stages of one shard's members into a part, and the parts put together into the
//! ordinary run folder, the same bytes as one `koc run` (run.json's timings aside).
use crate::cmd::run::{write_run, Results, RunOutcome, Started};
use anyhow::{bail, Context, Result};
use koc_engine::compute::Purpose;
use koc_engine::fmt::{fmt_day, Day};
use koc_engine::model::Dataset;
use koc_engine::parts::Identity;
use koc_engine::pipeline::expr::SqlExpr;
use koc_engine::pipeline::program::{Measure, MeasurePlan, Place, Program};
use koc_engine::shard::Shard;
use koc_engine::store::{sha256_hex, Store};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Compute shard `shard`'s members and write their part into `out`. The store is read
/// as it is: nothing is ingested, nothing in the store is written.
pub fn shard(loaded: &Program, as_of: Day, shard: Shard, out: &Path, progress: bool) -> Result<PathBuf> {
    let _stages = koc_engine::progress::stages(progress, &format!("koc run {} --shard {shard}", fmt_day(as_of)));
    refuse_cross_member_conditions(loaded)?;
    let store_dir = loaded.file().store_dir();
    koc_engine::store::refuse_output_inside(&store_dir, out, "--out")?;
    let store = Store::open_read(&store_dir);
    let before = identity(loaded, &store, as_of)?;
    let manifest = store.manifest()?;
    koc_engine::progress::stage("loading the shard's members");
    let ds = Dataset::load_shard(&store, &manifest, as_of, shard)?;
    let state = koc_engine::compute::member_state(loaded, &ds, Purpose::Run)?;
    if identity(loaded, &store, as_of)? != before {
        bail!(koc_engine::error::usage_err(format!(
            "the store changed while shard {shard} read it (an ingest ran): run the shard again once the ingest is done"
        )));
    }
    koc_engine::progress::stage("writing the part");
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    koc_engine::parts::write(out, shard, before, &ds, &state)
}

/// Put the parts in `dirs` together into `STORE/runs/<D>/`.
pub fn merge(loaded: &Program, as_of: Day, dirs: &[PathBuf], progress: bool) -> Result<RunOutcome> {
    let t0 = Instant::now();
    let _stages = koc_engine::progress::stages(progress, &format!("koc merge {}", fmt_day(as_of)));
    koc_engine::progress::stage("checking the store");
    let store = Store::open_locked(&loaded.file().store_dir())?;
    // what `koc run`'s ingest would report with nothing new: a file not yet stored is
    // an error (the shards did not read it)
    let ingest = koc_engine::ingest::stored_only(loaded, &store)?;
    let t_ingest = t0.elapsed();
    let parts = koc_engine::parts::find(dirs, &identity(loaded, &store, as_of)?)?;
    let manifest = store.manifest()?;
    koc_engine::progress::stage("reading the parts");
    let decoded = koc_engine::parts::decode(parts)?;
    // the events stay in the store: what the stages after the shards read of them
    // came in the parts, and the ledger is written from the shards' ledger files
    koc_engine::progress::stage("loading the store without its events");
    let ds = Dataset::load_without_events(&store, &manifest, as_of, decoded.unlisted())?;
    let ledger = decoded.ledger(loaded, crate::output::ledger::LEDGER_BATCH)?;
    koc_engine::progress::stage("stitching the parts");
    let state = koc_engine::parts::stitch(loaded, &ds, decoded)?;
    let computed = koc_engine::compute::compute_with(loaded, &ds, state, Purpose::Run)?;
    let started = Started {
        at: t0,
        ingest: t_ingest,
        compute: t0.elapsed() - t_ingest,
    };
    let results = Results {
        computed,
        ledger: Some(ledger),
    };
    write_run(loaded, &store, &manifest, &ds, results, ingest, started)
}

/// What a part was computed from: the store as its manifest names it, the pipeline's
/// text, D and koc's version.
fn identity(loaded: &Program, store: &Store, as_of: Day) -> Result<Identity> {
    let path = store.dir.join("manifest.json");
    let manifest = std::fs::read(&path).with_context(|| {
        format!(
            "cannot read {}: run `koc ingest {}` before the shards",
            path.display(),
            loaded.file().path.display()
        )
    })?;
    Ok(Identity {
        store: sha256_hex(&manifest),
        pipeline: sha256_hex(loaded.file().text.as_bytes()),
        as_of: fmt_day(as_of),
        koc_version: env!("CARGO_PKG_VERSION").to_string(),
    })
}

/// A points rule's, a metric's or a goal's `where`, a layer's `when` or a contest's
/// `from_data` that compares members (an aggregate or a window) would see only one shard's members: such a
/// program cannot be sharded.
fn refuse_cross_member_conditions(loaded: &Program) -> Result<()> {
    let rules = loaded.rules.as_ref().map_or(0, |r| r.rules.len());
    let places = (0..rules)
        .map(Place::Rule)
        .chain((0..loaded.metrics.len()).map(Place::Metric))
        .chain((0..loaded.layers.as_ref().map_or(0, |l| l.ids.len())).map(Place::Level))
        .chain(
            loaded
                .contests
                .iter()
                .enumerate()
                .flat_map(|(k, c)| (0..c.criteria.len()).map(move |j| Place::FromData(k, j))),
        );
    let mut conditions: Vec<&SqlExpr> = places.filter_map(|place| loaded.conditions.get(&place)).collect();
    for goal in &loaded.goals {
        goal_filters(&goal.measure, &mut conditions);
    }
    if let Some(e) = conditions.into_iter().find(|e| !e.is_row_wise()) {
        bail!(koc_engine::error::usage_err(format!(
            "{} ({}): `{}` compares members (an aggregate or a window), so a shard, which sees only \
             its own members, cannot compute it; run without --shard",
            e.location, e.what, e.text
        )));
    }
    Ok(())
}

/// A goal's `where`, and those of both sides of a ratio.
fn goal_filters<'a>(m: &'a MeasurePlan, out: &mut Vec<&'a SqlExpr>) {
    out.extend(m.filter.iter());
    if let Measure::Ratio(a, b) = &m.measure {
        goal_filters(a, out);
        goal_filters(b, out);
    }
}
