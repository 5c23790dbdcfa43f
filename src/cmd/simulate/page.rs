//! The comparison page of `koc simulate`: figures against the baseline with their
//! change, the moves per scenario, a verdict, charts for a sweep; labels from the
//! report's label files (`simulation`).
use super::view;
use anyhow::Result;
use koc_engine::compute::Computed;
use koc_engine::fmt::Day;
use koc_engine::model::Dataset;
use koc_engine::pipeline::program::Program;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::Path;

fn matrix(ds: &Dataset, base: &Computed, other: &Computed, f: fn(&Computed, usize) -> String) -> Vec<Value> {
    let mut pairs: BTreeMap<(String, String), usize> = BTreeMap::new();
    for (i, _) in ds.table_members() {
        let (a, b) = (f(base, i), f(other, i));
        if a != b {
            *pairs.entry((a, b)).or_insert(0) += 1;
        }
    }
    pairs
        .into_iter()
        .map(|((a, b), n)| json!({"from": a, "to": b, "members": n}))
        .collect()
}

pub(super) fn context(
    base: &Program,
    ds: &Dataset,
    d: Day,
    names: &[String],
    all: &[(&Program, &Computed)],
    figures: &[super::Figure],
    sweep: Option<&str>,
) -> Value {
    let b = all[0].1;
    let report_t = crate::output::report::report_labels(base.locale.is_en());
    let named = |moves: Vec<Value>| -> Vec<Value> {
        moves
            .into_iter()
            .map(|mut m| {
                for k in ["from", "to"] {
                    if let Some(id) = m[k].as_str().filter(|s| !s.is_empty()) {
                        m[k] = json!(base.file().pipeline.display_name(id));
                    }
                }
                m
            })
            .collect()
    };
    let scenarios: Vec<Value> = all
        .iter()
        .enumerate()
        .skip(1)
        .map(|(k, (_, c))| {
            let flagged = |c: &Computed| -> Vec<String> {
                c.newcomers.iter().filter(|n| n.flagged).map(|n| ds.members[n.member].id.clone()).collect()
            };
            let (bf, sf) = (flagged(b), flagged(c));
            let contests: Vec<Value> = c
                .contests
                .iter()
                .zip(&b.contests)
                .map(|(sc, bc)| {
                    let before: BTreeMap<&str, (usize, &str)> = bc
                        .podium
                        .iter()
                        .map(|x| (x.entry_id.as_str(), (x.rank, x.award.as_str())))
                        .collect();
                    let moves: Vec<Value> = sc
                        .podium
                        .iter()
                        .filter(|x| before.get(x.entry_id.as_str()) != Some(&(x.rank, x.award.as_str())))
                        .map(|x| {
                            let was = before.get(x.entry_id.as_str());
                            json!({"entry_id": x.entry_id, "rank_before": was.map(|w| w.0), "rank": x.rank, "award_before": was.map(|w| w.1), "award": x.award})
                        })
                        .collect();
                    json!({"id": sc.id, "name": base.file().pipeline.display_name(&sc.id), "moves": moves})
                })
                .collect();
            let status_label = |st: &str| crate::output::report::label_of(&report_t, "status", st).to_string();
            let goals: Vec<Value> = c
                .goals
                .iter()
                .zip(&b.goals)
                .filter(|(s, g)| s.status != g.status)
                .map(|(s, g)| {
                    json!({"id": s.id, "name": base.file().pipeline.display_name(&s.id),
                        "before": status_label(g.status.as_str()), "after": status_label(s.status.as_str())})
                })
                .collect();
            json!({
                "name": names[k],
                "tier_moves": named(matrix(ds, b, c, |c, i| view(c, i).tier)),
                "layer_moves": named(matrix(ds, b, c, |c, i| view(c, i).layer)),
                "newly_flagged": sf.iter().filter(|m| !bf.contains(m)).collect::<Vec<_>>(),
                "dropped": bf.iter().filter(|m| !sf.contains(m)).collect::<Vec<_>>(),
                "contests": contests,
                "goals": goals,
            })
        })
        .collect();
    let en = base.locale.is_en();
    let pl = &base.file().pipeline;
    let rows = compared_rows(figures, &report_t["status"]);
    let label = |figure: &str| figure_label(pl, &report_t, figure);
    // a sweep: one chart per figure that changes across the values
    let chart = sweep.map(|s| {
        let charts: Vec<Value> = rows
            .iter()
            .filter(|r| r.changes && r.values.iter().all(|v| v.number.is_some()))
            .map(|r| {
                let bars: Vec<(String, f64)> = names[1..]
                    .iter()
                    .zip(&r.values[1..])
                    .map(|(n, v)| (n.rsplit('=').next().unwrap_or(n).to_string(), v.number.unwrap_or(0.0)))
                    .collect();
                json!({"figure": label(&r.figure), "chart": crate::output::charts::bars(&bars)})
            })
            .collect();
        json!({"path": s.split('=').next().unwrap_or(s), "charts": charts})
    });
    let verdicts: Vec<String> = (1..all.len())
        .map(|k| verdict(&rows, k, &scenarios[k - 1], en, pl))
        .collect();
    json!({
        "program": base.file().pipeline.program.name,
        "lang": if en { "en" } else { "zh-CN" },
        "t": report_t["simulation"],
        "as_of": koc_engine::fmt::fmt_day(d),
        "names": names,
        "rows": rows.iter().map(|r| json!({"figure": label(&r.figure), "changes": r.changes, "values": r.values.iter().map(|v| json!({"value": v.text, "delta": v.delta, "pct": v.pct})).collect::<Vec<_>>()})).collect::<Vec<_>>(),
        "scenarios": scenarios,
        "verdicts": verdicts,
        "sweep": chart,
    })
}

