//! The pipeline file (SPEC §3): serde structs that mirror the YAML, loaded with
//! positions in every error (`load.rs`). `check.rs` validates what serde cannot.
use indexmap::IndexMap;
use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pipeline {
    pub program: Program,
    pub store: String,
    pub sources: Sources,
    #[serde(default)]
    pub ingest: IngestCfg,
    #[serde(default)]
    pub points: Option<PointsCfg>,
    #[serde(default)]
    pub redemption: Option<RedemptionCfg>,
    #[serde(default)]
    pub tiers: Option<TiersCfg>,
    #[serde(default)]
    pub metrics: IndexMap<String, MetricCfg>,
    #[serde(default)]
    pub layers: Option<LayersCfg>,
    #[serde(default)]
    pub scouting: Option<ScoutingCfg>,
    #[serde(default)]
    pub contests: Vec<ContestCfg>,
    #[serde(default)]
    pub goals: Vec<GoalCfg>,
    #[serde(default)]
    pub care: Option<CareCfg>,
    #[serde(default)]
    pub report: Option<ReportCfg>,
    #[serde(default)]
    pub privacy: Option<PrivacyCfg>,
    #[serde(default)]
    pub hall_of_fame: Option<HallOfFameCfg>,
    #[serde(default)]
    pub growth: Option<GrowthCfg>,
    #[serde(default)]
    pub badges: Option<Vec<BadgeCfg>>,
    #[serde(default, deserialize_with = "messaging::present")]
    pub notices: Option<NoticesCfg>,
    #[serde(default)]
    pub notify: Vec<NotifyCfg>,
}

/// PIPL: columns dropped or hashed at ingest, nicknames masked in the reports.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrivacyCfg {
    /// Canonical columns emptied as rows are ingested (never stored).
    #[serde(default)]
    pub drop: Vec<String>,
    /// Canonical text columns replaced by a salted pseudonym as rows are ingested.
    #[serde(default)]
    pub hash: Vec<String>,
    /// The environment variable holding the salt of the pseudonyms.
    #[serde(default)]
    pub salt_env: Option<String>,
    /// Show nicknames as `张**` in report.html, report.md and report.xlsx.
    #[serde(default)]
    pub mask_nicknames: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Program {
    pub name: String,
    #[serde(default = "default_tz")]
    pub timezone: String,
    pub start: String,
    #[serde(default)]
    pub locale: sets::Locale,
}

