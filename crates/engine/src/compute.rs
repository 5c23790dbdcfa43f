//! Every stage in SPEC order, as a pure function of (store, pipeline, D).
use crate::fmt::Day;
use crate::model::Dataset;
use crate::pipeline::program::Program;
use crate::stages::contests::ContestResult;
use crate::stages::facts::Facts;
use crate::stages::goals::{GoalResult, Incentive};
use crate::stages::layers::{Engine, LayerRow};
use crate::stages::metrics::Metric;
use crate::stages::points::Points;
use crate::stages::scouting::Candidate;
use crate::stages::tiers::TierState;
use anyhow::Result;

pub struct Computed {
    pub as_of: Day,
    /// Shared (not copied) when a what-if scenario reuses the baseline's points.
    pub points: std::sync::Arc<Points>,
    pub tiers: Vec<Option<TierState>>,
    pub tier_ids: Vec<String>,
    pub level_ids: Vec<String>,
    pub history: Vec<(Day, LayerRow)>,
    pub layer_at_d: LayerRow,
    pub previous_snapshot: Option<Day>,
    pub newcomers: Vec<Candidate>,
    pub contests: Vec<ContestResult>,
    pub goals: Vec<GoalResult>,
    pub incentives: Vec<Incentive>,
    pub care: Vec<crate::stages::care::Occasion>,
    /// None without a `hall_of_fame` section (and in a what-if).
    pub hall_of_fame: Option<crate::stages::hall_of_fame::HallOfFame>,
    pub growth: Option<crate::stages::growth::Growth>,
    pub mentor_matches: Option<Vec<crate::stages::growth_plan::Match>>,
    pub team_proposals: Option<Vec<crate::stages::growth_plan::Proposal>>,
    /// Every badge award at D, in badges.csv's order (none without `badges`).
    pub badges: Vec<crate::stages::badges::Award>,
    /// What to tell members about D (none without `notices`).
    pub notices: Vec<crate::stages::notices::Notice>,
    /// The metric frame at D (scouting reads it; a scenario may reuse it).
    pub snapshot_d: crate::stages::layers::Snapshot,
    /// What the other stages read of each member's own events and lots.
    pub facts: Vec<Facts>,
}

impl Computed {
    /// Members per tier level at D (indexed as `tier_ids`).
    pub fn members_per_tier(&self) -> Vec<usize> {
        per_level(self.tier_ids.len(), self.tiers.iter().flatten().map(|s| s.tier))
    }

    /// Members per layer level at D (indexed as `level_ids`).
    pub fn members_per_layer(&self) -> Vec<usize> {
        per_level(self.level_ids.len(), self.layer_at_d.iter().flatten().copied())
    }
}

fn per_level(levels: usize, members: impl Iterator<Item = usize>) -> Vec<usize> {
    let mut counts = vec![0; levels];
    for l in members {
        counts[l] += 1;
    }
    counts
}

pub fn compute(prog: &Program, ds: &Dataset) -> Result<Computed> {
    compute_reusing(prog, ds, None, Purpose::Run)
}

/// What a computation is for: a run writes every output; a what-if scenario only
/// compares typed figures, so the ledger is dropped and the hall of fame not computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    Run,
    WhatIf,
}

/// What is computed per member, each from the member's own rows only: points, tiers,
/// the layer snapshots and the metric frame at D. A what-if scenario takes it over from
/// its baseline when nothing it depends on differs; `koc merge` stitches it from the
/// shards' parts (docs/scale-out.md).
#[derive(Clone)]
pub struct MemberState {
    pub points: std::sync::Arc<Points>,
    pub tiers: Vec<Option<TierState>>,
    /// The layers at every regular snapshot before D, in order.
    pub history: Vec<(Day, LayerRow)>,
    pub layer_at_d: LayerRow,
    pub snapshot_d: crate::stages::layers::Snapshot,
    pub facts: Vec<Facts>,
}

impl MemberState {
    /// The member state of a finished computation.
    pub fn of(c: &Computed) -> MemberState {
        MemberState {
            points: c.points.clone(),
            tiers: c.tiers.clone(),
            history: c.history.clone(),
            layer_at_d: c.layer_at_d.clone(),
            snapshot_d: c.snapshot_d.clone(),
            facts: c.facts.clone(),
        }
    }
}

/// The stages a what-if scenario can take over from the baseline.
pub struct Reuse<'a> {
    pub base: &'a Computed,
}

