//! Scouting high-potential newcomers (SPEC §8): candidates by condition,
//! percentile features, weighted score, ranks, flags, reasons and specialty.
use crate::fmt::{fmt_num, percentiles, tie_key, Day};
use crate::model::Dataset;
use crate::pipeline::expr;
use crate::pipeline::plans::{ScoutingPlan, SpecialtyPlan};
use crate::pipeline::program::{Place, Program};
use crate::stages::facts::Facts;
use crate::stages::layers::{LayerRow, Snapshot};
use crate::stages::metrics::field_key;
use anyhow::Result;
use std::collections::BTreeMap;

pub struct Candidate {
    pub member: usize,
    pub score: f64,
    pub rank: usize,
    pub flagged: bool,
    /// SPEC §8's `reasons` text, built from `reason_parts`.
    pub reasons: String,
    /// The three strongest features, for the report to show with display names.
    pub reason_parts: Vec<Reason>,
    pub specialty: Option<String>,
    pub values: Vec<f64>,
}

/// One feature behind a newcomer's score: the metric, its value and percentile (0–100).
#[derive(Debug, Clone, serde::Serialize)]
pub struct Reason {
    pub metric: String,
    pub value: f64,
    pub percentile: i64,
}

pub fn compute(
    prog: &Program,
    ds: &Dataset,
    facts: &[Facts],
    snap: &Snapshot,
    layer_at_d: &LayerRow,
    level_ids: &[String],
) -> Result<Vec<Candidate>> {
    let Some(cfg) = &prog.scouting else {
        return Ok(vec![]);
    };
    let cond = prog
        .conditions
        .get(&Place::Candidates)
        .ok_or_else(|| anyhow::anyhow!("scouting.candidates was not checked"))?;
    let layer_col: Vec<Option<&str>> = snap
        .members
        .iter()
        .map(|m| layer_at_d[*m].map(|l| level_ids[l].as_str()))
        .collect();
    let mut frame = snap.frame.clone();
    frame.with_column(expr::text_col("layer", layer_col))?;
    let mask = expr::eval_bool(cond, &frame)?;
    let rows: Vec<usize> = (0..snap.members.len()).filter(|k| mask[*k]).collect();
    let values: Vec<Vec<f64>> = cfg
        .features
        .iter()
        .map(|f| {
            rows.iter()
                .map(|k| snap.values.get(&f.0).map(|v| v[*k]).unwrap_or(0.0))
                .collect()
        })
        .collect();
    let pct: Vec<Vec<f64>> = values.iter().map(|v| percentiles(v)).collect();
    let total_weight: f64 = cfg.features.iter().map(|f| f.1).sum();
    let mut out: Vec<Candidate> = rows
        .iter()
        .enumerate()
        .map(|(c, k)| {
            let weighted: Vec<f64> = cfg
                .features
                .iter()
                .enumerate()
                .map(|(f, feat)| feat.1 * pct[f][c])
                .collect();
            let score = if total_weight > 0.0 {
                weighted.iter().sum::<f64>() / total_weight
            } else {
                0.0
            };
            let reason_parts = reasons(cfg, &weighted, &values, &pct, c);
            Candidate {
                member: snap.members[*k],
                score,
                rank: 0,
                flagged: false,
                reasons: reason_parts
                    .iter()
                    .map(|r| format!("{}={} (p{})", r.metric, fmt_num(r.value), r.percentile))
                    .collect::<Vec<_>>()
                    .join("; "),
                reason_parts,
                specialty: facts[snap.members[*k]].scouting_specialty.clone(),
                values: values.iter().map(|v| v[c]).collect(),
            }
        })
        .collect();
    out.sort_by(|a, b| {
        tie_key(b.score).cmp(&tie_key(a.score)).then_with(|| {
            ds.members[a.member]
                .id
                .as_bytes()
                .cmp(ds.members[b.member].id.as_bytes())
        })
    });
    for (i, c) in out.iter_mut().enumerate() {
        c.rank = i + 1;
        c.flagged = cfg.flag_top.is_none_or(|top| c.rank <= top) && tie_key(c.score) >= tie_key(cfg.flag_min_score);
    }
    Ok(out)
}

/// The three features with the largest weight·p (ties: feature order).
fn reasons(cfg: &ScoutingPlan, weighted: &[f64], values: &[Vec<f64>], pct: &[Vec<f64>], c: usize) -> Vec<Reason> {
    let mut order: Vec<usize> = (0..cfg.features.len()).collect();
    order.sort_by(|a, b| tie_key(weighted[*b]).cmp(&tie_key(weighted[*a])).then(a.cmp(b)));
    order
        .iter()
        .take(3)
        .map(|f| Reason {
            metric: cfg.features[*f].0.clone(),
            value: values[*f][c],
            percentile: (100.0 * pct[*f][c] + 1e-9).floor_half_up(),
        })
        .collect()
}

trait HalfUp {
    fn floor_half_up(self) -> i64;
}
impl HalfUp for f64 {
    fn floor_half_up(self) -> i64 {
        (self + 0.5).floor() as i64
    }
}

/// The dominant value of `field` among the member's events in the window (explore → specialise).
pub fn specialty(ds: &Dataset, awarded: &[i64], cfg: &SpecialtyPlan, member: usize, d: Day) -> Option<String> {
    let field = cfg.field;
    let range = crate::stages::metrics::window_range(ds, member, d, Some(cfg.window_days));
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    let mut total = 0usize;
    for i in range {
        // a member's id stands for itself (field_key gives its index, another in a shard)
        let key = match field {
            crate::table::Field::MemberId => Some(ds.members[member].id.clone()),
            _ => field_key(&ds.events, i, awarded[i], field),
        };
        if let Some(v) = key {
            *counts.entry(v).or_insert(0) += 1;
            total += 1;
        }
    }
    // BTreeMap iterates values in byte order, so the first maximum is the smallest value
    let (value, n) = counts
        .iter()
        .fold(None::<(&String, usize)>, |best, (v, n)| match best {
            Some((_, bn)) if bn >= *n => best,
            _ => Some((v, *n)),
        })?;
    let share = n as f64 / total as f64;
    (tie_key(share) >= tie_key(cfg.min_share) && n >= cfg.min_events).then(|| value.clone())
}
