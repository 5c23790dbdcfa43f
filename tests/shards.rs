//! Member shards (docs/scale-out.md): `koc run --shard I/N` for every I, then `koc
//! merge`, writes the same run folder as one `koc run`, byte for byte (run.json's
//! timings aside), for N = 1, 2, 3 and 7, on the conformance programs and the demo; the
//! shards launched as a Kubernetes Indexed Job launches them (in parallel, the index in
//! the environment); and a merge that cannot be right is refused by name.
mod common;
use common::*;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Every file of a run folder, run.json without its timings.
fn folder_bytes(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let mut bytes = std::fs::read(&path).unwrap();
        if name == "run.json" {
            let mut v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
            v.as_object_mut().unwrap().remove("timings_ms");
            bytes = serde_json::to_vec_pretty(&v).unwrap();
        }
        out.insert(name, bytes);
    }
    out
}

fn differing(a: &BTreeMap<String, Vec<u8>>, b: &BTreeMap<String, Vec<u8>>) -> Vec<String> {
    let names: std::collections::BTreeSet<&String> = a.keys().chain(b.keys()).collect();
    names.into_iter().filter(|n| a.get(*n) != b.get(*n)).cloned().collect()
}

struct Program {
    w: Workdir,
    pipeline: &'static str,
    store: PathBuf,
}

impl Program {
    /// The program ingested once (shards and merge read the store as it is).
    fn ingested(w: Workdir, pipeline: &'static str, store: &str) -> Program {
        w.koc(&["ingest", pipeline, "--quiet"]).expect_code(0);
        let store = w.path().join(store);
        Program { w, pipeline, store }
    }

    /// `koc run` at D within `budget` (`--format json`, with `env`), which must succeed.
    fn budgeted(&self, d: &str, budget: &str, env: &[(&str, &str)]) -> Run {
        let args = [
            "run",
            self.pipeline,
            "--as-of",
            d,
            "--quiet",
            "--format",
            "json",
            "--memory-budget",
            budget,
        ];
        let done = self.w.koc_env(&args, env);
        done.expect_code(0);
        done
    }

    /// `koc merge` of the parts in `parts` at D, which must fail with `code`: its stderr.
    fn merge_refused(&self, d: &str, parts: &str, code: i32) -> String {
        self.w
            .koc(&["merge", self.pipeline, "--as-of", d, parts])
            .expect_code(code)
            .stderr()
    }

    /// The unsharded run's folder at D, taken out of the store.
    fn unsharded(&self, d: &str) -> BTreeMap<String, Vec<u8>> {
        self.w
            .koc(&["run", self.pipeline, "--as-of", d, "--quiet"])
            .expect_code(0);
        self.take_run(d)
    }

    /// `koc run --shard I/N --out DIR` at D, which must succeed.
    fn shard(&self, d: &str, shard: &str, out: &str) {
        self.w
            .koc(&[
                "run",
                self.pipeline,
                "--as-of",
                d,
                "--shard",
                shard,
                "--out",
                out,
                "--quiet",
            ])
            .expect_code(0);
    }

    fn sharded(&self, d: &str, n: u64) -> BTreeMap<String, Vec<u8>> {
        let parts = format!("parts-{n}");
        for i in 0..n {
            self.shard(d, &format!("{i}/{n}"), &parts);
        }
        self.merged(d, &parts)
    }

    fn merged(&self, d: &str, parts: &str) -> BTreeMap<String, Vec<u8>> {
        self.w
            .koc(&["merge", self.pipeline, "--as-of", d, parts, "--quiet"])
            .expect_code(0);
        self.take_run(d)
    }

    /// Every file of the run folder at D and the store's history across runs; the
    /// folder is removed, so the next run of D starts from the same runs.
    fn take_run(&self, d: &str) -> BTreeMap<String, Vec<u8>> {
        let mut files = folder_bytes(&self.store.join("runs").join(d));
        files.insert(
            "../history.parquet".into(),
            std::fs::read(self.store.join("history.parquet")).unwrap(),
        );
        files.insert(
            "../runs/index.html".into(),
            std::fs::read(self.store.join("runs/index.html")).unwrap(),
        );
        std::fs::remove_dir_all(self.store.join("runs").join(d)).unwrap();
        files
    }
}

