//! Points, the points mall and tiers on a fixture worked out by hand (SPEC §5, §6).
mod common;
use common::*;

const RULES: &str = r#"points:
  daily_cap: 100
  expiry_days: 10
  rules:
    - {id: post, action: post, points: 40, daily_cap: 60}
    - {id: first_post, action: post, points: 50, max_times: 1}
    - {id: likes_bonus, action: post, per: {field: likes, every: 10, points: 3}, max_per_event: 12}
    - {id: adas, action: post, where: "topic = 'adas'", points: 5}
    - {id: zero, action: check_in, points: 0}
redemption:
  catalog: {sticker: 30, mug: 50}
tiers:
  window_days: 5
  grace_days: 2
  levels:
    - {id: bronze, min: 0}
    - {id: silver, min: 50}
    - {id: gold, min: 120}
"#;

fn program(w: &Workdir) {
    let mut p = small_pipeline(RULES);
    p = p.replace(
        "ingest:",
        "  redemptions:\n    path: redemptions.csv\n    columns: {redemption_id: id, member_id: member_id, redeemed_at: at, item: item, points: points}\ningest:",
    );
    w.create("pipeline.yaml", &p);
    w.create(
        "members.csv",
        &format!("{MEMBERS_HEADER}m1,A,2025-01-01,,\nm2,B,2025-01-01,,\n"),
    );
    w.create(
        "activity_1.csv",
        &format!(
            "{ACTIVITY_HEADER}{}",
            [
                "e1,m1,2025-01-05 10:00:00,发帖,adas,,,25,0,0",
                "e2,m1,2025-01-05 11:00:00,发帖,,,,100,0,0",
                "e3,m1,2025-01-06 09:00:00,签到,,,,,,",
                "e4,m1,2025-01-06 10:00:00,发帖,adas,,,9,0,0",
                "e5,m2,2025-01-18 10:00:00,发帖,,,,0,0,0",
            ]
            .map(|r| format!("{r}\n"))
            .concat()
        ),
    );
    w.create(
        "redemptions.csv",
        "id,member_id,at,item,points\nr1,m1,2025-01-05 09:00:00,sticker,30\nr2,m1,2025-01-05 12:00:00,sticker,30\nr3,m1,2025-01-06 12:00:00,mug,60\nr4,m1,2025-01-06 12:30:00,hat,10\nr5,m1,2025-01-15 10:00:00,mug,50\nr6,m1,2025-01-16 10:00:00,sticker,30\nr7,zz,2025-01-10 10:00:00,sticker,30\n",
    );
}

#[test]
fn rules_apply_in_order_with_max_times_then_rule_cap_then_program_cap() {
    let w = Workdir::new();
    program(&w);
    let ledger = read_parquet(&w.run_at("2025-01-20").join("ledger.parquet"));
    let rows: Vec<String> = ledger[1..]
        .iter()
        .map(|r| format!("{} {} {} {} {}", r[0], r[4], r[5], r[6], r[7]))
        .collect();
    assert_eq!(
        rows,
        [
            // e1: 40 + 50 + floor(25/10)*3 = 96, then adas 5 is cut to the 4 left of the program's 100
            "e1 post 40 40 ",
            "e1 first_post 50 50 ",
            "e1 likes_bonus 6 6 ",
            "e1 adas 5 4 daily_cap",
            // e2: the rule cap leaves 20 (first limit), the program cap then 0; first_post
            // already paid once; likes 30 → max_per_event 12 → program cap 0; no adas (NULL topic)
            "e2 post 40 0 rule_daily_cap",
            "e2 first_post 50 0 max_times",
            "e2 likes_bonus 12 0 daily_cap",
            // e3: a check-in worth 0 makes no entry; e4: a new day; likes 9 → raw 0, no entry
            "e4 post 40 40 ",
            "e4 first_post 50 0 max_times",
            "e4 adas 5 5 ",
            "e5 post 40 40 ",
            "e5 first_post 50 50 ",
        ]
    );
    assert_eq!(
        ledger[0],
        [
            "event_id",
            "member_id",
            "occurred_at",
            "date",
            "rule_id",
            "raw_points",
            "awarded_points",
            "capped_by"
        ]
    );
    assert_eq!(ledger[1][2..4], ["2025-01-05 10:00:00", "2025-01-05"]);
}

/// `koc explain`'s text sums what each limit cut, per rule and limit (from the ledger
/// above: the rule's daily cap 40 of post, the program's daily cap 12 of likes_bonus and
/// 1 of adas), groups the awards per rule, and leaves out the entries of a once-only
/// rule that had already paid (e2's and e4's first_post).
#[test]
fn explain_sums_the_points_each_limit_cut() {
    let w = Workdir::new();
    program(&w);
    w.koc(&["ingest", "pipeline.yaml", "--quiet"]).expect_code(0);
    let out = w.koc(&["explain", "pipeline.yaml", "m1", "--as-of", "2025-01-20"]);
    out.expect_code(0);
    let text = out.stdout();
    assert!(
        text.contains(
            "Limits cut 53 points: post, the rule's daily cap −40 (1×); likes_bonus, the daily cap −12 (1×); adas, the daily cap −1 (1×)."
        ),
        "{text}"
    );
    assert!(text.contains("  post: 3 awards, 120 → 80 points"), "{text}");
    assert!(text.contains("  first_post: 1 award, 50 → 50 points"), "{text}");
    assert!(
        text.contains("2 entries of once-only rules that had already paid are left out"),
        "{text}"
    );
    assert!(
        text.contains("    the rule's daily cap cut 40 points of post (1×)"),
        "{text}"
    );
}

