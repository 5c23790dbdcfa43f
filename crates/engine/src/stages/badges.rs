//! Badges (SPEC §16): each badge a rule over a member's events, earned once at the
//! event that reaches its goal. One walk over each member's sorted events per badge;
//! the `where` conditions are evaluated once over all events, as metrics' are.
use crate::fmt::Day;
use crate::model::Dataset;
use crate::pipeline::expr;
use crate::pipeline::program::{BadgeGoal, BadgePlan, Place, Program};
use crate::stages::facts::{Earned, Facts};
use crate::table::Field;
use anyhow::Result;

/// One award: `member` earned `badge` (its position in `badges`) at the event
/// `event_id`, on `day`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Award {
    pub badge: usize,
    pub member: usize,
    pub event_id: String,
    pub day: Day,
}

/// How far a member is toward one badge at D (`koc explain`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// The count (or running total) at D, at most the goal.
    pub value: i64,
    /// The event that earned the badge, once earned.
    pub earned_at: Option<usize>,
}

/// Which events each badge accepts: its action and its `where`, decided once per event.
pub struct Matcher {
    /// Per badge: the action's dictionary code (`Some(None)`: an action no event has).
    actions: Vec<Option<Option<u32>>>,
    masks: Vec<Option<Vec<bool>>>,
}

impl Matcher {
    pub fn new(prog: &Program, ds: &Dataset, awarded: &[i64]) -> Result<Matcher> {
        let conditions: Vec<_> = (0..prog.badges.len())
            .map(|i| prog.conditions.get(&Place::Badge(i)))
            .collect();
        let masks = if conditions.iter().any(Option::is_some) {
            let frame = ds.event_frame(&expr::names_in(conditions.iter().flatten().copied()), Some(awarded))?;
            expr::eval_masks(&conditions, &frame)?
        } else {
            vec![None; prog.badges.len()]
        };
        let actions = prog
            .badges
            .iter()
            .map(|b| b.action.as_deref().map(|a| ds.events.action_code(a)))
            .collect();
        Ok(Matcher { actions, masks })
    }

    fn accepts(&self, ds: &Dataset, badge: usize, event: usize) -> bool {
        let action_ok = match self.actions[badge] {
            None => true,
            Some(code) => code.is_some() && ds.events.action_is(event, code),
        };
        action_ok && self.masks[badge].as_ref().is_none_or(|m| m[event])
    }
}

/// A member's progress toward a badge over their events dated ≤ D, in (occurred_at,
/// event_id) order: stops at the event that reaches the goal.
fn walk(ds: &Dataset, awarded: &[i64], matcher: &Matcher, badge: usize, goal: BadgeGoal, member: usize) -> Progress {
    let mut total = 0i64;
    let mut last_day: Option<Day> = None;
    for i in ds.member_events[member].clone() {
        if !matcher.accepts(ds, badge, i) {
            continue;
        }
        let reached = match goal {
            BadgeGoal::Events(n) => {
                total += 1;
                total >= n
            }
            BadgeGoal::Days(n) => {
                let day = ds.events.day[i];
                if last_day != Some(day) {
                    last_day = Some(day);
                    total += 1;
                }
                total >= n
            }
            BadgeGoal::Sum(field, reach) => {
                total = total.saturating_add(amount(ds, awarded, field, i));
                total >= reach
            }
        };
        if reached {
            return Progress {
                value: goal.target(),
                earned_at: Some(i),
            };
        }
    }
    Progress {
        value: total.min(goal.target()),
        earned_at: None,
    }
}

/// What a `sum` badge adds for one event (an empty count is 0).
fn amount(ds: &Dataset, awarded: &[i64], field: Field, i: usize) -> i64 {
    match field {
        Field::AwardedPoints => awarded[i],
        _ => ds.events.count(field, i),
    }
}

/// The badges member `m` earned by D, in listed order.
pub fn earned(prog: &Program, ds: &Dataset, awarded: &[i64], matcher: &Matcher, m: usize) -> Vec<Earned> {
    prog.badges
        .iter()
        .enumerate()
        .filter_map(|(b, plan)| {
            walk(ds, awarded, matcher, b, plan.goal, m).earned_at.map(|e| Earned {
                badge: b as u32,
                day: ds.events.day[e],
                event_id: ds.events.id(e).to_string(),
            })
        })
        .collect()
}

/// Every award at D from the members' facts, sorted as badges.csv lists them:
/// awarded_on, badge_id, member_id.
pub fn awards(prog: &Program, facts: &[Facts]) -> Vec<Award> {
    let mut awards: Vec<Award> = facts
        .iter()
        .enumerate()
        .flat_map(|(m, f)| {
            f.badges.iter().map(move |e| Award {
                badge: e.badge as usize,
                member: m,
                event_id: e.event_id.clone(),
                day: e.day,
            })
        })
        .collect();
    // members are indexed in member_id byte order; badges are ranked by id
    let rank = id_ranks(&prog.badges);
    awards.sort_unstable_by_key(|a| (a.day, rank[a.badge], a.member));
    awards
}

/// Each badge's place when the badges are sorted by id (bytes).
fn id_ranks(badges: &[BadgePlan]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..badges.len()).collect();
    order.sort_by(|a, b| badges[*a].id.cmp(&badges[*b].id));
    let mut rank = vec![0; badges.len()];
    for (r, b) in order.into_iter().enumerate() {
        rank[b] = r;
    }
    rank
}

/// One member's progress toward every badge, in listed order (`koc explain`).
pub fn progress_of(prog: &Program, ds: &Dataset, awarded: &[i64], member: usize) -> Result<Vec<Progress>> {
    let matcher = Matcher::new(prog, ds, awarded)?;
    Ok(prog
        .badges
        .iter()
        .enumerate()
        .map(|(b, plan)| walk(ds, awarded, &matcher, b, plan.goal, member))
        .collect())
}

/// Holders of each badge at D, in listed order (the report and `koc simulate`).
pub fn holders(prog: &Program, awards: &[Award]) -> Vec<u64> {
    let mut counts = vec![0u64; prog.badges.len()];
    for a in awards {
        counts[a.badge] += 1;
    }
    counts
}
