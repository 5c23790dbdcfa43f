//! The hall of fame (SPEC §14, 名人堂): per season, the top contributors by points,
//! the members inducted into a sticky layer, and the contest winners.
use crate::fmt::{date_of, day_of, Day};
use crate::model::Dataset;
use crate::pipeline::program::{Program, Season as Kind};
use crate::stages::contests::ContestResult;
use crate::stages::facts::Facts;
use crate::stages::layers::LayerRow;
use chrono::{Datelike, NaiveDate};

/// One season: its name (`2025-06`, `2025-Q2`, `2025`) and its first and last day.
#[derive(Debug, Clone, PartialEq)]
pub struct Season {
    pub name: String,
    pub from: Day,
    pub to: Day,
}

/// The season of `kind` (month | quarter | year) holding `day`.
pub fn season_of(kind: Kind, day: Day) -> Season {
    let d = date_of(day);
    let (y, m) = (d.year(), d.month());
    let (first_month, months, name) = match kind {
        Kind::Month => (m, 1, format!("{y:04}-{m:02}")),
        Kind::Year => (1, 12, format!("{y:04}")),
        Kind::Quarter => {
            let q = (m - 1) / 3;
            (q * 3 + 1, 3, format!("{y:04}-Q{}", q + 1))
        }
    };
    let from = NaiveDate::from_ymd_opt(y, first_month, 1).expect("first day of a season");
    let next = if first_month + months > 12 {
        NaiveDate::from_ymd_opt(y + 1, first_month + months - 12, 1)
    } else {
        NaiveDate::from_ymd_opt(y, first_month + months, 1)
    }
    .expect("first day of the next season");
    Season {
        name,
        from: day_of(from),
        to: day_of(next) - 1,
    }
}

/// Seasons from the one holding program.start to the one holding D, in order.
pub fn seasons(kind: Kind, start: Day, as_of: Day) -> Vec<Season> {
    let mut out = Vec::new();
    let mut s = season_of(kind, start);
    while s.from <= as_of {
        let next = s.to + 1;
        out.push(s);
        s = season_of(kind, next);
    }
    out
}

/// What the hall of fame reads from the other stages.
pub struct Inputs<'a> {
    /// Each member's points per season (`Facts::season_points`).
    pub facts: &'a [Facts],
    /// Regular snapshots, then D.
    pub history: &'a [(Day, LayerRow)],
    pub layer_at_d: &'a LayerRow,
    pub level_ids: &'a [String],
    pub sticky: &'a [bool],
    pub contests: &'a [ContestResult],
}

/// The seasons from program.start to D and their rows, in `hall_of_fame.csv`'s order.
#[derive(Debug, Clone, PartialEq)]
pub struct HallOfFame {
    pub seasons: Vec<Season>,
    pub rows: Vec<Fame>,
}

/// One row of `hall_of_fame.csv`, before formatting.
#[derive(Debug, Clone, PartialEq)]
pub struct Fame {
    /// Index into `HallOfFame::seasons`.
    pub season: usize,
    /// `top_contributor`, `contest_winner` or `alumni_inducted`.
    pub category: &'static str,
    pub rank: usize,
    pub member_id: String,
    /// Points for a contributor, the final score for a winner.
    pub value: Option<f64>,
    pub detail: FameDetail,
}

/// What a row was earned with, besides its value.
#[derive(Debug, Clone, PartialEq)]
pub enum FameDetail {
    None,
    /// A contest winner's contest id and award.
    Award {
        contest: String,
        award: String,
    },
    /// An inductee's sticky layer id.
    Layer(String),
}

impl FameDetail {
    /// As `hall_of_fame.csv` writes it: `<contest_id>: <award>`, the layer id or nothing.
    pub fn text(&self) -> String {
        match self {
            FameDetail::None => String::new(),
            FameDetail::Award { contest, award } => format!("{contest}: {award}"),
            FameDetail::Layer(id) => id.clone(),
        }
    }

    /// The last tie-break, after rank and member_id: the contest id.
    fn tie(&self) -> &str {
        match self {
            FameDetail::Award { contest, .. } => contest,
            _ => "",
        }
    }
}

/// The hall of fame (None without a `hall_of_fame` section).
pub fn compute(prog: &Program, ds: &Dataset, inp: &Inputs) -> Option<HallOfFame> {
    let plan = prog.hall_of_fame?;
    let seasons = seasons(plan.season, prog.start, ds.as_of);
    let mut rows: Vec<Fame> = Vec::new();
    rows.extend(top_contributors(ds, inp.facts, seasons.len(), plan.top_contributors));
    for (k, s) in seasons.iter().enumerate() {
        rows.extend(contest_winners(prog, ds, inp.contests, k, s));
    }
    rows.extend(alumni_inducted(ds, inp, &seasons));
    rows.sort_by(|a, b| {
        (
            a.season,
            a.category,
            a.rank,
            a.member_id.as_bytes(),
            a.detail.tie().as_bytes(),
        )
            .cmp(&(
                b.season,
                b.category,
                b.rank,
                b.member_id.as_bytes(),
                b.detail.tie().as_bytes(),
            ))
    });
    Some(HallOfFame { seasons, rows })
}

