//! `koc explain` (SPEC §13): for several members of the conformance program, every
//! figure it gives equals the run's output files for the same D.
mod common;
use common::*;

const AS_OF: &str = "2025-07-19";

/// The conformance program's tiers and layers: id → display name.
const TIER_NAMES: [(&str, &str); 4] = [
    ("bronze", "青铜"),
    ("silver", "白银"),
    ("gold", "黄金"),
    ("diamond", "钻石"),
];
const LAYER_NAMES: [(&str, &str); 4] = [
    ("alumni", "荣誉校友"),
    ("core", "核心伙伴"),
    ("active", "活跃贡献者"),
    ("newcomer", "初阶用户"),
];

fn col(t: &[Vec<String>], name: &str) -> usize {
    t[0].iter()
        .position(|c| c == name)
        .unwrap_or_else(|| panic!("no column {name}"))
}

fn row<'a>(t: &'a [Vec<String>], id: &str) -> Option<&'a Vec<String>> {
    t.iter().skip(1).find(|r| r[0] == id)
}

/// A JSON value as the CSV writes it (null → empty).
fn text(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::Null => String::new(),
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// `koc explain <id> --format json` of the copied program at AS_OF.
fn explain_json(w: &Workdir, id: &str) -> serde_json::Value {
    let out = w.koc(&[
        "explain",
        "program/pipeline.yaml",
        id,
        "--as-of",
        AS_OF,
        "--format",
        "json",
    ]);
    out.expect_code(0);
    serde_json::from_str(&out.stdout()).expect("json")
}

#[test]
fn explain_agrees_with_every_output_of_the_run() {
    let w = Workdir::new();
    w.copy_dir(&repo().join("tests/conformance/program"), "program");
    w.koc(&["run", "program/pipeline.yaml", "--as-of", AS_OF, "--quiet"])
        .expect_code(0);
    let run = w.path().join("store/runs").join(AS_OF);
    let balances = read_csv(&run.join("balances.csv"));
    let tiers = read_csv(&run.join("tiers.csv"));
    let layers = read_csv(&run.join("layers.csv"));
    let newcomers = read_csv(&run.join("newcomers.csv"));
    let ledger = read_parquet(&run.join("ledger.parquet"));
    let redemptions = read_csv(&run.join("redemptions.csv"));

    // members of every kind: in grace, flagged, with a redemption, and the first two
    let mut ids: Vec<String> = balances.iter().skip(1).take(2).map(|r| r[0].clone()).collect();
    let below = col(&tiers, "below_since");
    ids.extend(
        tiers
            .iter()
            .skip(1)
            .filter(|r| !r[below].is_empty())
            .take(2)
            .map(|r| r[0].clone()),
    );
    let flagged = col(&newcomers, "flagged");
    ids.extend(
        newcomers
            .iter()
            .skip(1)
            .filter(|r| r[flagged] == "true")
            .take(1)
            .map(|r| r[0].clone()),
    );
    ids.extend(redemptions.iter().skip(1).take(1).map(|r| r[1].clone()));
    ids.sort();
    ids.dedup();
    assert!(ids.len() >= 4, "{ids:?}");

    for id in &ids {
        let v = explain_json(&w, id);
        let b = row(&balances, id).unwrap();
        for (k, c) in [
            ("earned", "earned_total"),
            ("redeemed", "redeemed_total"),
            ("expired", "expired_total"),
            ("balance", "balance"),
        ] {
            assert_eq!(text(&v["points"][k]), b[col(&balances, c)], "{id} points.{k}");
        }
        let entries = ledger
            .iter()
            .skip(1)
            .filter(|r| r[col(&ledger, "member_id")] == *id)
            .count();
        assert_eq!(
            v["points"]["entries"].as_array().unwrap().len(),
            entries,
            "{id} ledger entries"
        );
        let lots_left: i64 = v["points"]["lots"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|l| l["expires_on"].as_str().is_none_or(|e| e > AS_OF))
            .map(|l| l["left"].as_i64().unwrap())
            .sum();
        assert_eq!(
            lots_left.to_string(),
            b[col(&balances, "balance")],
            "{id} lots left = balance"
        );
        let t = row(&tiers, id).unwrap();
        for (k, c) in [
            ("tier", "tier"),
            ("since", "tier_since"),
            ("qualifying_points", "qualifying_points"),
            ("next_tier", "next_tier"),
            ("points_to_next", "points_to_next"),
        ] {
            assert_eq!(text(&v["tier"][k]), t[col(&tiers, c)], "{id} tier.{k}");
        }
        assert_eq!(text(&v["tier"]["grace"]["below_since"]), t[below], "{id} below_since");
        if !t[below].is_empty() {
            // in grace: the demotion date and what keeps the tier
            assert_eq!(
                text(&v["tier"]["grace"]["demotion_on"]),
                t[col(&tiers, "demotion_on")],
                "{id} demotion_on"
            );
            assert!(
                v["tier"]["grace"]["points_to_keep"].as_i64().unwrap() > 0,
                "{id} points_to_keep"
            );
        } else {
            assert!(v["tier"]["grace"].is_null(), "{id} not in grace");
        }
        let l = row(&layers, id).unwrap();
        assert_eq!(text(&v["layer"]["layer"]), l[col(&layers, "layer")], "{id} layer");
        assert_eq!(
            text(&v["layer"]["since"]),
            l[col(&layers, "layer_since")],
            "{id} layer_since"
        );
        let last = v["layer"]["snapshots"].as_array().unwrap().last().unwrap().clone();
        assert_eq!(last["date"], AS_OF);
        assert_eq!(text(&last["layer"]), l[col(&layers, "layer")], "{id} last snapshot");
        match row(&newcomers, id) {
            Some(n) => {
                assert_eq!(v["scouting"]["candidate"], true, "{id}");
                assert_eq!(text(&v["scouting"]["rank"]), n[col(&newcomers, "rank")], "{id} rank");
                assert_eq!(text(&v["scouting"]["flagged"]), n[flagged], "{id} flagged");
                let score: f64 = n[col(&newcomers, "score")].parse().unwrap();
                assert!(
                    (v["scouting"]["score"].as_f64().unwrap() - score).abs() < 1e-9,
                    "{id} score"
                );
            }
            None => {
                assert_eq!(v["scouting"]["candidate"], false, "{id}");
                assert!(v["scouting"]["why_not"].as_str().unwrap().contains("is false"), "{id}");
            }
        }
        for r in redemptions.iter().skip(1).filter(|r| r[1] == *id) {
            let e = v["points"]["redemptions"]
                .as_array()
                .unwrap()
                .iter()
                .find(|x| x["redemption_id"] == r[0].as_str())
                .unwrap_or_else(|| panic!("{id} redemption {}", r[0]));
            assert_eq!(text(&e["status"]), r[col(&redemptions, "status")]);
            assert_eq!(text(&e["balance_after"]), r[col(&redemptions, "balance_after")]);
        }
        // the text form is for a person: it names the member and the tier by its name
        let human = w.koc(&["explain", "program/pipeline.yaml", id, "--as-of", AS_OF]);
        human.expect_code(0);
        let tier_name = TIER_NAMES
            .iter()
            .find(|(id, _)| *id == t[col(&tiers, "tier")])
            .unwrap()
            .1;
        assert!(human.stdout().contains(id.as_str()) && human.stdout().contains(tier_name));
    }
}

#[test]
fn an_unknown_member_is_exit_2_with_the_nearest_ids() {
    let w = Workdir::new();
    w.copy_dir(&repo().join("tests/conformance/program"), "program");
    w.koc(&["ingest", "program/pipeline.yaml", "--quiet"]).expect_code(0);
    let out = w.koc(&["explain", "program/pipeline.yaml", "nobody", "--as-of", AS_OF]);
    out.expect_code(2);
    assert!(out.stderr().contains("the nearest known ids:"), "{}", out.stderr());
}

#[test]
fn explain_gives_the_growth_stage_of_growth_csv_with_its_reason() {
    let w = Workdir::new();
    w.copy_dir(&repo().join("tests/conformance-v2/program"), "program");
    w.koc(&["run", "program/pipeline.yaml", "--as-of", AS_OF, "--quiet"])
        .expect_code(0);
    let growth = read_csv(&w.path().join("store/runs").join(AS_OF).join("growth.csv"));
    let stage = col(&growth, "stage");
    // one member of every stage present
    let mut picked: Vec<&Vec<String>> = Vec::new();
    for s in ["lead", "collaborate", "specialise", "explore"] {
        picked.extend(growth.iter().skip(1).find(|r| r[stage] == s));
    }
    assert!(picked.len() >= 3, "{picked:?}");
    for r in picked {
        let v = explain_json(&w, &r[0]);
        let g = &v["growth"];
        for c in ["stage", "specialty", "completed_teams", "active_mentees", "mentor_id"] {
            assert_eq!(text(&g[c]), r[col(&growth, c)], "{} growth.{c}", r[0]);
        }
        assert!(!g["why"].as_str().unwrap().is_empty());
        // the text says it in Chinese: the stage's label and why
        let human = w.koc(&["explain", "program/pipeline.yaml", &r[0], "--as-of", AS_OF]);
        let label = match r[stage].as_str() {
            "lead" => format!("成长路径：引领（正在带 {} 名学员）", r[col(&growth, "active_mentees")]),
            "collaborate" => format!(
                "成长路径：协作（完成过 {} 个团队项目）",
                r[col(&growth, "completed_teams")]
            ),
            "specialise" => format!("成长路径：专精（擅长方向：{}）", r[col(&growth, "specialty")]),
            _ => "成长路径：探索（".to_string(),
        };
        assert!(human.stdout().contains(&label), "{label}: {}", human.stdout());
    }
}

#[test]
fn explain_lists_a_members_contest_entries_as_the_contest_files_do() {
    let (w, run) = run_program("tests/conformance/program", AS_OF);
    let mut checked = (0, 0);
    for file in std::fs::read_dir(&run).unwrap().flatten() {
        let name = file.file_name().to_string_lossy().to_string();
        if !name.starts_with("contest_") || name.contains("_rejects") || name.contains("_judges") {
            continue;
        }
        let contest_id = name.trim_start_matches("contest_").trim_end_matches(".csv").to_string();
        let t = read_csv(&file.path());
        let status = col(&t, "status");
        // the first ranked entry and the first that is not
        let picks = [
            t.iter().skip(1).find(|r| r[status] == "ranked"),
            t.iter().skip(1).find(|r| r[status] != "ranked"),
        ];
        for r in picks.into_iter().flatten() {
            let member = &r[col(&t, "member_id")];
            let v = explain_json(&w, member);
            let e = v["contests"]
                .as_array()
                .unwrap()
                .iter()
                .find(|e| e["contest_id"] == contest_id.as_str() && e["entry_id"] == r[0].as_str())
                .unwrap_or_else(|| panic!("{member}: entry {} of {contest_id}", r[0]));
            for (k, c) in [
                ("status", "status"),
                ("rank", "rank"),
                ("final", "final"),
                ("award", "award"),
            ] {
                assert_eq!(text(&e[k]), r[col(&t, c)], "{member} {contest_id} {k}");
            }
            if r[status] == "ranked" {
                checked.0 += 1;
            } else {
                checked.1 += 1;
            }
        }
    }
    assert!(
        checked.0 >= 1 && checked.1 >= 1,
        "ranked and unranked entries checked: {checked:?}"
    );
}

/// The text opens with a summary of at most 15 lines in Chinese that answers the
/// team's questions: the override holding a layer with its reason and period, the
/// newcomer cut-off, the points each limit cut; `--format reply` is a few sentences to
/// the member. Neither shows a tier or layer id outside a quoted condition.
#[test]
fn explain_answers_in_a_short_summary_and_a_reply() {
    let w = Workdir::new();
    w.copy_dir(&repo().join("tests/conformance/program"), "program");
    w.koc(&["run", "program/pipeline.yaml", "--as-of", AS_OF, "--quiet"])
        .expect_code(0);
    let run = w.path().join("store/runs").join(AS_OF);
    let summary_of = |id: &str| -> (Vec<String>, String) {
        let out = w.koc(&["explain", "program/pipeline.yaml", id, "--as-of", AS_OF]);
        out.expect_code(0);
        let text = out.stdout();
        let summary: Vec<String> = text.lines().take_while(|l| !l.is_empty()).map(str::to_string).collect();
        (summary, text)
    };
    let no_ids = |text: &str| {
        // ids may stand inside a quoted condition (`…`) only
        let outside: String = text.split('`').step_by(2).collect::<Vec<_>>().join(" ");
        for (id, _) in TIER_NAMES.iter().chain(&LAYER_NAMES) {
            let word = outside
                .split(|c: char| !c.is_ascii_alphanumeric() && c != '_')
                .any(|w| w == *id);
            assert!(!word, "'{id}' shows outside a condition: {text}");
        }
    };
    // 99771: made honorary alumni by hand, open-ended, with the export's reason
    let (summary, text) = summary_of("99771");
    assert!(summary.len() <= 15, "{summary:?}");
    assert!(
        summary
            .iter()
            .any(|l| l.contains("人工指定：品牌老友，授予荣誉校友（2025-04-11 至 长期）")),
        "{summary:?}"
    );
    no_ids(&text);
    // the best candidate not flagged: its rank and the cut-off (top 7, score ≥ 0.7)
    let newcomers = read_csv(&run.join("newcomers.csv"));
    let missed = newcomers
        .iter()
        .skip(1)
        .find(|r| r[col(&newcomers, "flagged")] == "false")
        .unwrap();
    let (summary, text) = summary_of(&missed[0]);
    let expected = format!(
        "高潜新人：第 {} 名，未入选（入选线为前 7 名且得分 ≥ 0.7）。",
        missed[col(&newcomers, "rank")]
    );
    assert!(summary.contains(&expected), "{summary:?}");
    no_ids(&text);
    // the points cut by limits: the ledger's raw minus awarded, once-only rules that
    // already paid aside
    let v = explain_json(&w, "100013");
    let cut: i64 = v["points"]["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| {
            let once_only_paid = e["capped_by"] == "max_times" && e["awarded"] == 0;
            !e["capped_by"].is_null() && !once_only_paid
        })
        .map(|e| e["raw"].as_i64().unwrap() - e["awarded"].as_i64().unwrap())
        .sum();
    assert!(cut > 0);
    let (summary, text) = summary_of("100013");
    assert!(
        summary.iter().any(|l| l.starts_with(&format!("被上限截去 {cut} 分："))),
        "{summary:?}"
    );
    assert!(text.lines().count() < 60, "details grouped: {text}");
    no_ids(&text);
    // the reply: a few sentences to the member, balance and tier by name
    let reply = w.koc(&[
        "explain",
        "program/pipeline.yaml",
        "100013",
        "--as-of",
        AS_OF,
        "--format",
        "reply",
    ]);
    reply.expect_code(0);
    let said = reply.stdout();
    let lines: Vec<&str> = said.lines().collect();
    assert!((2..=6).contains(&lines.len()), "{lines:?}");
    assert!(
        lines[0].starts_with("您好，") && lines[0].contains("您的积分余额为"),
        "{lines:?}"
    );
    assert!(lines.iter().any(|l| l.contains("青铜")), "{lines:?}");
    no_ids(&said);
    // reply is explain's alone
    w.koc(&["--format", "reply", "run", "program/pipeline.yaml", "--as-of", AS_OF])
        .expect_code(2);
}
