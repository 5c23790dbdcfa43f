//! `koc explain PIPELINE MEMBER` (SPEC §13): everything computed about one member,
//! with the reasons, from the same computation as `koc run`. The JSON object is the
//! contract; the text form renders it for a person in the program's locale.
use crate::output::explain_summary::{Extras, LayerMiss, OverrideNote};
use anyhow::Result;
use koc_engine::compute::Computed;
use koc_engine::error::KocError;
use koc_engine::fmt::{fmt_day, fmt_num, Day};
use koc_engine::model::Dataset;
use koc_engine::pipeline::program::{Place, Program};
use koc_engine::stages::layers::{Engine, Evaluation, Inputs};
use polars::prelude::AnyValue;
use serde_json::{json, Map, Value};

/// The explanation of `member_id` at D, as SPEC §13's JSON object.
pub fn explain(loaded: &Program, ds: &Dataset, c: &Computed, member_id: &str) -> Result<Value> {
    Ok(explain_with_extras(loaded, ds, c, member_id)?.0)
}

/// The JSON object and what its text form needs besides (display names, the override
/// holding the layer, which part of each higher layer's condition is false).
pub fn explain_with_extras(loaded: &Program, ds: &Dataset, c: &Computed, member_id: &str) -> Result<(Value, Extras)> {
    let Some(&i) = ds.index.get(member_id).filter(|i| ds.members[**i].joined <= c.as_of) else {
        return Err(unknown_member(ds, member_id));
    };
    let m = &ds.members[i];
    // one engine (its metric masks cover every event) for the layer and scouting parts
    let days = koc_engine::compute::balance_days(loaded, c.as_of);
    let engine = engine(loaded, ds, c, &days)?;
    // the member's metrics at D, evaluated once for the layer, scouting and the summary
    let at_d = engine.evaluate_members(c.as_of, vec![i])?;
    let candidate = candidate_frame(&at_d, c, i)?;
    let extras = extras(loaded, ds, c, &at_d, &candidate, i)?;
    let v = json!({
        "member_id": m.id,
        "nickname": m.nickname,
        "as_of": fmt_day(c.as_of),
        "known": true,
        "joined": fmt_day(m.joined),
        "points": points(loaded, ds, c, i),
        "tier": tier(loaded, ds, c, i),
        "layer": layer(loaded, ds, c, &engine, &at_d, i)?,
        "scouting": scouting(loaded, c, &candidate, i)?,
        "contests": contests(c, member_id),
        "care": c.care.iter().filter(|o| o.member == i).map(|o| json!({
            "date": fmt_day(o.day), "occasion": o.occasion.as_str(), "detail": o.detail,
        })).collect::<Vec<_>>(),
        "growth": growth(loaded, ds, c, i),
        "badges": badges(loaded, ds, c, i)?,
    });
    Ok((v, extras))
}

/// A part of a condition and the values (by name) it read.
type FalsePart = (String, Vec<(String, Value)>);

/// The first part (at a top-level AND) of a condition that is false on a one-row
/// frame, with the values it read; None when every part holds.
fn first_false_part(
    cond: &koc_engine::pipeline::expr::SqlExpr,
    allowed: &[String],
    frame: &polars::prelude::DataFrame,
) -> Result<Option<FalsePart>> {
    for part in cond.conjuncts(allowed)? {
        let holds = koc_engine::pipeline::expr::eval_bool(&part, frame)?
            .first()
            .copied()
            .unwrap_or(false);
        if !holds {
            let values = koc_engine::pipeline::expr::names_in(std::iter::once(&part))
                .into_iter()
                .map(|n| {
                    let v = cell(frame, &n);
                    (n, v)
                })
                .collect();
            return Ok(Some((part.text.clone(), values)));
        }
    }
    Ok(None)
}

