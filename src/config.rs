//! The pipeline file (SPEC §3): serde structs that mirror the YAML, loaded with
//! positions in every error. `check.rs` validates what serde cannot.
use crate::error::{usage_err, KocError};
use anyhow::Result;
use indexmap::IndexMap;
use serde::Deserialize;
use std::path::{Path, PathBuf};

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
    #[serde(default = "default_locale")]
    pub locale: String,
}

fn default_tz() -> String {
    "Asia/Shanghai".into()
}
fn default_locale() -> String {
    "zh-CN".into()
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
    pub cadence: Option<String>,
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
    pub normalize: String,
    #[serde(default = "one_usize")]
    pub min_judges: usize,
}

fn default_normalize() -> String {
    "none".into()
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
    pub direction: String,
    #[serde(default)]
    pub incentives: Vec<String>,
}

fn default_direction() -> String {
    "up".into()
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

fn default_horizon() -> i64 {
    14
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportCfg {
    #[serde(default)]
    pub templates: Option<String>,
}

/// `hall_of_fame:` (SPEC §14).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HallOfFameCfg {
    #[serde(default = "default_season")]
    pub season: String,
    #[serde(default = "default_top")]
    pub top_contributors: usize,
}

fn default_season() -> String {
    "quarter".into()
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

/// A pipeline file as read: its text, its folder (paths are relative to it) and the parsed value.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub path: PathBuf,
    pub dir: PathBuf,
    pub text: String,
    pub pipeline: Pipeline,
}

impl Loaded {
    /// A path from the pipeline file, relative to the pipeline's folder.
    pub fn resolve(&self, p: &str) -> PathBuf {
        let p = Path::new(p);
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            self.dir.join(p)
        }
    }

    pub fn store_dir(&self) -> PathBuf {
        self.resolve(&self.pipeline.store)
    }

    /// `file:line:col` of the first place `needle` appears in the pipeline text.
    pub fn locate(&self, needle: &str) -> String {
        locate_in(&self.path, &self.text, needle)
    }

    /// `file:line:col` of the `nth` place `needle` appears in the pipeline text.
    pub fn locate_nth(&self, needle: &str, nth: usize) -> String {
        locate_nth_in(&self.path, &self.text, needle, nth)
    }
}

pub fn locate_in(path: &Path, text: &str, needle: &str) -> String {
    locate_nth_in(path, text, needle, 0)
}

/// `file:line:col` of the `nth` (0-based) place `needle` appears: when the same text
/// stands in several places (two rules with one `where`), each is reported at its own.
pub fn locate_nth_in(path: &Path, text: &str, needle: &str, nth: usize) -> String {
    let found = if needle.is_empty() {
        None
    } else {
        // prefer the needle as a whole YAML value (quoted, or a plain value ending
        // its line), then as a word, then anywhere
        let all: Vec<usize> = text.match_indices(needle).map(|(i, _)| i).collect();
        let around = |i: usize| (text[..i].chars().next_back(), text[i + needle.len()..].chars().next());
        let whole: Vec<usize> = all
            .iter()
            .copied()
            .filter(|&i| match around(i) {
                (Some(q @ ('"' | '\'')), Some(r)) => q == r,
                (Some(' '), None | Some('\n' | '\r')) => true,
                _ => false,
            })
            .collect();
        let word: Vec<usize> = all
            .iter()
            .copied()
            .filter(|&i| {
                let (b, a) = around(i);
                b.is_none_or(|c| !c.is_alphanumeric() && c != '_') && a.is_none_or(|c| !c.is_alphanumeric() && c != '_')
            })
            .collect();
        [whole, word, all]
            .into_iter()
            .find_map(|list| list.get(nth).or(list.first()).copied())
    };
    if let Some(pos) = found {
        let before = &text[..pos];
        let line = before.matches('\n').count() + 1;
        let col = before.rsplit('\n').next().map(|s| s.chars().count()).unwrap_or(0) + 1;
        format!("{}:{line}:{col}", path.display())
    } else {
        path.display().to_string()
    }
}

/// Read and parse a pipeline file; errors carry file:line:column and a fix.
pub fn load(path: &Path) -> Result<Loaded> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        KocError::usage(format!("cannot read pipeline file {}: {e}", path.display()))
            .with_hint("give the path of an existing pipeline YAML file")
    })?;
    let pipeline = parse_text(path, &text)?;
    let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let dir = if dir.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        dir
    };
    Ok(Loaded {
        path: path.to_path_buf(),
        dir,
        text,
        pipeline,
    })
}

/// Parse pipeline text (also used by `simulate` after an overlay merge). Every
/// top-level section with a mistake is reported, not only the first: after an error,
/// its section is set aside (line numbers kept) and the rest is read again.
pub fn parse_text(path: &Path, text: &str) -> Result<Pipeline> {
    let mut errors: Vec<anyhow::Error> = Vec::new();
    let mut current = text.to_string();
    let mut set_aside: Vec<usize> = Vec::new();
    loop {
        match parse_once(path, &current) {
            Ok(p) if errors.is_empty() => return Ok(p),
            Ok(_) => break,
            Err((err, line)) => {
                let section = line.and_then(|l| section_start(&current, l));
                errors.push(err);
                match section {
                    Some(start) if !set_aside.contains(&start) && errors.len() < 20 => {
                        set_aside.push(start);
                        current = without_section(&current, start);
                    }
                    _ => break,
                }
            }
        }
    }
    if errors.len() == 1 {
        return Err(errors.remove(0));
    }
    Err(usage_err(
        errors.iter().map(|e| format!("{e:#}")).collect::<Vec<_>>().join("\n"),
    ))
}

