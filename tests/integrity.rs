//! A store that never lies, inputs that cannot hang, exhaust or leak (issue 26). Each
//! test is one thing a crash, a damaged disk or a hostile export did to koc.
mod common;
use common::*;
use std::path::{Path, PathBuf};
use std::time::Duration;

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
    w.create(
        "activity_02.csv",
        &format!("{ACTIVITY_HEADER}e3,m1,2025-02-05 10:00:00,发帖,adas,,C2,4,0,0\n"),
    );
}

/// The month partition (`part-…`) of `month` in the store.
fn partition(w: &Workdir, month: &str) -> PathBuf {
    let dir = w.path().join(format!("store/events/month={month}"));
    std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.file_name().unwrap().to_string_lossy().starts_with("part-"))
        .unwrap_or_else(|| panic!("no partition in {}", dir.display()))
}

#[test]
fn a_flipped_bit_anywhere_in_a_partition_is_an_error_naming_it_never_other_numbers() {
    let w = Workdir::new();
    setup(&w, "");
    w.koc(&["ingest", "pipeline.yaml"]).expect_code(0);
    let part = partition(&w, "2025-01");
    let good = std::fs::read(&part).unwrap();
    // the header, a page, the footer, the magic at the end
    for at in [1, good.len() / 3, good.len() / 2, good.len() - 12, good.len() - 2] {
        let mut bad = good.clone();
        bad[at] ^= 0x10;
        std::fs::write(&part, &bad).unwrap();
        let run = w.koc(&["run", "pipeline.yaml", "--as-of", "2025-02-28"]);
        run.expect_code(1);
        let name = part.file_name().unwrap().to_string_lossy().to_string();
        assert!(
            run.stderr().contains(&name) && run.stderr().contains("damaged"),
            "byte {at}: {}",
            run.stderr()
        );
        assert!(run.stderr().contains("fix:"), "{}", run.stderr());
        let check = w.koc(&["check-store", "pipeline.yaml"]);
        check.expect_code(1);
        assert!(check.stdout().contains(&name), "byte {at}: {}", check.stdout());
    }
    std::fs::write(&part, &good).unwrap();
    w.koc(&["run", "pipeline.yaml", "--as-of", "2025-02-28"]).expect_code(0);
    w.koc(&["check-store", "pipeline.yaml"]).expect_code(0);
}

#[test]
fn a_partition_replaced_by_another_months_copy_is_refused() {
    let w = Workdir::new();
    setup(&w, "");
    w.koc(&["ingest", "pipeline.yaml"]).expect_code(0);
    let (jan, feb) = (partition(&w, "2025-01"), partition(&w, "2025-02"));
    std::fs::copy(&jan, &feb).unwrap();
    let run = w.koc(&["run", "pipeline.yaml", "--as-of", "2025-02-28"]);
    run.expect_code(1);
    let name = feb.file_name().unwrap().to_string_lossy().to_string();
    assert!(run.stderr().contains(&name), "{}", run.stderr());
    let check = w.koc(&["check-store", "pipeline.yaml"]);
    check.expect_code(1);
    assert!(check.stdout().contains(&name), "{}", check.stdout());
}

#[test]
fn leftovers_of_an_uncommitted_ingest_are_removed_and_the_numbers_stay() {
    let w = Workdir::new();
    setup(&w, "");
    // an ingest killed after its data files were written and before its manifest:
    // a data file koc names itself that the manifest does not name
    w.koc(&["ingest", "pipeline.yaml"]).expect_code(0);
    let part = partition(&w, "2025-01");
    let leftover = part.with_file_name("part-00000000deadbeef.parquet");
    std::fs::copy(&part, &leftover).unwrap();
    let run = w.koc(&["run", "pipeline.yaml", "--as-of", "2025-02-28"]);
    run.expect_code(0);
    assert!(!leftover.exists(), "the uncommitted file is a leftover, removed");
    let balances = read_csv(&w.path().join("store/runs/2025-02-28/balances.csv"));
    let fresh = Workdir::new();
    setup(&fresh, "");
    fresh
        .koc(&["run", "pipeline.yaml", "--as-of", "2025-02-28"])
        .expect_code(0);
    assert_eq!(
        balances,
        read_csv(&fresh.path().join("store/runs/2025-02-28/balances.csv"))
    );
}