/// What `scouting.candidates` reads for member `i` at D: the metrics and the layer.
fn candidate_frame(e: &Evaluation, c: &Computed, i: usize) -> Result<polars::prelude::DataFrame> {
    let mut frame = e.snapshot.frame.clone();
    let layer = c.layer_at_d[i].map(|l| c.level_ids[l].as_str());
    frame.with_column(koc_engine::pipeline::expr::text_col("layer", vec![layer]))?;
    Ok(frame)
}

/// A value as the text form shows it (text without quotes).
fn shown(v: &Value) -> String {
    v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string())
}

fn extras(
    loaded: &Program,
    ds: &Dataset,
    c: &Computed,
    e: &Evaluation,
    candidate: &polars::prelude::DataFrame,
    i: usize,
) -> Result<Extras> {
    let p = &loaded.file().pipeline;
    let mut names = std::collections::HashMap::new();
    let ids = p
        .tiers
        .iter()
        .flat_map(|t| t.levels.iter().map(|l| l.id.clone()))
        .chain(p.layers.iter().flat_map(|l| l.levels.iter().map(|l| l.id.clone())))
        .chain(p.points.iter().flat_map(|x| x.rules.iter().map(|r| r.id.clone())))
        .chain(p.metrics.keys().cloned())
        .chain(p.report.iter().flat_map(|r| r.names.keys().cloned()));
    for id in ids {
        names.insert(id.clone(), p.display_name(&id));
    }
    let id = &ds.members[i].id;
    let override_at_d = ds
        .overrides
        .iter()
        .filter(|o| &o.member_id == id && o.from <= c.as_of && o.until.is_none_or(|u| c.as_of <= u))
        .max_by_key(|o| o.from)
        .map(|o| OverrideNote {
            reason: o.reason.clone(),
            from: fmt_day(o.from),
            until: o.until.map(fmt_day),
        });
    // the levels listed above the member's layer at D: the first part of each that is false
    let mut layer_misses = Vec::new();
    if let (Some(cfg), Some(taken)) = (&p.layers, c.layer_at_d[i]) {
        let allowed = koc_engine::pipeline::check::names(p).when;
        for (l, lv) in cfg.levels.iter().enumerate().take(taken) {
            let Some(when) = loaded.conditions.get(&Place::Level(l)) else {
                continue;
            };
            if let Some((part, values)) = first_false_part(when, &allowed, &e.snapshot.frame)? {
                layer_misses.push(LayerMiss {
                    layer: p.display_name(&lv.id),
                    part,
                    values: values.iter().map(|(n, v)| (n.clone(), shown(v))).collect(),
                });
            }
        }
    }
    let flag = loaded.scouting.as_ref();
    let candidates = loaded.conditions.get(&Place::Candidates);
    let scouting_miss = match candidates {
        Some(cond) if !c.newcomers.iter().any(|n| n.member == i) => {
            let allowed = koc_engine::pipeline::check::names(p).candidates;
            first_false_part(cond, &allowed, candidate)?.map(|(part, values)| LayerMiss {
                layer: String::new(),
                part,
                values: values.iter().map(|(n, v)| (n.clone(), shown(v))).collect(),
            })
        }
        _ => None,
    };
    Ok(Extras {
        names,
        override_at_d,
        layer_misses,
        scouting_miss,
        flag_top: flag.and_then(|f| f.flag_top),
        // a minimum of 0 holds for every score: no cut-off to name
        flag_min_score: flag.map(|f| f.flag_min_score).filter(|m| *m > 0.0),
    })
}

/// Progress toward every badge in listed order (SPEC §13, §16); null without badges.
fn badges(loaded: &Program, ds: &Dataset, c: &Computed, i: usize) -> Result<Value> {
    if loaded.badges.is_empty() {
        return Ok(Value::Null);
    }
    let progress = koc_engine::stages::badges::progress_of(loaded, ds, &c.points.awarded_per_event, i)?;
    Ok(loaded
        .badges
        .iter()
        .zip(progress)
        .map(|(b, p)| {
            json!({
                "badge_id": b.id, "name": b.name, "grade": b.grade.as_str(),
                "goal": b.goal.target(), "progress": p.value,
                "awarded_on": p.earned_at.map(|e| fmt_day(ds.events.day[e])),
                "event_id": p.earned_at.map(|e| ds.events.id(e)),
            })
        })
        .collect())
}

