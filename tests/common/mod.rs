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

    /// Run koc with extra environment variables (thread counts, say).
    pub fn koc_env(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        let out = Command::new(env!("CARGO_BIN_EXE_koc"))
            .args(args)
            .envs(env.iter().copied())
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

/// The conformance program v3 in a fresh work directory: v2's exports under `program/`
/// with v3's pipeline (badges and notices); its store is `store/`.
pub fn conformance_v3_program() -> Workdir {
    let w = Workdir::new();
    w.copy_dir(&repo().join("tests/conformance-v2/program"), "program");
    std::fs::copy(
        repo().join("tests/conformance-v3/pipeline.yaml"),
        w.path().join("program/pipeline.yaml"),
    )
    .unwrap();
    w
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

/// A minimal pipeline over `members.csv` and `activity*.csv` in the work directory,
/// with English headers equal to the canonical names; `extra` is appended (points, tiers…).
pub fn small_pipeline(extra: &str) -> String {
    format!(
        r#"program: {{name: test, timezone: Asia/Shanghai, start: 2025-01-01, locale: en}}
store: store
sources:
  members:
    path: members.csv
    columns: {{member_id: member_id, nickname: nickname, joined_at: joined_at, birthday: birthday, purchase_date: purchase_date}}
  activity:
    path: activity*.csv
    columns: {{event_id: event_id, member_id: member_id, occurred_at: occurred_at, action: action, topic: topic,
              task_type: task_type, content_id: content_id, likes: likes, comments: comments, shares: shares}}
    values:
      action: {{签到: check_in, 发帖: post, 精华: featured, 评论: comment, 完成任务: task_done}}
ingest:
  max_reject_ratio: 0.5
  ignore_actions: [浏览]
layers:
  levels:
    - {{id: active, when: "posts_90d >= 1"}}
    - {{id: newcomer, default: true}}
metrics:
  posts_90d: {{count: events, where: "action = 'post'", window_days: 90}}
{extra}"#
    )
}

pub const ACTIVITY_HEADER: &str =
    "event_id,member_id,occurred_at,action,topic,task_type,content_id,likes,comments,shares\n";
pub const MEMBERS_HEADER: &str = "member_id,nickname,joined_at,birthday,purchase_date\n";

/// UTF-16 LE with a BOM, as Excel's "Unicode text" writes it.
pub fn utf16le(text: &str) -> Vec<u8> {
    let mut out = vec![0xFF, 0xFE];
    for u in text.encode_utf16() {
        out.extend_from_slice(&u.to_le_bytes());
    }
    out
}

/// All files under a folder with their bytes, for "the store did not change" checks.
pub fn snapshot_dir(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if !p.ends_with(".lock") {
                out.push((p.clone(), std::fs::read(&p).unwrap()));
            }
        }
    }
    out.sort();
    out
}

impl Workdir {
    /// `koc run pipeline.yaml --as-of D` (must succeed); the run folder.
    pub fn run_at(&self, d: &str) -> PathBuf {
        self.koc(&["run", "pipeline.yaml", "--as-of", d, "--quiet"])
            .expect_code(0);
        self.path().join("store/runs").join(d)
    }
}

/// Every expected CSV of a conformance program against the run folder, row by row
/// (its README's rules); `loose` names the columns whose words the SPEC leaves open
/// for a file. Fails listing every file that differs.
pub fn assert_matches_expected(run: &Path, expected_dir: &Path, loose: impl Fn(&str) -> &'static [&'static str]) {
    let mut names: Vec<_> = std::fs::read_dir(expected_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .filter(|n| n.ends_with(".csv"))
        .collect();
    names.sort();
    let mut failures = Vec::new();
    for name in names {
        let expected = read_csv(&expected_dir.join(&name));
        let stem = name.trim_end_matches(".csv");
        let actual = if stem == "ledger" || stem == "layer_history" {
            read_parquet(&run.join(format!("{stem}.parquet")))
        } else {
            read_csv(&run.join(&name))
        };
        let diffs = diff_tables(&expected, &actual, loose(&name), 5);
        if !diffs.is_empty() {
            failures.push(format!("{name}:\n  {}", diffs.join("\n  ")));
        }
    }
    assert!(
        failures.is_empty(),
        "{} files differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// `koc ingest --format json` on a fresh copy of a program against its expected
/// per-file and total counts (SPEC §4).
pub fn check_ingest_counts(program: &Path, expected_json: &Path) {
    let w = Workdir::new();
    w.copy_dir(program, "program");
    let out = w.koc(&["ingest", "program/pipeline.yaml", "--format", "json"]);
    out.expect_code(0);
    let got: serde_json::Value = serde_json::from_str(&out.stdout()).expect("json summary");
    let want: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(expected_json).unwrap()).unwrap();
    const KEYS: [&str; 6] = ["rows", "inserted", "updated", "unchanged", "ignored", "rejected"];
    for (path, counts) in want["files"].as_object().unwrap() {
        let f = got["files"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["path"] == path.as_str())
            .unwrap_or_else(|| panic!("no {path}"));
        for k in KEYS {
            assert_eq!(f[k], counts[k], "{path} {k}");
        }
    }
    for k in KEYS {
        assert_eq!(got["totals"][k], want["totals"][k], "totals {k}");
    }
}

/// Copy a program folder (its pipeline at `program/pipeline.yaml`, store at `store`)
/// into a fresh work directory and `koc run` it at `as_of`; the run folder.
pub fn run_program(program: &str, as_of: &str) -> (Workdir, PathBuf) {
    let w = Workdir::new();
    w.copy_dir(&repo().join(program), "program");
    w.koc(&["run", "program/pipeline.yaml", "--as-of", as_of, "--quiet"])
        .expect_code(0);
    let run = w.path().join("store/runs").join(as_of);
    (w, run)
}

/// The parts of an .xlsx file (a zip of XML), read by name.
pub struct Workbook(zip::ZipArchive<std::fs::File>);

impl Workbook {
    pub fn open(path: &Path) -> Workbook {
        let file = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        Workbook(zip::ZipArchive::new(file).expect("an .xlsx file is a zip"))
    }

    /// One part's XML (`xl/workbook.xml`, `xl/worksheets/sheet2.xml`…).
    pub fn part(&mut self, name: &str) -> String {
        use std::io::Read;
        let mut s = String::new();
        self.0
            .by_name(name)
            .unwrap_or_else(|_| panic!("{name} in the workbook"))
            .read_to_string(&mut s)
            .unwrap();
        s
    }
}
