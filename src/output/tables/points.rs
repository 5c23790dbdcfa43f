//! `balances.csv` and `redemptions.csv` (SPEC §5).
use crate::output::{int, opt_date, p, t, time, Table};
use koc_engine::model::Dataset;
use koc_engine::stages::facts::Facts;
use koc_engine::stages::points::{Points, RedemptionOutcome};

pub fn balances(ds: &Dataset, pts: &Points, facts: &[Facts], tier_q: &[Option<i64>]) -> Table {
    let mut tb = Table::new(
        "balances",
        &[
            "member_id",
            "nickname",
            "earned_total",
            "redeemed_total",
            "expired_total",
            "balance",
            "tier_basis_points",
            "last_active_date",
        ],
    );
    for (i, m) in ds.table_members() {
        let b = &pts.balances[i];
        let last = facts[i].last_active;
        tb.push(vec![
            t(&m.id),
            t(m.nickname.clone().unwrap_or_default()),
            int(b.earned),
            int(b.redeemed),
            int(b.expired),
            int(b.balance),
            int(tier_q[i].unwrap_or(0)),
            opt_date(last),
        ]);
    }
    tb
}

pub fn redemptions(ds: &Dataset, pts: &Points) -> Table {
    let mut tb = Table::new(
        "redemptions",
        &[
            "redemption_id",
            "member_id",
            "redeemed_at",
            "item",
            "points",
            "status",
            "balance_after",
        ],
    );
    let mut rows: Vec<&RedemptionOutcome> = pts.redemptions.iter().collect();
    rows.sort_by_key(|o| o.redemption); // redemptions are stored sorted by (redeemed_at, id)
    for o in rows {
        let r = &ds.redemptions[o.redemption];
        tb.push(vec![
            t(&r.id),
            t(&r.member_id),
            time(r.ts),
            t(&r.item),
            int(r.points),
            p(o.status.as_str()),
            int(o.balance_after),
        ]);
    }
    tb
}
