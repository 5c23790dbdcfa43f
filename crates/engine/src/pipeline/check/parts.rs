//! Checks of one part of the pipeline that `validate` calls: a goal's measure, a date
//! span, a specialty's field.
use super::{Names, EVENT_COLUMNS, NUMERIC_FIELDS};
use crate::error::{usage_err, KocError};
use crate::pipeline::config::{Loaded, MeasureCfg};
use crate::pipeline::expr;
use crate::pipeline::program::{ratio_side, Conditions, Place};
use anyhow::Result;

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
