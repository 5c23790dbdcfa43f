//! `koc ingest --memory-budget` (docs/scale-out.md): the whole history in passes.
mod common;
use common::*;

/// `koc ingest --memory-budget` works through the history in passes (one file each at
/// this budget), and the store, every file's counts and the run are those of one pass.
#[test]
fn an_ingest_in_passes_under_a_memory_budget_gives_the_store_of_one_pass() {
    let w = Workdir::new();
    w.copy_dir(&repo().join("tests/conformance-v2/program"), "program");
    let d = "2025-07-19";
    let ingest_files = |args: &[&str]| -> (serde_json::Value, serde_json::Value) {
        let run = w.koc(args);
        run.expect_code(0);
        let v: serde_json::Value = serde_json::from_str(&run.stdout()).unwrap();
        (v["files"].clone(), v["passes"].clone())
    };
    let run_folder = || -> Vec<(String, Vec<u8>)> {
        w.koc(&["run", "program/pipeline.yaml", "--as-of", d, "--quiet"])
            .expect_code(0);
        let dir = w.path().join("store/runs").join(d);
        let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.file_name().unwrap() != "run.json")
            .map(|p| {
                (
                    p.file_name().unwrap().to_string_lossy().to_string(),
                    std::fs::read(&p).unwrap(),
                )
            })
            .collect();
        files.sort();
        files
    };
    let one_pass = ingest_files(&["ingest", "program/pipeline.yaml", "--format", "json"]);
    let want = run_folder();
    std::fs::remove_dir_all(w.path().join("store")).unwrap();
    let passes = ingest_files(&[
        "ingest",
        "program/pipeline.yaml",
        "--memory-budget",
        "4K",
        "--format",
        "json",
    ]);
    assert_eq!(passes.0, one_pass.0, "every file's status and counts as in one pass");
    assert_eq!(one_pass.1, serde_json::Value::Null, "one pass says nothing of passes");
    let n = passes.1.as_u64().unwrap_or(0);
    assert!(n > 5, "one activity file per pass at this budget: {n} passes");
    let got = run_folder();
    let differ: Vec<&String> = want
        .iter()
        .zip(&got)
        .filter(|(a, b)| a != b)
        .map(|(a, _)| &a.0)
        .collect();
    assert_eq!(want.len(), got.len());
    assert!(differ.is_empty(), "{differ:?} differ from one pass's run");
    // a size that is not one is said as such
    let err = w
        .koc(&["ingest", "program/pipeline.yaml", "--memory-budget", "lots"])
        .expect_code(2)
        .stderr();
    assert!(err.contains("'lots' is not a size"), "{err}");
}
