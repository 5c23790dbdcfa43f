//! Hardening (issue 11): the store owns only what it wrote, numbers and dates are
//! bounded, templates are sandboxed, outputs are safe to share, empty exports are
//! a day without rows. Each test is one bad input an analyst (or a hostile one) gave.
mod common;
use common::*;
use std::os::unix::fs::PermissionsExt;

fn setup(w: &Workdir, extra: &str) {
    w.create("pipeline.yaml", &small_pipeline(extra));
    w.create(
        "members.csv",
        &format!("{MEMBERS_HEADER}m1,Ann,2025-01-01 08:00:00,,\nm2,Bo,2025-01-02,,\n"),
    );
    w.create(
        "activity_01.csv",
        &format!(
            "{ACTIVITY_HEADER}e1,m1,2025-01-05 10:00:00,发帖,adas,,C1,12,3,1\ne2,m2,2025-01-06 09:00:00,签到,,,,,,\n"
        ),
    );
}

#[test]
fn a_store_folder_holding_foreign_parquet_files_is_refused_and_left_alone() {
    let w = Workdir::new();
    setup(&w, "");
    let foreign = w.create("store/tables/sales.parquet", "not ours");
    let run = w.koc(&["ingest", "pipeline.yaml"]);
    run.expect_code(2);
    assert!(
        run.stderr().contains("not a koc store") || run.stderr().contains("did not write"),
        "{}",
        run.stderr()
    );
    assert_eq!(std::fs::read_to_string(&foreign).unwrap(), "not ours");
}

#[test]
fn a_store_pointed_at_a_busy_folder_is_refused() {
    let w = Workdir::new();
    setup(&w, "");
    let text = w.read("pipeline.yaml").replace("store: store", "store: .");
    w.create("pipeline.yaml", &text);
    let run = w.koc(&["ingest", "pipeline.yaml"]);
    run.expect_code(2);
    assert!(
        run.stderr().contains("is not a koc store and is not empty"),
        "{}",
        run.stderr()
    );
    assert!(!w.path().join("manifest.json").exists());
}

#[test]
fn symlinks_inside_the_store_are_never_followed() {
    let w = Workdir::new();
    setup(&w, "");
    w.koc(&["ingest", "pipeline.yaml"]).expect_code(0);
    let outside = w.create("elsewhere/keep-0123456789abcdef.parquet", "precious");
    std::os::unix::fs::symlink(w.path().join("elsewhere"), w.path().join("store/events/archive")).unwrap();
    let run = w.koc(&["ingest", "pipeline.yaml"]);
    run.expect_code(2);
    assert!(run.stderr().contains("archive"), "{}", run.stderr());
    assert_eq!(std::fs::read_to_string(&outside).unwrap(), "precious");
    // a loop back into the store removes nothing either
    std::fs::remove_file(w.path().join("store/events/archive")).unwrap();
    std::os::unix::fs::symlink(".", w.path().join("store/events/loop")).unwrap();
    let before = snapshot_dir(&w.path().join("store/events/month=2025-01"));
    w.koc(&["ingest", "pipeline.yaml"]).expect_code(2);
    assert_eq!(snapshot_dir(&w.path().join("store/events/month=2025-01")), before);
}

#[test]
fn a_missing_manifest_with_partitions_stops_with_a_repair_hint() {
    let w = Workdir::new();
    setup(&w, "");
    w.koc(&["ingest", "pipeline.yaml"]).expect_code(0);
    std::fs::remove_file(w.path().join("store/manifest.json")).unwrap();
    let before = snapshot_dir(&w.path().join("store/events"));
    let run = w.koc(&["run", "pipeline.yaml", "--as-of", "2025-01-31"]);
    run.expect_code(1);
    assert!(run.stderr().contains("no manifest.json"), "{}", run.stderr());
    assert!(run.stderr().contains("fix:"), "{}", run.stderr());
    assert_eq!(snapshot_dir(&w.path().join("store/events")), before);
}

