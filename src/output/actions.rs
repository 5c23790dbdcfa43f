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
    }
}
