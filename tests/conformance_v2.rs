//! The conformance program v2 of shared/conformance-v2 (hall of fame, growth path,
//! override rejects), run end to end through the binary: every expected file is
//! compared row by row with the run folder (its README's rules; `detail` of the hall
//! of fame is compared, its words are defined).
mod common;
use common::*;

const AS_OF: &str = "2025-07-19";

fn run_conformance() -> (Workdir, std::path::PathBuf) {
    run_program("tests/conformance-v2/program", AS_OF)
}

#[test]
fn every_output_matches_the_expected_files() {
    let (_w, run) = run_conformance();
    // SPEC leaves these words open (conformance README)
    assert_matches_expected(&run, &repo().join("tests/conformance-v2/expected"), |name| match name {
        n if n.ends_with("_rejects.csv") => &["reason"],
        "hall_of_fame.csv" => &[],
        _ => &["reasons", "comments", "detail"],
    });
}

#[test]
fn ingest_counts_match_on_a_fresh_store() {
    check_ingest_counts(
        &repo().join("tests/conformance-v2/program"),
        &repo().join("tests/conformance-v2/expected/ingest_counts.json"),
    );
}

#[test]
fn an_override_naming_a_layer_by_its_display_name_is_rejected() {
    let w = Workdir::new();
    w.copy_dir(&repo().join("tests/conformance-v2/program"), "program");
    w.koc(&["ingest", "program/pipeline.yaml", "--quiet"]).expect_code(0);
    let rejects: Vec<_> = std::fs::read_dir(w.path().join("store/rejects"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with("overrides-"))
        .collect();
    assert_eq!(rejects.len(), 1);
    let rows = read_csv(&rejects[0]);
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert_eq!(rows[1][4], "核心伙伴");
    assert_eq!(
        rows[1][5],
        "unknown layer '核心伙伴' (layers: newcomer, active, core, alumni; map it under sources.overrides.values.layer)"
    );
}