#[test]
fn a_damaged_manifest_is_named() {
    let w = Workdir::new();
    setup(&w, "");
    w.koc(&["ingest", "pipeline.yaml"]).expect_code(0);
    std::fs::write(w.path().join("store/manifest.json"), b"\xff\xfe{").unwrap();
    let run = w.koc(&["run", "pipeline.yaml", "--as-of", "2025-01-31"]);
    run.expect_code(1);
    assert!(run.stderr().contains("manifest.json is damaged"), "{}", run.stderr());
}

#[test]
fn check_store_finds_a_missing_partition_and_a_stray_file() {
    let w = Workdir::new();
    setup(&w, "");
    w.koc(&["ingest", "pipeline.yaml"]).expect_code(0);
    let ok = w.koc(&["check-store", "pipeline.yaml"]);
    ok.expect_code(0);
    assert!(ok.stdout().contains("2 events, 0 problems"), "{}", ok.stdout());
    let month = w.path().join("store/events/month=2025-01");
    let part = std::fs::read_dir(&month)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.file_name().unwrap().to_string_lossy().starts_with("part-"))
        .unwrap();
    std::fs::remove_file(&part).unwrap();
    w.create("store/tables/notes.txt", "x");
    let bad = w.koc(&["check-store", "pipeline.yaml"]);
    bad.expect_code(1);
    assert!(
        bad.stdout().contains("named in the manifest but missing"),
        "{}",
        bad.stdout()
    );
    assert!(
        bad.stdout().contains("notes.txt: not named in the manifest"),
        "{}",
        bad.stdout()
    );
}

#[test]
fn huge_counts_are_rejected_and_awards_cannot_wrap() {
    let w = Workdir::new();
    setup(
        &w,
        "points:\n  rules:\n    - {id: likes, action: post, per: {field: likes, every: 1, points: 1000000000}}\n",
    );
    w.create(
        "activity_02.csv",
        &format!(
            "{ACTIVITY_HEADER}e3,m1,2025-01-07 10:00:00,发帖,,,,9223372036854775807,,\ne4,m1,2025-01-08 10:00:00,发帖,,,,1000000000000000,,\n"
        ),
    );
    let run = w.run_at("2025-01-31");
    let rejects = std::fs::read_dir(w.path().join("store/rejects")).unwrap().count();
    assert_eq!(rejects, 1, "the i64::MAX row is rejected");
    // e1: 12 likes × 10^9 saturates at 10^9; e4: 10^15 × 10^9 saturates at 10^9
    let balances = read_csv(&run.join("balances.csv"));
    let m1 = balances.iter().find(|r| r[0] == "m1").unwrap();
    assert_eq!(m1[2], "2000000000", "{balances:?}");
}

#[test]
fn bad_numbers_and_ids_in_the_pipeline_are_listed_together() {
    let w = Workdir::new();
    setup(
        &w,
        r#"points:
  daily_cap: -5
  rules:
    - {id: p, action: post, points: 10}
    - {id: p, action: post, points: 20}
tiers:
  window_days: -365
  levels:
    - {id: bronze, min: 0}
contests:
  - id: a/b
    window: {from: 2025-01-01, to: 2025-02-01}
    rubric:
      - {criterion: x, weight: .nan, scale: [1, 10]}
care:
  horizon_days: 100000000
"#,
    );
    let run = w.koc(&["validate", "pipeline.yaml"]);
    run.expect_code(2);
    let err = run.stderr();
    for needle in [
        "points.daily_cap: -5 is out of range",
        "the id 'p' is used twice",
        "tiers.window_days: -365 is out of range",
        "the id 'a/b' cannot name a file",
        "weight: NaN is not a number ≥ 0",
        "care.horizon_days: 100000000 is out of range",
        "pipeline.yaml:",
    ] {
        assert!(err.contains(needle), "missing {needle:?} in\n{err}");
    }
}

