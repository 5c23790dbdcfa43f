//! The report's sections on the program's outcomes (SPEC §9, §10) as typed rows:
//! contests, goals and their charts, the care calendar, incentives, rejected judge
//! scores. The members' sections (points, tiers, layers, newcomers) are in
//! `report_sections.rs`.
use crate::output::charts;
use crate::output::report::{as_text, label, label_of};
use crate::output::report_sections::LevelNames;
use crate::output::templating::people_number;
use koc_engine::compute::Computed;
use koc_engine::fmt::{fmt_day, fmt_num};
use koc_engine::model::Dataset;
use koc_engine::pipeline::config::Pipeline;
use serde::Serialize;
use serde_json::Value;

/// A contest: the judges, the awarded entries and the best ones without a prize.
#[derive(Debug, Clone, Serialize)]
pub struct ContestSection {
    pub judges: Vec<JudgeRow>,
    /// The first three ranked entries without an award.
    pub near_misses: Vec<Placed>,
    pub id: String,
    pub name: String,
    pub podium: Vec<Awarded>,
    pub ranked: usize,
    pub entries: usize,
    pub rejected_scores: u64,
}

/// A ranked entry.
#[derive(Debug, Clone, Serialize)]
pub struct Placed {
    pub rank: usize,
    pub entry_id: String,
    pub member_id: String,
    pub nickname: String,
    #[serde(rename = "final")]
    pub final_score: String,
}

/// A ranked entry with its award.
#[derive(Debug, Clone, Serialize)]
pub struct Awarded {
    #[serde(flatten)]
    pub placed: Placed,
    pub award: String,
}

/// A judge: scores given, raw mean and spread, and how far the mean is from the
/// panel's (lenient > 0, harsh < 0).
#[derive(Debug, Clone, Serialize)]
pub struct JudgeRow {
    pub judge_id: String,
    #[serde(serialize_with = "as_text")]
    pub scores: usize,
    pub mean_raw: String,
    pub sd_raw: String,
    pub vs_panel: String,
}

/// A goal with its figures written for people, the weekly trend and its chart.
#[derive(Debug, Clone, Serialize)]
pub struct GoalRow {
    pub id: String,
    pub name: String,
    pub period_from: String,
    pub period_to: String,
    pub baseline: Option<String>,
    pub target: Option<String>,
    pub actual: Option<String>,
    pub projection: Option<String>,
    /// The share of the period gone, `33%`.
    pub elapsed: String,
    pub status: &'static str,
    pub status_label: String,
    /// The incentives' names, in the locale's list separator.
    pub incentives: String,
    pub trend: Vec<TrendWeek>,
    pub chart: String,
    /// A ratio goal: its figures are shares.
    pub ratio: bool,
}

/// One week of a goal's trend.
#[derive(Debug, Clone, Serialize)]
pub struct TrendWeek {
    pub week_from: String,
    pub value: Option<String>,
}

/// A care occasion up to D.
#[derive(Debug, Clone, Serialize)]
pub struct CareRow {
    pub date: String,
    pub member_id: String,
    pub nickname: Option<String>,
    pub layer: Option<String>,
    pub occasion: String,
    pub detail: String,
}

/// An incentive's feedback and the recommendation.
#[derive(Debug, Clone, Serialize)]
pub struct IncentiveRow {
    pub name: String,
    pub goals: String,
    pub responses: usize,
    pub mean_rating: Option<String>,
    pub share_4plus: Option<String>,
    pub comments: String,
    pub recommendation: &'static str,
    pub recommendation_label: String,
}

/// Judge scores a contest rejected for one reason (data quality, SPEC §9).
#[derive(Debug, Clone, Serialize)]
pub struct ScoreRejects {
    pub contest: String,
    pub reason: &'static str,
    pub scores: u64,
}

/// The contests: judges, podium, near misses and counts.
pub fn contests(ds: &Dataset, c: &Computed) -> Vec<ContestSection> {
    let placed = |x: &koc_engine::stages::contests::Placing| Placed {
        rank: x.rank,
        entry_id: x.entry_id.clone(),
        member_id: x.member_id.clone(),
        nickname: ds.nickname(&x.member_id),
        final_score: fmt_num(x.final_score),
    };
    c.contests
        .iter()
        .map(|k| ContestSection {
            judges: judges(&k.judge_stats),
            near_misses: k.podium.iter().filter(|x| !x.has_award()).take(3).map(placed).collect(),
            id: k.id.clone(),
            name: k.name.clone(),
            podium: k
                .podium
                .iter()
                .filter(|x| x.has_award())
                .map(|x| Awarded {
                    placed: placed(x),
                    award: x.award.clone(),
                })
                .collect(),
            ranked: k.podium.len(),
            entries: k.entries.len(),
            rejected_scores: k.rejected_by_reason.values().sum(),
        })
        .collect()
}

/// A contest's judges, each against the panel's mean of the judges' means.
fn judges(stats: &[koc_engine::stages::contests::JudgeStats]) -> Vec<JudgeRow> {
    let panel = if stats.is_empty() {
        0.0
    } else {
        stats.iter().map(|j| j.mean_raw).sum::<f64>() / stats.len() as f64
    };
    stats
        .iter()
        .map(|j| JudgeRow {
            judge_id: j.judge_id.clone(),
            scores: j.scores,
            mean_raw: fmt_num(j.mean_raw),
            sd_raw: fmt_num(j.sd_raw),
            vs_panel: format!("{:+.2}", j.mean_raw - panel),
        })
        .collect()
}

