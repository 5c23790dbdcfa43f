//! A source's path (SPEC §3, §4): a misspelt folder, missing files and a pattern that
//! matches nothing are said, never passed over silently; the report heads the store's
//! latest ingest as such, so a night without new files is not taken for one with.
mod common;
use common::*;

fn program(w: &Workdir) {
    w.create("pipeline.yaml", &small_pipeline(""));
    w.create("members.csv", &format!("{MEMBERS_HEADER}m1,A,2025-01-01,,\n"));
    w.create(
        "activity_1.csv",
        &format!("{ACTIVITY_HEADER}e1,m1,2025-01-05 10:00:00,发帖,,,,1,0,0\n"),
    );
}

#[test]
fn a_misspelt_folder_is_an_error_with_the_folder_it_meant() {
    let w = Workdir::new();
    program(&w);
    std::fs::create_dir(w.path().join("exports")).unwrap();
    let text = w
        .read("pipeline.yaml")
        .replace("path: activity*.csv", "path: exprots/activity*.csv");
    w.create("pipeline.yaml", &text);
    for command in ["validate", "run"] {
        let out = w.koc(&[command, "pipeline.yaml"]);
        out.expect_code(2);
        let err = out.stderr();
        assert!(
            err.contains("sources.activity.path 'exprots/activity*.csv': the folder") && err.contains("does not exist"),
            "{command}: {err}"
        );
        assert!(err.contains("did you mean the folder 'exports'?"), "{command}: {err}");
    }
    assert!(!w.path().join("store/manifest.json").exists() || !w.read("store/manifest.json").contains("activity"));
}

#[test]
fn every_missing_file_is_named_in_one_error() {
    let w = Workdir::new();
    program(&w);
    let text = w
        .read("pipeline.yaml")
        .replace("path: members.csv", "path: member.csv")
        .replace(
            "ingest:",
            "  redemptions:\n    path: redemption.csv\n    columns: {redemption_id: id, member_id: member_id, redeemed_at: at, item: item, points: points}\ningest:",
        );
    w.create("pipeline.yaml", &text);
    let out = w.koc(&["validate", "pipeline.yaml"]);
    out.expect_code(2);
    let err = out.stderr();
    assert!(err.contains("sources.members.path: no file at"), "{err}");
    assert!(err.contains("sources.redemptions.path: no file at"), "{err}");
}

#[test]
fn a_pattern_that_matches_nothing_is_a_warning_and_the_latest_ingest_is_not_called_tonights() {
    let w = Workdir::new();
    program(&w);
    w.run_at("2025-01-05");
    let first = w.read("store/runs/2025-01-05/report.md");
    assert!(
        first.contains("| members.csv | members |"),
        "tonight's file is listed the night it came:\n{first}"
    );
    // the next night: no new file. The report shows the store's latest ingest (a
    // function of the store, like every output) under that name, not as tonight's.
    let run = w.run_at("2025-01-06");
    let report = w.read("store/runs/2025-01-06/report.md");
    assert!(
        report.contains("## Latest ingest\n") && !report.contains("Tonight"),
        "{report}"
    );
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("run.json")).unwrap()).unwrap();
    let statuses: Vec<&str> = json["ingest"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["status"].as_str().unwrap())
        .collect();
    assert!(statuses.iter().all(|s| *s == "skipped"), "{statuses:?}");
    // a pattern that no longer fits the exports' names
    let text = w
        .read("pipeline.yaml")
        .replace("path: activity*.csv", "path: act_*.csv");
    w.create("pipeline.yaml", &text);
    let out = w.koc(&["run", "pipeline.yaml", "--as-of", "2025-01-07"]);
    out.expect_code(0);
    assert!(
        out.stderr()
            .contains("warning: sources.activity.path 'act_*.csv' matches no file"),
        "{}",
        out.stderr()
    );
    let json: serde_json::Value = serde_json::from_str(&w.read("store/runs/2025-01-07/run.json")).unwrap();
    assert!(
        json["warnings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x["code"] == "no_matching_file"),
        "{json}"
    );
}

/// Only the path as the pipeline writes it is a pattern: a pipeline in a folder named
/// `koc[1]` reads its files, with a plain path and with a glob.
#[test]
fn a_pipeline_folder_with_glob_characters_is_matched_as_it_is() {
    let w = Workdir::new();
    let dir = "koc[1]";
    w.create(&format!("{dir}/pipeline.yaml"), &small_pipeline(""));
    w.create(
        &format!("{dir}/members.csv"),
        &format!("{MEMBERS_HEADER}m1,A,2025-01-01,,\n"),
    );
    w.create(
        &format!("{dir}/activity_1.csv"),
        &format!("{ACTIVITY_HEADER}e1,m1,2025-01-05 10:00:00,发帖,,,,1,0,0\n"),
    );
    let out = w.koc(&["run", &format!("{dir}/pipeline.yaml"), "--as-of", "2025-01-05"]);
    out.expect_code(0);
    assert!(!out.stderr().contains("matches no file"), "{}", out.stderr());
    let balances = read_csv(&w.path().join(format!("{dir}/store/runs/2025-01-05/balances.csv")));
    assert_eq!(balances.len(), 2, "m1's row: {balances:?}");
}

/// A new program whose glob matches none of its exports (a misspelt pattern) stops
/// before anything is read: exit 2 naming the path and the folder's nearest names, no
/// run folder, nothing stored.
#[test]
fn a_glob_that_never_matched_stops_the_first_run() {
    let w = Workdir::new();
    w.create(
        "pipeline.yaml",
        &small_pipeline("").replace("activity*.csv", "actvity_*.csv"),
    );
    w.create("members.csv", &format!("{MEMBERS_HEADER}m1,A,2025-01-01,,\n"));
    w.create(
        "activity_1.csv",
        &format!("{ACTIVITY_HEADER}e1,m1,2025-01-05 10:00:00,发帖,,,,1,0,0\n"),
    );
    let validate = w.koc(&["validate", "pipeline.yaml"]);
    validate.expect_code(2);
    assert!(
        validate.stderr().contains("'actvity_*.csv' matches no file"),
        "{}",
        validate.stderr()
    );
    let out = w.koc(&["run", "pipeline.yaml", "--as-of", "2025-01-05"]);
    out.expect_code(2);
    let err = out.stderr();
    assert!(
        err.contains(
            "sources.activity.path 'actvity_*.csv' matches no file, and the store has no file of activity yet"
        ),
        "{err}"
    );
    assert!(err.contains("the folder holds 'activity_1.csv'"), "{err}");
    assert!(!w.path().join("store/runs/2025-01-05").exists());
    assert!(
        !w.path().join("store/events").exists()
            || std::fs::read_dir(w.path().join("store/events"))
                .unwrap()
                .next()
                .is_none()
    );
}
