//! Test helpers: a fresh work directory per test, the koc binary, and table comparison.
#![allow(dead_code)]
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub struct Workdir {
    pub dir: tempfile::TempDir,
}

impl Workdir {
    pub fn new() -> Workdir {
        Workdir {
            dir: tempfile::tempdir().expect("tempdir"),
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn create(&self, name: &str, text: &str) -> PathBuf {
        self.create_bytes(name, text.as_bytes())
    }

    pub fn create_bytes(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let p = self.path().join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, bytes).unwrap();
        p
    }

    pub fn copy_dir(&self, from: &Path, to: &str) -> PathBuf {
        let dest = self.path().join(to);
        copy_recursive(from, &dest);
        dest
    }

    /// Run koc with these arguments in the work directory.
    pub fn koc(&self, args: &[&str]) -> Run {
        let out = Command::new(env!("CARGO_BIN_EXE_koc"))
            .args(args)
            .current_dir(self.path())
            .output()
            .expect("run koc");
        Run(out)
    }

    pub fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.path().join(rel)).unwrap_or_else(|e| panic!("read {rel}: {e}"))
    }
}

pub struct Run(pub Output);

impl Run {
    pub fn code(&self) -> i32 {
        self.0.status.code().unwrap_or(-1)
    }
    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.0.stdout).to_string()
    }
    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.0.stderr).to_string()
    }
    /// Assert the exit code, showing both streams when it differs.
    pub fn expect_code(&self, code: i32) -> &Run {
        assert_eq!(
            self.code(),
            code,
            "exit code\n--- stdout\n{}\n--- stderr\n{}",
            self.stdout(),
            self.stderr()
        );
        self
    }
}

pub fn copy_recursive(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let p = e.path();
        if p.is_dir() {
            copy_recursive(&p, &to.join(e.file_name()));
        } else {
            std::fs::copy(&p, to.join(e.file_name())).unwrap();
        }
    }
}

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A CSV output as rows of strings, without the BOM and the formula guard.
pub fn read_csv(path: &Path) -> Vec<Vec<String>> {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    let text = String::from_utf8(bytes).expect("utf-8");
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());
    rdr.records()
        .map(|r| {
            r.unwrap()
                .iter()
                .map(|c| match c.strip_prefix('\'') {
                    Some(rest) if rest.starts_with(['=', '+', '-', '@', '\t', '\r']) => rest.to_string(),
                    _ => c.to_string(),
                })
                .collect()
        })
        .collect()
}

/// A Parquet output as rows of strings (header first).
pub fn read_parquet(path: &Path) -> Vec<Vec<String>> {
    use polars::prelude::*;
    let f = std::fs::File::open(path).unwrap_or_else(|e| panic!("open {}: {e}", path.display()));
    let df = ParquetReader::new(f).finish().unwrap();
    let mut rows = vec![df.get_column_names().iter().map(|s| s.to_string()).collect::<Vec<_>>()];
    for i in 0..df.height() {
        let row = df
            .columns()
            .iter()
            .map(|c| match c.get(i).unwrap() {
                AnyValue::Null => String::new(),
                AnyValue::String(s) => s.to_string(),
                AnyValue::StringOwned(s) => s.to_string(),
                v => v.to_string(),
            })
            .collect();
        rows.push(row);
    }
    rows
}

fn same_cell(a: &str, b: &str) -> bool {
    if a == b {
        return true;
    }
    match (a.parse::<f64>(), b.parse::<f64>()) {
        (Ok(x), Ok(y)) => (x - y).abs() <= 1e-6,
        _ => false,
    }
}

/// Compare two tables row by row; columns in `loose` may be worded differently.
/// Returns the differences found (at most `limit`).
pub fn diff_tables(expected: &[Vec<String>], actual: &[Vec<String>], loose: &[&str], limit: usize) -> Vec<String> {
    let mut out = Vec::new();
    if expected.first() != actual.first() {
        out.push(format!(
            "header: expected {:?}, got {:?}",
            expected.first(),
            actual.first()
        ));
        return out;
    }
    let header = &expected[0];
    if expected.len() != actual.len() {
        out.push(format!(
            "rows: expected {}, got {}",
            expected.len() - 1,
            actual.len().saturating_sub(1)
        ));
    }
    for (i, (e, a)) in expected.iter().zip(actual.iter()).enumerate().skip(1) {
        for (c, name) in header.iter().enumerate() {
            if loose.contains(&name.as_str()) {
                continue;
            }
            let (ev, av) = (
                e.get(c).map(String::as_str).unwrap_or(""),
                a.get(c).map(String::as_str).unwrap_or(""),
            );
            if !same_cell(ev, av) {
                out.push(format!("row {i} ({}) column {name}: expected '{ev}', got '{av}'", e[0]));
                break;
            }
        }
        if out.len() >= limit {
            break;
        }
    }
    out
}
