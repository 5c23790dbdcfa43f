//! Notices (SPEC §17) on a fixture worked out by hand: every kind about day D.
mod common;
use common::*;

/// Posts and finished tasks pay 10 each; lots expire at the end of their date + 10
/// (SPEC §5: the expiry day of a lot earned on d is d + 10). Tiers: q = points awarded
/// in the 10 days (S − 10, S]; silver at 20; a demotion after 3 days below.
const EXTRA: &str = r#"points:
  expiry_days: 10
  rules:
    - {id: post, action: post, points: 10}
    - {id: task, action: task_done, points: 10}
tiers:
  window_days: 10
  grace_days: 3
  levels:
    - {id: bronze, name: Bronze, min: 0}
    - {id: silver, name: Silver, min: 20}
    - {id: gold, name: Gold, min: 50}
badges:
  - {id: poster, name: Poster, action: post, count: 2}
contests:
  - id: c1
    name: Photo
    window: {from: 2025-02-01, to: 2025-02-28}
    judges: {normalize: none}
    rubric:
      - {criterion: art, weight: 1, scale: [0, 10]}
    tie_break: [art]
    prizes: [{award: first, count: 1}, {award: second, count: 2}]
"#;

const SOURCES: &str = "  redemptions:
    path: redemptions.csv
    columns: {redemption_id: id, member_id: member_id, redeemed_at: at, item: item, points: points}
  contest_entries:
    path: entries.csv
    columns: {entry_id: entry_id, contest_id: contest_id, member_id: member_id, submitted_at: submitted_at}
  judge_scores:
    path: scores.csv
    columns: {contest_id: contest_id, entry_id: entry_id, judge_id: judge_id, criterion: criterion, score: score}
ingest:";

// Everyone joined 2025-01-01; nobody posted before February, so every member is a
// newcomer at the 01-31 snapshot (posts_90d = 0).
//  m1: posts on 02-20 and 02-28 (q(02-27) = 10, q(02-28) = 20).
//  m2: two tasks on 02-16 (silver that day; the 20 points leave the window on 02-26).
//  m3: two tasks on 02-18 and one on 02-20 (silver on 02-18; q(02-28) = 10).
//  m4: tasks on 02-22, 02-24 and two on 02-25; redeems 5 points on 02-26.
//  m5: no events; two contest entries.
const ACTIVITY: [&str; 11] = [
    "p1,m1,2025-02-20 10:00:00,发帖,,,,0,0,0",
    "p2,m1,2025-02-28 10:00:00,发帖,,,,0,0,0",
    "t1,m2,2025-02-16 10:00:00,完成任务,,,,,,",
    "t2,m2,2025-02-16 11:00:00,完成任务,,,,,,",
    "t3,m3,2025-02-18 10:00:00,完成任务,,,,,,",
    "t4,m3,2025-02-18 11:00:00,完成任务,,,,,,",
    "t5,m3,2025-02-20 10:00:00,完成任务,,,,,,",
    "d1,m4,2025-02-22 10:00:00,完成任务,,,,,,",
    "d2,m4,2025-02-24 10:00:00,完成任务,,,,,,",
    "d3,m4,2025-02-25 10:00:00,完成任务,,,,,,",
    "d4,m4,2025-02-25 11:00:00,完成任务,,,,,,",
];

const NICKNAMES: [&str; 5] = ["AlphaNick", "BravoNick", "CharlieNick", "DeltaNick", "EchoNick"];

/// The fixture with `extra` (a notices section, privacy…) appended to the pipeline.
fn program(w: &Workdir, extra: &str) {
    let p = small_pipeline(&format!("{EXTRA}{extra}")).replace("ingest:", SOURCES);
    w.create("pipeline.yaml", &p);
    let members: String = NICKNAMES
        .iter()
        .enumerate()
        .map(|(i, n)| format!("m{},{n},2025-01-01,,\n", i + 1))
        .collect();
    w.create("members.csv", &format!("{MEMBERS_HEADER}{members}"));
    w.create(
        "activity_1.csv",
        &format!("{ACTIVITY_HEADER}{}", ACTIVITY.map(|r| format!("{r}\n")).concat()),
    );
    w.create(
        "redemptions.csv",
        "id,member_id,at,item,points\nr1,m4,2025-02-26 10:00:00,mug,5\n",
    );
    // judged on one criterion by one judge (min_judges defaults to 1), raw scores:
    // E2 0.9 → rank 1 (first), E1 0.8 → rank 2 (second), E3 0.6 → rank 3 (second)
    w.create(
        "entries.csv",
        "entry_id,contest_id,member_id,submitted_at\nE1,c1,m5,2025-02-10 10:00:00\nE2,c1,m5,2025-02-11 10:00:00\nE3,c1,m1,2025-02-12 10:00:00\n",
    );
    w.create(
        "scores.csv",
        "contest_id,entry_id,judge_id,criterion,score\nc1,E1,J1,art,8\nc1,E2,J1,art,9\nc1,E3,J1,art,6\n",
    );
}

