//! `koc simulate` (SPEC §12): the same stored history under changed rules, side by
//! side with the baseline. The events are read once; the store is never written.
use crate::compute::Computed;
use crate::config::{self, Loaded};
use crate::fmt::Day;
use crate::model::Dataset;
use crate::output::{p, t, Table};
use crate::store::Store;
use anyhow::{Context, Result};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub struct Request {
    pub pipeline: PathBuf,
    pub scenarios: Vec<PathBuf>,
    pub sets: Vec<String>,
    pub sweep: Option<String>,
    pub as_of: Option<String>,
    pub out: Option<PathBuf>,
}

struct Variant {
    name: String,
    loaded: Loaded,
}

/// Build the variants: each scenario file (with every --set on top), or one variant of
/// the --set values alone, or one per sweep value.
fn variants(base: &Loaded, req: &Request) -> Result<Vec<Variant>> {
    let base_value: serde_yaml::Value = serde_yaml::from_str(&base.text)?;
    let mut specs: Vec<(String, serde_yaml::Value)> = Vec::new();
    // where each scenario's own text is, to report its mistakes at its own lines
    let mut sources: std::collections::HashMap<String, (PathBuf, String)> = Default::default();
    for file in &req.scenarios {
        let text = std::fs::read_to_string(file)
            .map_err(|e| crate::error::usage_err(format!("cannot read scenario {}: {e}", file.display())))?;
        let overlay: serde_yaml::Value =
            serde_yaml::from_str(&text).map_err(|e| crate::error::usage_err(format!("{}: {e}", file.display())))?;
        let mut v = base_value.clone();
        crate::overlay::merge(&mut v, &overlay);
        let name = file
            .file_stem()
            .map(|s| s.to_string_lossy().to_string())
            .unwrap_or_default();
        sources.insert(name.clone(), (file.clone(), text.clone()));
        specs.push((name, v));
    }
    if specs.is_empty() && !req.sets.is_empty() {
        specs.push((req.sets.join(" "), base_value.clone()));
    }
    for (_, v) in specs.iter_mut() {
        for s in &req.sets {
            crate::overlay::set(v, s)?;
        }
    }
    if let Some(sweep) = &req.sweep {
        let (path, values) = sweep
            .split_once('=')
            .ok_or_else(|| crate::error::usage_err(format!("--sweep '{sweep}': expected PATH=V1,V2,...")))?;
        for value in values.split(',') {
            let mut v = base_value.clone();
            for s in &req.sets {
                crate::overlay::set(&mut v, s)?;
            }
            crate::overlay::set(&mut v, &format!("{path}={value}"))?;
            specs.push((format!("{path}={value}"), v));
        }
    }
    specs
        .into_iter()
        .map(|(name, v)| {
            let text = serde_yaml::to_string(&v)?;
            let pipeline =
                config::parse_text(&base.path, &text).map_err(|e| scenario_error(e, &name, sources.get(&name)))?;
            let loaded = Loaded {
                path: base.path.clone(),
                dir: base.dir.clone(),
                text,
                pipeline,
            };
            crate::check::check(&loaded).with_context(|| format!("in scenario {name}"))?;
            Ok(Variant { name, loaded })
        })
        .collect()
}

/// A pipeline error of a merged scenario, moved to the scenario file's own line when
/// the key it names is written there (the merged text's lines mean nothing to the
/// analyst); otherwise named as the scenario's (a --set value, a sweep value).
fn scenario_error(err: anyhow::Error, name: &str, source: Option<&(PathBuf, String)>) -> anyhow::Error {
    let message = format!("{err:#}");
    let first = message.lines().next().unwrap_or("");
    // "<file>:<line>:<col>: <what>" → "<what>"
    let what = first.splitn(4, ':').nth(3).map(str::trim).unwrap_or(first);
    let key = what.split('\'').nth(1).unwrap_or("");
    let rest: Vec<&str> = message.lines().skip(1).collect();
    let at = match source {
        Some((path, text)) if !key.is_empty() && text.contains(key) => config::locate_in(path, text, key),
        Some((path, _)) => path.display().to_string(),
        None => format!("scenario '{name}'"),
    };
    let mut out = format!("{at}: {what}");
    for l in rest {
        out.push('\n');
        out.push_str(l);
    }
    crate::error::usage_err(out)
}

