//! The conformance program of shared/conformance, run end to end through the binary:
//! every expected file is compared row by row with the run folder (its README's rules).
mod common;
use common::*;

const AS_OF: &str = "2025-07-19";

fn run_conformance() -> (Workdir, std::path::PathBuf) {
    run_program("tests/conformance/program", AS_OF)
}

#[test]
fn every_output_matches_the_expected_files() {
    let (_w, run) = run_conformance();
    // SPEC leaves these words open (conformance README)
    assert_matches_expected(&run, &repo().join("tests/conformance/expected"), |name| match name {
        n if n.ends_with("_rejects.csv") => &["reason"],
        _ => &["reasons", "comments", "detail"],
    });
}

#[test]
fn ingest_counts_match_on_a_fresh_store() {
    check_ingest_counts(
        &repo().join("tests/conformance/program"),
        &repo().join("tests/conformance/expected/ingest_counts.json"),
    );
}