fn default_tz() -> String {
    "Asia/Shanghai".into()
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sources {
    pub members: Option<SourceCfg>,
    pub activity: Option<SourceCfg>,
    pub redemptions: Option<SourceCfg>,
    pub contest_entries: Option<SourceCfg>,
    pub judge_scores: Option<SourceCfg>,
    pub feedback: Option<SourceCfg>,
    pub overrides: Option<SourceCfg>,
    #[serde(default)]
    pub teams: Option<SourceCfg>,
    #[serde(default)]
    pub mentorships: Option<SourceCfg>,
}

impl Sources {
    /// The source named `name` (a `table::SourceSpec` name), if the pipeline has it.
    pub fn of(&self, name: &str) -> Option<&SourceCfg> {
        match name {
            "members" => self.members.as_ref(),
            "activity" => self.activity.as_ref(),
            "redemptions" => self.redemptions.as_ref(),
            "contest_entries" => self.contest_entries.as_ref(),
            "judge_scores" => self.judge_scores.as_ref(),
            "feedback" => self.feedback.as_ref(),
            "overrides" => self.overrides.as_ref(),
            "teams" => self.teams.as_ref(),
            "mentorships" => self.mentorships.as_ref(),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceCfg {
    pub path: String,
    pub columns: IndexMap<String, String>,
    #[serde(default)]
    pub encoding: Option<String>,
    #[serde(default)]
    pub delimiter: Option<String>,
    #[serde(default)]
    pub timestamp_formats: Option<Vec<String>>,
    #[serde(default)]
    pub values: IndexMap<String, IndexMap<String, String>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IngestCfg {
    #[serde(default = "default_ratio")]
    pub max_reject_ratio: f64,
    #[serde(default)]
    pub ignore_actions: Vec<String>,
    /// SPEC §11: D more than this many days after the last event warns `stale_data`.
    #[serde(default = "default_stale_after")]
    pub stale_after_days: i64,
    /// SPEC §11: a stale D still writes the run, then exits 3.
    #[serde(default)]
    pub fail_on_stale: bool,
    /// Ingest in passes that fit this much memory (`6G`, `512M`; docs/scale-out.md).
    #[serde(default)]
    pub memory_budget: Option<String>,
}

fn default_stale_after() -> i64 {
    2
}

fn default_ratio() -> f64 {
    0.05
}

impl Default for IngestCfg {
    fn default() -> Self {
        IngestCfg {
            max_reject_ratio: default_ratio(),
            ignore_actions: vec![],
            stale_after_days: default_stale_after(),
            fail_on_stale: false,
            memory_budget: None,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PointsCfg {
    #[serde(default)]
    pub daily_cap: Option<i64>,
    #[serde(default)]
    pub expiry_days: Option<i64>,
    #[serde(default)]
    pub rules: Vec<RuleCfg>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleCfg {
    pub id: String,
    pub action: String,
    #[serde(default, rename = "where")]
    pub where_: Option<String>,
    #[serde(default)]
    pub points: Option<i64>,
    #[serde(default)]
    pub per: Option<PerCfg>,
    #[serde(default)]
    pub max_per_event: Option<i64>,
    #[serde(default)]
    pub max_times: Option<i64>,
    #[serde(default)]
    pub daily_cap: Option<i64>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PerCfg {
    pub field: String,
    pub every: i64,
    pub points: i64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RedemptionCfg {
    #[serde(default)]
    pub catalog: Option<Catalog>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum Catalog {
    Names(Vec<String>),
    Prices(IndexMap<String, f64>),
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TiersCfg {
    #[serde(default)]
    pub window_days: Option<i64>,
    #[serde(default)]
    pub grace_days: i64,
    pub levels: Vec<TierLevel>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TierLevel {
    pub id: String,
    #[serde(default)]
    pub name: Option<String>,
    pub min: i64,
    #[serde(default)]
    pub perks: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricCfg {
    #[serde(default)]
    pub count: Option<String>,
    #[serde(default)]
    pub sum: Option<String>,
    #[serde(default)]
    pub mean: Option<String>,
    #[serde(default)]
    pub distinct: Option<String>,
    #[serde(default, rename = "where")]
    pub where_: Option<String>,
    #[serde(default)]
    pub window_days: Option<i64>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LayersCfg {
    #[serde(default)]
    pub cadence: Option<sets::Cadence>,
    pub levels: Vec<LayerLevel>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LayerLevel {
    pub id: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub sticky: bool,
    #[serde(default)]
    pub when: Option<String>,
    #[serde(default)]
    pub default: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScoutingCfg {
    pub candidates: String,
    pub features: Vec<FeatureCfg>,
    #[serde(default)]
    pub flag: FlagCfg,
    #[serde(default)]
    pub specialty: Option<SpecialtyCfg>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeatureCfg {
    pub metric: String,
    #[serde(default = "one")]
    pub weight: f64,
}

fn one() -> f64 {
    1.0
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FlagCfg {
    #[serde(default)]
    pub top: Option<usize>,
    #[serde(default)]
    pub min_score: Option<f64>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpecialtyCfg {
    pub field: String,
    pub window_days: i64,
    #[serde(default)]
    pub min_share: f64,
    #[serde(default)]
    pub min_events: usize,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContestCfg {
    pub id: String,
    #[serde(default)]
    pub name: Option<String>,
    pub window: SpanCfg,
    #[serde(default)]
    pub eligible_layers: Option<Vec<String>>,
    #[serde(default)]
    pub max_entries_per_member: Option<usize>,
    #[serde(default)]
    pub judges: JudgesCfg,
    pub rubric: Vec<CriterionCfg>,
    #[serde(default)]
    pub tie_break: Vec<String>,
    #[serde(default)]
    pub prizes: Vec<PrizeCfg>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpanCfg {
    pub from: String,
    pub to: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JudgesCfg {
    #[serde(default = "default_normalize")]
    pub normalize: sets::Normalize,
    #[serde(default = "one_usize")]
    pub min_judges: usize,
}

fn default_normalize() -> sets::Normalize {
    sets::Normalize::None
}
fn one_usize() -> usize {
    1
}

impl Default for JudgesCfg {
    fn default() -> Self {
        JudgesCfg {
            normalize: default_normalize(),
            min_judges: 1,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CriterionCfg {
    pub criterion: String,
    pub weight: f64,
    #[serde(default)]
    pub scale: Option<[f64; 2]>,
    #[serde(default)]
    pub from_data: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrizeCfg {
    pub award: String,
    pub count: usize,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GoalCfg {
    pub id: String,
    #[serde(default)]
    pub name: Option<String>,
    pub measure: MeasureCfg,
    pub period: SpanCfg,
    #[serde(default)]
    pub baseline: Option<BaselineCfg>,
    pub target: TargetCfg,
    #[serde(default = "default_direction")]
    pub direction: sets::Direction,
    #[serde(default)]
    pub incentives: Vec<String>,
}

fn default_direction() -> sets::Direction {
    sets::Direction::Up
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MeasureCfg {
    #[serde(default)]
    pub count: Option<String>,
    #[serde(default)]
    pub sum: Option<String>,
    #[serde(default)]
    pub mean: Option<String>,
    #[serde(default, rename = "where")]
    pub where_: Option<String>,
    #[serde(default)]
    pub ratio: Option<Box<RatioCfg>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RatioCfg {
    pub numerator: MeasureCfg,
    pub denominator: MeasureCfg,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum BaselineCfg {
    Number(f64),
    Span(SpanCfg),
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetCfg {
    #[serde(default)]
    pub value: Option<f64>,
    #[serde(default)]
    pub multiply: Option<f64>,
    #[serde(default)]
    pub add: Option<f64>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CareCfg {
    #[serde(default = "default_horizon")]
    pub horizon_days: i64,
    #[serde(default)]
    pub layers: Option<Vec<String>>,
}

/// `care.horizon_days` when not given (and without a `care` section).
pub fn default_horizon() -> i64 {
    14
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportCfg {
    #[serde(default)]
    pub templates: Option<String>,
    /// Display names for ids that have no `name:` of their own (metrics, incentives),
    /// shown by the report and the simulation page in place of the id.
    #[serde(default)]
    pub names: std::collections::BTreeMap<String, String>,
}

impl Pipeline {
    /// The name people read for an id: `report.names`, else a tier's, layer's, goal's
    /// or contest's own `name`, else the id itself.
    pub fn display_name(&self, id: &str) -> String {
        if let Some(n) = self.report.as_ref().and_then(|r| r.names.get(id)) {
            return n.clone();
        }
        let own = self
            .tiers
            .iter()
            .flat_map(|t| &t.levels)
            .find(|l| l.id == id)
            .and_then(|l| l.name.clone())
            .or_else(|| {
                self.layers
                    .iter()
                    .flat_map(|l| &l.levels)
                    .find(|l| l.id == id)
                    .and_then(|l| l.name.clone())
            })
            .or_else(|| self.goals.iter().find(|g| g.id == id).and_then(|g| g.name.clone()))
            .or_else(|| self.contests.iter().find(|c| c.id == id).and_then(|c| c.name.clone()))
            .or_else(|| {
                self.badges
                    .iter()
                    .flatten()
                    .find(|b| b.id == id)
                    .map(|b| b.name.clone())
            });
        own.unwrap_or_else(|| id.to_string())
    }
}

/// `hall_of_fame:` (SPEC §14).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HallOfFameCfg {
    #[serde(default = "default_season")]
    pub season: sets::Season,
    #[serde(default = "default_top")]
    pub top_contributors: usize,
}

fn default_season() -> sets::Season {
    sets::Season::Quarter
}
fn default_top() -> usize {
    10
}

/// `growth:` (SPEC §15).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GrowthCfg {
    #[serde(default)]
    pub specialty: Option<SpecialtyCfg>,
    #[serde(default)]
    pub lead: LeadCfg,
    #[serde(default)]
    pub collaborate: Option<CollaborateCfg>,
    #[serde(default)]
    pub mentoring: Option<MentoringCfg>,
    #[serde(default)]
    pub projects: Option<Vec<ProjectCfg>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LeadCfg {
    #[serde(default = "one_usize")]
    pub min_mentees: usize,
}

impl Default for LeadCfg {
    fn default() -> Self {
        LeadCfg { min_mentees: 1 }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CollaborateCfg {
    #[serde(default)]
    pub window_days: Option<i64>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MentoringCfg {
    #[serde(default)]
    pub mentor_layers: Vec<String>,
    pub capacity: usize,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProjectCfg {
    pub id: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub from_layers: Option<Vec<String>>,
    #[serde(default)]
    pub rank_by: Option<String>,
    pub roles: Vec<RoleCfg>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoleCfg {
    pub role: String,
    pub specialty: String,
}

mod load;
pub mod messaging;
pub mod sets;
pub mod spans;
pub use load::{date_key, edit_distance, load, parse_date_str, parse_text, suggest, Loaded};
pub use messaging::{BadgeCfg, NoticesCfg, NotifyCfg};
