//! `koc validate`: the pipeline's rules, every source's files and headers, and the
//! store's view (values no stored event has) in one listing; `--format json` as data.
use crate::cmd::commands::Printer;
use anyhow::Result;
use koc_engine::pipeline::config;
use koc_engine::store::Store;
use serde_json::json;

pub fn validate(out: &Printer, path: &std::path::Path) -> Result<u8> {
    // the YAML's shape first (nothing else can be read without it); then the rules and
    // every source's files, all of their problems in one listing
    let raw = config::load(path)?;
    let checked = koc_engine::pipeline::check::check(raw.clone());
    let files = source_files(out, &raw);
    let (loaded, lines) = match (checked, files) {
        (Ok(p), Ok(lines)) => (p, lines),
        (Err(e), Ok(_)) | (Ok(_), Err(e)) => return Err(e),
        (Err(rules), Err(files)) => {
            return Err(koc_engine::error::usage_err(format!("{rules:#}\n{files:#}")));
        }
    };
    let mut warnings = koc_engine::pipeline::lint::rule_warnings(loaded.file());
    warnings.extend(crate::cmd::stored_values::stored_value_warnings(&loaded)?);
    if !out.quiet {
        for w in &warnings {
            eprintln!("warning: {w}");
        }
    }
    if out.json {
        out.json(&json!({"ok": true, "files": lines}));
    } else {
        for l in &lines {
            out.line(l);
        }
        out.line(&format!("{}: ok", path.display()));
    }
    Ok(0)
}

/// Every source's files opened and their headers mapped: a line per file, or every
/// problem (missing files and folders, unreadable files, headers) in one error.
fn source_files(out: &Printer, loaded: &config::Loaded) -> Result<Vec<String>> {
    let mut lines = Vec::new();
    let mut problems: Vec<String> = Vec::new();
    let configured: Vec<_> = koc_engine::table::ALL
        .iter()
        .filter_map(|spec| loaded.pipeline.sources.of(spec.name).map(|c| (spec, c)))
        .collect();
    // the sources the store already has files of (none before the first ingest)
    let store = Store::open_read(&loaded.store_dir());
    let stored: std::collections::BTreeSet<String> = match store.dir.join("manifest.json").exists() {
        true => store.manifest()?.files.iter().map(|f| f.source.clone()).collect(),
        false => Default::default(),
    };
    for (spec, cfg) in &configured {
        let found = match koc_engine::ingest::paths::files_of(loaded, spec.name, cfg) {
            Ok(found) => found,
            Err(e) => {
                problems.push(format!("{e:#}"));
                continue;
            }
        };
        if let Some(warning) = found.nothing_matched(spec.name, cfg) {
            // as `koc run` would: a mistake for a source the store has never had a
            // file of, a night without exports otherwise
            if stored.contains(spec.name) {
                if !out.quiet {
                    eprintln!("warning: {}", warning.message);
                }
            } else {
                problems.push(format!(
                    "{:#}",
                    koc_engine::ingest::paths::never_matched(loaded, spec.name, cfg)
                ));
            }
        }
        for path in &found.skipped {
            if !out.quiet {
                eprintln!(
                    "warning: sources.{}.path matches {path}: not a regular file, not read",
                    spec.name
                );
            }
        }
        for f in &found.files {
            let export = match koc_engine::ingest::sources::open(f, cfg) {
                Ok(e) => e,
                Err(e) => {
                    problems.push(format!("{e:#}"));
                    continue;
                }
            };
            if export.is_empty() {
                lines.push(format!(
                    "{:<16} {} (empty: 0 rows)",
                    spec.name,
                    koc_engine::ingest::relative(&loaded.dir, f)
                ));
                continue;
            }
            if let Err(e) = export.map_header(spec, cfg) {
                problems.push(format!("{e:#}"));
                continue;
            }
            lines.push(format!(
                "{:<16} {} ({}, delimiter {:?})",
                spec.name,
                koc_engine::ingest::relative(&loaded.dir, f),
                export.encoding,
                export.delimiter as char
            ));
        }
    }
    match problems.is_empty() {
        true => Ok(lines),
        false => Err(koc_engine::error::usage_err(problems.join("\n"))),
    }
}

/// A listing of problems (`file:line:col: what` lines, each with its `  fix: …`) as
/// objects with `at`, `message` and `fix`.
pub fn problems_of(listing: &str) -> Vec<serde_json::Value> {
    let mut out: Vec<serde_json::Value> = Vec::new();
    for line in listing.lines() {
        if let Some(fix) = line
            .trim_start()
            .strip_prefix("fix: ")
            .filter(|_| line.starts_with(' '))
        {
            if let Some(last) = out.last_mut() {
                last["fix"] = json!(fix);
                continue;
            }
        }
        if line.starts_with(' ') {
            if let Some(last) = out.last_mut() {
                let message = format!("{}\n{}", last["message"].as_str().unwrap_or_default(), line.trim());
                last["message"] = json!(message);
                continue;
            }
        }
        // "file:line:col: message" (a path may hold ':' only in odd names)
        let parts: Vec<&str> = line.splitn(4, ':').collect();
        let positioned = parts.len() == 4 && parts[1].parse::<u64>().is_ok() && parts[2].parse::<u64>().is_ok();
        let (at, message) = match positioned {
            true => (
                format!("{}:{}:{}", parts[0], parts[1], parts[2]),
                parts[3].trim().to_string(),
            ),
            false => (String::new(), line.to_string()),
        };
        let (file, line_no, col) = match positioned {
            true => (
                json!(parts[0]),
                json!(parts[1].parse::<u64>().ok()),
                json!(parts[2].parse::<u64>().ok()),
            ),
            false => (
                serde_json::Value::Null,
                serde_json::Value::Null,
                serde_json::Value::Null,
            ),
        };
        out.push(
            json!({"code": code_of(&message), "severity": "error", "file": file, "line": line_no, "col": col,
                        "at": at, "message": message, "fix": null}),
        );
    }
    out
}

/// What kind of problem a message names, for tools that group or filter them.
fn code_of(message: &str) -> &'static str {
    let has = |s: &str| message.contains(s);
    if has("unknown key") {
        "unknown_key"
    } else if has("missing key") {
        "missing_key"
    } else if has("the expression") || has("holds text but") || has("is a number but") {
        "expression"
    } else if has("does not exist, so this comparison") || has("unknown action") || has("is not a layer") {
        "unknown_value"
    } else if has("sources.") && (has("path") || has("no file") || has("folder")) {
        "source_path"
    } else if has("header") || has("column") {
        "header"
    } else if has("expected") || has("invalid") || has("not a date") {
        "value"
    } else {
        "rule"
    }
}
