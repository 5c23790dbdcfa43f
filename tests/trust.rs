//! Trust (issue 13): `koc validate` finds the silent mistakes — a typo inside quotes,
//! text compared with a number, a rule that can never pay in full — all at once, at
//! the value's own line and column; completions and the man page exist.
mod common;
use common::*;

fn setup(w: &Workdir, extra: &str) {
    w.create("pipeline.yaml", &small_pipeline(extra));
    w.create(
        "members.csv",
        &format!("{MEMBERS_HEADER}m1,Ann,2025-01-01 08:00:00,,\n"),
    );
    w.create(
        "activity_01.csv",
        &format!("{ACTIVITY_HEADER}e1,m1,2025-01-05 10:00:00,发帖,adas,,C1,12,3,1\n"),
    );
}

#[test]
fn a_typo_inside_quotes_and_text_against_numbers_are_all_listed_at_the_value() {
    let w = Workdir::new();
    setup(
        &w,
        r#"points:
  rules:
    - {id: feat, action: featured, points: 5, where: "action = 'feature'"}
    - {id: big, action: post, points: 5, where: "topic > 5"}
    - {id: q, action: post, points: 5, where: "likes = '3'"}
scouting:
  candidates: "layer IN ('newcomers', 'active')"
  features: [{metric: posts_90d}]
"#,
    );
    let run = w.koc(&["validate", "pipeline.yaml"]);
    run.expect_code(2);
    let err = run.stderr();
    // the literal 'feature' starts at column 71 of line 25 (the where text starts at 62)
    let line = w
        .read("pipeline.yaml")
        .lines()
        .position(|l| l.contains("'feature'"))
        .unwrap()
        + 1;
    let col = w
        .read("pipeline.yaml")
        .lines()
        .nth(line - 1)
        .unwrap()
        .find("'feature'")
        .unwrap()
        + 1;
    assert!(
        err.contains(&format!(
            "pipeline.yaml:{line}:{col}: points.rules[id=feat].where: action 'feature' does not exist"
        )),
        "{err}"
    );
    assert!(err.contains("did you mean 'featured'?"), "{err}");
    assert!(
        err.contains("'topic' holds text but is compared with the number 5"),
        "{err}"
    );
    assert!(
        err.contains("'likes' is a number but is compared with the text '3'"),
        "{err}"
    );
    assert!(err.contains("layer 'newcomers' does not exist"), "{err}");
    assert!(err.contains("did you mean 'newcomer'?"), "{err}");
}

#[test]
fn a_bare_word_gets_the_hint_to_quote_it() {
    let w = Workdir::new();
    setup(
        &w,
        "points:\n  rules:\n    - {id: a, action: post, points: 5, where: \"topic = adas\"}\n",
    );
    let run = w.koc(&["validate", "pipeline.yaml"]);
    run.expect_code(2);
    assert!(run.stderr().contains("quote it: 'adas'"), "{}", run.stderr());
}

#[test]
fn rules_above_a_cap_and_unseen_topics_are_warnings() {
    let w = Workdir::new();
    setup(
        &w,
        "points:\n  daily_cap: 300\n  rules:\n    - {id: featured, action: featured, points: 500}\n    - {id: adas, action: post, points: 5, where: \"topic = 'adsa'\"}\n",
    );
    w.koc(&["ingest", "pipeline.yaml"]).expect_code(0);
    let run = w.koc(&["validate", "pipeline.yaml"]);
    run.expect_code(0);
    let err = run.stderr();
    assert!(
        err.contains("rule 'featured' pays 500 but points.daily_cap is 300: every award is cut to 300"),
        "{err}"
    );
    assert!(
        err.contains("topic 'adsa' occurs in none of 1 stored events; did you mean 'adas'?"),
        "{err}"
    );
}

#[test]
fn completions_and_man_page() {
    let w = Workdir::new();
    let bash = w.koc(&["completions", "bash"]);
    bash.expect_code(0);
    assert!(bash.stdout().contains("check-store"), "bash completions list commands");
    let man = w.koc(&["man"]);
    man.expect_code(0);
    assert!(
        man.stdout().starts_with(".ie") || man.stdout().contains(".TH koc"),
        "{}",
        &man.stdout()[..200.min(man.stdout().len())]
    );
    for section in [".SH \"EXIT STATUS\"", ".SH FILES", ".SH ENVIRONMENT", ".SH EXAMPLES"] {
        assert!(man.stdout().contains(section), "the man page has {section}");
    }
    assert!(
        man.stdout().contains("koc notify"),
        "the examples show the nightly cron pair"
    );
}

