//! `koc run --shard I/N --out DIR` and `koc merge` (docs/scale-out.md): the per-member
//! stages of one shard's members into a part, and the parts put together into the
//! ordinary run folder, the same bytes as one `koc run` (run.json's timings aside).
use crate::cmd::run::{write_run, Results, RunOutcome, Started};
use crate::cmd::shard_plan::{largest_month, stored_events, ShardPlan};
use anyhow::{bail, Context, Result};
use koc_engine::compute::Purpose;
use koc_engine::fmt::{fmt_day, Day};
use koc_engine::model::Dataset;
use koc_engine::parts::Identity;
use koc_engine::pipeline::expr::SqlExpr;
use koc_engine::pipeline::program::{Measure, MeasurePlan, Place, Program};
use koc_engine::shard::Shard;
use koc_engine::store::{sha256_hex, Manifest, Store};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Compute shard `shard`'s members and write their part into `out`. The store is read
/// as it is: nothing is ingested, nothing in the store is written.
pub fn shard(loaded: &Program, as_of: Day, shard: Shard, out: &Path, progress: bool) -> Result<PathBuf> {
    let _stages = koc_engine::progress::stages(progress, &format!("koc run {} --shard {shard}", fmt_day(as_of)));
    refuse_cross_member_conditions(loaded, "run without --shard")?;
    let store_dir = loaded.file().store_dir();
    koc_engine::store::refuse_output_inside(&store_dir, out, "--out")?;
    let store = Store::open_read(&store_dir);
    let before = identity(loaded, &store, as_of)?;
    // the months as `koc ingest --split N` laid them out for this shard, where it did
    let kept = koc_engine::model::kept_split_of(&store, &store.manifest()?, as_of, shard);
    if progress {
        for file in &kept.damaged {
            koc_engine::progress::eprint_line(&format!(
                "warning: {} is damaged or missing: this shard read its month instead; the next \
                 `koc ingest --split {}` splits that month again",
                store_dir.join(file).display(),
                shard.count
            ));
        }
        if kept.laid_out && kept.not_kept > 0 {
            koc_engine::progress::eprint_line(&format!(
                "warning: {} does not hold {} of the {} months for {} shard tasks (ingested since the \
                 last `koc ingest --split {3}`?): this shard read them itself; ingest with `--split {3}`",
                store_dir.join(koc_engine::model::split_cache::DIR).display(),
                kept.not_kept,
                kept.months,
                shard.count
            ));
        }
    }
    let state = ShardState::compute(loaded, &store, &kept.manifest, as_of, shard)?;
    if identity(loaded, &store, as_of)? != before {
        bail!(koc_engine::error::usage_err(format!(
            "the store changed while shard {shard} read it (an ingest ran): run the shard again once the ingest is done"
        )));
    }
    state.write(out, before)
}

/// One shard's members, their data and their state.
struct ShardState {
    shard: Shard,
    ds: Dataset,
    state: koc_engine::compute::MemberState,
}

impl ShardState {
    /// The shard's state from the store as `manifest` describes it (the store's own, or
    /// one whose events are the shard's split partitions).
    fn compute(loaded: &Program, store: &Store, manifest: &Manifest, as_of: Day, shard: Shard) -> Result<ShardState> {
        koc_engine::progress::stage("loading the shard's members");
        let ds = Dataset::load_shard(store, manifest, as_of, shard)?;
        let state = koc_engine::compute::member_state(loaded, &ds, Purpose::Run)?;
        Ok(ShardState { shard, ds, state })
    }

    fn write(self, out: &Path, identity: Identity) -> Result<PathBuf> {
        koc_engine::progress::stage("writing the part");
        std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
        koc_engine::parts::write(out, self.shard, identity, &self.ds, &self.state)
    }
}

/// Whom an ingest laid the months out for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LaidOutFor {
    /// `--split N`: a scheduler's N shard tasks.
    Tasks,
    /// A memory budget: the shards of a run within it.
    Budget,
}

/// What an ingest laid out: for whom, the months for how many shards, how many it
/// split now, of how many the store holds (the others were kept as they were).
pub struct LaidOut {
    pub for_whom: LaidOutFor,
    pub shards: u64,
    pub split_now: usize,
    pub months: usize,
}

