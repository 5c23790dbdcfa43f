//! `koc simulate` (SPEC §12): the same stored history under changed rules, side by
//! side with the baseline. The events are read once; the store is never written.
use crate::output::{p, t, Table};
use anyhow::{Context, Result};
use koc_engine::compute::Computed;
use koc_engine::model::Dataset;
use koc_engine::pipeline::config::{self, Loaded};
use koc_engine::pipeline::program::Program;
use koc_engine::store::Store;
use std::collections::BTreeMap;
use std::path::PathBuf;

mod page;
use page::{context, render};

pub struct Request {
    pub pipeline: PathBuf,
    pub scenarios: Vec<PathBuf>,
    pub sets: Vec<String>,
    pub sweep: Option<String>,
    pub as_of: Option<String>,
    pub out: Option<PathBuf>,
    /// A line naming the stage at a terminal.
    pub progress: bool,
}

struct Variant {
    name: String,
    loaded: Program,
}

/// Build the variants: each scenario file (with every --set on top), or one variant of
/// the --set values alone, or one per sweep value.
fn variants(base: &Loaded, req: &Request) -> Result<Vec<Variant>> {
    let base_value: serde_json::Value = serde_saphyr::from_str(&base.text)?;
    let mut specs: Vec<(String, serde_json::Value)> = Vec::new();
    // where each scenario's own text is, to report its mistakes at its own lines
    let mut sources: std::collections::HashMap<String, (PathBuf, String)> = Default::default();
    for file in &req.scenarios {
        let text = std::fs::read_to_string(file)
            .map_err(|e| koc_engine::error::usage_err(format!("cannot read scenario {}: {e}", file.display())))?;
        let overlay: serde_json::Value = serde_saphyr::from_str(&text)
            .map_err(|e| koc_engine::error::usage_err(format!("{}: {}", file.display(), e.without_snippet())))?;
        let mut v = base_value.clone();
        koc_engine::pipeline::overlay::merge(&mut v, &overlay);
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
            koc_engine::pipeline::overlay::set(v, s)?;
        }
    }
    if let Some(sweep) = &req.sweep {
        let (path, values) = sweep
            .split_once('=')
            .ok_or_else(|| koc_engine::error::usage_err(format!("--sweep '{sweep}': expected PATH=V1,V2,...")))?;
        for value in values.split(',') {
            let mut v = base_value.clone();
            for s in &req.sets {
                koc_engine::pipeline::overlay::set(&mut v, s)?;
            }
            koc_engine::pipeline::overlay::set(&mut v, &format!("{path}={value}"))?;
            specs.push((format!("{path}={value}"), v));
        }
    }
    specs
        .into_iter()
        .map(|(name, v)| {
            let text = serde_saphyr::to_string(&v)?;
            let pipeline =
                config::parse_text(&base.path, &text).map_err(|e| scenario_error(e, &name, sources.get(&name)))?;
            let loaded = Loaded::new(base.path.clone(), base.dir.clone(), text, pipeline);
            let loaded = koc_engine::pipeline::check::check(loaded).with_context(|| format!("in scenario {name}"))?;
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
        Some((path, text)) => match config::spans::Spans::of(text).find_key(key).filter(|_| !key.is_empty()) {
            Some(p) => format!("{}:{}:{}", path.display(), p.line, p.col),
            None => path.display().to_string(),
        },
        None => format!("scenario '{name}'"),
    };
    let mut out = format!("{at}: {what}");
    for l in rest {
        out.push('\n');
        out.push_str(l);
    }
    koc_engine::error::usage_err(out)
}

pub struct Outcome {
    pub out: PathBuf,
    pub headline: Table,
}

pub fn simulate(req: &Request) -> Result<Outcome> {
    let base = koc_engine::pipeline::check::check(config::load(&req.pipeline)?)?;
    let vars = variants(base.file(), req)?;
    if vars.is_empty() {
        return Err(koc_engine::error::usage_err(
            "nothing to simulate: give --scenario FILE, --set PATH=VALUE or --sweep PATH=V1,V2",
        ));
    }
    let d = crate::cmd::run::as_of(&base, req.as_of.as_deref())?;
    let out = req
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from(format!("simulation-{}", koc_engine::fmt::fmt_day(d))));
    koc_engine::store::refuse_output_inside(&base.file().store_dir(), &out, "--out")?;
    let _stages = koc_engine::progress::stages(req.progress, "koc simulate");
    koc_engine::progress::stage("loading the store");
    let store = Store::open_read(&base.file().store_dir());
    let ds = Dataset::load(&store, &store.manifest()?, d)?;
    koc_engine::progress::part("koc simulate: baseline");
    let baseline = koc_engine::compute::compute_reusing(&base, &ds, None, koc_engine::compute::Purpose::WhatIf)?;
    // a scenario that leaves points, tiers and layers alone reuses them from the baseline
    let results: Vec<Computed> = vars
        .iter()
        .map(|v| {
            koc_engine::progress::part(&format!("koc simulate: {}", v.name));
            let reuse = koc_engine::compute::reusable(&base, &v.loaded, d)
                .then_some(koc_engine::compute::Reuse { base: &baseline });
            koc_engine::compute::compute_reusing(&v.loaded, &ds, reuse, koc_engine::compute::Purpose::WhatIf)
        })
        .collect::<Result<_>>()?;
    std::fs::create_dir_all(&out).with_context(|| format!("cannot create {}", out.display()))?;

    let names: Vec<String> = std::iter::once("baseline".to_string())
        .chain(vars.iter().map(|v| v.name.clone()))
        .collect();
    let all: Vec<(&Program, &Computed)> = std::iter::once((&base, &baseline))
        .chain(vars.iter().map(|v| &v.loaded).zip(results.iter()))
        .collect();
    let compared = figures(&all);
    let headline = headline_table(&names, &compared);
    let members = members_table(&ds, &names, &all);
    std::fs::write(out.join("simulation_members.csv"), members.to_csv()?)?;
    if req.sweep.is_some() {
        let mut sweep = headline_table(&names[1..], &figures(&all[1..]));
        sweep.name = "sweep".into();
        std::fs::write(out.join("sweep.csv"), transpose(&sweep).to_csv()?)?;
    }
    let ctx = context(&base, &ds, d, &names, &all, &compared, req.sweep.as_deref());
    render(&out, &ctx)?;
    Ok(Outcome { out, headline })
}

