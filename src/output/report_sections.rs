//! The report's sections (SPEC §10) as typed rows, from the computed stages: what
//! the templates may name. Figures are written for people here (dates, shares,
//! rounded numbers); the templates only lay them out.
use crate::charts;
use crate::compute::Computed;
use crate::config::Pipeline;
use crate::fmt::{fmt_day, fmt_num};
use crate::model::Dataset;
use crate::points::RedemptionStatus;
use crate::report::{as_text, label, label_of};
use crate::templating::people_number;
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;

/// The program's name, start and time zone as the pipeline gives them.
#[derive(Debug, Clone, Serialize)]
pub struct ProgramInfo {
    pub name: String,
    pub start: String,
    pub timezone: String,
}

/// The figures at the top of the report (run.json keeps them for the next run's changes).
#[derive(Debug, Clone, Serialize)]
pub struct Headline {
    pub members: usize,
    /// Members active in the 30 days up to D.
    pub active_30d: usize,
    pub points_issued: i64,
    pub points_redeemed: i64,
    pub points_expired: i64,
    pub liability: i64,
    pub flagged_newcomers: usize,
    pub goals: usize,
    pub goals_on_track: usize,
    pub care_occasions: usize,
}

/// Points issued, redeemed, expired and outstanding, and the redemptions.
#[derive(Debug, Clone, Serialize)]
pub struct PointsSection {
    pub issued: i64,
    pub redeemed: i64,
    pub expired: i64,
    pub liability: i64,
    pub redemptions: usize,
    pub refused: usize,
    /// Redeemed / issued (None when nothing was issued).
    pub redemption_rate: Option<f64>,
    /// Accepted redemptions per item, most points first.
    pub by_item: Vec<ItemRow>,
    pub refused_list: Vec<RefusedRow>,
    /// Unspent points that expire in the 30 days after D.
    pub expiring_30d: i64,
    pub chart: String,
}

/// Accepted redemptions of one item.
#[derive(Debug, Clone, Serialize)]
pub struct ItemRow {
    pub item: String,
    pub redemptions: u64,
    pub points: i64,
}

/// A refused redemption with the reason in the locale's words.
#[derive(Debug, Clone, Serialize)]
pub struct RefusedRow {
    pub date: String,
    pub member_id: String,
    pub nickname: String,
    pub item: String,
    pub points: i64,
    pub reason: String,
}

/// A tier level with its members at D.
#[derive(Debug, Clone, Serialize)]
pub struct TierRow {
    pub id: String,
    pub name: String,
    pub min: i64,
    pub perks: String,
    pub members: u64,
}

/// Members promoted / demoted since the previous snapshot (as tiers.csv has them).
#[derive(Debug, Clone, Serialize)]
pub struct TierChanges {
    pub promotions: usize,
    pub demotions: usize,
}

/// A member in the grace period of their tier.
#[derive(Debug, Clone, Serialize)]
pub struct GraceRow {
    pub member_id: String,
    pub nickname: Option<String>,
    pub tier: String,
    pub below_since: String,
    pub demotion_on: Option<String>,
}

/// A layer level with its members at D.
#[derive(Debug, Clone, Serialize)]
pub struct LayerCount {
    pub id: String,
    pub name: String,
    pub members: u64,
}

/// A cell of layer_movements.csv with the layers' names.
#[derive(Debug, Clone, Serialize)]
pub struct MovementRow {
    pub from: String,
    pub to: String,
    #[serde(serialize_with = "as_text")]
    pub members: u64,
}

/// The movements as a from × to grid: rows `(new)` then the levels from the top
/// (those with a movement), columns the levels; a cell is empty when none moved so.
#[derive(Debug, Clone, Serialize)]
pub struct MovementMatrix {
    pub to: Vec<String>,
    pub rows: Vec<MatrixRow>,
}

/// One row of the movement grid.
#[derive(Debug, Clone, Serialize)]
pub struct MatrixRow {
    pub from: String,
    pub cells: Vec<String>,
}

/// A flagged newcomer with the features behind the score.
#[derive(Debug, Clone, Serialize)]
pub struct NewcomerRow {
    pub member_id: String,
    pub nickname: Option<String>,
    pub score: String,
    pub rank: usize,
    pub reasons: Vec<ReasonRow>,
    pub specialty: Option<String>,
}

/// A feature of a newcomer's score: the metric's name, its value and percentile.
#[derive(Debug, Clone, Serialize)]
pub struct ReasonRow {
    pub name: String,
    pub value: String,
    pub percentile: i64,
}

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

/// The names of the tier and layer levels (their `name:`, else their id), in level order.
pub struct LevelNames {
    pub tiers: Vec<String>,
    pub layers: Vec<String>,
}