#[test]
fn source_settings_are_checked_at_the_pipeline_line() {
    let w = Workdir::new();
    setup(&w, "");
    let text = w.read("pipeline.yaml").replace(
        "    path: activity*.csv\n",
        "    path: activity*.csv\n    delimiter: '，'\n    timestamp_formats: ['%H:%M']\n",
    );
    w.create("pipeline.yaml", &text);
    let run = w.koc(&["validate", "pipeline.yaml"]);
    run.expect_code(2);
    let err = run.stderr();
    assert!(err.contains("pipeline.yaml:9:17: sources.activity.delimiter"), "{err}");
    assert!(
        err.contains("pipeline.yaml:10:26: sources.activity.timestamp_formats"),
        "{err}"
    );
    assert!(err.contains("not an ASCII one"), "{err}");
    assert!(err.contains("'%H:%M' has no full date"), "{err}");
}

#[test]
fn an_empty_path_is_a_pipeline_error() {
    let w = Workdir::new();
    setup(&w, "");
    let text = w.read("pipeline.yaml").replace("path: members.csv", "path: \"\"");
    w.create("pipeline.yaml", &text);
    let run = w.koc(&["validate", "pipeline.yaml"]);
    run.expect_code(2);
    assert!(
        run.stderr().contains("sources.members.path: the path is empty"),
        "{}",
        run.stderr()
    );
}

#[test]
fn an_expression_of_thousands_of_terms_is_refused_not_a_crash() {
    let w = Workdir::new();
    let terms: Vec<String> = (0..6000).map(|i| format!("topic = 't{i}'")).collect();
    setup(
        &w,
        &format!(
            "points:\n  rules:\n    - {{id: p, action: post, points: 1, where: \"{}\"}}\n",
            terms.join(" OR ")
        ),
    );
    let run = w.koc(&["validate", "pipeline.yaml"]);
    run.expect_code(2);
    assert!(run.stderr().contains("the expression is too large"), "{}", run.stderr());
}

#[test]
fn an_as_of_far_in_the_future_or_year_zero_is_refused_at_once() {
    let w = Workdir::new();
    setup(&w, "");
    for d in ["9999-12-31", "0000-01-01", "3025-01-01"] {
        let run = w.koc(&["run", "pipeline.yaml", "--as-of", d]);
        run.expect_code(2);
    }
}

