//! The care calendar (SPEC §10): birthdays and anniversaries in the coming days,
//! and promotions and first featured posts since the previous snapshot.
use crate::fmt::{date_of, day_of, Day};
use crate::model::Dataset;
use crate::pipeline::plans::CarePlan;
use crate::stages::facts::Facts;
use crate::stages::layers::LayerRow;
use crate::stages::tiers::TierState;
use chrono::{Datelike, NaiveDate};

text_enum! {
    /// SPEC §10's care occasions.
    pub enum Kind {
        Birthday => "birthday",
        PurchaseAnniversary => "purchase_anniversary",
        JoinAnniversary => "join_anniversary",
        Promotion => "promotion",
        FirstFeatured => "first_featured",
    }
}

pub struct Occasion {
    pub day: Day,
    pub member: usize,
    pub occasion: Kind,
    /// The CSV's detail (ids and English words, as the SPEC's examples).
    pub detail: String,
    /// What the detail says, for a localised report.
    pub about: About,
}

/// The facts behind an occasion's detail.
#[derive(Debug, Clone, PartialEq)]
pub enum About {
    /// Years since the birthday, purchase or join date.
    Years(i32),
    /// A promotion from one tier to another (indices of tiers.levels).
    Promotion(usize, usize),
    /// The first featured event: what the report shows of it (its content id, else its id).
    Event(String),
}

/// The date of `original`'s anniversary in `year` (29 February → 28 February in other years).
fn anniversary(original: NaiveDate, year: i32) -> Option<NaiveDate> {
    NaiveDate::from_ymd_opt(year, original.month(), original.day())
        .or_else(|| NaiveDate::from_ymd_opt(year, original.month(), original.day() - 1))
}

pub struct Inputs<'a> {
    pub layer_at_d: &'a LayerRow,
    pub tiers: &'a [Option<TierState>],
    pub tier_ids: &'a [String],
    pub previous_snapshot: Option<Day>,
    /// Each member's first featured event (`Facts::first_featured`).
    pub facts: &'a [Facts],
}

pub fn compute(plan: &CarePlan, ds: &Dataset, inp: &Inputs) -> Vec<Occasion> {
    let d = ds.as_of;
    let horizon = plan.horizon_days;
    let layers = plan.layers.as_ref();
    let since = inp.previous_snapshot.unwrap_or(Day::MIN);
    let mut out = Vec::new();
    for (i, m) in ds.table_members() {
        let Some(layer) = inp.layer_at_d[i] else { continue };
        if layers.is_some_and(|ls| !ls.contains(&layer)) {
            continue;
        }
        let dates: [(Option<Day>, Kind); 3] = [
            (m.birthday, Kind::Birthday),
            (m.purchase, Kind::PurchaseAnniversary),
            (Some(m.joined), Kind::JoinAnniversary),
        ];
        for (date, occasion) in dates {
            let Some(orig) = date.map(date_of) else { continue };
            let (y0, y1) = (date_of(d + 1).year(), date_of(d + horizon).year());
            for y in y0..=y1 {
                let Some(a) = anniversary(orig, y) else { continue };
                let ad = day_of(a);
                let years = y - orig.year();
                if years >= 1 && ad > d && ad <= d + horizon {
                    out.push(Occasion {
                        day: ad,
                        member: i,
                        occasion,
                        detail: format!("{years} years"),
                        about: About::Years(years),
                    });
                }
            }
        }
        if let Some(s) = &inp.tiers[i] {
            for c in s
                .changes
                .iter()
                .filter(|c| c.to > c.from && c.day > since && c.day <= d)
            {
                out.push(Occasion {
                    day: c.day,
                    member: i,
                    occasion: Kind::Promotion,
                    detail: format!("{} -> {}", inp.tier_ids[c.from], inp.tier_ids[c.to]),
                    about: About::Promotion(c.from, c.to),
                });
            }
        }
        if let Some(e) = &inp.facts[i].first_featured {
            if e.day > since && e.day <= d {
                out.push(Occasion {
                    day: e.day,
                    member: i,
                    occasion: Kind::FirstFeatured,
                    detail: e.event_id.clone(),
                    about: About::Event(e.shown.clone()),
                });
            }
        }
    }
    out.sort_by(|a, b| {
        // occasions of one member on one day in the order of their names
        (a.day, ds.members[a.member].id.as_bytes(), a.occasion.as_str()).cmp(&(
            b.day,
            ds.members[b.member].id.as_bytes(),
            b.occasion.as_str(),
        ))
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leap_day_falls_on_28_february_in_other_years() {
        let leap = NaiveDate::from_ymd_opt(1992, 2, 29).unwrap();
        assert_eq!(anniversary(leap, 2025), NaiveDate::from_ymd_opt(2025, 2, 28));
        assert_eq!(anniversary(leap, 2028), NaiveDate::from_ymd_opt(2028, 2, 29));
    }
}
