//! The report (SPEC §10): a template context from the computed stages, rendered
//! with minijinja from templates embedded in the binary (overridable by name).
use crate::charts;
use crate::compute::Computed;
use crate::config::Loaded;
use crate::fmt::{fmt_day, fmt_num};
use crate::ingest::IngestReport;
use crate::model::Dataset;
use crate::program::Program;
use crate::store::Manifest;
use anyhow::{Context, Result};
use minijinja::{Environment, UndefinedBehavior};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::Path;

/// The templates built into the binary: (file name, text).
pub const EMBEDDED: [(&str, &str); 2] = [
    ("report.html", include_str!("../../templates/report.html")),
    ("report.md", include_str!("../../templates/report.md")),
];

const LABELS_ZH: &str = include_str!("../../templates/labels.zh-CN.json");
const LABELS_EN: &str = include_str!("../../templates/labels.en.json");

/// Data-quality figures: files, rows, rejects by reason, unknown members.
pub fn quality(manifest: &Manifest, ds: &Dataset, ingest: &IngestReport) -> Value {
    let mut reasons: BTreeMap<String, u64> = BTreeMap::new();
    let mut totals = crate::store::Counts::default();
    for f in &manifest.files {
        totals.add(&f.counts);
        for (r, n) in &f.reject_reasons {
            *reasons.entry(r.clone()).or_insert(0) += n;
        }
    }
    let unknown = ds
        .events
        .member
        .iter()
        .filter(|m| !ds.members[**m as usize].listed)
        .count();
    json!({
        "files": manifest.files.iter().map(|f| json!({
            "path": f.path, "source": f.source, "encoding": f.encoding,
            "rows": f.counts.rows, "inserted": f.counts.inserted, "updated": f.counts.updated,
            "unchanged": f.counts.unchanged, "ignored": f.counts.ignored, "rejected": f.counts.rejected,
        })).collect::<Vec<_>>(),
        "totals": totals,
        "reasons": reasons.iter().map(|(r, n)| json!({"reason": r, "rows": n})).collect::<Vec<_>>(),
        "events_of_unknown_members": unknown,
        "gated": ingest.gated,
    })
}

/// The report's labels in the program's locale (also used by the simulation page).
pub fn report_labels(en: bool) -> Value {
    serde_json::from_str(if en { LABELS_EN } else { LABELS_ZH }).expect("embedded labels are valid JSON")
}

