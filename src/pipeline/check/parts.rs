//! Checks of one part of the pipeline that `validate` calls: a goal's measure, a date
//! span, a specialty's field, and the list of every expression with its place.
use super::{Names, EVENT_COLUMNS, NUMERIC_FIELDS};
use crate::error::{usage_err, KocError};
use crate::pipeline::config::{Loaded, MeasureCfg, Pipeline};
use crate::pipeline::expr;
use crate::pipeline::program::{ratio_side, Conditions, Place};
use anyhow::Result;

/// Every expression of the pipeline with its place (rule path).
pub fn expressions(p: &Pipeline) -> Vec<(&str, String)> {
    let mut out: Vec<(&str, String)> = Vec::new();
    for r in p.points.iter().flat_map(|x| &x.rules) {
        if let Some(w) = &r.where_ {
            out.push((w, format!("points.rules[id={}].where", r.id)));
        }
    }
    for (name, m) in &p.metrics {
        if let Some(w) = &m.where_ {
            out.push((w, format!("metrics.{name}.where")));
        }
    }
    for lv in p.layers.iter().flat_map(|l| &l.levels) {
        if let Some(w) = &lv.when {
            out.push((w, format!("layers.levels[id={}].when", lv.id)));
        }
    }
    if let Some(s) = &p.scouting {
        out.push((&s.candidates, "scouting.candidates".into()));
    }
    for c in &p.contests {
        for r in &c.rubric {
            if let Some(f) = &r.from_data {
                out.push((f, format!("contests[id={}].rubric[{}].from_data", c.id, r.criterion)));
            }
        }
    }
    fn measure<'a>(m: &'a MeasureCfg, what: String, out: &mut Vec<(&'a str, String)>) {
        if let Some(r) = &m.ratio {
            measure(&r.numerator, ratio_side(&what, "numerator"), out);
            measure(&r.denominator, ratio_side(&what, "denominator"), out);
        }
        if let Some(w) = &m.where_ {
            out.push((w, format!("{what}.where")));
        }
    }
    for g in &p.goals {
        measure(&g.measure, format!("goals[id={}].measure", g.id), &mut out);
    }
    for b in p.badges.iter().flatten() {
        if let Some(w) = &b.where_ {
            out.push((w, format!("badges[id={}].where", b.id)));
        }
    }
    out
}

/// A specialty's `field` must be an event column (SPEC §8).
pub(super) fn specialty_field(loaded: &Loaded, what: &str, field: &str) -> Result<()> {
    if EVENT_COLUMNS.contains(&field) {
        return Ok(());
    }
    Err(KocError::usage(format!(
        "{}: {what}.field: '{field}' is not an event column",
        loaded.locate(&format!("field: {field}"))
    ))
    .with_hint(format!("use one of {}", EVENT_COLUMNS.join(", ")))
    .into())
}

/// A `{from, to}` span: two dates, the first not after the second.
pub(super) fn span_in_order(loaded: &Loaded, what: &str, span: &crate::pipeline::config::SpanCfg) -> Result<()> {
    let from = crate::pipeline::config::date_key(loaded, &format!("{what}.from"), &span.from)?;
    let to = crate::pipeline::config::date_key(loaded, &format!("{what}.to"), &span.to)?;
    if from > to {
        return Err(usage_err(format!(
            "{}: {what}: from {} is after to {}",
            loaded.locate(&span.from),
            span.from,
            span.to
        )));
    }
    Ok(())
}

/// Where a goal's measure (or one side of its ratio) stands.
pub(super) struct MeasureAt {
    pub(super) goal: usize,
    /// inside the measure: "" or ".ratio.numerator"…
    pub(super) path: String,
    /// the whole rule path, for messages
    pub(super) what: String,
}

impl MeasureAt {
    fn side(&self, side: &str) -> MeasureAt {
        MeasureAt {
            goal: self.goal,
            path: ratio_side(&self.path, side),
            what: ratio_side(&self.what, side),
        }
    }
}

pub(super) fn check_measure(
    loaded: &Loaded,
    m: &MeasureCfg,
    n: &Names,
    at: MeasureAt,
    conditions: &std::cell::RefCell<Conditions>,
) -> Result<()> {
    if let Some(r) = &m.ratio {
        check_measure(loaded, &r.numerator, n, at.side("numerator"), conditions)?;
        return check_measure(loaded, &r.denominator, n, at.side("denominator"), conditions);
    }
    let what = at.what.as_str();
    let forms = [m.count.is_some(), m.sum.is_some(), m.mean.is_some()];
    if forms.iter().filter(|b| **b).count() != 1 {
        return Err(usage_err(format!(
            "{}: {what}: give exactly one of count, sum, mean, ratio",
            loaded.path.display()
        )));
    }
    if let Some(c) = &m.count {
        if c != "events" && c != "members" {
            return Err(usage_err(format!(
                "{}: {what}: count must be events or members",
                loaded.locate(c)
            )));
        }
    }
    for f in [&m.sum, &m.mean].into_iter().flatten() {
        if !NUMERIC_FIELDS.contains(&f.as_str()) {
            return Err(usage_err(format!(
                "{}: {what}: '{f}' is not a number field\n  fix: sum and mean take one of {}",
                loaded.locate(f),
                NUMERIC_FIELDS.join(", ")
            )));
        }
    }
    if let Some(w) = &m.where_ {
        let e = expr::parse(w, &n.goal_where, &format!("{what}.where"), &loaded.locate(w))?;
        conditions.borrow_mut().insert(Place::Measure(at.goal, at.path), e);
    }
    Ok(())
}