pub struct Outcome {
    pub out: PathBuf,
    pub headline: Table,
}

pub fn simulate(req: &Request) -> Result<Outcome> {
    let base = config::load(&req.pipeline)?;
    crate::check::check(&base)?;
    let vars = variants(&base, req)?;
    if vars.is_empty() {
        return Err(crate::error::usage_err(
            "nothing to simulate: give --scenario FILE, --set PATH=VALUE or --sweep PATH=V1,V2",
        ));
    }
    let d = crate::run::as_of(&base, req.as_of.as_deref())?;
    let store = Store::open_read(&base.store_dir());
    let ds = Dataset::load(&store, &store.manifest()?, d)?;
    let baseline = crate::compute::compute_reusing(&base, &ds, None, crate::compute::Purpose::WhatIf)?;
    // a scenario that leaves points, tiers and layers alone reuses them from the baseline
    let results: Vec<Computed> = vars
        .iter()
        .map(|v| {
            let reuse =
                crate::compute::reusable(&base, &v.loaded, d).then_some(crate::compute::Reuse { base: &baseline });
            crate::compute::compute_reusing(&v.loaded, &ds, reuse, crate::compute::Purpose::WhatIf)
        })
        .collect::<Result<_>>()?;
    let out = req
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from(format!("simulation-{}", crate::fmt::fmt_day(d))));
    std::fs::create_dir_all(&out).with_context(|| format!("cannot create {}", out.display()))?;

    let names: Vec<String> = std::iter::once("baseline".to_string())
        .chain(vars.iter().map(|v| v.name.clone()))
        .collect();
    let all: Vec<(&Loaded, &Computed)> = std::iter::once((&base, &baseline))
        .chain(vars.iter().map(|v| &v.loaded).zip(results.iter()))
        .collect();
    let headline = headline_table(&names, &all);
    let members = members_table(&ds, &names, &all);
    std::fs::write(out.join("simulation_members.csv"), members.to_csv()?)?;
    if req.sweep.is_some() {
        let mut sweep = headline_table(&names[1..], &all[1..]);
        sweep.name = "sweep".into();
        std::fs::write(out.join("sweep.csv"), transpose(&sweep).to_csv()?)?;
    }
    let ctx = context(&base, &ds, d, &names, &all, &headline, req.sweep.as_deref());
    render(&out, &ctx)?;
    Ok(Outcome { out, headline })
}

fn counts(ids: &[String], values: impl Iterator<Item = usize>) -> Vec<usize> {
    let mut v = vec![0; ids.len()];
    for x in values {
        v[x] += 1;
    }
    v
}

