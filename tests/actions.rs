//! The report opens with what to do (issue 14), and its figures reconcile with the
//! CSVs: checked on the conformance program through `koc report --dump-context`.
mod common;
use common::*;

const AS_OF: &str = "2025-07-19";

#[test]
fn the_action_list_and_the_tier_counts_agree_with_the_csvs() {
    let w = Workdir::new();
    w.copy_dir(&repo().join("tests/conformance/program"), "program");
    w.koc(&["run", "program/pipeline.yaml", "--as-of", AS_OF, "--quiet"])
        .expect_code(0);
    let run = w.path().join("store/runs").join(AS_OF);
    let out = w.koc(&["report", "program/pipeline.yaml", "--as-of", AS_OF, "--dump-context"]);
    out.expect_code(0);
    let ctx: serde_json::Value = serde_json::from_str(&out.stdout()).unwrap();
    let tiers = read_csv(&run.join("tiers.csv"));
    let col = |t: &[Vec<String>], n: &str| t[0].iter().position(|c| c == n).unwrap();

    // promoted / demoted members: the same numbers as tiers.csv's change column
    let change = col(&tiers, "change");
    let count = |what: &str| tiers.iter().skip(1).filter(|r| r[change] == what).count();
    assert_eq!(ctx["tier_changes"]["promotions"], count("promoted"));
    assert_eq!(ctx["tier_changes"]["demotions"], count("demoted"));

    // keep: every member in grace, earliest demotion first, with the points they lack
    let below = col(&tiers, "below_since");
    let in_grace: Vec<&Vec<String>> = tiers.iter().skip(1).filter(|r| !r[below].is_empty()).collect();
    let keep = ctx["actions"]["keep"].as_array().unwrap();
    assert_eq!(keep.len(), in_grace.len());
    assert!(!keep.is_empty(), "the conformance program has members in grace");
    let dates: Vec<&str> = keep.iter().map(|k| k["by"].as_str().unwrap()).collect();
    assert!(dates.windows(2).all(|w| w[0] <= w[1]), "{dates:?}");
    for k in keep {
        let r = in_grace
            .iter()
            .find(|r| r[0] == k["member_id"].as_str().unwrap())
            .unwrap();
        assert_eq!(k["by"].as_str().unwrap(), r[col(&tiers, "demotion_on")]);
        assert!(k["points_needed"].as_i64().unwrap() > 0);
    }

    // slipped: members of the upper layers at the previous snapshot who moved down
    let layers = read_csv(&run.join("layers.csv"));
    let (prev, moved) = (col(&layers, "previous_layer"), col(&layers, "moved"));
    let slipped = layers
        .iter()
        .skip(1)
        .filter(|r| r[moved] == "down" && (r[prev] == "core" || r[prev] == "alumni"))
        .count();
    assert_eq!(ctx["actions"]["slipped"].as_array().unwrap().len(), slipped);

    // care in the next 14 days only
    for o in ctx["actions"]["care"].as_array().unwrap() {
        let d = o["date"].as_str().unwrap();
        assert!(d > AS_OF && d <= "2025-08-02", "{d}");
    }
    // the points economy adds up: items to what was redeemed, refusals to their count
    let p = &ctx["points"];
    let by_item: i64 = p["by_item"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["points"].as_i64().unwrap())
        .sum();
    assert_eq!(by_item, p["redeemed"].as_i64().unwrap());
    assert_eq!(
        p["refused_list"].as_array().unwrap().len() as u64,
        p["refused"].as_u64().unwrap()
    );
    let expiring = p["expiring_30d"].as_i64().unwrap();
    assert!(expiring >= 0 && expiring <= p["liability"].as_i64().unwrap());
    // each contest lists its judges as its _judges.csv does, and near-misses are unawarded
    for k in ctx["contests"].as_array().unwrap() {
        let judges = read_csv(&run.join(format!("contest_{}_judges.csv", k["id"].as_str().unwrap())));
        assert_eq!(k["judges"].as_array().unwrap().len(), judges.len() - 1);
        for x in k["near_misses"].as_array().unwrap() {
            assert!(x["rank"].as_u64().unwrap() as usize > k["podium"].as_array().unwrap().len());
        }
    }
    // goal charts: a y axis, and a partial last week marked rather than drawn as a drop
    let trend = read_csv(&run.join("goal_trend.csv"));
    for g in ctx["goals"].as_array().unwrap() {
        let id = g["id"].as_str().unwrap();
        let Some(last) = trend.iter().skip(1).rfind(|r| r[0] == id) else {
            continue;
        };
        let days = |s: &str| chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        let partial = (days(&last[2]) - days(&last[1])).num_days() + 1 < 7;
        let chart = g["chart"].as_str().unwrap();
        assert_eq!(chart.contains("本周未完"), partial, "{id}");
        assert!(chart.contains("rotate(-90"), "{id}: the y axis has a title");
    }
    // the movement grid holds every member of layer_movements.csv
    let moves = read_csv(&run.join("layer_movements.csv"));
    let total: u64 = moves.iter().skip(1).map(|r| r[2].parse::<u64>().unwrap()).sum();
    let grid: u64 = ctx["movement_matrix"]["rows"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| r["cells"].as_array().unwrap().iter())
        .filter_map(|c| c.as_str().unwrap().parse::<u64>().ok())
        .sum();
    assert_eq!(grid, total);
    // both reports open with the list
    let md = std::fs::read_to_string(run.join("report.md")).unwrap();
    let html = std::fs::read_to_string(run.join("report.html")).unwrap();
    assert!(md.find("## 今天要做的事").unwrap() < md.find("## 核心指标").unwrap());
    assert!(html.find("id=\"actions\"").unwrap() < html.find("id=\"headline\"").unwrap());
}