pub fn context(loaded: &Program, ds: &Dataset, c: &Computed, quality: &Value) -> Result<Value> {
    let p = &loaded.pipeline;
    let en = loaded.locale.is_en();
    let labels = report_labels(en);
    let sep = if en { ", " } else { "、" };
    let pts = &c.points;
    let issued: i64 = pts.balances.iter().map(|b| b.earned).sum();
    let redeemed: i64 = pts.balances.iter().map(|b| b.redeemed).sum();
    let expired: i64 = pts.balances.iter().map(|b| b.expired).sum();
    let liability: i64 = pts.balances.iter().map(|b| b.balance).sum();
    let members = ds.table_members().count();
    let active_30 = ds
        .table_members()
        .filter(|(i, _)| crate::metrics::last_active(ds, *i, c.as_of).is_some_and(|d| d > c.as_of - 30))
        .count();

    let mut tier_counts = vec![0u64; c.tier_ids.len()];
    for s in c.tiers.iter().flatten() {
        tier_counts[s.tier] += 1;
    }
    let tiers: Vec<Value> = p
        .tiers
        .iter()
        .flat_map(|t| &t.levels)
        .enumerate()
        .map(|(i, l)| {
            json!({
                "id": l.id, "name": p.display_name(&l.id), "min": l.min,
                "perks": l.perks.join(sep), "members": tier_counts[i],
            })
        })
        .collect();
    // the members tiers.csv calls promoted / demoted (tier at D against the previous
    // snapshot), so the report and the CSV give the same numbers
    let (mut promotions, mut demotions) = (0, 0);
    if let Some(prev) = c.previous_snapshot {
        for s in c.tiers.iter().flatten() {
            match s.tier_at(prev) {
                Some(before) if s.tier > before => promotions += 1,
                Some(before) if s.tier < before => demotions += 1,
                _ => {}
            }
        }
    }
    let tier_names: Vec<String> = p
        .tiers
        .iter()
        .flat_map(|t| &t.levels)
        .map(|l| l.name.clone().unwrap_or_else(|| l.id.clone()))
        .collect();
    let mut grace: Vec<Value> = ds
        .table_members()
        .filter_map(|(i, m)| {
            let s = c.tiers[i].as_ref()?;
            let b = s.below_since?;
            Some(
                json!({"member_id": m.id, "nickname": m.nickname, "tier": tier_names[s.tier],
            "below_since": fmt_day(b), "demotion_on": s.demotion_on.map(fmt_day)}),
            )
        })
        .collect();
    grace.sort_by(|a, b| a["demotion_on"].as_str().cmp(&b["demotion_on"].as_str()));

    let layer_names: Vec<String> = p
        .layers
        .iter()
        .flat_map(|l| &l.levels)
        .map(|l| l.name.clone().unwrap_or_else(|| l.id.clone()))
        .collect();
    let mut layer_counts = vec![0u64; c.level_ids.len()];
    for l in c.layer_at_d.iter().flatten() {
        layer_counts[*l] += 1;
    }
    let layers: Vec<Value> = c
        .level_ids
        .iter()
        .enumerate()
        .map(|(i, id)| json!({"id": id, "name": layer_names[i], "members": layer_counts[i]}))
        .collect();
    let new_member = labels["new_member"].as_str().unwrap_or("(new)");
    let movements: Vec<Value> = crate::layers::movements(ds, &c.history, &c.layer_at_d)
        .iter()
        .map(|m| {
            json!({"from": m.from.map_or(new_member, |l| &layer_names[l]), "to": layer_names[m.to],
                   "members": m.members.to_string()})
        })
        .collect();

    let flagged: Vec<Value> = c.newcomers.iter().filter(|n| n.flagged).map(|n| {
        let m = &ds.members[n.member];
        let reasons: Vec<Value> = n.reason_parts.iter().map(|r| json!({"name": p.display_name(&r.metric), "value": crate::templating::people_number(r.value), "percentile": r.percentile})).collect();
        json!({"member_id": m.id, "nickname": m.nickname, "score": format!("{:.2}", n.score), "rank": n.rank, "reasons": reasons, "specialty": n.specialty})
    }).collect();
    let economy = economy(p, ds, c, &labels);
    let (by_item, refused_list, expiring_30d) = (economy.0, economy.1, economy.2);
    let contests: Vec<Value> = c.contests.iter().map(|k| json!({
        "judges": judges(&k.judge_stats),
        "near_misses": k.podium.iter().filter(|x| !x.has_award()).take(3).map(|x| json!({"rank": x.rank, "entry_id": x.entry_id, "member_id": x.member_id, "nickname": ds.nickname(&x.member_id), "final": fmt_num(x.final_score)})).collect::<Vec<_>>(),
        "id": k.id, "name": k.name,
        "podium": k.podium.iter().filter(|x| x.has_award()).map(|x| json!({"rank": x.rank, "entry_id": x.entry_id, "member_id": x.member_id, "nickname": ds.nickname(&x.member_id), "final": fmt_num(x.final_score), "award": x.award})).collect::<Vec<_>>(),
        "ranked": k.podium.len(), "entries": k.table.rows.len(), "rejected_scores": k.rejected_by_reason.values().sum::<u64>(),
    })).collect();
    let goals: Vec<Value> = c.goals.iter().map(|g| json!({
        "id": g.id, "name": g.name, "period_from": fmt_day(g.from), "period_to": fmt_day(g.to),
        "baseline": g.baseline.map(fmt_num), "target": g.target.map(fmt_num), "actual": g.actual.map(fmt_num),
        "projection": g.projection.map(fmt_num), "elapsed": format!("{:.0}%", g.elapsed * 100.0), "status": g.status.as_str(),
        "status_label": labels["status"][g.status.as_str()].as_str().unwrap_or(g.status.as_str()),
        "incentives": g.incentives.iter().map(|i| p.display_name(i)).collect::<Vec<_>>().join(sep),
        "trend": g.trend.iter().map(|(a, _, v)| json!({"week_from": fmt_day(*a), "value": v.map(fmt_num)})).collect::<Vec<_>>(),
        "chart": goal_chart(p, g, &labels),
        "ratio": p.goals.iter().any(|x| x.id == g.id && x.measure.ratio.is_some()),
    })).collect();
    let care: Vec<Value> = c
        .care
        .iter()
        .map(|o| {
            let m = &ds.members[o.member];
            json!({"date": fmt_day(o.day), "member_id": m.id, "nickname": m.nickname,
            "layer": c.layer_at_d[o.member].map(|l| layer_names[l].clone()),
            "occasion": labels["occasion"][o.occasion.as_str()].as_str().unwrap_or(o.occasion.as_str()), "detail": care_detail(p, ds, o, en)})
        })
        .collect();
    let incentives: Vec<Value> = c.incentives.iter().map(|i| json!({
        "name": p.display_name(&i.name), "goals": i.goals.iter().map(|g| p.display_name(g)).collect::<Vec<_>>().join(sep), "responses": i.responses,
        "mean_rating": i.mean_rating.map(crate::templating::people_number), "share_4plus": i.share_4plus.map(|x| format!("{:.0}%", x * 100.0)),
        "comments": i.comments, "recommendation": i.recommendation,
        "recommendation_label": labels["recommendation"][i.recommendation].as_str().unwrap_or(i.recommendation),
    })).collect();
    // judge scores rejected by the contests count as data quality too (SPEC §9)
    let mut score_rejects: Vec<(&str, &str, u64)> = c
        .contests
        .iter()
        .flat_map(|k| k.rejected_by_reason.iter().map(|(r, n)| (k.id.as_str(), *r, *n)))
        .collect();
    score_rejects.sort_unstable();
    let mut quality = quality.clone();
    quality["judge_score_rejects"] = score_rejects
        .into_iter()
        .map(|(contest, reason, n)| json!({"contest": p.display_name(contest), "reason": reason, "scores": n}))
        .collect();
    let on_track = c.goals.iter().filter(|g| g.status.is_good()).count();
    Ok(json!({
        "lang": loaded.locale.as_str(),
        "t": labels,
        "program": {"name": p.program.name, "start": p.program.start, "timezone": p.program.timezone},
        "as_of": fmt_day(c.as_of),
        "headline": {
            "members": members, "active_30d": active_30, "points_issued": issued, "points_redeemed": redeemed,
            "points_expired": expired, "liability": liability, "flagged_newcomers": flagged.len(),
            "goals": c.goals.len(), "goals_on_track": on_track, "care_occasions": care.len(),
        },
        "goals": goals,
        "points": {"issued": issued, "redeemed": redeemed, "expired": expired, "liability": liability,
            "redemptions": pts.redemptions.len(),
            "refused": pts.redemptions.iter().filter(|r| r.status != crate::points::RedemptionStatus::Ok).count(),
            "redemption_rate": if issued > 0 { Some(redeemed as f64 / issued as f64) } else { None },
            "by_item": by_item, "refused_list": refused_list, "expiring_30d": expiring_30d,
            "chart": charts::bars(&[
                (labels["points_issued"].as_str().unwrap_or("issued").to_string(), issued as f64),
                (labels["points_redeemed"].as_str().unwrap_or("redeemed").to_string(), redeemed as f64),
                (labels["points_expired"].as_str().unwrap_or("expired").to_string(), expired as f64),
                (labels["liability"].as_str().unwrap_or("liability").to_string(), liability as f64),
            ])},
        "tiers": tiers,
        "tier_chart": charts::bars(&p.tiers.iter().flat_map(|t| &t.levels).enumerate().map(|(i, l)| (l.name.clone().unwrap_or_else(|| l.id.clone()), tier_counts[i] as f64)).collect::<Vec<_>>()),
        "tier_changes": {"promotions": promotions, "demotions": demotions},
        "grace": grace,
        "layers": layers,
        "layer_chart": charts::bars(&layers.iter().map(|l| (l["name"].as_str().unwrap_or("").to_string(), l["members"].as_f64().unwrap_or(0.0))).collect::<Vec<_>>()),
        "movement_matrix": movement_matrix(&movements, &layer_names, new_member),
        "movements": movements,
        "newcomers": flagged,
        "contests": contests,
        "care": care,
        "incentives": incentives,
        "actions": crate::actions::compute(p, ds, c),
        "hall_of_fame": crate::report_growth::hall_of_fame(p, ds, c, &labels),
        "growth": crate::report_growth::growth(p, ds, c, &labels, &layer_names),
        "quality": quality,
    }))
}