impl LevelNames {
    pub fn new(p: &Pipeline) -> LevelNames {
        let name = |id: &String, name: &Option<String>| name.clone().unwrap_or_else(|| id.clone());
        LevelNames {
            tiers: p
                .tiers
                .iter()
                .flat_map(|t| &t.levels)
                .map(|l| name(&l.id, &l.name))
                .collect(),
            layers: p
                .layers
                .iter()
                .flat_map(|t| &t.levels)
                .map(|l| name(&l.id, &l.name))
                .collect(),
        }
    }
}

/// The points section: totals, redemptions by item, the refused ones, what expires soon.
pub fn points(p: &Pipeline, ds: &Dataset, c: &Computed, t: &Value, h: &Headline) -> PointsSection {
    let pts = &c.points;
    let mut items: BTreeMap<&str, (u64, i64)> = BTreeMap::new();
    let mut refused_list = Vec::new();
    for o in &pts.redemptions {
        let r = &ds.redemptions[o.redemption];
        if o.status == RedemptionStatus::Ok {
            let e = items.entry(r.item.as_str()).or_default();
            e.0 += 1;
            e.1 += r.points;
        } else {
            refused_list.push(RefusedRow {
                date: fmt_day(crate::fmt::day_of_ts(r.ts)),
                member_id: r.member_id.clone(),
                nickname: ds.nickname(&r.member_id),
                item: r.item.clone(),
                points: r.points,
                reason: label_of(t, "redemption_status", o.status.as_str()).to_string(),
            });
        }
    }
    let mut by_item: Vec<ItemRow> = items
        .into_iter()
        .map(|(item, (redemptions, points))| ItemRow {
            item: item.to_string(),
            redemptions,
            points,
        })
        .collect();
    by_item.sort_by_key(|r| std::cmp::Reverse(r.points));
    let (issued, redeemed, expired, liability) = (h.points_issued, h.points_redeemed, h.points_expired, h.liability);
    let bar = |key: &str, fallback: &str, v: i64| (label(t, key, fallback).to_string(), v as f64);
    PointsSection {
        issued,
        redeemed,
        expired,
        liability,
        redemptions: pts.redemptions.len(),
        refused: pts
            .redemptions
            .iter()
            .filter(|r| r.status != RedemptionStatus::Ok)
            .count(),
        redemption_rate: (issued > 0).then(|| redeemed as f64 / issued as f64),
        by_item,
        refused_list,
        expiring_30d: crate::points::expiring_between(p, ds, pts, c.as_of, c.as_of + 30),
        chart: charts::bars(&[
            bar("points_issued", "issued", issued),
            bar("points_redeemed", "redeemed", redeemed),
            bar("points_expired", "expired", expired),
            bar("liability", "liability", liability),
        ]),
    }
}

/// Members per tier level at D.
pub fn tier_counts(c: &Computed) -> Vec<u64> {
    let mut counts = vec![0u64; c.tier_ids.len()];
    for s in c.tiers.iter().flatten() {
        counts[s.tier] += 1;
    }
    counts
}

/// The tier levels with their members at D.
pub fn tiers(p: &Pipeline, counts: &[u64], sep: &str) -> Vec<TierRow> {
    p.tiers
        .iter()
        .flat_map(|t| &t.levels)
        .zip(counts)
        .map(|(l, n)| TierRow {
            id: l.id.clone(),
            name: p.display_name(&l.id),
            min: l.min,
            perks: l.perks.join(sep),
            members: *n,
        })
        .collect()
}

/// The members tiers.csv calls promoted / demoted, so the report and the CSV agree.
pub fn tier_changes(c: &Computed) -> TierChanges {
    let (promotions, demotions) = crate::tiers::promoted_demoted(&c.tiers, c.previous_snapshot);
    TierChanges { promotions, demotions }
}

/// The members in a grace period, earliest demotion first.
pub fn grace(ds: &Dataset, c: &Computed, tier_names: &[String]) -> Vec<GraceRow> {
    let mut rows: Vec<GraceRow> = ds
        .table_members()
        .filter_map(|(i, m)| {
            let s = c.tiers[i].as_ref()?;
            Some(GraceRow {
                member_id: m.id.clone(),
                nickname: m.nickname.clone(),
                tier: tier_names[s.tier].clone(),
                below_since: fmt_day(s.below_since?),
                demotion_on: s.demotion_on.map(fmt_day),
            })
        })
        .collect();
    rows.sort_by(|a, b| a.demotion_on.cmp(&b.demotion_on));
    rows
}

