//! Ingest (SPEC §4): encodings, delimiters, rejects, counts, upserts, the gate, the lock.
mod common;
use common::*;

fn setup(w: &Workdir) {
    w.create("pipeline.yaml", &small_pipeline(""));
    w.create(
        "members.csv",
        &format!("{MEMBERS_HEADER}m1,Ann,2025-01-01 08:00:00,,\nm2,Bo,2025-01-02,,\n"),
    );
}

fn json_counts(run: &Run, file: &str) -> serde_json::Value {
    let v: serde_json::Value = serde_json::from_str(&run.stdout()).expect("json");
    v["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["path"] == file)
        .unwrap_or_else(|| panic!("{file} in {v}"))
        .clone()
}

fn counts(run: &Run, file: &str) -> [u64; 6] {
    let f = json_counts(run, file);
    ["rows", "inserted", "updated", "unchanged", "ignored", "rejected"].map(|k| f[k].as_u64().unwrap())
}

/// Write an activity export of `rows` (after the header), ingest, and return its counts.
fn ingest_rows(w: &Workdir, file: &str, rows: &str) -> [u64; 6] {
    w.create(file, &format!("{ACTIVITY_HEADER}{rows}"));
    let run = w.koc(&["ingest", "pipeline.yaml", "--format", "json"]);
    run.expect_code(0);
    counts(&run, file)
}

fn manifest(w: &Workdir) -> serde_json::Value {
    serde_json::from_str(&w.read("store/manifest.json")).unwrap()
}

#[test]
fn gbk_utf16_tab_and_bom_files_read_the_same_rows() {
    let w = Workdir::new();
    setup(&w);
    let row = "e1,m1,2025-01-05 10:00:00,发帖,adas,,C1,12,3,1\n";
    let text = format!("{ACTIVITY_HEADER}{row}");
    let (gbk, _, _) = encoding_rs::GBK.encode(&text);
    w.create_bytes("activity_a.csv", &gbk);
    // the same event re-sent as UTF-16 with tabs and an ISO timestamp: unchanged
    let tab = format!(
        "{}e1\tm1\t2025-01-05T02:00:00Z\t发帖\tadas\t\tC1\t12\t3\t1\n",
        ACTIVITY_HEADER.replace(',', "\t")
    );
    w.create_bytes("activity_b.csv", &utf16le(&tab));
    // and as UTF-8 with a BOM and the other timestamp format, with more likes: updated
    w.create(
        "activity_c.csv",
        &format!("\u{feff}{ACTIVITY_HEADER}e1,m1,2025/01/05 10:00,发帖,adas,,C1,15,3,1\n"),
    );
    let run = w.koc(&["ingest", "pipeline.yaml", "--format", "json"]);
    run.expect_code(0);
    assert_eq!(counts(&run, "activity_a.csv"), [1, 1, 0, 0, 0, 0]);
    assert_eq!(counts(&run, "activity_b.csv"), [1, 0, 0, 1, 0, 0]);
    assert_eq!(counts(&run, "activity_c.csv"), [1, 0, 1, 0, 0, 0]);
}

#[test]
fn every_reject_reason_is_written_with_line_and_column() {
    let w = Workdir::new();
    setup(&w);
    let rows = [
        "e1,m1,2025/13/01 10:00,发帖,,,,,,",        // line 2: unparseable timestamp
        "e2,m1,2025-01-05 10:00:00,分享,,,,,,",     // 3: unknown action
        "e3,,2025-01-05 10:00:00,发帖,,,,,,",       // 4: empty required field
        "e4,m1,2025-01-05 10:00:00,发帖,,,,-3,,",   // 5: negative count
        "e5,m1,2025-01-05 10:00:00,发帖,,,,abc,,",  // 6: not an integer
        "e6,m1,2025-01-05 10:00:00,发帖",           // 7: too few fields
        "e7,m1,2025-01-05 10:00:00,浏览,,,,,,",     // 8: ignored
        "e8,m1,\"2024-02-30 10:00:00\",发帖,,,,,,", // 9: impossible date
        "e9,m1,2025-01-05 10:00:00,发帖,,,,1,2,3",  // 10: fine
    ];
    w.create("activity.csv", &format!("{ACTIVITY_HEADER}{}\n", rows.join("\n")));
    let run = w.koc(&["ingest", "pipeline.yaml", "--format", "json"]);
    run.expect_code(3); // 7 of 9 rejected > 0.5
    assert_eq!(counts(&run, "activity.csv"), [9, 1, 0, 0, 1, 7]);
    let rejects_file = json_counts(&run, "activity.csv")["rejects_file"]
        .as_str()
        .unwrap()
        .to_string();
    let rejects = read_csv(&w.path().join("store").join(&rejects_file));
    assert_eq!(rejects[0], ["source", "file", "line", "column", "value", "reason"]);
    let lines: Vec<(&str, &str, &str)> = rejects[1..]
        .iter()
        .map(|r| (r[2].as_str(), r[3].as_str(), r[5].as_str()))
        .collect();
    assert_eq!(lines[0].0, "2");
    assert_eq!(lines[0].1, "occurred_at");
    assert!(
        lines[0].2.contains("unparseable timestamp '2025/13/01 10:00'"),
        "{lines:?}"
    );
    assert!(lines[1].2.contains("unknown action '分享'") && lines[1].2.contains("ignore_actions"));
    assert!(lines[2].2.contains("empty required field 'member_id'"));
    assert!(lines[3].2.contains("negative count '-3'"));
    assert!(lines[4].2.contains("'abc'"));
    assert_eq!(lines[5].0, "7");
    assert!(lines[5].2.contains("too few fields"));
    assert_eq!(lines[6].0, "9");
    assert!(lines[6].2.contains("2024-02-30"));
}

/// An Excel export ends lines with `\r\n`; a reject names the line an editor shows,
/// after a blank line too, whether koc cuts the lines itself (no quote in the file) or
/// `csv` reads them (a quote somewhere).
#[test]
fn rejects_of_crlf_exports_name_the_lines_an_editor_shows() {
    let w = Workdir::new();
    setup(&w);
    let header = ACTIVITY_HEADER.trim_end();
    for (file, third) in [
        ("activity_plain.csv", "x3,m1,2025-01-05 10:00:00,发帖,,,,,,"),
        ("activity_quoted.csv", "x3,m1,2025-01-05 10:00:00,发帖,\"adas\",,,,,"),
    ] {
        let prefix = &file[9..10]; // event ids apart per file
        let rows = [
            header.to_string(),                                     // line 1
            format!("{prefix}1,m1,2025-01-05 10:00:00,发帖,,,,,,"), // 2: fine
            format!("{prefix}2,m1,2025/13/01 10:00,发帖,,,,,,"),    // 3: rejected
            String::new(),                                          // 4: blank
            third.replacen("x", prefix, 1),                         // 5: fine
            format!("{prefix}4,m1,2025-01-05 10:00:00,分享,,,,,,"), // 6: rejected
        ];
        w.create(file, &format!("{}\r\n", rows.join("\r\n")));
    }
    let run = w.koc(&["ingest", "pipeline.yaml", "--format", "json"]);
    run.expect_code(0); // 2 of 4 rejected: at the small pipeline's ratio (0.5), not over it
    for file in ["activity_plain.csv", "activity_quoted.csv"] {
        assert_eq!(counts(&run, file), [4, 2, 0, 0, 0, 2], "{file}");
        let rejects_file = json_counts(&run, file)["rejects_file"].as_str().unwrap().to_string();
        let rejects = read_csv(&w.path().join("store").join(&rejects_file));
        let lines: Vec<&str> = rejects[1..].iter().map(|r| r[2].as_str()).collect();
        assert_eq!(lines, ["3", "6"], "{file}");
    }
}

#[test]
fn duplicates_in_one_file_and_redelivery_count_against_the_store_as_it_stands() {
    let w = Workdir::new();
    setup(&w);
    w.create(
        "activity_1.csv",
        &format!(
            "{ACTIVITY_HEADER}e1,m1,2025-01-05 10:00:00,发帖,,,C1,1,0,0\ne1,m1,2025-01-05 10:00:00,发帖,,,C1,1,0,0\ne1,m1,2025-01-05 10:00:00,发帖,,,C1,4,0,0\n"
        ),
    );
    w.create(
        "activity_2.csv",
        &format!("{ACTIVITY_HEADER}e1,m1,2025-01-05 10:00:00,发帖,,,C1,9,0,0\ne2,m2,2025-01-06 10:00:00,签到,,,,,,\n"),
    );
    let run = w.koc(&["ingest", "pipeline.yaml", "--format", "json"]);
    run.expect_code(0);
    // e1 new, then identical, then grown likes
    assert_eq!(counts(&run, "activity_1.csv"), [3, 1, 1, 1, 0, 0]);
    // the later file in byte order wins
    assert_eq!(counts(&run, "activity_2.csv"), [2, 1, 1, 0, 0, 0]);
    let run = w.koc(&["run", "pipeline.yaml", "--as-of", "2025-01-31", "--quiet"]);
    run.expect_code(0);
    let balances = read_csv(&w.path().join("store/runs/2025-01-31/balances.csv"));
    assert_eq!(balances.len(), 3, "m1 and m2");
}

#[test]
fn the_same_file_again_is_skipped_and_the_store_is_unchanged_byte_for_byte() {
    let w = Workdir::new();
    setup(&w);
    w.create(
        "activity_1.csv",
        &format!("{ACTIVITY_HEADER}e1,m1,2025-01-05 10:00:00,发帖,,,C1,1,0,0\n"),
    );
    w.koc(&["ingest", "pipeline.yaml", "--quiet"]).expect_code(0);
    let before = snapshot_dir(&w.path().join("store"));
    // a copy under another name has the same sha256
    w.create(
        "activity_2.csv",
        &format!("{ACTIVITY_HEADER}e1,m1,2025-01-05 10:00:00,发帖,,,C1,1,0,0\n"),
    );
    let run = w.koc(&["ingest", "pipeline.yaml", "--format", "json"]);
    run.expect_code(0);
    assert_eq!(json_counts(&run, "activity_1.csv")["status"], "skipped");
    assert_eq!(json_counts(&run, "activity_2.csv")["status"], "skipped");
    assert_eq!(before, snapshot_dir(&w.path().join("store")));
    // a changed file with a known name is ingested again
    w.create(
        "activity_1.csv",
        &format!("{ACTIVITY_HEADER}e1,m1,2025-01-05 10:00:00,发帖,,,C1,7,0,0\n"),
    );
    let run = w.koc(&["ingest", "pipeline.yaml", "--format", "json"]);
    assert_eq!(counts(&run, "activity_1.csv"), [1, 0, 1, 0, 0, 0]);
}

#[test]
fn a_gated_file_changes_nothing_but_its_rejects_are_written() {
    let w = Workdir::new();
    setup(&w);
    w.create(
        "activity_1.csv",
        &format!("{ACTIVITY_HEADER}e1,m1,2025-01-05 10:00:00,发帖,,,C1,1,0,0\n"),
    );
    w.koc(&["ingest", "pipeline.yaml", "--quiet"]).expect_code(0);
    let before = snapshot_dir(&w.path().join("store"));
    // 2 of 3 rows rejected > 0.5
    w.create(
        "activity_2.csv",
        &format!("{ACTIVITY_HEADER}e2,m1,bad,发帖,,,,,,\ne3,m1,bad,发帖,,,,,,\ne4,m1,2025-01-06 10:00:00,发帖,,,,,,\n"),
    );
    let run = w.koc(&["ingest", "pipeline.yaml"]);
    run.expect_code(3);
    assert!(run.stderr().contains("activity_2.csv"), "{}", run.stderr());
    let after = snapshot_dir(&w.path().join("store"));
    let new_files: Vec<_> = after
        .iter()
        .filter(|f| !before.contains(f))
        .map(|(p, _)| p.clone())
        .collect();
    assert_eq!(new_files.len(), 1, "only the rejects file: {new_files:?}");
    assert!(new_files[0].to_string_lossy().contains("rejects/activity_2-"));
}

#[test]
fn a_second_command_on_a_locked_store_exits_4_and_a_dead_lock_is_recovered() {
    let w = Workdir::new();
    setup(&w);
    w.create(
        "activity_1.csv",
        &format!("{ACTIVITY_HEADER}e1,m1,2025-01-05 10:00:00,发帖,,,C1,1,0,0\n"),
    );
    std::fs::create_dir_all(w.path().join("store")).unwrap();
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(w.path().join("store/.lock"))
        .unwrap();
    fs4::fs_std::FileExt::try_lock_exclusive(&lock).unwrap();
    // a holder writes its process id into the lock file; the message names it
    std::fs::write(w.path().join("store/.lock"), "4242\n").unwrap();
    let run = w.koc(&["ingest", "pipeline.yaml"]);
    run.expect_code(4);
    assert!(
        run.stderr()
            .contains("another koc command (process 4242) holds the lock"),
        "{}",
        run.stderr()
    );
    drop(lock); // the holder died: the OS releases its lock
    w.koc(&["ingest", "pipeline.yaml", "--quiet"]).expect_code(0);
}

#[test]
fn events_of_unlisted_members_are_kept_and_counted() {
    let w = Workdir::new();
    setup(&w);
    w.create(
        "activity_1.csv",
        &format!("{ACTIVITY_HEADER}e1,zz,2025-01-05 10:00:00,发帖,,,C1,1,0,0\n"),
    );
    let run = w.koc(&["ingest", "pipeline.yaml", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(&run.stdout()).unwrap();
    assert_eq!(v["events_of_unknown_members"], 1);
    w.koc(&["run", "pipeline.yaml", "--as-of", "2025-01-31", "--quiet"])
        .expect_code(0);
    let layers = read_csv(&w.path().join("store/runs/2025-01-31/layers.csv"));
    assert!(layers.iter().any(|r| r[0] == "zz" && r[2] == "active"), "{layers:?}");
}

/// One more day reads the key index, not every stored event id: a re-delivered
/// event is found in its month (updated, even when it moves to another month), a
/// new one is inserted, and the unknown-member count is kept per month.
#[test]
fn later_ingests_find_stored_events_through_the_key_index() {
    let w = Workdir::new();
    setup(&w);
    w.create(
        "activity_1.csv",
        &format!("{ACTIVITY_HEADER}e1,m1,2025-01-05 10:00:00,发帖,,,C1,1,0,0\ne2,zz,2025-02-05 10:00:00,签到,,,,,,\n"),
    );
    w.koc(&["ingest", "pipeline.yaml", "--quiet"]).expect_code(0);
    let m = manifest(&w);
    let index = m["event_keys"]["months"]["2025-01"]
        .as_str()
        .expect("January's key file");
    assert!(index.starts_with("tables/event_keys/keys-2025-01-"), "{index}");
    assert!(m["event_keys"]["months"]["2025-02"].is_string());
    assert_eq!(m["event_keys"]["hash"], "fnv1a64");
    assert_eq!(m["events_of_unknown_members"], 1, "e2's member zz is unknown");
    // e1 re-delivered one month later (it moves from January to February), e3 new
    assert_eq!(
        ingest_rows(
            &w,
            "activity_2.csv",
            "e1,m1,2025-02-01 09:00:00,发帖,,,C1,1,0,0\ne3,zz,2025-02-06 10:00:00,签到,,,,,,\n"
        ),
        [2, 1, 1, 0, 0, 0]
    );
    let m = manifest(&w);
    assert_eq!(m["events_of_unknown_members"], 2);
    assert_eq!(
        m["unknown_by_month"],
        serde_json::json!({"2025-02": 2}),
        "January is empty now"
    );
    assert!(m["events"].get("2025-01").is_none(), "{m}");
    assert!(
        m["event_keys"]["months"].get("2025-01").is_none(),
        "the index follows the months: {m}"
    );
    assert!(
        !w.path().join("store").join(index).exists(),
        "January's key file is gone"
    );
    // a store written before the index existed: the index is built from the partitions
    let mut old = manifest(&w);
    old.as_object_mut().unwrap().remove("event_keys");
    old.as_object_mut().unwrap().remove("unknown_by_month");
    w.create("store/manifest.json", &old.to_string());
    assert_eq!(
        ingest_rows(
            &w,
            "activity_3.csv",
            "e3,zz,2025-02-06 10:00:00,签到,,,,,,\ne1,m1,2025-02-01 09:00:00,发帖,,,C1,5,0,0\n"
        ),
        [2, 0, 1, 1, 0, 0]
    );
    let m = manifest(&w);
    assert_eq!(m["events_of_unknown_members"], 2);
    assert!(m["event_keys"]["months"]["2025-02"].is_string(), "{m}");
    // zz joins the members: every month is recounted
    w.create(
        "members.csv",
        &format!("{MEMBERS_HEADER}m1,Ann,2025-01-01 08:00:00,,\nm2,Bo,2025-01-02,,\nzz,Zed,2025-01-03,,\n"),
    );
    w.koc(&["ingest", "pipeline.yaml", "--quiet"]).expect_code(0);
    assert_eq!(manifest(&w)["events_of_unknown_members"], 0);
    w.koc(&["check-store", "pipeline.yaml"]).expect_code(0);
    // yy, unknown, in February; then yy joins while March arrives with yy and xx: March
    // is counted as it is written (against the members as they are now), February
    // (not rewritten) is recounted
    ingest_rows(&w, "activity_4.csv", "e6,yy,2025-02-07 10:00:00,签到,,,,,,\n");
    assert_eq!(manifest(&w)["unknown_by_month"], serde_json::json!({"2025-02": 1}));
    w.create(
        "members.csv",
        &format!("{MEMBERS_HEADER}m1,Ann,2025-01-01 08:00:00,,\nm2,Bo,2025-01-02,,\nzz,Zed,2025-01-03,,\nyy,Yu,2025-02-01,,\n"),
    );
    w.create(
        "activity_5.csv",
        &format!("{ACTIVITY_HEADER}e7,xx,2025-03-01 10:00:00,签到,,,,,,\ne8,yy,2025-03-02 10:00:00,签到,,,,,,\n"),
    );
    w.koc(&["ingest", "pipeline.yaml", "--quiet"]).expect_code(0);
    let m = manifest(&w);
    assert_eq!(m["unknown_by_month"], serde_json::json!({"2025-02": 0, "2025-03": 1}));
    assert_eq!(m["events_of_unknown_members"], 1, "xx only");
}

/// An export whose path, size, modification time, change time and inode are those
/// recorded is not read again (the nightly run does not hash years of history); a file
/// rewritten in place, even with its size and modification time put back (as `cp -p`
/// or `rsync -a` would), is read, hashed and counted.
#[test]
fn an_export_with_the_recorded_size_and_times_is_not_read_again() {
    let w = Workdir::new();
    setup(&w);
    let path = w.path().join("activity_1.csv");
    w.create(
        "activity_1.csv",
        &format!("{ACTIVITY_HEADER}e1,m1,2025-01-05 10:00:00,发帖,,,C1,1,0,0\n"),
    );
    w.koc(&["ingest", "pipeline.yaml", "--quiet"]).expect_code(0);
    let m = manifest(&w);
    let stat = &m["files"][1]["stat"];
    assert!(
        stat["size"].as_u64().unwrap() > 0 && stat["inode"].as_u64().unwrap() > 0,
        "{m}"
    );
    let run = w.koc(&["ingest", "pipeline.yaml", "--format", "json"]);
    assert_eq!(json_counts(&run, "activity_1.csv")["status"], "skipped");
    // the same size, another like count, the old modification time put back
    let mtime = std::fs::metadata(&path).unwrap().modified().unwrap();
    w.create(
        "activity_1.csv",
        &format!("{ACTIVITY_HEADER}e1,m1,2025-01-05 10:00:00,发帖,,,C1,7,0,0\n"),
    );
    let file = std::fs::File::options().write(true).open(&path).unwrap();
    file.set_modified(mtime).unwrap();
    drop(file);
    let run = w.koc(&["ingest", "pipeline.yaml", "--format", "json"]);
    run.expect_code(0);
    assert_eq!(
        counts(&run, "activity_1.csv"),
        [1, 0, 1, 0, 0, 0],
        "the change time gave it away"
    );
}

/// A key file that no longer matches its month's partition (or is gone) is not
/// trusted: the month is hashed from the partition, so a re-delivered event is still
/// found and never stored twice.
#[test]
fn a_stale_or_missing_key_file_is_rebuilt_not_trusted() {
    let w = Workdir::new();
    setup(&w);
    w.create(
        "activity_1.csv",
        &format!("{ACTIVITY_HEADER}e1,m1,2025-01-05 10:00:00,发帖,,,C1,1,0,0\n"),
    );
    w.koc(&["ingest", "pipeline.yaml", "--quiet"]).expect_code(0);
    // the key index is lost
    std::fs::remove_dir_all(w.path().join("store/tables/event_keys")).unwrap();
    assert_eq!(
        ingest_rows(&w, "activity_2.csv", "e1,m1,2025-02-01 09:00:00,发帖,,,C1,1,0,0\n"),
        [1, 0, 1, 0, 0, 0],
        "e1 found and moved to February"
    );
    // e1 is stored once, in February (check-store also looks for duplicate ids)
    let check = w.koc(&["check-store", "pipeline.yaml"]);
    check.expect_code(0);
    assert!(check.stdout().contains(", 1 events, 0 problems"), "{}", check.stdout());
    let m = manifest(&w);
    assert!(
        m["events"].get("2025-01").is_none() && m["events"]["2025-02"].is_string(),
        "{m}"
    );
}

/// The reasons table counts rejects by the kind the converter found, not by words
/// in the message: a value that reads "too many fields" is still a bad count.
#[test]
fn reject_kinds_come_from_the_defect_not_from_its_text() {
    let w = Workdir::new();
    setup(&w);
    w.create(
        "activity_1.csv",
        &format!("{ACTIVITY_HEADER}e1,m1,2025-01-05 10:00:00,发帖,,,C1,too many fields,0,0\ne2,m1,2025-01-05 11:00:00,发帖,,,C1,1,0,0\n"),
    );
    let run = w.koc(&["ingest", "pipeline.yaml", "--format", "json"]);
    run.expect_code(0);
    let f = json_counts(&run, "activity_1.csv");
    assert_eq!(
        f["reject_reasons"],
        serde_json::json!({"count not an integer ≥ 0": 1}),
        "{f}"
    );
}

#[test]
fn a_gated_file_in_the_middle_of_an_ingest_is_taken_back_before_the_next_file() {
    // the files of one ingest count against each other: the held-back file's update of
    // e1 and its new e9 must be gone when activity_3 is counted
    let w = Workdir::new();
    setup(&w);
    w.create(
        "activity_1.csv",
        &format!("{ACTIVITY_HEADER}e1,m1,2025-01-05 10:00:00,发帖,,,C1,1,0,0\n"),
    );
    w.create(
        "activity_2.csv",
        &format!(
            "{ACTIVITY_HEADER}e1,m1,2025-01-05 10:00:00,发帖,,,C1,5,0,0\ne9,m1,2025-01-07 10:00:00,发帖,,,,,,\n\
             e2,m1,bad,发帖,,,,,,\ne3,m1,bad,发帖,,,,,,\ne4,m1,bad,发帖,,,,,,\n"
        ),
    );
    w.create(
        "activity_3.csv",
        &format!("{ACTIVITY_HEADER}e1,m1,2025-01-05 10:00:00,发帖,,,C1,1,0,0\ne9,m1,2025-01-07 10:00:00,发帖,,,,,,\n"),
    );
    let run = w.koc(&["ingest", "pipeline.yaml", "--format", "json"]);
    run.expect_code(3);
    assert_eq!(json_counts(&run, "activity_2.csv")["status"], "gated");
    // rows, inserted, updated, unchanged, ignored, rejected
    assert_eq!(counts(&run, "activity_3.csv"), [2, 1, 0, 1, 0, 0]);
    let manifest = manifest(&w);
    let january = read_parquet(
        &w.path()
            .join("store")
            .join(manifest["events"]["2025-01"].as_str().unwrap()),
    );
    let likes = january[0].iter().position(|c| c == "likes").unwrap();
    let ids: Vec<(&str, &str)> = january[1..]
        .iter()
        .map(|r| (r[0].as_str(), r[likes].as_str()))
        .collect();
    assert_eq!(ids, [("e1", "1"), ("e9", "0")]);
}

#[test]
fn one_more_day_adds_to_its_month_as_a_whole_history_ingest_would() {
    // day 2 lands in a month the store has, and none of its keys is stored: the month
    // is rewritten from its partition plus the new rows, in the same order
    let day1 = "e1,m1,2025-01-05 10:00:00,发帖,,,C1,1,0,0\ne3,m9,2025-01-06 09:00:00,评论,,,,,,\n";
    let day2 = "e2,m2,2025-01-05 10:00:00,发帖,,,C2,4,0,0\ne0,m1,2025-01-07 08:00:00,签到,,,,,,\n";
    let january = |w: &Workdir| {
        let manifest = manifest(w);
        let rows = read_parquet(
            &w.path()
                .join("store")
                .join(manifest["events"]["2025-01"].as_str().unwrap()),
        );
        (rows, manifest["events_of_unknown_members"].clone())
    };
    let daily = Workdir::new();
    setup(&daily);
    assert_eq!(ingest_rows(&daily, "activity_1.csv", day1), [2, 2, 0, 0, 0, 0]);
    assert_eq!(ingest_rows(&daily, "activity_2.csv", day2), [2, 2, 0, 0, 0, 0]);
    let whole = Workdir::new();
    setup(&whole);
    whole.create("activity_1.csv", &format!("{ACTIVITY_HEADER}{day1}"));
    whole.create("activity_2.csv", &format!("{ACTIVITY_HEADER}{day2}"));
    whole.koc(&["ingest", "pipeline.yaml", "--quiet"]).expect_code(0);
    let (rows, unknown) = january(&daily);
    assert_eq!((rows.clone(), unknown.clone()), january(&whole));
    let ids: Vec<&str> = rows[1..].iter().map(|r| r[0].as_str()).collect();
    assert_eq!(ids, ["e1", "e2", "e3", "e0"], "by time, then event_id");
    assert_eq!(unknown, 1, "e3 of m9");
    // the month's key file knows the added rows: re-sending e2 changed is an update
    assert_eq!(
        ingest_rows(&daily, "activity_3.csv", "e2,m2,2025-01-05 10:00:00,发帖,,,C2,5,0,0\n"),
        [1, 0, 1, 0, 0, 0]
    );
}

/// A row rejected part way through (its count is the eighth value) leaves nothing
/// behind: the rows kept around it are stored whole and exactly.
#[test]
fn a_row_rejected_part_way_leaves_the_rows_around_it_whole() {
    let w = Workdir::new();
    setup(&w);
    // 1 rejected in 25 rows: under the gate (5 %)
    let mut rows = String::new();
    for i in 0..24 {
        if i == 12 {
            rows.push_str("bad,m1,2025-01-05 10:00:00,发帖,话题,任务,C-bad,-3,0,0\n");
        }
        rows.push_str(&format!(
            "e{i:02},m{},2025-01-05 10:{i:02}:00,发帖,,,C{i},{i},1,2\n",
            1 + i % 2
        ));
    }
    assert_eq!(ingest_rows(&w, "activity_1.csv", &rows), [25, 24, 0, 0, 0, 1]);
    let manifest = manifest(&w);
    let stored = read_parquet(
        &w.path()
            .join("store")
            .join(manifest["events"]["2025-01"].as_str().unwrap()),
    );
    let header = &stored[0];
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    assert_eq!(stored.len(), 25, "a header and 24 rows");
    for (i, row) in stored[1..].iter().enumerate() {
        assert_eq!(row[col("event_id")], format!("e{i:02}"));
        assert_eq!(row[col("member_id")], format!("m{}", 1 + i % 2));
        assert_eq!(row[col("content_id")], format!("C{i}"));
        assert_eq!(
            [&row[col("likes")], &row[col("comments")], &row[col("shares")]],
            [&i.to_string(), "1", "2"]
        );
        assert_eq!(row[col("topic")], "");
    }
}