/// Flip one bit of the file at `path`, at the byte `at` picks from its length.
fn flip_a_bit(path: &Path, at: impl Fn(usize) -> usize) {
    let mut bytes = std::fs::read(path).unwrap();
    let i = at(bytes.len());
    bytes[i] ^= 0x01;
    std::fs::write(path, bytes).unwrap();
}

fn conformance_v1() -> Program {
    let w = Workdir::new();
    w.copy_dir(&repo().join("tests/conformance/program"), "program");
    Program::ingested(w, "program/pipeline.yaml", "store")
}

fn conformance_v3() -> Program {
    Program::ingested(conformance_v3_program(), "program/pipeline.yaml", "store")
}

/// A synthetic program (`koc synth`: every event kind, contests, feedback, overrides;
/// its pipeline keeps the store in `prog/store`).
fn synthetic() -> Program {
    synthesized("300", "120", "7")
}

/// `koc synth` of `members` × `days` with `seed`, ingested.
fn synthesized(members: &str, days: &str, seed: &str) -> Program {
    let w = Workdir::new();
    w.koc(&["synth", "prog", "--members", members, "--days", days, "--seed", seed])
        .expect_code(0);
    Program::ingested(w, "prog/pipeline.yaml", "prog/store")
}

/// The demo: six months of a community, every section of the pipeline.
fn demo() -> Program {
    let w = Workdir::new();
    w.copy_dir(&repo().join("samples"), "samples");
    w.copy_dir(&repo().join("pipelines"), "pipelines");
    Program::ingested(w, "pipelines/demo.yaml", "out/demo")
}

fn assert_same_for_every_count(p: &Program, d: &str) {
    let want = p.unsharded(d);
    assert!(want.contains_key("report.html") && want.contains_key("balances.csv"));
    for n in [1, 2, 3, 7] {
        let got = p.sharded(d, n);
        let diff = differing(&want, &got);
        assert!(
            diff.is_empty(),
            "{d}, {n} shards: {diff:?} differ from the unsharded run"
        );
    }
}

#[test]
fn shards_and_merge_give_the_unsharded_run_on_conformance_v1() {
    let p = conformance_v1();
    assert_same_for_every_count(&p, "2025-07-19");
}

#[test]
fn shards_and_merge_give_the_unsharded_run_on_conformance_v3_at_two_dates() {
    let p = conformance_v3();
    for d in ["2025-04-30", "2025-07-19"] {
        assert_same_for_every_count(&p, d);
    }
}

#[test]
fn shards_and_merge_give_the_unsharded_run_on_a_synthetic_program() {
    let p = synthetic();
    // the synthetic exports run to 2025-04-30 (120 days from 2025-01-01)
    assert_same_for_every_count(&p, "2025-04-30");
}

#[test]
fn shards_and_merge_give_the_unsharded_run_on_the_demo_with_every_section() {
    let p = demo();
    let text = std::fs::read_to_string(p.w.path().join(p.pipeline)).unwrap();
    for section in [
        "badges:",
        "notices:",
        "growth:",
        "hall_of_fame:",
        "contests:",
        "goals:",
        "scouting:",
    ] {
        assert!(text.contains(section), "the demo has {section}");
    }
    assert_same_for_every_count(&p, "2025-06-30");
}