/// After an ingest: lay the store's months out for `--split N`'s tasks, else for the
/// shards a run within the ingest's `budget` computes (`lay_out_within`), else not at
/// all.
pub fn lay_out_after_ingest(
    loaded: &Program,
    store: &Store,
    split: Option<u64>,
    budget: Option<u64>,
    progress: bool,
) -> Result<Option<LaidOut>> {
    match (split, budget) {
        (Some(count), _) => Ok(Some(lay_out(
            store,
            &store.manifest()?,
            count,
            1,
            LaidOutFor::Tasks,
            progress,
        )?)),
        (None, Some(b)) => lay_out_within(loaded, store, b, progress),
        (None, None) => Ok(None),
    }
}

/// Lay out every month of the store (as `manifest` describes it) for `count` shards,
/// `at_once` months at a time.
fn lay_out(
    store: &Store,
    manifest: &Manifest,
    count: u64,
    at_once: usize,
    for_whom: LaidOutFor,
    progress: bool,
) -> Result<LaidOut> {
    let _stages = koc_engine::progress::stages(progress, "koc ingest");
    koc_engine::progress::stage(&format!("laying the months out for {count} shards"));
    Ok(LaidOut {
        for_whom,
        shards: count,
        split_now: koc_engine::model::split_every_month(store, manifest, count, at_once)?,
        months: manifest.events.len(),
    })
}

/// After an ingest within `budget`: lay out every month for the shards a run within
/// the same budget computes (`plan_within`), so that the run does not split the
/// history itself (after a whole-history ingest, a quarter of the run). None: one
/// computation of the store fits the budget, it holds no events, or the program
/// cannot be sharded (the run says why), and nothing is laid out.
fn lay_out_within(loaded: &Program, store: &Store, budget: u64, progress: bool) -> Result<Option<LaidOut>> {
    let manifest = store.manifest()?;
    let (plan, months_at_once) = plan_within(store, &manifest, budget);
    if plan.count == 1 || manifest.events.is_empty() || cross_member_condition(loaded).is_some() {
        return Ok(None);
    }
    let laid_out = lay_out(
        store,
        &manifest,
        plan.count,
        months_at_once,
        LaidOutFor::Budget,
        progress,
    )?;
    Ok(Some(laid_out))
}

/// Say on stderr when the store's members alone need more than `budget` (no number of
/// shards keeps the run within it, `ShardPlan::members_over`). A members table that
/// cannot be read says nothing here: the run's load names it.
fn warn_of_members_over(store: &Store, manifest: &Manifest, budget: u64) {
    let Some(members) = (manifest.tables.get(koc_engine::table::MEMBERS.name)).and_then(|rel| store.rows_in(rel).ok())
    else {
        return;
    };
    if let Some(need) = ShardPlan::members_over(members as u64, budget) {
        // budgets are read in powers of 1024 (6G is 6 GiB)
        let gib = |bytes: u64| bytes as f64 / (1u64 << 30) as f64;
        koc_engine::progress::eprint_line(&format!(
            "warning: the {members} members need about {:.1} GiB whatever the shards (the merge \
             holds every member's state), more than the memory budget of {:.1} GiB: the run may \
             go over it; give it more memory (--memory-budget, ingest.memory_budget)",
            gib(need),
            gib(budget)
        ));
    }
}

/// How a run within `budget` computes the store as `manifest` describes it on this
/// process's threads (`ShardPlan::within`), and how many months its split takes at
/// once. The budgeted ingest lays the months out by the same plan, so that the run
/// finds them split for its N.
fn plan_within(store: &Store, manifest: &Manifest, budget: u64) -> (ShardPlan, usize) {
    let plan = ShardPlan::within(
        stored_events(store, manifest),
        budget,
        rayon::current_num_threads() as u64,
    );
    let months_at_once = plan.months_at_once(largest_month(store, manifest), budget);
    (plan, months_at_once as usize)
}

