//! Goals against actuals, their weekly trend, and feedback per incentive (SPEC §10).
use crate::fmt::Day;
use crate::model::Dataset;
use crate::pipeline::expr;
use crate::pipeline::program::{Baseline, Direction, GoalPlan, Measure, MeasurePlan, Program, Target};
use crate::stages::layers::{Engine, LayerRow};
use anyhow::Result;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap, HashSet};

pub struct GoalResult {
    pub id: String,
    pub name: String,
    pub from: Day,
    pub to: Day,
    pub baseline: Option<f64>,
    pub target: Option<f64>,
    pub actual: Option<f64>,
    pub projection: Option<f64>,
    pub elapsed: f64,
    pub status: GoalStatus,
    pub incentives: Vec<String>,
    pub trend: Vec<(Day, Day, Option<f64>)>,
    /// A count or a sum: it grows with the span (projected, charted cumulatively).
    pub accumulates: bool,
    /// A ratio of two measures.
    pub is_ratio: bool,
}

text_enum! {
    /// SPEC §10's goal statuses.
    pub enum GoalStatus {
        NotStarted => "not_started",
        NoData => "no_data",
        Achieved => "achieved",
        OnTrack => "on_track",
        AtRisk => "at_risk",
        Behind => "behind",
    }
}

impl GoalStatus {
    /// Achieved or on track.
    pub fn is_good(self) -> bool {
        matches!(self, GoalStatus::Achieved | GoalStatus::OnTrack)
    }

    /// Behind or at risk: the goal's incentives need a look.
    pub fn needs_action(self) -> bool {
        matches!(self, GoalStatus::Behind | GoalStatus::AtRisk)
    }
}

/// The days a goal needs the layer at (the last day of each measured span).
pub fn layer_days(prog: &Program, d: Day) -> Vec<Day> {
    let mut out = Vec::new();
    // only a `where` naming `layer` reads the layers at a span's end
    for g in prog.goals.iter().filter(|g| g.measure.names_layer()) {
        let (from, to) = (g.from, g.to);
        if d >= from {
            let e = to.min(d);
            out.push(e);
            let mut w = from;
            while w <= e {
                out.push((w + 6).min(e));
                w += 7;
            }
        }
        if let Some(Baseline::Span(bf, bt)) = g.baseline {
            let bt = bt.min(d);
            if bf <= bt {
                out.push(bt);
            }
        }
    }
    out.sort_unstable();
    out.dedup();
    out
}

/// Measures over spans, with the layer at each span's last day.
pub struct Measurer<'a> {
    pub prog: &'a Program,
    pub ds: &'a Dataset,
    pub awarded: &'a [i64],
    pub engine: &'a Engine<'a>,
    cache: std::cell::RefCell<HashMap<Day, LayerRow>>,
    /// The events as a frame, built once for every `where`.
    frame: std::cell::OnceCell<polars::prelude::DataFrame>,
    /// Event indices sorted by date, so a span is a slice.
    by_day: std::cell::OnceCell<Vec<usize>>,
    /// The mask of each filter evaluated once over every event (by its rule path).
    masks: std::cell::RefCell<HashMap<String, Option<std::rc::Rc<Vec<bool>>>>>,
    /// Every tally taken, in order (what a shard's part carries).
    taken: std::cell::RefCell<Vec<Tally>>,
}

impl<'a> Measurer<'a> {
    pub fn new(prog: &'a Program, ds: &'a Dataset, awarded: &'a [i64], engine: &'a Engine<'a>) -> Self {
        Measurer {
            prog,
            ds,
            awarded,
            engine,
            cache: Default::default(),
            frame: Default::default(),
            by_day: Default::default(),
            masks: Default::default(),
            taken: Default::default(),
        }
    }

    /// The tallies taken so far, in the order they were taken.
    pub fn into_tallies(self) -> Vec<Tally> {
        self.taken.into_inner()
    }

    /// The layers at `at`, already known (compute has them at D): not evaluated again.
    pub fn knowing_layers(self, at: Day, row: LayerRow) -> Self {
        self.cache.borrow_mut().insert(at, row);
        self
    }

    fn layers(&self, at: Day) -> Result<LayerRow> {
        if let Some(r) = self.cache.borrow().get(&at) {
            return Ok(r.clone());
        }
        let r = self.engine.layer_at(at)?;
        self.cache.borrow_mut().insert(at, r.clone());
        Ok(r)
    }