/// The movements as a from × to grid: rows `(new)` then the levels from the top,
/// columns the levels; a cell is the members who moved so (empty when none).
fn movement_matrix(movements: &[Value], layer_names: &[String], new: &str) -> Value {
    let rows: Vec<String> = std::iter::once(new.to_string())
        .chain(layer_names.iter().cloned())
        .collect();
    let cell = |from: &str, to: &str| {
        movements
            .iter()
            .find(|m| m["from"] == from && m["to"] == to)
            .and_then(|m| m["members"].as_str().map(str::to_string))
            .unwrap_or_default()
    };
    let grid: Vec<Value> = rows
        .iter()
        .filter(|from| layer_names.iter().any(|to| !cell(from, to).is_empty()))
        .map(|from| json!({"from": from, "cells": layer_names.iter().map(|to| cell(from, to)).collect::<Vec<_>>()}))
        .collect();
    json!({"to": layer_names, "rows": grid})
}

/// A care occasion's detail for people: `53 岁`, `1 周年`, tier names, the post's content id.
fn care_detail(p: &crate::config::Pipeline, ds: &Dataset, o: &crate::care::Occasion, en: bool) -> String {
    use crate::care::{About, Kind};
    let tier = |k: usize| {
        p.tiers
            .as_ref()
            .and_then(|t| t.levels.get(k))
            .map(|l| l.name.clone().unwrap_or_else(|| l.id.clone()))
            .unwrap_or_default()
    };
    match (o.about, en) {
        (About::Years(1), true) if o.occasion != Kind::Birthday => "1st anniversary".into(),
        (About::Years(y), true) if o.occasion == Kind::Birthday => format!("turns {y}"),
        (About::Years(y), true) => format!("{y} years"),
        (About::Years(y), false) if o.occasion == Kind::Birthday => format!("{y} 岁"),
        (About::Years(y), false) => format!("{y} 周年"),
        (About::Promotion(a, b), _) => format!("{} → {}", tier(a), tier(b)),
        (About::Event(e), _) => ds.events.content_id(e).unwrap_or(ds.events.id(e)).to_string(),
    }
}