fn unknown_member(ds: &Dataset, id: &str) -> anyhow::Error {
    let mut near: Vec<(usize, &str)> = ds
        .members
        .iter()
        .map(|m| (koc_engine::pipeline::config::edit_distance(id, &m.id), m.id.as_str()))
        .collect();
    near.sort();
    let near: Vec<&str> = near.iter().take(3).map(|(_, s)| *s).collect();
    KocError::usage(format!("no known member '{id}' as of this date"))
        .with_hint(if near.is_empty() {
            "the store holds no members yet: run `koc ingest` first".to_string()
        } else {
            format!("the nearest known ids: {}", near.join(", "))
        })
        .into()
}

/// A number as SPEC §1 writes it (6 decimals, no trailing zeros), as a JSON number.
fn num(x: f64) -> Value {
    let text = fmt_num(x);
    match text.parse::<i64>() {
        Ok(n) => json!(n),
        Err(_) => text.parse::<f64>().map(|f| json!(f)).unwrap_or(Value::Null),
    }
}

fn points(loaded: &Program, ds: &Dataset, c: &Computed, i: usize) -> Value {
    let rules = loaded.rules.as_ref().map(|x| x.rules.as_slice()).unwrap_or_default();
    let b = &c.points.balances[i];
    let entries: Vec<Value> = c
        .points
        .ledger
        .iter()
        .filter(|e| ds.events.member(e.event as usize) == i)
        .map(|e| {
            let ev = ds.events.get(e.event as usize);
            json!({"date": fmt_day(ev.day), "event_id": ev.id, "rule_id": rules.get(e.rule as usize).map(|r| r.id.as_str()),
                   "raw": e.raw, "awarded": e.awarded, "capped_by": e.capped_by.map(|c| c.as_str())})
        })
        .collect();
    let lots: Vec<Value> = koc_engine::stages::points::lots_of(&loaded.spending, ds, &c.points, i)
        .iter()
        .map(|l| {
            json!({"earned_on": fmt_day(l.day), "points": l.points, "expires_on": l.expires.map(fmt_day), "left": l.left})
        })
        .collect();
    let id = &ds.members[i].id;
    let redemptions: Vec<Value> = c
        .points
        .redemptions
        .iter()
        .filter(|o| &ds.redemptions[o.redemption].member_id == id)
        .map(|o| {
            let r = &ds.redemptions[o.redemption];
            json!({"redemption_id": r.id, "date": fmt_day(koc_engine::fmt::day_of_ts(r.ts)), "item": r.item,
                   "points": r.points, "status": o.status.as_str(), "balance_after": o.balance_after})
        })
        .collect();
    json!({"earned": b.earned, "redeemed": b.redeemed, "expired": b.expired, "balance": b.balance,
           "entries": entries, "lots": lots, "redemptions": redemptions})
}

/// Qualifying points of member `i` at day `d` (SPEC §6): awarded in the window, or up to d.
fn qualifying(ds: &Dataset, c: &Computed, window: Option<i64>, i: usize, d: Day) -> i64 {
    c.points
        .ledger
        .iter()
        .filter(|e| {
            let ev = ds.events.get(e.event as usize);
            ev.member == i && ev.day <= d && window.is_none_or(|w| ev.day > d - w as Day)
        })
        .map(|e| e.awarded)
        .sum()
}

