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
    let listed = |dir: &std::path::Path| -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .map(|d| {
                d.map(|e| e.unwrap().file_name().to_string_lossy().to_string())
                    .filter(|n| n.ends_with(".csv") || n == "report.md")
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        names
    };
    let names = listed(&run);
    let mut differ = Vec::new();
    if !bless {
        // a golden file the run no longer writes is a failure too
        for gone in listed(&golden).iter().filter(|g| !names.contains(g)) {
            differ.push(format!("{gone}: the run no longer writes it"));
        }
    }
    for name in &names {
        let got = std::fs::read(run.join(name)).unwrap();
        if bless {
            std::fs::create_dir_all(&golden).unwrap();
            std::fs::write(golden.join(name), &got).unwrap();
            continue;
        }
        match std::fs::read(golden.join(name)) {
            Ok(want) if want == got => {}
            Ok(want) => differ.push(format!("{name} differs:\n{}", first_difference(&want, &got))),
            Err(_) => differ.push(format!("{name} has no golden file")),
        }
    }
    assert!(
        differ.is_empty(),
        "{}\nrun with KOC_BLESS=1 to rewrite tests/golden/demo after reviewing",
        differ.join("\n")
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

/// The first differing line of two files, with its number, as a small diff.
fn first_difference(want: &[u8], got: &[u8]) -> String {
    let (want, got) = (String::from_utf8_lossy(want), String::from_utf8_lossy(got));
    let (w, g): (Vec<&str>, Vec<&str>) = (want.lines().collect(), got.lines().collect());
    let i = w
        .iter()
        .zip(&g)
        .position(|(a, b)| a != b)
        .unwrap_or(w.len().min(g.len()));
    format!(
        "  line {}\n  - {}\n  + {}",
        i + 1,
        w.get(i).unwrap_or(&"(end of file)"),
        g.get(i).unwrap_or(&"(end of file)")
    )
}