/// One figure of the comparison: the baseline and each scenario, with the change.
struct Compared {
    figure: String,
    changes: bool,
    values: Vec<Cell>,
}

struct Cell {
    text: String,
    number: Option<f64>,
    /// Against the baseline: `+1,200` and `+12.5%` (numbers only, scenarios only).
    delta: Option<String>,
    pct: Option<String>,
}

/// `statuses`: the goal statuses' labels in the program's language.
fn compared_rows(figures: &[super::Figure], statuses: &Value) -> Vec<Compared> {
    figures
        .iter()
        .map(|f| {
            let base = f.values.first().and_then(super::Amount::number);
            let values: Vec<Cell> = f
                .values
                .iter()
                .enumerate()
                .map(|(k, v)| {
                    let number = v.number();
                    let (delta, pct) = match (k > 0, number, base) {
                        (true, Some(x), Some(b)) if x != b => (
                            Some(format!(
                                "{}{}",
                                if x > b { "+" } else { "−" },
                                crate::output::templating::people_number((x - b).abs())
                            )),
                            (b != 0.0).then(|| {
                                let pct = (x - b) / b.abs() * 100.0;
                                format!("{}{:.1}%", if pct > 0.0 { "+" } else { "−" }, pct.abs())
                            }),
                        ),
                        _ => (None, None),
                    };
                    Cell {
                        text: match v {
                            super::Amount::Count(n) => crate::output::templating::people_number(*n as f64),
                            super::Amount::Status(s) => statuses[s.as_str()].as_str().unwrap_or(s.as_str()).to_string(),
                            super::Amount::Entry(id) => id.clone(),
                            super::Amount::Filled { filled, of } => format!("{filled} / {of}"),
                        },
                        number,
                        delta,
                        pct,
                    }
                })
                .collect();
            Compared {
                figure: f.id.clone(),
                changes: f.values.iter().any(|v| *v != f.values[0]),
                values,
            }
        })
        .collect()
}

/// A short verdict for scenario `k`: what it costs in points and what it changes.
fn verdict(
    rows: &[Compared],
    k: usize,
    scenario: &Value,
    en: bool,
    pl: &koc_engine::pipeline::config::Pipeline,
) -> String {
    let find = |f: &str| rows.iter().find(|r| r.figure == f).and_then(|r| r.values.get(k));
    let cost = |f: &str| {
        find(f)
            .and_then(|v| {
                v.delta
                    .clone()
                    .map(|d| format!("{d} ({})", v.pct.clone().unwrap_or_default()))
            })
            .unwrap_or_else(|| if en { "no change".into() } else { "不变".into() })
    };
    let count = |key: &str| -> usize {
        scenario[key]
            .as_array()
            .map(|a| a.iter().map(|m| m["members"].as_u64().unwrap_or(0) as usize).sum())
            .unwrap_or(0)
    };
    let goals: Vec<String> = scenario["goals"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|g| {
            format!(
                "{} {} → {}",
                pl.display_name(g["id"].as_str().unwrap_or("")),
                g["before"].as_str().unwrap_or(""),
                g["after"].as_str().unwrap_or("")
            )
        })
        .collect();
    let goals = if goals.is_empty() {
        (if en {
            "no goal changes status"
        } else {
            "目标状态不变"
        })
        .to_string()
    } else {
        goals.join(", ")
    };
    if en {
        format!(
            "points issued {}, liability {}; {} members change tier, {} change layer; {goals}.",
            cost("points_issued"),
            cost("liability"),
            count("tier_moves"),
            count("layer_moves")
        )
    } else {
        format!(
            "积分发放 {}，负债 {}；{} 人等级变化，{} 人分层变化；{goals}。",
            cost("points_issued"),
            cost("liability"),
            count("tier_moves"),
            count("layer_moves")
        )
    }
}

