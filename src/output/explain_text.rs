//! `koc explain`'s text form (SPEC §13): the explain object as lines for a person, in
//! the program's locale.
use serde_json::Value;

/// The explanation as text for a person, in the program's locale.
pub fn render_text(v: &Value, en: bool) -> Vec<String> {
    let t = |zh: &'static str, e: &'static str| if en { e } else { zh };
    let s = |x: &Value| match x {
        Value::String(s) => s.clone(),
        Value::Null => "—".into(),
        other => other.to_string(),
    };
    let mut out = vec![format!(
        "{} {} ({}) · {} {} · {} {}",
        t("成员", "Member"),
        s(&v["member_id"]),
        s(&v["nickname"]),
        t("加入于", "joined"),
        s(&v["joined"]),
        t("截至", "as of"),
        s(&v["as_of"])
    )];
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
    let cap_name = |c: &str| match c {
        "max_times" => t("次数上限", "max_times"),
        "rule_daily_cap" => t("规则每日上限", "the rule's daily cap"),
        "daily_cap" => t("每日积分上限", "the daily cap"),
        _ => "",
    };
    // what each limit cut, summed; a once-only rule that already paid is not a loss
    let used_up = |e: &Value| e["capped_by"] == "max_times" && e["awarded"].as_i64() == Some(0);
    let mut lost: Vec<(&str, i64, usize)> = Vec::new();
    for e in entries.iter().filter(|e| !used_up(e)) {
        let Some(c) = e["capped_by"].as_str() else { continue };
        let cut = e["raw"].as_i64().unwrap_or(0) - e["awarded"].as_i64().unwrap_or(0);
        match lost.iter_mut().find(|(name, ..)| *name == c) {
            Some(x) => {
                x.1 += cut;
                x.2 += 1;
            }
            None => lost.push((c, cut, 1)),
        }
    }
    if !lost.is_empty() {
        let parts: Vec<String> = lost
            .iter()
            .map(|(c, points, n)| {
                format!(
                    "{} −{} ({n} {})",
                    cap_name(c),
                    koc_engine::fmt::thousands(*points),
                    t("条", "entries")
                )
            })
            .collect();
        out.push(format!(
            "  {}: {}",
            t("被上限截去的积分", "points cut by limits"),
            parts.join(" · ")
        ));
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
    for e in entries.iter().filter(|e| !used_up(e)) {
        let cut = match e["capped_by"].as_str() {
            Some(c) => format!(" ({} {})", t("被截断:", "cut by"), cap_name(c)),
            None => String::new(),
        };
        out.push(format!(
            "  {} {} {}: {} → {}{cut}",
            s(&e["date"]),
            s(&e["event_id"]),
            s(&e["rule_id"]),
            s(&e["raw"]),
            s(&e["awarded"])
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
            s(&tier["tier"]),
            t("自", "since"),
            s(&tier["since"]),
            t("有效积分", "qualifying points"),
            s(&tier["qualifying_points"]),
            t("下一级", "next"),
            s(&tier["next_tier"]),
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
                s(&ch["from"]),
                s(&ch["to"]),
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
            s(&layer["layer"]),
            t("自", "since"),
            s(&layer["since"])
        ));
        for snap in layer["snapshots"].as_array().into_iter().flatten() {
            out.push(format!(
                "  {} {} ({})",
                s(&snap["date"]),
                s(&snap["layer"]),
                s(&snap["by"])
            ));
            for l in snap["levels"].as_array().into_iter().flatten() {
                out.push(format!(
                    "    {} {}: {} {}",
                    if l["matched"] == true { "✓" } else { "✗" },
                    s(&l["layer"]),
                    s(&l["when"]),
                    l["values"]
                ));
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
                s(&sc["flagged"])
            ));
            for f in sc["features"].as_array().into_iter().flatten() {
                out.push(format!(
                    "  {} = {} (p {})",
                    s(&f["name"]),
                    s(&f["value"]),
                    s(&f["percentile"])
                ));
            }
        } else {
            out.push(format!(
                "{}: {} — {}",
                t("高潜新人", "Scouting"),
                t("不是候选人", "not a candidate"),
                s(&sc["why_not"])
            ));
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
        out.push(format!(
            "{}: {} — {}",
            t("成长路径", "Growth path"),
            s(&g["stage"]),
            s(&g["why"])
        ));
    }
    for o in v["care"].as_array().into_iter().flatten() {
        out.push(format!(
            "{} {} {} {}",
            t("关怀", "Care"),
            s(&o["date"]),
            s(&o["occasion"]),
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
