//! The checked program: what `check` makes of a pipeline file that passed every check.
//! SQL conditions are parsed once and kept with their place (`file:line:col` and the
//! rule path); dates are `Day`s; closed sets are enums. Stages read this, never the
//! raw text, so nothing is parsed twice and a typo cannot reach a stage.
use super::config::{BaselineCfg, Loaded, MeasureCfg};
use super::expr::SqlExpr;
use crate::fmt::Day;
use crate::table::Field;
use anyhow::Result;
use chrono_tz::Tz;
use std::collections::HashMap;

/// A pipeline that passed `check`, with its typed parts. The file as read (`file()`)
/// serves what people read: display names, paths, the text itself; stages read the
/// plans.
#[derive(Debug, Clone)]
pub struct Program {
    loaded: Loaded,
    pub tz: Tz,
    /// `program.start`.
    pub start: Day,
    pub locale: Locale,
    /// Every SQL condition, by its place in the pipeline.
    pub conditions: Conditions,
    /// One per `metrics` entry, in order.
    pub metrics: Vec<MetricPlan>,
    /// Tiers, when the pipeline has the section.
    pub tiers: Option<TiersPlan>,
    /// Layers, when the pipeline has the section.
    pub layers: Option<LayersPlan>,
    /// The growth path's own settings, when the pipeline has `growth`.
    pub growth: Option<GrowthPlan>,
    /// Expiry and the points mall's catalog.
    pub spending: SpendPlan,
    /// The points rules, when the pipeline has a `points` section.
    pub rules: Option<RulesPlan>,
    /// One per `contests` entry, in order.
    pub contests: Vec<ContestPlan>,
    /// One per `goals` entry, in order.
    pub goals: Vec<GoalPlan>,
    /// The hall of fame, when the pipeline has the section.
    pub hall_of_fame: Option<HallOfFamePlan>,
    /// `growth.mentoring`, when the pipeline has it (SPEC §15).
    pub mentoring: Option<MentoringPlan>,
    /// `growth.projects`, when the pipeline has them (SPEC §15).
    pub projects: Option<Vec<ProjectPlan>>,
    /// The care calendar (SPEC §11); the defaults when the pipeline has no section.
    pub care: CarePlan,
    /// Newcomer scouting, when the pipeline has the section.
    pub scouting: Option<ScoutingPlan>,
    /// The specialty rule of the growth path: `growth.specialty`, else scouting's.
    pub growth_specialty: Option<SpecialtyPlan>,
    /// One per `badges` entry, in order (none without the section).
    pub badges: Vec<BadgePlan>,
    /// The notices to write, when the pipeline has a `notices` section.
    pub notices: Option<NoticesPlan>,
}

/// A badge as the stage reads it (SPEC §16).
#[derive(Debug, Clone)]
pub struct BadgePlan {
    pub id: String,
    pub name: String,
    pub grade: super::config::messaging::Grade,
    /// The canonical action a matching event has, if the badge names one.
    pub action: Option<String>,
    pub filter: Option<SqlExpr>,
    pub goal: BadgeGoal,
}

/// What earns a badge: a number of matching events or dates, or a running total.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BadgeGoal {
    Events(i64),
    Days(i64),
    Sum(Field, i64),
}

impl BadgeGoal {
    /// The `count` or `reach` (explain's `goal`).
    pub fn target(self) -> i64 {
        match self {
            BadgeGoal::Events(n) | BadgeGoal::Days(n) | BadgeGoal::Sum(_, n) => n,
        }
    }
}

/// `notices:` as the stage reads it (SPEC §17).
#[derive(Debug, Clone)]
pub struct NoticesPlan {
    pub kinds: Vec<super::config::messaging::NoticeKind>,
    pub expiring_days_ahead: i64,
}

impl Program {
    /// The pipeline file as read: its path, folder, text and raw sections (names and
    /// labels for output; stages read the plans instead).
    pub fn file(&self) -> &Loaded {
        &self.loaded
    }
}

pub use super::config::sets::{Cadence, Direction, Locale, Normalize, Season};
use super::plans::{
    CarePlan, ContestPlan, CriterionPlan, CriterionSource, GrowthPlan, HallOfFamePlan, LayersPlan, MentoringPlan,
    MetricPlan, Pays, ProjectPlan, RulePlan, RulesPlan, ScoutingPlan, SpecialtyPlan, SpendPlan, TiersPlan,
};