/// A headline figure's id (`points_issued`, `tier gold`, `goal g1`, `contest c winner`,
/// `stage lead`…) as people read it in the program's locale.
fn figure_label(pl: &koc_engine::pipeline::config::Pipeline, report_t: &Value, figure: &str) -> String {
    use crate::output::report::{label, label_of};
    let t = |k: &str| label(report_t, k, k).to_string();
    let sim = |k: &str| label_of(report_t, "simulation", k).to_string();
    let (kind, rest) = figure.split_once(' ').unwrap_or((figure, ""));
    match kind {
        "points_issued" | "points_redeemed" | "liability" => t(kind),
        "newcomers_flagged" => t("flagged_newcomers"),
        "tier" => format!("{} · {}", t("tier"), pl.display_name(rest)),
        "layer" => format!("{} · {}", t("layer"), pl.display_name(rest)),
        "goal" => format!("{} · {}", t("goal"), pl.display_name(rest)),
        "contest" => {
            let id = rest.strip_suffix(" winner").unwrap_or(rest);
            format!("{} · {}", pl.display_name(id), sim("winner"))
        }
        "stage" => format!("{} · {}", t("stage_h"), label_of(report_t, "stage", rest)),
        "mentor_matches" | "team_roles_filled" => sim(kind),
        "badge" => {
            let name = pl
                .badges
                .iter()
                .flatten()
                .find(|b| b.id == rest)
                .map(|b| b.name.as_str())
                .unwrap_or(rest);
            format!("{} · {name}", t("badge_holders"))
        }
        _ => figure.to_string(),
    }
}

const HTML: &str = include_str!("../../../templates/simulation.html");
const MD: &str = include_str!("../../../templates/simulation.md");

pub(super) fn render(out: &Path, ctx: &Value) -> Result<()> {
    let mut env = crate::output::templating::sandboxed_environment();
    // a misspelt field is an error, not a blank cell (as in the report)
    env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
    env.add_template("simulation.html", HTML)?;
    env.add_template("simulation.md", MD)?;
    for name in ["simulation.html", "simulation.md"] {
        let text = crate::output::templating::render_bounded(&env.get_template(name)?, ctx)?;
        koc_engine::store::write_atomic(&out.join(name), &text)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::{Amount, Figure};
    use super::compared_rows;

    /// A change is measured on counts only: an entry id made of digits is an id, and a
    /// status is a word, however their text looks.
    #[test]
    fn changes_are_measured_on_counts_not_on_text_that_looks_like_a_number() {
        let statuses = serde_json::json!({"on_track": "在轨", "behind": "落后"});
        let rows = compared_rows(
            &[
                Figure {
                    id: "liability".into(),
                    values: vec![Amount::Count(1_000), Amount::Count(1_250)],
                },
                Figure {
                    id: "contest c winner".into(),
                    values: vec![Amount::Entry("12".into()), Amount::Entry("13".into())],
                },
                Figure {
                    id: "goal g".into(),
                    values: vec![
                        Amount::Status(koc_engine::stages::goals::GoalStatus::OnTrack),
                        Amount::Status(koc_engine::stages::goals::GoalStatus::Behind),
                    ],
                },
            ],
            &statuses,
        );
        let scenario = &rows[0].values[1];
        assert_eq!(
            (
                scenario.text.as_str(),
                scenario.delta.as_deref(),
                scenario.pct.as_deref()
            ),
            ("1,250", Some("+250"), Some("+25.0%"))
        );
        let winner = &rows[1].values[1];
        assert!(rows[1].changes);
        assert_eq!(
            (winner.text.as_str(), winner.number, winner.delta.as_deref()),
            ("13", None, None)
        );
        // a goal's status by its label, and a change without a number
        let goal = &rows[2];
        assert_eq!(
            (goal.values[0].text.as_str(), goal.values[1].text.as_str()),
            ("在轨", "落后")
        );
        assert!(goal.changes && goal.values[1].delta.is_none());
    }
}
