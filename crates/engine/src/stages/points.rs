//! Points (SPEC §5): rules with caps and newbie limits → the ledger; lots spent
//! FIFO by redemptions and expiring → balances.
use crate::fmt::{day_of_ts, Day, Ts};
use crate::model::Dataset;
use crate::pipeline::config::Catalog;
use crate::pipeline::expr;
use crate::pipeline::plans::{Pays, RulesPlan, SpendPlan};
use crate::pipeline::program::{Place, Program};
use anyhow::Result;
use std::collections::HashMap;

#[derive(Debug, Clone, PartialEq)]
pub struct LedgerEntry {
    /// Index into `Dataset::events` (u32: the ledger is the largest array of a run).
    pub event: u32,
    pub rule: u32,
    pub raw: i64,
    pub awarded: i64,
    pub capped_by: Option<Cap>,
}

text_enum! {
    /// The first cap that cut an entry (SPEC §5, the ledger's `capped_by`).
    pub enum Cap {
        MaxTimes => "max_times",
        RuleDailyCap => "rule_daily_cap",
        DailyCap => "daily_cap",
    }
}

#[derive(Debug, Clone)]
pub struct RedemptionOutcome {
    /// Index into `Dataset::redemptions`.
    pub redemption: usize,
    pub status: RedemptionStatus,
    pub balance_after: i64,
}

text_enum! {
    /// SPEC §5's redemption statuses.
    pub enum RedemptionStatus {
        Ok => "ok",
        InsufficientBalance => "insufficient_balance",
        UnknownItem => "unknown_item",
        WrongPrice => "wrong_price",
    }
}

#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct Balance {
    pub earned: i64,
    pub redeemed: i64,
    pub expired: i64,
    pub balance: i64,
}

#[derive(Clone)]
pub struct Points {
    /// In (member_id, occurred_at, event_id, rule order).
    pub ledger: Vec<LedgerEntry>,
    /// Total awarded per event (the `awarded_points` of metrics and goals).
    pub awarded_per_event: Vec<i64>,
    pub redemptions: Vec<RedemptionOutcome>,
    /// Per member (index as in `Dataset::members`), at D.
    pub balances: Vec<Balance>,
    /// Per member: balance at each requested snapshot day.
    pub balance_at: Vec<Vec<i64>>,
}

/// The most one ledger entry can pay (`limits::MAX_POINTS`, why: there).
pub const MAX_AWARD: i64 = crate::pipeline::limits::MAX_POINTS;

/// Compute points for everyone at D, and each member's balance at every day of `snapshots`.
pub fn compute(prog: &Program, ds: &Dataset, snapshots: &[Day]) -> Result<Points> {
    let ledger = ledger(prog, ds)?;
    let mut awarded_per_event = vec![0i64; ds.events.len()];
    for e in &ledger {
        awarded_per_event[e.event as usize] += e.awarded;
    }
    let (redemptions, balances, balance_at) = spend(&prog.spending, ds, &ledger, snapshots);
    Ok(Points {
        ledger,
        awarded_per_event,
        redemptions,
        balances,
        balance_at,
    })
}

fn ledger(prog: &Program, ds: &Dataset) -> Result<Vec<LedgerEntry>> {
    let mut out = ledger_entries(prog, ds)?;
    out.shrink_to_fit(); // the largest array of a run: no doubling slack
    Ok(out)
}