/// Where a condition stands in the pipeline, by position (ids may repeat in a file
/// that failed other checks; positions never do).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Place {
    /// `points.rules[i].where`
    Rule(usize),
    /// `metrics.<name>.where`, by the metric's position
    Metric(usize),
    /// `layers.levels[i].when`
    Level(usize),
    /// `scouting.candidates`
    Candidates,
    /// `contests[i].rubric[j].from_data`
    FromData(usize, usize),
    /// `badges[i].where`
    Badge(usize),
    /// `goals[i].measure…where`; the text is the path inside the measure
    /// (`` or `.ratio.numerator`…)
    Measure(usize, String),
}

/// The parsed conditions of a program.
#[derive(Debug, Clone, Default)]
pub struct Conditions(HashMap<Place, SqlExpr>);

impl Conditions {
    pub fn insert(&mut self, place: Place, e: SqlExpr) {
        self.0.insert(place, e);
    }
    /// The condition at `place`, if the pipeline has one there.
    pub fn get(&self, place: &Place) -> Option<&SqlExpr> {
        self.0.get(place)
    }

    /// Every condition, in the order they stand in the pipeline file.
    pub fn in_file_order(&self) -> Vec<&SqlExpr> {
        let place = |e: &SqlExpr| -> (u64, u64) {
            let mut parts = e.location.rsplitn(3, ':');
            let col = parts.next().and_then(|c| c.parse().ok()).unwrap_or(0);
            let line = parts.next().and_then(|l| l.parse().ok()).unwrap_or(0);
            (line, col)
        };
        let mut all: Vec<&SqlExpr> = self.0.values().collect();
        all.sort_by(|a, b| (place(a), &a.what).cmp(&(place(b), &b.what)));
        all
    }
}

/// What a metric computes over its events, and from which field (SPEC §7).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Aggregate {
    Count,
    Sum(Field),
    Mean(Field),
    Distinct(Field),
}

/// What a goal counts over a span.
#[derive(Debug, Clone)]
pub enum Measure {
    Events,
    Members,
    Sum(Field),
    Mean(Field),
    Ratio(Box<MeasurePlan>, Box<MeasurePlan>),
}

#[derive(Debug, Clone)]
pub struct MeasurePlan {
    pub measure: Measure,
    pub filter: Option<SqlExpr>,
    /// The filter names `layer`: each span needs the layers at its end (a snapshot).
    pub needs_layer: bool,
    /// The filter holds or not for each event on its own (`SqlExpr::is_row_wise`) and
    /// does not name `layer`: it is evaluated once over every event, not per span.
    pub once: bool,
}

impl MeasurePlan {
    /// Whether this measure, or a side of its ratio, filters on `layer`.
    pub fn names_layer(&self) -> bool {
        match &self.measure {
            Measure::Ratio(n, d) => n.names_layer() || d.names_layer(),
            _ => self.needs_layer,
        }
    }

    /// Sums and counts grow with the span, so a partial span is projected to the whole.
    pub fn accumulates(&self) -> bool {
        matches!(self.measure, Measure::Events | Measure::Members | Measure::Sum(_))
    }
}

#[derive(Debug, Clone)]
pub enum Baseline {
    Number(f64),
    Span(Day, Day),
}

/// A goal as its stage reads it (SPEC §10).
#[derive(Debug, Clone)]
pub struct GoalPlan {
    pub id: String,
    /// The display name (`name`, else the id).
    pub name: String,
    pub from: Day,
    pub to: Day,
    pub baseline: Option<Baseline>,
    pub target: Target,
    pub direction: Direction,
    pub measure: MeasurePlan,
    /// The incentives it is meant to move, as the pipeline lists them.
    pub incentives: Vec<String>,
}

/// A goal's target: a value, or the baseline times or plus a number (`check` accepts
/// exactly one of the three).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Target {
    Value(f64),
    Multiply(f64),
    Add(f64),
}