/// Rows: figures; columns: baseline and each scenario.
fn headline_table(names: &[String], all: &[(&Loaded, &Computed)]) -> Table {
    let mut cols = vec!["figure".to_string()];
    cols.extend(names.iter().cloned());
    let mut tb = Table::with_columns("simulation", cols);
    let mut rows: BTreeMap<usize, (String, Vec<String>)> = BTreeMap::new();
    let mut add = |order: usize, label: String, value: String| {
        rows.entry(order).or_insert_with(|| (label, Vec::new())).1.push(value);
    };
    for (_, c) in all {
        let b = &c.points.balances;
        add(
            0,
            "points_issued".into(),
            b.iter().map(|x| x.earned).sum::<i64>().to_string(),
        );
        add(
            1,
            "points_redeemed".into(),
            b.iter().map(|x| x.redeemed).sum::<i64>().to_string(),
        );
        add(
            2,
            "liability".into(),
            b.iter().map(|x| x.balance).sum::<i64>().to_string(),
        );
        for (i, n) in counts(&c.tier_ids, c.tiers.iter().flatten().map(|s| s.tier))
            .iter()
            .enumerate()
        {
            add(10 + i, format!("tier {}", c.tier_ids[i]), n.to_string());
        }
        for (i, n) in counts(&c.level_ids, c.layer_at_d.iter().flatten().copied())
            .iter()
            .enumerate()
        {
            add(100 + i, format!("layer {}", c.level_ids[i]), n.to_string());
        }
        add(
            200,
            "newcomers_flagged".into(),
            c.newcomers.iter().filter(|n| n.flagged).count().to_string(),
        );
        for (k, g) in c.goals.iter().enumerate() {
            add(300 + k, format!("goal {}", g.id), g.status.as_str().to_string());
        }
        for (k, ct) in c.contests.iter().enumerate() {
            let winner = ct.podium.first().map(|w| w.entry_id.clone()).unwrap_or_default();
            add(400 + k, format!("contest {} winner", ct.id), winner);
        }
        // the growth path (SPEC §15): members per stage, matches and filled roles
        if let Some(g) = &c.growth {
            for (k, stage) in crate::growth::Stage::ALL.iter().enumerate() {
                let n = g.standings.iter().flatten().filter(|s| s.stage == *stage).count();
                add(500 + k, format!("stage {}", stage.id()), n.to_string());
            }
        }
        if let Some(m) = &c.mentor_matches {
            let matched = m.iter().filter(|x| x.mentor.is_some()).count();
            add(600, "mentor_matches".into(), format!("{matched} / {}", m.len()));
        }
        if let Some(tp) = &c.team_proposals {
            let filled = tp.iter().filter(|x| x.member.is_some()).count();
            add(601, "team_roles_filled".into(), format!("{filled} / {}", tp.len()));
        }
    }
    for (_, (label, values)) in rows {
        let mut r = vec![t(label)];
        r.extend(values.into_iter().map(p));
        tb.push(r);
    }
    tb
}

fn transpose(tb: &Table) -> Table {
    let mut cols = vec!["scenario".to_string()];
    cols.extend(tb.rows.iter().map(|r| r[0].as_str().to_string()));
    let mut out = Table::with_columns(&tb.name, cols);
    for (j, name) in tb.columns.iter().enumerate().skip(1) {
        let mut r = vec![t(name.clone())];
        r.extend(tb.rows.iter().map(|row| p(row[j].as_str())));
        out.push(r);
    }
    out
}

struct MemberView {
    tier: String,
    layer: String,
    balance: i64,
    flagged: bool,
}

fn view(c: &Computed, i: usize) -> MemberView {
    MemberView {
        tier: c.tiers[i]
            .as_ref()
            .map(|s| c.tier_ids[s.tier].clone())
            .unwrap_or_default(),
        layer: c.layer_at_d[i].map(|l| c.level_ids[l].clone()).unwrap_or_default(),
        balance: c.points.balances[i].balance,
        flagged: c.newcomers.iter().any(|n| n.member == i && n.flagged),
    }
}

