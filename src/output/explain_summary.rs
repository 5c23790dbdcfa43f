//! What `koc explain` says first: a summary of at most 15 lines for the team (balance
//! and where it went, what each limit cut, the tier and what keeps or lifts it, the
//! layer and why, newcomer scouting with its cut-off, badges close to earning), and
//! `--format reply`: a few sentences a support agent can paste to the member. Both in
//! the program's language, with display names, never ids of closed sets.
use serde_json::Value;
use std::collections::HashMap;

/// What the text needs besides SPEC §13's JSON: display names, and the reasons the JSON
/// leaves to its reader.
#[derive(Debug, Clone, Default)]
pub struct Extras {
    /// Display names of tiers, layers, rules and badges by id.
    pub names: HashMap<String, String>,
    /// The override holding the member's layer at D, if one does.
    pub override_at_d: Option<OverrideNote>,
    /// At D: each level listed above the member's layer, and the first part of its
    /// condition that is false, with the values it read.
    pub layer_misses: Vec<LayerMiss>,
    /// The first part of `scouting.candidates` that is false for a member who is not
    /// a candidate, with its values.
    pub scouting_miss: Option<LayerMiss>,
    /// `scouting.flag`: the top-N cut-off and the minimum score.
    pub flag_top: Option<usize>,
    pub flag_min_score: Option<f64>,
}

#[derive(Debug, Clone)]
pub struct OverrideNote {
    pub reason: Option<String>,
    pub from: String,
    pub until: Option<String>,
}

/// A condition that does not hold: its first false part and the values it read.
#[derive(Debug, Clone)]
pub struct LayerMiss {
    /// The layer's display name (empty for scouting's candidates).
    pub layer: String,
    pub part: String,
    pub values: Vec<(String, String)>,
}

impl LayerMiss {
    /// `name = value` of each value read, joined by `sep`; quoted as code like the
    /// condition (a layer or tier there is its id, as the condition writes it).
    pub fn shown(&self, sep: &str) -> String {
        self.values
            .iter()
            .map(|(k, v)| format!("`{k} = {v}`"))
            .collect::<Vec<_>>()
            .join(sep)
    }
}

impl Extras {
    pub fn name(&self, id: &str) -> String {
        self.names.get(id).cloned().unwrap_or_else(|| id.to_string())
    }
}

/// A figure for people: thousands separators, at most two decimals.
fn n(v: &Value) -> String {
    match v.as_f64() {
        Some(x) => crate::output::templating::people_number(x),
        None => v.as_str().unwrap_or("—").to_string(),
    }
}

/// Points each limit cut, summed per rule and limit, biggest first (a once-only rule
/// that already paid is not a loss).
pub fn cuts(v: &Value) -> Vec<(String, String, i64, usize)> {
    let mut out: Vec<(String, String, i64, usize)> = Vec::new();
    for e in v["points"]["entries"].as_array().into_iter().flatten() {
        let Some(limit) = e["capped_by"].as_str() else { continue };
        let (raw, awarded) = (e["raw"].as_i64().unwrap_or(0), e["awarded"].as_i64().unwrap_or(0));
        if limit == "max_times" && awarded == 0 {
            continue;
        }
        let rule = e["rule_id"].as_str().unwrap_or("").to_string();
        match out.iter_mut().find(|(r, l, ..)| *r == rule && l == limit) {
            Some(x) => {
                x.2 += raw - awarded;
                x.3 += 1;
            }
            None => out.push((rule, limit.to_string(), raw - awarded, 1)),
        }
    }
    out.sort_by(|a, b| b.2.cmp(&a.2).then_with(|| a.0.cmp(&b.0)));
    out
}

/// A limit's name in the language.
pub fn limit_name(limit: &str, en: bool) -> &'static str {
    match (limit, en) {
        ("max_times", false) => "次数上限",
        ("rule_daily_cap", false) => "规则每日上限",
        ("daily_cap", false) => "每日积分上限",
        ("max_times", true) => "the rule's max_times",
        ("rule_daily_cap", true) => "the rule's daily cap",
        ("daily_cap", true) => "the daily cap",
        _ => "",
    }
}