/// notices.csv without its text column (checked to be non-empty here).
fn notices(run: &std::path::Path) -> Vec<Vec<String>> {
    let t = read_csv(&run.join("notices.csv"));
    assert_eq!(t[0].get(5).map(String::as_str), Some("text"), "{:?}", t[0]);
    for r in &t[1..] {
        assert!(!r[5].trim().is_empty(), "empty text: {r:?}");
    }
    t.into_iter().map(|r| r[..5].to_vec()).collect()
}

fn table(lines: &[&str]) -> Vec<Vec<String>> {
    let mut out = vec![["member_id", "nickname", "kind", "ref", "value"]
        .map(String::from)
        .to_vec()];
    out.extend(lines.iter().map(|l| l.split(',').map(String::from).collect::<Vec<_>>()));
    out
}

const ALL_KINDS: &str = "notices:
  kinds: [badge, tier_up, tier_down, grace_started, points_expiring, contest_award, layer_up]
  expiring_days_ahead: 4
";

// D = 2025-02-28, a month end with the regular snapshot 01-31 before it.
//  m1: badge poster (its second post p2 is on D); tier_up to silver (q(02-27) = 10 in
//      02-18…02-27, q(D) = 20 in 02-19…02-28: value 20); contest_award c1, best rank 3
//      (E3, second prize); layer_up: newcomer at 01-31, active at D (posts_90d = 2).
//  m2: q = 20 from 02-16 to 02-25; 0 from 02-26 (02-16 leaves the window (S − 10, S]).
//      Below on 02-26, 02-27, 02-28 = 3 days → demoted on D to bronze: tier_down, value
//      q(D) = 0. (The demotion empties below_since: no grace_started.)
//  m3: q(02-27) = 30 (02-18…02-27), q(D) = 10 (02-18 left): first day below silver, so
//      below_since = D, demotion_on = D + 3 − 1 = 03-02: grace_started, value 20 − 10 = 10.
//  m4: lots d1 10 (02-22, expires 03-04), d2 10 (02-24, 03-06), d3 10 and d4 10 (02-25,
//      03-07). r1 (5, 02-26) takes the oldest lot first: d1 keeps 5. D + 4 = 03-04 →
//      points_expiring 5. (No tier change: silver since 02-24, q(D) = 40.)
//  m5: E2 rank 1 (first) and E1 rank 2 (second): contest_award, value 1 (the best).
//  Nobody else changed tier on D, no other lot expires on 03-04, only m1 posted.
#[test]
fn every_kind_on_a_month_end() {
    let w = Workdir::new();
    program(&w, ALL_KINDS);
    let got = notices(&w.run_at("2025-02-28"));
    assert_eq!(
        got,
        table(&[
            "m1,AlphaNick,badge,poster,",
            "m1,AlphaNick,contest_award,c1,3",
            "m1,AlphaNick,layer_up,active,",
            "m1,AlphaNick,tier_up,silver,20",
            "m2,BravoNick,tier_down,bronze,0",
            "m3,CharlieNick,grace_started,2025-03-02,10",
            "m4,DeltaNick,points_expiring,2025-03-04,5",
            "m5,EchoNick,contest_award,c1,1",
        ])
    );
}

// D = 2025-02-26, not a month end (no layer_up), not c1's window.to (no contest_award).
//  m1: one post (no badge), q = 10 (bronze, no change). Its lot of 02-20 expires on
//      02-20 + 10 = 03-02 = D + 4: points_expiring 10.
//  m2: first day below silver (q = 0): below_since = D, demotion_on = 02-26 + 3 − 1 =
//      02-28: grace_started, value 20 − 0 = 20.
//  m3: q = 30, not below; its lot of 02-20 (t5) expires 03-02: points_expiring 10
//      (the lots of 02-18 expire 02-28).
//  m4: silver since 02-24, q = 40; lots expire 03-04, 03-06, 03-07: none on 03-02.
#[test]
fn a_day_that_is_no_month_end_starts_a_grace_and_warns_of_expiry() {
    let w = Workdir::new();
    program(&w, ALL_KINDS);
    let got = notices(&w.run_at("2025-02-26"));
    assert_eq!(
        got,
        table(&[
            "m1,AlphaNick,points_expiring,2025-03-02,10",
            "m2,BravoNick,grace_started,2025-02-28,20",
            "m3,CharlieNick,points_expiring,2025-03-02,10",
        ])
    );
}