fn ledger_entries(prog: &Program, ds: &Dataset) -> Result<Vec<LedgerEntry>> {
    let Some(cfg) = &prog.rules else {
        return Ok(vec![]);
    };
    // rule masks: which events each rule's action and `where` accept
    let conditions: Vec<_> = (0..cfg.rules.len())
        .map(|i| prog.conditions.get(&Place::Rule(i)))
        .collect();
    let frame = if conditions.iter().any(Option::is_some) {
        Some(ds.event_frame(&expr::names_in(conditions.iter().flatten().copied()), None)?)
    } else {
        None
    };
    let masks = match &frame {
        Some(df) => expr::eval_masks(&conditions, df)?,
        None => vec![None; cfg.rules.len()],
    };
    // each rule's action as the events' code (an action no event has matches none)
    let action_codes: Vec<Option<u32>> = cfg.rules.iter().map(|r| ds.events.action_code(&r.action)).collect();
    // each member's entries depend on that member's events alone: members in pieces
    // of a fixed size on all cores, put together in member order (the ledger's order
    // never depends on the threads)
    let member_entries = |range: &std::ops::Range<usize>, out: &mut Vec<LedgerEntry>| {
        let mut times = vec![0i64; cfg.rules.len()];
        let mut day = Day::MIN;
        let mut rule_today = vec![0i64; cfg.rules.len()];
        let mut all_today = 0i64;
        for ei in range.clone() {
            let ev = ds.events.get(ei);
            if ev.day != day {
                day = ev.day;
                rule_today.iter_mut().for_each(|x| *x = 0);
                all_today = 0;
            }
            for (ri, rule) in cfg.rules.iter().enumerate() {
                if !ds.events.action_is(ei, action_codes[ri]) || masks[ri].as_ref().is_some_and(|m| !m[ei]) {
                    continue;
                }
                let mut raw = match rule.pays {
                    Pays::Per { field, every, points } => {
                        (ds.events.count(field, ei) / every.max(1)).saturating_mul(points)
                    }
                    Pays::Fixed(points) => points,
                };
                // no sum of entries can wrap: one entry pays at most MAX_AWARD (docs/decisions.md)
                raw = raw.min(MAX_AWARD);
                if let Some(m) = rule.max_per_event {
                    raw = raw.min(m);
                }
                if raw <= 0 {
                    continue; // SPEC §5: a match with raw 0 makes no entry
                }
                let mut awarded = raw;
                let mut capped_by = None;
                let mut cut = |limit: i64, name: Cap, awarded: &mut i64| {
                    let room = limit.max(0);
                    if *awarded > room {
                        *awarded = room;
                        capped_by.get_or_insert(name);
                    }
                };
                if let Some(max) = rule.max_times {
                    cut(if times[ri] >= max { 0 } else { awarded }, Cap::MaxTimes, &mut awarded);
                }
                if let Some(cap) = rule.daily_cap {
                    cut(cap - rule_today[ri], Cap::RuleDailyCap, &mut awarded);
                }
                if let Some(cap) = cfg.daily_cap {
                    cut(cap - all_today, Cap::DailyCap, &mut awarded);
                }
                if awarded > 0 {
                    times[ri] += 1; // SPEC §5: only a match that awards > 0 counts as a time
                }
                rule_today[ri] += awarded;
                all_today += awarded;
                out.push(LedgerEntry {
                    event: ei as u32,
                    rule: ri as u32,
                    raw,
                    awarded,
                    capped_by,
                });
            }
        }
    };
    use rayon::prelude::*;
    let pieces: Vec<Vec<LedgerEntry>> = ds
        .member_events
        .par_chunks(MEMBERS_PER_PIECE)
        .map(|members| {
            let mut out = Vec::new();
            for range in members {
                member_entries(range, &mut out);
            }
            out
        })
        .collect();
    let mut out = Vec::with_capacity(pieces.iter().map(Vec::len).sum());
    for piece in pieces {
        out.extend(piece);
    }
    Ok(out)
}

/// Members per piece of the ledger built on all cores.
const MEMBERS_PER_PIECE: usize = 2048;

/// An earned lot: spendable from `ts`, through the end of `expires` (None: never).
#[derive(Debug, Clone)]
pub struct Lot {
    pub ts: Ts,
    pub day: Day,
    pub expires: Option<Day>,
    /// Points still unconsumed.
    pub left: i64,
    /// Points the lot was earned with.
    pub points: i64,
}

impl Lot {
    /// Spendable by a redemption at `ts` (on `day`): earned by then, not yet expired.
    fn spendable_at(&self, ts: Ts, day: Day) -> bool {
        self.ts <= ts && self.expires.is_none_or(|x| x >= day) && self.left > 0
    }
}

/// Consume `points` from the oldest spendable lots (SPEC §5 FIFO); the caller has
/// checked that enough is available.
fn consume(lots: &mut [Lot], ts: Ts, day: Day, points: i64) {
    let mut due = points;
    for l in lots.iter_mut() {
        if due == 0 {
            break;
        }
        if l.spendable_at(ts, day) {
            let take = l.left.min(due);
            l.left -= take;
            due -= take;
        }
    }
}

/// Each member's lots at D, replayed from its ledger entries and accepted redemptions
/// (the same FIFO as the run), one member at a time: the lots are never all held.
pub struct LotReplay<'a> {
    plan: &'a SpendPlan,
    ds: &'a Dataset,
    points: &'a Points,
    ranges: &'a [std::ops::Range<usize>],
    spent: Vec<Vec<usize>>,
}

