//! Badges (SPEC §16) on a fixture worked out by hand, their checks (§3) and their
//! place in `koc explain` (§13).
mod common;
use common::*;

/// The post rule pays 10 once a day (rule daily_cap 10), so a second post on the same
/// day has a ledger entry awarding 0; a check-in pays 1; a comment pays nothing.
const RULES: &str = r#"points:
  rules:
    - {id: post, action: post, points: 10, daily_cap: 10}
    - {id: check_in, action: check_in, points: 1}
"#;

const BADGES: &str = r#"badges:
  - {id: first_post, name: First post, action: post}
  - {id: regular, name: Regular, grade: silver, where: "action IN ('post', 'check_in')", count: 3, distinct: days}
  - {id: busy, name: Busy, where: "action IN ('post', 'check_in')", count: 3}
  - {id: paid, name: Paid twice, grade: gold, action: post, where: "awarded_points > 0", count: 2}
  - {id: popular, name: Popular, grade: gold, action: post, sum: likes, reach: 100}
  - {id: earner, name: Earner, grade: silver, sum: awarded_points, reach: 12}
  - {id: chatty, name: Chatty, action: comment}
"#;

// Ledger (awarded points per event):
//   a1 10 · a2 0 (rule_daily_cap: the second post of 01-05) · a3 1 · a4 1 · a5 1 · a6 10 ·
//   a7 10 · e9 0 · e10 0 (comments: no rule) · b2 10 · c1 10.
// e9 and e10 share a second: ordered by event_id bytes, "e10" < "e9", so e10 comes first
// (e9 is written first in the file on purpose).
const ACTIVITY: [&str; 11] = [
    "a1,m1,2025-01-05 09:00:00,发帖,,,,30,0,0",
    "a2,m1,2025-01-05 10:00:00,发帖,,,,40,0,0",
    "a3,m1,2025-01-05 11:00:00,签到,,,,,,",
    "a4,m1,2025-01-12 09:00:00,签到,,,,,,",
    "a5,m1,2025-01-15 08:00:00,签到,,,,,,",
    "a6,m1,2025-01-15 09:00:00,发帖,,,,20,0,0",
    "a7,m1,2025-01-25 09:00:00,发帖,,,,15,0,0",
    "e9,m2,2025-01-08 10:00:00,评论,,,,,,",
    "e10,m2,2025-01-08 10:00:00,评论,,,,,,",
    "b2,m2,2025-01-09 10:00:00,发帖,,,,100,0,0",
    "c1,m3,2025-01-03 10:00:00,发帖,,,,0,0,0",
];

fn program(w: &Workdir, extra: &str) {
    w.create("pipeline.yaml", &small_pipeline(extra));
    // m3 joins on 01-25: after the first D, but its post of 01-03 counts once it is known
    w.create(
        "members.csv",
        &format!("{MEMBERS_HEADER}m1,A,2025-01-01,,\nm2,B,2025-01-01,,\nm3,C,2025-01-25,,\n"),
    );
    w.create(
        "activity_1.csv",
        &format!("{ACTIVITY_HEADER}{}", ACTIVITY.map(|r| format!("{r}\n")).concat()),
    );
}

fn header() -> Vec<String> {
    [
        "member_id",
        "nickname",
        "badge_id",
        "name",
        "grade",
        "awarded_on",
        "event_id",
    ]
    .map(String::from)
    .to_vec()
}

fn rows(lines: &[&str]) -> Vec<Vec<String>> {
    let mut out = vec![header()];
    out.extend(lines.iter().map(|l| l.split(',').map(String::from).collect::<Vec<_>>()));
    out
}

#[test]
fn badges_are_awarded_at_the_event_that_reaches_the_goal() {
    let w = Workdir::new();
    program(&w, &format!("{RULES}{BADGES}"));
    let got = read_csv(&w.run_at("2025-01-20").join("badges.csv"));
    // m1 at D = 01-20 (a1…a6; a7 is after D):
    //  first_post: the first post, a1 (grade omitted → bronze).
    //  busy (3 events among posts and check-ins): a1, a2, a3 → a3 on 01-05.
    //  regular (3 *dates*): 01-05 counts once for a1, a2, a3; then 01-12 (a4); the third
    //    date is 01-15, whose first match is the 08:00 check-in a5 (not the post a6).
    //  paid (posts with awarded_points > 0, 2 of them): a1 (10), a2 is capped to 0 and
    //    does not match, a6 (10) → a6 on 01-15. (Without the cap it would be a2 on 01-05.)
    //  popular (likes of posts reach 100): 30 + 40 + 20 = 90 by D: not earned.
    //  earner (awarded points of every event reach 12): a1 10, a2 0, a3 11, a4 12 → a4
    //    on 01-12. (Without the cap a2 would bring 20 and earn it on 01-05.)
    // m2: chatty (first comment): e9 and e10 share 10:00:00, "e10" < "e9" → e10.
    //  b2 is the first post, and its 100 likes reach 100 at once (reaching is enough).
    //  busy/regular: one post only; paid: one; earner: 0 + 0 + 10 = 10 < 12.
    // m3 joins on 01-25, after D: nothing.
    // Sorted by awarded_on, badge_id, member_id.
    assert_eq!(
        got,
        rows(&[
            "m1,A,busy,Busy,bronze,2025-01-05,a3",
            "m1,A,first_post,First post,bronze,2025-01-05,a1",
            "m2,B,chatty,Chatty,bronze,2025-01-08,e10",
            "m2,B,first_post,First post,bronze,2025-01-09,b2",
            "m2,B,popular,Popular,gold,2025-01-09,b2",
            "m1,A,earner,Earner,silver,2025-01-12,a4",
            "m1,A,paid,Paid twice,gold,2025-01-15,a6",
            "m1,A,regular,Regular,silver,2025-01-15,a5",
        ])
    );
}