#[test]
fn shards_launched_as_an_indexed_job_then_merged() {
    let p = conformance_v3();
    let d = "2025-06-30";
    let want = p.unsharded(d);
    // what Kubernetes does for `completionMode: Indexed`, `completions: 3`: three pods at
    // once, each with its index in JOB_COMPLETION_INDEX and the same command line
    let children: Vec<_> = (0..3)
        .map(|i| {
            std::process::Command::new(env!("CARGO_BIN_EXE_koc"))
                .args([
                    "run", p.pipeline, "--as-of", d, "--shard", "3", "--out", "parts", "--quiet",
                ])
                .env("JOB_COMPLETION_INDEX", i.to_string())
                .current_dir(p.w.path())
                .spawn()
                .unwrap()
        })
        .collect();
    for mut c in children {
        assert!(c.wait().unwrap().success());
    }
    for i in 0..3 {
        assert!(p.w.path().join(format!("parts/part-{i}-of-3.json")).exists());
    }
    let got = p.merged(d, "parts");
    assert!(differing(&want, &got).is_empty(), "{:?}", differing(&want, &got));
    // a Slurm array numbered from 1 gives the same parts
    for id in 1..=3 {
        p.w.koc_env(
            &[
                "run", p.pipeline, "--as-of", d, "--shard", "3", "--out", "slurm", "--quiet",
            ],
            &[("SLURM_ARRAY_TASK_ID", &id.to_string()), ("SLURM_ARRAY_TASK_MIN", "1")],
        )
        .expect_code(0);
    }
    for i in 0..3 {
        assert_eq!(
            std::fs::read(p.w.path().join(format!("parts/part-{i}-of-3.msgpack"))).unwrap(),
            std::fs::read(p.w.path().join(format!("slurm/part-{i}-of-3.msgpack"))).unwrap(),
            "shard {i}"
        );
    }
}

#[test]
fn a_merge_that_cannot_be_right_is_refused_by_name() {
    let p = conformance_v3();
    let d = "2025-06-30";
    let shard = |i: u64, out: &str| p.shard(d, &format!("{i}/3"), out);
    shard(0, "parts");
    shard(2, "parts");
    let err = p.merge_refused(d, "parts", 2);
    assert!(err.contains("missing a shard") && err.contains("1/3"), "{err}");
    assert!(!p.store.join("runs").join(d).exists(), "nothing written");

    // a part of another date
    p.shard("2025-06-29", "1/3", "parts");
    let err = p.merge_refused(d, "parts", 2);
    assert!(
        err.contains("part-1-of-3.json") && err.contains("another as-of date (2025-06-29)"),
        "{err}"
    );

    // a damaged part is named, never merged
    shard(1, "parts");
    flip_a_bit(&p.w.path().join("parts/part-1-of-3.msgpack"), |len| len / 2);
    let err = p.merge_refused(d, "parts", 1);
    assert!(err.contains("part-1-of-3.msgpack") && err.contains("checksum"), "{err}");

    // so is a damaged ledger file: the merge stops before the run folder is written
    shard(1, "parts");
    flip_a_bit(&p.w.path().join("parts/part-0-of-3.ledger"), |len| len - 1);
    let err = p.merge_refused(d, "parts", 1);
    assert!(
        err.contains("part-0-of-3.ledger") && err.contains("run the shard again"),
        "{err}"
    );
    assert!(!p.store.join("runs").join(d).exists(), "nothing written");
    shard(0, "parts");

    // the shard run again mends it
    shard(1, "parts");
    p.w.koc(&["merge", p.pipeline, "--as-of", d, "parts", "--quiet"])
        .expect_code(0);

    // a shard number out of range, a part inside the store, a missing index
    let err =
        p.w.koc(&["run", p.pipeline, "--as-of", d, "--shard", "3/3", "--out", "x"])
            .expect_code(2)
            .stderr();
    assert!(err.contains("not below the count 3"), "{err}");
    let inside = p.store.join("parts").display().to_string();
    p.w.koc(&["run", p.pipeline, "--as-of", d, "--shard", "0/3", "--out", &inside])
        .expect_code(2);
    let err =
        p.w.koc(&["run", p.pipeline, "--as-of", d, "--shard", "3", "--out", "x"])
            .expect_code(2)
            .stderr();
    assert!(err.contains("JOB_COMPLETION_INDEX"), "{err}");
}