/// An honest goal chart: count and sum goals as the cumulative actual against the
/// target pro-rated over the period; mean and ratio goals week by week against the
/// target; the partial last week marked, not drawn as a collapse.
fn goal_chart(p: &crate::config::Pipeline, g: &crate::goals::GoalResult, labels: &Value) -> String {
    let cumulative = p
        .goals
        .iter()
        .find(|x| x.id == g.id)
        .is_some_and(|x| x.measure.ratio.is_none() && x.measure.mean.is_none());
    let span = (g.to - g.from + 1).max(1) as f64;
    let mut running = 0.0;
    let points: Vec<(String, Option<f64>, Option<f64>)> = g
        .trend
        .iter()
        .map(|(a, b, v)| {
            let label = fmt_day(*a)[5..].to_string();
            if cumulative {
                running += v.unwrap_or(0.0);
                (
                    label,
                    Some(running),
                    g.target.map(|t| t * (b - g.from + 1) as f64 / span),
                )
            } else {
                (label, *v, g.target)
            }
        })
        .collect();
    let partial_last = g.trend.last().is_some_and(|(a, b, _)| b - a + 1 < 7);
    let text = |k: &str| labels[k].as_str().unwrap_or(k).to_string();
    charts::goal(&charts::GoalSeries {
        points: &points,
        partial_last,
        y_title: &text(if cumulative { "chart_cumulative" } else { "chart_weekly" }),
        partial_label: &text("chart_partial"),
    })
}

