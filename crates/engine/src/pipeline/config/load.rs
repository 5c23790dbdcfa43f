//! Reading a pipeline file: its text and folder, the YAML with every section's
//! mistakes at file:line:col, did-you-mean, and the positions of values.
use super::Pipeline;
use crate::error::{usage_err, KocError};
use anyhow::Result;
use std::path::{Path, PathBuf};

/// A pipeline file as read: its text, its folder (paths are relative to it) and the parsed value.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub path: PathBuf,
    pub dir: PathBuf,
    pub text: String,
    pub pipeline: Pipeline,
    /// Where each key and value stands, by path (`points.rules[2].where`).
    pub spans: std::sync::Arc<super::spans::Spans>,
}

impl Loaded {
    /// A pipeline read from `text` (its folder resolves relative paths).
    pub fn new(path: PathBuf, dir: PathBuf, text: String, pipeline: Pipeline) -> Loaded {
        let spans = std::sync::Arc::new(super::spans::Spans::of(&text));
        Loaded {
            path,
            dir,
            text,
            pipeline,
            spans,
        }
    }

    /// `file:line:col` of the value at `path` (`points.rules[2].action`), or of its
    /// nearest enclosing value; the file alone when the path is not in it. A quoted
    /// value's place is that of its text, inside the quote (where an expression's own
    /// columns count from).
    pub fn at(&self, path: &str) -> String {
        let place = self.spans.value(path).map(|mut p| {
            if self.text.get(p.offset..).is_some_and(|t| t.starts_with(['"', '\''])) {
                p.col += 1;
            }
            p
        });
        self.place(place)
    }

    /// `file:line:col` of the key ending `path` (`tiers` for the section).
    pub fn at_key(&self, path: &str) -> String {
        self.place(self.spans.key(path))
    }

    fn place(&self, place: Option<super::spans::Place>) -> String {
        match place {
            Some(p) => format!("{}:{}:{}", self.path.display(), p.line, p.col),
            None => self.path.display().to_string(),
        }
    }
    /// A path from the pipeline file, relative to the pipeline's folder.
    pub fn resolve(&self, p: &str) -> PathBuf {
        let p = Path::new(p);
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            self.dir.join(p)
        }
    }

    pub fn store_dir(&self) -> PathBuf {
        self.resolve(&self.pipeline.store)
    }
}

/// Read and parse a pipeline file; errors carry file:line:column and a fix.
pub fn load(path: &Path) -> Result<Loaded> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        KocError::usage(format!("cannot read pipeline file {}: {e}", path.display()))
            .with_hint("give the path of an existing pipeline YAML file")
    })?;
    let pipeline = parse_text(path, &text)?;
    let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let dir = if dir.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        dir
    };
    Ok(Loaded::new(path.to_path_buf(), dir, text, pipeline))
}

/// Parse pipeline text (also used by `simulate` after an overlay merge). Every
/// top-level section with a mistake is reported, not only the first: after an error,
/// its section is set aside (line numbers kept) and the rest is read again.
pub fn parse_text(path: &Path, text: &str) -> Result<Pipeline> {
    check_nesting(path, text)?;
    let mut errors: Vec<anyhow::Error> = Vec::new();
    let mut current = text.to_string();
    let mut set_aside: Vec<usize> = Vec::new();
    loop {
        match parse_once(path, &current) {
            Ok(p) if errors.is_empty() => return Ok(p),
            Ok(_) => break,
            Err((err, line)) => {
                let section = line.and_then(|l| section_start(&current, l));
                errors.push(err);
                match section {
                    Some(start) if !set_aside.contains(&start) && errors.len() < 20 => {
                        set_aside.push(start);
                        current = without_section(&current, start);
                    }
                    _ => break,
                }
            }
        }
    }
    if errors.len() == 1 {
        return Err(errors.remove(0));
    }
    Err(usage_err(
        errors.iter().map(|e| format!("{e:#}")).collect::<Vec<_>>().join("\n"),
    ))
}

/// The deepest nesting of `[ ]` and `{ }` a pipeline file may have. A real pipeline
/// nests three or four levels; the YAML reader's time grows faster than the text with
/// the depth (200 KB of `[` took 50 s to be refused), so a deeper file is refused in
/// one pass before it is parsed.
const MAX_FLOW_DEPTH: usize = 32;