#[test]
fn koc_init_prints_the_as_of_of_its_sample_data() {
    let w = Workdir::new();
    let run = w.koc(&["init", "prog"]);
    run.expect_code(0);
    assert!(run.stdout().contains("--as-of 2025-04-30"), "{}", run.stdout());
}

#[test]
fn three_yaml_mistakes_are_reported_in_one_listing() {
    let w = Workdir::new();
    setup(
        &w,
        "points:\n  rules:\n    - {id: p, action: post, pionts: 5}\ntiers:\n  grace_days: many\n  levels: [{id: b, min: 0}]\ncare:\n  horizn_days: 3\n",
    );
    let run = w.koc(&["validate", "pipeline.yaml"]);
    run.expect_code(2);
    let err = run.stderr();
    let lines = w.read("pipeline.yaml");
    let at = |needle: &str| lines.lines().position(|l| l.contains(needle)).unwrap() + 1;
    assert!(
        err.contains(&format!("pipeline.yaml:{}:", at("pionts"))) && err.contains("unknown key 'pionts'"),
        "{err}"
    );
    assert!(err.contains(&format!("pipeline.yaml:{}:", at("grace_days"))), "{err}");
    assert!(
        err.contains("unknown key 'horizn_days'") && err.contains("did you mean 'horizon_days'?"),
        "{err}"
    );
}

#[test]
fn without_an_action_map_an_action_no_rule_or_event_has_is_a_warning() {
    let w = Workdir::new();
    let text = small_pipeline(
        "points:\n  rules:\n    - {id: p, action: post, points: 5}\n    - {id: q, action: post, points: 1, where: \"action = 'psot'\"}\n",
    )
    .replace("    values:\n      action: {签到: check_in, 发帖: post, 精华: featured, 评论: comment, 完成任务: task_done}\n", "");
    assert!(!text.contains("values:"));
    w.create("pipeline.yaml", &text);
    w.create(
        "members.csv",
        &format!("{MEMBERS_HEADER}m1,Ann,2025-01-01 08:00:00,,\n"),
    );
    w.create(
        "activity_01.csv",
        &format!("{ACTIVITY_HEADER}e1,m1,2025-01-05 10:00:00,post,adas,,C1,12,3,1\n"),
    );
    w.koc(&["ingest", "pipeline.yaml", "--quiet"]).expect_code(0);
    let run = w.koc(&["validate", "pipeline.yaml"]);
    run.expect_code(0);
    assert!(
        run.stderr()
            .contains("action 'psot' occurs in none of 1 stored events; did you mean 'post'?"),
        "{}",
        run.stderr()
    );
}

#[test]
fn the_same_mistake_in_two_places_is_reported_at_each() {
    let w = Workdir::new();
    setup(
        &w,
        "points:\n  rules:\n    - {id: a, action: post, points: 5, where: \"topic = 'x' AND action = 'feature'\"}\n    - {id: b, action: post, points: 1, where: \"action = 'feature'\"}\n    - {id: c, action: post, points: 1, where: \"action = 'feature'\"}\n",
    );
    let run = w.koc(&["validate", "pipeline.yaml"]);
    run.expect_code(2);
    let text = w.read("pipeline.yaml");
    let line_of = |id: &str| text.lines().position(|l| l.contains(&format!("id: {id},"))).unwrap() + 1;
    for id in ["a", "b", "c"] {
        let err = run.stderr();
        let msg = err
            .lines()
            .find(|l| l.contains(&format!("points.rules[id={id}].where: action 'feature'")))
            .unwrap_or_else(|| panic!("{id}: {err}"));
        assert!(
            msg.starts_with(&format!("pipeline.yaml:{}:", line_of(id)))
                || msg.contains(&format!("pipeline.yaml:{}:", line_of(id))),
            "{id}: {msg}"
        );
    }
}