/// A date `check` accepted, as a day. `check` reports a bad one at its line first, so
/// one that fails here is a bug, said as an error: never a silent day 0.
fn day(s: &str, at: &str) -> Result<Day> {
    super::config::parse_date_str(s)
        .map(crate::fmt::day_of)
        .ok_or_else(|| anyhow::anyhow!("{at}: '{s}' is not a date (YYYY-MM-DD)"))
}

/// A closed-set value `check` accepted; one that fails here is a bug, said as an error.
fn closed<T>(parsed: Option<T>, value: &str, at: &str) -> Result<T> {
    parsed.ok_or_else(|| anyhow::anyhow!("{at}: '{value}' is not one of the values it may take"))
}

/// Layer ids `check` accepted, as indices into `layers.levels` (the stages' level
/// numbers); one that is not a layer here is a bug, said as an error.
fn level_indices(p: &super::config::Pipeline, ids: &[String], at: &str) -> Result<Vec<usize>> {
    let levels: Vec<&str> = p.layers.iter().flat_map(|l| &l.levels).map(|l| l.id.as_str()).collect();
    ids.iter()
        .map(|id| {
            levels
                .iter()
                .position(|l| l == id)
                .ok_or_else(|| anyhow::anyhow!("{at}: '{id}' is not a layer"))
        })
        .collect()
}

