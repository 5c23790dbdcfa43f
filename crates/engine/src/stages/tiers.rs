//! Tiers (SPEC §6): a daily state machine per member, run as jumps between the
//! days where qualifying points change instead of visiting every day.
use crate::fmt::Day;
use crate::pipeline::plans::TiersPlan;

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TierChange {
    pub day: Day,
    pub from: usize,
    pub to: usize,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TierState {
    pub tier: usize,
    pub since: Day,
    pub q: i64,
    pub below_since: Option<Day>,
    pub demotion_on: Option<Day>,
    /// Every change after the join date, up to D.
    pub changes: Vec<TierChange>,
    pub joined: Day,
    pub initial: usize,
}

impl TierState {
    /// The tier at the end of `day` (None before the join date).
    pub fn tier_at(&self, day: Day) -> Option<usize> {
        if day < self.joined {
            return None;
        }
        let mut t = self.initial;
        for c in &self.changes {
            if c.day <= day {
                t = c.to;
            } else {
                break;
            }
        }
        Some(t)
    }

    /// The tier at D against the one at the previous regular snapshot (tiers.csv's `change`).
    pub fn move_since(&self, previous_snapshot: Option<Day>) -> TierMove {
        TierMove::between(previous_snapshot.and_then(|d| self.tier_at(d)), self.tier)
    }
}

impl TierMove {
    /// From the tier `before` (None: none yet) to the tier `now`.
    pub fn between(before: Option<usize>, now: usize) -> TierMove {
        match before {
            None => TierMove::New,
            Some(b) if now > b => TierMove::Promoted,
            Some(b) if now < b => TierMove::Demoted,
            _ => TierMove::Same,
        }
    }
}

text_enum! {
    /// A member's tier at D against the previous regular snapshot.
    pub enum TierMove {
        New => "new",
        Promoted => "promoted",
        Demoted => "demoted",
        Same => "same",
    }
}

/// How many members were promoted and demoted since the previous regular snapshot.
pub fn promoted_demoted(states: &[Option<TierState>], previous_snapshot: Option<Day>) -> (usize, usize) {
    let moves: Vec<TierMove> = states
        .iter()
        .flatten()
        .map(|s| s.move_since(previous_snapshot))
        .collect();
    let count = |m: TierMove| moves.iter().filter(|x| **x == m).count();
    (count(TierMove::Promoted), count(TierMove::Demoted))
}

fn level_of(cfg: &TiersPlan, q: i64) -> usize {
    cfg.mins.iter().rposition(|min| *min <= q).unwrap_or(0)
}

/// Qualifying points at any day: a sum over daily awards inside the window.
struct Qualifying<'a> {
    awards: &'a [(Day, i64)],
    window: Option<i64>,
}

impl Qualifying<'_> {
    fn at(&self, d: Day) -> i64 {
        let hi = self.awards.partition_point(|(x, _)| *x <= d);
        let lo = match self.window {
            Some(w) => self.awards.partition_point(|(x, _)| (*x as i64) <= d as i64 - w),
            None => 0,
        };
        self.awards[lo..hi].iter().map(|(_, p)| p).sum()
    }
}

/// Run the state machine from `joined` through `as_of` over daily awards (sorted by day).
pub fn run(cfg: &TiersPlan, awards: &[(Day, i64)], joined: Day, as_of: Day) -> TierState {
    let q = Qualifying {
        awards,
        window: cfg.window_days,
    };
    let grace = cfg.grace_days.max(1) as Day; // SPEC §6: grace_days 0 demotes the same day
                                              // the days after the join date where q may change: an award, or an award leaving the window
    let mut points: Vec<Day> = awards
        .iter()
        .flat_map(|(d, _)| {
            let leave = cfg.window_days.map(|w| d + w as Day);
            std::iter::once(*d).chain(leave)
        })
        .filter(|d| *d > joined && *d <= as_of)
        .collect();
    points.sort_unstable();
    points.dedup();

    let initial = level_of(cfg, q.at(joined));
    let mut tier = initial;
    let mut since = joined;
    let mut below_since: Option<Day> = None;
    let mut changes = Vec::new();
    // each segment [start, end) has a constant q
    for (i, &start) in points.iter().enumerate() {
        let end = points.get(i + 1).copied().unwrap_or(as_of + 1);
        let level = level_of(cfg, q.at(start));
        if level > tier {
            changes.push(TierChange {
                day: start,
                from: tier,
                to: level,
            });
            tier = level;
            since = start;
            below_since = None;
        } else if level < tier {
            let b = *below_since.get_or_insert(start);
            let demote_day = b + grace - 1;
            if demote_day < end {
                changes.push(TierChange {
                    day: demote_day,
                    from: tier,
                    to: level,
                });
                tier = level;
                since = demote_day;
                below_since = None;
            }
        } else {
            below_since = None;
        }
    }
    // before the first change point the level equals the initial one, so nothing happens there
    let q_now = q.at(as_of);
    let demotion_on = if tier == 0 {
        None
    } else if let Some(b) = below_since {
        Some(b + grace - 1)
    } else {
        first_day_below(cfg, awards, as_of, cfg.mins[tier]).map(|b| b + grace - 1)
    };
    TierState {
        tier,
        since,
        q: q_now,
        below_since,
        demotion_on,
        changes,
        joined,
        initial,
    }
}