#[test]
fn a_new_export_since_the_shards_is_refused_by_the_merge() {
    let p = conformance_v3();
    let d = "2025-06-30";
    for i in 0..2 {
        p.shard(d, &format!("{i}/2"), "parts");
    }
    // tonight's export arrives after the shards ran, without an ingest
    let exports = p.w.path().join("program/exports");
    let activity = std::fs::read_dir(&exports)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.file_name().unwrap().to_string_lossy().contains("activity"));
    let Some(activity) = activity else {
        panic!("no activity export in {}", exports.display())
    };
    let mut text = std::fs::read(&activity).unwrap();
    text.extend_from_slice(b"\n");
    let late = activity.with_file_name("activity_late.csv");
    std::fs::write(&late, text).unwrap();
    let err = p.merge_refused(d, "parts", 2);
    assert!(
        err.contains("activity_late.csv") && err.contains("not in the store"),
        "{err}"
    );
    assert!(!p.store.join("runs").join(d).exists(), "nothing written");
}

/// Few members, many shards: some shards hold nobody, and the merge is still the run.
#[test]
fn empty_shards_merge_like_the_others() {
    let p = synthesized("4", "40", "2");
    let want = p.unsharded("2025-02-09");
    let got = p.sharded("2025-02-09", 7);
    let empty = (0..7)
        .filter(|i| {
            let json = std::fs::read_to_string(p.w.path().join(format!("parts-7/part-{i}-of-7.json"))).unwrap();
            json.contains("\"members\": 0")
        })
        .count();
    assert!(empty > 0, "some of 7 shards hold none of 4 members");
    assert!(differing(&want, &got).is_empty(), "{:?}", differing(&want, &got));
    // laid out for 7 tasks, the months hold no file of a shard without events (the
    // empty ones, and any whose members have none), and its task reads none for them
    p.w.koc(&["ingest", p.pipeline, "--split", "7", "--quiet"])
        .expect_code(0);
    let without_rows = (0..7).filter(|s| split_files_of(&p.store, 7, *s).is_empty()).count();
    assert!(without_rows >= empty && without_rows < 7, "{without_rows}");
    let got = p.sharded("2025-02-09", 7);
    assert!(differing(&want, &got).is_empty(), "{:?}", differing(&want, &got));
}

/// A condition that compares members (a layer's `when`; a points rule's, a goal's or a
/// badge's `where`) would see one shard's members only: the shard refuses it, naming the
/// condition, and writes no part.
#[test]
fn a_condition_that_compares_members_cannot_be_sharded() {
    let p = conformance_v3();
    let path = p.w.path().join(p.pipeline);
    let text = std::fs::read_to_string(&path).unwrap();
    // the pipeline with `from` (which it must hold) made `to`, and the shard's refusal
    let refusal = |from: &str, to: &str| -> String {
        assert!(text.contains(from), "the conformance pipeline has {from}");
        std::fs::write(&path, text.replace(from, to)).unwrap();
        let shard = [
            "run",
            p.pipeline,
            "--as-of",
            "2025-06-30",
            "--shard",
            "0/2",
            "--out",
            "parts",
        ];
        let err = p.w.koc(&shard).expect_code(2).stderr();
        assert!(err.contains("compares members"), "{err}");
        assert!(!p.w.path().join("parts/part-0-of-2.json").exists());
        err
    };
    let row_wise = "posts_90d >= 4 OR (active_days_30d >= 12 AND balance >= 50)";
    let compared = "posts_90d > AVG(posts_90d) OVER ()";
    assert!(refusal(row_wise, compared).contains("layers.levels[id=active].when"));
    // a points rule's `where` is evaluated over the events a shard holds: the same
    let rule = "id: adas_post, action: post, where: \"";
    let err = refusal(rule, &format!("{rule}likes > AVG(likes) OVER () AND "));
    assert!(err.contains("points.rules"), "{err}");
    // so is a goal's `where` (a side of a ratio here)
    let goal = "where: \"action = 'post' AND layer IN ('core', 'active')\"";
    let err = refusal(goal, "where: \"action = 'post' AND likes > AVG(likes) OVER ()\"");
    assert!(err.contains("goals"), "{err}");
    // and a badge's
    let badge = "where: \"topic IN ('ev_charging', 'long_drive')\"";
    let err = refusal(badge, "where: \"likes > AVG(likes) OVER ()\"");
    assert!(err.contains("badges"), "{err}");
    // under a memory budget that needs shards, the ingest lays out nothing for them and
    // the run says to give it more memory
    let out =
        p.w.koc(&["ingest", p.pipeline, "--memory-budget", "513M"])
            .expect_code(0)
            .stdout();
    assert!(!out.contains("laid out"), "{out}");
    assert!(!p.store.join("split").exists());
    let err =
        p.w.koc(&["run", p.pipeline, "--as-of", "2025-06-30", "--memory-budget", "513M"])
            .expect_code(2)
            .stderr();
    assert!(
        err.contains("compares members") && err.contains("memory budget"),
        "{err}"
    );
    // the same program runs unsharded
    p.w.koc(&["run", p.pipeline, "--as-of", "2025-06-30", "--quiet"])
        .expect_code(0);
}