#[test]
fn redemptions_spend_fifo_lots_and_refusals_consume_nothing() {
    let w = Workdir::new();
    program(&w);
    let dir = w.run_at("2025-01-20");
    let r = read_csv(&dir.join("redemptions.csv"));
    let got: Vec<String> = r[1..].iter().map(|x| format!("{} {} {}", x[0], x[5], x[6])).collect();
    assert_eq!(
        got,
        [
            "r1 insufficient_balance 0", // before the first lot exists
            "r2 ok 70",                  // 100 earned on 01-05, minus 30
            "r3 wrong_price 115",        // 70 + 45 of 01-06, nothing spent
            "r4 unknown_item 115",
            "r7 insufficient_balance 0", // zz is not a known member
            "r5 ok 65",                  // on the expiry day of the 01-05 lots: still spendable
            "r6 ok 15",                  // the 01-05 lots expired at the end of 01-15
        ]
    );
    // earned 145, redeemed 30 + 50 + 30 = 110, expired: 20 left of 01-05 + 15 left of 01-06
    let b = read_csv(&dir.join("balances.csv"));
    assert_eq!(b[1], ["m1", "A", "145", "110", "35", "0", "0", "2025-01-06"]);
    // at 01-15 the 01-05 remainder (20) has expired, the 01-06 lots (45) not yet
    let b = read_csv(&w.run_at("2025-01-15").join("balances.csv"));
    assert_eq!(b[1][2..6], ["145", "80", "20", "45"]);
}

#[test]
fn tiers_promote_at_once_and_demote_after_grace_possibly_two_levels() {
    let w = Workdir::new();
    program(&w);
    let dir = w.run_at("2025-01-20");
    let changes = read_csv(&dir.join("tier_changes.csv"));
    assert_eq!(
        changes[1..].iter().map(|r| r.join(" ")).collect::<Vec<_>>(),
        [
            "m1 2025-01-05 bronze silver",
            "m1 2025-01-06 silver gold",
            // q falls to 45 on 01-10 (the 01-05 points leave the 5-day window): below gold on
            // 01-10 and 01-11, demoted on the second day to bronze (q = 0 by then)
            "m1 2025-01-11 gold bronze",
            "m2 2025-01-18 bronze silver",
        ]
    );
    let t = read_csv(&dir.join("tiers.csv"));
    assert_eq!(
        t[1],
        [
            "m1",
            "A",
            "bronze",
            "2025-01-11",
            "0",
            "silver",
            "50",
            "",
            "",
            "",
            "new"
        ]
    );
    // m2 is not below now: its 90 points leave the window on 01-23, demotion after 2 days
    assert_eq!(
        t[2],
        [
            "m2",
            "B",
            "silver",
            "2025-01-18",
            "90",
            "gold",
            "30",
            "",
            "2025-01-24",
            "",
            "new"
        ]
    );
    let t = read_csv(&w.run_at("2025-01-10").join("tiers.csv"));
    assert_eq!(
        t[1][2..9],
        ["gold", "2025-01-06", "45", "", "", "2025-01-10", "2025-01-11"]
    );
}

#[test]
fn a_rule_condition_compares_date_and_time_with_text() {
    let w = Workdir::new();
    let rules = "points:\n  rules:\n    - {id: late, action: post, where: \"date >= '2025-01-06' AND occurred_at < '2025-01-06 12:00:00' AND likes / 2 = 0.5\", points: 7}\n";
    w.create("pipeline.yaml", &small_pipeline(rules));
    w.create("members.csv", &format!("{MEMBERS_HEADER}m1,A,2025-01-01,,\n"));
    // only e2 is on/after 01-06, before noon, and has likes / 2 = 0.5 (true division)
    w.create(
        "activity_1.csv",
        &format!("{ACTIVITY_HEADER}e1,m1,2025-01-05 10:00:00,发帖,,,,1,0,0\ne2,m1,2025-01-06 10:00:00,发帖,,,,1,0,0\ne3,m1,2025-01-06 13:00:00,发帖,,,,1,0,0\ne4,m1,2025-01-07 10:00:00,发帖,,,,2,0,0\n"),
    );
    let ledger = read_parquet(&w.run_at("2025-01-31").join("ledger.parquet"));
    assert_eq!(ledger[1..].iter().map(|r| r[0].as_str()).collect::<Vec<_>>(), ["e2"]);
}