/// The judge scores rejected, per contest (by id) and reason.
pub fn score_rejects(p: &Pipeline, c: &Computed) -> Vec<ScoreRejects> {
    let mut counts: Vec<(&str, &'static str, u64)> = c
        .contests
        .iter()
        .flat_map(|k| k.rejected_by_reason.iter().map(|(r, n)| (k.id.as_str(), *r, *n)))
        .collect();
    counts.sort_unstable();
    counts
        .into_iter()
        .map(|(contest, reason, scores)| ScoreRejects {
            contest: p.display_name(contest),
            reason,
            scores,
        })
        .collect()
}

/// The goals with their figures, trend and chart.
pub fn goals(p: &Pipeline, c: &Computed, t: &Value, sep: &str) -> Vec<GoalRow> {
    c.goals
        .iter()
        .map(|g| GoalRow {
            id: g.id.clone(),
            name: g.name.clone(),
            period_from: fmt_day(g.from),
            period_to: fmt_day(g.to),
            baseline: g.baseline.map(fmt_num),
            target: g.target.map(fmt_num),
            actual: g.actual.map(fmt_num),
            projection: g.projection.map(fmt_num),
            elapsed: format!("{:.0}%", g.elapsed * 100.0),
            status: g.status.as_str(),
            status_label: label_of(t, "status", g.status.as_str()).to_string(),
            incentives: g
                .incentives
                .iter()
                .map(|i| p.display_name(i))
                .collect::<Vec<_>>()
                .join(sep),
            trend: g
                .trend
                .iter()
                .map(|(a, _, v)| TrendWeek {
                    week_from: fmt_day(*a),
                    value: v.map(fmt_num),
                })
                .collect(),
            chart: goal_chart(g, t),
            ratio: g.is_ratio,
        })
        .collect()
}

/// An honest goal chart: count and sum goals as the cumulative actual against the
/// target pro-rated over the period; mean and ratio goals week by week against the
/// target; the partial last week marked, not drawn as a collapse.
fn goal_chart(g: &koc_engine::stages::goals::GoalResult, t: &Value) -> String {
    let cumulative = g.accumulates;
    let span = (g.to - g.from + 1).max(1) as f64;
    let mut running = 0.0;
    let points: Vec<(String, Option<f64>, Option<f64>)> = g
        .trend
        .iter()
        .map(|(a, b, v)| {
            let label = fmt_day(*a)[5..].to_string();
            if cumulative {
                running += v.unwrap_or(0.0);
                (
                    label,
                    Some(running),
                    g.target.map(|t| t * (b - g.from + 1) as f64 / span),
                )
            } else {
                (label, *v, g.target)
            }
        })
        .collect();
    let partial_last = g.trend.last().is_some_and(|(a, b, _)| b - a + 1 < 7);
    let y_title = if cumulative { "chart_cumulative" } else { "chart_weekly" };
    charts::goal(&charts::GoalSeries {
        points: &points,
        partial_last,
        y_title: label(t, y_title, y_title),
        partial_label: label(t, "chart_partial", "chart_partial"),
        percent: g.is_ratio,
    })
}

/// The care occasions up to D, with the member's layer and the occasion's detail.
pub fn care(ds: &Dataset, c: &Computed, t: &Value, names: &LevelNames, en: bool) -> Vec<CareRow> {
    c.care
        .iter()
        .map(|o| {
            let m = &ds.members[o.member];
            CareRow {
                date: fmt_day(o.day),
                member_id: m.id.clone(),
                nickname: m.nickname.clone(),
                layer: c.layer_at_d[o.member].map(|l| names.layers[l].clone()),
                occasion: label_of(t, "occasion", o.occasion.as_str()).to_string(),
                detail: care_detail(o, &names.tiers, en),
            }
        })
        .collect()
}

/// A care occasion's detail for people: `53 岁`, `1 周年`, tier names, the post's content id.
pub(crate) fn care_detail(o: &koc_engine::stages::care::Occasion, tier_names: &[String], en: bool) -> String {
    use koc_engine::stages::care::{About, Kind};
    let tier = |k: usize| tier_names.get(k).cloned().unwrap_or_default();
    match (&o.about, en) {
        (About::Years(1), true) if o.occasion != Kind::Birthday => "1st anniversary".into(),
        (About::Years(y), true) if o.occasion == Kind::Birthday => format!("turns {y}"),
        (About::Years(y), true) => format!("{y} years"),
        (About::Years(y), false) if o.occasion == Kind::Birthday => format!("{y} 岁"),
        (About::Years(y), false) => format!("{y} 周年"),
        (About::Promotion(a, b), _) => format!("{} → {}", tier(*a), tier(*b)),
        (About::Event(shown), _) => shown.clone(),
    }
}

/// The incentives' feedback and recommendations.
pub fn incentives(p: &Pipeline, c: &Computed, t: &Value, sep: &str) -> Vec<IncentiveRow> {
    c.incentives
        .iter()
        .map(|i| IncentiveRow {
            name: p.display_name(&i.name),
            goals: i.goals.iter().map(|g| p.display_name(g)).collect::<Vec<_>>().join(sep),
            responses: i.responses,
            mean_rating: i.mean_rating.map(people_number),
            share_4plus: i.share_4plus.map(|x| format!("{:.0}%", x * 100.0)),
            comments: i.comments.clone(),
            recommendation: i.recommendation,
            recommendation_label: label_of(t, "recommendation", i.recommendation).to_string(),
        })
        .collect()
}