fn members_table(ds: &Dataset, names: &[String], all: &[(&Loaded, &Computed)]) -> Table {
    let mut cols = vec!["member_id".to_string(), "nickname".to_string()];
    for (k, n) in names.iter().enumerate() {
        for f in ["tier", "layer", "balance", "flagged"] {
            cols.push(format!("{n}_{f}"));
        }
        if k > 0 {
            cols.push(format!("{n}_changed"));
        }
    }
    let mut tb = Table::with_columns("simulation_members", cols);
    for (i, m) in ds.table_members() {
        let base = view(all[0].1, i);
        let mut row = vec![t(&m.id), t(m.nickname.clone().unwrap_or_default())];
        for (k, (_, c)) in all.iter().enumerate() {
            let v = view(c, i);
            row.extend([
                t(&v.tier),
                t(&v.layer),
                p(v.balance.to_string()),
                p(crate::fmt::fmt_bool(v.flagged)),
            ]);
            if k > 0 {
                let mut changed = Vec::new();
                if v.tier != base.tier {
                    changed.push(format!("tier {} -> {}", base.tier, v.tier));
                }
                if v.layer != base.layer {
                    changed.push(format!("layer {} -> {}", base.layer, v.layer));
                }
                if v.balance != base.balance {
                    changed.push(format!("balance {:+}", v.balance - base.balance));
                }
                if v.flagged != base.flagged {
                    changed.push(if v.flagged {
                        "newly flagged".into()
                    } else {
                        "no longer flagged".to_string()
                    });
                }
                row.push(t(changed.join("; ")));
            }
        }
        tb.push(row);
    }
    tb
}

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