/// One value of a compared figure, as the stages give it.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Amount {
    /// Points or members.
    Count(i64),
    /// A goal's status.
    Status(koc_engine::stages::goals::GoalStatus),
    /// A contest's winning entry id (empty: no winner).
    Entry(String),
    /// Of `of` places, how many were filled (mentor matches, team roles).
    Filled { filled: usize, of: usize },
}

impl Amount {
    /// The number a change is measured on (counts only).
    pub(super) fn number(&self) -> Option<f64> {
        match self {
            Amount::Count(n) => Some(*n as f64),
            _ => None,
        }
    }

    fn cell(&self) -> crate::output::Cell {
        match self {
            Amount::Count(n) => crate::output::int(*n),
            Amount::Status(s) => p(s.as_str()),
            Amount::Entry(id) => t(id),
            Amount::Filled { filled, of } => p(format!("{filled} / {of}")),
        }
    }
}

/// One figure of the comparison: its id and its value in the baseline and each scenario.
pub(super) struct Figure {
    pub(super) id: String,
    pub(super) values: Vec<Amount>,
}

/// The compared figures in their order: points, tiers, layers, newcomers, goals,
/// contests, the growth path, badges.
fn figures(all: &[(&Program, &Computed)]) -> Vec<Figure> {
    let mut rows: BTreeMap<usize, Figure> = BTreeMap::new();
    let mut add = |order: usize, id: String, value: Amount| {
        rows.entry(order)
            .or_insert_with(|| Figure { id, values: Vec::new() })
            .values
            .push(value);
    };
    let count = |n: usize| Amount::Count(n as i64);
    for (prog, c) in all {
        let b = &c.points.balances;
        add(
            0,
            "points_issued".into(),
            Amount::Count(b.iter().map(|x| x.earned).sum()),
        );
        add(
            1,
            "points_redeemed".into(),
            Amount::Count(b.iter().map(|x| x.redeemed).sum()),
        );
        add(2, "liability".into(), Amount::Count(b.iter().map(|x| x.balance).sum()));
        for (i, n) in c.members_per_tier().iter().enumerate() {
            add(10 + i, format!("tier {}", c.tier_ids[i]), count(*n));
        }
        for (i, n) in c.members_per_layer().iter().enumerate() {
            add(100 + i, format!("layer {}", c.level_ids[i]), count(*n));
        }
        add(
            200,
            "newcomers_flagged".into(),
            count(c.newcomers.iter().filter(|n| n.flagged).count()),
        );
        for (k, g) in c.goals.iter().enumerate() {
            add(300 + k, format!("goal {}", g.id), Amount::Status(g.status));
        }
        for (k, ct) in c.contests.iter().enumerate() {
            let winner = ct.podium.first().map(|w| w.entry_id.clone()).unwrap_or_default();
            add(400 + k, format!("contest {} winner", ct.id), Amount::Entry(winner));
        }
        // the growth path (SPEC §15): members per stage, matches and filled roles
        if let Some(g) = &c.growth {
            for (k, stage) in koc_engine::stages::growth::Stage::ALL.iter().enumerate() {
                let n = g.standings.iter().flatten().filter(|s| s.stage == *stage).count();
                add(500 + k, format!("stage {}", stage.id()), count(n));
            }
        }
        if let Some(m) = &c.mentor_matches {
            let filled = m.iter().filter(|x| x.mentor.is_some()).count();
            add(600, "mentor_matches".into(), Amount::Filled { filled, of: m.len() });
        }
        // badges (SPEC §16): holders at D, so a sweep of `badges.<id>.count` shows
        // how many members a threshold rewards
        for (k, n) in koc_engine::stages::badges::holders(prog, &c.badges).iter().enumerate() {
            add(
                700 + k,
                format!("badge {}", prog.badges[k].id),
                Amount::Count(*n as i64),
            );
        }
        if let Some(tp) = &c.team_proposals {
            let filled = tp.iter().filter(|x| x.member.is_some()).count();
            add(601, "team_roles_filled".into(), Amount::Filled { filled, of: tp.len() });
        }
    }
    rows.into_values().collect()
}

/// Rows: figures; columns: baseline and each scenario.
fn headline_table(names: &[String], figures: &[Figure]) -> Table {
    let mut cols = vec!["figure".to_string()];
    cols.extend(names.iter().cloned());
    let mut tb = Table::with_columns("simulation", cols);
    for f in figures {
        let mut r = vec![t(&f.id)];
        r.extend(f.values.iter().map(Amount::cell));
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

pub(super) struct MemberView {
    pub(super) tier: String,
    pub(super) layer: String,
    pub(super) balance: i64,
    pub(super) flagged: bool,
}

pub(super) fn view(c: &Computed, i: usize) -> MemberView {
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

fn members_table(ds: &Dataset, names: &[String], all: &[(&Program, &Computed)]) -> Table {
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
                p(koc_engine::fmt::fmt_bool(v.flagged)),
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