fn tier(loaded: &Program, ds: &Dataset, c: &Computed, i: usize) -> Value {
    let (Some(cfg), Some(Some(t))) = (&loaded.tiers, c.tiers.get(i)) else {
        return Value::Null;
    };
    let id = |k: usize| cfg.ids[k].clone();
    let next = (t.tier + 1 < cfg.ids.len()).then_some(t.tier + 1);
    let grace = t.below_since.map(|b| {
        json!({"below_since": fmt_day(b), "demotion_on": t.demotion_on.map(fmt_day),
               "points_to_keep": cfg.mins[t.tier] - t.q})
    });
    let changes: Vec<Value> = t
        .changes
        .iter()
        .map(|ch| {
            json!({"date": fmt_day(ch.day), "from": id(ch.from), "to": id(ch.to),
                   "qualifying_points": qualifying(ds, c, cfg.window_days, i, ch.day)})
        })
        .collect();
    json!({"tier": id(t.tier), "since": fmt_day(t.since), "qualifying_points": t.q,
           "next_tier": next.map(id), "points_to_next": next.map(|k| cfg.mins[k] - t.q),
           "grace": grace, "changes": changes})
}

/// The value of a named column in a one-row frame, as JSON.
fn cell(frame: &polars::prelude::DataFrame, name: &str) -> Value {
    match frame.column(name).ok().and_then(|col| col.get(0).ok()) {
        Some(AnyValue::Boolean(b)) => json!(b),
        Some(AnyValue::Float64(x)) => num(x),
        Some(AnyValue::Int64(x)) => json!(x),
        Some(AnyValue::String(s)) => json!(s),
        Some(AnyValue::StringOwned(s)) => json!(s.as_str()),
        _ => Value::Null,
    }
}

fn engine<'a>(loaded: &Program, ds: &'a Dataset, c: &'a Computed, balance_days: &'a [Day]) -> Result<Engine<'a>> {
    let mut e = Engine::new(
        loaded,
        ds,
        Inputs {
            awarded: &c.points.awarded_per_event,
            tiers: &c.tiers,
            balance_days,
            balance_at: &c.points.balance_at,
        },
    )?;
    e.history = c.history.clone();
    Ok(e)
}

fn layer(loaded: &Program, ds: &Dataset, c: &Computed, engine: &Engine, at_d: &Evaluation, i: usize) -> Result<Value> {
    let Some(cfg) = &loaded.file().pipeline.layers else {
        return Ok(Value::Null);
    };
    let mut snapshots = Vec::new();
    let mut dates: Vec<Day> = c.history.iter().map(|(d, _)| *d).collect();
    dates.push(c.as_of);
    for s in dates.into_iter().filter(|s| *s >= ds.members[i].joined) {
        let earlier;
        let e = if s == c.as_of {
            at_d
        } else {
            earlier = engine.evaluate_members(s, vec![i])?;
            &earlier
        };
        let taken = e.row[i].unwrap_or(0);
        let matched = e.masks.iter().position(|m| m.as_ref().is_some_and(|m| m[0]));
        let last = taken.max(matched.unwrap_or(taken));
        let levels: Vec<Value> = cfg
            .levels
            .iter()
            .enumerate()
            .take(last + 1)
            .map(|(l, lv)| {
                let mut values = Map::new();
                if let Some(w) = loaded.conditions.get(&Place::Level(l)) {
                    for name in koc_engine::pipeline::expr::names_in(std::iter::once(w)) {
                        values.insert(name.clone(), cell(&e.snapshot.frame, &name));
                    }
                }
                json!({"layer": lv.id, "when": lv.when, "matched": e.masks[l].as_ref().map(|m| m[0]).unwrap_or(lv.default && matched.is_none()),
                       "values": values})
            })
            .collect();
        snapshots
            .push(json!({"date": fmt_day(s), "layer": cfg.levels[taken].id, "by": e.by[0].as_str(), "levels": levels}));
    }
    let summary = koc_engine::stages::layers::summarize(&c.history, &c.layer_at_d, c.as_of);
    Ok(
        json!({"layer": c.layer_at_d[i].map(|l| cfg.levels[l].id.clone()), "since": summary.since[i].map(fmt_day),
              "snapshots": snapshots}),
    )
}

