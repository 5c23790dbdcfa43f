//! The report's sections on the members (SPEC §5–§8, §10) as typed rows, from the
//! computed stages: what the templates may name (the program's outcomes are in
//! `report_outcomes.rs`). Figures are written for people here (dates, shares,
//! rounded numbers); the templates only lay them out.
use crate::output::charts;
use crate::output::report::{as_text, label, label_of};
use crate::output::templating::people_number;
use koc_engine::compute::Computed;
use koc_engine::fmt::fmt_day;
use koc_engine::model::Dataset;
use koc_engine::pipeline::config::Pipeline;
use koc_engine::stages::points::RedemptionStatus;
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
pub fn points(ds: &Dataset, c: &Computed, t: &Value, h: &Headline) -> PointsSection {
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
                date: fmt_day(koc_engine::fmt::day_of_ts(r.ts)),
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
        refused: refused_list.len(),
        redemption_rate: (issued > 0).then(|| redeemed as f64 / issued as f64),
        by_item,
        refused_list,
        expiring_30d: c.facts.iter().map(|f| f.expiring_30d).sum(),
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
    c.members_per_tier().into_iter().map(|n| n as u64).collect()
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
    let (promotions, demotions) = koc_engine::stages::tiers::promoted_demoted(&c.tiers, c.previous_snapshot);
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
    c.level_ids
        .iter()
        .zip(layer_names)
        .zip(c.members_per_layer())
        .map(|((id, name), members)| LayerCount {
            id: id.clone(),
            name: name.clone(),
            members: members as u64,
        })
        .collect()
}

/// layer_movements.csv with the layers' names, and the same as a grid.
pub fn movements(ds: &Dataset, c: &Computed, layer_names: &[String], new: &str) -> (Vec<MovementRow>, MovementMatrix) {
    let moves = koc_engine::stages::layers::movements(ds, &c.history, &c.layer_at_d);
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
                specialty: n.specialty.as_deref().map(|s| p.display_name(s)),
            }
        })
        .collect()
}
