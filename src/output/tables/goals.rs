//! `goals.csv`, `goal_trend.csv` and `incentives.csv` (SPEC §10).
use crate::output::{count, date, opt_num, opt_ratio, p, ratio, t, Table};
use koc_engine::stages::goals::{GoalResult, Incentive};

pub fn goals_table(goals: &[GoalResult]) -> Table {
    let mut tb = Table::new(
        "goals",
        &[
            "goal_id",
            "name",
            "period_from",
            "period_to",
            "baseline",
            "target",
            "actual",
            "projection",
            "elapsed",
            "status",
            "incentives",
        ],
    );
    for g in goals {
        // a ratio goal's values are shares, as the report shows them
        let value = |x: Option<f64>| if g.is_ratio { opt_ratio(x) } else { opt_num(x) };
        tb.push(vec![
            t(&g.id),
            t(&g.name),
            date(g.from),
            date(g.to),
            value(g.baseline),
            value(g.target),
            value(g.actual),
            value(g.projection),
            ratio(g.elapsed),
            p(g.status.as_str()),
            t(g.incentives.join("; ")),
        ]);
    }
    tb
}

pub fn trend_table(goals: &[GoalResult]) -> Table {
    let mut tb = Table::new("goal_trend", &["goal_id", "week_from", "week_to", "value"]);
    for g in goals {
        let value = |x: Option<f64>| if g.is_ratio { opt_ratio(x) } else { opt_num(x) };
        for (a, b, v) in &g.trend {
            tb.push(vec![t(&g.id), date(*a), date(*b), value(*v)]);
        }
    }
    tb
}

pub fn incentives_table(list: &[Incentive]) -> Table {
    let mut tb = Table::new(
        "incentives",
        &[
            "incentive",
            "goals",
            "responses",
            "mean_rating",
            "share_4plus",
            "comments",
            "recommendation",
        ],
    );
    for i in list {
        tb.push(vec![
            t(&i.name),
            t(i.goals.join("; ")),
            count(i.responses),
            opt_num(i.mean_rating),
            opt_ratio(i.share_4plus),
            t(&i.comments),
            p(i.recommendation),
        ]);
    }
    tb
}
