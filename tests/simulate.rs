//! What-if simulation (SPEC §12): overlays, --set, sweeps; the store is never written.
mod common;
use common::*;

const EXTRA: &str = r#"points:
  rules:
    - {id: post, action: post, points: 10}
    - {id: featured, action: featured, points: 100}
tiers:
  levels:
    - {id: bronze, min: 0}
    - {id: silver, min: 20}
"#;

fn program(w: &Workdir) {
    w.create("pipeline.yaml", &small_pipeline(EXTRA));
    w.create(
        "members.csv",
        &format!("{MEMBERS_HEADER}m1,A,2025-01-01,,\nm2,B,2025-01-01,,\n"),
    );
    // m1: two posts (20 points: silver); m2: one post (10: bronze)
    w.create(
        "activity_1.csv",
        &format!("{ACTIVITY_HEADER}e1,m1,2025-01-05 10:00:00,发帖,,,,,,\ne2,m1,2025-01-06 10:00:00,发帖,,,,,,\ne3,m2,2025-01-06 10:00:00,发帖,,,,,,\n"),
    );
    w.koc(&["ingest", "pipeline.yaml", "--quiet"]).expect_code(0);
}

#[test]
fn a_scenario_changes_what_was_worked_out_by_hand_and_leaves_the_store_alone() {
    let w = Workdir::new();
    program(&w);
    let before = snapshot_dir(&w.path().join("store"));
    // a post pays 15: m1 earns 30, m2 15; silver at 20 now needs... m2 stays bronze,
    // and raising silver to 31 demotes m1 to bronze in the scenario
    w.create(
        "s.yaml",
        "points:\n  rules:\n    - {id: post, points: 15}\ntiers:\n  levels:\n    - {id: silver, min: 31}\n",
    );
    let run = w.koc(&[
        "simulate",
        "pipeline.yaml",
        "--scenario",
        "s.yaml",
        "--as-of",
        "2025-01-31",
        "--out",
        "sim",
    ]);
    run.expect_code(0);
    let m = read_csv(&w.path().join("sim/simulation_members.csv"));
    assert_eq!(
        m[0][2..],
        [
            "baseline_tier",
            "baseline_layer",
            "baseline_balance",
            "baseline_flagged",
            "s_tier",
            "s_layer",
            "s_balance",
            "s_flagged",
            "s_changed"
        ]
    );
    assert_eq!(
        m[1],
        [
            "m1",
            "A",
            "silver",
            "active",
            "20",
            "false",
            "bronze",
            "active",
            "30",
            "false",
            "tier silver -> bronze; balance +10"
        ]
    );
    assert_eq!(m[2][6..], ["bronze", "active", "15", "false", "balance +5"]);
    let html = std::fs::read_to_string(w.path().join("sim/simulation.html")).unwrap();
    // figures carry the locale's labels, not their ids
    assert!(
        html.contains("<td>Points issued</td>") && !html.contains("points_issued"),
        "{html}"
    );
    assert!(html.contains("<td>Tier · silver</td>"), "{html}");
    assert_eq!(before, snapshot_dir(&w.path().join("store")), "the store is untouched");
}

#[test]
fn set_and_sweep_make_one_scenario_per_value() {
    let w = Workdir::new();
    program(&w);
    let run = w.koc(&[
        "simulate",
        "pipeline.yaml",
        "--sweep",
        "points.rules.post.points=5,10,20",
        "--as-of",
        "2025-01-31",
        "--out",
        "sw",
    ]);
    run.expect_code(0);
    let sweep = read_csv(&w.path().join("sw/sweep.csv"));
    assert_eq!(sweep[0][..2], ["scenario", "points_issued"]);
    let issued: Vec<(&str, &str)> = sweep[1..].iter().map(|r| (r[0].as_str(), r[1].as_str())).collect();
    // three posts: 15, 30, 60 points
    assert_eq!(
        issued,
        [
            ("points.rules.post.points=5", "15"),
            ("points.rules.post.points=10", "30"),
            ("points.rules.post.points=20", "60")
        ]
    );
    let run = w.koc(&[
        "simulate",
        "pipeline.yaml",
        "--set",
        "points.rules.post.points=20",
        "--as-of",
        "2025-01-31",
        "--out",
        "set",
        "--format",
        "json",
    ]);
    run.expect_code(0);
    assert!(run.stdout().contains("\"60\""), "{}", run.stdout());
}

#[test]
fn a_set_path_that_names_nothing_lists_what_exists() {
    let w = Workdir::new();
    program(&w);
    let run = w.koc(&[
        "simulate",
        "pipeline.yaml",
        "--set",
        "points.rules.pots.points=1",
        "--as-of",
        "2025-01-31",
    ]);
    run.expect_code(2);
    assert!(run.stderr().contains("it has: post, featured"), "{}", run.stderr());
    // a typo in a key is caught by the pipeline's own checks
    let run = w.koc(&[
        "simulate",
        "pipeline.yaml",
        "--set",
        "points.rules.post.pionts=1",
        "--as-of",
        "2025-01-31",
    ]);
    run.expect_code(2);
    assert!(run.stderr().contains("unknown key 'pionts'"), "{}", run.stderr());
}