/// `koc run` under a memory budget (docs/scale-out.md): the ingest in passes that fit
/// it, then, when one computation of the whole store would not, the members in shards
/// computed in this process (as many at once as there are threads and shares of the
/// budget) and the merge — the same run folder as `koc run`.
pub fn run_within(loaded: &Program, as_of: Day, budget: u64, progress: bool) -> Result<(RunOutcome, ShardPlan)> {
    let t0 = Instant::now();
    let _stages = koc_engine::progress::stages(progress, &format!("koc run {}", fmt_day(as_of)));
    koc_engine::progress::stage("ingest");
    let store = Store::open_locked(&loaded.file().store_dir())?;
    let ingest = koc_engine::ingest::passes::ingest_within(loaded, &store, progress, budget)?;
    let t_ingest = t0.elapsed();
    let manifest = store.manifest()?;
    let (plan, months_at_once) = plan_within(&store, &manifest, budget);
    if progress {
        warn_of_members_over(&store, &manifest, budget);
    }
    if plan.count == 1 {
        return Ok((
            crate::cmd::run::compute_and_write(loaded, &store, as_of, ingest, t0, t_ingest)?,
            plan,
        ));
    }
    refuse_cross_member_conditions(
        loaded,
        "this store needs shards to stay within the memory budget: give the run more memory \
         (--memory-budget, ingest.memory_budget) or make the condition compare no members",
    )?;
    // the parts live in the store's folder while the run holds its lock; a folder left
    // by a run that was killed is removed by the next
    for entry in std::fs::read_dir(&store.dir)? {
        let path = entry?.path();
        if path
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with(".shards-"))
        {
            std::fs::remove_dir_all(&path).with_context(|| format!("cannot remove {}", path.display()))?;
        }
    }
    let parts = tempfile::Builder::new()
        .prefix(".shards-")
        .tempdir_in(&store.dir)
        .with_context(|| format!("cannot create a folder in {}", store.dir.display()))?;
    let id = identity(loaded, &store, as_of)?;
    // each month read once, its rows split among the shards (and kept for the next run)
    koc_engine::progress::stage("splitting the events among the shards");
    let mut timer = koc_engine::timing::Timer::new();
    let split = koc_engine::model::split_events(&store, &manifest, as_of, plan.count, months_at_once)?;
    timer.lap(&format!("split among {} shards", plan.count));
    koc_engine::progress::stage("computing the shards");
    let jobs: Vec<(Shard, Manifest)> = (0..plan.count)
        .zip(split)
        .map(|(index, manifest)| {
            (
                Shard {
                    index,
                    count: plan.count,
                },
                manifest,
            )
        })
        .collect();
    koc_engine::at_once::map_at_once(plan.at_once as usize, jobs, |(shard, manifest)| {
        let mut timer = koc_engine::timing::Timer::new();
        ShardState::compute(loaded, &store, &manifest, as_of, shard)?.write(parts.path(), id.clone())?;
        timer.lap(&format!("shard {shard} written"));
        Ok(())
    })?;
    let outcome = merge_into(
        loaded,
        &store,
        as_of,
        &[parts.path().to_path_buf()],
        ingest,
        (t0, t_ingest),
    )?;
    Ok((outcome, plan))
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
    merge_into(loaded, &store, as_of, dirs, ingest, (t0, t_ingest))
}

/// The merge into the locked store, after `ingest` (`started`: when the run began and
/// how long its ingest took).
fn merge_into(
    loaded: &Program,
    store: &Store,
    as_of: Day,
    dirs: &[PathBuf],
    ingest: koc_engine::ingest::IngestReport,
    (t0, t_ingest): (Instant, std::time::Duration),
) -> Result<RunOutcome> {
    let parts = koc_engine::parts::find(dirs, &identity(loaded, store, as_of)?)?;
    let manifest = store.manifest()?;
    koc_engine::progress::stage("reading the parts");
    let decoded = koc_engine::parts::decode(parts)?;
    // the events stay in the store: what the stages after the shards read of them
    // came in the parts, and the ledger is written from the shards' ledger files
    koc_engine::progress::stage("loading the store without its events");
    let ds = Dataset::load_without_events(store, &manifest, as_of, decoded.unlisted(as_of)?)?;
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
    write_run(loaded, store, &manifest, &ds, results, ingest, started)
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

/// A points rule's, a metric's, a badge's or a goal's `where`, a layer's `when` or a
/// contest's `from_data` that compares members (an aggregate or a window) would see only
/// one shard's members: such a program cannot be sharded. The first such condition.
fn cross_member_condition(loaded: &Program) -> Option<&SqlExpr> {
    let rules = loaded.rules.as_ref().map_or(0, |r| r.rules.len());
    let places = (0..rules)
        .map(Place::Rule)
        .chain((0..loaded.metrics.len()).map(Place::Metric))
        .chain((0..loaded.layers.as_ref().map_or(0, |l| l.ids.len())).map(Place::Level))
        .chain((0..loaded.badges.len()).map(Place::Badge))
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
    conditions.into_iter().find(|e| !e.is_row_wise())
}

/// Refuse a program that cannot be sharded (`cross_member_condition`), naming the
/// condition; `instead`: what to do about it (run without --shard, or with a larger
/// budget).
fn refuse_cross_member_conditions(loaded: &Program, instead: &str) -> Result<()> {
    if let Some(e) = cross_member_condition(loaded) {
        bail!(koc_engine::error::usage_err(format!(
            "{} ({}): `{}` compares members (an aggregate or a window), so a shard, which sees only \
             its own members, cannot compute it; {instead}",
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
