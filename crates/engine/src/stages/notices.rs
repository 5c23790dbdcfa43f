//! Notices (SPEC §17): what to tell each member about day D, from the results of the
//! other stages (no stage is recomputed here). The sentence itself is written by
//! `output::notices` in the program's locale.
use crate::fmt::{fmt_day, Day};
use crate::model::Dataset;
use crate::pipeline::config::messaging::NoticeKind;
use crate::pipeline::program::Program;
use crate::stages::badges::Award;
use crate::stages::contests::ContestResult;
use crate::stages::layers::LayerRow;
use crate::stages::tiers::TierState;

/// One row of notices.csv before its text: `reference` is the `ref` column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    pub member: usize,
    pub kind: NoticeKind,
    pub reference: String,
    pub value: Option<i64>,
}

/// The results notices are read from.
pub struct Inputs<'a> {
    pub awards: &'a [Award],
    /// Each member's points expiring on the notices' day (`Facts::expiring_on_notice_day`).
    pub facts: &'a [crate::stages::facts::Facts],
    pub tiers: &'a [Option<TierState>],
    pub contests: &'a [ContestResult],
    pub history: &'a [(Day, LayerRow)],
    pub layer_at_d: &'a LayerRow,
    pub level_ids: &'a [String],
}

/// Every notice of day D, sorted by member_id, kind, ref (as text); empty without a
/// `notices` section.
pub fn compute(prog: &Program, ds: &Dataset, inputs: &Inputs) -> Vec<Notice> {
    let Some(plan) = &prog.notices else {
        return Vec::new();
    };
    let d = ds.as_of;
    let known = |m: usize| ds.members[m].joined <= d;
    let mut out: Vec<Notice> = Vec::new();
    let mut push = |member: usize, kind: NoticeKind, reference: String, value: Option<i64>| {
        if plan.kinds.contains(&kind) && known(member) {
            out.push(Notice {
                member,
                kind,
                reference,
                value,
            });
        }
    };
    for a in inputs.awards.iter().filter(|a| a.day == d) {
        push(a.member, NoticeKind::Badge, prog.badges[a.badge].id.clone(), None);
    }
    if let Some(cfg) = &prog.tiers {
        for (m, state) in inputs.tiers.iter().enumerate() {
            let Some(s) = state else { continue };
            for c in s.changes.iter().filter(|c| c.day == d) {
                let kind = if c.to > c.from {
                    NoticeKind::TierUp
                } else {
                    NoticeKind::TierDown
                };
                push(m, kind, cfg.ids[c.to].clone(), Some(s.q));
            }
            if let (Some(below), Some(demotion)) = (s.below_since, s.demotion_on) {
                if below == d {
                    let keep = cfg.mins[s.tier] - s.q;
                    push(m, NoticeKind::GraceStarted, fmt_day(demotion), Some(keep));
                }
            }
        }
    }
    if plan.kinds.contains(&NoticeKind::PointsExpiring) && prog.spending.expiry_days.is_some() {
        let day = d + plan.expiring_days_ahead as Day;
        for (m, f) in inputs.facts.iter().enumerate() {
            if f.expiring_on_notice_day > 0 {
                push(
                    m,
                    NoticeKind::PointsExpiring,
                    fmt_day(day),
                    Some(f.expiring_on_notice_day),
                );
            }
        }
    }
    for (c, plan_c) in inputs.contests.iter().zip(&prog.contests) {
        if plan_c.to != d {
            continue;
        }
        let mut best: std::collections::BTreeMap<&str, usize> = Default::default();
        for e in c.entries.iter().filter(|e| !e.award.is_empty()) {
            if let Some(rank) = e.rank {
                let b = best.entry(e.member_id.as_str()).or_insert(rank);
                *b = (*b).min(rank);
            }
        }
        for (member_id, rank) in best {
            if let Some(&m) = ds.index.get(member_id) {
                push(m, NoticeKind::ContestAward, c.id.clone(), Some(rank as i64));
            }
        }
    }
    if crate::fmt::is_month_end(d) {
        if let Some((_, previous)) = inputs.history.last() {
            for (m, now) in inputs.layer_at_d.iter().enumerate() {
                if let (Some(now), Some(before)) = (*now, previous[m]) {
                    // levels are listed from the top: a smaller index is a higher layer
                    if now < before {
                        push(m, NoticeKind::LayerUp, inputs.level_ids[now].clone(), None);
                    }
                }
            }
        }
    }
    out.sort_by(|a, b| {
        (a.member, a.kind.as_str(), a.reference.as_str()).cmp(&(b.member, b.kind.as_str(), b.reference.as_str()))
    });
    out
}