/// The layer levels with their members at D.
pub fn layers(c: &Computed, layer_names: &[String]) -> Vec<LayerCount> {
    let mut counts = vec![0u64; c.level_ids.len()];
    for l in c.layer_at_d.iter().flatten() {
        counts[*l] += 1;
    }
    c.level_ids
        .iter()
        .zip(layer_names)
        .zip(counts)
        .map(|((id, name), members)| LayerCount {
            id: id.clone(),
            name: name.clone(),
            members,
        })
        .collect()
}

/// layer_movements.csv with the layers' names, and the same as a grid.
pub fn movements(ds: &Dataset, c: &Computed, layer_names: &[String], new: &str) -> (Vec<MovementRow>, MovementMatrix) {
    let moves = crate::layers::movements(ds, &c.history, &c.layer_at_d);
    let name = |from: Option<usize>| from.map_or(new, |l| layer_names[l].as_str()).to_string();
    let rows = moves
        .iter()
        .map(|m| MovementRow {
            from: name(m.from),
            to: layer_names[m.to].clone(),
            members: m.members,
        })
        .collect();
    let cell = |from: Option<usize>, to: usize| {
        moves
            .iter()
            .find(|m| m.from == from && m.to == to)
            .map(|m| m.members.to_string())
            .unwrap_or_default()
    };
    let grid = std::iter::once(None)
        .chain((0..layer_names.len()).map(Some))
        .map(|from| MatrixRow {
            from: name(from),
            cells: (0..layer_names.len()).map(|to| cell(from, to)).collect(),
        })
        .filter(|r| r.cells.iter().any(|c| !c.is_empty()))
        .collect();
    let matrix = MovementMatrix {
        to: layer_names.to_vec(),
        rows: grid,
    };
    (rows, matrix)
}

/// The flagged newcomers with the features behind their score.
pub fn newcomers(p: &Pipeline, ds: &Dataset, c: &Computed) -> Vec<NewcomerRow> {
    c.newcomers
        .iter()
        .filter(|n| n.flagged)
        .map(|n| {
            let m = &ds.members[n.member];
            NewcomerRow {
                member_id: m.id.clone(),
                nickname: m.nickname.clone(),
                score: format!("{:.2}", n.score),
                rank: n.rank,
                reasons: n
                    .reason_parts
                    .iter()
                    .map(|r| ReasonRow {
                        name: p.display_name(&r.metric),
                        value: people_number(r.value),
                        percentile: r.percentile,
                    })
                    .collect(),
                specialty: n.specialty.clone(),
            }
        })
        .collect()
}

/// The contests: judges, podium, near misses and counts.
pub fn contests(ds: &Dataset, c: &Computed) -> Vec<ContestSection> {
    let placed = |x: &crate::contests::Placing| Placed {
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
            entries: k.table.rows.len(),
            rejected_scores: k.rejected_by_reason.values().sum(),
        })
        .collect()
}

/// A contest's judges, each against the panel's mean of the judges' means.
fn judges(stats: &[crate::contests::JudgeStats]) -> Vec<JudgeRow> {
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
            chart: goal_chart(p, g, t),
            ratio: p.goals.iter().any(|x| x.id == g.id && x.measure.ratio.is_some()),
        })
        .collect()
}

/// An honest goal chart: count and sum goals as the cumulative actual against the
/// target pro-rated over the period; mean and ratio goals week by week against the
/// target; the partial last week marked, not drawn as a collapse.
fn goal_chart(p: &Pipeline, g: &crate::goals::GoalResult, t: &Value) -> String {
    let cumulative = p
        .goals
        .iter()
        .find(|x| x.id == g.id)
        .is_some_and(|x| x.measure.ratio.is_none() && x.measure.mean.is_none());
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
                detail: care_detail(ds, o, &names.tiers, en),
            }
        })
        .collect()
}

/// A care occasion's detail for people: `53 岁`, `1 周年`, tier names, the post's content id.
fn care_detail(ds: &Dataset, o: &crate::care::Occasion, tier_names: &[String], en: bool) -> String {
    use crate::care::{About, Kind};
    let tier = |k: usize| tier_names.get(k).cloned().unwrap_or_default();
    match (o.about, en) {
        (About::Years(1), true) if o.occasion != Kind::Birthday => "1st anniversary".into(),
        (About::Years(y), true) if o.occasion == Kind::Birthday => format!("turns {y}"),
        (About::Years(y), true) => format!("{y} years"),
        (About::Years(y), false) if o.occasion == Kind::Birthday => format!("{y} 岁"),
        (About::Years(y), false) => format!("{y} 周年"),
        (About::Promotion(a, b), _) => format!("{} → {}", tier(a), tier(b)),
        (About::Event(e), _) => ds.events.content_id(e).unwrap_or(ds.events.id(e)).to_string(),
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