/// Badges not yet earned with some progress, closest to their goal first.
fn close_badges(v: &Value) -> Vec<&Value> {
    let mut list: Vec<&Value> = v["badges"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|b| b["awarded_on"].is_null() && b["progress"].as_f64().unwrap_or(0.0) > 0.0)
        .collect();
    let share = |b: &Value| b["progress"].as_f64().unwrap_or(0.0) / b["goal"].as_f64().unwrap_or(1.0).max(1.0);
    list.sort_by(|a, b| share(b).total_cmp(&share(a)));
    list.truncate(2);
    list
}

/// The summary: at most 15 lines.
pub fn summary(v: &Value, x: &Extras, en: bool) -> Vec<String> {
    let t = |zh: &'static str, e: &'static str| if en { e } else { zh };
    let s = |v: &Value| v.as_str().unwrap_or("—").to_string();
    let who = match v["nickname"].as_str() {
        Some(nick) => format!("{nick} ({})", s(&v["member_id"])),
        None => s(&v["member_id"]),
    };
    let mut out = vec![format!(
        "{} {who} · {} {}",
        t("成员", "Member"),
        t("截至", "as of"),
        s(&v["as_of"])
    )];
    let p = &v["points"];
    out.push(if en {
        format!(
            "Balance {} points: earned {}, redeemed {}, expired {}.",
            n(&p["balance"]),
            n(&p["earned"]),
            n(&p["redeemed"]),
            n(&p["expired"])
        )
    } else {
        format!(
            "积分余额 {}：累计获得 {}，兑换 {}，过期 {}。",
            n(&p["balance"]),
            n(&p["earned"]),
            n(&p["redeemed"]),
            n(&p["expired"])
        )
    });
    let cuts = cuts(v);
    if !cuts.is_empty() {
        let total: i64 = cuts.iter().map(|c| c.2).sum();
        let parts: Vec<String> = cuts
            .iter()
            .take(3)
            .map(|(rule, limit, points, times)| {
                let rule = x.name(rule);
                let points = koc_engine::fmt::thousands(*points);
                match en {
                    true => format!("{rule}, {} −{points} ({times}×)", limit_name(limit, en)),
                    false => format!("{rule}「{}」−{points}（{times} 次）", limit_name(limit, en)),
                }
            })
            .collect();
        let more = if cuts.len() > 3 { t("等", " and more") } else { "" };
        out.push(match en {
            true => format!(
                "Limits cut {} points: {}{more}.",
                koc_engine::fmt::thousands(total),
                parts.join("; ")
            ),
            false => format!(
                "被上限截去 {} 分：{}{more}。",
                koc_engine::fmt::thousands(total),
                parts.join("；")
            ),
        });
    }
    let tier = &v["tier"];
    if !tier.is_null() {
        let name = x.name(&s(&tier["tier"]));
        let mut line = match en {
            true => format!(
                "Tier {name} since {}, {} qualifying points.",
                s(&tier["since"]),
                n(&tier["qualifying_points"])
            ),
            false => format!(
                "等级 {name}（自 {}），有效积分 {}。",
                s(&tier["since"]),
                n(&tier["qualifying_points"])
            ),
        };
        if let Some(g) = tier["grace"].as_object() {
            line.push_str(&match en {
                true => format!(
                    " Below its minimum: {} more points by {} keep it.",
                    n(&g["points_to_keep"]),
                    s(&g["demotion_on"])
                ),
                false => format!(
                    "已低于门槛：{} 前再获得 {} 分可保级。",
                    s(&g["demotion_on"]),
                    n(&g["points_to_keep"])
                ),
            });
        } else if let Some(next) = tier["next_tier"].as_str() {
            line.push_str(&match en {
                true => format!(
                    " {} more points lift it to {}.",
                    n(&tier["points_to_next"]),
                    x.name(next)
                ),
                false => format!("再获得 {} 分升至{}。", n(&tier["points_to_next"]), x.name(next)),
            });
        }
        out.push(line);
    }
    let layer = &v["layer"];
    if let Some(id) = layer["layer"].as_str() {
        out.push(match en {
            true => format!("Layer {} since {}.", x.name(id), s(&layer["since"])),
            false => format!("分层 {}（自 {}）。", x.name(id), s(&layer["since"])),
        });
        if let Some(o) = &x.override_at_d {
            let until = o.until.clone().unwrap_or_else(|| t("长期", "open-ended").to_string());
            let reason = o
                .reason
                .clone()
                .unwrap_or_else(|| t("未注明原因", "no reason given").to_string());
            out.push(match en {
                true => format!("  Set by hand: {reason} ({} to {until}).", o.from),
                false => format!("  人工指定：{reason}（{} 至 {until}）。", o.from),
            });
        } else if let Some(miss) = x.layer_misses.last() {
            // the level just above: what the member lacks to move up
            out.push(match en {
                true => format!("  Not {}: `{}` is false ({}).", miss.layer, miss.part, miss.shown(", ")),
                false => format!(
                    "  未进入{}：`{}` 不成立（{}）。",
                    miss.layer,
                    miss.part,
                    miss.shown("，")
                ),
            });
        }
    }
    let sc = &v["scouting"];
    if !sc.is_null() {
        out.push(scouting_line(sc, x, en));
    }
    let close = close_badges(v);
    if !close.is_empty() {
        let parts: Vec<String> = close
            .iter()
            .map(|b| format!("{} {}/{}", s(&b["name"]), n(&b["progress"]), n(&b["goal"])))
            .collect();
        out.push(match en {
            true => format!("Badges close to earning: {}.", parts.join("; ")),
            false => format!("接近获得的勋章：{}。", parts.join("；")),
        });
    }
    out.truncate(15);
    out
}