fn context(
    base: &Loaded,
    ds: &Dataset,
    d: Day,
    names: &[String],
    all: &[(&Loaded, &Computed)],
    headline: &Table,
    sweep: Option<&str>,
) -> Value {
    let b = all[0].1;
    let report_t = crate::report::report_labels(base.pipeline.program.locale == "en");
    let named = |moves: Vec<Value>| -> Vec<Value> {
        moves
            .into_iter()
            .map(|mut m| {
                for k in ["from", "to"] {
                    if let Some(id) = m[k].as_str().filter(|s| !s.is_empty()) {
                        m[k] = json!(base.pipeline.display_name(id));
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
                    json!({"id": sc.id, "name": base.pipeline.display_name(&sc.id), "moves": moves})
                })
                .collect();
            let status_label = |st: &str| report_t["status"][st].as_str().unwrap_or(st).to_string();
            let goals: Vec<Value> = c
                .goals
                .iter()
                .zip(&b.goals)
                .filter(|(s, g)| s.status != g.status)
                .map(|(s, g)| {
                    json!({"id": s.id, "name": base.pipeline.display_name(&s.id),
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
    let en = base.pipeline.program.locale == "en";
    let pl = &base.pipeline;
    let rows = compared_rows(headline);
    let label = |figure: &str| figure_label(pl, &report_t, figure, en);
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
                json!({"figure": label(&r.figure), "chart": crate::charts::bars(&bars)})
            })
            .collect();
        json!({"path": s.split('=').next().unwrap_or(s), "charts": charts})
    });
    let verdicts: Vec<String> = (1..all.len())
        .map(|k| verdict(&rows, k, &scenarios[k - 1], en, pl))
        .collect();
    json!({
        "program": base.pipeline.program.name,
        "lang": if en { "en" } else { "zh-CN" },
        "t": if en { labels_en() } else { labels_zh() },
        "as_of": crate::fmt::fmt_day(d),
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

fn compared_rows(headline: &Table) -> Vec<Compared> {
    headline
        .rows
        .iter()
        .map(|r| {
            let texts: Vec<String> = r[1..].iter().map(|c| c.as_str().to_string()).collect();
            let base = texts.first().and_then(|t| t.parse::<f64>().ok());
            let values: Vec<Cell> = texts
                .iter()
                .enumerate()
                .map(|(k, t)| {
                    let number = t.parse::<f64>().ok();
                    let (delta, pct) = match (k > 0, number, base) {
                        (true, Some(x), Some(b)) if x != b => (
                            Some(format!(
                                "{}{}",
                                if x > b { "+" } else { "−" },
                                crate::templating::people_number((x - b).abs())
                            )),
                            (b != 0.0).then(|| {
                                let pct = (x - b) / b.abs() * 100.0;
                                format!("{}{:.1}%", if pct > 0.0 { "+" } else { "−" }, pct.abs())
                            }),
                        ),
                        _ => (None, None),
                    };
                    Cell {
                        text: number
                            .map(crate::templating::people_number)
                            .unwrap_or_else(|| t.clone()),
                        number,
                        delta,
                        pct,
                    }
                })
                .collect();
            Compared {
                figure: r[0].as_str().to_string(),
                changes: texts.iter().any(|t| *t != texts[0]),
                values,
            }
        })
        .collect()
}

/// A short verdict for scenario `k`: what it costs in points and what it changes.
fn verdict(rows: &[Compared], k: usize, scenario: &Value, en: bool, pl: &crate::config::Pipeline) -> String {
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
fn figure_label(pl: &crate::config::Pipeline, report_t: &Value, figure: &str, en: bool) -> String {
    let t = |k: &str| report_t[k].as_str().unwrap_or(k).to_string();
    let (kind, rest) = figure.split_once(' ').unwrap_or((figure, ""));
    match kind {
        "points_issued" | "points_redeemed" | "liability" => t(kind),
        "newcomers_flagged" => t("flagged_newcomers"),
        "tier" => format!("{} · {}", t("tier"), pl.display_name(rest)),
        "layer" => format!("{} · {}", t("layer"), pl.display_name(rest)),
        "goal" => format!("{} · {}", t("goal"), pl.display_name(rest)),
        "contest" => {
            let id = rest.strip_suffix(" winner").unwrap_or(rest);
            format!("{} · {}", pl.display_name(id), if en { "winner" } else { "第一名" })
        }
        "stage" => format!(
            "{} · {}",
            t("stage_h"),
            report_t["stage"][rest].as_str().unwrap_or(rest)
        ),
        "mentor_matches" => (if en {
            "Mentors proposed / flagged newcomers"
        } else {
            "已提议导师 / 高潜新人"
        })
        .into(),
        "team_roles_filled" => (if en {
            "Team roles filled / roles"
        } else {
            "已补位角色 / 角色数"
        })
        .into(),
        _ => figure.to_string(),
    }
}

fn labels_en() -> Value {
    json!({"title": "what-if", "comparison": "Comparison with the baseline", "figure": "Figure", "baseline": "baseline",
        "held_fixed": "Member behaviour is held fixed: every scenario replays the same stored events under its rules. Real members would react to new incentives.",
        "verdict": "Verdict", "tier_moves": "Tier moves", "layer_moves": "Layer moves", "newcomers": "Newcomers",
        "flagged_now": "newly flagged", "dropped": "no longer flagged", "contests": "Contest ranks that change", "goals": "Goal statuses that change",
        "members": "members", "rank": "rank", "award": "award", "sweep": "Sweep", "entry": "Entry"})
}

fn labels_zh() -> Value {
    json!({"title": "模拟", "comparison": "与基线对比", "figure": "指标", "baseline": "基线",
        "held_fixed": "成员行为保持不变：每个场景都在同一批已存事件上按新规则重算；真实成员会对新的激励做出反应。",
        "verdict": "结论", "tier_moves": "等级变化", "layer_moves": "分层变化", "newcomers": "高潜新人",
        "flagged_now": "新入选", "dropped": "不再入选", "contests": "名次变化的竞赛", "goals": "状态变化的目标",
        "members": "人", "rank": "名次", "award": "奖项", "sweep": "参数扫描", "entry": "作品"})
}

const HTML: &str = include_str!("../../templates/simulation.html");
const MD: &str = include_str!("../../templates/simulation.md");

fn render(out: &Path, ctx: &Value) -> Result<()> {
    let mut env = crate::templating::sandboxed_environment();
    env.add_template("simulation.html", HTML)?;
    env.add_template("simulation.md", MD)?;
    for name in ["simulation.html", "simulation.md"] {
        let text = crate::templating::render_bounded(&env.get_template(name)?, ctx)?;
        crate::store::write_atomic(&out.join(name), &text)?;
    }
    Ok(())
}
