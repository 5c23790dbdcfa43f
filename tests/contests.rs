//! Contests judged against rubrics on a fixture worked out by hand (SPEC §9).
mod common;
use common::*;

fn pipeline(normalize: &str) -> String {
    format!(
        r#"program: {{name: t, start: 2025-01-01, locale: en}}
store: store
sources:
  members: {{path: members.csv, columns: {{member_id: member_id, nickname: nickname, joined_at: joined_at}}}}
  activity:
    path: activity.csv
    columns: {{event_id: event_id, member_id: member_id, occurred_at: occurred_at, action: action}}
  contest_entries:
    path: entries.csv
    columns: {{entry_id: entry_id, contest_id: contest_id, member_id: member_id, submitted_at: submitted_at}}
  judge_scores:
    path: scores.csv
    columns: {{contest_id: contest_id, entry_id: entry_id, judge_id: judge_id, criterion: criterion, score: score}}
metrics:
  posts_30d: {{count: events, where: "action = 'post'", window_days: 30}}
layers:
  levels:
    - {{id: active, when: "posts_30d >= 1"}}
    - {{id: newcomer, default: true}}
contests:
  - id: c1
    window: {{from: 2025-03-01, to: 2025-03-31}}
    eligible_layers: [active]
    max_entries_per_member: 1
    judges: {{normalize: {normalize}, min_judges: 2}}
    rubric:
      - {{criterion: art, weight: 1, scale: [0, 10]}}
    tie_break: [art]
    prizes: [{{award: gold, count: 1}}, {{award: silver, count: 1}}]
  - id: c2
    window: {{from: 2025-03-01, to: 2025-03-31}}
    rubric:
      - {{criterion: art, weight: 1, scale: [0, 10]}}
      - {{criterion: tech, weight: 1, scale: [0, 10]}}
    tie_break: [tech]
"#
    )
}

fn program(w: &Workdir, normalize: &str) {
    w.create("pipeline.yaml", &pipeline(normalize));
    w.create("members.csv", "member_id,nickname,joined_at\nm1,M1,2024-01-01\nm2,M2,2024-01-01\nm3,M3,2024-01-01\nm4,M4,2024-01-01\nm5,M5,2024-01-01\n");
    w.create(
        "activity.csv",
        "event_id,member_id,occurred_at,action\ne1,m1,2025-03-20 10:00:00,post\ne2,m2,2025-03-20 10:00:00,post\ne3,m3,2025-03-20 10:00:00,post\ne5,m5,2025-03-20 10:00:00,post\n",
    );
    w.create(
        "entries.csv",
        "entry_id,contest_id,member_id,submitted_at\nE1,c1,m1,2025-03-02 10:00:00\nE2,c1,m2,2025-03-03 10:00:00\nE3,c1,m3,2025-03-04 10:00:00\nE4,c1,m1,2025-03-05 10:00:00\nE5,c1,m2,2025-04-02 10:00:00\nE6,c1,m4,2025-03-06 10:00:00\nE7,c1,m3,2025-02-01 10:00:00\nE8,c1,m5,2025-03-01 09:00:00\nF1,c2,m1,2025-03-02 10:00:00\nF2,c2,m2,2025-03-03 10:00:00\n",
    );
    // J1 spreads, J2 gives everyone 5, J3 disagrees with J1; J1's score of E4 (over the
    // limit) must not enter J1's mean; E8 has one judge only
    w.create(
        "scores.csv",
        "contest_id,entry_id,judge_id,criterion,score
c1,E1,J1,art,10
c1,E2,J1,art,2
c1,E3,J1,art,6
c1,E4,J1,art,1
c1,E1,J2,art,5
c1,E2,J2,art,5
c1,E3,J2,art,5
c1,E8,J2,art,5
c1,E1,J3,art,4
c1,E2,J3,art,9
c1,E3,J3,art,8
c1,E2,J3,style,5
c1,E3,J4,art,11
c1,E9,J1,art,5
c2,F1,J1,art,8
c2,F1,J1,tech,6
c2,F2,J1,art,6
c2,F2,J1,tech,8
",
    );
}

fn rows(path: &std::path::Path) -> Vec<String> {
    read_csv(path)[1..].iter().map(|r| r.join(" ")).collect()
}

#[test]
fn raw_means_tie_and_the_earlier_entry_wins() {
    let w = Workdir::new();
    program(&w, "none");
    let dir = w.run_at("2025-04-10");
    // E1 (10+5+4)/3 = 6.333 and E3 (6+5+8)/3 = 6.333 tie; E1 was submitted first
    assert_eq!(
        rows(&dir.join("contest_c1.csv")),
        [
            "E1 m1 M1 ranked 63.333333 1 gold 0.633333 3",
            "E3 m3 M3 ranked 63.333333 2 silver 0.633333 3",
            "E2 m2 M2 ranked 53.333333 3  0.533333 3",
            "E4 m1 M1 over_limit     1",
            "E5 m2 M2 ineligible_window     0",
            "E6 m4 M4 ineligible_layer     0",
            "E7 m3 M3 ineligible_window     0",
            "E8 m5 M5 insufficient_judges     1",
        ]
    );
    assert_eq!(
        rows(&dir.join("contest_c1_rejects.csv")),
        [
            "c1 E2 J3 style 5 unknown_criterion",
            "c1 E3 J4 art 11 out_of_scale",
            "c1 E9 J1 art 5 unknown_entry"
        ]
    );
}

#[test]
fn zscores_change_the_winner() {
    let w = Workdir::new();
    program(&w, "zscore");
    let dir = w.run_at("2025-04-10");
    // J1 over E1..E3 (E4 is over the limit): mean 6, z = 1.22, -1.22, 0; J2: sd 0 → z 0;
    // J3: mean 7, z = -1.39, 0.93, 0.46 → mean z: E1 -0.05, E2 -0.10, E3 0.15
    assert_eq!(
        rows(&dir.join("contest_c1.csv"))[..3],
        [
            "E3 m3 M3 ranked 100 1 gold 1 3",
            "E1 m1 M1 ranked 50 2 silver 0.5 3",
            "E2 m2 M2 ranked 0 3  0 3"
        ]
    );
    let judges = read_csv(&dir.join("contest_c1_judges.csv"));
    assert_eq!(judges[0][..4], ["judge_id", "scores", "mean_raw", "sd_raw"]);
    // J2 gave everyone the same score: no spread
    let j2 = judges.iter().find(|r| r[0] == "J2").unwrap();
    assert_eq!(j2[1..4], ["4", "5", "0"]);
}

#[test]
fn a_tie_on_final_is_broken_by_the_tie_break_criterion_first() {
    let w = Workdir::new();
    program(&w, "none");
    let dir = w.run_at("2025-04-10");
    // F1 (8, 6) and F2 (6, 8) both 70: tech decides, although F1 came first
    assert_eq!(
        rows(&dir.join("contest_c2.csv")),
        ["F2 m2 M2 ranked 70 1  0.6 0.8 1", "F1 m1 M1 ranked 70 2  0.8 0.6 1"]
    );
}