/// Where the member stands in newcomer scouting, with the cut-off or the failed part.
pub fn scouting_line(sc: &Value, x: &Extras, en: bool) -> String {
    let rank = sc["rank"].as_u64();
    if sc["candidate"] != true {
        return match (&x.scouting_miss, en) {
            (Some(m), true) => format!("Scouting: not a candidate: `{}` is false ({}).", m.part, m.shown(", ")),
            (Some(m), false) => format!("高潜新人：不是候选人，`{}` 不成立（{}）。", m.part, m.shown("，")),
            (None, true) => "Scouting: not a candidate.".to_string(),
            (None, false) => "高潜新人：不是候选人。".to_string(),
        };
    }
    let rank = rank.map(|r| r.to_string()).unwrap_or_else(|| "—".into());
    let score = |min: f64| crate::output::templating::people_number(min);
    let cutoff = match (x.flag_top, x.flag_min_score, en) {
        (Some(top), Some(min), false) => format!("入选线为前 {top} 名且得分 ≥ {}", score(min)),
        (Some(top), None, false) => format!("入选线为前 {top} 名"),
        (None, Some(min), false) => format!("入选线为得分 ≥ {}", score(min)),
        (Some(top), Some(min), true) => format!("the cut-off is the top {top} with a score of at least {}", score(min)),
        (Some(top), None, true) => format!("the cut-off is the top {top}"),
        (None, Some(min), true) => format!("the cut-off is a score of at least {}", score(min)),
        (None, None, _) => String::new(),
    };
    match (sc["flagged"] == true, en) {
        (true, false) => format!("高潜新人：第 {rank} 名，已入选（{cutoff}）。"),
        (false, false) => format!("高潜新人：第 {rank} 名，未入选（{cutoff}）。"),
        (true, true) => format!("Scouting: ranked {rank}, flagged ({cutoff})."),
        (false, true) => format!("Scouting: ranked {rank}, not flagged ({cutoff})."),
    }
}