/// One linear pass over the text: brackets outside quotes and comments, counted.
fn check_nesting(path: &Path, text: &str) -> Result<()> {
    let mut depth = 0usize;
    for (n, line) in text.lines().enumerate() {
        let mut quote: Option<char> = None;
        let mut previous = ' ';
        for (col, c) in line.chars().enumerate() {
            match (quote, c) {
                (Some(q), c) if c == q => quote = None,
                (Some(_), _) => {}
                (None, '#') if previous.is_whitespace() => break,
                (None, '"' | '\'') if matches!(previous, ' ' | '[' | '{' | ',' | ':') => quote = Some(c),
                (None, '[' | '{') => {
                    depth += 1;
                    if depth > MAX_FLOW_DEPTH {
                        return Err(usage_err(format!(
                            "{}:{}:{}: brackets nested more than {MAX_FLOW_DEPTH} deep\n  fix: a pipeline nests a few levels; write deep lists as indented blocks, or check for a missing `]` or `}}`",
                            path.display(),
                            n + 1,
                            col + 1
                        )));
                    }
                }
                (None, ']' | '}') => depth = depth.saturating_sub(1),
                _ => {}
            }
            previous = c;
        }
    }
    Ok(())
}

/// The 0-based line of the top-level key whose section holds 1-based `line`.
fn section_start(text: &str, line: usize) -> Option<usize> {
    text.lines()
        .enumerate()
        .take(line)
        .filter(|(_, l)| {
            l.chars()
                .next()
                .is_some_and(|c| !c.is_whitespace() && c != '#' && c != '-')
        })
        .map(|(i, _)| i)
        .last()
}

/// The text with the section starting at line `start` replaced, line for line, by a
/// value that parses (required sections) or by comments (optional ones).
fn without_section(text: &str, start: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let end = (start + 1..lines.len())
        .find(|i| {
            lines[*i]
                .chars()
                .next()
                .is_some_and(|c| !c.is_whitespace() && c != '#' && c != '-')
        })
        .unwrap_or(lines.len());
    let key = lines[start].split(':').next().unwrap_or("").trim();
    let stand_in = match key {
        "program" => "program: {name: x, start: 2000-01-01}".to_string(),
        "store" => "store: x".to_string(),
        "sources" => "sources: {}".to_string(),
        _ => format!("# {key}: set aside after an error"),
    };
    let mut out: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
    out[start] = stand_in;
    for l in out.iter_mut().take(end).skip(start + 1) {
        *l = "#".into();
    }
    out.join("\n")
}

/// One attempt: the pipeline, or the first error with its line.
fn parse_once(path: &Path, text: &str) -> std::result::Result<Pipeline, (anyhow::Error, Option<usize>)> {
    let mut yaml_path = String::new();
    serde_saphyr::with_deserializer_from_str(text, |de| {
        serde_path_to_error::deserialize::<_, Pipeline>(de).map_err(|e| {
            yaml_path = e.path().to_string();
            e.into_inner()
        })
    })
    .map_err(|e| {
        let e = e.without_snippet();
        let line = e.location().map(|l| l.line() as usize);
        let location = e
            .location()
            .map(|l| format!("{}:{}:{}", path.display(), l.line(), l.column()))
            .unwrap_or_else(|| path.display().to_string());
        let msg = e.to_string();
        // the reader appends " at line X, column Y"; the position goes first instead
        let msg = msg.split(" at line ").next().unwrap_or(&msg).to_string();
        let unknown = msg.starts_with("unknown field");
        let (msg, mut hint) = explain_serde_message(&msg);
        if let Some(folded) = line.and_then(|l| folded_continuation(text, l)) {
            hint = Some(format!(
                "line {folded} is indented deeper than the key above it, so YAML reads it as the rest of this value: start it at the same column as that key"
            ));
        }
        // an unknown key is reported in its parent's path
        let yaml_path = match (unknown, yaml_path.rfind('.')) {
            (true, Some(i)) => yaml_path[..i].to_string(),
            (true, None) => "the top level".to_string(),
            _ if yaml_path.is_empty() || yaml_path == "." => "the top level".to_string(),
            _ => yaml_path.clone(),
        };
        let mut err = KocError::usage(format!("{location}: {msg} in {yaml_path}"));
        if let Some(h) = hint {
            err = err.with_hint(h);
        }
        (anyhow::Error::from(err), line)
    })
}

