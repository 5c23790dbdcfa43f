//! Validation beyond serde (SPEC §3): every expression parses and names only what
//! it can see, every referenced id exists. All problems are collected and reported
//! together, as `koc validate` lists them.
use crate::error::{usage_err, KocError};
use crate::pipeline::config::{Loaded, Pipeline};
use crate::pipeline::expr;
use crate::pipeline::program::{Conditions, Place, Program};
use anyhow::Result;
use chrono_tz::Tz;
use parts::{check_measure, span_in_order, specialty_field, MeasureAt};

mod messaging;
mod parts;

pub const EVENT_COLUMNS: [&str; 13] = [
    "event_id",
    "member_id",
    "occurred_at",
    "action",
    "topic",
    "task_type",
    "content_id",
    "channel",
    "likes",
    "comments",
    "shares",
    "views",
    "date",
];
/// Event fields `sum` and `mean` can add up.
pub const NUMERIC_FIELDS: [&str; 5] = ["likes", "comments", "shares", "views", "awarded_points"];
pub const BUILTINS: [&str; 4] = ["tenure_days", "days_since_active", "balance", "tier_rank"];

pub fn timezone(loaded: &Loaded) -> Result<Tz> {
    let tz = &loaded.pipeline.program.timezone;
    tz.parse::<Tz>().map_err(|_| {
        usage_err(format!(
            "{}: program.timezone '{tz}' is not an IANA time zone\n  fix: use a name like Asia/Shanghai",
            loaded.at("program.timezone")
        ))
    })
}

/// Names an expression may use, by its place in the pipeline.
pub struct Names {
    pub rule_where: Vec<String>,
    pub metric_where: Vec<String>,
    pub goal_where: Vec<String>,
    pub when: Vec<String>,
    pub candidates: Vec<String>,
}

pub fn names(p: &Pipeline) -> Names {
    let event: Vec<String> = EVENT_COLUMNS.iter().map(|s| s.to_string()).collect();
    let mut metric_where = event.clone();
    metric_where.push("awarded_points".into());
    let mut goal_where = metric_where.clone();
    goal_where.push("layer".into());
    let mut when: Vec<String> = p.metrics.keys().cloned().collect();
    when.extend(BUILTINS.iter().map(|s| s.to_string()));
    if let Some(l) = &p.layers {
        when.extend(l.levels.iter().map(|lv| format!("ever_{}", lv.id)));
    }
    let mut candidates = when.clone();
    candidates.push("layer".into());
    Names {
        rule_where: event,
        metric_where,
        goal_where,
        when,
        candidates,
    }
}

/// Check the whole pipeline and make it the typed program the stages run; all
/// problems in one error.
pub fn check(loaded: Loaded) -> Result<Program> {
    let conditions = std::cell::RefCell::new(Conditions::default());
    validate(&loaded, &conditions)?;
    let tz = timezone(&loaded)?;
    crate::pipeline::program::build(loaded, tz, conditions.into_inner())
}