/// `--format reply`: a few sentences to the member, nothing internal (no layers,
/// scouting or ids): balance, tier, points about to expire, limits that cut, badges.
pub fn reply(v: &Value, x: &Extras, en: bool) -> Vec<String> {
    let s = |v: &Value| v.as_str().unwrap_or("").to_string();
    let p = &v["points"];
    let mut out = Vec::new();
    let nick = v["nickname"].as_str().unwrap_or("");
    out.push(match en {
        true => format!(
            "Hello{}! As of {}, your balance is {} points ({} earned in all).",
            if nick.is_empty() {
                String::new()
            } else {
                format!(" {nick}")
            },
            s(&v["as_of"]),
            n(&p["balance"]),
            n(&p["earned"])
        ),
        false => format!(
            "您好{}！截至 {}，您的积分余额为 {} 分（累计获得 {} 分）。",
            if nick.is_empty() {
                String::new()
            } else {
                format!("，{nick}")
            },
            s(&v["as_of"]),
            n(&p["balance"]),
            n(&p["earned"])
        ),
    });
    let tier = &v["tier"];
    if let Some(id) = tier["tier"].as_str() {
        let name = x.name(id);
        out.push(match (tier["grace"].as_object(), tier["next_tier"].as_str(), en) {
            (Some(g), _, false) => format!(
                "您目前是{name}，{} 前再获得 {} 分即可保留{name}。",
                s(&g["demotion_on"]),
                n(&g["points_to_keep"])
            ),
            (Some(g), _, true) => format!(
                "You are {name}; earn {} more points by {} to keep it.",
                n(&g["points_to_keep"]),
                s(&g["demotion_on"])
            ),
            (None, Some(next), false) => {
                format!(
                    "您目前是{name}，再获得 {} 分即可升至{}。",
                    n(&tier["points_to_next"]),
                    x.name(next)
                )
            }
            (None, Some(next), true) => {
                format!(
                    "You are {name}; {} more points take you to {}.",
                    n(&tier["points_to_next"]),
                    x.name(next)
                )
            }
            (None, None, false) => format!("您目前是{name}，已是最高等级。"),
            (None, None, true) => format!("You are {name}, the highest tier."),
        });
    }
    // the soonest lot still holding points that expires after D
    let as_of = s(&v["as_of"]);
    let soon = p["lots"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|l| l["left"].as_i64().unwrap_or(0) > 0 && l["expires_on"].as_str().is_some_and(|e| *e > *as_of))
        .min_by(|a, b| s(&a["expires_on"]).cmp(&s(&b["expires_on"])));
    if let Some(l) = soon {
        out.push(match en {
            true => format!(
                "{} of your points expire on {}: redeem them before then.",
                n(&l["left"]),
                s(&l["expires_on"])
            ),
            false => format!(
                "您有 {} 分将于 {} 过期，请记得及时兑换。",
                n(&l["left"]),
                s(&l["expires_on"])
            ),
        });
    }
    let cut: i64 = cuts(v).iter().map(|c| c.2).sum();
    if cut > 0 {
        out.push(match en {
            true => format!(
                "{} points were not counted because of the program's limits (such as the daily cap).",
                koc_engine::fmt::thousands(cut)
            ),
            false => format!(
                "另有 {} 分因活动规则的上限（如每日积分上限）未计入。",
                koc_engine::fmt::thousands(cut)
            ),
        });
    }
    if let Some(b) = close_badges(v).first() {
        let left = b["goal"].as_f64().unwrap_or(0.0) - b["progress"].as_f64().unwrap_or(0.0);
        out.push(match en {
            true => format!(
                "You are close to the badge \"{}\": {} to go.",
                s(&b["name"]),
                crate::output::templating::people_number(left)
            ),
            false => format!(
                "您离「{}」勋章只差 {} 了，加油！",
                s(&b["name"]),
                crate::output::templating::people_number(left)
            ),
        });
    }
    out
}
