//! The conformance program v3 of shared/conformance-v3: the program of v2 (its exports
//! are byte for byte those of tests/conformance-v2, so only the pipeline is kept here)
//! with `badges` and `notices`, run in order on one store at its three dates; badges.csv
//! and notices.csv are compared row by row with the expected files (its README's rules:
//! `nickname` of badges and `text` of notices are not compared).
mod common;
use common::*;

const DATES: [(&str, &str); 3] = [
    ("2025-04-30", "notices-2025-04-30.csv"),
    ("2025-06-30", "notices-2025-06-30.csv"),
    ("2025-07-19", "notices.csv"),
];

#[test]
fn badges_and_notices_match_at_three_dates() {
    let w = conformance_v3_program();
    let expected = repo().join("tests/conformance-v3/expected");
    let mut failures = Vec::new();
    for (d, notices) in DATES {
        w.koc(&["run", "program/pipeline.yaml", "--as-of", d, "--quiet"])
            .expect_code(0);
        let run = w.path().join("store/runs").join(d);
        let actual = read_csv(&run.join("notices.csv"));
        let want = read_csv(&expected.join(notices));
        // the expected file has no `text` (its wording is koc's): compared without it
        let without_text: Vec<Vec<String>> = actual.iter().map(|r| r[..5].to_vec()).collect();
        let diffs = diff_tables(&want, &without_text, &[], 5);
        if !diffs.is_empty() {
            failures.push(format!("{d} notices:\n  {}", diffs.join("\n  ")));
        }
        assert!(
            actual[1..].iter().all(|r| !r[5].is_empty()),
            "{d}: every notice has its sentence"
        );
    }
    let badges = diff_tables(
        &read_csv(&expected.join("badges.csv")),
        &read_csv(&w.path().join("store/runs/2025-07-19/badges.csv")),
        &["nickname"],
        5,
    );
    if !badges.is_empty() {
        failures.push(format!("badges:\n  {}", badges.join("\n  ")));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The badges table is a sheet of report.xlsx, named and headed in the program's
/// language (SPEC §16).
#[test]
fn report_xlsx_has_the_badges_sheet_in_chinese() {
    let w = conformance_v3_program();
    w.koc(&["run", "program/pipeline.yaml", "--as-of", "2025-07-19", "--quiet"])
        .expect_code(0);
    let mut book = Workbook::open(&w.path().join("store/runs/2025-07-19/report.xlsx"));
    let mut part = |name: &str| book.part(name);
    let workbook = part("xl/workbook.xml");
    let sheets: Vec<String> = workbook
        .split("<sheet name=\"")
        .skip(1)
        .map(|s| s.split('"').next().unwrap().to_string())
        .collect();
    let k = sheets
        .iter()
        .position(|s| s == "勋章")
        .unwrap_or_else(|| panic!("{sheets:?}"))
        + 1;
    // big sheets are written in constant memory: strings inline in the sheet
    let sheet = part(&format!("xl/worksheets/sheet{k}.xml"));
    assert!(sheet.contains("初出茅庐"), "the awards are rows of the sheet");
    for header in ["勋章ID", "勋章等级", "获得日期", "事件ID"] {
        assert!(sheet.contains(header), "{header} heads a column");
    }
    // closed sets as people read them (the CSV keeps `bronze`)
    assert!(
        sheet.contains(">铜<") && !sheet.contains(">bronze<"),
        "grades in Chinese"
    );
    let k = sheets.iter().position(|s| s == "会员等级").unwrap() + 1;
    let tiers = part(&format!("xl/worksheets/sheet{k}.xml"));
    assert!(
        !tiers.contains(">bronze<") && !tiers.contains(">promoted<"),
        "tier ids and moves are shown by name"
    );
}
