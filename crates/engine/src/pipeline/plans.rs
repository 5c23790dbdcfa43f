//! Per-section plans: what `check` turns a section of the pipeline into, owning
//! everything its stage reads (layer lists as level indices, closed sets as enums,
//! defaults decided), so a stage never reads the raw config or compares ids as text.
use super::config::sets::{Normalize, Season};
use crate::fmt::Day;
use crate::table::Field;

/// Mentor matching as its stage reads it (SPEC §15).
#[derive(Debug, Clone)]
pub struct MentoringPlan {
    /// The layers (indices into `layers.levels`) mentors come from.
    pub mentor_layers: Vec<usize>,
    /// Active mentees a mentor may have at most.
    pub capacity: usize,
}

/// One project of the team proposals (SPEC §15).
#[derive(Debug, Clone)]
pub struct ProjectPlan {
    pub id: String,
    /// The layers (indices into `layers.levels`) members may come from; None: all.
    pub from_layers: Option<Vec<usize>>,
    /// The metric or built-in candidates are ranked by (None: member id order).
    pub rank_by: Option<String>,
    /// (role, specialty) per role, in listed order.
    pub roles: Vec<(String, String)>,
}

/// `care:` as its stage reads it (SPEC §11).
#[derive(Debug, Clone)]
pub struct CarePlan {
    /// How many days after D the calendar looks ahead.
    pub horizon_days: Day,
    /// The layers (indices into `layers.levels`) whose members it lists; None: all.
    pub layers: Option<Vec<usize>>,
}

/// `scouting:` as its stage reads it (SPEC §8); `candidates` is `Place::Candidates`.
#[derive(Debug, Clone)]
pub struct ScoutingPlan {
    /// (metric, weight) per feature, in listed order.
    pub features: Vec<(String, f64)>,
    /// `flag.top`: at most this many flagged (None: no limit).
    pub flag_top: Option<usize>,
    /// `flag.min_score`: 0 when not given (every score is ≥ 0).
    pub flag_min_score: f64,
    pub specialty: Option<SpecialtyPlan>,
}

/// A specialty rule (SPEC §8, §15): the most frequent value of `field` in the window.
#[derive(Debug, Clone, Copy)]
pub struct SpecialtyPlan {
    pub field: Field,
    pub window_days: i64,
    pub min_share: f64,
    pub min_events: usize,
}

/// `hall_of_fame:` as its stage reads it (SPEC §14).
#[derive(Debug, Clone, Copy)]
pub struct HallOfFamePlan {
    pub season: Season,
    /// How many contributors each season lists.
    pub top_contributors: usize,
}

/// A contest as its stage reads it (SPEC §9): everything typed, no defaults left to fill.
#[derive(Debug, Clone)]
pub struct ContestPlan {
    pub id: String,
    /// The display name (`name`, else the id).
    pub name: String,
    pub from: Day,
    pub to: Day,
    pub normalize: Normalize,
    /// The layers (indices into `layers.levels`) whose members may enter; None: all.
    pub eligible_layers: Option<Vec<usize>>,
    pub max_entries_per_member: Option<usize>,
    pub min_judges: usize,
    /// The rubric, in its order.
    pub criteria: Vec<CriterionPlan>,
    /// Indices into `criteria`, in tie-break order.
    pub tie_break: Vec<usize>,
    /// The awards from the first place down (each prize as many times as its count).
    pub awards: Vec<String>,
}

/// One criterion of a rubric.
#[derive(Debug, Clone)]
pub struct CriterionPlan {
    pub name: String,
    pub weight: f64,
    pub source: CriterionSource,
}

/// Where a criterion's value comes from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum CriterionSource {
    /// Judges' scores on a scale: a score outside it is refused, and `none`
    /// normalisation maps the scale onto 0…1.
    Scale(f64, f64),
    /// Judges' scores without a scale: nothing is refused, and `none` normalisation
    /// takes them as they are (SPEC §9: 0…1).
    Unscaled,
    /// The condition at `Place::FromData` over the entry's content (no judge scores).
    FromData,
}

impl CriterionPlan {
    /// Judges score it (it is not computed from the data).
    pub fn judged(&self) -> bool {
        self.source != CriterionSource::FromData
    }
}

