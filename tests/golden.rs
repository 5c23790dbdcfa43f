//! Golden outputs of the demo program (samples/ with pipelines/demo.yaml as of
//! 2025-06-30): every CSV of the run folder compared byte for byte with
//! tests/golden/demo/. After an intended change, rewrite them with KOC_BLESS=1 and
//! review the diff.
mod common;
use common::*;

#[test]
fn demo_outputs_match_the_golden_files() {
    let w = Workdir::new();
    w.copy_dir(&repo().join("samples"), "samples");
    w.copy_dir(&repo().join("pipelines"), "pipelines");
    w.koc(&["run", "pipelines/demo.yaml", "--as-of", "2025-06-30", "--quiet"])
        .expect_code(0);
    let run = w.path().join("out/demo/runs/2025-06-30");
    let golden = repo().join("tests/golden/demo");
    let bless = std::env::var_os("KOC_BLESS").is_some();
    let mut names: Vec<String> = std::fs::read_dir(&run)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .filter(|n| n.ends_with(".csv") || n == "report.md")
        .collect();
    names.sort();
    let mut differ = Vec::new();
    for name in &names {
        let got = std::fs::read(run.join(name)).unwrap();
        if bless {
            std::fs::create_dir_all(&golden).unwrap();
            std::fs::write(golden.join(name), &got).unwrap();
            continue;
        }
        match std::fs::read(golden.join(name)) {
            Ok(want) if want == got => {}
            Ok(_) => differ.push(format!("{name} differs")),
            Err(_) => differ.push(format!("{name} has no golden file")),
        }
    }
    assert!(
        differ.is_empty(),
        "{differ:?}\nrun with KOC_BLESS=1 to rewrite tests/golden/demo after reviewing"
    );
    // the Parquet outputs too, as rows
    for stem in ["ledger", "layer_history"] {
        let rows = read_parquet(&run.join(format!("{stem}.parquet")));
        let mut text = String::new();
        for r in rows {
            text.push_str(&r.join(","));
            text.push('\n');
        }
        let path = golden.join(format!("{stem}.txt"));
        if bless {
            std::fs::write(&path, &text).unwrap();
        } else {
            assert!(
                std::fs::read_to_string(&path).unwrap_or_default() == text,
                "{stem}.parquet differs from {}",
                path.display()
            );
        }
    }
}
