//! Metrics (SPEC §7): windowed count/sum/mean/distinct per member at a snapshot,
//! plus the built-ins, as one DataFrame that `when`/`candidates` conditions run on.
use crate::fmt::Day;
use crate::model::{Dataset, Events};
use crate::pipeline::expr;
use crate::pipeline::program::{Place, Program};
use crate::table::Field;
use anyhow::Result;
use std::collections::HashSet;

pub use crate::pipeline::program::Aggregate as Agg;

pub struct Metric {
    pub name: String,
    pub agg: Agg,
    pub window: Option<i64>,
    /// Which events the metric's `where` accepts (None: all).
    pub mask: Option<Vec<bool>>,
}

/// A field of event `i` as a number (sum/mean) — NULL when the field is empty.
pub fn field_num(ev: &Events, i: usize, awarded: i64, field: Field) -> Option<f64> {
    match field {
        Field::Likes | Field::Comments | Field::Shares | Field::Views => Some(ev.count(field, i) as f64),
        Field::AwardedPoints => Some(awarded as f64),
        Field::Date => Some(ev.day[i] as f64),
        _ => None,
    }
}

/// A field of event `i` as a distinct-able key — None when NULL.
pub fn field_key(ev: &Events, i: usize, awarded: i64, field: Field) -> Option<String> {
    let e = ev.get(i);
    match field {
        Field::EventId => Some(e.id.to_string()),
        Field::Action => Some(e.action.to_string()),
        Field::Topic => e.topic.map(str::to_string),
        Field::TaskType => e.task_type.map(str::to_string),
        Field::ContentId => e.content_id.map(str::to_string),
        Field::Channel => e.channel.map(str::to_string),
        Field::Date => Some(e.day.to_string()),
        Field::OccurredAt => Some(e.ts.to_string()),
        // the member's index stands for its id (one index per id)
        Field::MemberId => Some(e.member.to_string()),
        Field::Likes | Field::Comments | Field::Shares | Field::Views | Field::AwardedPoints => {
            field_num(ev, i, awarded, field).map(|x| x.to_string())
        }
    }
}

/// Fields `field_code` gives a number for (no string per event).
fn codeable(field: Field) -> bool {
    !matches!(field, Field::EventId | Field::ContentId | Field::MemberId)
}

/// A field of event `i` as a number that is equal exactly when the keys are equal
/// (dictionary codes, days, timestamps, counts); None for NULL or a text field
/// without a dictionary (event_id, content_id), which falls back to `field_key`.
fn field_code(ev: &Events, i: usize, awarded: i64, field: Field) -> Option<Option<i64>> {
    if let Some(c) = ev.code_of(field, i) {
        return Some((c != crate::model::Dict::NULL).then_some(c as i64));
    }
    match field {
        Field::Date => Some(Some(ev.day[i] as i64)),
        Field::OccurredAt => Some(Some(ev.ts[i])),
        Field::Likes | Field::Comments | Field::Shares | Field::Views => Some(Some(ev.count(field, i))),
        Field::AwardedPoints => Some(Some(awarded)),
        _ => None,
    }
}

pub fn compile(prog: &Program, ds: &Dataset, awarded: &[i64]) -> Result<Vec<Metric>> {
    let conditions: Vec<_> = (0..prog.metrics.len())
        .map(|i| prog.conditions.get(&Place::Metric(i)))
        .collect();
    let frame = if conditions.iter().any(Option::is_some) {
        Some(ds.event_frame(&expr::names_in(conditions.iter().flatten().copied()), Some(awarded))?)
    } else {
        None
    };
    let mut masks = match &frame {
        Some(df) => expr::eval_masks(&conditions, df)?,
        None => vec![None; prog.metrics.len()],
    }
    .into_iter();
    let mut out = Vec::new();
    for m in &prog.metrics {
        let mask = masks.next().flatten();
        out.push(Metric {
            name: m.name.clone(),
            agg: m.aggregate,
            window: m.window_days,
            mask,
        });
    }
    Ok(out)
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
        Agg::Sum(field) => accepted
            .filter_map(|i| field_num(&ds.events, i, awarded[i], field))
            .sum(),
        Agg::Mean(field) => {
            let (mut n, mut total) = (0usize, 0.0);
            for x in accepted.filter_map(|i| field_num(&ds.events, i, awarded[i], field)) {
                n += 1;
                total += x;
            }
            if n == 0 {
                0.0
            } else {
                total / n as f64
            }
        }
        Agg::Distinct(field) => {
            let ev = &ds.events;
            if codeable(field) {
                // numbers and dictionary codes: no string per event
                let mut seen: Vec<i64> = accepted
                    .filter_map(|i| field_code(ev, i, awarded[i], field).flatten())
                    .collect();
                seen.sort_unstable();
                seen.dedup();
                seen.len() as f64
            } else {
                let set: HashSet<String> = accepted.filter_map(|i| field_key(ev, i, awarded[i], field)).collect();
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