/// The typed program of a pipeline that `check` accepted, with its parsed conditions.
pub(super) fn build(loaded: Loaded, tz: Tz, conditions: Conditions) -> Result<Program> {
    let p = &loaded.pipeline;
    let start = day(&p.program.start, "program.start")?;
    let locale = p.program.locale;
    let contests = p
        .contests
        .iter()
        .map(|c| -> Result<ContestPlan> {
            let at = format!("contests.{}", c.id);
            let criteria: Vec<CriterionPlan> = c
                .rubric
                .iter()
                .map(|r| CriterionPlan {
                    name: r.criterion.clone(),
                    weight: r.weight,
                    source: match (&r.from_data, r.scale) {
                        (Some(_), _) => CriterionSource::FromData,
                        (None, Some([lo, hi])) => CriterionSource::Scale(lo, hi),
                        (None, None) => CriterionSource::Unscaled,
                    },
                })
                .collect();
            Ok(ContestPlan {
                id: c.id.clone(),
                name: c.name.clone().unwrap_or_else(|| c.id.clone()),
                from: day(&c.window.from, &format!("{at}.window.from"))?,
                to: day(&c.window.to, &format!("{at}.window.to"))?,
                normalize: c.judges.normalize,
                eligible_layers: c
                    .eligible_layers
                    .as_ref()
                    .map(|ids| level_indices(p, ids, &format!("{at}.eligible_layers")))
                    .transpose()?,
                max_entries_per_member: c.max_entries_per_member,
                min_judges: c.judges.min_judges,
                tie_break: c
                    .tie_break
                    .iter()
                    .filter_map(|t| criteria.iter().position(|r| &r.name == t))
                    .collect(),
                criteria,
                awards: c
                    .prizes
                    .iter()
                    .flat_map(|pz| std::iter::repeat_n(pz.award.clone(), pz.count))
                    .collect(),
            })
        })
        .collect::<Result<_>>()?;
    let goals = p
        .goals
        .iter()
        .enumerate()
        .map(|(i, g)| -> Result<GoalPlan> {
            let at = format!("goals.{}", g.id);
            let target = match (g.target.value, g.target.multiply, g.target.add) {
                (Some(v), None, None) => Target::Value(v),
                (None, Some(k), None) => Target::Multiply(k),
                (None, None, Some(a)) => Target::Add(a),
                _ => anyhow::bail!("{at}.target: give exactly one of value, multiply, add"),
            };
            Ok(GoalPlan {
                id: g.id.clone(),
                name: g.name.clone().unwrap_or_else(|| g.id.clone()),
                target,
                incentives: g.incentives.clone(),
                from: day(&g.period.from, &format!("{at}.period.from"))?,
                to: day(&g.period.to, &format!("{at}.period.to"))?,
                baseline: match &g.baseline {
                    None => None,
                    Some(BaselineCfg::Number(x)) => Some(Baseline::Number(*x)),
                    Some(BaselineCfg::Span(s)) => Some(Baseline::Span(
                        day(&s.from, &format!("{at}.baseline.from"))?,
                        day(&s.to, &format!("{at}.baseline.to"))?,
                    )),
                },
                direction: g.direction,
                measure: measure_plan(&g.measure, i, String::new(), &conditions),
            })
        })
        .collect::<Result<_>>()?;
    let specialty = |s: &super::config::SpecialtyCfg, at: &str| -> Result<SpecialtyPlan> {
        Ok(SpecialtyPlan {
            field: Field::parse(&s.field)
                .ok_or_else(|| anyhow::anyhow!("{at}.field: '{}' is not an event column", s.field))?,
            window_days: s.window_days,
            min_share: s.min_share,
            min_events: s.min_events,
        })
    };
    let scouting = p
        .scouting
        .as_ref()
        .map(|s| -> Result<ScoutingPlan> {
            Ok(ScoutingPlan {
                features: s.features.iter().map(|f| (f.metric.clone(), f.weight)).collect(),
                flag_top: s.flag.top,
                flag_min_score: s.flag.min_score.unwrap_or(0.0),
                specialty: s
                    .specialty
                    .as_ref()
                    .map(|x| specialty(x, "scouting.specialty"))
                    .transpose()?,
            })
        })
        .transpose()?;
    let growth_specialty = match p.growth.as_ref().and_then(|g| g.specialty.as_ref()) {
        Some(x) => Some(specialty(x, "growth.specialty")?),
        None => scouting.as_ref().and_then(|s| s.specialty),
    };
    let care = CarePlan {
        horizon_days: p
            .care
            .as_ref()
            .map_or(super::config::default_horizon(), |c| c.horizon_days) as Day,
        layers: p
            .care
            .as_ref()
            .and_then(|c| c.layers.as_ref())
            .map(|ids| level_indices(p, ids, "care.layers"))
            .transpose()?,
    };
    let growth = p.growth.as_ref();
    let mentoring = growth
        .and_then(|g| g.mentoring.as_ref())
        .map(|m| -> Result<MentoringPlan> {
            Ok(MentoringPlan {
                mentor_layers: level_indices(p, &m.mentor_layers, "growth.mentoring.mentor_layers")?,
                capacity: m.capacity,
            })
        })
        .transpose()?;
    let projects = growth
        .and_then(|g| g.projects.as_ref())
        .map(|list| {
            list.iter()
                .map(|pr| -> Result<ProjectPlan> {
                    Ok(ProjectPlan {
                        id: pr.id.clone(),
                        from_layers: pr
                            .from_layers
                            .as_ref()
                            .map(|ids| level_indices(p, ids, &format!("growth.projects.{}.from_layers", pr.id)))
                            .transpose()?,
                        rank_by: pr.rank_by.clone(),
                        roles: pr.roles.iter().map(|r| (r.role.clone(), r.specialty.clone())).collect(),
                    })
                })
                .collect::<Result<Vec<_>>>()
        })
        .transpose()?;
    let hall_of_fame = p.hall_of_fame.as_ref().map(|h| HallOfFamePlan {
        season: h.season,
        top_contributors: h.top_contributors,
    });
    let field = |name: &Option<String>| name.as_deref().and_then(Field::parse);
    let metrics = p
        .metrics
        .iter()
        .map(|(name, m)| MetricPlan {
            name: name.clone(),
            aggregate: match (field(&m.sum), field(&m.mean), field(&m.distinct)) {
                (Some(f), _, _) => Aggregate::Sum(f),
                (_, Some(f), _) => Aggregate::Mean(f),
                (_, _, Some(f)) => Aggregate::Distinct(f),
                _ => Aggregate::Count,
            },
            window_days: m.window_days,
        })
        .collect();
    let rules = p
        .points
        .as_ref()
        .map(|x| -> Result<RulesPlan> {
            let rules = x
                .rules
                .iter()
                .map(|r| -> Result<RulePlan> {
                    let at = format!("points.rules.{}", r.id);
                    let pays = match (&r.per, r.points) {
                        (Some(per), _) => Pays::Per {
                            field: Field::parse(&per.field).ok_or_else(|| {
                                anyhow::anyhow!("{at}.per.field: '{}' is not a count column", per.field)
                            })?,
                            every: per.every,
                            points: per.points,
                        },
                        (None, Some(n)) => Pays::Fixed(n),
                        (None, None) => anyhow::bail!("{at}: give 'points' or 'per'"),
                    };
                    Ok(RulePlan {
                        id: r.id.clone(),
                        action: r.action.clone(),
                        pays,
                        max_per_event: r.max_per_event,
                        max_times: r.max_times,
                        daily_cap: r.daily_cap,
                    })
                })
                .collect::<Result<_>>()?;
            Ok(RulesPlan {
                daily_cap: x.daily_cap,
                rules,
            })
        })
        .transpose()?;
    let badges = p
        .badges
        .iter()
        .flatten()
        .enumerate()
        .map(|(i, b)| -> Result<BadgePlan> {
            use super::config::messaging::Distinct;
            let goal = match (&b.sum, b.reach, b.count, b.distinct) {
                (Some(f), Some(reach), None, None) => {
                    BadgeGoal::Sum(closed(Field::parse(f), f, &format!("badges.{}.sum", b.id))?, reach)
                }
                (None, None, n, Some(Distinct::Days)) => BadgeGoal::Days(n.unwrap_or(1)),
                (None, None, n, _) => BadgeGoal::Events(n.unwrap_or(1)),
                _ => anyhow::bail!("badges.{}: count and sum together passed the checks", b.id),
            };
            Ok(BadgePlan {
                id: b.id.clone(),
                name: b.name.clone(),
                grade: b.grade,
                action: b.action.clone(),
                filter: conditions.get(&Place::Badge(i)).cloned(),
                goal,
            })
        })
        .collect::<Result<_>>()?;
    let notices = p.notices.as_ref().map(|n| NoticesPlan {
        kinds: n
            .kinds
            .clone()
            .unwrap_or_else(|| super::config::messaging::NoticeKind::ALL.to_vec()),
        expiring_days_ahead: n
            .expiring_days_ahead
            .unwrap_or(super::config::messaging::DEFAULT_EXPIRING_DAYS_AHEAD),
    });
    Ok(Program {
        badges,
        notices,
        metrics,
        tiers: p.tiers.as_ref().map(TiersPlan::of),
        layers: p.layers.as_ref().map(LayersPlan::of),
        growth: p.growth.as_ref().map(GrowthPlan::of),
        spending: SpendPlan::of(p),
        rules,
        tz,
        start,
        locale,
        contests,
        goals,
        hall_of_fame,
        care,
        mentoring,
        projects,
        scouting,
        growth_specialty,
        conditions,
        loaded,
    })
}