#[test]
fn the_headline_shows_the_change_since_the_previous_run() {
    let w = Workdir::new();
    w.copy_dir(&repo().join("tests/conformance/program"), "program");
    w.koc(&["run", "program/pipeline.yaml", "--as-of", "2025-06-30", "--quiet"])
        .expect_code(0);
    let first = w.read("store/runs/2025-06-30/run.json");
    let before: serde_json::Value = serde_json::from_str(&first).unwrap();
    w.koc(&["run", "program/pipeline.yaml", "--as-of", AS_OF, "--quiet"])
        .expect_code(0);
    let after: serde_json::Value = serde_json::from_str(&w.read(&format!("store/runs/{AS_OF}/run.json"))).unwrap();
    let out = w.koc(&["report", "program/pipeline.yaml", "--as-of", AS_OF, "--dump-context"]);
    let ctx: serde_json::Value = serde_json::from_str(&out.stdout()).unwrap();
    assert_eq!(ctx["previous_run"], "2025-06-30");
    let delta =
        after["headline"]["points_issued"].as_f64().unwrap() - before["headline"]["points_issued"].as_f64().unwrap();
    assert_eq!(ctx["changes"]["points_issued"]["delta"].as_f64().unwrap(), delta);
    assert!(w
        .read(&format!("store/runs/{AS_OF}/report.md"))
        .contains("对比上次运行 2025-06-30"));
}