impl<'a> LotReplay<'a> {
    /// `ranges`: each member's slice of the ledger (`member_ledger_ranges`).
    pub fn new(plan: &'a SpendPlan, ds: &'a Dataset, points: &'a Points, ranges: &'a [std::ops::Range<usize>]) -> Self {
        LotReplay {
            plan,
            ds,
            points,
            ranges,
            spent: ok_redemptions_by_member(ds, points),
        }
    }

    /// Member `m`'s lots at D.
    pub fn of(&self, m: usize) -> Vec<Lot> {
        let mut lots = lots_from(self.plan, self.ds, &self.points.ledger[self.ranges[m].clone()]);
        for &ri in &self.spent[m] {
            let r = &self.ds.redemptions[ri];
            consume(&mut lots, r.ts, day_of_ts(r.ts), r.points);
        }
        lots
    }
}

/// One member's lots at D (`koc explain`).
pub fn lots_of(plan: &SpendPlan, ds: &Dataset, points: &Points, member: usize) -> Vec<Lot> {
    let ranges = member_ledger_ranges(ds, &points.ledger);
    LotReplay::new(plan, ds, points, &ranges).of(member)
}

/// The accepted redemptions of each member, in the order they were spent.
fn ok_redemptions_by_member(ds: &Dataset, points: &Points) -> Vec<Vec<usize>> {
    let mut out = vec![Vec::new(); ds.members.len()];
    for o in points.redemptions.iter().filter(|o| o.status == RedemptionStatus::Ok) {
        if let Some(&m) = ds.index.get(&ds.redemptions[o.redemption].member_id) {
            out[m].push(o.redemption);
        }
    }
    for v in out.iter_mut() {
        v.sort_unstable(); // redemptions are stored by (redeemed_at, id): spending order
    }
    out
}

/// Each member's slice of the ledger (the ledger is grouped by member index).
pub fn member_ledger_ranges(ds: &Dataset, ledger: &[LedgerEntry]) -> Vec<std::ops::Range<usize>> {
    let mut out = vec![0..0; ds.members.len()];
    let mut i = 0;
    while i < ledger.len() {
        let m = ds.events.member(ledger[i].event as usize);
        let start = i;
        while i < ledger.len() && ds.events.member(ledger[i].event as usize) == m {
            i += 1;
        }
        out[m] = start..i;
    }
    out
}

/// One member's earned lots, in ledger order (= occurred_at, event_id, rule order), unspent.
fn lots_from(plan: &SpendPlan, ds: &Dataset, entries: &[LedgerEntry]) -> Vec<Lot> {
    let expiry = plan.expiry_days;
    entries
        .iter()
        .filter(|e| e.awarded > 0)
        .map(|e| {
            let day = ds.events.day[e.event as usize];
            Lot {
                ts: ds.events.ts[e.event as usize],
                day,
                expires: expiry.map(|x| day + x as Day),
                left: e.awarded,
                points: e.awarded,
            }
        })
        .collect()
}

type Spent = (Vec<RedemptionOutcome>, Vec<Balance>, Vec<Vec<i64>>);