/// Whether `scenario` leaves points, tiers and layers as in `base`: the sections they
/// read are equal, and so are the days goals need layers at.
pub fn reusable(base: &Program, scenario: &Program, as_of: Day) -> bool {
    let value = |l: &Program| serde_saphyr::from_str::<serde_json::Value>(&l.file().text).ok();
    let (Some(a), Some(b)) = (value(base), value(scenario)) else {
        return false;
    };
    // the notices' day decides which lots' points the facts keep as expiring
    let same = [
        "program",
        "points",
        "redemption",
        "tiers",
        "metrics",
        "layers",
        "notices",
    ]
    .iter()
    .all(|k| a.get(k) == b.get(k));
    same && crate::stages::goals::layer_days(base, as_of) == crate::stages::goals::layer_days(scenario, as_of)
}

/// Every day a layer is evaluated (regular snapshots, D, the goals' days): balances
/// are needed there.
pub fn balance_days(prog: &Program, d: Day) -> Vec<Day> {
    let mut days = crate::stages::layers::regular_snapshots(prog.start, d);
    days.push(d);
    days.extend(crate::stages::goals::layer_days(prog, d));
    days.sort_unstable();
    days.dedup();
    days
}

pub fn compute_reusing(prog: &Program, ds: &Dataset, reuse: Option<Reuse>, purpose: Purpose) -> Result<Computed> {
    match reuse {
        Some(r) => {
            let mut state = MemberState::of(r.base);
            state.facts = crate::stages::facts::refresh(prog, ds, &state.points.awarded_per_event, &state.facts)?;
            compute_with(prog, ds, state, purpose)
        }
        None => {
            let (state, metrics) = member_state_and_metrics(prog, ds, purpose)?;
            compute_from(prog, ds, state, purpose, Some(metrics))
        }
    }
}

/// The per-member stages (SPEC §5–§7): points, tiers, the layers at every regular
/// snapshot and at D. Each member's results depend on that member's rows alone, so a
/// shard of the members gets its members' results exactly.
pub fn member_state(prog: &Program, ds: &Dataset, purpose: Purpose) -> Result<MemberState> {
    Ok(member_state_and_metrics(prog, ds, purpose)?.0)
}

/// `member_state`, with the metrics its layers compiled (the rest of a run reuses them).
fn member_state_and_metrics(prog: &Program, ds: &Dataset, purpose: Purpose) -> Result<(MemberState, Vec<Metric>)> {
    let mut timer = crate::timing::Timer::new();
    let d = ds.as_of;
    let balance_days = balance_days(prog, d);
    crate::progress::stage("points");
    let points = crate::stages::points::compute(prog, ds, &balance_days)?;
    timer.lap("points");
    let ranges = crate::stages::points::member_ledger_ranges(ds, &points.ledger);
    let awards = |i: usize| crate::stages::points::daily_awards(ds, &points.ledger[ranges[i].clone()]);
    crate::progress::stage("tiers");
    let tiers: Vec<Option<TierState>> = match &prog.tiers {
        Some(cfg) => {
            use rayon::prelude::*;
            ds.members
                .par_iter()
                .enumerate()
                .map(|(i, m)| (m.joined <= d).then(|| crate::stages::tiers::run(cfg, &awards(i), m.joined, d)))
                .collect()
        }
        None => vec![None; ds.members.len()],
    };
    timer.lap("tiers");
    let facts = crate::stages::facts::compute(prog, ds, &points, crate::stages::facts::NoticeDay::of(prog, d))?;
    timer.lap("facts");
    let mut points = points;
    if purpose == Purpose::WhatIf {
        // a what-if compares figures: the ledger itself (the largest array) is not
        // shown, and the hall of fame that sums it is not computed
        points.ledger = Vec::new();
    }
    crate::progress::stage("metrics and layers");
    let inputs = crate::stages::layers::Inputs {
        awarded: &points.awarded_per_event,
        tiers: &tiers,
        balance_days: &balance_days,
        balance_at: &points.balance_at,
    };
    let mut engine = Engine::new(prog, ds, inputs)?;
    engine.run_regular(prog.start)?;
    let (layer_at_d, snapshot_d) = engine.evaluate(d)?;
    let history = std::mem::take(&mut engine.history);
    let metrics = std::mem::take(&mut engine.metrics);
    drop(engine);
    timer.lap("layers");
    let state = MemberState {
        points: std::sync::Arc::new(points),
        tiers,
        history,
        layer_at_d,
        snapshot_d,
        facts,
    };
    Ok((state, metrics))
}

/// Every stage after the per-member ones, from their results.
pub fn compute_with(prog: &Program, ds: &Dataset, state: MemberState, purpose: Purpose) -> Result<Computed> {
    compute_from(prog, ds, state, purpose, None)
}

