//! Checks of one part of the pipeline that `validate` calls: a goal's measure, a date
//! span, a specialty's field, and the list of every expression with its place.
use super::{Names, EVENT_COLUMNS, NUMERIC_FIELDS};
use crate::error::{usage_err, KocError};
use crate::pipeline::config::{Loaded, MeasureCfg, Pipeline};
use crate::pipeline::expr;
use crate::pipeline::program::{ratio_side, Conditions, Place};
use anyhow::Result;

/// An expression of the pipeline: its text, its rule path for messages and its path
/// in the file.
pub struct Expression<'a> {
    pub text: &'a str,
    /// `points.rules[id=featured].where`
    pub what: String,
    /// `points.rules[3].where`
    pub at: String,
}

/// Every expression of the pipeline with its place.
pub fn expressions(p: &Pipeline) -> Vec<Expression<'_>> {
    let mut out: Vec<Expression> = Vec::new();
    fn ex(text: &str, what: String, at: String) -> Expression<'_> {
        Expression { text, what, at }
    }
    for (i, r) in p.points.iter().flat_map(|x| &x.rules).enumerate() {
        if let Some(w) = &r.where_ {
            out.push(ex(
                w,
                format!("points.rules[id={}].where", r.id),
                format!("points.rules[{i}].where"),
            ));
        }
    }
    for (name, m) in &p.metrics {
        if let Some(w) = &m.where_ {
            out.push(ex(w, format!("metrics.{name}.where"), format!("metrics.{name}.where")));
        }
    }
    for (i, lv) in p.layers.iter().flat_map(|l| &l.levels).enumerate() {
        if let Some(w) = &lv.when {
            out.push(ex(
                w,
                format!("layers.levels[id={}].when", lv.id),
                format!("layers.levels[{i}].when"),
            ));
        }
    }
    if let Some(s) = &p.scouting {
        out.push(ex(
            &s.candidates,
            "scouting.candidates".into(),
            "scouting.candidates".into(),
        ));
    }
    for (ci, c) in p.contests.iter().enumerate() {
        for (ri, r) in c.rubric.iter().enumerate() {
            if let Some(f) = &r.from_data {
                out.push(ex(
                    f,
                    format!("contests[id={}].rubric[{}].from_data", c.id, r.criterion),
                    format!("contests[{ci}].rubric[{ri}].from_data"),
                ));
            }
        }
    }
    fn measure<'a>(m: &'a MeasureCfg, what: String, at: String, out: &mut Vec<Expression<'a>>) {
        if let Some(r) = &m.ratio {
            measure(
                &r.numerator,
                ratio_side(&what, "numerator"),
                ratio_side(&at, "numerator"),
                out,
            );
            measure(
                &r.denominator,
                ratio_side(&what, "denominator"),
                ratio_side(&at, "denominator"),
                out,
            );
        }
        if let Some(w) = &m.where_ {
            out.push(Expression {
                text: w,
                what: format!("{what}.where"),
                at: format!("{at}.where"),
            });
        }
    }
    for (gi, g) in p.goals.iter().enumerate() {
        measure(
            &g.measure,
            format!("goals[id={}].measure", g.id),
            format!("goals[{gi}].measure"),
            &mut out,
        );
    }
    for (i, b) in p.badges.iter().flatten().enumerate() {
        if let Some(w) = &b.where_ {
            out.push(Expression {
                text: w,
                what: format!("badges[id={}].where", b.id),
                at: format!("badges[{i}].where"),
            });
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
        loaded.at(&format!("{what}.field"))
    ))
    .with_hint(format!("use one of {}", EVENT_COLUMNS.join(", ")))
    .into())
}

/// A `{from, to}` span: two dates, the first not after the second.
/// `what` names the span in messages; `at` is its path in the file.
pub(super) fn span_in_order(
    loaded: &Loaded,
    what: &str,
    at: &str,
    span: &crate::pipeline::config::SpanCfg,
) -> Result<()> {
    let from = crate::pipeline::config::date_key(loaded, &format!("{what}.from"), &format!("{at}.from"), &span.from)?;
    let to = crate::pipeline::config::date_key(loaded, &format!("{what}.to"), &format!("{at}.to"), &span.to)?;
    if from > to {
        return Err(usage_err(format!(
            "{}: {what}: from {} is after to {}",
            loaded.at(&format!("{at}.from")),
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
    // the measure's path in the file
    let yaml = |key: &str| format!("goals[{}].measure{}.{key}", at.goal, at.path);
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
                loaded.at(&yaml("count"))
            )));
        }
    }
    for f in [&m.sum, &m.mean].into_iter().flatten() {
        if !NUMERIC_FIELDS.contains(&f.as_str()) {
            return Err(usage_err(format!(
                "{}: {what}: '{f}' is not a number field\n  fix: sum and mean take one of {}",
                loaded.at(&yaml(if m.sum.as_ref() == Some(f) { "sum" } else { "mean" })),
                NUMERIC_FIELDS.join(", ")
            )));
        }
    }
    if let Some(w) = &m.where_ {
        let e = expr::parse(w, &n.goal_where, &format!("{what}.where"), &loaded.at(&yaml("where")))?;
        conditions.borrow_mut().insert(Place::Measure(at.goal, at.path), e);
    }
    Ok(())
}