/// The number of the line after `line` (1-based) when it holds `key: value` indented
/// deeper than `line`'s key: YAML folds it into `line`'s plain value, which then reads
/// as `90 grace_days: 7` and fails as a number.
fn folded_continuation(text: &str, line: usize) -> Option<usize> {
    let lines: Vec<&str> = text.lines().collect();
    let (here, next) = (lines.get(line.checked_sub(1)?)?, lines.get(line)?);
    let indent = |l: &str| l.len() - l.trim_start().len();
    let is_key = |l: &str| {
        let t = l.trim_start();
        !t.starts_with('#') && !t.starts_with('-') && t.split_once(": ").is_some()
    };
    (is_key(here) && is_key(next) && indent(next) > indent(here)).then_some(line + 1)
}

/// Turn serde's "unknown field `x`, expected one of `a`, `b`" into a message and a did-you-mean.
fn explain_serde_message(msg: &str) -> (String, Option<String>) {
    if let Some(rest) = msg.strip_prefix("unknown field `") {
        let key = rest.split('`').next().unwrap_or("");
        // "unknown field `x`, expected one of a, b, c" (or "expected `a`")
        let expected: Vec<&str> = rest
            .split_once("expected")
            .map(|(_, list)| {
                list.trim_start_matches(" one of")
                    .split(',')
                    .map(|s| s.trim().trim_matches('`'))
                    .filter(|s| !s.is_empty())
                    .collect()
            })
            .unwrap_or_default();
        let best = expected
            .iter()
            .map(|c| (edit_distance(key, c), *c))
            .min()
            .filter(|(d, _)| *d <= 3);
        let hint = match best {
            Some((_, c)) => format!("did you mean '{c}'?"),
            None => format!("known keys here: {}", expected.join(", ")),
        };
        return (format!("unknown key '{key}'"), Some(hint));
    }
    if let Some(rest) = msg.strip_prefix("missing field `") {
        let key = rest.split('`').next().unwrap_or("");
        return (format!("missing key '{key}'"), Some(format!("add '{key}:' here")));
    }
    // serde's type names in words
    for (ty, words) in [
        ("invalid i64", "expected a whole number"),
        ("invalid u64", "expected a whole number ≥ 0"),
        ("invalid usize", "expected a whole number ≥ 0"),
        ("invalid f64", "expected a number"),
    ] {
        if let Some(rest) = msg.strip_prefix(ty) {
            return (format!("{words}{rest}"), None);
        }
    }
    if msg.starts_with("while parsing")
        || msg.contains("did not find expected")
        || msg.contains("mapping values are not allowed")
    {
        return (
            msg.to_string(),
            Some("check the indentation of this line and of the one above: keys of one map start at the same column, and each item of a list starts with '- ' at the same column".into()),
        );
    }
    (msg.to_string(), None)
}

pub fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// A "did you mean" among known names, for unknown-name errors.
pub fn suggest<'a>(word: &str, known: impl IntoIterator<Item = &'a str>) -> Option<String> {
    known
        .into_iter()
        .map(|k| (edit_distance(word, k), k))
        .filter(|(d, _)| *d <= 3)
        .min()
        .map(|(_, k)| k.to_string())
}

pub fn parse_date_str(s: &str) -> Option<chrono::NaiveDate> {
    chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .or_else(|_| chrono::NaiveDate::parse_from_str(s, "%Y/%m/%d"))
        .ok()
}

/// A date key of the pipeline (program.start, windows, periods) or an error naming it.
/// `what` names it in the message; `at` is its path in the file.
pub fn date_key(loaded: &Loaded, what: &str, at: &str, value: &str) -> Result<crate::fmt::Day> {
    parse_date_str(value)
        .map(crate::fmt::day_of)
        .ok_or_else(|| usage_err(format!("{}: {what} '{value}' is not a date", loaded.at(at))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deep_brackets_are_refused_in_one_pass_and_quoted_ones_ignored() {
        let path = Path::new("p.yaml");
        let deep = format!("x: {}", "[".repeat(200_000));
        let started = std::time::Instant::now();
        let err = parse_text(path, &deep).unwrap_err().to_string();
        assert!(err.contains("p.yaml:1:36: brackets nested more than 32 deep"), "{err}");
        assert!(started.elapsed() < std::time::Duration::from_secs(2));
        let quoted = format!(
            "x: '{}'\ny: \"{}\" # {}",
            "[".repeat(99),
            "{".repeat(99),
            "[".repeat(99)
        );
        assert!(check_nesting(path, &quoted).is_ok());
        assert!(check_nesting(path, "a: {b: [1, {c: [2]}]}\n").is_ok());
    }
}