/// A first `koc run` of a synthetic program killed at many instants: each time the
/// next run works without a person, and its outputs are those of an unbroken run.
#[test]
fn a_first_run_killed_at_any_instant_heals_on_the_next_run() {
    let w = Workdir::new();
    w.koc(&["synth", "prog", "--members", "400", "--days", "90"])
        .expect_code(0);
    let pipeline = w.path().join("prog/pipeline.yaml");
    let pipeline = pipeline.to_str().unwrap();
    let as_of = "2025-03-31";
    let reference = {
        let run = w.koc(&["run", pipeline, "--as-of", as_of, "--quiet"]);
        assert!(matches!(run.code(), 0 | 3), "{}", run.stderr());
        let store = store_of(&w.path().join("prog"));
        let balances = std::fs::read(store.join(format!("runs/{as_of}/balances.csv"))).unwrap();
        std::fs::remove_dir_all(&store).unwrap();
        balances
    };
    let store = store_of(&w.path().join("prog"));
    // a clean first run's length, then kills spread over it
    let started = std::time::Instant::now();
    let run = w.koc(&["run", pipeline, "--as-of", as_of, "--quiet"]);
    assert!(matches!(run.code(), 0 | 3), "{}", run.stderr());
    let whole = started.elapsed().as_millis() as u64;
    for tenth in 0..10u64 {
        let delay_ms = whole * tenth / 10 + 2;
        let _ = std::fs::remove_dir_all(&store);
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_koc"))
            .args(["run", pipeline, "--as-of", as_of, "--quiet"])
            .current_dir(w.path())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(delay_ms));
        let _ = child.kill();
        let _ = child.wait();
        let run = w.koc(&["run", pipeline, "--as-of", as_of, "--quiet"]);
        assert!(
            matches!(run.code(), 0 | 3),
            "killed at {delay_ms} ms: exit {}\n{}",
            run.code(),
            run.stderr()
        );
        let balances = std::fs::read(store.join(format!("runs/{as_of}/balances.csv"))).unwrap();
        assert!(balances == reference, "killed at {delay_ms} ms: other balances");
        w.koc(&["check-store", pipeline]).expect_code(0);
    }
}

/// The store folder `koc synth` gives its pipeline.
/// A first run killed between the temp file of its first manifest and the rename
/// leaves only that temp file: the store is koc's, and the next run uses it.
#[test]
fn a_store_holding_only_a_killed_writes_temp_file_is_used() {
    let w = Workdir::new();
    setup(&w, "");
    std::fs::create_dir_all(w.path().join("store")).unwrap();
    std::fs::write(w.path().join("store/.tmpAbC123"), b"{").unwrap();
    w.run_at("2025-01-31");
    // a file koc did not write is still refused
    let w = Workdir::new();
    setup(&w, "");
    std::fs::create_dir_all(w.path().join("store")).unwrap();
    std::fs::write(w.path().join("store/notes.txt"), b"mine").unwrap();
    let run = w.koc(&["run", "pipeline.yaml", "--as-of", "2025-01-31"]);
    run.expect_code(2);
    assert!(
        run.stderr()
            .contains("is not a koc store and is not empty (it holds notes.txt)"),
        "{}",
        run.stderr()
    );
}

fn store_of(prog: &Path) -> PathBuf {
    let text = std::fs::read_to_string(prog.join("pipeline.yaml")).unwrap();
    let line = text.lines().find(|l| l.starts_with("store:")).expect("a store line");
    prog.join(line.trim_start_matches("store:").trim())
}