fn spend(plan: &SpendPlan, ds: &Dataset, ledger: &[LedgerEntry], snapshots: &[Day]) -> Spent {
    let catalog = plan.catalog.as_ref();
    let n = ds.members.len();
    // lots are built for one member at a time on each core: they never all exist at once
    let ranges = member_ledger_ranges(ds, ledger);
    let mut by_member: Vec<Vec<usize>> = vec![Vec::new(); n];
    let mut outcomes: Vec<Option<RedemptionOutcome>> = vec![None; ds.redemptions.len()];
    for (ri, r) in ds.redemptions.iter().enumerate() {
        match ds.index.get(&r.member_id) {
            Some(m) if ds.members[*m].joined <= ds.as_of => by_member[*m].push(ri),
            _ => {
                let status =
                    catalog_status(catalog, &r.item, r.points).unwrap_or(RedemptionStatus::InsufficientBalance);
                outcomes[ri] = Some(RedemptionOutcome {
                    redemption: ri,
                    status,
                    balance_after: 0,
                });
            }
        }
    }
    // each member's lots and redemptions are its own: members on all cores, their
    // results put in place in member order
    use rayon::prelude::*;
    let per_member: Vec<(Balance, Vec<i64>, Vec<RedemptionOutcome>)> = (0..n)
        .into_par_iter()
        .with_min_len(256)
        .map(|m| {
            let mut balance = Balance::default();
            let mut at_snapshots = vec![0i64; snapshots.len()];
            let mut member_outcomes = Vec::new();
            let member_lots = &mut lots_from(plan, ds, &ledger[ranges[m].clone()]);
            balance.earned = member_lots.iter().map(|l| l.points).sum();
            let mut snap = 0usize;
            let mut record_snapshots = |upto: Option<Day>, lots: &Vec<Lot>, snap: &mut usize| {
                // snapshots strictly before the next redemption's date (or all that remain)
                while *snap < snapshots.len() && upto.is_none_or(|d| snapshots[*snap] < d) {
                    let s = snapshots[*snap];
                    at_snapshots[*snap] = lots
                        .iter()
                        .filter(|l| l.day <= s && l.expires.is_none_or(|x| x > s))
                        .map(|l| l.left)
                        .sum();
                    *snap += 1;
                }
            };
            for &ri in &by_member[m] {
                let r = &ds.redemptions[ri];
                let day = day_of_ts(r.ts);
                record_snapshots(Some(day), member_lots, &mut snap);
                let available: i64 = member_lots
                    .iter()
                    .filter(|l| l.spendable_at(r.ts, day))
                    .map(|l| l.left)
                    .sum();
                let status = match catalog_status(catalog, &r.item, r.points) {
                    Some(s) => s,
                    None if available < r.points => RedemptionStatus::InsufficientBalance,
                    None => {
                        consume(member_lots, r.ts, day, r.points);
                        balance.redeemed += r.points;
                        RedemptionStatus::Ok
                    }
                };
                let after = if status == RedemptionStatus::Ok {
                    available - r.points
                } else {
                    available
                };
                member_outcomes.push(RedemptionOutcome {
                    redemption: ri,
                    status,
                    balance_after: after,
                });
            }
            record_snapshots(None, member_lots, &mut snap);
            let d = ds.as_of;
            for l in member_lots.iter() {
                if l.expires.is_some_and(|x| x <= d) {
                    balance.expired += l.left;
                } else {
                    balance.balance += l.left;
                }
            }
            (balance, at_snapshots, member_outcomes)
        })
        .collect();
    let mut balances = Vec::with_capacity(n);
    let mut balance_at = Vec::with_capacity(n);
    for (balance, at_snapshots, member_outcomes) in per_member {
        balances.push(balance);
        balance_at.push(at_snapshots);
        for o in member_outcomes {
            let ri = o.redemption;
            outcomes[ri] = Some(o);
        }
    }
    (outcomes.into_iter().flatten().collect(), balances, balance_at)
}

/// `unknown_item` / `wrong_price` against the catalog, checked before the balance.
fn catalog_status(catalog: Option<&Catalog>, item: &str, cost: i64) -> Option<RedemptionStatus> {
    match catalog? {
        Catalog::Names(names) => (!names.iter().any(|n| n == item)).then_some(RedemptionStatus::UnknownItem),
        Catalog::Prices(prices) => match prices.get(item) {
            None => Some(RedemptionStatus::UnknownItem),
            Some(price) if (*price - cost as f64).abs() > 1e-9 => Some(RedemptionStatus::WrongPrice),
            Some(_) => None,
        },
    }
}

/// Points awarded per day (for tiers) from one member's slice of the ledger
/// (`member_ledger_ranges`), built when that member's tier is computed.
pub fn daily_awards(ds: &Dataset, entries: &[LedgerEntry]) -> Vec<(Day, i64)> {
    let mut v: Vec<(Day, i64)> = Vec::new();
    for e in entries.iter().filter(|e| e.awarded > 0) {
        let day = ds.events.day[e.event as usize];
        match v.last_mut() {
            Some((d, x)) if *d == day => *x += e.awarded,
            _ => v.push((day, e.awarded)),
        }
    }
    v
}

/// Each rule's id by its position (the ledger names rules by position).
pub fn rule_ids(rules: Option<&RulesPlan>) -> HashMap<usize, String> {
    rules
        .map(|c| c.rules.iter().enumerate().map(|(i, r)| (i, r.id.clone())).collect())
        .unwrap_or_default()
}
