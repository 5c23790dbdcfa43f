//! What the stages that compare members read of one member's own events, ledger and
//! lots, worked out beside the per-member stages. A shard's part carries it, so the
//! stages after them never walk events again (docs/scale-out.md), and one run reads
//! each member's lots once for the report and the notices.
use crate::fmt::Day;
use crate::model::Dataset;
use crate::pipeline::program::Program;
use crate::stages::points::{Lot, Points};
use anyhow::Result;
use serde::{Deserialize, Serialize};

/// One member's facts at D (the default: a member with no events and no ledger).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Facts {
    /// The member's events by D.
    pub events: u64,
    /// The day of the member's last event by D (balances.csv's last_active_date).
    pub last_active: Option<Day>,
    /// Points awarded in each hall-of-fame season (its index), for seasons with entries.
    pub season_points: Vec<(u32, i64)>,
    /// The specialty at D by scouting's rule (SPEC §8), members joined by D.
    pub scouting_specialty: Option<String>,
    /// The specialty at D by the growth path's rule (SPEC §15), members joined by D.
    pub growth_specialty: Option<String>,
    /// The member's first featured event by D (the care calendar).
    pub first_featured: Option<Featured>,
    /// The badges earned by D (members joined by D), in listed order.
    pub badges: Vec<Earned>,
    /// Unconsumed points of lots expiring in (D, D + 30] (the report's figure).
    pub expiring_30d: i64,
    /// Unconsumed points of lots expiring on the notices' day (D + expiring_days_ahead).
    pub expiring_on_notice_day: i64,
}

/// A featured event: its day, its id, and what the report shows (its content id, else its id).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Featured {
    pub day: Day,
    pub event_id: String,
    pub shown: String,
}

/// A badge earned (its place in `badges`) at an event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Earned {
    pub badge: u32,
    pub day: Day,
    pub event_id: String,
}

/// Every member's facts, indexed as `ds.members`.
pub fn compute(prog: &Program, ds: &Dataset, points: &Points, notice_day: NoticeDay) -> Result<Vec<Facts>> {
    use rayon::prelude::*;
    let d = ds.as_of;
    let seasons = prog
        .hall_of_fame
        .map(|plan| crate::stages::hall_of_fame::seasons(plan.season, prog.start, d))
        .unwrap_or_default();
    let of_events = EventFacts::new(prog, ds, &points.awarded_per_event)?;
    let ranges = crate::stages::points::member_ledger_ranges(ds, &points.ledger);
    let expiring = |lots: &[Lot], keep: &dyn Fn(Day) -> bool| -> i64 {
        lots.iter()
            .filter(|l| l.expires.is_some_and(keep))
            .map(|l| l.left)
            .sum()
    };
    let lots = crate::stages::points::LotReplay::new(&prog.spending, ds, points, &ranges);
    let facts = (0..ds.members.len())
        .into_par_iter()
        .map(|m| {
            let mut facts = Facts::default();
            of_events.fill(&mut facts, m);
            if !seasons.is_empty() {
                for e in &points.ledger[ranges[m].clone()] {
                    let day = ds.events.day[e.event as usize];
                    let k = seasons.partition_point(|s| s.to < day);
                    if seasons.get(k).is_some_and(|s| s.from <= day) {
                        match facts.season_points.last_mut() {
                            Some((last, sum)) if *last == k as u32 => *sum += e.awarded,
                            _ => facts.season_points.push((k as u32, e.awarded)),
                        }
                    }
                }
            }
            if prog.spending.expiry_days.is_some() && !ranges[m].is_empty() {
                let lots = lots.of(m);
                facts.expiring_30d = expiring(&lots, &|x| x > d && x <= d + 30);
                facts.expiring_on_notice_day = notice_day.0.map_or(0, |day| expiring(&lots, &|x| x == day));
            }
            facts
        })
        .collect();
    Ok(facts)
}

/// The facts a what-if scenario reads from events (badges, specialties, the first
/// featured event) worked out again under its own rules; those from the ledger (season
/// points, expiring lots) are the baseline's, whose points the scenario shares.
pub fn refresh(prog: &Program, ds: &Dataset, awarded: &[i64], base: &[Facts]) -> Result<Vec<Facts>> {
    use rayon::prelude::*;
    let of_events = EventFacts::new(prog, ds, awarded)?;
    Ok(base
        .par_iter()
        .enumerate()
        .map(|(m, b)| {
            let mut facts = Facts {
                season_points: b.season_points.clone(),
                expiring_30d: b.expiring_30d,
                expiring_on_notice_day: b.expiring_on_notice_day,
                ..Facts::default()
            };
            of_events.fill(&mut facts, m);
            facts
        })
        .collect())
}

/// What is read from a member's events alone.
struct EventFacts<'a> {
    prog: &'a Program,
    ds: &'a Dataset,
    awarded: &'a [i64],
    badges: Option<crate::stages::badges::Matcher>,
    featured: Option<u32>,
}

impl<'a> EventFacts<'a> {
    fn new(prog: &'a Program, ds: &'a Dataset, awarded: &'a [i64]) -> Result<Self> {
        let badges = match prog.badges.is_empty() {
            true => None,
            false => Some(crate::stages::badges::Matcher::new(prog, ds, awarded)?),
        };
        Ok(EventFacts {
            prog,
            ds,
            awarded,
            badges,
            featured: ds.events.action_code("featured"),
        })
    }

    fn fill(&self, facts: &mut Facts, m: usize) {
        let (prog, ds, d) = (self.prog, self.ds, self.ds.as_of);
        let events = ds.member_events[m].clone();
        let joined = ds.members[m].joined <= d;
        let specialty = |plan: Option<crate::pipeline::plans::SpecialtyPlan>| {
            plan.filter(|_| joined)
                .and_then(|s| crate::stages::scouting::specialty(ds, self.awarded, &s, m, d))
        };
        facts.events = events.len() as u64;
        facts.last_active = events.clone().last().map(|e| ds.events.day[e]);
        facts.scouting_specialty = specialty(prog.scouting.as_ref().and_then(|s| s.specialty));
        facts.growth_specialty = prog.growth.as_ref().and_then(|_| specialty(prog.growth_specialty));
        facts.first_featured = events
            .clone()
            .find(|&j| ds.events.action_is(j, self.featured))
            .map(|j| Featured {
                day: ds.events.day[j],
                event_id: ds.events.id(j).to_string(),
                shown: ds.events.content_id(j).unwrap_or(ds.events.id(j)).to_string(),
            });
        facts.badges = match (&self.badges, joined) {
            (Some(matcher), true) => crate::stages::badges::earned(prog, ds, self.awarded, matcher, m),
            _ => Vec::new(),
        };
    }
}

/// The day the notices' `points_expiring` looks at, when the program sends it.
#[derive(Debug, Clone, Copy)]
pub struct NoticeDay(pub Option<Day>);

impl NoticeDay {
    pub fn of(prog: &Program, d: Day) -> NoticeDay {
        use crate::pipeline::config::messaging::NoticeKind;
        NoticeDay(
            prog.notices
                .as_ref()
                .filter(|plan| plan.kinds.contains(&NoticeKind::PointsExpiring))
                .map(|plan| d + plan.expiring_days_ahead as Day),
        )
    }
}