/// "Newly flagged newcomers" (issue 28): a newcomer flagged at the previous run was
/// offered a task then, so tonight's list holds only the newly flagged. On the
/// conformance program, 2 of the 6 flagged at 07-19 were flagged at 07-12.
#[test]
fn the_action_list_offers_a_task_only_to_the_newly_flagged() {
    let w = Workdir::new();
    w.copy_dir(&repo().join("tests/conformance/program"), "program");
    for d in ["2025-07-12", "2025-07-19"] {
        w.koc(&["run", "program/pipeline.yaml", "--as-of", d, "--quiet"])
            .expect_code(0);
    }
    let flagged = |d: &str| -> Vec<String> {
        read_csv(&w.path().join(format!("store/runs/{d}/newcomers.csv")))[1..]
            .iter()
            .filter(|r| r[4] == "true")
            .map(|r| r[0].clone())
            .collect()
    };
    let (before, now) = (flagged("2025-07-12"), flagged("2025-07-19"));
    let out = w.koc(&[
        "report",
        "program/pipeline.yaml",
        "--as-of",
        "2025-07-19",
        "--dump-context",
    ]);
    out.expect_code(0);
    let ctx: serde_json::Value = serde_json::from_str(&out.stdout()).unwrap();
    let offered: Vec<String> = ctx["actions"]["newcomers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["member_id"].as_str().unwrap().to_string())
        .collect();
    let expected: Vec<String> = now.iter().filter(|m| !before.contains(m)).cloned().collect();
    assert_eq!(
        (now.len(), expected.len()),
        (6, 4),
        "the fixture: 6 flagged, 2 of them before"
    );
    let mut sorted = offered.clone();
    sorted.sort();
    let mut want = expected.clone();
    want.sort();
    assert_eq!(sorted, want);
    assert_eq!(
        ctx["headline"]["flagged_newcomers"], 6,
        "the headline still counts every flagged newcomer"
    );
}

/// Two consecutive nights: the second night's action list offers tasks only to the
/// newcomers flagged since the first, and actions.csv marks as not new each item the
/// first night listed too (same member, action and due date).
#[test]
fn the_second_of_two_nights_lists_what_is_new() {
    let w = Workdir::new();
    w.copy_dir(&repo().join("tests/conformance/program"), "program");
    for d in ["2025-07-18", AS_OF] {
        w.koc(&["run", "program/pipeline.yaml", "--as-of", d, "--quiet"])
            .expect_code(0);
    }
    let runs = w.path().join("store/runs");
    let first = read_csv(&runs.join("2025-07-18/actions.csv"));
    let second = read_csv(&runs.join(AS_OF).join("actions.csv"));
    assert_eq!(second[0], ["member_id", "nickname", "action", "due", "reason", "new"]);
    let key = |r: &Vec<String>| (r[0].clone(), r[2].clone(), r[3].clone());
    let before: std::collections::HashSet<_> = first.iter().skip(1).map(key).collect();
    assert!(
        first.iter().skip(1).all(|r| r[5] == "true"),
        "the first night's items are all new"
    );
    let (mut old, mut new) = (0, 0);
    for r in second.iter().skip(1) {
        assert_eq!(r[5] == "false", before.contains(&key(r)), "{r:?}");
        if r[5] == "false" {
            old += 1
        } else {
            new += 1
        }
    }
    assert!(
        old > 0 && new > 0,
        "kept reminders repeat, new care dates come: {old} old, {new} new"
    );
    // the task offers: flagged on the second night and not on the first
    let flagged = |d: &str| -> std::collections::HashSet<String> {
        let t = read_csv(&runs.join(d).join("newcomers.csv"));
        let f = t[0].iter().position(|c| c == "flagged").unwrap();
        t.iter()
            .skip(1)
            .filter(|r| r[f] == "true")
            .map(|r| r[0].clone())
            .collect()
    };
    let (was, now) = (flagged("2025-07-18"), flagged(AS_OF));
    let offers: Vec<&Vec<String>> = second.iter().skip(1).filter(|r| r[2] == "offer_task").collect();
    assert_eq!(offers.len(), now.difference(&was).count());
    assert!(offers.iter().all(|r| now.contains(&r[0]) && !was.contains(&r[0])));
    // every row of the list, in the program's language
    let ctx = w.koc(&["report", "program/pipeline.yaml", "--as-of", AS_OF, "--dump-context"]);
    let ctx: serde_json::Value = serde_json::from_str(&ctx.stdout()).unwrap();
    let listed: usize = ["keep", "slipped", "newcomers", "care", "incentives"]
        .iter()
        .map(|k| ctx["actions"][k].as_array().unwrap().len())
        .sum();
    assert_eq!(second.len() - 1, listed);
    let keep = second.iter().find(|r| r[2] == "keep_tier").unwrap();
    assert!(keep[4].starts_with("还需 ") && keep[4].contains(" 分保住"), "{keep:?}");
}