#[test]
fn outputs_are_never_written_inside_the_store() {
    let w = Workdir::new();
    setup(&w, "points:\n  rules:\n    - {id: post, action: post, points: 10}\n");
    w.koc(&["run", "pipeline.yaml", "--as-of", "2025-02-28"]).expect_code(0);
    let before = snapshot_dir(&w.path().join("store/events"));
    for out in ["store/events", "store/runs/2025-02-28", "./store/../store/sim"] {
        let run = w.koc(&[
            "simulate",
            "pipeline.yaml",
            "--as-of",
            "2025-02-28",
            "--set",
            "points.rules.post.points=20",
            "--out",
            out,
        ]);
        run.expect_code(2);
        assert!(run.stderr().contains("inside the store"), "{out}: {}", run.stderr());
    }
    let run = w.koc(&[
        "points",
        "pipeline.yaml",
        "--as-of",
        "2025-02-28",
        "--out",
        "store/manifest.json",
    ]);
    run.expect_code(2);
    assert!(run.stderr().contains("inside the store"), "{}", run.stderr());
    assert_eq!(snapshot_dir(&w.path().join("store/events")), before);
    w.koc(&["run", "pipeline.yaml", "--as-of", "2025-02-28"]).expect_code(0);
}

#[test]
fn rejects_follow_privacy_no_raw_line_dropped_value_or_unhashed_id() {
    let w = Workdir::new();
    setup(
        &w,
        "privacy:\n  drop: [purchase_date, birthday]\n  hash: [member_id]\n  salt_env: KOC_TEST_SALT\n",
    );
    w.create(
        "members.csv",
        &format!(
            "{MEMBERS_HEADER}m1,Ann,2025-01-01 08:00:00,1990-02-03,2020-05-05\n\
             m2,Bo,2025-01-02,not a date,13912345678\n\
             m3,Cy 13800001111,2025-01-03,,,extra\n\
             m4,Di,yesterday,,\n"
        ),
    );
    let run = w.koc_env(
        &["ingest", "pipeline.yaml", "--format", "json"],
        &[("KOC_TEST_SALT", "s3cret")],
    );
    run.expect_code(0);
    // the bad values in dropped columns reject nothing: m2 is kept
    let rejects_dir = w.path().join("store/rejects");
    let mut all = String::new();
    for e in std::fs::read_dir(&rejects_dir).unwrap() {
        all.push_str(&std::fs::read_to_string(e.unwrap().path()).unwrap());
    }
    assert!(!all.contains("13912345678") && !all.contains("not a date"), "{all}");
    // a row with a field too many is not echoed
    assert!(!all.contains("13800001111") && !all.contains("Cy"), "{all}");
    assert!(all.contains("too many fields"), "{all}");
    // m4's bad joined_at is written, but its member id only as the pseudonym
    assert!(all.contains("yesterday"), "{all}");
    assert!(!all.contains("m4") && !all.contains("m3"), "{all}");
    // the rows themselves: m3 (line 4) with neither column nor value, m4 (line 5) named
    assert!(all.contains("members.csv,4,,,\"too many fields"), "{all}");
    assert!(all.contains("members.csv,5,joined_at,yesterday,"), "{all}");
    let store = w.path().join("store");
    let manifest = std::fs::read_to_string(store.join("manifest.json")).unwrap();
    let members: serde_json::Value = serde_json::from_str(&manifest).unwrap();
    let counts = members["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["source"] == "members")
        .unwrap()["counts"]
        .clone();
    assert_eq!(
        (counts["inserted"].as_u64(), counts["rejected"].as_u64()),
        (Some(2), Some(2))
    );
}

/// A rejected value of a hashed column is written as its pseudonym, in the value and
/// in the reason (SPEC §3: no unhashed value of a hashed column in the rejects).
#[test]
fn a_rejected_value_of_a_hashed_column_is_written_hashed() {
    let w = Workdir::new();
    setup(&w, "privacy:\n  hash: [layer]\n  salt_env: KOC_TEST_SALT\n");
    let text = w.read("pipeline.yaml").replace(
        "ingest:\n",
        "  overrides: {path: overrides.csv, columns: {member_id: member_id, layer: layer, from: from}}\ningest:\n",
    );
    w.create("pipeline.yaml", &text);
    w.create(
        "overrides.csv",
        "member_id,layer,from\nm1,active,2025-01-01\nm2,vip_secret,2025-01-02\n",
    );
    let run = w.koc_env(&["ingest", "pipeline.yaml"], &[("KOC_TEST_SALT", "s3cret")]);
    run.expect_code(0);
    let mut all = String::new();
    for e in std::fs::read_dir(w.path().join("store/rejects")).unwrap() {
        all.push_str(&std::fs::read_to_string(e.unwrap().path()).unwrap());
    }
    assert!(all.contains("overrides.csv,3,layer,"), "{all}");
    assert!(all.contains("unknown layer"), "{all}");
    assert!(!all.contains("vip_secret"), "the raw value leaked: {all}");
}

#[test]
fn an_export_whose_name_is_not_utf8_is_read_not_skipped() {
    use std::os::unix::ffi::OsStrExt;
    let w = Workdir::new();
    setup(&w, "");
    // "activity_中.csv" with its name in GBK bytes, as unzip leaves a Windows archive's
    let name = std::ffi::OsStr::from_bytes(b"activity_\xd6\xd0.csv");
    std::fs::write(
        w.path().join(name),
        format!("{ACTIVITY_HEADER}e9,m2,2025-02-07 10:00:00,发帖,adas,,C9,1,0,0\n"),
    )
    .unwrap();
    w.koc(&["validate", "pipeline.yaml"]).expect_code(0);
    let run = w.koc(&["ingest", "pipeline.yaml", "--format", "json"]);
    run.expect_code(0);
    let check = w.koc(&["check-store", "pipeline.yaml"]);
    assert!(check.stdout().contains("4 events"), "{}", check.stdout());
}

#[test]
fn a_fifo_or_device_as_a_source_is_an_error_at_once_and_a_glob_match_a_warning() {
    let w = Workdir::new();
    setup(&w, "");
    let fifo = w.path().join("members.csv");
    std::fs::remove_file(&fifo).unwrap();
    let made = std::process::Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(made.success());
    let started = std::time::Instant::now();
    let run = w.koc(&["run", "pipeline.yaml", "--as-of", "2025-02-28"]);
    run.expect_code(2);
    assert!(run.stderr().contains("FIFO"), "{}", run.stderr());
    assert!(started.elapsed() < Duration::from_secs(20));
    // /dev/zero is never read
    let text = w.read("pipeline.yaml").replace("path: members.csv", "path: /dev/zero");
    w.create("pipeline.yaml", &text);
    let run = w.koc(&["run", "pipeline.yaml", "--as-of", "2025-02-28"]);
    run.expect_code(2);
    assert!(run.stderr().contains("a device"), "{}", run.stderr());
    // a FIFO and a folder matched by the activity glob: read the rest, say so
    std::fs::remove_file(&fifo).unwrap();
    w.create(
        "members.csv",
        &format!("{MEMBERS_HEADER}m1,Ann,2025-01-01 08:00:00,,\nm2,Bo,2025-01-02,,\n"),
    );
    let text = w.read("pipeline.yaml").replace("path: /dev/zero", "path: members.csv");
    w.create("pipeline.yaml", &text);
    std::process::Command::new("mkfifo")
        .arg(w.path().join("activity_03.csv"))
        .status()
        .unwrap();
    std::fs::create_dir(w.path().join("activity_old.csv")).unwrap();
    let run = w.koc(&["run", "pipeline.yaml", "--as-of", "2025-02-28"]);
    run.expect_code(0);
    let runjson = w.read("store/runs/2025-02-28/run.json");
    assert!(
        runjson.contains("activity_03.csv (a FIFO (named pipe))") && runjson.contains("activity_old.csv (a folder)"),
        "{runjson}"
    );
    // a Chinese report says it in Chinese (run.json keeps both)
    assert!(runjson.contains("不是普通文件，未读取"), "{runjson}");
}

#[test]
fn a_header_naming_a_mapped_column_twice_is_an_error() {
    let w = Workdir::new();
    setup(&w, "");
    w.create(
        "members.csv",
        "member_id,nickname,joined_at,birthday,purchase_date,nickname\nm1,Ann,2025-01-01,,,Annie\n",
    );
    let run = w.koc(&["validate", "pipeline.yaml"]);
    run.expect_code(2);
    assert!(
        run.stderr().contains("'nickname' twice (columns 2 and 6)"),
        "{}",
        run.stderr()
    );
}

#[test]
fn nul_padding_and_encodings_koc_does_not_read_are_named() {
    let w = Workdir::new();
    setup(&w, "");
    let mut padded = format!("{ACTIVITY_HEADER}e9,m2,2025-02-07 10:00:00,发帖,adas,,C9,1,0,0\n").into_bytes();
    padded.extend(std::iter::repeat_n(0u8, 4096));
    w.create_bytes("activity_03.csv", &padded);
    let run = w.koc(&["ingest", "pipeline.yaml"]);
    run.expect_code(2);
    assert!(
        run.stderr().contains("activity_03.csv") && run.stderr().contains("4096 NUL bytes"),
        "{}",
        run.stderr()
    );
    // Big5 (traditional Chinese) would decode as GBK into other characters
    let (big5, _, _) = encoding_rs::BIG5.encode(
        "event_id,member_id,occurred_at,action,topic,task_type,content_id,likes,comments,shares\n\
         e9,m2,2025-02-07 10:00:00,發帖,車主們的保養經驗與維修紀錄分享,,C9,1,0,0\n\
         e10,m2,2025-02-08 10:00:00,發帖,這輛車的電池續航表現讓人非常滿意,,C10,1,0,0\n",
    );
    w.create_bytes("activity_03.csv", &big5);
    let run = w.koc(&["ingest", "pipeline.yaml"]);
    run.expect_code(2);
    assert!(
        run.stderr().contains("activity_03.csv") && run.stderr().contains("Big5"),
        "{}",
        run.stderr()
    );
}

#[test]
fn lookalike_and_excel_mangled_member_ids_get_a_warning_with_count_and_first() {
    let w = Workdir::new();
    setup(&w, "");
    w.create(
        "activity_03.csv",
        &format!(
            "{ACTIVITY_HEADER}e9,m1\u{200b},2025-02-07 10:00:00,发帖,adas,,C9,1,0,0\n\
             e10,1.39123E+10,2025-02-07 11:00:00,发帖,adas,,C10,1,0,0\n\
             e11,m2 ,2025-02-07 12:00:00,发帖,adas,,C11,1,0,0\n"
        ),
    );
    let run = w.koc(&["run", "pipeline.yaml", "--as-of", "2025-02-28"]);
    run.expect_code(0);
    let runjson = w.read("store/runs/2025-02-28/run.json");
    assert!(
        runjson.contains("activity_03.csv: 2 rows have a member id with invisible characters")
            && runjson.contains("first: line 2: m1\\\\u{200b}"),
        "{runjson}"
    );
    assert!(
        runjson.contains("activity_03.csv: 1 rows have a member id with a number in scientific notation"),
        "{runjson}"
    );
}

/// A run that cannot write its files (each file held to 100 KB, as a full disk would
/// stop it; the demo's `ledger.parquet` and `report.xlsx` are larger) exits 1 with an
/// error naming what it could not write: no library's panic message, no bare
/// "i/o error", and no run folder left half written.
#[test]
fn a_run_that_cannot_write_its_files_says_which_and_leaves_no_folder() {
    let w = Workdir::new();
    w.copy_dir(&repo().join("samples"), "samples");
    w.copy_dir(&repo().join("pipelines"), "pipelines");
    w.koc(&["ingest", "pipelines/demo.yaml", "--quiet"]).expect_code(0);
    // a file larger than the limit fails with EFBIG once SIGXFSZ is ignored
    let out = std::process::Command::new("sh")
        .current_dir(w.path())
        .args(["-c", "trap '' XFSZ; ulimit -f 100; exec \"$0\" \"$@\""])
        .arg(env!("CARGO_BIN_EXE_koc"))
        .args(["run", "pipelines/demo.yaml", "--as-of", "2025-06-30", "--quiet"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.starts_with("error: cannot write "), "{err}");
    assert!(!err.contains("panicked") && !err.contains("error: i/o error"), "{err}");
    let runs = w.path().join("out/demo/runs");
    let left: Vec<_> = std::fs::read_dir(&runs)
        .map(|d| d.map(|e| e.unwrap().file_name()).collect())
        .unwrap_or_default();
    assert!(left.iter().all(|n| n == "index.html"), "{left:?}");
}
