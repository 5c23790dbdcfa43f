//! Every stage in SPEC order, as a pure function of (store, pipeline, D).
use crate::fmt::Day;
use crate::model::Dataset;
use crate::pipeline::program::Program;
use crate::stages::contests::{ContentFirst, ContestResult};
use crate::stages::facts::Facts;
use crate::stages::goals::{GoalResult, Incentive, Tally};
use crate::stages::layers::{Engine, LayerRow};
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
    /// The goals' tallies (a scenario may reuse them).
    pub goal_tallies: Vec<Tally>,
    pub content_firsts: Vec<ContentFirst>,
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
    /// The goals' tallies, in the order `goals::compute` takes them.
    pub goal_tallies: Vec<Tally>,
    /// The first event of each content an entry names (`from_data` criteria).
    pub content_firsts: Vec<ContentFirst>,
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
            goal_tallies: c.goal_tallies.clone(),
            content_firsts: c.content_firsts.clone(),
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
    let state = match reuse {
        Some(r) => {
            // the scenario's own badges, specialties and goals over the baseline's points
            let mut state = MemberState::of(r.base);
            state.facts = crate::stages::facts::refresh(prog, ds, &state.points.awarded_per_event, &state.facts)?;
            state.content_firsts = crate::stages::contests::content_firsts(prog, ds, &state.points.awarded_per_event)?;
            if !prog.goals.is_empty() {
                let balance_days = balance_days(prog, ds.as_of);
                let mut engine = Engine::new(prog, ds, layer_inputs(&state.points, &state.tiers, &balance_days))?;
                engine.history = state.history.clone();
                state.goal_tallies = tally_goals(prog, ds, &state.points, &engine, &state.layer_at_d)?;
            }
            state
        }
        None => member_state(prog, ds, purpose)?,
    };
    compute_with(prog, ds, state, purpose)
}

fn layer_inputs<'a>(
    points: &'a Points,
    tiers: &'a [Option<TierState>],
    balance_days: &'a [Day],
) -> crate::stages::layers::Inputs<'a> {
    crate::stages::layers::Inputs {
        awarded: &points.awarded_per_event,
        tiers,
        balance_days,
        balance_at: &points.balance_at,
    }
}

/// Every tally the goals take of the events (their spans in `goals::compute`'s order),
/// with the layers the engine gives at each span's end.
fn tally_goals(
    prog: &Program,
    ds: &Dataset,
    points: &Points,
    engine: &Engine,
    layer_at_d: &LayerRow,
) -> Result<Vec<Tally>> {
    if prog.goals.is_empty() {
        return Ok(Vec::new());
    }
    let measurer = crate::stages::goals::Measurer::new(prog, ds, &points.awarded_per_event, engine)
        .knowing_layers(ds.as_of, layer_at_d.clone());
    crate::stages::goals::compute(prog, &measurer, ds.as_of)?;
    Ok(measurer.into_tallies())
}

/// The per-member stages (SPEC §5–§7): points, tiers, the layers at every regular
/// snapshot and at D, each member's facts and the goals' tallies. Each member's results
/// depend on that member's rows alone, and tallies add up over members, so a shard of
/// the members gets its members' part exactly.
pub fn member_state(prog: &Program, ds: &Dataset, purpose: Purpose) -> Result<MemberState> {
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
    let content_firsts = crate::stages::contests::content_firsts(prog, ds, &points.awarded_per_event)?;
    timer.lap("facts");
    let mut points = points;
    if purpose == Purpose::WhatIf {
        // a what-if compares figures: the ledger itself (the largest array) is not
        // shown, and the hall of fame that sums it is not computed
        points.ledger = Vec::new();
    }
    crate::progress::stage("metrics and layers");
    let mut engine = Engine::new(prog, ds, layer_inputs(&points, &tiers, &balance_days))?;
    engine.run_regular(prog.start)?;
    let (layer_at_d, snapshot_d) = engine.evaluate(d)?;
    timer.lap("layers");
    crate::progress::stage("goals' tallies");
    let goal_tallies = tally_goals(prog, ds, &points, &engine, &layer_at_d)?;
    timer.lap("goal tallies");
    let history = std::mem::take(&mut engine.history);
    drop(engine);
    Ok(MemberState {
        points: std::sync::Arc::new(points),
        tiers,
        history,
        layer_at_d,
        snapshot_d,
        facts,
        goal_tallies,
        content_firsts,
    })
}

/// Every stage after the per-member ones, from their results.
pub fn compute_with(prog: &Program, ds: &Dataset, state: MemberState, purpose: Purpose) -> Result<Computed> {
    let mut timer = crate::timing::Timer::new();
    let d = ds.as_of;
    let start = prog.start;
    let previous_snapshot = crate::stages::layers::regular_snapshots(start, d).last().copied();
    let MemberState {
        points,
        tiers,
        history,
        layer_at_d,
        snapshot_d: snap_d,
        facts,
        goal_tallies,
        content_firsts,
    } = state;
    let tier_ids: Vec<String> = prog.tiers.as_ref().map(|t| t.ids.clone()).unwrap_or_default();

    let level_ids: Vec<String> = prog.layers.as_ref().map(|l| l.ids.clone()).unwrap_or_default();
    crate::progress::stage("newcomers");
    let newcomers = crate::stages::scouting::compute(prog, ds, &facts, &snap_d, &layer_at_d, &level_ids)?;
    timer.lap("scouting");
    crate::progress::stage("contests");
    let contests = crate::stages::contests::compute_all(prog, ds, &content_firsts, &layer_at_d)?;
    timer.lap("contests");
    crate::progress::stage("goals");
    let goals = crate::stages::goals::compute(prog, &crate::stages::goals::Given::new(goal_tallies.clone()), d)?;
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
        goal_tallies,
        content_firsts,
    })
}