fn scouting(loaded: &Program, c: &Computed, frame: &polars::prelude::DataFrame, i: usize) -> Result<Value> {
    let p = &loaded.file().pipeline;
    let Some(cfg) = &p.scouting else { return Ok(Value::Null) };
    if let Some(cand) = c.newcomers.iter().find(|n| n.member == i) {
        let n = c.newcomers.len();
        let features: Vec<Value> = cfg
            .features
            .iter()
            .enumerate()
            .map(|(f, feat)| {
                let all: Vec<f64> = c.newcomers.iter().map(|x| x.values[f]).collect();
                let k = c.newcomers.iter().position(|x| x.member == i).unwrap_or(0);
                let pct = if n == 1 {
                    1.0
                } else {
                    koc_engine::fmt::percentiles(&all)[k]
                };
                json!({"name": feat.metric, "value": num(cand.values[f]), "percentile": num(pct)})
            })
            .collect();
        return Ok(
            json!({"candidate": true, "why_not": null, "score": num(cand.score), "rank": cand.rank,
                         "flagged": cand.flagged, "features": features}),
        );
    }
    // which part of `candidates` is false for this member at D
    let names = koc_engine::pipeline::check::names(p);
    let Some(candidates) = loaded.conditions.get(&Place::Candidates) else {
        return Ok(Value::Null);
    };
    let why = first_false_part(candidates, &names.candidates, frame)?.map(|(part, values)| {
        let values: Vec<String> = values.iter().map(|(n, v)| format!("{n} = {v}")).collect();
        format!("`{part}` is false ({})", values.join(", "))
    });
    Ok(
        json!({"candidate": false, "why_not": why.unwrap_or_else(|| "the candidates condition is false".into()),
              "score": null, "rank": null, "flagged": false, "features": []}),
    )
}

/// The member's stage on the growth path (SPEC §15) and what put them there.
fn growth(loaded: &Program, ds: &Dataset, c: &Computed, i: usize) -> Value {
    use koc_engine::stages::growth::Stage;
    let (Some(g), Some(cfg)) = (&c.growth, &loaded.growth) else {
        return Value::Null;
    };
    let Some(Some(s)) = g.standings.get(i) else {
        return Value::Null;
    };
    let min = cfg.lead_min_mentees;
    let id = &ds.members[i].id;
    let d = c.as_of;
    let why = match s.stage {
        Stage::Lead => {
            let mentees: Vec<&str> = ds
                .mentorships
                .iter()
                .filter(|m| &m.mentor_id == id && m.active_at(d))
                .map(|m| m.mentee_id.as_str())
                .collect();
            format!(
                "mentors {} active mentee(s) ({}), lead.min_mentees is {min}",
                s.active_mentees,
                mentees.join(", ")
            )
        }
        Stage::Collaborate => {
            let teams: Vec<&str> = ds
                .teams
                .iter()
                .filter(|t| &t.member_id == id && t.completed.is_some_and(|x| x <= d))
                .map(|t| t.team_id.as_str())
                .collect();
            format!(
                "{} completed team membership(s): {}",
                s.completed_teams,
                teams.join(", ")
            )
        }
        Stage::Specialise => format!("specialty '{}'", s.specialty.clone().unwrap_or_default()),
        Stage::Explore => "no mentee, no completed team and no specialty yet".to_string(),
    };
    json!({"stage": s.stage.id(), "specialty": s.specialty, "completed_teams": s.completed_teams,
           "active_mentees": s.active_mentees, "mentor_id": s.mentor_id, "why": why})
}

fn contests(c: &Computed, member_id: &str) -> Vec<Value> {
    let mut out = Vec::new();
    for k in &c.contests {
        for e in k.entries.iter().filter(|e| e.member_id == member_id) {
            out.push(
                json!({"contest_id": k.id, "entry_id": e.entry_id, "status": e.status.as_str(),
                "rank": e.rank, "final": e.final_score.map(num),
                "award": (!e.award.is_empty()).then_some(&e.award)}),
            );
        }
    }
    out
}