/// The points rules as the ledger reads them (SPEC §5); `where` is `Place::Rule`.
#[derive(Debug, Clone)]
pub struct RulesPlan {
    /// `points.daily_cap`: the most all rules award a member in a day.
    pub daily_cap: Option<i64>,
    pub rules: Vec<RulePlan>,
}

/// One points rule.
#[derive(Debug, Clone)]
pub struct RulePlan {
    pub id: String,
    /// The canonical action its events have.
    pub action: String,
    pub pays: Pays,
    pub max_per_event: Option<i64>,
    pub max_times: Option<i64>,
    pub daily_cap: Option<i64>,
}

/// What a matching event earns before the limits.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Pays {
    /// `points`.
    Fixed(i64),
    /// `per`: `points` for every `every` of a count field (`every` ≥ 1, checked).
    Per { field: Field, every: i64, points: i64 },
}

/// Tiers as their stage reads them (SPEC §6): levels by index, ascending minimum.
#[derive(Debug, Clone)]
pub struct TiersPlan {
    pub ids: Vec<String>,
    /// The qualifying points each level needs, indexed as `ids`.
    pub mins: Vec<i64>,
    /// Points count within this many days before the day; None: since joining.
    pub window_days: Option<i64>,
    pub grace_days: i64,
}

impl TiersPlan {
    pub(super) fn of(cfg: &super::config::TiersCfg) -> TiersPlan {
        TiersPlan {
            ids: cfg.levels.iter().map(|l| l.id.clone()).collect(),
            mins: cfg.levels.iter().map(|l| l.min).collect(),
            window_days: cfg.window_days,
            grace_days: cfg.grace_days,
        }
    }
}

/// Layers as their stage reads them (SPEC §7); the `when` conditions are in the
/// program's `Conditions` under `Place::Level`.
#[derive(Debug, Clone)]
pub struct LayersPlan {
    pub ids: Vec<String>,
    pub sticky: Vec<bool>,
    /// The level a member falls to when no condition holds (the one marked `default`,
    /// else the last).
    pub default: usize,
}

impl LayersPlan {
    pub(super) fn of(cfg: &super::config::LayersCfg) -> LayersPlan {
        LayersPlan {
            ids: cfg.levels.iter().map(|l| l.id.clone()).collect(),
            sticky: cfg.levels.iter().map(|l| l.sticky).collect(),
            default: cfg
                .levels
                .iter()
                .position(|l| l.default)
                .unwrap_or(cfg.levels.len().saturating_sub(1)),
        }
    }
}

/// One metric as its stage reads it (SPEC §7); its `where` is `Place::Metric`.
#[derive(Debug, Clone)]
pub struct MetricPlan {
    pub name: String,
    pub aggregate: super::program::Aggregate,
    /// Events dated within this many days up to the snapshot; None: all before it.
    pub window_days: Option<i64>,
}

/// The growth path's own settings (SPEC §15; mentoring and projects have plans of
/// their own).
#[derive(Debug, Clone)]
pub struct GrowthPlan {
    /// Mentees a member must have guided to reach the lead stage.
    pub lead_min_mentees: usize,
    /// Completed projects count within this many days; None: all.
    pub collaborate_window_days: Option<i64>,
}

impl GrowthPlan {
    pub(super) fn of(cfg: &super::config::GrowthCfg) -> GrowthPlan {
        GrowthPlan {
            lead_min_mentees: cfg.lead.min_mentees,
            collaborate_window_days: cfg.collaborate.as_ref().and_then(|c| c.window_days),
        }
    }
}

/// What spending and expiry read (SPEC §5): the lots' lifetime and the mall's catalog.
#[derive(Debug, Clone, Default)]
pub struct SpendPlan {
    /// A lot expires this many days after it was earned; None: never.
    pub expiry_days: Option<i64>,
    pub catalog: Option<super::config::Catalog>,
}

impl SpendPlan {
    pub(super) fn of(p: &super::config::Pipeline) -> SpendPlan {
        SpendPlan {
            expiry_days: p.points.as_ref().and_then(|c| c.expiry_days),
            catalog: p.redemption.as_ref().and_then(|r| r.catalog.clone()),
        }
    }
}