/// With `ingest.fail_on_stale`, a stale D writes the run folder and exits 3 from the
/// merge as from `koc run`, with the same folder.
#[test]
fn a_merge_on_stale_data_exits_3_as_the_run_does() {
    let p = conformance_v3();
    let path = p.w.path().join(p.pipeline);
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(
        &path,
        text.replace(
            "  max_reject_ratio: 0.25\n",
            "  max_reject_ratio: 0.25\n  fail_on_stale: true\n",
        ),
    )
    .unwrap();
    // the exports end on 2025-07-19: a week later the data is stale
    let d = "2025-07-26";
    let run = p.w.koc(&["run", p.pipeline, "--as-of", d, "--quiet"]);
    run.expect_code(3);
    let want = p.take_run(d);
    for i in 0..2 {
        p.shard(d, &format!("{i}/2"), "parts");
    }
    let err =
        p.w.koc(&["merge", p.pipeline, "--as-of", d, "parts", "--quiet"])
            .expect_code(3)
            .stderr();
    assert!(err.contains("stale"), "{err}");
    let got = p.take_run(d);
    assert!(differing(&want, &got).is_empty(), "{:?}", differing(&want, &got));
}

/// `koc run --memory-budget` (or `ingest.memory_budget`) too small for one computation
/// of the store runs the members in shards one after another, then the merge: the run
/// folder is the unsharded run's, and the shards' folder is gone.
#[test]
fn a_run_within_a_memory_budget_is_the_unsharded_run() {
    let p = demo();
    let d = "2025-06-30";
    let want = p.unsharded(d);
    let run = |args: &[&str]| -> serde_json::Value {
        let mut all = vec!["run", p.pipeline, "--as-of", d, "--quiet", "--format", "json"];
        all.extend_from_slice(args);
        serde_json::from_str(&p.w.koc(&all).expect_code(0).stdout()).unwrap()
    };
    // the fixed half gigabyte and a little room: a few shards for the demo's events
    let out = run(&["--memory-budget", "513M"]);
    assert!(out["shards"].as_u64().unwrap() > 1, "{out}");
    let got = p.take_run(d);
    assert!(differing(&want, &got).is_empty(), "{:?}", differing(&want, &got));
    let left: Vec<_> = std::fs::read_dir(&p.store)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .filter(|n| n.starts_with(".shards-"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
    // the pipeline's key does the same; a budget the store fits in runs as before
    let path = p.w.path().join(p.pipeline);
    let text = std::fs::read_to_string(&path).unwrap();
    let budgeted = text.replacen("ingest:\n", "ingest:\n  memory_budget: 513M\n", 1);
    assert_ne!(budgeted, text, "the demo has an ingest section");
    std::fs::write(&path, budgeted).unwrap();
    let out = run(&["--memory-budget", "6G"]);
    assert_eq!(out["shards"], 1, "{out}");
    let want = p.take_run(d);
    let out = run(&[]);
    assert!(out["shards"].as_u64().unwrap() > 1, "{out}");
    assert!(differing(&want, &p.take_run(d)).is_empty());
}

/// On two threads, a budget with room for two shares runs two shards at a time (each
/// in its share): the run folder is still the unsharded run's, and on one thread the
/// same budget runs the shards one after another.
#[test]
fn a_budgeted_run_computes_two_shards_at_a_time_on_two_threads() {
    // about 46 MB of event partitions: 575 MiB of estimated need, more than 1060M
    // leaves one computation after its fixed half gigabyte
    let p = synthesized("20000", "365", "11");
    let d = "2025-12-31";
    let want = p.unsharded(d);
    let run = |threads: &str| -> serde_json::Value {
        let env = [("RAYON_NUM_THREADS", threads), ("POLARS_MAX_THREADS", threads)];
        serde_json::from_str(&p.budgeted(d, "1060M", &env).stdout()).unwrap()
    };
    let out = run("2");
    // two shares of 18 MiB (32 shards of the 46 MB)
    assert_eq!(out["shards_at_once"], 2, "{out}");
    assert!(out["shards"].as_u64().unwrap() > 2, "{out}");
    assert!(differing(&want, &p.take_run(d)).is_empty());
    let out = run("1");
    assert_eq!(out["shards_at_once"], 1, "{out}");
    assert!(out["shards"].as_u64().unwrap() > 1, "{out}");
    assert!(differing(&want, &p.take_run(d)).is_empty());
}

/// A budget below what the members alone hold (the merge puts every member's state
/// together, about 4 KB a member) is said on stderr before the run computes, whatever
/// its shards; a budget that holds them, or `--quiet`, says nothing.
#[test]
fn a_budget_the_members_alone_exceed_is_said() {
    let p = synthesized("40000", "10", "3");
    let d = "2025-01-10";
    let run = |budget: &str, quiet: bool| -> String {
        let mut args = vec!["run", p.pipeline, "--as-of", d, "--memory-budget", budget];
        if quiet {
            args.push("--quiet");
        }
        let done = p.w.koc(&args);
        done.expect_code(0);
        done.stderr()
    };
    // 40,000 members: 164 MB and the fixed half gigabyte
    let err = run("600M", false);
    assert!(
        err.contains("warning: the 40000 members need about 0.7 GiB whatever the shards")
            && err.contains("more than the memory budget of 0.6 GiB"),
        "{err}"
    );
    assert!(!run("600M", true).contains("members need"));
    assert!(!run("1G", false).contains("members need"));
}

/// The entries of the store's kept split (`STORE/split/n=<N>/<month entry>`), sorted.
fn kept_split(store: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for count in std::fs::read_dir(store.join("split")).unwrap() {
        let count = count.unwrap();
        for entry in std::fs::read_dir(count.path()).unwrap() {
            let entry = entry.unwrap().file_name().to_string_lossy().to_string();
            out.push(format!("{}/{entry}", count.file_name().to_string_lossy()));
        }
    }
    out.sort();
    out
}

/// A budgeted run keeps its split of the months in the store, and the next run takes
/// it: at an earlier D (the kept months hold days after it), after one of its files
/// was damaged, after a kill cut an entry short, and beside entries no month can use
/// (another shard count, a month file the store no longer holds), which go.
#[test]
fn a_budgeted_run_keeps_its_split_and_mends_it() {
    let p = demo();
    let (june, march) = ("2025-06-30", "2025-03-15");
    let want_june = p.unsharded(june);
    let want_march = p.unsharded(march);
    let budgeted = |d: &str| {
        p.budgeted(d, "513M", &[]);
        p.take_run(d)
    };
    assert!(differing(&want_june, &budgeted(june)).is_empty());
    let kept = kept_split(&p.store);
    assert_eq!(kept.len(), 6, "a month each, January to June: {kept:?}");
    let count = kept[0].split('/').next().unwrap().to_string();
    assert!(
        kept.iter().all(|e| e.starts_with(&format!("{count}/month=2025-0"))),
        "{kept:?}"
    );
    let entry = |i: usize| p.store.join("split").join(&kept[i]);
    // a kept entry is taken as it is, not written again
    let inode =
        |i: usize| std::os::unix::fs::MetadataExt::ino(&std::fs::metadata(entry(i).join("shards.json")).unwrap());
    let first = inode(0);
    // an earlier D from the kept split
    assert!(differing(&want_march, &budgeted(march)).is_empty());
    assert_eq!(kept_split(&p.store), kept);
    assert_eq!(inode(0), first);
    // a damaged file, an entry a kill cut short, entries no month can use
    let shard_file = std::fs::read_dir(entry(1))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|f| f.extension().is_some_and(|x| x == "parquet"))
        .unwrap();
    let whole = std::fs::read(&shard_file).unwrap();
    flip_a_bit(&shard_file, |n| n / 2);
    std::fs::remove_file(entry(2).join("shards.json")).unwrap();
    std::fs::create_dir_all(p.store.join("split/n=999/month=2025-01-0000000000000000")).unwrap();
    std::fs::create_dir_all(
        p.store
            .join("split")
            .join(&count)
            .join("month=1999-01-0000000000000000"),
    )
    .unwrap();
    assert!(differing(&want_june, &budgeted(june)).is_empty());
    assert_eq!(kept_split(&p.store), kept);
    assert_eq!(
        std::fs::read(&shard_file).unwrap(),
        whole,
        "the damaged file was split again"
    );
    assert!(entry(2).join("shards.json").exists());
}

/// An ingest within a budget lays the months out for the shards a run within the same
/// budget computes (none when one computation fits), and that run takes the split as it
/// is instead of splitting the history itself.
#[test]
fn a_budgeted_ingest_lays_out_the_split_its_run_reads() {
    let p = demo();
    let d = "2025-06-30";
    let want = p.unsharded(d);
    let ingest = |budget: &str| -> String {
        p.w.koc(&["ingest", p.pipeline, "--memory-budget", budget])
            .expect_code(0)
            .stdout()
    };
    // one computation fits 6G: nothing laid out, and the JSON says nothing of it
    let out = ingest("6G");
    assert!(!out.contains("laid out"), "{out}");
    assert!(!p.store.join("split").exists());
    let json =
        p.w.koc(&["ingest", p.pipeline, "--memory-budget", "6G", "--format", "json"]);
    let json: serde_json::Value = serde_json::from_str(&json.expect_code(0).stdout()).unwrap();
    assert!(json["files"].is_array() && json.get("laid_out").is_none(), "{json}");
    let out = ingest("513M");
    let kept = kept_split(&p.store);
    assert_eq!(kept.len(), 6, "a month each, January to June: {kept:?}");
    let count: u64 = kept[0].split('/').next().unwrap()["n=".len()..].parse().unwrap();
    assert!(count > 1, "{kept:?}");
    assert!(
        out.contains(&format!(
            "laid out for the {count} shards of a run within the memory budget (6 of 6 months split now, the rest kept)"
        )),
        "{out}"
    );
    let inodes = || -> Vec<u64> {
        kept.iter()
            .map(|e| {
                let meta = std::fs::metadata(p.store.join("split").join(e).join("shards.json")).unwrap();
                std::os::unix::fs::MetadataExt::ino(&meta)
            })
            .collect()
    };
    let before = inodes();
    let done = p.budgeted(d, "513M", &[("KOC_TIMINGS", "1")]);
    let run: serde_json::Value = serde_json::from_str(&done.stdout()).unwrap();
    assert_eq!(run["shards"], count, "{run}");
    // the run's split says of each month whether it split it or took it as kept
    let err = done.stderr();
    assert_eq!(err.matches(" (kept): ").count(), 6, "{err}");
    assert!(!err.contains(" (split): "), "{err}");
    assert!(differing(&want, &p.take_run(d)).is_empty());
    // the run took every month as the ingest laid it out
    assert_eq!(kept_split(&p.store), kept);
    assert_eq!(inodes(), before);
    assert!(ingest("513M").contains("(0 of 6 months split now, the rest kept)"));
    // the same in the ingest's JSON, beside its files
    let json: serde_json::Value = serde_json::from_str(
        &p.w.koc(&["ingest", p.pipeline, "--memory-budget", "513M", "--format", "json"])
            .expect_code(0)
            .stdout(),
    )
    .unwrap();
    assert_eq!(
        json["laid_out"],
        serde_json::json!({"for": "budget", "shards": count, "split_now": 0, "months": 6}),
        "{json}"
    );
    assert!(json["files"].as_array().is_some_and(|f| !f.is_empty()), "{json}");
}

/// The files of shard `s` in the kept split of `n` shards, one per month that holds
/// any of its members.
fn split_files_of(store: &Path, n: u64, s: u64) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(store.join(format!("split/n={n}"))).unwrap() {
        for file in std::fs::read_dir(entry.unwrap().path()).unwrap() {
            let path = file.unwrap().path();
            if path
                .file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with(&format!("shard-{s}-"))
            {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// `koc ingest --split N` lays the months out for N shard tasks, and each task reads
/// its own files of them (it still runs with the store's events moved away); a damaged
/// file is read around (the task reads that month itself) and left for the next
/// `ingest --split` to mend, which splits that month alone.
#[test]
fn shard_tasks_read_the_split_an_ingest_laid_out() {
    let p = synthetic();
    let d = "2025-04-30";
    let want = p.unsharded(d);
    let laid_out = |expected: &str| {
        let out = p.w.koc(&["ingest", p.pipeline, "--split", "3"]).expect_code(0).stdout();
        assert!(out.contains(expected), "{out}");
    };
    laid_out("laid out for 3 shard tasks (4 of 4 months split now, the rest kept)");
    laid_out("laid out for 3 shard tasks (0 of 4 months split now, the rest kept)");
    let json =
        p.w.koc(&["ingest", p.pipeline, "--split", "3", "--format", "json"])
            .expect_code(0)
            .stdout();
    let json: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(
        json["laid_out"],
        serde_json::json!({"for": "tasks", "shards": 3, "split_now": 0, "months": 4}),
        "{json}"
    );
    // every task from the split alone: the months themselves are out of reach
    let events = p.store.join("events");
    let aside = p.w.path().join("events-aside");
    std::fs::rename(&events, &aside).unwrap();
    for i in 0..3 {
        p.shard(d, &format!("{i}/3"), "parts");
    }
    std::fs::rename(&aside, &events).unwrap();
    assert!(differing(&want, &p.merged(d, "parts")).is_empty());
    // a damaged file of shard 1: the task reads that month instead, and leaves the file
    let damaged = split_files_of(&p.store, 3, 1)[0].clone();
    flip_a_bit(&damaged, |n| n / 2);
    let before = std::fs::read(&damaged).unwrap();
    let err =
        p.w.koc(&["run", p.pipeline, "--as-of", d, "--shard", "1/3", "--out", "parts"])
            .expect_code(0)
            .stderr();
    let name = damaged.file_name().unwrap().to_string_lossy().to_string();
    assert!(
        err.contains("warning: ") && err.contains(&name) && err.contains("--split 3"),
        "{err}"
    );
    assert_eq!(
        std::fs::read(&damaged).unwrap(),
        before,
        "a task never writes to the split"
    );
    assert!(differing(&want, &p.merged(d, "parts")).is_empty());
    // without the month either, the task cannot read around it
    std::fs::rename(&events, &aside).unwrap();
    let err =
        p.w.koc(&[
            "run", p.pipeline, "--as-of", d, "--shard", "1/3", "--out", "parts", "--quiet",
        ])
        .expect_code(1)
        .stderr();
    assert!(err.contains("events/month=") && err.contains("missing"), "{err}");
    std::fs::rename(&aside, &events).unwrap();
    // the next ingest mends it: that month alone is split again
    laid_out("laid out for 3 shard tasks (1 of 4 months split now, the rest kept)");
    // (split again, its bytes are whole again, under the same name: their checksum)
    assert_ne!(std::fs::read(&damaged).unwrap(), before);
    // a month the split does not hold (as after an ingest without `--split`) is read
    // from the store, and the task says so
    std::fs::remove_dir_all(damaged.parent().unwrap()).unwrap();
    let err =
        p.w.koc(&["run", p.pipeline, "--as-of", d, "--shard", "1/3", "--out", "parts"])
            .expect_code(0)
            .stderr();
    assert!(
        err.contains("does not hold 1 of the 4 months for 3 shard tasks"),
        "{err}"
    );
    assert!(differing(&want, &p.merged(d, "parts")).is_empty());
    // the flag wants a count of shards
    p.w.koc(&["ingest", p.pipeline, "--split", "1"]).expect_code(2);
}