#[test]
fn a_later_as_of_date_adds_awards_and_counts_events_before_the_join_date() {
    let w = Workdir::new();
    program(&w, &format!("{RULES}{BADGES}"));
    let got = read_csv(&w.run_at("2025-01-31").join("badges.csv"));
    // Everything of D = 01-20 stays, plus:
    //  m3 (joined 01-25 ≤ D): its post c1 of 01-03, before the join date, counts →
    //    first_post on 01-03 (its 10 points reach no sum badge; one post, one date).
    //  m1: a7 (01-25, 15 likes) brings popular to 90 + 15 = 105 ≥ 100 → a7 on 01-25.
    assert_eq!(
        got,
        rows(&[
            "m3,C,first_post,First post,bronze,2025-01-03,c1",
            "m1,A,busy,Busy,bronze,2025-01-05,a3",
            "m1,A,first_post,First post,bronze,2025-01-05,a1",
            "m2,B,chatty,Chatty,bronze,2025-01-08,e10",
            "m2,B,first_post,First post,bronze,2025-01-09,b2",
            "m2,B,popular,Popular,gold,2025-01-09,b2",
            "m1,A,earner,Earner,silver,2025-01-12,a4",
            "m1,A,paid,Paid twice,gold,2025-01-15,a6",
            "m1,A,regular,Regular,silver,2025-01-15,a5",
            "m1,A,popular,Popular,gold,2025-01-25,a7",
        ])
    );
    // An early D: only what happened by 01-05. m1 has a1, a2, a3 (busy, first_post);
    // earner is at 10 + 0 + 1 = 11 < 12; regular has one date; m2 has no event yet.
    let got = read_csv(&w.run_at("2025-01-05").join("badges.csv"));
    assert_eq!(
        got,
        rows(&[
            "m1,A,busy,Busy,bronze,2025-01-05,a3",
            "m1,A,first_post,First post,bronze,2025-01-05,a1",
        ])
    );
}

#[test]
fn without_a_badges_section_there_is_no_badges_file() {
    let w = Workdir::new();
    program(&w, RULES);
    assert!(!w.run_at("2025-01-20").join("badges.csv").exists());
}

/// A badge's `progress` as one line: numbers as f64 (so 90 and 90.0 agree), null as "null".
fn badge_line(b: &serde_json::Value) -> String {
    [
        "badge_id",
        "name",
        "grade",
        "goal",
        "progress",
        "awarded_on",
        "event_id",
    ]
    .iter()
    .map(|k| match &b[*k] {
        serde_json::Value::Null => "null".to_string(),
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Number(n) => n.as_f64().unwrap().to_string(),
        other => other.to_string(),
    })
    .collect::<Vec<_>>()
    .join("|")
}

fn explain(w: &Workdir, member: &str, d: &str) -> serde_json::Value {
    let out = w.koc(&["explain", "pipeline.yaml", member, "--as-of", d, "--format", "json"]);
    out.expect_code(0);
    serde_json::from_str(&out.stdout()).expect("json")
}