fn compute_from(
    prog: &Program,
    ds: &Dataset,
    state: MemberState,
    purpose: Purpose,
    metrics: Option<Vec<Metric>>,
) -> Result<Computed> {
    let mut timer = crate::timing::Timer::new();
    let d = ds.as_of;
    let start = prog.start;
    let previous_snapshot = crate::stages::layers::regular_snapshots(start, d).last().copied();
    let balance_days = balance_days(prog, d);
    let MemberState {
        points,
        tiers,
        history,
        layer_at_d,
        snapshot_d: snap_d,
        facts,
    } = state;
    let tier_ids: Vec<String> = prog.tiers.as_ref().map(|t| t.ids.clone()).unwrap_or_default();

    let inputs = crate::stages::layers::Inputs {
        awarded: &points.awarded_per_event,
        tiers: &tiers,
        balance_days: &balance_days,
        balance_at: &points.balance_at,
    };
    let mut engine = match metrics {
        Some(m) => Engine::with_metrics(prog, ds, inputs, m)?,
        None => Engine::new(prog, ds, inputs)?,
    };
    engine.history = history;
    let level_ids = engine.level_ids.clone();
    crate::progress::stage("newcomers");
    let newcomers = crate::stages::scouting::compute(prog, ds, &facts, &snap_d, &layer_at_d, &level_ids)?;
    timer.lap("scouting");
    crate::progress::stage("contests");
    let contests = crate::stages::contests::compute_all(prog, ds, &points.awarded_per_event, &layer_at_d)?;
    timer.lap("contests");
    crate::progress::stage("goals");
    let measurer = crate::stages::goals::Measurer::new(prog, ds, &points.awarded_per_event, &engine)
        .knowing_layers(d, layer_at_d.clone());
    let goals = crate::stages::goals::compute(prog, &measurer, d)?;
    let incentives = crate::stages::goals::incentives(prog, ds, &goals);
    timer.lap("goals");
    crate::progress::stage("care calendar");
    let care = crate::stages::care::compute(
        &prog.care,
        ds,
        &crate::stages::care::Inputs {
            layer_at_d: &layer_at_d,
            tiers: &tiers,
            tier_ids: &tier_ids,
            previous_snapshot,
            facts: &facts,
        },
    );
    let history = engine.history.clone();
    drop(measurer);
    drop(engine);

    timer.lap("care");
    let sticky: Vec<bool> = prog.layers.as_ref().map(|l| l.sticky.clone()).unwrap_or_default();
    crate::progress::stage("hall of fame");
    let fame = (purpose == Purpose::Run)
        .then(|| {
            crate::stages::hall_of_fame::compute(
                prog,
                ds,
                &crate::stages::hall_of_fame::Inputs {
                    facts: &facts,
                    history: &history,
                    layer_at_d: &layer_at_d,
                    level_ids: &level_ids,
                    sticky: &sticky,
                    contests: &contests,
                },
            )
        })
        .flatten();
    let hall_of_fame = fame;
    timer.lap("hall of fame");
    crate::progress::stage("growth path");
    let growth = crate::stages::growth::compute(prog, ds, &facts);
    let (mut mentor_matches, mut team_proposals) = (None, None);
    if let Some(g) = &growth {
        if let Some(m) = &prog.mentoring {
            mentor_matches = Some(crate::stages::growth_plan::match_mentors(
                ds,
                g,
                m,
                &newcomers,
                &layer_at_d,
            ));
        }
        if let Some(projects) = &prog.projects {
            team_proposals = Some(crate::stages::growth_plan::propose_teams(
                ds,
                g,
                projects,
                &snap_d,
                &layer_at_d,
            ));
        }
    }
    timer.lap("growth");
    crate::progress::stage("badges and notices");
    let badges = crate::stages::badges::awards(prog, &facts);
    let notices = crate::stages::notices::compute(
        prog,
        ds,
        &crate::stages::notices::Inputs {
            awards: &badges,
            facts: &facts,
            tiers: &tiers,
            contests: &contests,
            history: &history,
            layer_at_d: &layer_at_d,
            level_ids: &level_ids,
        },
    );
    timer.lap("badges and notices");
    Ok(Computed {
        badges,
        notices,
        as_of: d,
        points,
        tiers,
        tier_ids,
        level_ids,
        history,
        layer_at_d,
        previous_snapshot,
        newcomers,
        contests,
        goals,
        incentives,
        care,
        hall_of_fame,
        growth,
        mentor_matches,
        team_proposals,
        snapshot_d: snap_d,
        facts,
    })
}
