//! `koc init` scaffolds a program that runs at once; `koc synth` is deterministic.
mod common;
use common::*;

#[test]
fn an_initialised_program_runs_as_it_is() {
    let w = Workdir::new();
    w.koc(&["init", "prog"]).expect_code(0);
    assert!(w.path().join("prog/templates/report.html").exists());
    // a first look without noise: no warning about its own rules, no banner about its
    // own sample files, every section with something to show
    let validate = w.koc(&["validate", "prog/pipeline.yaml"]);
    validate.expect_code(0);
    assert!(!validate.stderr().contains("warning"), "{}", validate.stderr());
    let run = w.koc(&["run", "prog/pipeline.yaml", "--as-of", "2025-04-30", "--quiet"]);
    run.expect_code(0);
    assert!(!run.stderr().contains("warning"), "{}", run.stderr());
    let folder = w.path().join("prog/store/runs/2025-04-30");
    let tiers = read_csv(&folder.join("tiers.csv"));
    assert_eq!(tiers.len(), 151, "every member of the 150 joined by then has a tier");
    let report = w.read("prog/store/runs/2025-04-30/report.md");
    assert!(!report.contains("注意"), "no banner: {report}");
    let contest = read_csv(&folder.join("contest_spring-photo.csv"));
    assert!(contest.iter().skip(1).any(|r| r[6] == "一等奖"), "{contest:?}");
    assert!(read_csv(&folder.join("incentives.csv")).len() > 1);
    // a second init into the same folder refuses to overwrite
    w.koc(&["init", "prog"]).expect_code(2);
}

#[test]
fn synth_is_deterministic_by_seed() {
    let w = Workdir::new();
    w.koc(&["synth", "a", "--members", "50", "--days", "40", "--seed", "3"])
        .expect_code(0);
    w.koc(&["synth", "b", "--members", "50", "--days", "40", "--seed", "3"])
        .expect_code(0);
    w.koc(&["synth", "c", "--members", "50", "--days", "40", "--seed", "4"])
        .expect_code(0);
    let read = |d: &str| std::fs::read(w.path().join(d).join("exports/activity_202501.csv")).unwrap();
    assert_eq!(read("a"), read("b"));
    assert_ne!(read("a"), read("c"));
}

#[test]
fn stage_commands_print_a_summary_and_write_their_table() {
    let w = Workdir::new();
    w.copy_dir(&repo().join("tests/conformance/program"), "program");
    w.koc(&["ingest", "program/pipeline.yaml", "--quiet"]).expect_code(0);
    let before = snapshot_dir(&w.path().join("store"));
    let run = w.koc(&[
        "tiers",
        "program/pipeline.yaml",
        "--as-of",
        "2025-07-19",
        "--out",
        "tiers.csv",
    ]);
    run.expect_code(0);
    assert!(run.stdout().contains("in their grace period"), "{}", run.stdout());
    let expected = read_csv(&repo().join("tests/conformance/expected/tiers.csv"));
    assert_eq!(read_csv(&w.path().join("tiers.csv")).len(), expected.len());
    // `--out -`: the table on stdout (for a pipe), the summary on stderr, no file named -
    let run = w.koc(&["tiers", "program/pipeline.yaml", "--as-of", "2025-07-19", "--out", "-"]);
    run.expect_code(0);
    let table = run.stdout();
    assert!(
        table
            .trim_start_matches('\u{feff}')
            .starts_with("member_id,nickname,tier,"),
        "{table}"
    );
    assert_eq!(table.lines().count(), expected.len());
    assert!(run.stderr().contains("in their grace period"), "{}", run.stderr());
    assert!(!w.path().join("-").exists());
    let run = w.koc(&[
        "points",
        "program/pipeline.yaml",
        "--as-of",
        "2025-07-19",
        "--format",
        "json",
    ]);
    let v: serde_json::Value = serde_json::from_str(&run.stdout()).unwrap();
    assert!(v["issued"].as_i64().unwrap() > 0);
    w.koc(&[
        "contest",
        "program/pipeline.yaml",
        "--as-of",
        "2025-07-19",
        "--id",
        "story-2025",
    ])
    .expect_code(0);
    w.koc(&[
        "contest",
        "program/pipeline.yaml",
        "--as-of",
        "2025-07-19",
        "--id",
        "nope",
    ])
    .expect_code(2);
    for stage in ["layers", "scout", "care"] {
        w.koc(&[stage, "program/pipeline.yaml", "--as-of", "2025-07-19"])
            .expect_code(0);
    }
    assert_eq!(
        before,
        snapshot_dir(&w.path().join("store")),
        "stage commands leave the store untouched"
    );
}
