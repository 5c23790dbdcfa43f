//! How a budgeted run computes the members (docs/scale-out.md): how many shards, how
//! many of them at once, and how many months its split takes at once, from the store's
//! size, the memory budget and the threads.
use koc_engine::store::{Manifest, Store};

/// The bytes of each of the store's event partitions.
fn partition_sizes<'a>(store: &'a Store, manifest: &'a Manifest) -> impl Iterator<Item = u64> + 'a {
    manifest
        .events
        .values()
        .filter_map(|rel| std::fs::metadata(store.dir.join(rel)).ok())
        .map(|m| m.len())
}

/// The bytes of the store's event partitions, what a computation's memory follows.
pub fn stored_events(store: &Store, manifest: &Manifest) -> u64 {
    partition_sizes(store, manifest).sum()
}

/// The bytes of the store's largest month partition, what a month's split holds.
pub fn largest_month(store: &Store, manifest: &Manifest) -> u64 {
    partition_sizes(store, manifest).max().unwrap_or(0)
}

/// How a budgeted run computes the members: in `count` shards (1: one computation of
/// the whole store, no shards), `at_once` of them at a time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShardPlan {
    pub count: u64,
    pub at_once: u64,
}

impl ShardPlan {
    /// A computation takes about 13 bytes of memory per byte of the store's event
    /// partitions (`stored`; 20 M events: 280 MB on disk, 3.6 GB of peak), plus about
    /// half a gigabyte whatever the shard (the members, the outputs).
    const PER_STORED_BYTE: u64 = 13;
    const FIXED: u64 = 512 << 20;
    const MOST: u64 = 64;

    /// The plan that keeps a run within `budget` on `threads` threads. A store one
    /// computation fits is not sharded. Otherwise the budget is shared among as many
    /// shards at once as there are threads (a shard's stages mostly keep one core
    /// busy), as long as each share still has room for a shard of at most `MOST`; the
    /// shards are then as few as the shares allow.
    pub fn within(stored: u64, budget: u64, threads: u64) -> ShardPlan {
        let need = stored.saturating_mul(Self::PER_STORED_BYTE);
        // each of `at_once` shards' share of the budget, after its fixed part
        let share = |at_once: u64| {
            budget
                .checked_sub(at_once.saturating_mul(Self::FIXED))
                .map(|room| room / at_once)
                .filter(|share| *share > 0)
        };
        let count_within = |share: Option<u64>| share.map_or(Self::MOST, |s| need.div_ceil(s).clamp(1, Self::MOST));
        if count_within(share(1)) == 1 {
            return ShardPlan { count: 1, at_once: 1 };
        }
        let smallest_share = need.div_ceil(Self::MOST).max(1);
        let at_once = (2..=threads)
            .rev()
            .find(|k| share(*k).is_some_and(|s| s >= smallest_share))
            .unwrap_or(1);
        let count = count_within(share(at_once));
        ShardPlan {
            count,
            at_once: at_once.min(count),
        }
    }

    /// How many months the split takes at once: as many as the shards run at once,
    /// while each month's split fits its share of `budget` (it holds about 4 bytes per
    /// byte of the month's stored file — its slices, their grouped copy, the shards'
    /// files — plus the fixed half gigabyte; at 200 M events one month peaked at
    /// 1.4 GB, two at 2.8 GB).
    pub fn months_at_once(&self, largest_month: u64, budget: u64) -> u64 {
        const PER_MONTH_BYTE: u64 = 4;
        let one = largest_month.saturating_mul(PER_MONTH_BYTE).saturating_add(Self::FIXED);
        (1..=self.at_once)
            .rev()
            .find(|k| k.saturating_mul(one) <= budget)
            .unwrap_or(1)
    }

