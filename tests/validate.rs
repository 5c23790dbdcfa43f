//! Pipeline-file errors (SPEC §2, §3): exit 2, file:line:col, and how to fix it.
mod common;
use common::*;

fn setup(w: &Workdir, extra: &str) {
    w.create("pipeline.yaml", &small_pipeline(extra));
    w.create("members.csv", MEMBERS_HEADER);
    w.create("activity_1.csv", ACTIVITY_HEADER);
}

/// `koc run` on one post whose topic is text, with one rule whose `where` is `condition`.
fn run_with_rule_where(w: &Workdir, condition: &str) -> Run {
    setup(
        w,
        &format!("points:\n  rules:\n    - {{id: p, action: post, points: 1, where: \"{condition}\"}}\n"),
    );
    w.create(
        "activity_1.csv",
        &format!("{ACTIVITY_HEADER}e1,m1,2025-01-05 10:00:00,发帖,adas,,,1,0,0\n"),
    );
    w.koc(&["run", "pipeline.yaml", "--as-of", "2025-01-31"])
}

#[test]
fn an_unknown_key_names_its_line_column_and_a_fix() {
    let w = Workdir::new();
    setup(
        &w,
        "points:\n  rules:\n    - {id: post, action: post, points: 5, daly_cap: 10}\n",
    );
    let run = w.koc(&["validate", "pipeline.yaml"]);
    run.expect_code(2);
    let err = run.stderr();
    assert!(err.contains("pipeline.yaml:"), "{err}");
    assert!(err.contains("unknown key 'daly_cap'"), "{err}");
    assert!(err.contains("points.rules[0]"), "{err}");
    assert!(err.contains("did you mean 'daily_cap'?"), "{err}");
}

#[test]
fn an_expression_naming_an_unknown_column_is_a_pipeline_error() {
    let w = Workdir::new();
    setup(
        &w,
        "points:\n  rules:\n    - {id: post, action: post, points: 5, where: \"topik = 'adas'\"}\n",
    );
    let run = w.koc(&["validate", "pipeline.yaml"]);
    run.expect_code(2);
    let err = run.stderr();
    assert!(err.contains("topik") && err.contains("did you mean 'topic'"), "{err}");
    assert!(err.contains("pipeline.yaml:"), "{err}");
}

#[test]
fn a_syntax_error_and_an_undefined_layer_are_reported_together() {
    let w = Workdir::new();
    setup(
        &w,
        "care: {layers: [core]}\nscouting:\n  candidates: \"layer = = 'x'\"\n  features: [{metric: posts_90d}]\n",
    );
    let run = w.koc(&["validate", "pipeline.yaml"]);
    run.expect_code(2);
    let err = run.stderr();
    assert!(err.contains("scouting.candidates"), "{err}");
    assert!(err.contains("layer 'core' is not defined"), "{err}");
}

#[test]
fn an_unknown_action_in_a_rule_is_refused() {
    let w = Workdir::new();
    setup(&w, "points:\n  rules:\n    - {id: share, action: share, points: 5}\n");
    let run = w.koc(&["validate", "pipeline.yaml"]);
    run.expect_code(2);
    assert!(run.stderr().contains("unknown action 'share'"), "{}", run.stderr());
}

/// Positions come from the YAML itself: the same mistake in two rules is reported at
/// each rule's own line, and the text standing earlier in a comment is not taken for it.
#[test]
fn each_mistake_is_reported_at_its_own_value_not_where_its_text_first_appears() {
    let w = Workdir::new();
    setup(
        &w,
        "# rules (action: share is not mapped yet)\npoints:\n  rules:\n    - {id: a, action: share, points: 5}\n    - {id: b, action: share, points: 6}\n",
    );
    let text = w.read("pipeline.yaml");
    let line_of = |needle: &str| text.lines().position(|l| l.contains(needle)).unwrap() + 1;
    let (a, b) = (line_of("id: a,"), line_of("id: b,"));
    let run = w.koc(&["validate", "pipeline.yaml"]);
    run.expect_code(2);
    let err = run.stderr();
    // `    - {id: a, action: share…`: the value starts at column 23
    assert!(
        err.contains(&format!(
            "pipeline.yaml:{a}:23: points.rules[id=a]: unknown action 'share'"
        )),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "pipeline.yaml:{b}:23: points.rules[id=b]: unknown action 'share'"
        )),
        "{err}"
    );
}

