//! The action list that opens the report (issue 14): who to keep, who slipped, whom
//! to offer a task, whom to surprise, and which incentives to change — each with the
//! figure that makes it actionable. Built from the computed stages; pure.
use koc_engine::compute::Computed;
use koc_engine::fmt::fmt_day;
use koc_engine::model::Dataset;
use koc_engine::pipeline::config::Pipeline;
use serde::Serialize;

/// How many care dates ahead the list looks (days after D).
pub const CARE_DAYS: i32 = 14;

#[derive(Debug, Clone, Serialize)]
pub struct Actions {
    /// In grace and still able to keep the tier under the daily cap, earliest demotion first.
    pub keep: Vec<Keep>,
    /// In grace but past reach: more points needed than the daily cap allows by the
    /// demotion day (not worth a reminder).
    pub keep_out_of_reach: usize,
    /// Members of the upper layers (core, alumni…) at the previous snapshot who are lower now.
    pub slipped: Vec<Slipped>,
    /// Newly flagged newcomers with the task to offer them.
    pub newcomers: Vec<Offer>,
    /// Care occasions in D+1 … D+14.
    pub care: Vec<CareDate>,
    /// Incentives whose recommendation is not `keep`, with the reason.
    pub incentives: Vec<Change>,
    /// The items of the previous run's list, as (member_id, action, due) of its
    /// actions.csv (the reason in place of a member for an incentive): an item found
    /// there is not new.
    #[serde(skip)]
    pub listed_before: std::collections::HashSet<(String, String, String)>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Keep {
    pub member_id: String,
    pub nickname: Option<String>,
    pub tier: String,
    pub points_needed: i64,
    pub by: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Slipped {
    pub member_id: String,
    pub nickname: Option<String>,
    pub from: String,
    pub to: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Offer {
    pub member_id: String,
    pub nickname: Option<String>,
    pub rank: usize,
    pub specialty: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct CareDate {
    pub date: String,
    pub member_id: String,
    pub nickname: Option<String>,
    pub occasion: &'static str,
}

#[derive(Debug, Clone, Serialize)]
pub struct Change {
    pub incentive: String,
    pub recommendation: &'static str,
    /// Goals listing it that are behind or at risk.
    pub goals_behind: Vec<String>,
    pub mean_rating: Option<String>,
}

/// The action list; `names` gives each tier and layer its display name.
pub fn compute(
    p: &Pipeline,
    ds: &Dataset,
    c: &Computed,
    names: &crate::output::report_sections::LevelNames,
) -> Actions {
    // the most a member can still earn by the demotion day: the program's daily cap
    // on each day after D up to it (the tier is decided at the end of that day)
    let daily_cap = p.points.as_ref().and_then(|x| x.daily_cap);
    let reachable = |k: &Keep, demotion_on: Option<koc_engine::fmt::Day>| match (daily_cap, demotion_on) {
        (Some(cap), Some(on)) => k.points_needed <= cap.saturating_mul((on - c.as_of).max(0) as i64),
        _ => true,
    };
    let mut keep_out_of_reach = 0;
    let mut keep: Vec<Keep> = ds
        .table_members()
        .filter_map(|(i, m)| {
            let s = c.tiers.get(i)?.as_ref()?;
            s.below_since?;
            let min = p.tiers.as_ref()?.levels.get(s.tier)?.min;
            let k = Keep {
                member_id: m.id.clone(),
                nickname: m.nickname.clone(),
                tier: names.tiers[s.tier].clone(),
                points_needed: (min - s.q).max(0),
                by: s.demotion_on.map(fmt_day),
            };
            if reachable(&k, s.demotion_on) {
                Some(k)
            } else {
                keep_out_of_reach += 1;
                None
            }
        })
        .collect();
    keep.sort_by(|a, b| {
        a.by.cmp(&b.by)
            .then_with(|| a.member_id.as_bytes().cmp(b.member_id.as_bytes()))
    });

    // "upper layers": the levels listed above the middle (with four: alumni and core)
    let upper = c.level_ids.len() / 2;
    let slipped: Vec<Slipped> = match c.history.last() {
        Some((_, prev)) => ds
            .table_members()
            .filter_map(|(i, m)| {
                let (from, to) = (prev.get(i).copied().flatten()?, c.layer_at_d.get(i).copied().flatten()?);
                (from < upper && to > from).then(|| Slipped {
                    member_id: m.id.clone(),
                    nickname: m.nickname.clone(),
                    from: names.layers[from].clone(),
                    to: names.layers[to].clone(),
                })
            })
            .collect(),
        None => vec![],
    };

    let newcomers = c
        .newcomers
        .iter()
        .filter(|n| n.flagged)
        .map(|n| Offer {
            member_id: ds.members[n.member].id.clone(),
            nickname: ds.members[n.member].nickname.clone(),
            rank: n.rank,
            specialty: n.specialty.as_deref().map(|s| p.display_name(s)),
        })
        .collect();

    let care = c
        .care
        .iter()
        .filter(|o| o.day > c.as_of && o.day <= c.as_of + CARE_DAYS)
        .map(|o| CareDate {
            date: fmt_day(o.day),
            member_id: ds.members[o.member].id.clone(),
            nickname: ds.members[o.member].nickname.clone(),
            occasion: o.occasion.as_str(),
        })
        .collect();

    let incentives = c
        .incentives
        .iter()
        .filter(|i| i.recommendation != "keep")
        .map(|i| Change {
            incentive: p.display_name(&i.name),
            recommendation: i.recommendation,
            goals_behind: c
                .goals
                .iter()
                .filter(|g| g.incentives.contains(&i.name) && g.status.needs_action())
                .map(|g| g.name.clone())
                .collect(),
            mean_rating: i.mean_rating.map(crate::output::templating::people_number),
        })
        .collect();

    Actions {
        keep,
        keep_out_of_reach,
        slipped,
        newcomers,
        care,
        incentives,
        listed_before: Default::default(),
    }
}

/// `actions.csv`: every item of the action list as a row (member_id, nickname, action,
/// due, reason, new), in the list's order, with the reason in the program's language;
/// `new` is false for an item the previous run listed too.
pub fn table(a: &Actions, labels: &serde_json::Value) -> crate::output::Table {
    use crate::output::{boolean, empty, p, t, Table};
    let label = |k: &str| labels[k].as_str().unwrap_or(k).to_string();
    let fill = |k: &str, values: &[(&str, String)]| {
        values.iter().fold(label(k), |text, (name, value)| {
            text.replace(&format!("{{{name}}}"), value)
        })
    };
    let mut tb = Table::new("actions", &["member_id", "nickname", "action", "due", "reason", "new"]);
    let mut push = |member_id: &str, nickname: &Option<String>, action: &str, due: Option<&str>, reason: String| {
        // an incentive has no member: its reason (the incentive and the advice) names it
        let who = if member_id.is_empty() { &reason } else { member_id };
        let key = (who.to_string(), action.to_string(), due.unwrap_or("").to_string());
        tb.push(vec![
            t(member_id),
            t(nickname.clone().unwrap_or_default()),
            p(action),
            due.and_then(koc_engine::ingest::timestamps::parse_day)
                .map(crate::output::date)
                .unwrap_or_else(empty),
            t(reason),
            boolean(!a.listed_before.contains(&key)),
        ]);
    };
    for k in &a.keep {
        let reason = fill(
            "reason_keep",
            &[("points", k.points_needed.to_string()), ("tier", k.tier.clone())],
        );
        push(&k.member_id, &k.nickname, "keep_tier", k.by.as_deref(), reason);
    }
    for m in &a.slipped {
        let reason = fill("reason_slipped", &[("from", m.from.clone()), ("to", m.to.clone())]);
        push(&m.member_id, &m.nickname, "win_back", None, reason);
    }
    for n in &a.newcomers {
        let rank = ("rank", n.rank.to_string());
        let reason = match &n.specialty {
            Some(s) => fill("reason_offer_specialty", &[rank, ("specialty", s.clone())]),
            None => fill("reason_offer_any", &[rank]),
        };
        push(&n.member_id, &n.nickname, "offer_task", None, reason);
    }
    for o in &a.care {
        let reason = labels["occasion"][o.occasion]
            .as_str()
            .unwrap_or(o.occasion)
            .to_string();
        push(&o.member_id, &o.nickname, "care", Some(&o.date), reason);
    }
    for i in &a.incentives {
        let recommendation = labels["recommendation"][i.recommendation]
            .as_str()
            .unwrap_or(i.recommendation)
            .to_string();
        let mut reason = fill(
            "reason_incentive",
            &[("incentive", i.incentive.clone()), ("recommendation", recommendation)],
        );
        if !i.goals_behind.is_empty() {
            reason.push_str(&fill("reason_goals_behind", &[("goals", i.goals_behind.join("、"))]));
        }
        push("", &None, "change_incentive", None, reason);
    }
    tb
}

/// The items an earlier run's actions.csv listed, as (member_id, action, due); the
/// reason stands for the member of an incentive's row.
pub fn listed_in(csv_text: &str) -> std::collections::HashSet<(String, String, String)> {
    let mut reader = csv::Reader::from_reader(csv_text.trim_start_matches('\u{feff}').as_bytes());
    let columns: Vec<String> = reader
        .headers()
        .map(|h| h.iter().map(str::to_string).collect())
        .unwrap_or_default();
    let at = |name: &str| columns.iter().position(|c| c == name);
    let (Some(member), Some(action), Some(due), Some(reason)) =
        (at("member_id"), at("action"), at("due"), at("reason"))
    else {
        return Default::default();
    };
    reader
        .records()
        .flatten()
        .map(|r| {
            let field = |k: usize| r.get(k).unwrap_or("").to_string();
            let who = match field(member) {
                id if id.is_empty() => field(reason),
                id => id,
            };
            (who, field(action), field(due))
        })
        .collect()
}
