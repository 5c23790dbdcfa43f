//! What a part's values must fit before any stage reads them: the program's levels,
//! tiers, badges, seasons, criteria, metrics and snapshot days, and days within
//! the store's (a part decoded from a file that was edited and given a new checksum).
use super::MemberPart;
use crate::fmt::Day;
use crate::pipeline::program::Program;
use crate::stages::tiers::TierState;

/// What a part's values must fit: the program's levels, the snapshot days, D.
pub(super) struct Bounds {
    pub(super) layers: usize,
    pub(super) tiers: usize,
    pub(super) balance_days: usize,
    pub(super) history_days: Vec<Day>,
    pub(super) badges: u32,
    pub(super) seasons: u32,
    /// The days a member's facts may name: the first ingestable day to D.
    pub(super) days: std::ops::RangeInclusive<Day>,
    /// Contest criteria read from the data.
    pub(super) from_data: usize,
}

impl Bounds {
    pub(super) fn of(prog: &Program, as_of: Day) -> Bounds {
        Bounds {
            layers: prog.layers.as_ref().map_or(0, |l| l.ids.len()),
            tiers: prog.tiers.as_ref().map_or(0, |t| t.ids.len()),
            balance_days: crate::compute::balance_days(prog, as_of).len(),
            history_days: crate::stages::layers::regular_snapshots(prog.start, as_of),
            badges: prog.badges.len() as u32,
            days: first_day()..=as_of,
            from_data: prog
                .contests
                .iter()
                .flat_map(|c| &c.criteria)
                .filter(|r| !r.judged())
                .count(),
            seasons: prog.hall_of_fame.map_or(0, |plan| {
                crate::stages::hall_of_fame::seasons(plan.season, prog.start, as_of).len() as u32
            }),
        }
    }

    /// What is wrong with one member's part, if anything (a part decoded from a file
    /// that was edited and given a new checksum must not reach the stages).
    pub(super) fn problem(&self, mp: &MemberPart, numeric: usize, flags: usize) -> Option<&'static str> {
        let tier_ok = |t: &TierState| {
            t.tier < self.tiers
                && t.initial < self.tiers
                && t.changes.iter().all(|c| c.from < self.tiers && c.to < self.tiers)
        };
        if mp.layers.len() != self.history_days.len() + 1 || mp.layers.iter().flatten().any(|l| *l >= self.layers) {
            Some("layers that are not the program's")
        } else if !mp.tier.as_ref().is_none_or(tier_ok) {
            Some("a tier that is not the program's")
        } else if !member_days(mp).all(|d| self.days.contains(&d)) {
            Some("days outside the store's")
        } else if mp.facts.badges.iter().any(|b| b.badge >= self.badges) {
            Some("a badge that is not the program's")
        } else if mp.facts.season_points.iter().any(|(k, _)| *k >= self.seasons) {
            Some("a season that is not the program's")
        } else if mp.balance_at.len() != self.balance_days {
            Some("balances at other days")
        } else if mp.numeric.as_ref().is_some_and(|v| v.len() != numeric)
            || mp.flags.as_ref().is_some_and(|v| v.len() != flags)
        {
            Some("metrics that are not the program's")
        } else {
            None
        }
    }
}

/// The first day an export's timestamp may have (`ingest::timestamps::YEARS`).
pub(super) fn first_day() -> Day {
    let year = *crate::ingest::timestamps::YEARS.start();
    crate::fmt::day_of(chrono::NaiveDate::from_ymd_opt(year, 1, 1).expect("1 January"))
}

/// Every day a member's part names (its facts, its first day when unlisted).
fn member_days(mp: &MemberPart) -> impl Iterator<Item = Day> + '_ {
    let f = &mp.facts;
    (f.last_active.iter().copied())
        .chain(f.badges.iter().map(|b| b.day))
        .chain(f.first_featured.iter().map(|x| x.day))
        .chain(mp.unlisted_joined)
}
