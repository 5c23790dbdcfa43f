//! `koc explain`'s text form (SPEC §13): the summary (`explain_summary`), then the
//! details grouped (a repeated award or cut is one line with its count), in the
//! program's locale with display names.
use crate::output::explain_summary::{cuts, limit_name, summary, Extras};
use serde_json::Value;

/// The explanation as text for a person, in the program's locale.
pub fn render_text(v: &Value, x: &Extras, en: bool) -> Vec<String> {
    let t = |zh: &'static str, e: &'static str| if en { e } else { zh };
    let s = |x: &Value| match x {
        Value::String(s) => s.clone(),
        Value::Null => "—".into(),
        other => other.to_string(),
    };
    let mut out = summary(v, x, en);
    out.push(String::new());
    out.push(format!(
        "{} · {} {}",
        t("明细", "Details"),
        t("加入于", "joined"),
        s(&v["joined"])
    ));
    let p = &v["points"];
    out.push(String::new());
    out.push(format!(
        "{}: {} {} · {} {} · {} {} · {} {}",
        t("积分", "Points"),
        t("获得", "earned"),
        s(&p["earned"]),
        t("兑换", "redeemed"),
        s(&p["redeemed"]),
        t("过期", "expired"),
        s(&p["expired"]),
        t("余额", "balance"),
        s(&p["balance"])
    ));
    let entries: Vec<&Value> = p["entries"].as_array().into_iter().flatten().collect();
    // a once-only rule that already paid is not a loss: counted, not listed
    let used_up = |e: &Value| e["capped_by"] == "max_times" && e["awarded"].as_i64() == Some(0);
    // per rule: awards, points before and after the limits
    let mut by_rule: Vec<(String, usize, i64, i64)> = Vec::new();
    for e in entries.iter().filter(|e| !used_up(e)) {
        let rule = s(&e["rule_id"]);
        let (raw, awarded) = (e["raw"].as_i64().unwrap_or(0), e["awarded"].as_i64().unwrap_or(0));
        match by_rule.iter_mut().find(|r| r.0 == rule) {
            Some(r) => {
                r.1 += 1;
                r.2 += raw;
                r.3 += awarded;
            }
            None => by_rule.push((rule, 1, raw, awarded)),
        }
    }
    for (rule, count, raw, awarded) in &by_rule {
        let (raw, awarded) = (koc_engine::fmt::thousands(*raw), koc_engine::fmt::thousands(*awarded));
        out.push(match en {
            true => format!(
                "  {}: {count} award{}, {raw} → {awarded} points",
                x.name(rule),
                if *count == 1 { "" } else { "s" }
            ),
            false => format!("  {}：{count} 次，{raw} → {awarded} 分", x.name(rule)),
        });
    }
    for (rule, limit, points, times) in cuts(v) {
        let points = koc_engine::fmt::thousands(points);
        out.push(match en {
            true => format!(
                "    {} cut {points} points of {} ({times}×)",
                limit_name(&limit, en),
                x.name(&rule)
            ),
            false => format!(
                "    {}截去{}的 {points} 分（{times} 次）",
                limit_name(&limit, en),
                x.name(&rule)
            ),
        });
    }
    let hidden = entries.iter().filter(|e| used_up(e)).count();
    if hidden > 0 {
        out.push(format!(
            "  {}",
            if en {
                format!("{hidden} entries of once-only rules that had already paid are left out (see --format json)")
            } else {
                format!("另有 {hidden} 条一次性规则（已发放过）的记录未列出（见 --format json）")
            }
        ));
    }
    for r in p["redemptions"].as_array().into_iter().flatten() {
        out.push(format!(
            "  {} {} {} {} {}: {} ({} {})",
            t("兑换", "redemption"),
            s(&r["date"]),
            s(&r["redemption_id"]),
            s(&r["item"]),
            s(&r["points"]),
            s(&r["status"]),
            t("之后余额", "balance after"),
            s(&r["balance_after"])
        ));
    }
    let tier = &v["tier"];
    if !tier.is_null() {
        out.push(String::new());
        out.push(format!(
            "{}: {} ({} {}) · {} {} · {} {} ({})",
            t("等级", "Tier"),
            x.name(&s(&tier["tier"])),
            t("自", "since"),
            s(&tier["since"]),
            t("有效积分", "qualifying points"),
            s(&tier["qualifying_points"]),
            t("下一级", "next"),
            tier["next_tier"]
                .as_str()
                .map(|id| x.name(id))
                .unwrap_or_else(|| "—".into()),
            s(&tier["points_to_next"])
        ));
        if let Some(g) = tier["grace"].as_object() {
            out.push(format!(
                "  {} {} · {} {} · {} {}",
                t("低于门槛自", "below the minimum since"),
                s(&g["below_since"]),
                t("若不再获得积分将于此日降级", "demoted if nothing is earned on"),
                s(&g["demotion_on"]),
                t("保级还差", "points needed to keep it"),
                s(&g["points_to_keep"])
            ));
        }
        for ch in tier["changes"].as_array().into_iter().flatten() {
            out.push(format!(
                "  {} {} → {} ({} {})",
                s(&ch["date"]),
                x.name(&s(&ch["from"])),
                x.name(&s(&ch["to"])),
                t("有效积分", "qualifying points"),
                s(&ch["qualifying_points"])
            ));
        }
    }
    let layer = &v["layer"];
    if !layer.is_null() {
        out.push(String::new());
        out.push(format!(
            "{}: {} ({} {})",
            t("分层", "Layer"),
            x.name(&s(&layer["layer"])),
            t("自", "since"),
            s(&layer["since"])
        ));
        let snapshots: Vec<&Value> = layer["snapshots"].as_array().into_iter().flatten().collect();
        // the month ends before D on one line; D's levels one by one, with what failed
        if snapshots.len() > 1 {
            let earlier: Vec<String> = snapshots[..snapshots.len() - 1]
                .iter()
                .map(|snap| {
                    let by = match snap["by"].as_str() {
                        Some("override") => t("（人工）", " (set by hand)"),
                        _ => "",
                    };
                    format!("{} {}{by}", s(&snap["date"]), x.name(&s(&snap["layer"])))
                })
                .collect();
            out.push(format!(
                "  {}: {}",
                t("此前的月末", "earlier month ends"),
                earlier.join(" · ")
            ));
        }
        if let Some(snap) = snapshots.last() {
            for l in snap["levels"].as_array().into_iter().flatten() {
                let id = s(&l["layer"]);
                let name = x.name(&id);
                let matched = l["matched"] == true;
                let miss = x.layer_misses.iter().find(|m| m.layer == name);
                let why = match (matched, miss) {
                    (true, _) => t("条件成立", "its condition holds").to_string(),
                    (false, Some(m)) => match en {
                        true => format!("`{}` is false ({})", m.part, m.shown(", ")),
                        false => format!("`{}` 不成立（{}）", m.part, m.shown("，")),
                    },
                    (false, None) => t("条件不成立", "its condition is false").to_string(),
                };
                out.push(format!("  {} {name}: {why}", if matched { "✓" } else { "✗" }));
            }
        }
    }
    let sc = &v["scouting"];
    if !sc.is_null() {
        out.push(String::new());
        if sc["candidate"] == true {
            out.push(format!(
                "{}: {} {} · {} {} · {} {}",
                t("高潜新人", "Scouting"),
                t("得分", "score"),
                s(&sc["score"]),
                t("排名", "rank"),
                s(&sc["rank"]),
                t("入选", "flagged"),
                if sc["flagged"] == true {
                    t("是", "yes")
                } else {
                    t("否", "no")
                }
            ));
            for f in sc["features"].as_array().into_iter().flatten() {
                out.push(format!(
                    "  {} = {} (p {})",
                    x.name(&s(&f["name"])),
                    s(&f["value"]),
                    s(&f["percentile"])
                ));
            }
        } else {
            out.push(crate::output::explain_summary::scouting_line(sc, x, en));
        }
    }
    for k in v["contests"].as_array().into_iter().flatten() {
        out.push(format!(
            "{} {} {}: {} {} {}",
            t("竞赛", "Contest"),
            s(&k["contest_id"]),
            s(&k["entry_id"]),
            s(&k["status"]),
            s(&k["rank"]),
            s(&k["award"])
        ));
    }
    if let Some(g) = v["growth"].as_object() {
        out.push(growth_line(g, x, en));
    }
    for o in v["care"].as_array().into_iter().flatten() {
        out.push(format!(
            "{} {} {} {}",
            t("关怀", "Care"),
            s(&o["date"]),
            occasion(&s(&o["occasion"]), en),
            s(&o["detail"])
        ));
    }
    for b in v["badges"].as_array().into_iter().flatten() {
        let state = match b["awarded_on"].as_str() {
            Some(day) => format!(
                "{} {day} ({} {})",
                t("获得于", "earned on"),
                t("事件", "event"),
                s(&b["event_id"])
            ),
            None => format!("{} {} / {}", t("进度", "progress"), s(&b["progress"]), s(&b["goal"])),
        };
        out.push(format!("{} {}: {state}", t("勋章", "Badge"), s(&b["name"])));
    }
    out
}