/// Redemptions by item (accepted), refused redemptions with the reason, and the points
/// that expire in the 30 days after D (still unspent).
fn economy(p: &crate::config::Pipeline, ds: &Dataset, c: &Computed, labels: &Value) -> (Vec<Value>, Vec<Value>, i64) {
    let mut items: BTreeMap<&str, (u64, i64)> = BTreeMap::new();
    let mut refused = Vec::new();
    for o in &c.points.redemptions {
        let r = &ds.redemptions[o.redemption];
        if o.status == crate::points::RedemptionStatus::Ok {
            let e = items.entry(r.item.as_str()).or_default();
            e.0 += 1;
            e.1 += r.points;
        } else {
            refused.push(
                json!({"date": fmt_day(crate::fmt::day_of_ts(r.ts)), "member_id": r.member_id,
                "nickname": ds.nickname(&r.member_id), "item": r.item, "points": r.points,
                "reason": labels["redemption_status"][o.status.as_str()].as_str().unwrap_or(o.status.as_str())}),
            );
        }
    }
    let mut by_item: Vec<Value> = items
        .into_iter()
        .map(|(item, (n, pts))| json!({"item": item, "redemptions": n, "points": pts}))
        .collect();
    by_item.sort_by(|a, b| b["points"].as_i64().cmp(&a["points"].as_i64()));
    let d = c.as_of;
    let expiring = crate::points::expiring_between(p, ds, &c.points, d, d + 30);
    (by_item, refused, expiring)
}

/// A contest's judges: scores given, overall raw mean and spread, and how far their
/// mean is from the panel's (lenient > 0, harsh < 0).
fn judges(stats: &[crate::contests::JudgeStats]) -> Vec<Value> {
    let panel = if stats.is_empty() {
        0.0
    } else {
        stats.iter().map(|j| j.mean_raw).sum::<f64>() / stats.len() as f64
    };
    stats
        .iter()
        .map(|j| {
            json!({"judge_id": j.judge_id, "scores": j.scores.to_string(), "mean_raw": fmt_num(j.mean_raw), "sd_raw": fmt_num(j.sd_raw),
                   "vs_panel": format!("{:+.2}", j.mean_raw - panel)})
        })
        .collect()
}

/// The headline figures against the latest earlier run folder of the store (its
/// run.json keeps them), when there is one: `changes.<figure>` = {before, delta}.
pub fn add_changes(ctx: &mut Value, runs: &Path, as_of: &str) {
    let Ok(entries) = std::fs::read_dir(runs) else { return };
    let previous = entries
        .flatten()
        .map(|e| e.file_name().to_string_lossy().to_string())
        .filter(|n| n.len() == 10 && crate::timestamps::parse_day(n).is_some() && n.as_str() < as_of)
        .max();
    let Some(previous) = previous else { return };
    let Ok(text) = std::fs::read_to_string(runs.join(&previous).join("run.json")) else {
        return;
    };
    let Ok(old) = serde_json::from_str::<Value>(&text) else {
        return;
    };
    let mut changes = serde_json::Map::new();
    if let (Some(now), Some(before)) = (ctx["headline"].as_object(), old["headline"].as_object()) {
        for (k, v) in now {
            if let (Some(a), Some(b)) = (v.as_f64(), before.get(k).and_then(Value::as_f64)) {
                let delta = a - b;
                let shown = match delta {
                    d if d > 0.0 => format!("▲ {}", crate::templating::people_number(d)),
                    d if d < 0.0 => format!("▼ {}", crate::templating::people_number(-d)),
                    _ => "=".to_string(),
                };
                changes.insert(k.clone(), json!({"before": b, "delta": delta, "shown": shown}));
            }
        }
    }
    ctx["changes"] = Value::Object(changes);
    ctx["previous_run"] = json!(previous);
}