#[test]
fn timestamps_outside_1900_to_2200_are_rejected_rows() {
    let w = Workdir::new();
    setup(&w, "");
    w.create(
        "activity_02.csv",
        &format!("{ACTIVITY_HEADER}e3,m1,-0001-01-01 00:00:00,发帖,,,,,,\n"),
    );
    let run = w.koc(&["ingest", "pipeline.yaml", "--format", "json"]);
    run.expect_code(3);
    // the gate's fix names the rejects file itself, not a placeholder
    assert!(
        run.stderr().contains("fix: read rejects/activity_02-") && run.stderr().contains(".csv in the store's folder"),
        "{}",
        run.stderr()
    );
    assert!(!w.path().join("store/events").read_dir().unwrap().any(|e| e
        .unwrap()
        .file_name()
        .to_string_lossy()
        .contains("4294")));
    // the row is in the rejects file with its reason, and so is a year 0000 date
    let v: serde_json::Value = serde_json::from_str(&run.stdout()).unwrap();
    let f = v["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["path"] == "activity_02.csv")
        .unwrap();
    assert_eq!(f["rejected"], 1);
    let rejects = w.path().join("store").join(f["rejects_file"].as_str().unwrap());
    assert!(std::fs::read_to_string(rejects)
        .unwrap()
        .contains("unparseable timestamp '-0001-01-01 00:00:00'"));
}

#[test]
fn custom_templates_cannot_read_outside_their_folder_or_run_forever() {
    for (body, needle) in [
        ("{% include '/etc/passwd' %}", "only file names"),
        ("{% include '../pipeline.yaml' %}", "only file names"),
        (
            "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
            "fuel",
        ),
    ] {
        let w = Workdir::new();
        setup(&w, "report:\n  templates: templates/\n");
        w.create("templates/report.md", body);
        let run = w.koc(&["run", "pipeline.yaml", "--as-of", "2025-01-31"]);
        run.expect_code(1);
        assert!(run.stderr().contains(needle), "{body}: {}", run.stderr());
        assert!(!run.stderr().contains("root:"), "{}", run.stderr());
    }
}

#[test]
fn report_md_escapes_html_links_and_table_breakers_in_data_text() {
    let w = Workdir::new();
    setup(&w, "");
    let text = w.read("pipeline.yaml").replace(
        "{name: test,",
        "{name: \"<script>alert(1)</script>[x](javascript:y)|a\",",
    );
    w.create("pipeline.yaml", &text);
    let run = w.run_at("2025-01-31");
    let md = std::fs::read_to_string(run.join("report.md")).unwrap();
    assert!(
        md.contains("&lt;script&gt;alert(1)&lt;/script&gt;\\[x\\](javascript:y)\\|a"),
        "{md}"
    );
    assert!(!md.contains("<script>"), "{md}");
    let html = std::fs::read_to_string(run.join("report.html")).unwrap();
    assert!(!html.contains("<script>alert"), "report.html");
}

#[test]
fn every_file_written_is_0644_less_the_umask() {
    let w = Workdir::new();
    setup(&w, "");
    w.create("activity_02.csv", &format!("{ACTIVITY_HEADER}e9,m1,bad,发帖,,,,,,\n"));
    let run = w.koc(&["run", "pipeline.yaml", "--as-of", "2025-01-31", "--quiet"]);
    assert!(run.code() == 0 || run.code() == 3, "{}", run.stderr());
    let store = w.path().join("store");
    let mut files = vec![store.join("manifest.json")];
    for sub in [
        "runs/2025-01-31",
        "rejects",
        "events/month=2025-01",
        "tables",
        "tables/event_keys",
    ] {
        for e in std::fs::read_dir(store.join(sub)).unwrap() {
            let path = e.unwrap().path();
            if path.is_file() {
                files.push(path);
            }
        }
    }
    assert!(files.len() > 10, "{files:?}");
    for f in files {
        let mode = std::fs::metadata(&f).unwrap().permissions().mode() & 0o777;
        // the test process runs with the usual umask 022
        assert_eq!(mode, 0o644, "{}", f.display());
    }
    let dir_mode = std::fs::metadata(store.join("runs/2025-01-31"))
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(dir_mode, 0o755);
}

#[test]
fn a_very_long_export_name_with_a_rejected_row_still_runs() {
    let w = Workdir::new();
    setup(&w, "");
    let name = format!("activity_{}.csv", "长".repeat(80));
    w.create(&name, &format!("{ACTIVITY_HEADER}e3,m1,2025-01-07 10:00:00,发帖,,,,,,\ne4,m1,nope,发帖,,,,,,\ne5,m1,2025-01-07 11:00:00,发帖,,,,,,\n"));
    let run = w.koc(&["run", "pipeline.yaml", "--as-of", "2025-01-31", "--quiet"]);
    run.expect_code(0);
}

#[test]
fn an_empty_or_bom_only_export_is_a_day_without_rows() {
    let w = Workdir::new();
    setup(&w, "");
    w.create("activity_02.csv", "");
    w.create("activity_03.csv", "\u{feff}");
    let run = w.koc(&["ingest", "pipeline.yaml", "--format", "json"]);
    run.expect_code(0);
    assert!(
        run.stderr().contains("warning: activity_02.csv: the file is empty"),
        "{}",
        run.stderr()
    );
    let v: serde_json::Value = serde_json::from_str(&run.stdout()).unwrap();
    let f = v["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["path"] == "activity_03.csv")
        .unwrap();
    assert_eq!(f["rows"], 0);
    assert_eq!(f["status"], "empty");
    w.koc(&["validate", "pipeline.yaml"]).expect_code(0);
}

#[test]
fn a_closed_stdout_ends_quietly_with_the_usual_code() {
    let w = Workdir::new();
    setup(&w, "");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_koc"))
        .args(["ingest", "pipeline.yaml"])
        .current_dir(w.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take()); // the reader is gone, as with `| head -0`
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(!String::from_utf8_lossy(&out.stderr).contains("panicked"));
}

#[test]
fn a_stale_as_of_warns_and_fail_on_stale_exits_3_after_writing_the_run() {
    let w = Workdir::new();
    setup(&w, "");
    let run = w.koc(&["run", "pipeline.yaml", "--as-of", "2025-01-31"]);
    run.expect_code(0);
    assert!(
        run.stderr().contains("warning: the last stored event is of 2025-01-06"),
        "{}",
        run.stderr()
    );
    let json: serde_json::Value = serde_json::from_str(&w.read("store/runs/2025-01-31/run.json")).unwrap();
    assert_eq!(json["warnings"][0]["code"], "stale_data");
    assert_eq!(json["freshness"]["activity"]["last_date"], "2025-01-06");
    assert!(w
        .read("store/runs/2025-01-31/report.md")
        .contains("the last stored event is of 2025-01-06"));
    // not stale two days after the last event
    let fresh = w.koc(&["run", "pipeline.yaml", "--as-of", "2025-01-08"]);
    fresh.expect_code(0);
    assert!(!fresh.stderr().contains("stale"), "{}", fresh.stderr());
    let text = w.read("pipeline.yaml").replace(
        "  max_reject_ratio: 0.5\n",
        "  max_reject_ratio: 0.5\n  fail_on_stale: true\n",
    );
    w.create("pipeline.yaml", &text);
    w.koc(&["run", "pipeline.yaml", "--as-of", "2025-01-31"]).expect_code(3);
    assert!(w.path().join("store/runs/2025-01-31/report.html").exists());
}

#[test]
fn privacy_hashes_and_drops_at_ingest_and_masks_nicknames_in_reports() {
    let w = Workdir::new();
    setup(
        &w,
        "privacy:\n  drop: [purchase_date]\n  hash: [member_id]\n  salt_env: KOC_TEST_SALT\n  mask_nicknames: true\n",
    );
    w.create(
        "members.csv",
        &format!("{MEMBERS_HEADER}m1,Ann,2025-01-01 08:00:00,1990-02-03,2020-05-05\nm2,Bo,2025-01-02,,\n"),
    );
    // without the salt the run refuses: the pseudonyms would not be stable
    w.koc(&["run", "pipeline.yaml", "--as-of", "2025-01-31"]).expect_code(2);
    let run = w.koc_env(
        &["run", "pipeline.yaml", "--as-of", "2025-01-31", "--quiet"],
        &[("KOC_TEST_SALT", "s3cret")],
    );
    run.expect_code(0);
    let dir = w.path().join("store/runs/2025-01-31");
    // no raw member id or dropped value in any text output or in the store
    for e in std::fs::read_dir(&dir).unwrap() {
        let p = e.unwrap().path();
        if p.extension()
            .is_some_and(|x| x == "csv" || x == "md" || x == "html" || x == "json")
        {
            let text = std::fs::read_to_string(&p).unwrap();
            assert!(!text.contains("m1,") && !text.contains("2020-05-05"), "{}", p.display());
        }
    }
    let care = read_csv(&dir.join("care_calendar.csv"));
    assert_eq!(care.len(), 2, "{care:?}");
    assert_eq!(care[1][1].len(), 16, "a pseudonym: {care:?}");
    assert_eq!(care[1][2], "Ann", "CSVs stay internal: the nickname is not listed");
    let md = std::fs::read_to_string(dir.join("report.md")).unwrap();
    assert!(md.contains("A\\*\\*") && !md.contains("Ann"), "{md}");
    let month = w.path().join("store/events/month=2025-01");
    // the partition (beside it, the month's key file holds only hashes)
    for e in std::fs::read_dir(&month)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with("part-"))
    {
        let rows = read_parquet(&e);
        let m = rows[0].iter().position(|c| c == "member_id").unwrap();
        assert!(rows.iter().skip(1).all(|r| r[m].len() == 16), "{rows:?}");
    }
}

#[test]
fn an_unterminated_quote_is_named_as_such() {
    let w = Workdir::new();
    setup(&w, "");
    w.create(
        "activity_02.csv",
        &format!(
            "{ACTIVITY_HEADER}e3,m1,2025-01-07 10:00:00,发帖,\"adas,,,1,0,0\ne4,m1,2025-01-08 10:00:00,发帖,,,,1,0,0\n"
        ),
    );
    // the quote swallows the next row too: one row, rejected, so the file is gated
    w.koc(&["ingest", "pipeline.yaml", "--quiet"]).expect_code(3);
    let rejects = std::fs::read_dir(w.path().join("store/rejects"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let text = std::fs::read_to_string(rejects).unwrap();
    assert!(text.contains("unterminated quote"), "{text}");
}

#[test]
fn os_errors_name_their_path() {
    let w = Workdir::new();
    setup(&w, "");
    // the store path is a file
    w.create("store", "not a folder");
    let run = w.koc(&["ingest", "pipeline.yaml"]);
    run.expect_code(1);
    assert!(
        run.stderr().contains("cannot create store ./store: File exists"),
        "{}",
        run.stderr()
    );
    // --out into a folder that does not exist
    std::fs::remove_file(w.path().join("store")).unwrap();
    w.koc(&["ingest", "pipeline.yaml", "--quiet"]).expect_code(0);
    let out = w.koc(&[
        "points",
        "pipeline.yaml",
        "--as-of",
        "2025-01-31",
        "--out",
        "no/such/dir/b.csv",
    ]);
    out.expect_code(1);
    assert!(
        out.stderr().contains("cannot write --out no/such/dir/b.csv"),
        "{}",
        out.stderr()
    );
}

#[test]
fn a_misspelt_field_in_a_template_is_an_error_not_a_blank() {
    let w = Workdir::new();
    setup(&w, "report:\n  templates: templates/\n");
    w.create("templates/report.md", "members: {{ headline.membrs }}\n");
    let run = w.koc(&["run", "pipeline.yaml", "--as-of", "2025-01-31"]);
    run.expect_code(1);
    assert!(run.stderr().contains("undefined"), "{}", run.stderr());
    w.create("templates/report.md", "members: {{ headline.members }}\n");
    w.koc(&["run", "pipeline.yaml", "--as-of", "2025-01-31", "--quiet"])
        .expect_code(0);
    assert_eq!(w.read("store/runs/2025-01-31/report.md"), "members: 2");
}

#[test]
fn a_template_that_prints_gigabytes_stops_with_an_error() {
    let w = Workdir::new();
    setup(&w, "report:\n  templates: templates/\n");
    w.create(
        "templates/report.md",
        "{% set a = \"x\" * 1000000 %}{% for i in range(20000) %}{{ a }}{% endfor %}",
    );
    let run = w.koc(&["run", "pipeline.yaml", "--as-of", "2025-01-31"]);
    run.expect_code(1);
    assert!(run.stderr().contains("larger than 256 MB"), "{}", run.stderr());
}

/// Fuel bounds steps and the output is bounded, but a value doubled forty times asks
/// for a terabyte: the template renders in a process of its own under a memory limit,
/// and the run says which template it was instead of aborting.
#[test]
fn a_template_that_builds_a_huge_string_stops_with_an_error_naming_it() {
    let w = Workdir::new();
    setup(&w, "report:\n  templates: templates/\n");
    let doubling = "{% set s = s ~ s %}".repeat(40);
    w.create(
        "templates/report.md",
        &format!("{{% set s = \"xxxxxxxx\" %}}{doubling}{{{{ s | length }}}}"),
    );
    let started = std::time::Instant::now();
    let run = w.koc(&["run", "pipeline.yaml", "--as-of", "2025-01-31"]);
    run.expect_code(1);
    assert!(
        run.stderr().contains("rendering report.md") && run.stderr().contains("more than 2048 MB of memory"),
        "{}",
        run.stderr()
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(60));
    // a custom template that behaves renders as before, through its own process
    w.create("templates/report.md", "# report {{ 40 + 2 }}\n");
    let run = w.koc(&["run", "pipeline.yaml", "--as-of", "2025-01-31"]);
    run.expect_code(0);
    assert_eq!(w.read("store/runs/2025-01-31/report.md").trim_end(), "# report 42");
}