/// A care occasion's name in the language.
fn occasion(id: &str, en: bool) -> String {
    let labels = crate::output::report::report_labels(en);
    labels["occasion"][id].as_str().unwrap_or(id).to_string()
}

/// The growth stage by its label and why, in the language (the JSON's `why` is English).
fn growth_line(g: &serde_json::Map<String, Value>, x: &Extras, en: bool) -> String {
    let labels = crate::output::report::report_labels(en);
    let stage = g["stage"].as_str().unwrap_or("");
    let name = labels["stage"][stage].as_str().unwrap_or(stage);
    let n = |k: &str| g[k].as_u64().unwrap_or(0);
    let specialty = g["specialty"].as_str().map(|s| x.name(s)).unwrap_or_default();
    let why = match (stage, en) {
        ("lead", false) => format!("正在带 {} 名学员", n("active_mentees")),
        ("collaborate", false) => format!("完成过 {} 个团队项目", n("completed_teams")),
        ("specialise", false) => format!("擅长方向：{specialty}"),
        ("explore", false) => "还没有学员、完成的团队项目或擅长方向".to_string(),
        _ => g["why"].as_str().unwrap_or("").to_string(),
    };
    match en {
        true => format!("Growth path: {name} — {why}"),
        false => format!("成长路径：{name}（{why}）"),
    }
}