#[test]
fn a_missing_required_header_names_the_file() {
    let w = Workdir::new();
    setup(&w, "");
    w.create("activity_1.csv", "event_id,member_id,action\n");
    let run = w.koc(&["validate", "pipeline.yaml"]);
    run.expect_code(2);
    assert!(
        run.stderr()
            .contains("activity_1.csv:1: the header has no column 'occurred_at'"),
        "{}",
        run.stderr()
    );
}

#[test]
fn a_valid_program_validates_and_writes_nothing() {
    let w = Workdir::new();
    setup(&w, "");
    w.koc(&["validate", "pipeline.yaml"]).expect_code(0);
    assert!(!w.path().join("store").exists());
}

#[test]
fn usage_errors_exit_2() {
    let w = Workdir::new();
    w.koc(&["frobnicate"]).expect_code(2);
    w.koc(&["run"]).expect_code(2);
}

#[test]
fn a_period_that_ends_before_it_starts_is_refused() {
    let w = Workdir::new();
    setup(&w, "goals:\n  - {id: g, measure: {count: events}, period: {from: 2025-03-01, to: 2025-02-01}, target: {value: 1}}\n");
    let run = w.koc(&["validate", "pipeline.yaml"]);
    run.expect_code(2);
    assert!(
        run.stderr()
            .contains("goals[id=g].period: from 2025-03-01 is after to 2025-02-01"),
        "{}",
        run.stderr()
    );
}

#[test]
fn a_misspelt_sum_field_and_a_type_mismatch_are_pipeline_errors() {
    let w = Workdir::new();
    setup(
        &w,
        "goals:\n  - {id: g, measure: {sum: lkes}, period: {from: 2025-01-01, to: 2025-02-01}, target: {value: 1}}\n",
    );
    let run = w.koc(&["validate", "pipeline.yaml"]);
    run.expect_code(2);
    assert!(
        run.stderr().contains("'lkes' is not a number field"),
        "{}",
        run.stderr()
    );
    // text compared with a number parses, but is a pipeline error: found by the type check
    let run = run_with_rule_where(&w, "topic > 5");
    run.expect_code(2);
    assert!(
        run.stderr()
            .contains("'topic' holds text but is compared with the number 5"),
        "{}",
        run.stderr()
    );
}

#[test]
fn an_expression_that_fails_on_the_data_names_its_rule_and_line() {
    // the checked program keeps each condition with its place, so an error found
    // only when the data is there still points at the pipeline file
    let w = Workdir::new();
    let run = run_with_rule_where(&w, "CAST(topic AS INTEGER) > 5");
    run.expect_code(2);
    assert!(
        run.stderr()
            .contains("pipeline.yaml:24:48: points.rules[id=p].where: the expression \"CAST(topic AS INTEGER) > 5\" cannot be evaluated"),
        "{}",
        run.stderr()
    );
}

/// Closed sets are read as enums: a value outside one is refused at its line and column
/// with the values it may take, every section's mistake in one listing.
#[test]
fn a_value_outside_a_closed_set_is_refused_where_it_stands() {
    let w = Workdir::new();
    setup(
        &w,
        "hall_of_fame: {season: week}\ngoals:\n  - {id: g, measure: {count: events}, period: {from: 2025-01-01, to: 2025-01-31}, target: {value: 1}, direction: sideways}\n",
    );
    let text = w.read("pipeline.yaml").replace("locale: en", "locale: fr");
    w.create("pipeline.yaml", &text);
    let line_of = |needle: &str| text.lines().position(|l| l.contains(needle)).unwrap() + 1;
    let run = w.koc(&["validate", "pipeline.yaml"]);
    run.expect_code(2);
    let err = run.stderr();
    for (needle, value, listed) in [
        ("locale: fr", "fr", "zh-CN, en"),
        ("season: week", "week", "month, quarter, year"),
        ("direction: sideways", "sideways", "up, down"),
    ] {
        let at = format!("pipeline.yaml:{}:", line_of(needle));
        assert!(
            err.lines()
                .any(|l| l.contains(&at) && l.contains(&format!("unknown variant `{value}`")) && l.contains(listed)),
            "{needle} at {at}: {err}"
        );
    }
}