    /// The tally of a measure (not a ratio) over the events dated in [from, to].
    fn tally_events(&self, m: &MeasurePlan, from: Day, to: Day) -> Result<Tally> {
        // events with date in [from, to], from an index sorted by date (built once)
        let by_day = self.by_day.get_or_init(|| {
            let mut v: Vec<usize> = (0..self.ds.events.len()).collect();
            v.sort_by_key(|i| self.ds.events.day[*i]);
            v
        });
        let lo = by_day.partition_point(|i| self.ds.events.day[*i] < from);
        let hi = by_day.partition_point(|i| self.ds.events.day[*i] <= to);
        let mut idx: Vec<usize> = by_day[lo..hi.max(lo)].to_vec();
        // back in event order: the frame is read front to back
        idx.sort_unstable();
        // a row-wise filter's mask over every event (None: evaluate over the span)
        let mask = match &m.filter {
            Some(e) if m.once && !idx.is_empty() => self.mask(e)?,
            _ => None,
        };
        let accepted: Vec<usize> = match (&m.filter, mask) {
            (None, _) => idx,
            (Some(_), _) if idx.is_empty() => idx,
            (Some(_), Some(mask)) => idx.into_iter().filter(|i| mask[*i]).collect(),
            (Some(e), None) => {
                // the layers at the span's end (a whole snapshot) only for a `where` that
                // names `layer`
                let layers = match m.needs_layer {
                    true => Some(self.layers(to)?),
                    false => None,
                };
                let sub = self.sub_dataset_frame(&idx, layers.as_ref())?;
                let mask = expr::eval_bool(e, &sub)?;
                idx.into_iter().zip(mask).filter(|(_, k)| *k).map(|(i, _)| i).collect()
            }
        };
        let field = field_of(m);
        let num =
            |i: &usize| field.and_then(|f| crate::stages::metrics::field_num(&self.ds.events, *i, self.awarded[*i], f));
        let mut tally = Tally {
            from,
            to,
            events: accepted.len() as u64,
            ..Tally::default()
        };
        match &m.measure {
            Measure::Members => {
                tally.members = accepted
                    .iter()
                    .map(|i| self.ds.events.member(*i))
                    .collect::<HashSet<_>>()
                    .len() as u64
            }
            Measure::Sum(_) | Measure::Mean(_) => {
                for v in accepted.iter().filter_map(num) {
                    tally.sum += v;
                    tally.values += 1;
                }
            }
            Measure::Events | Measure::Ratio(..) => {}
        }
        Ok(tally)
    }

    /// A row-wise filter's value for every event (evaluated once, then sliced by span).
    /// None when the filter fails on some event (a strict `CAST` of a text, say): it is
    /// then evaluated per span, so only the events of a span can fail it, as before.
    fn mask(&self, e: &crate::pipeline::expr::SqlExpr) -> Result<Option<std::rc::Rc<Vec<bool>>>> {
        if let Some(mask) = self.masks.borrow().get(&e.what) {
            return Ok(mask.clone());
        }
        let mask = expr::eval_bool(e, self.full_frame()?).ok().map(std::rc::Rc::new);
        self.masks.borrow_mut().insert(e.what.clone(), mask.clone());
        Ok(mask)
    }

    /// The events as a frame of the columns the goals' filters name (built once).
    fn full_frame(&self) -> Result<&polars::prelude::DataFrame> {
        Ok(match self.frame.get() {
            Some(f) => f,
            None => {
                let mut filters = Vec::new();
                for g in &self.prog.goals {
                    filters_of(&g.measure, &mut filters);
                }
                let f = self.ds.event_frame(&expr::names_in(filters), Some(self.awarded))?;
                self.frame.get_or_init(|| f)
            }
        })
    }

    fn sub_dataset_frame(&self, idx: &[usize], layers: Option<&LayerRow>) -> Result<polars::prelude::DataFrame> {
        let full = self.full_frame()?;
        let take = polars::prelude::IdxCa::from_vec(
            "idx".into(),
            idx.iter().map(|i| *i as polars::prelude::IdxSize).collect(),
        );
        let mut sub = full.take(&take)?;
        if let Some(layers) = layers {
            let ids = &self.engine.level_ids;
            let layer: Vec<Option<&str>> = idx
                .iter()
                .map(|i| layers[self.ds.events.member(*i)].map(|l| ids[l].as_str()))
                .collect();
            sub.with_column(expr::text_col("layer", layer))?;
        }
        Ok(sub)
    }
}

impl Tallies for Measurer<'_> {
    fn tally(&self, m: &MeasurePlan, from: Day, to: Day) -> Result<Tally> {
        let tally = self.tally_events(m, from, to)?;
        self.taken.borrow_mut().push(tally);
        Ok(tally)
    }
}

/// What a measure counted over one span: members, events, and the sum and number of
/// the values a sum or a mean adds up. Every field adds up across disjoint sets of
/// members (the values are counts and points: whole numbers, so their f64 sums are
/// exact in any order), which is how shards' tallies make one run's.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Tally {
    pub from: Day,
    pub to: Day,
    pub members: u64,
    pub events: u64,
    pub sum: f64,
    pub values: u64,
}

