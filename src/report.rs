//! The report (SPEC §10): a template context from the computed stages, rendered
//! with minijinja from templates embedded in the binary (overridable by name).
use crate::charts;
use crate::compute::Computed;
use crate::config::Loaded;
use crate::fmt::{fmt_day, fmt_num};
use crate::ingest::IngestReport;
use crate::model::Dataset;
use crate::store::Manifest;
use anyhow::{Context, Result};
use minijinja::{Environment, UndefinedBehavior};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::Path;

/// The templates built into the binary: (file name, text).
pub const EMBEDDED: [(&str, &str); 2] = [
    ("report.html", include_str!("../templates/report.html")),
    ("report.md", include_str!("../templates/report.md")),
];

const LABELS_ZH: &str = include_str!("../templates/labels.zh-CN.json");
const LABELS_EN: &str = include_str!("../templates/labels.en.json");

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
    let unknown = ds.events.iter().filter(|e| !ds.members[e.member].listed).count();
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
        "warnings": ingest.warnings,
    })
}

pub fn context(loaded: &Loaded, ds: &Dataset, c: &Computed, quality: &Value) -> Result<Value> {
    let p = &loaded.pipeline;
    let labels: Value = serde_json::from_str(if p.program.locale == "en" { LABELS_EN } else { LABELS_ZH })?;
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
                "id": l.id, "name": l.name.clone().unwrap_or_else(|| l.id.clone()), "min": l.min,
                "perks": l.perks.join("、"), "members": tier_counts[i],
            })
        })
        .collect();
    let (mut promotions, mut demotions) = (0, 0);
    for s in c.tiers.iter().flatten() {
        for ch in s
            .changes
            .iter()
            .filter(|ch| c.previous_snapshot.is_none_or(|d| ch.day > d))
        {
            if ch.to > ch.from {
                promotions += 1
            } else {
                demotions += 1
            }
        }
    }
    let mut grace: Vec<Value> = ds
        .table_members()
        .filter_map(|(i, m)| {
            let s = c.tiers[i].as_ref()?;
            let b = s.below_since?;
            Some(
                json!({"member_id": m.id, "nickname": m.nickname, "tier": c.tier_ids[s.tier],
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
    let movements = c
        .table("layer_movements")
        .map(|t| {
            t.rows
                .iter()
                .map(|r| {
                    json!({
        "from": r[0].as_str(), "to": r[1].as_str(), "members": r[2].as_str()})
                })
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();

    let flagged: Vec<Value> = c.newcomers.iter().filter(|n| n.flagged).map(|n| {
        let m = &ds.members[n.member];
        json!({"member_id": m.id, "nickname": m.nickname, "score": fmt_num(n.score), "rank": n.rank, "reasons": n.reasons, "specialty": n.specialty})
    }).collect();
    let contests: Vec<Value> = c.contests.iter().map(|k| json!({
        "id": k.id, "name": k.name,
        "podium": k.podium.iter().filter(|x| !x.4.is_empty()).map(|(rank, e, m, f, a)| json!({"rank": rank, "entry_id": e, "member_id": m, "nickname": ds.nickname(m), "final": fmt_num(*f), "award": a})).collect::<Vec<_>>(),
        "ranked": k.podium.len(), "entries": k.table.rows.len(), "rejected_scores": k.rejects.rows.len(),
    })).collect();
    let goals: Vec<Value> = c.goals.iter().map(|g| json!({
        "id": g.id, "name": g.name, "period_from": fmt_day(g.from), "period_to": fmt_day(g.to),
        "baseline": g.baseline.map(fmt_num), "target": g.target.map(fmt_num), "actual": g.actual.map(fmt_num),
        "projection": g.projection.map(fmt_num), "elapsed": format!("{:.0}%", g.elapsed * 100.0), "status": g.status,
        "status_label": labels["status"][g.status].as_str().unwrap_or(g.status),
        "incentives": g.incentives.join("、"),
        "trend": g.trend.iter().map(|(a, _, v)| json!({"week_from": fmt_day(*a), "value": v.map(fmt_num)})).collect::<Vec<_>>(),
        "chart": charts::line(&g.trend.iter().map(|(a, _, v)| (fmt_day(*a)[5..].to_string(), *v)).collect::<Vec<_>>(), g.target),
    })).collect();
    let care: Vec<Value> = c
        .care
        .iter()
        .map(|o| {
            let m = &ds.members[o.member];
            json!({"date": fmt_day(o.day), "member_id": m.id, "nickname": m.nickname,
            "layer": c.layer_at_d[o.member].map(|l| layer_names[l].clone()),
            "occasion": labels["occasion"][o.occasion].as_str().unwrap_or(o.occasion), "detail": o.detail})
        })
        .collect();
    let incentives: Vec<Value> = c.incentives.iter().map(|i| json!({
        "name": i.name, "goals": i.goals.join("、"), "responses": i.responses,
        "mean_rating": i.mean_rating.map(fmt_num), "share_4plus": i.share_4plus.map(|x| format!("{:.0}%", x * 100.0)),
        "comments": i.comments, "recommendation": i.recommendation,
        "recommendation_label": labels["recommendation"][i.recommendation].as_str().unwrap_or(i.recommendation),
    })).collect();
    // judge scores rejected by the contests count as data quality too (SPEC §9)
    let mut score_rejects: BTreeMap<(String, String), u64> = BTreeMap::new();
    for k in &c.contests {
        for r in &k.rejects.rows {
            *score_rejects
                .entry((k.id.clone(), r[5].as_str().to_string()))
                .or_insert(0) += 1;
        }
    }
    let mut quality = quality.clone();
    quality["judge_score_rejects"] = score_rejects
        .into_iter()
        .map(|((contest, reason), n)| json!({"contest": contest, "reason": reason, "scores": n}))
        .collect();
    let on_track = c
        .goals
        .iter()
        .filter(|g| matches!(g.status, "achieved" | "on_track"))
        .count();
    Ok(json!({
        "lang": if p.program.locale == "en" { "en" } else { "zh-CN" },
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
            "refused": pts.redemptions.iter().filter(|r| r.status != "ok").count(),
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
        "movements": movements,
        "newcomers": flagged,
        "contests": contests,
        "care": care,
        "incentives": incentives,
        "hall_of_fame": crate::report_growth::hall_of_fame(c, &labels),
        "growth": crate::report_growth::growth(ds, c, &labels, &layer_names),
        "quality": quality,
    }))
}

/// Render every template into `dir`; `report.templates` overrides embedded ones by name.
pub fn render_all(loaded: &Loaded, ctx: &Value, dir: &Path) -> Result<()> {
    let env = environment(loaded)?;
    for (name, _) in EMBEDDED {
        let tmpl = env.get_template(name)?;
        let out = tmpl.render(ctx).with_context(|| format!("rendering {name}"))?;
        crate::store::write_atomic(&dir.join(name), out.as_bytes())?;
    }
    Ok(())
}

fn environment(loaded: &Loaded) -> Result<Environment<'static>> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Chainable);
    let override_dir = loaded
        .pipeline
        .report
        .as_ref()
        .and_then(|r| r.templates.as_ref())
        .map(|d| loaded.resolve(d));
    env.set_loader(move |name| {
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