#[test]
fn explain_lists_every_badge_with_its_progress_capped_at_the_goal() {
    let w = Workdir::new();
    program(&w, &format!("{RULES}{BADGES}"));
    w.run_at("2025-01-20");
    let v = explain(&w, "m1", "2025-01-20");
    let got: Vec<String> = v["badges"]
        .as_array()
        .expect("badges is a list")
        .iter()
        .map(badge_line)
        .collect();
    // m1 at 01-20, in listed order:
    //  first_post: 3 posts (a1, a2, a6) → capped at 1.
    //  regular: 3 dates (01-05, 01-12, 01-15). busy: 6 matching events → capped at 3.
    //  paid: a1, a6 → 2. popular: 90 of 100, not earned (nulls).
    //  earner: 10 + 0 + 1 + 1 + 1 + 10 = 23 → capped at 12. chatty: no comment → 0.
    assert_eq!(
        got,
        [
            "first_post|First post|bronze|1|1|2025-01-05|a1",
            "regular|Regular|silver|3|3|2025-01-15|a5",
            "busy|Busy|bronze|3|3|2025-01-05|a3",
            "paid|Paid twice|gold|2|2|2025-01-15|a6",
            "popular|Popular|gold|100|90|null|null",
            "earner|Earner|silver|12|12|2025-01-12|a4",
            "chatty|Chatty|bronze|1|0|null|null",
        ]
    );
    // m2 at 01-20: e10 is its first comment; busy counts b2 only (comments do not match).
    let v = explain(&w, "m2", "2025-01-20");
    let got: Vec<String> = v["badges"].as_array().unwrap().iter().map(badge_line).collect();
    assert_eq!(
        got,
        [
            "first_post|First post|bronze|1|1|2025-01-09|b2",
            "regular|Regular|silver|3|1|null|null",
            "busy|Busy|bronze|3|1|null|null",
            "paid|Paid twice|gold|2|1|null|null",
            "popular|Popular|gold|100|100|2025-01-09|b2",
            "earner|Earner|silver|12|10|null|null",
            "chatty|Chatty|bronze|1|1|2025-01-08|e10",
        ]
    );
    // at 01-31 a7 adds 15 likes: 105 → capped at 100, earned at a7
    w.run_at("2025-01-31");
    let v = explain(&w, "m1", "2025-01-31");
    assert_eq!(
        badge_line(&v["badges"][4]),
        "popular|Popular|gold|100|100|2025-01-25|a7"
    );
}

#[test]
fn explain_gives_null_badges_without_a_badges_section() {
    let w = Workdir::new();
    program(&w, RULES);
    w.run_at("2025-01-20");
    let v = explain(&w, "m1", "2025-01-20");
    assert_eq!(
        v.as_object().unwrap().get("badges"),
        Some(&serde_json::Value::Null),
        "{v}"
    );
}

#[test]
fn the_fixture_pipeline_validates() {
    let w = Workdir::new();
    program(&w, &format!("{RULES}{BADGES}"));
    w.koc(&["validate", "pipeline.yaml"]).expect_code(0);
}

#[test]
fn badge_checks_are_pipeline_errors() {
    // (badges section, words of which at least one must be named)
    let cases: Vec<(&str, Vec<&str>)> = vec![
        (
            "  - {id: both, name: Both, action: post, count: 2, sum: likes, reach: 10}\n",
            vec!["count", "sum"],
        ),
        (
            "  - {id: dsum, name: Dsum, action: post, sum: likes, reach: 10, distinct: days}\n",
            vec!["distinct"],
        ),
        (
            "  - {id: shiny, name: Shiny, grade: platinum}\n",
            vec!["platinum", "grade"],
        ),
        (
            "  - {id: twin, name: Twin one}\n  - {id: twin, name: Twin two}\n",
            vec!["twin"],
        ),
        ("  - {id: never, name: Never, count: 0}\n", vec!["count"]),
        ("  - {id: typo, name: Typo, action: postt}\n", vec!["postt"]),
    ];
    for (section, words) in cases {
        let w = Workdir::new();
        let text = small_pipeline(&format!("{RULES}badges:\n{section}"));
        w.create("pipeline.yaml", &text);
        // the mistake is reported at the line of its badge (the section's last line)
        let line = text.trim_end().lines().count();
        w.create("members.csv", MEMBERS_HEADER);
        w.create("activity_1.csv", ACTIVITY_HEADER);
        let run = w.koc(&["validate", "pipeline.yaml"]);
        run.expect_code(2);
        let err = run.stderr();
        assert!(err.contains("badges"), "{section}: {err}");
        assert!(words.iter().any(|x| err.contains(*x)), "{section}: {err}");
        assert!(err.contains(&format!("pipeline.yaml:{line}:")), "at line {line}: {err}");
    }
}

/// `koc simulate` compares each badge's holders at D (SPEC §16): a sweep of
/// `badges.busy.count` shows how many members a threshold rewards. At D = 01-20, m1 has
/// 6 matching events (a1…a6) and m2 one (b2): count 1 → 2 holders, 3 → 1, 7 → 0.
#[test]
fn a_sweep_of_a_badge_count_shows_its_holders() {
    let w = Workdir::new();
    program(&w, &format!("{RULES}{BADGES}"));
    w.koc(&["ingest", "pipeline.yaml", "--quiet"]).expect_code(0);
    let out = w.koc(&[
        "simulate",
        "pipeline.yaml",
        "--as-of",
        "2025-01-20",
        "--sweep",
        "badges.busy.count=1,3,7",
        "--out",
        "sim",
        "--format",
        "json",
    ]);
    out.expect_code(0);
    let v: serde_json::Value = serde_json::from_str(&out.stdout()).unwrap();
    let text = v.to_string();
    let row = v["rows"]
        .as_array()
        .and_then(|rows| rows.iter().find(|r| r[0] == "badge busy"))
        .unwrap_or_else(|| panic!("no badge row in {text}"));
    // baseline (count 3), then the three values of the sweep
    assert_eq!(row, &serde_json::json!(["badge busy", "1", "2", "1", "0"]), "{text}");
}