/// What this run adds to the report context (SPEC §11): a banner for every warning
/// and every gated file, and tonight's files (the store's latest ingest) with their
/// counts. Only what the store, pipeline and D fix goes in, so a re-run is identical:
/// per-ingest notes (an empty file) show as that file's row and a banner from it.
pub fn add_run_notes(ctx: &mut Value, warnings: &[crate::ingest::Warning], gated: &[String], manifest: &Manifest) {
    let en = ctx["lang"] == "en";
    let mut banners: Vec<Value> = warnings
        .iter()
        .filter(|w| w.code != "empty_file")
        .map(|w| json!({"kind": "warning", "code": w.code, "message": w.message}))
        .collect();
    for f in manifest.last_batch().filter(|f| f.counts.rows == 0) {
        let message = if en {
            format!("{} has no rows: check that the export is complete", f.path)
        } else {
            format!("{} 没有数据行：请确认导出是否完整", f.path)
        };
        banners.push(json!({"kind": "warning", "code": "empty_file", "message": message}));
    }
    for path in gated {
        let message = if en {
            format!("{path} was held back: too many rejected rows (see its rejects file); the figures below do not include it")
        } else {
            format!("{path} 拒收行过多，本次未入库（见其 rejects 文件）；以下数字不含该文件")
        };
        banners.push(json!({"kind": "gated", "code": "gated_file", "message": message}));
    }
    ctx["banners"] = Value::Array(banners);
    ctx["tonight"] = manifest
        .last_batch()
        .map(|f| {
            json!({"path": f.path, "source": f.source,
            "rows": f.counts.rows, "inserted": f.counts.inserted, "updated": f.counts.updated,
            "unchanged": f.counts.unchanged, "ignored": f.counts.ignored, "rejected": f.counts.rejected})
        })
        .collect();
}

/// Render every template into `dir`; `report.templates` overrides embedded ones by name.
pub fn render_all(loaded: &Loaded, ctx: &Value, dir: &Path) -> Result<()> {
    let env = environment(loaded)?;
    for (name, _) in EMBEDDED {
        let tmpl = env.get_template(name)?;
        let out = crate::templating::render_bounded(&tmpl, ctx).with_context(|| format!("rendering {name}"))?;
        crate::store::write_atomic(&dir.join(name), &out)?;
    }
    Ok(())
}

fn environment(loaded: &Loaded) -> Result<Environment<'static>> {
    let mut env = crate::templating::sandboxed_environment();
    env.set_undefined_behavior(UndefinedBehavior::SemiStrict);
    let override_dir = loaded
        .pipeline
        .report
        .as_ref()
        .and_then(|r| r.templates.as_ref())
        .map(|d| loaded.resolve(d));
    env.set_loader(move |name| {
        // only plain file names from the templates folder: no `../`, no absolute paths
        if name.is_empty() || name.contains(['/', '\\']) || name.starts_with('.') {
            return Err(minijinja::Error::new(
                minijinja::ErrorKind::InvalidOperation,
                format!("template '{name}': only file names of the report.templates folder can be loaded"),
            ));
        }
        if let Some(dir) = &override_dir {
            let path = dir.join(name);
            match std::fs::read_to_string(&path) {
                Ok(text) => return Ok(Some(text)),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => {
                    return Err(minijinja::Error::new(
                        minijinja::ErrorKind::InvalidOperation,
                        format!("cannot read {}", path.display()),
                    )
                    .with_source(e))
                }
            }
        }
        Ok(EMBEDDED.iter().find(|(n, _)| *n == name).map(|(_, t)| t.to_string()))
    });
    Ok(env)
}