fn validate(loaded: &Loaded, conditions: &std::cell::RefCell<Conditions>) -> Result<()> {
    let mut problems: Vec<String> = Vec::new();
    let mut note = |r: Result<()>| {
        if let Err(e) = r {
            problems.push(format!("{e:#}"));
        }
    };
    let p = &loaded.pipeline;
    note(timezone(loaded).map(|_| ()));
    note(crate::pipeline::config::date_key(loaded, "program.start", "program.start", &p.program.start).map(|_| ()));
    let n = names(p);
    // each condition is parsed here, once, and kept for the stages
    // `at`: the expression's path in the file, where its own columns count from
    let exp = |text: &str, allowed: &[String], what: &str, place: Place, at: &str| -> Result<()> {
        let e = expr::parse(text, allowed, what, &loaded.at(at))?;
        conditions.borrow_mut().insert(place, e);
        Ok(())
    };
    let known_actions: Option<Vec<String>> = p
        .sources
        .activity
        .as_ref()
        .and_then(|a| a.values.get("action"))
        .map(|m| m.values().cloned().collect());
    for s in crate::table::ALL {
        if let Some(cfg) = p.sources.of(s.name) {
            for canonical in cfg.columns.keys().chain(cfg.values.keys()) {
                if !s.cols.iter().any(|c| c.name == canonical) {
                    let hint = crate::pipeline::config::suggest(canonical, s.cols.iter().map(|c| c.name))
                        .map(|h| format!("did you mean '{h}'?"))
                        .unwrap_or_else(|| {
                            format!(
                                "known: {}",
                                s.cols.iter().map(|c| c.name).collect::<Vec<_>>().join(", ")
                            )
                        });
                    note(Err(KocError::usage(format!(
                        "{}: sources.{}: '{canonical}' is not a column of this source",
                        loaded.at_key(&format!(
                            "sources.{}.{}.{canonical}",
                            s.name,
                            if cfg.columns.contains_key(canonical) {
                                "columns"
                            } else {
                                "values"
                            }
                        )),
                        s.name
                    ))
                    .with_hint(hint)
                    .into()));
                }
            }
            for c in s.cols.iter().filter(|c| c.required) {
                if !cfg.columns.contains_key(c.name) {
                    note(Err(usage_err(format!(
                        "{}: sources.{}.columns does not map the required column '{}'",
                        loaded.at_key(&format!("sources.{}.columns", s.name)),
                        s.name,
                        c.name
                    ))));
                }
            }
        }
    }
    if let Some(points) = &p.points {
        for (i, r) in points.rules.iter().enumerate() {
            let what = format!("points.rules[id={}]", r.id);
            if let Some(acts) = &known_actions {
                if !acts.contains(&r.action) {
                    note(Err(usage_err(format!(
                        "{}: {what}: unknown action '{}'\n  fix: use one of the mapped actions: {}",
                        loaded.at(&format!("points.rules[{i}].action")),
                        r.action,
                        acts.join(", ")
                    ))));
                }
            }
            if r.points.is_none() && r.per.is_none() {
                note(Err(usage_err(format!(
                    "{}: {what}: give 'points' or 'per'",
                    loaded.at(&format!("points.rules[{i}].id"))
                ))));
            }
            if let Some(per) = &r.per {
                if per.every <= 0 {
                    note(Err(usage_err(format!(
                        "{}: {what}: per.every must be > 0",
                        loaded.at(&format!("points.rules[{i}].per.every"))
                    ))));
                }
                if !["likes", "comments", "shares", "views"].contains(&per.field.as_str()) {
                    note(Err(usage_err(format!(
                        "{}: {what}: per.field '{}' is not a count column (likes, comments, shares, views)",
                        loaded.at(&format!("points.rules[{i}].per.field")),
                        per.field
                    ))));
                }
            }
            for v in [r.points, r.max_per_event, r.max_times, r.daily_cap]
                .into_iter()
                .flatten()
            {
                if v < 0 {
                    note(Err(usage_err(format!(
                        "{}: {what}: numbers must be ≥ 0",
                        loaded.at(&format!("points.rules[{i}].id"))
                    ))));
                }
            }
            if let Some(w) = &r.where_ {
                note(exp(
                    w,
                    &n.rule_where,
                    &format!("{what}.where"),
                    Place::Rule(i),
                    &format!("points.rules[{i}].where"),
                ));
            }
        }
    }
    let layer_ids: Vec<String> = p
        .layers
        .as_ref()
        .map(|l| l.levels.iter().map(|x| x.id.clone()).collect())
        .unwrap_or_default();
    let mut layer_problems = Vec::new();
    // `at`: the path of the reference in the file
    let layer_ref = |id: &str, what: &str, at: String, out: &mut Vec<String>| {
        if !layer_ids.iter().any(|l| l == id) {
            out.push(format!(
                "{}: {what}: layer '{id}' is not defined in layers.levels (defined: {})",
                loaded.at(&at),
                layer_ids.join(", ")
            ));
        }
    };
    if let Some(t) = &p.tiers {
        if t.levels.is_empty() || t.levels[0].min != 0 {
            note(Err(usage_err(format!(
                "{}: tiers.levels: the lowest level must have min 0",
                loaded.at("tiers.levels[0].min")
            ))));
        }
        if t.levels.windows(2).any(|w| w[1].min <= w[0].min) {
            note(Err(usage_err(format!(
                "{}: tiers.levels must be listed from the lowest, with increasing min",
                loaded.at_key("tiers.levels")
            ))));
        }
    }
    for (mi, (name, m)) in p.metrics.iter().enumerate() {
        let forms = [
            m.count.is_some(),
            m.sum.is_some(),
            m.mean.is_some(),
            m.distinct.is_some(),
        ];
        if forms.iter().filter(|b| **b).count() != 1 {
            note(Err(usage_err(format!(
                "{}: metrics.{name}: give exactly one of count, sum, mean, distinct",
                loaded.at_key(&format!("metrics.{name}"))
            ))));
        }
        if let Some(c) = &m.count {
            if c != "events" {
                note(Err(usage_err(format!(
                    "{}: metrics.{name}: count must be 'events'",
                    loaded.at(&format!("metrics.{name}.count"))
                ))));
            }
        }
        for (key, f) in [("sum", &m.sum), ("mean", &m.mean)] {
            let Some(f) = f else { continue };
            if !NUMERIC_FIELDS.contains(&f.as_str()) {
                note(Err(usage_err(format!(
                    "{}: metrics.{name}: '{f}' is not a number field\n  fix: sum and mean take one of {}",
                    loaded.at(&format!("metrics.{name}.{key}")),
                    NUMERIC_FIELDS.join(", ")
                ))));
            }
        }
        for f in m.distinct.iter() {
            if !n.metric_where.contains(f) {
                note(Err(usage_err(format!(
                    "{}: metrics.{name}: unknown field '{f}'",
                    loaded.at(&format!("metrics.{name}.distinct"))
                ))));
            }
        }
        if let Some(w) = &m.where_ {
            note(exp(
                w,
                &n.metric_where,
                &format!("metrics.{name}.where"),
                Place::Metric(mi),
                &format!("metrics.{name}.where"),
            ));
        }
    }
    if let Some(l) = &p.layers {
        let defaults = l.levels.iter().filter(|x| x.default).count();
        if defaults != 1 {
            note(Err(usage_err(format!(
                "{}: layers.levels needs exactly one level with default: true",
                loaded.at_key("layers.levels")
            ))));
        }
        for (li, lv) in l.levels.iter().enumerate() {
            if let Some(w) = &lv.when {
                note(exp(
                    w,
                    &n.when,
                    &format!("layers.levels[id={}].when", lv.id),
                    Place::Level(li),
                    &format!("layers.levels[{li}].when"),
                ));
            }
        }
    } else {
        note(Err(usage_err(format!(
            "{}: the pipeline has no layers section",
            loaded.path.display()
        ))));
    }
    if let Some(s) = &p.scouting {
        note(exp(
            &s.candidates,
            &n.candidates,
            "scouting.candidates",
            Place::Candidates,
            "scouting.candidates",
        ));
        for (fi, f) in s.features.iter().enumerate() {
            if !n.when.contains(&f.metric) || f.metric.starts_with("ever_") {
                note(Err(usage_err(format!(
                    "{}: scouting.features: '{}' is not a metric or a numeric built-in",
                    loaded.at(&format!("scouting.features[{fi}].metric")),
                    f.metric
                ))));
            }
        }
    }
    for (ci, c) in p.contests.iter().enumerate() {
        note(span_in_order(
            loaded,
            &format!("contests[id={}].window", c.id),
            &format!("contests[{ci}].window"),
            &c.window,
        ));
        for (k, l) in c.eligible_layers.iter().flatten().enumerate() {
            layer_ref(
                l,
                &format!("contests[id={}].eligible_layers", c.id),
                format!("contests[{ci}].eligible_layers[{k}]"),
                &mut layer_problems,
            );
        }
        for (ri, r) in c.rubric.iter().enumerate() {
            match (&r.scale, &r.from_data) {
                (Some(_), None) => {}
                (None, Some(f)) => note(exp(
                    f,
                    &n.metric_where,
                    &format!("contests[id={}].rubric[{}].from_data", c.id, r.criterion),
                    Place::FromData(ci, ri),
                    &format!("contests[{ci}].rubric[{ri}].from_data"),
                )),
                _ => note(Err(usage_err(format!(
                    "{}: contests[id={}].rubric: criterion '{}' needs exactly one of scale or from_data",
                    loaded.at(&format!("contests[{ci}].rubric[{ri}].criterion")),
                    c.id,
                    r.criterion
                )))),
            }
        }
        for (k, t) in c.tie_break.iter().enumerate() {
            if !c.rubric.iter().any(|r| &r.criterion == t) {
                note(Err(usage_err(format!(
                    "{}: contests[id={}].tie_break: '{t}' is not a criterion of the rubric",
                    loaded.at(&format!("contests[{ci}].tie_break[{k}]")),
                    c.id
                ))));
            }
        }
    }
    for (gi, g) in p.goals.iter().enumerate() {
        let measure = MeasureAt {
            goal: gi,
            path: String::new(),
            what: format!("goals[id={}].measure", g.id),
        };
        note(check_measure(loaded, &g.measure, &n, measure, conditions));
        note(span_in_order(
            loaded,
            &format!("goals[id={}].period", g.id),
            &format!("goals[{gi}].period"),
            &g.period,
        ));
        if let Some(crate::pipeline::config::BaselineCfg::Span(s)) = &g.baseline {
            note(span_in_order(
                loaded,
                &format!("goals[id={}].baseline", g.id),
                &format!("goals[{gi}].baseline"),
                s,
            ));
        }
        let t = &g.target;
        if [t.value.is_some(), t.multiply.is_some(), t.add.is_some()]
            .iter()
            .filter(|b| **b)
            .count()
            != 1
        {
            note(Err(usage_err(format!(
                "{}: goals[id={}].target: give exactly one of value, multiply, add",
                loaded.at(&format!("goals[{gi}].target")),
                g.id
            ))));
        }
    }
    if let Some(c) = &p.care {
        for (k, l) in c.layers.iter().flatten().enumerate() {
            layer_ref(l, "care.layers", format!("care.layers[{k}]"), &mut layer_problems);
        }
    }
    if let Some(g) = &p.growth {
        if let Some(sp) = &g.specialty {
            note(specialty_field(loaded, "growth.specialty", &sp.field));
        }
        if let Some(m) = &g.mentoring {
            for (k, l) in m.mentor_layers.iter().enumerate() {
                layer_ref(
                    l,
                    "growth.mentoring.mentor_layers",
                    format!("growth.mentoring.mentor_layers[{k}]"),
                    &mut layer_problems,
                );
            }
        }
        for (pi, pr) in g.projects.iter().flatten().enumerate() {
            let what = format!("growth.projects[id={}]", pr.id);
            for (k, l) in pr.from_layers.iter().flatten().enumerate() {
                layer_ref(
                    l,
                    &format!("{what}.from_layers"),
                    format!("growth.projects[{pi}].from_layers[{k}]"),
                    &mut layer_problems,
                );
            }
            if let Some(r) = &pr.rank_by {
                let known: Vec<&str> = n
                    .when
                    .iter()
                    .map(String::as_str)
                    .filter(|m| !m.starts_with("ever_"))
                    .collect();
                if !known.contains(&r.as_str()) {
                    let hint = crate::pipeline::config::suggest(r, known.iter().copied())
                        .map(|h| format!("did you mean '{h}'?"))
                        .unwrap_or_else(|| format!("use a metric or a built-in: {}", known.join(", ")));
                    note(Err(KocError::usage(format!(
                        "{}: {what}.rank_by: '{r}' is not a metric or a numeric built-in",
                        loaded.at(&format!("growth.projects[{pi}].rank_by"))
                    ))
                    .with_hint(hint)
                    .into()));
                }
            }
        }
    }
    problems.extend(layer_problems);
    problems.extend(messaging::check(loaded, &n, known_actions.as_deref(), conditions));
    problems.extend(crate::pipeline::limits::check(loaded));
    let known = crate::pipeline::lint::Known {
        actions: known_actions.as_deref(),
        layers: &layer_ids,
        metrics: &n.when,
    };
    for e in conditions.borrow().in_file_order() {
        problems.extend(crate::pipeline::lint::expression(e, &known));
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(usage_err(problems.join("\n")))
    }
}
