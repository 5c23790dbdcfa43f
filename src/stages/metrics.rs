//! Metrics (SPEC §7): windowed count/sum/mean/distinct per member at a snapshot,
//! plus the built-ins, as one DataFrame that `when`/`candidates` conditions run on.
use crate::config::MetricCfg;
use crate::expr;
use crate::fmt::Day;
use crate::model::{Dataset, Events};
use crate::program::{Place, Program};
use anyhow::Result;
use std::collections::HashSet;

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Agg {
    Count,
    Sum,
    Mean,
    Distinct,
}

pub struct Metric {
    pub name: String,
    pub agg: Agg,
    pub field: String,
    pub window: Option<i64>,
    /// Which events the metric's `where` accepts (None: all).
    pub mask: Option<Vec<bool>>,
}

/// A field of event `i` as a number (sum/mean) — NULL when the field is empty.
pub fn field_num(ev: &Events, i: usize, awarded: i64, field: &str) -> Option<f64> {
    match field {
        "likes" | "comments" | "shares" | "views" => Some(ev.count(field, i) as f64),
        "awarded_points" => Some(awarded as f64),
        "date" => Some(ev.day[i] as f64),
        _ => None,
    }
}

/// A field of event `i` as a distinct-able key — None when NULL.
pub fn field_key(ev: &Events, i: usize, awarded: i64, field: &str) -> Option<String> {
    let e = ev.get(i);
    match field {
        "event_id" => Some(e.id.to_string()),
        "action" => Some(e.action.to_string()),
        "topic" => e.topic.map(str::to_string),
        "task_type" => e.task_type.map(str::to_string),
        "content_id" => e.content_id.map(str::to_string),
        "channel" => e.channel.map(str::to_string),
        "date" => Some(e.day.to_string()),
        "occurred_at" => Some(e.ts.to_string()),
        other => field_num(ev, i, awarded, other).map(|x| x.to_string()),
    }
}

fn codeable(field: &str) -> bool {
    matches!(
        field,
        "action"
            | "topic"
            | "task_type"
            | "channel"
            | "date"
            | "occurred_at"
            | "likes"
            | "comments"
            | "shares"
            | "views"
            | "awarded_points"
    )
}

/// A field of event `i` as a number that is equal exactly when the keys are equal
/// (dictionary codes, days, timestamps, counts); None for NULL or a text field
/// without a dictionary (event_id, content_id), which falls back to `field_key`.
fn field_code(ev: &Events, i: usize, awarded: i64, field: &str) -> Option<Option<i64>> {
    if let Some(c) = ev.code_of(field, i) {
        return Some((c != crate::model::Dict::NULL).then_some(c as i64));
    }
    match field {
        "date" => Some(Some(ev.day[i] as i64)),
        "occurred_at" => Some(Some(ev.ts[i])),
        "likes" | "comments" | "shares" | "views" => Some(Some(ev.count(field, i))),
        "awarded_points" => Some(Some(awarded)),
        _ => None,
    }
}

pub fn compile(prog: &Program, ds: &Dataset, awarded: &[i64]) -> Result<Vec<Metric>> {
    let p = &prog.pipeline;
    let conditions: Vec<_> = (0..p.metrics.len())
        .map(|i| prog.conditions.get(&Place::Metric(i)))
        .collect();
    let frame = if conditions.iter().any(Option::is_some) {
        Some(ds.event_frame(&expr::names_in(conditions.iter().flatten().copied()), Some(awarded))?)
    } else {
        None
    };
    let mut masks = match &frame {
        Some(df) => expr::eval_masks(&conditions, df)?,
        None => vec![None; p.metrics.len()],
    }
    .into_iter();
    let mut out = Vec::new();
    for (name, m) in &p.metrics {
        let (agg, field) = agg_of(m);
        let mask = masks.next().flatten();
        out.push(Metric {
            name: name.clone(),
            agg,
            field,
            window: m.window_days,
            mask,
        });
    }
    Ok(out)
}

fn agg_of(m: &MetricCfg) -> (Agg, String) {
    if let Some(f) = &m.sum {
        (Agg::Sum, f.clone())
    } else if let Some(f) = &m.mean {
        (Agg::Mean, f.clone())
    } else if let Some(f) = &m.distinct {
        (Agg::Distinct, f.clone())
    } else {
        (Agg::Count, String::new())
    }
}

/// The member's events with date in the window at `s` ((s − N, s], or all up to s).
pub fn window_range(ds: &Dataset, member: usize, s: Day, window: Option<i64>) -> std::ops::Range<usize> {
    let r = ds.member_events[member].clone();
    let days = &ds.events.day[r.clone()];
    let hi = days.partition_point(|d| *d <= s);
    let lo = match window {
        Some(n) => days.partition_point(|d| (*d as i64) <= s as i64 - n),
        None => 0,
    };
    (r.start + lo)..(r.start + hi.max(lo))
}

/// The value of one metric for one member at snapshot `s` (empty windows give 0).
pub fn value(ds: &Dataset, awarded: &[i64], m: &Metric, member: usize, s: Day) -> f64 {
    let range = window_range(ds, member, s, m.window);
    let accepted = range.filter(|i| m.mask.as_ref().is_none_or(|mask| mask[*i]));
    match m.agg {
        Agg::Count => accepted.count() as f64,
        Agg::Sum => accepted
            .filter_map(|i| field_num(&ds.events, i, awarded[i], &m.field))
            .sum(),
        Agg::Mean => {
            let (mut n, mut total) = (0usize, 0.0);
            for x in accepted.filter_map(|i| field_num(&ds.events, i, awarded[i], &m.field)) {
                n += 1;
                total += x;
            }
            if n == 0 {
                0.0
            } else {
                total / n as f64
            }
        }
        Agg::Distinct => {
            let ev = &ds.events;
            if codeable(&m.field) {
                // numbers and dictionary codes: no string per event
                let mut seen: Vec<i64> = accepted
                    .filter_map(|i| field_code(ev, i, awarded[i], &m.field).flatten())
                    .collect();
                seen.sort_unstable();
                seen.dedup();
                seen.len() as f64
            } else {
                let set: HashSet<String> = accepted
                    .filter_map(|i| field_key(ev, i, awarded[i], &m.field))
                    .collect();
                set.len() as f64
            }
        }
    }
}

/// Last event date on or before `s`, if any.
pub fn last_active(ds: &Dataset, member: usize, s: Day) -> Option<Day> {
    let range = window_range(ds, member, s, None);
    range.last().map(|i| ds.events.day[i])
}