/// Per season, the members with the most points awarded by ledger entries dated in it.
fn top_contributors(ds: &Dataset, facts: &[Facts], seasons: usize, top: usize) -> Vec<Fame> {
    let mut sums: Vec<Vec<(usize, i64)>> = vec![Vec::new(); seasons];
    for (m, f) in facts.iter().enumerate() {
        for &(k, sum) in &f.season_points {
            sums[k as usize].push((m, sum));
        }
    }
    sums.into_iter()
        .enumerate()
        .flat_map(|(k, season)| ranked(ds, k, season, top))
        .collect()
}

fn ranked(ds: &Dataset, k: usize, sums: Vec<(usize, i64)>, top: usize) -> Vec<Fame> {
    let mut list: Vec<(usize, i64)> = sums.into_iter().filter(|(_, v)| *v > 0).collect();
    list.sort_by(|a, b| {
        b.1.cmp(&a.1)
            .then_with(|| ds.members[a.0].id.as_bytes().cmp(ds.members[b.0].id.as_bytes()))
    });
    list.into_iter()
        .take(top)
        .enumerate()
        .map(|(i, (m, v))| Fame {
            season: k,
            category: "top_contributor",
            rank: i + 1,
            member_id: ds.members[m].id.clone(),
            value: Some(v as f64),
            detail: FameDetail::None,
        })
        .collect()
}

/// Members whose first snapshot in a sticky layer is dated in a season; rank by date, member_id.
fn alumni_inducted(ds: &Dataset, inp: &Inputs, seasons: &[Season]) -> Vec<Fame> {
    let snapshots: Vec<(Day, &LayerRow)> = inp
        .history
        .iter()
        .map(|(d, r)| (*d, r))
        .chain(std::iter::once((ds.as_of, inp.layer_at_d)))
        .collect();
    let mut firsts: Vec<(usize, Day, usize, usize)> = Vec::new(); // (season, day, member, layer)
    for (i, _) in ds.table_members() {
        let first = snapshots
            .iter()
            .find_map(|(d, row)| row[i].filter(|l| inp.sticky[*l]).map(|l| (*d, l)));
        if let Some((d, l)) = first {
            if let Some(k) = seasons.iter().position(|s| s.from <= d && d <= s.to) {
                firsts.push((k, d, i, l));
            }
        }
    }
    firsts.sort_by(|a, b| (a.0, a.1, ds.members[a.2].id.as_bytes()).cmp(&(b.0, b.1, ds.members[b.2].id.as_bytes())));
    let mut out = Vec::new();
    let mut rank = 0;
    for (n, (k, _, i, l)) in firsts.iter().enumerate() {
        rank = if n > 0 && firsts[n - 1].0 == *k { rank + 1 } else { 1 };
        out.push(Fame {
            season: *k,
            category: "alumni_inducted",
            rank,
            member_id: ds.members[*i].id.clone(),
            value: None,
            detail: FameDetail::Layer(inp.level_ids[*l].clone()),
        });
    }
    out
}

/// Awarded entries of contests whose window ends on or before D, in the season.
fn contest_winners(prog: &Program, ds: &Dataset, contests: &[ContestResult], k: usize, s: &Season) -> Vec<Fame> {
    let mut out = Vec::new();
    for (plan, res) in prog.contests.iter().zip(contests) {
        let to = plan.to;
        if to > ds.as_of || to < s.from || to > s.to {
            continue;
        }
        for crate::stages::contests::Placing {
            rank,
            member_id,
            final_score,
            award,
            ..
        } in res.podium.iter().filter(|x| x.has_award())
        {
            out.push(Fame {
                season: k,
                category: "contest_winner",
                rank: *rank,
                member_id: member_id.clone(),
                value: Some(*final_score),
                detail: FameDetail::Award {
                    contest: res.id.clone(),
                    award: award.clone(),
                },
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, dd: u32) -> Day {
        day_of(NaiveDate::from_ymd_opt(y, m, dd).unwrap())
    }

    #[test]
    fn seasons_are_named_by_month_quarter_and_year() {
        assert_eq!(season_of(Kind::Month, d(2025, 6, 15)).name, "2025-06");
        assert_eq!(season_of(Kind::Quarter, d(2025, 6, 15)).name, "2025-Q2");
        assert_eq!(season_of(Kind::Quarter, d(2025, 10, 1)).name, "2025-Q4");
        assert_eq!(season_of(Kind::Year, d(2025, 6, 15)).name, "2025");
        let q4 = season_of(Kind::Quarter, d(2025, 12, 31));
        assert_eq!((q4.from, q4.to), (d(2025, 10, 1), d(2025, 12, 31)));
        let feb = season_of(Kind::Month, d(2024, 2, 10));
        assert_eq!((feb.from, feb.to), (d(2024, 2, 1), d(2024, 2, 29)));
    }

    #[test]
    fn seasons_run_from_the_start_to_d() {
        let names = |kind| {
            seasons(kind, d(2024, 11, 20), d(2025, 2, 1))
                .into_iter()
                .map(|s| s.name)
                .collect::<Vec<_>>()
        };
        assert_eq!(names(Kind::Month), ["2024-11", "2024-12", "2025-01", "2025-02"]);
        assert_eq!(names(Kind::Quarter), ["2024-Q4", "2025-Q1"]);
        assert_eq!(names(Kind::Year), ["2024", "2025"]);
    }
}