impl Tally {
    /// This tally and `other` (of the same span) together; false when a count would
    /// overflow (tallies decoded from a damaged part), leaving this one as it was.
    pub fn add(&mut self, other: &Tally) -> bool {
        let (Some(members), Some(events), Some(values)) = (
            self.members.checked_add(other.members),
            self.events.checked_add(other.events),
            self.values.checked_add(other.values),
        ) else {
            return false;
        };
        (self.members, self.events, self.values) = (members, events, values);
        self.sum += other.sum;
        true
    }

    fn value(&self, m: &Measure) -> Option<f64> {
        match m {
            Measure::Members => Some(self.members as f64),
            Measure::Events => Some(self.events as f64),
            Measure::Sum(_) => Some(self.sum),
            Measure::Mean(_) => (self.values > 0).then(|| self.sum / self.values as f64),
            Measure::Ratio(..) => None,
        }
    }
}

/// Where goals get their measures: tallies over spans, taken from the events or given.
pub trait Tallies {
    /// The tally of a measure that is not a ratio over [from, to].
    fn tally(&self, m: &MeasurePlan, from: Day, to: Day) -> Result<Tally>;

    /// The measure over events with date in [from, to]; None when it has no value.
    fn measure(&self, m: &MeasurePlan, from: Day, to: Day) -> Result<Option<f64>> {
        if let Measure::Ratio(numerator, denominator) = &m.measure {
            let num = self.measure(numerator, from, to)?;
            let den = self.measure(denominator, from, to)?;
            return Ok(match (num, den) {
                (Some(n), Some(d)) if d != 0.0 => Some(n / d),
                _ => None,
            });
        }
        Ok(self.tally(m, from, to)?.value(&m.measure))
    }
}

/// Tallies taken before (by `Measurer`, in one run or in each shard and added up),
/// given back in the order `compute` asks for them.
pub struct Given {
    tallies: Vec<Tally>,
    next: std::cell::Cell<usize>,
}

impl Given {
    pub fn new(tallies: Vec<Tally>) -> Given {
        Given {
            tallies,
            next: std::cell::Cell::new(0),
        }
    }
}

impl Tallies for Given {
    fn tally(&self, _: &MeasurePlan, from: Day, to: Day) -> Result<Tally> {
        let k = self.next.get();
        self.next.set(k + 1);
        match self.tallies.get(k) {
            Some(t) if (t.from, t.to) == (from, to) => Ok(*t),
            _ => anyhow::bail!("the goals' tallies are not of this program and date"),
        }
    }
}

/// The field a sum or a mean adds up (None for the others).
fn field_of(m: &MeasurePlan) -> Option<crate::table::Field> {
    match m.measure {
        Measure::Sum(f) | Measure::Mean(f) => Some(f),
        _ => None,
    }
}

/// Every `where` of a measure, ratios included.
fn filters_of<'a>(m: &'a MeasurePlan, out: &mut Vec<&'a crate::pipeline::expr::SqlExpr>) {
    out.extend(m.filter.iter());
    if let Measure::Ratio(a, b) = &m.measure {
        filters_of(a, out);
        filters_of(b, out);
    }
}

pub fn compute(prog: &Program, meas: &dyn Tallies, d: Day) -> Result<Vec<GoalResult>> {
    prog.goals.iter().map(|plan| goal(plan, meas, d)).collect()
}

fn goal(plan: &GoalPlan, meas: &dyn Tallies, d: Day) -> Result<GoalResult> {
    let (from, to) = (plan.from, plan.to);
    let baseline = match plan.baseline {
        None => None,
        Some(Baseline::Number(x)) => Some(x),
        Some(Baseline::Span(bf, bt)) => {
            let bt = bt.min(d);
            if bf > bt {
                None
            } else {
                meas.measure(&plan.measure, bf, bt)?
            }
        }
    };
    let target = match plan.target {
        Target::Value(v) => Some(v),
        Target::Multiply(k) => baseline.map(|b| b * k),
        Target::Add(a) => baseline.map(|b| b + a),
    };
    let up = plan.direction == Direction::Up;
    let meets = |x: f64, t: f64| if up { x >= t - 1e-9 } else { x <= t + 1e-9 };
    let within = |x: f64, t: f64| if up { x >= 0.9 * t - 1e-9 } else { x <= 1.1 * t + 1e-9 };
    let mut r = GoalResult {
        id: plan.id.clone(),
        name: plan.name.clone(),
        from,
        to,
        baseline,
        target,
        actual: None,
        projection: None,
        elapsed: 0.0,
        status: GoalStatus::NotStarted,
        incentives: plan.incentives.clone(),
        accumulates: plan.measure.accumulates(),
        is_ratio: matches!(plan.measure.measure, Measure::Ratio(..)),
        trend: vec![],
    };
    if d < from {
        return Ok(r);
    }
    let e = to.min(d);
    let f = (e - from + 1) as f64 / (to - from + 1) as f64;
    r.elapsed = f;
    r.actual = meas.measure(&plan.measure, from, e)?;
    r.projection = r.actual.map(|a| if r.accumulates { a / f } else { a });
    let mut w = from;
    while w <= e {
        let we = (w + 6).min(e);
        r.trend.push((w, we, meas.measure(&plan.measure, w, we)?));
        w += 7;
    }
    r.status = match (r.actual, target) {
        (None, _) | (_, None) => GoalStatus::NoData,
        (Some(a), Some(t)) => {
            let proj = r.projection.unwrap_or(a);
            if meets(a, t) && (d >= to || (up && r.accumulates)) {
                GoalStatus::Achieved
            } else if meets(proj, t) {
                GoalStatus::OnTrack
            } else if within(proj, t) {
                GoalStatus::AtRisk
            } else {
                GoalStatus::Behind
            }
        }
    };
    Ok(r)
}