/// The 0-based line of the top-level key whose section holds 1-based `line`.
fn section_start(text: &str, line: usize) -> Option<usize> {
    text.lines()
        .enumerate()
        .take(line)
        .filter(|(_, l)| {
            l.chars()
                .next()
                .is_some_and(|c| !c.is_whitespace() && c != '#' && c != '-')
        })
        .map(|(i, _)| i)
        .last()
}

/// The text with the section starting at line `start` replaced, line for line, by a
/// value that parses (required sections) or by comments (optional ones).
fn without_section(text: &str, start: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let end = (start + 1..lines.len())
        .find(|i| {
            lines[*i]
                .chars()
                .next()
                .is_some_and(|c| !c.is_whitespace() && c != '#' && c != '-')
        })
        .unwrap_or(lines.len());
    let key = lines[start].split(':').next().unwrap_or("").trim();
    let stand_in = match key {
        "program" => "program: {name: x, start: 2000-01-01}".to_string(),
        "store" => "store: x".to_string(),
        "sources" => "sources: {}".to_string(),
        _ => format!("# {key}: set aside after an error"),
    };
    let mut out: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
    out[start] = stand_in;
    for l in out.iter_mut().take(end).skip(start + 1) {
        *l = "#".into();
    }
    out.join("\n")
}

/// One attempt: the pipeline, or the first error with its line.
fn parse_once(path: &Path, text: &str) -> std::result::Result<Pipeline, (anyhow::Error, Option<usize>)> {
    let de = serde_yaml::Deserializer::from_str(text);
    serde_path_to_error::deserialize::<_, Pipeline>(de).map_err(|e| {
        let line = e.inner().location().map(|l| l.line());
        let yaml_path = e.path().to_string();
        let inner = e.into_inner();
        let location = inner
            .location()
            .map(|l| format!("{}:{}:{}", path.display(), l.line(), l.column()))
            .unwrap_or_else(|| path.display().to_string());
        let msg = inner.to_string();
        // serde_yaml appends " at line X column Y"; we put the position first instead.
        let msg = msg.split(" at line ").next().unwrap_or(&msg).to_string();
        // serde_yaml may prefix its own path ("points.rules[0]: ..."): keep the message only
        let msg = ["unknown field `", "missing field `", "invalid type", "unknown variant"]
            .iter()
            .find_map(|k| msg.find(k).map(|i| msg[i..].to_string()))
            .unwrap_or(msg);
        let unknown = msg.starts_with("unknown field");
        let (msg, hint) = explain_serde_message(&msg);
        // an unknown key is reported in its parent's path
        let yaml_path = match (unknown, yaml_path.rfind('.')) {
            (true, Some(i)) => yaml_path[..i].to_string(),
            (true, None) => "the top level".to_string(),
            _ => yaml_path,
        };
        let mut err = KocError::usage(format!("{location}: {msg} in {yaml_path}"));
        if let Some(h) = hint {
            err = err.with_hint(h);
        }
        (anyhow::Error::from(err), line)
    })
}

/// Turn serde's "unknown field `x`, expected one of `a`, `b`" into a message and a did-you-mean.
fn explain_serde_message(msg: &str) -> (String, Option<String>) {
    if let Some(rest) = msg.strip_prefix("unknown field `") {
        let key = rest.split('`').next().unwrap_or("");
        let expected: Vec<&str> = rest
            .split('`')
            .skip(1)
            .filter(|s| !s.is_empty() && !s.contains(',') && !s.contains("expected"))
            .collect();
        let best = expected
            .iter()
            .map(|c| (edit_distance(key, c), *c))
            .min()
            .filter(|(d, _)| *d <= 3);
        let hint = match best {
            Some((_, c)) => format!("did you mean '{c}'?"),
            None => format!("known keys here: {}", expected.join(", ")),
        };
        return (format!("unknown key '{key}'"), Some(hint));
    }
    if let Some(rest) = msg.strip_prefix("missing field `") {
        let key = rest.split('`').next().unwrap_or("");
        return (format!("missing key '{key}'"), Some(format!("add '{key}:' here")));
    }
    (msg.to_string(), None)
}

pub fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// A "did you mean" among known names, for unknown-name errors.
pub fn suggest<'a>(word: &str, known: impl IntoIterator<Item = &'a str>) -> Option<String> {
    known
        .into_iter()
        .map(|k| (edit_distance(word, k), k))
        .filter(|(d, _)| *d <= 3)
        .min()
        .map(|(_, k)| k.to_string())
}

pub fn parse_date_str(s: &str) -> Option<chrono::NaiveDate> {
    chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .or_else(|_| chrono::NaiveDate::parse_from_str(s, "%Y/%m/%d"))
        .ok()
}

/// A date key of the pipeline (program.start, windows, periods) or an error naming it.
pub fn date_key(loaded: &Loaded, what: &str, value: &str) -> Result<crate::fmt::Day> {
    parse_date_str(value)
        .map(crate::fmt::day_of)
        .ok_or_else(|| usage_err(format!("{}: {what} '{value}' is not a date", loaded.locate(value))))
}
