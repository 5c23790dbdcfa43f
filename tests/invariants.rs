//! Invariants of points and tiers on random programs (proptest, through the binary):
//! awarded ≤ raw; no member earns more than a daily cap in a day; balance = earned −
//! redeemed − expired ≥ 0; nobody stays below their tier's minimum longer than the
//! grace period. Random exports must never make koc panic.
mod common;
use common::*;
use proptest::prelude::*;
use std::collections::HashMap;

const D: &str = "2025-02-28";

/// One random event: member, day in January–February, hour, action, likes.
fn event() -> impl Strategy<Value = (u8, u8, u8, u8, u16)> {
    (0u8..4, 0u8..59, 0u8..24, 0u8..3, 0u16..400)
}

fn pipeline(cap: i64, rule_cap: i64, grace: i64, expiry: i64) -> String {
    let extra = format!(
        r#"points:
  daily_cap: {cap}
  expiry_days: {expiry}
  rules:
    - {{id: post, action: post, points: 40, daily_cap: {rule_cap}}}
    - {{id: first, action: post, points: 70, max_times: 1}}
    - {{id: likes, action: post, per: {{field: likes, every: 10, points: 3}}, max_per_event: 60}}
    - {{id: feat, action: featured, points: 150}}
    - {{id: check, action: check_in, points: 5, daily_cap: 5}}
tiers:
  window_days: 20
  grace_days: {grace}
  levels:
    - {{id: bronze, min: 0}}
    - {{id: silver, min: 100}}
    - {{id: gold, min: 300}}
"#
    );
    small_pipeline(&extra).replace(
        "ingest:",
        "  redemptions:\n    path: redemptions.csv\n    columns: {redemption_id: id, member_id: member_id, redeemed_at: at, item: item, points: points}\ningest:",
    )
}

fn col(t: &[Vec<String>], name: &str) -> usize {
    t[0].iter().position(|c| c == name).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn points_and_tiers_keep_their_invariants(
        events in proptest::collection::vec(event(), 1..60),
        spends in proptest::collection::vec((0u8..4, 0u8..59, 1u16..400), 0..8),
        cap in 50i64..400,
        rule_cap in 40i64..200,
        grace in 0i64..10,
        expiry in 5i64..40,
    ) {
        let w = Workdir::new();
        w.create("pipeline.yaml", &pipeline(cap, rule_cap, grace, expiry));
        w.create("members.csv", &format!("{MEMBERS_HEADER}m0,A,2025-01-01,,\nm1,B,2025-01-01,,\nm2,C,2025-01-01,,\nm3,D,2025-01-01,,\n"));
        let day = |d: u8| format!("2025-{:02}-{:02}", 1 + d / 31, 1 + d % 31);
        let mut rows = String::from(ACTIVITY_HEADER);
        for (k, (m, d, h, a, likes)) in events.iter().enumerate() {
            let action = ["发帖", "精华", "签到"][*a as usize];
            rows.push_str(&format!("e{k:03},m{m},{} {h:02}:00:00,{action},,,,{likes},0,0\n", day(*d)));
        }
        w.create("activity_1.csv", &rows);
        let mut r = String::from("id,member_id,at,item,points\n");
        for (k, (m, d, pts)) in spends.iter().enumerate() {
            r.push_str(&format!("r{k},m{m},{} 12:00:00,gift,{pts}\n", day(*d)));
        }
        w.create("redemptions.csv", &r);
        let run = w.run_at(D);

        let ledger = read_parquet(&run.join("ledger.parquet"));
        let (raw, awarded, rule, member, date) =
            (col(&ledger, "raw_points"), col(&ledger, "awarded_points"), col(&ledger, "rule_id"), col(&ledger, "member_id"), col(&ledger, "date"));
        let mut per_day: HashMap<(String, String), i64> = HashMap::new();
        let mut per_rule_day: HashMap<(String, String, String), i64> = HashMap::new();
        for e in ledger.iter().skip(1) {
            let (rv, av): (i64, i64) = (e[raw].parse().unwrap(), e[awarded].parse().unwrap());
            prop_assert!(0 <= av && av <= rv, "awarded {av} > raw {rv}");
            *per_day.entry((e[member].clone(), e[date].clone())).or_default() += av;
            *per_rule_day.entry((e[member].clone(), e[date].clone(), e[rule].clone())).or_default() += av;
        }
        for (k, v) in &per_day {
            prop_assert!(*v <= cap, "{k:?} earned {v} > daily_cap {cap}");
        }
        for ((_, _, r), v) in &per_rule_day {
            let limit = match r.as_str() { "post" => rule_cap, "check" => 5, _ => i64::MAX };
            prop_assert!(*v <= limit, "rule {r} paid {v} > {limit}");
        }

        let balances = read_csv(&run.join("balances.csv"));
        for b in balances.iter().skip(1) {
            let n = |c: &str| b[col(&balances, c)].parse::<i64>().unwrap();
            prop_assert_eq!(n("balance"), n("earned_total") - n("redeemed_total") - n("expired_total"));
            prop_assert!(n("balance") >= 0);
        }

        let tiers = read_csv(&run.join("tiers.csv"));
        let d = chrono::NaiveDate::parse_from_str(D, "%Y-%m-%d").unwrap();
        for t in tiers.iter().skip(1) {
            let below = &t[col(&tiers, "below_since")];
            if !below.is_empty() {
                let b = chrono::NaiveDate::parse_from_str(below, "%Y-%m-%d").unwrap();
                let days_below = (d - b).num_days() + 1;
                prop_assert!(days_below < grace.max(1), "{} below for {days_below} days, grace {grace}", t[0]);
            }
        }
    }

    #[test]
    fn random_export_bytes_never_crash_ingest(bytes in proptest::collection::vec(any::<u8>(), 0..400), header in any::<bool>()) {
        let w = Workdir::new();
        w.create("pipeline.yaml", &small_pipeline(""));
        w.create("members.csv", &format!("{MEMBERS_HEADER}m1,A,2025-01-01,,\n"));
        let mut body = if header { ACTIVITY_HEADER.as_bytes().to_vec() } else { vec![] };
        body.extend_from_slice(&bytes);
        w.create_bytes("activity_1.csv", &body);
        let out = w.koc(&["ingest", "pipeline.yaml", "--quiet"]);
        prop_assert!(matches!(out.code(), 0 | 2 | 3), "exit {} {}", out.code(), out.stderr());
        prop_assert!(!out.stderr().contains("panicked"), "{}", out.stderr());
    }

    #[test]
    fn random_pipeline_text_never_crashes_validate(text in "[a-z_:{} \\[\\],'\"0-9.\\n-]{0,300}") {
        let w = Workdir::new();
        w.create("pipeline.yaml", &text);
        let out = w.koc(&["validate", "pipeline.yaml"]);
        prop_assert!(matches!(out.code(), 0..=2), "exit {}", out.code());
        prop_assert!(!out.stderr().contains("panicked"), "{}", out.stderr());
    }
}
