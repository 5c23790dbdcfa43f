//! Goals, feedback recommendations and the care calendar, worked out by hand (SPEC §10).
mod common;
use common::*;

const PIPELINE: &str = r#"program: {name: t, start: 2025-01-01, locale: en}
store: store
sources:
  members:
    path: members.csv
    columns: {member_id: member_id, nickname: nickname, joined_at: joined_at, birthday: birthday, purchase_date: purchase_date}
  activity:
    path: activity.csv
    columns: {event_id: event_id, member_id: member_id, occurred_at: occurred_at, action: action, topic: topic}
  feedback:
    path: feedback.csv
    columns: {response_id: id, member_id: member_id, submitted_at: at, incentive: incentive, rating: rating, comment: comment}
metrics:
  posts_90d: {count: events, where: "action = 'post'", window_days: 90}
layers:
  levels:
    - {id: active, when: "posts_90d >= 1"}
    - {id: newcomer, default: true}
goals:
  - id: posts
    measure: {count: events, where: "action = 'post'"}
    period: {from: 2025-03-01, to: 2025-03-28}
    target: {value: 6.5}
    incentives: [gift]
  - id: early
    measure: {count: events, where: "action = 'post' AND layer = 'active'"}
    period: {from: 2025-03-01, to: 2025-03-28}
    target: {value: 3}
    incentives: [bonus]
  - id: fewer
    measure: {count: events, where: "action = 'post'"}
    period: {from: 2025-03-01, to: 2025-03-28}
    baseline: {from: 2025-02-01, to: 2025-02-28}
    target: {multiply: 2.5}
    direction: down
    incentives: [cup]
  - id: adas_share
    measure:
      ratio:
        numerator: {count: events, where: "action = 'post' AND topic = 'adas'"}
        denominator: {count: events, where: "action = 'post'"}
    period: {from: 2025-03-01, to: 2025-03-28}
    target: {value: 0.5}
  - id: empty_ratio
    measure:
      ratio:
        numerator: {count: events, where: "action = 'post'"}
        denominator: {count: events, where: "action = 'featured'"}
    period: {from: 2025-03-01, to: 2025-03-28}
    target: {value: 1}
  - id: people
    measure: {count: members, where: "action = 'post'"}
    period: {from: 2025-03-01, to: 2025-03-28}
    target: {value: 1}
care: {horizon_days: 14}
"#;

fn program(w: &Workdir) {
    w.create("pipeline.yaml", PIPELINE);
    w.create(
        "members.csv",
        "member_id,nickname,joined_at,birthday,purchase_date\nm1,M1,2024-03-01,1992-02-29,2020-02-25\nm2,M2,2024-01-01,,\n",
    );
    w.create(
        "activity.csv",
        "event_id,member_id,occurred_at,action,topic
p1,m1,2025-02-10 10:00:00,post,
p2,m1,2025-02-20 10:00:00,post,
p3,m1,2025-03-01 10:00:00,post,adas
p4,m1,2025-03-02 10:00:00,post,
p5,m1,2025-03-09 10:00:00,post,adas
p6,m1,2025-03-15 10:00:00,post,
f0,m2,2025-01-05 10:00:00,featured,
f1,m2,2025-02-10 10:00:00,featured,
",
    );
    w.create(
        "feedback.csv",
        "id,member_id,at,incentive,rating,comment
r1,m1,2025-02-01 10:00:00,gift,2,too small
r2,m2,2025-02-02 10:00:00,gift,1,
r3,m1,2025-02-03 10:00:00,bonus,5,great
r4,m2,2025-02-04 10:00:00,bonus,4,nice
r5,m1,2025-02-05 10:00:00,tea,2,cold
r6,m1,2025-02-06 10:00:00,bonus,4,more please
r7,m2,2025-02-07 10:00:00,bonus,5,thanks
",
    );
}

fn goals_at(w: &Workdir, d: &str) -> Vec<String> {
    w.koc(&["run", "pipeline.yaml", "--as-of", d, "--quiet"]).expect_code(0);
    read_csv(&w.path().join("store/runs").join(d).join("goals.csv"))[1..]
        .iter()
        .map(|r| format!("{} {} {} {} {} {} {}", r[0], r[4], r[5], r[6], r[7], r[8], r[9]))
        .collect()
}