#[test]
fn a_scenario_that_only_moves_a_goal_reuses_the_baseline_stages_and_agrees_with_a_full_run() {
    let w = Workdir::new();
    w.copy_dir(&repo().join("tests/conformance/program"), "program");
    w.koc(&["ingest", "program/pipeline.yaml", "--quiet"]).expect_code(0);
    // post_engagement: actual 30.25; a target of 30 (baseline 31.7 - 1.7) is met at D = period.to
    let run = w.koc(&[
        "simulate",
        "program/pipeline.yaml",
        "--set",
        "goals.post_engagement.target.add=-1.7",
        "--as-of",
        "2025-07-19",
        "--out",
        "sim",
        "--format",
        "json",
    ]);
    run.expect_code(0);
    let table: serde_json::Value = serde_json::from_str(&run.stdout()).unwrap();
    let row = table["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r[0] == "goal post_engagement")
        .unwrap()
        .clone();
    assert_eq!(row[1], "behind");
    assert_eq!(row[2], "achieved");
    // points, tiers and layers ran once, for the baseline only
    let timed = std::process::Command::new(env!("CARGO_BIN_EXE_koc"))
        .args([
            "simulate",
            "program/pipeline.yaml",
            "--set",
            "goals.post_engagement.target.add=-1.7",
            "--as-of",
            "2025-07-19",
            "--out",
            "sim2",
        ])
        .env("KOC_TIMINGS", "1")
        .current_dir(w.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&timed.stderr);
    assert_eq!(stderr.matches("timing points:").count(), 1, "{stderr}");
    assert_eq!(stderr.matches("timing goals:").count(), 2, "{stderr}");
    // the same change as a pipeline of its own, run in full, gives the same figures
    let text = std::fs::read_to_string(w.path().join("program/pipeline.yaml")).unwrap();
    std::fs::write(
        w.path().join("program/pipeline.yaml"),
        text.replace("target:   {add: 3.0}", "target:   {add: -1.7}"),
    )
    .unwrap();
    w.koc(&["run", "program/pipeline.yaml", "--as-of", "2025-07-19", "--quiet"])
        .expect_code(0);
    let goals = read_csv(&w.path().join("store/runs/2025-07-19/goals.csv"));
    assert_eq!(goals[2][9], "achieved");
    let members = read_csv(&w.path().join("sim/simulation_members.csv"));
    let tiers = read_csv(&w.path().join("store/runs/2025-07-19/tiers.csv"));
    for (m, t) in members[1..].iter().zip(&tiers[1..]) {
        assert_eq!((&m[0], &m[6]), (&t[0], &t[2]), "scenario tiers equal a full run's");
    }
}

#[test]
fn growth_settings_are_simulated_with_stage_counts_and_matches_side_by_side() {
    let w = Workdir::new();
    w.copy_dir(&repo().join("tests/conformance-v2/program"), "program");
    w.koc(&["ingest", "program/pipeline.yaml", "--quiet"]).expect_code(0);
    w.koc(&[
        "simulate",
        "program/pipeline.yaml",
        "--sweep",
        "growth.mentoring.capacity=0,2",
        "--as-of",
        "2025-07-19",
        "--out",
        "sim",
        "--quiet",
    ])
    .expect_code(0);
    let sweep = read_csv(&w.path().join("sim/sweep.csv"));
    let col = |n: &str| {
        sweep[0]
            .iter()
            .position(|c| c == n)
            .unwrap_or_else(|| panic!("{n}: {:?}", sweep[0]))
    };
    // no capacity: nobody is matched; the program's own capacity matches every newcomer
    assert_eq!(sweep[1][col("mentor_matches")], "0 / 4");
    assert_eq!(sweep[2][col("mentor_matches")], "4 / 4");
    // lowering lead.min_mentees to 1 makes more members leads
    w.koc(&[
        "simulate",
        "program/pipeline.yaml",
        "--set",
        "growth.lead.min_mentees=1",
        "--as-of",
        "2025-07-19",
        "--out",
        "sim2",
        "--quiet",
    ])
    .expect_code(0);
    let md = std::fs::read_to_string(w.path().join("sim2/simulation.md")).unwrap();
    let lead = md.lines().find(|l| l.starts_with("| 阶段 · 引领 |")).unwrap();
    let cells: Vec<&str> = lead.split('|').map(str::trim).collect();
    let first = |c: &str| c.split_whitespace().next().unwrap().parse::<u32>().unwrap();
    let (before, after) = (first(cells[2]), first(cells[3]));
    assert!(after > before, "{lead}");
    // the scenario column shows the difference and the percentage against the baseline
    let pct = format!("{:+.1}%", (after as f64 - before as f64) / before as f64 * 100.0);
    assert!(cells[3].contains(&format!("(+{}, {pct})", after - before)), "{lead}");
    // a verdict per scenario, and the note that behaviour is held fixed
    assert!(md.contains("**结论:**") && md.contains("成员行为保持不变"), "{md}");
}

#[test]
fn a_mistake_in_a_scenario_is_reported_at_the_scenario_file_line() {
    let w = Workdir::new();
    program(&w);
    w.create("bad.yaml", "points:\n  rules:\n    - id: featured\n      pionts: 800\n");
    let run = w.koc(&[
        "simulate",
        "pipeline.yaml",
        "--scenario",
        "bad.yaml",
        "--as-of",
        "2025-01-31",
        "--out",
        "sim",
    ]);
    run.expect_code(2);
    assert!(
        run.stderr().contains("bad.yaml:4:7: unknown key 'pionts'"),
        "{}",
        run.stderr()
    );
    assert!(run.stderr().contains("did you mean 'points'?"), "{}", run.stderr());
}