pub struct Incentive {
    pub name: String,
    pub goals: Vec<String>,
    pub responses: usize,
    pub mean_rating: Option<f64>,
    pub share_4plus: Option<f64>,
    pub comments: String,
    pub recommendation: &'static str,
}

/// Feedback and a recommendation per incentive named by a goal or a response.
pub fn incentives(prog: &Program, ds: &Dataset, goals: &[GoalResult]) -> Vec<Incentive> {
    let mut names: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for g in &prog.goals {
        for i in &g.incentives {
            names.entry(i.clone()).or_default().push(g.id.clone());
        }
    }
    for r in &ds.responses {
        names.entry(r.incentive.clone()).or_default();
    }
    let status: HashMap<&str, GoalStatus> = goals.iter().map(|g| (g.id.as_str(), g.status)).collect();
    names
        .into_iter()
        .map(|(name, goal_ids)| {
            let mut rs: Vec<&crate::model::Response> = ds.responses.iter().filter(|r| r.incentive == name).collect();
            let n = rs.len();
            let mean_rating = (n > 0).then(|| rs.iter().map(|r| r.rating).sum::<f64>() / n as f64);
            let share_4plus = (n > 0).then(|| rs.iter().filter(|r| r.rating >= 4.0).count() as f64 / n as f64);
            rs.sort_by(|a, b| (b.ts, &b.id).cmp(&(a.ts, &a.id)));
            let comments = rs
                .iter()
                .filter_map(|r| r.comment.as_deref().filter(|c| !c.trim().is_empty()))
                .take(3)
                .collect::<Vec<_>>()
                .join(" | ");
            let sts: Vec<GoalStatus> = goal_ids
                .iter()
                .filter_map(|g| status.get(g.as_str()).copied())
                .collect();
            let good_goals = !sts.is_empty() && sts.iter().all(|s| s.is_good());
            let bad_goals = sts.contains(&GoalStatus::Behind);
            let good_rating = mean_rating.is_some_and(|m| m >= 4.0);
            let bad_rating = mean_rating.is_some_and(|m| m < 3.0);
            let recommendation = if good_goals && good_rating {
                "scale_up"
            } else if bad_goals && bad_rating {
                "replace"
            } else if bad_goals || bad_rating {
                "adjust"
            } else {
                "keep"
            };
            Incentive {
                name,
                goals: goal_ids,
                responses: n,
                mean_rating,
                share_4plus,
                comments,
                recommendation,
            }
        })
        .collect()
}

#[cfg(test)]
mod tally_tests {
    use super::*;

    #[test]
    fn tallies_of_disjoint_members_add_up_and_an_overflow_is_refused() {
        let mut a = Tally {
            from: 1,
            to: 7,
            members: 2,
            events: 5,
            sum: 12.0,
            values: 4,
        };
        let b = Tally {
            members: 1,
            events: 3,
            sum: 6.0,
            values: 2,
            ..a
        };
        assert!(a.add(&b));
        assert_eq!((a.members, a.events, a.sum, a.values), (3, 8, 18.0, 6));
        assert_eq!(a.value(&Measure::Members), Some(3.0));
        assert_eq!(a.value(&Measure::Mean(crate::table::Field::Likes)), Some(3.0));
        let huge = Tally { events: u64::MAX, ..b };
        assert!(!a.add(&huge));
        assert_eq!(a.events, 8, "left as it was");
        // a mean of no values has none
        assert_eq!(Tally::default().value(&Measure::Mean(crate::table::Field::Likes)), None);
    }
}