/// With a window and nothing more earned: the first day after D on which q < min.
fn first_day_below(cfg: &TiersPlan, awards: &[(Day, i64)], as_of: Day, min: i64) -> Option<Day> {
    let w = cfg.window_days? as Day;
    let lo = awards.partition_point(|(x, _)| *x <= as_of - w);
    let hi = awards.partition_point(|(x, _)| *x <= as_of);
    let mut q: i64 = awards[lo..hi].iter().map(|(_, p)| p).sum();
    // award of day x leaves the window on day x + w
    for (x, p) in &awards[lo..hi] {
        q -= p;
        if q < min {
            return Some((x + w).max(as_of + 1));
        }
    }
    if q < min {
        Some(as_of + 1)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// tiers.csv's `change` (SPEC §6): the tier at D against the tier at the end of the
    /// previous regular snapshot, `new` for a member who had none then.
    #[test]
    fn a_move_compares_d_with_the_end_of_the_previous_snapshot() {
        let change = |day, from, to| TierChange { day, from, to };
        // joined on day 100 in tier 0; up to 1 on 110, 2 on 130, back to 1 on 150 (D)
        let s = TierState {
            tier: 1,
            since: 150,
            q: 0,
            below_since: None,
            demotion_on: None,
            changes: vec![change(110, 0, 1), change(130, 1, 2), change(150, 2, 1)],
            joined: 100,
            initial: 0,
        };
        assert_eq!(
            (s.tier_at(99), s.tier_at(100), s.tier_at(109), s.tier_at(110)),
            (None, Some(0), Some(0), Some(1))
        );
        assert_eq!(s.move_since(None), TierMove::New);
        assert_eq!(s.move_since(Some(90)), TierMove::New, "not joined at the snapshot");
        assert_eq!(s.move_since(Some(105)), TierMove::Promoted);
        assert_eq!(s.move_since(Some(120)), TierMove::Same);
        assert_eq!(s.move_since(Some(140)), TierMove::Demoted);
        let t = TierState { tier: 2, ..s.clone() };
        assert_eq!(promoted_demoted(&[Some(s), None, Some(t)], Some(105)), (2, 0));
    }

    fn cfg(window: Option<i64>, grace: i64) -> TiersPlan {
        TiersPlan {
            ids: ["bronze", "silver", "gold", "diamond"].map(String::from).to_vec(),
            mins: vec![0, 500, 2000, 8000],
            window_days: window,
            grace_days: grace,
        }
    }

    #[test]
    fn promotion_is_immediate_and_demotion_waits_grace_days() {
        // 2100 points on day 10, window 30: gold from day 10; q drops to 0 on day 40
        // (10 + 30); grace 5 → demoted on day 44 (40..44 are five days), two levels down.
        let c = cfg(Some(30), 5);
        let s = run(&c, &[(10, 2100)], 0, 60);
        assert_eq!(
            s.changes,
            vec![
                TierChange {
                    day: 10,
                    from: 0,
                    to: 2
                },
                TierChange {
                    day: 44,
                    from: 2,
                    to: 0
                },
            ]
        );
        assert_eq!(s.tier, 0);
        assert_eq!(s.since, 44);
        assert_eq!(s.demotion_on, None);
    }

    #[test]
    fn a_good_day_resets_the_grace_count() {
        // gold on day 10 (2100); below from day 40; day 42 earns 2000 → q = 2000 ≥ gold: reset.
        let c = cfg(Some(30), 5);
        let s = run(&c, &[(10, 2100), (42, 2000)], 0, 50);
        assert_eq!(s.tier, 2);
        assert_eq!(s.below_since, None);
        // q stays 2000 until day 72, when the day-42 award leaves: demotion on 72 + 5 - 1
        assert_eq!(s.demotion_on, Some(76));
        let s = run(&c, &[(10, 2100)], 0, 41);
        assert_eq!(s.below_since, Some(40));
        assert_eq!(s.demotion_on, Some(44));
    }

    #[test]
    fn grace_zero_demotes_the_same_day_and_lifetime_never_drops() {
        let s = run(&cfg(Some(30), 0), &[(10, 600)], 0, 45);
        assert_eq!(
            s.changes.last(),
            Some(&TierChange {
                day: 40,
                from: 1,
                to: 0
            })
        );
        let s = run(&cfg(None, 30), &[(10, 600)], 0, 400);
        assert_eq!((s.tier, s.demotion_on), (1, None));
    }

    #[test]
    fn tier_on_the_join_date_counts_points_before_it() {
        let s = run(&cfg(None, 0), &[(3, 2500)], 5, 10);
        assert_eq!((s.initial, s.tier, s.since), (2, 2, 5));
        assert!(s.changes.is_empty());
    }
}
