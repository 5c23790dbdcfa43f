//! `tiers.csv` and `tier_changes.csv` (SPEC §6).
use crate::output::{date, empty, int, opt_date, p, t, Table};
use koc_engine::fmt::Day;
use koc_engine::model::Dataset;
use koc_engine::pipeline::config::TiersCfg;
use koc_engine::stages::tiers::{TierMove, TierState};

pub fn tiers(cfg: &TiersCfg, ds: &Dataset, states: &[Option<TierState>], previous_snapshot: Option<Day>) -> Table {
    let mut tb = Table::new(
        "tiers",
        &[
            "member_id",
            "nickname",
            "tier",
            "tier_since",
            "qualifying_points",
            "next_tier",
            "points_to_next",
            "below_since",
            "demotion_on",
            "previous_tier",
            "change",
        ],
    );
    let id = |i: usize| cfg.levels[i].id.clone();
    for (i, m) in ds.table_members() {
        let Some(s) = &states[i] else { continue };
        let next = cfg.levels.get(s.tier + 1);
        let prev = previous_snapshot.and_then(|d| s.tier_at(d));
        tb.push(vec![
            t(&m.id),
            t(m.nickname.clone().unwrap_or_default()),
            t(id(s.tier)),
            date(s.since),
            int(s.q),
            t(next.map(|l| l.id.clone()).unwrap_or_default()),
            next.map(|l| int(l.min - s.q)).unwrap_or_else(empty),
            opt_date(s.below_since),
            opt_date(s.demotion_on),
            t(prev.map(id).unwrap_or_default()),
            p(TierMove::between(prev, s.tier).as_str()),
        ]);
    }
    tb
}

pub fn changes(cfg: &TiersCfg, ds: &Dataset, states: &[Option<TierState>]) -> Table {
    let mut tb = Table::new("tier_changes", &["member_id", "date", "from_tier", "to_tier"]);
    for (i, m) in ds.table_members() {
        for c in states[i].iter().flat_map(|s| &s.changes) {
            tb.push(vec![
                t(&m.id),
                date(c.day),
                t(&cfg.levels[c.from].id),
                t(&cfg.levels[c.to].id),
            ]);
        }
    }
    tb
}