#[test]
fn goal_status_before_inside_and_after_the_period() {
    let w = Workdir::new();
    program(&w);
    // id baseline target actual projection elapsed status
    assert_eq!(
        goals_at(&w, "2025-02-20"),
        [
            "posts  6.5   0 not_started",
            "early  3   0 not_started",
            "fewer 2 5   0 not_started",
            "adas_share  0.5   0 not_started",
            "empty_ratio  1   0 not_started",
            "people  1   0 not_started",
        ]
    );
    // 03-14: 14 of 28 days; posts 3 → projected 6 (≥ 0.9 · 6.5 = 5.85: at risk);
    // early: 3 ≥ 3 on an up count can only grow → achieved; fewer (down): baseline 2 posts
    // in February → target 5, projected 6 > 5.5 → behind; adas 2 / 3
    assert_eq!(
        goals_at(&w, "2025-03-14"),
        [
            "posts  6.5 3 6 0.5 at_risk",
            "early  3 3 6 0.5 achieved",
            "fewer 2 5 3 6 0.5 behind",
            "adas_share  0.5 0.666667 0.666667 0.5 on_track",
            "empty_ratio  1   0.5 no_data",
            // distinct members, not events: m1 alone posts (3 posts); up and countable → achieved
            "people  1 1 2 0.5 achieved",
        ]
    );
    // after the period: posts 4 < 5.85 → behind; fewer 4 ≤ 5 → achieved
    assert_eq!(
        goals_at(&w, "2025-03-31"),
        [
            "posts  6.5 4 4 1 behind",
            "early  3 4 4 1 achieved",
            "fewer 2 5 4 4 1 achieved",
            "adas_share  0.5 0.5 0.5 1 achieved",
            "empty_ratio  1   1 no_data",
            "people  1 1 1 1 achieved",
        ]
    );
    let trend = read_csv(&w.path().join("store/runs/2025-03-31/goal_trend.csv"));
    let posts: Vec<String> = trend[1..]
        .iter()
        .filter(|r| r[0] == "posts")
        .map(|r| r[1..].join(" "))
        .collect();
    assert_eq!(
        posts,
        [
            "2025-03-01 2025-03-07 2",
            "2025-03-08 2025-03-14 1",
            "2025-03-15 2025-03-21 1",
            "2025-03-22 2025-03-28 0"
        ]
    );
    let empty: Vec<String> = trend[1..]
        .iter()
        .filter(|r| r[0] == "empty_ratio")
        .map(|r| r[3].clone())
        .collect();
    assert_eq!(
        empty,
        ["", "", "", ""],
        "a ratio with an empty denominator has no value"
    );
}

/// The test program with `goals` (YAML list items) in place of its goals.
fn with_goals(goals: &str) -> Workdir {
    let w = Workdir::new();
    program(&w);
    let head = PIPELINE.split("goals:").next().expect("goals");
    w.create("pipeline.yaml", &format!("{head}goals:\n{goals}"));
    w
}

/// A filter with an aggregate is evaluated over each span's events (a row-wise one is
/// evaluated once over every event and sliced: the weekly trend must not tell).
#[test]
fn an_aggregate_in_a_goal_filter_counts_over_each_span() {
    let w = with_goals(
        "  - id: busy
    measure: {count: events, where: \"action = 'post' AND COUNT(*) >= 4\"}
    period: {from: 2025-03-01, to: 2025-03-28}
    target: {value: 1}
  - id: posts
    measure: {count: events, where: \"action = 'post'\"}
    period: {from: 2025-03-01, to: 2025-03-28}
    target: {value: 1}
",
    );
    // the period holds 4 events (p3–p6), all posts; no week holds 4
    assert_eq!(goals_at(&w, "2025-03-31")[0], "busy  1 4 4 1 achieved");
    let trend = read_csv(&w.path().join("store/runs/2025-03-31/goal_trend.csv"));
    let weekly = |id: &str| -> Vec<String> { trend[1..].iter().filter(|r| r[0] == id).map(|r| r[3].clone()).collect() };
    assert_eq!(weekly("busy"), ["0", "0", "0", "0"]);
    assert_eq!(weekly("posts"), ["2", "1", "1", "0"]);
}

/// A row-wise filter that fails on an event outside every span (a CAST of the text
/// 'adas', in March) still measures February: it falls back to per-span evaluation.
#[test]
fn a_filter_failing_outside_every_span_does_not_fail_the_run() {
    let w = with_goals(
        "  - id: untagged
    measure: {count: events, where: \"action = 'post' AND COALESCE(CAST(topic AS INTEGER), 0) = 0\"}
    period: {from: 2025-02-01, to: 2025-02-28}
    target: {value: 1}
",
    );
    // February's posts p1 and p2 have no topic
    assert_eq!(goals_at(&w, "2025-03-31"), ["untagged  1 2 2 1 achieved"]);
}

#[test]
fn each_recommendation_follows_goals_and_ratings() {
    let w = Workdir::new();
    program(&w);
    w.koc(&["run", "pipeline.yaml", "--as-of", "2025-03-31", "--quiet"])
        .expect_code(0);
    let inc = read_csv(&w.path().join("store/runs/2025-03-31/incentives.csv"));
    assert_eq!(
        inc[1..].iter().map(|r| r.join("|")).collect::<Vec<_>>(),
        [
            // achieved goal and mean 4.5 → scale up; latest comments first
            "bonus|early|4|4.5|1|thanks | more please | nice|scale_up",
            // good goals (achieved), no responses → keep
            "cup|fewer|0||||keep",
            // behind and mean 1.5 → replace
            "gift|posts|2|1.5|0|too small|replace",
            // no goal, mean 2 → adjust
            "tea||1|2|0|cold|adjust",
        ]
    );
}

#[test]
fn care_calendar_birthdays_on_28_february_and_events_since_the_snapshot() {
    let w = Workdir::new();
    program(&w);
    w.koc(&["run", "pipeline.yaml", "--as-of", "2025-02-20", "--quiet"])
        .expect_code(0);
    let care = read_csv(&w.path().join("store/runs/2025-02-20/care_calendar.csv"));
    assert_eq!(
        care[1..].iter().map(|r| r.join(" ")).collect::<Vec<_>>(),
        [
            // m2's first featured post ever was 01-05, before the previous snapshot (01-31): not listed
            "2025-02-25 m1 M1 active purchase_anniversary 5 years",
            // born 29 February 1992: 28 February in 2025
            "2025-02-28 m1 M1 active birthday 33 years",
            "2025-03-01 m1 M1 active join_anniversary 1 years",
        ]
    );
}