/// The path of one side of a ratio measure inside `path` (check files each side's
/// condition under it, and the plan finds it there).
pub fn ratio_side(path: &str, side: &str) -> String {
    format!("{path}.ratio.{side}")
}

fn measure_plan(m: &MeasureCfg, goal: usize, path: String, conditions: &Conditions) -> MeasurePlan {
    let measure = if let Some(r) = &m.ratio {
        Measure::Ratio(
            Box::new(measure_plan(
                &r.numerator,
                goal,
                ratio_side(&path, "numerator"),
                conditions,
            )),
            Box::new(measure_plan(
                &r.denominator,
                goal,
                ratio_side(&path, "denominator"),
                conditions,
            )),
        )
    } else if let Some(f) = m.sum.as_deref().and_then(Field::parse) {
        Measure::Sum(f)
    } else if let Some(f) = m.mean.as_deref().and_then(Field::parse) {
        Measure::Mean(f)
    } else if m.count.as_deref() == Some("members") {
        Measure::Members
    } else {
        Measure::Events
    };
    let filter = match measure {
        // a ratio's own `where` is not read: each side has its own
        Measure::Ratio(..) => None,
        _ => conditions.get(&Place::Measure(goal, path)).cloned(),
    };
    // check filed every `where` it parsed: one missing here would count every event
    debug_assert!(
        m.where_.is_none() || m.ratio.is_some() || filter.is_some(),
        "a goal's where without its checked condition"
    );
    let needs_layer = filter
        .as_ref()
        .is_some_and(|f| super::expr::names_in(std::iter::once(f)).contains("layer"));
    let once = !needs_layer && filter.as_ref().is_some_and(|f| f.is_row_wise());
    MeasurePlan {
        measure,
        filter,
        needs_layer,
        once,
    }
}