// An empty `notices:` takes every kind and 7 days ahead: at D = 02-28, D + 7 = 03-07,
// the date of m4's two lots of 02-25 (10 + 10, untouched by r1): value 20.
#[test]
fn an_empty_notices_section_takes_every_kind_and_seven_days_ahead() {
    let w = Workdir::new();
    program(&w, "notices:\n");
    let got = notices(&w.run_at("2025-02-28"));
    assert_eq!(
        got,
        table(&[
            "m1,AlphaNick,badge,poster,",
            "m1,AlphaNick,contest_award,c1,3",
            "m1,AlphaNick,layer_up,active,",
            "m1,AlphaNick,tier_up,silver,20",
            "m2,BravoNick,tier_down,bronze,0",
            "m3,CharlieNick,grace_started,2025-03-02,10",
            "m4,DeltaNick,points_expiring,2025-03-07,20",
            "m5,EchoNick,contest_award,c1,1",
        ])
    );
}

#[test]
fn kinds_keeps_only_the_listed_kinds() {
    let w = Workdir::new();
    program(&w, "notices: {kinds: [badge]}\n");
    let got = notices(&w.run_at("2025-02-28"));
    assert_eq!(got, table(&["m1,AlphaNick,badge,poster,"]));
}

#[test]
fn masked_nicknames_appear_neither_in_the_column_nor_in_the_text() {
    let w = Workdir::new();
    program(&w, &format!("{ALL_KINDS}privacy: {{mask_nicknames: true}}\n"));
    let run = w.run_at("2025-02-28");
    let t = read_csv(&run.join("notices.csv"));
    assert_eq!(t.len(), 9, "{t:?}");
    for r in &t[1..] {
        assert_eq!(r[1], "", "{r:?}");
        for n in NICKNAMES {
            assert!(!r[5].contains(n), "{r:?}");
        }
    }
    // the same rows otherwise
    let got: Vec<String> = t[1..]
        .iter()
        .map(|r| format!("{} {} {} {}", r[0], r[2], r[3], r[4]))
        .collect();
    assert_eq!(
        got,
        [
            "m1 badge poster ",
            "m1 contest_award c1 3",
            "m1 layer_up active ",
            "m1 tier_up silver 20",
            "m2 tier_down bronze 0",
            "m3 grace_started 2025-03-02 10",
            "m4 points_expiring 2025-03-04 5",
            "m5 contest_award c1 1",
        ]
    );
}

#[test]
fn without_a_notices_section_there_is_no_notices_file() {
    let w = Workdir::new();
    program(&w, "");
    let run = w.run_at("2025-02-28");
    assert!(run.join("badges.csv").exists());
    assert!(!run.join("notices.csv").exists());
}

/// The sentences come from `notices.<locale>` in the pipeline's templates folder when it
/// has one (rendered in a child process, as custom report templates are); a template
/// that does not write one line per notice is an error naming it.
#[test]
fn a_custom_notices_template_writes_the_sentences() {
    let w = Workdir::new();
    program(&w, "notices: {kinds: [badge, tier_up]}\nreport: {templates: tpl}\n");
    w.create(
        "tpl/notices.en",
        "{% for n in notices %}[{{ n.kind }}] {{ n.nickname }} · {{ n.name }} · {{ n.value or '-' }}\n{% endfor %}",
    );
    let t = read_csv(&w.run_at("2025-02-28").join("notices.csv"));
    let texts: Vec<&str> = t[1..].iter().map(|r| r[5].as_str()).collect();
    assert_eq!(
        texts,
        ["[badge] AlphaNick · Poster · -", "[tier_up] AlphaNick · Silver · 20"],
        "{t:?}"
    );
    w.create("tpl/notices.en", "{% for n in notices %}{{ n.kind }} {% endfor %}\n");
    let out = w.koc(&["run", "pipeline.yaml", "--as-of", "2025-02-28", "--quiet"]);
    out.expect_code(1);
    assert!(
        out.stderr().contains("notices.en wrote 1 lines for 2 notices"),
        "{}",
        out.stderr()
    );
}