/// `validate --format json` lists the problems as data (exit 2 still), each with its
/// place and fix.
#[test]
fn validate_as_json_lists_every_problem_with_its_place_and_fix() {
    let w = Workdir::new();
    setup(
        &w,
        "points:\n  rules:\n    - {id: a, action: share, points: 5}\nhall_of_fame: {season: week}\n",
    );
    let run = w.koc(&["validate", "pipeline.yaml", "--format", "json"]);
    run.expect_code(2);
    let v: serde_json::Value = serde_json::from_str(&run.stdout()).expect("JSON on stdout");
    assert_eq!(v["ok"], false);
    assert_eq!(v["exit"], 2);
    let problems = v["problems"].as_array().unwrap();
    assert!(
        problems
            .iter()
            .any(|p| p["message"].as_str().unwrap().contains("unknown variant `week`")
                && p["at"].as_str().unwrap().starts_with("pipeline.yaml:")),
        "{v}"
    );
    // each with a code, a severity and its file, line and column apart
    let week = problems
        .iter()
        .find(|p| p["message"].as_str().unwrap().contains("unknown variant `week`"))
        .unwrap();
    let text = w.read("pipeline.yaml");
    let line = text.lines().position(|l| l.starts_with("hall_of_fame")).unwrap() + 1;
    assert_eq!(
        (
            week["code"].as_str(),
            week["severity"].as_str(),
            week["file"].as_str(),
            week["line"].as_u64()
        ),
        (Some("value"), Some("error"), Some("pipeline.yaml"), Some(line as u64)),
        "{week}"
    );
    assert!(week["col"].as_u64().is_some_and(|c| c > 1), "{week}");
    let ok = w.koc(&["validate", "pipeline.yaml"]);
    assert!(
        ok.stderr().contains("unknown variant `week`"),
        "the text listing still goes to stderr"
    );
}

/// One round: a rule's mistake, a header that lacks a mapped column and a missing file
/// come in one listing (validate does not stop at the first kind of problem).
#[test]
fn rules_headers_and_files_are_reported_together() {
    let w = Workdir::new();
    setup(&w, "points:\n  rules:\n    - {id: a, action: share, points: 5}\n");
    w.create("activity_1.csv", "event_id,member_id,action\n");
    let text = w.read("pipeline.yaml").replace(
        "ingest:",
        "  redemptions:\n    path: redemption.csv\n    columns: {redemption_id: id, member_id: member_id, redeemed_at: at, item: item, points: points}\ningest:",
    );
    w.create("pipeline.yaml", &text);
    let run = w.koc(&["validate", "pipeline.yaml"]);
    run.expect_code(2);
    let err = run.stderr();
    assert!(err.contains("unknown action 'share'"), "{err}");
    assert!(err.contains("sources.redemptions.path: no file at"), "{err}");
    assert!(
        err.contains("activity_1.csv:1: the header has no column 'occurred_at'"),
        "{err}"
    );
}

/// A key indented one space too deep folds into the value above it (`90 grace_days:
/// 7`): the error says the number is not one, in words, and names the line to move.
#[test]
fn a_key_indented_too_deep_is_named_with_its_line() {
    let w = Workdir::new();
    setup(
        &w,
        "tiers:\n  window_days: 90\n   grace_days: 7\n  levels:\n    - {id: bronze, min: 0}\n",
    );
    let text = w.read("pipeline.yaml");
    let line = text.lines().position(|l| l.starts_with("  window_days")).unwrap() + 1;
    let run = w.koc(&["validate", "pipeline.yaml"]);
    run.expect_code(2);
    let err = run.stderr();
    assert!(
        err.contains(&format!(
            "pipeline.yaml:{line}:16: expected a whole number in tiers.window_days"
        )),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "fix: line {} is indented deeper than the key above it",
            line + 1
        )),
        "{err}"
    );
}