    /// What any run of `members` members holds whatever its shards, when that is more
    /// than `budget` allows: the merge puts every member's state together (about 4 KB
    /// a member: 1.3 M members peaked at 5.1 GiB, 130,000 at 1.0 GiB, each with the
    /// fixed half gigabyte). None while the members' part is under a quarter of the
    /// fixed part (32,768 members: a small program's fixed part is an overestimate) or
    /// the whole fits.
    pub fn members_over(members: u64, budget: u64) -> Option<u64> {
        const PER_MEMBER: u64 = 4 << 10;
        let part = members.saturating_mul(PER_MEMBER);
        let need = part.saturating_add(Self::FIXED);
        (part >= Self::FIXED / 4 && need > budget).then_some(need)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const M: u64 = 1 << 20;
    const G: u64 = 1 << 30;

    #[test]
    fn a_budget_below_the_members_state_is_found() {
        // 1.3 M members: 5.3 GB with the fixed part, within 6G, not within 5G
        assert_eq!(ShardPlan::members_over(1_300_000, 6 * G), None);
        assert_eq!(
            ShardPlan::members_over(1_300_000, 5 * G),
            Some(1_300_000 * 4096 + 512 * M)
        );
        // 130,000 members peaked at 1.0 GiB
        assert_eq!(ShardPlan::members_over(130_000, 1100 * M), None);
        assert_eq!(
            ShardPlan::members_over(130_000, 1000 * M),
            Some(130_000 * 4096 + 512 * M)
        );
        // a small program is never said to go over, whatever the budget
        assert_eq!(ShardPlan::members_over(32_767, 1), None);
        assert_eq!(ShardPlan::members_over(32_768, 513 * M), Some(640 * M));
    }

    #[test]
    fn a_store_one_computation_fits_is_not_sharded() {
        // 280 MB of partitions need 3.6 GB: within 6G on any number of threads
        let plan = ShardPlan::within(280 * M, 6 * G, 8);
        assert_eq!(plan, ShardPlan { count: 1, at_once: 1 });
    }

    #[test]
    fn the_budget_is_shared_among_shards_at_once_one_per_thread() {
        // 3.5 GiB of partitions (about 200 M events) need 45.5 GiB
        let need = 13 * 3584 * M;
        // one thread: one shard at a time in 5.5 GiB, 9 shards
        assert_eq!(
            ShardPlan::within(3584 * M, 6 * G, 1),
            ShardPlan { count: 9, at_once: 1 }
        );
        // two: two shares of 2.5 GiB
        let two = ShardPlan::within(3584 * M, 6 * G, 2);
        assert_eq!(
            two,
            ShardPlan {
                count: need.div_ceil(2560 * M),
                at_once: 2
            }
        );
        assert_eq!(two.count, 19);
        // eight threads: no more at once than leaves each share room for a shard of
        // at most 64 (45.5 GB / 64 = 728 MB): 6 GiB holds 4 shares of 1 GiB
        assert_eq!(
            ShardPlan::within(3584 * M, 6 * G, 8),
            ShardPlan { count: 46, at_once: 4 }
        );
    }

    #[test]
    fn months_are_split_at_once_while_each_fits_its_share() {
        // 200 M events: 18 shards two at a time under 6G; a month of 400 MB needs 2.1 GiB
        let two = ShardPlan { count: 18, at_once: 2 };
        assert_eq!(two.months_at_once(400 * M, 6 * G), 2);
        // eight threads under 6G run four shards at once, but only two months fit
        let four = ShardPlan { count: 46, at_once: 4 };
        assert_eq!(four.months_at_once(400 * M, 6 * G), 2);
        // a month too big for two shares: one at a time, as for one thread
        assert_eq!(two.months_at_once(2 * G, 6 * G), 1);
        assert_eq!(ShardPlan { count: 9, at_once: 1 }.months_at_once(M, 64 * G), 1);
        // 20 M events under 1600M: months of 30 MB, two at a time
        assert_eq!(ShardPlan { count: 13, at_once: 2 }.months_at_once(30 * M, 1600 * M), 2);
    }

    #[test]
    fn a_budget_with_room_for_one_fixed_part_runs_one_shard_at_a_time() {
        // 513M leaves 1 MiB after one shard's fixed half gigabyte, none after two
        let plan = ShardPlan::within(M, 513 * M, 2);
        assert_eq!(plan, ShardPlan { count: 13, at_once: 1 });
        // no room at all: as many shards as there may be, one at a time
        assert_eq!(ShardPlan::within(M, 512 * M, 2), ShardPlan { count: 64, at_once: 1 });
    }

    #[test]
    fn each_share_holds_its_shards_and_no_thread_waits_for_none() {
        for stored in [M / 8, M, 64 * M, 280 * M, 3584 * M, 40 * G] {
            for budget in [513 * M, 1025 * M, 1600 * M, 2 * G, 6 * G, 64 * G] {
                for threads in [1, 2, 3, 8, 64] {
                    let plan = ShardPlan::within(stored, budget, threads);
                    let need = 13 * stored;
                    let what = format!("{stored} B, budget {budget}, {threads} threads: {plan:?}");
                    assert!((1..=64).contains(&plan.count), "{what}");
                    assert!(plan.at_once >= 1 && plan.at_once <= threads.max(1), "{what}");
                    assert!(plan.at_once <= plan.count, "{what}");
                    if plan.count == 1 {
                        assert!(need + ShardPlan::FIXED <= budget, "{what}");
                    } else if plan.count < 64 {
                        // the shares together hold the fixed parts and every shard's need
                        let per_shard = need.div_ceil(plan.count);
                        assert!(plan.at_once * (ShardPlan::FIXED + per_shard) <= budget, "{what}");
                    }
                }
            }
        }
    }
}
