//! One language per report: a zh-CN program's report.html, report.md and digest show no
//! id of a closed set (statuses, moves, occasions… — the keys of the locale's label
//! groups) and no pipeline id that has a display name (tiers, layers, goals, contests,
//! badges), anywhere a person reads them. Ids stay in the CSVs, which are data.
mod common;
use common::*;
use std::collections::BTreeSet;

/// `html` without the elements `tag` (their content included).
fn without(html: &str, tag: &str) -> String {
    let (open, close) = (format!("<{tag}"), format!("</{tag}>"));
    let mut out = String::new();
    let mut rest = html;
    while let Some(a) = rest.find(&open) {
        out.push_str(&rest[..a]);
        rest = match rest[a..].find(&close) {
            Some(b) => &rest[a + b + close.len()..],
            None => "",
        };
    }
    out.push_str(rest);
    out
}

/// The visible text of an HTML page: no tags, no style or title, entities decoded.
fn visible(html: &str) -> String {
    let page = without(&without(html, "style"), "title");
    let mut text = String::new();
    let mut in_tag = false;
    for c in page.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => {
                in_tag = false;
                text.push(' ');
            }
            _ if !in_tag => text.push(c),
            _ => {}
        }
    }
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#x27;", "'")
        .replace("&amp;", "&")
}

/// ASCII words (letters, digits, `_`, `-`) of a text.
fn words(text: &str) -> BTreeSet<String> {
    text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '-'))
        .filter(|w| w.chars().any(|c| c.is_ascii_alphabetic()))
        .map(str::to_string)
        .collect()
}

/// Ids a Chinese reader must never meet: every key of a label group (a closed set) and
/// every id of the pipeline that has a `name`.
fn forbidden(pipeline: &str) -> BTreeSet<String> {
    let labels: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(repo().join("templates/labels.zh-CN.json")).unwrap()).unwrap();
    let mut out = BTreeSet::new();
    for (group, v) in labels.as_object().unwrap() {
        // groups keyed by data (sources by their stem, simulation's texts) are not closed sets of values
        if ["simulation", "source_names"].contains(&group.as_str()) {
            continue;
        }
        if let Some(map) = v.as_object() {
            out.extend(map.keys().filter(|k| k.len() > 2).cloned());
        }
    }
    // a project role may be named like a closed-set value (`lead`, a growth stage): it
    // is the pipeline's own id, without a display name, and shows as written
    for line in pipeline.lines() {
        if let Some(a) = line.find("role: ") {
            let id: String = line[a + 6..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
                .collect();
            out.remove(&id);
        }
    }
    // `{id: x, name: y}` entries of the pipeline
    for line in pipeline.lines() {
        if let (Some(a), true) = (line.find("id: "), line.contains("name: ")) {
            let id: String = line[a + 4..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
                .collect();
            if !id.is_empty() {
                out.insert(id);
            }
        }
    }
    out
}

fn check(folder: &std::path::Path, pipeline: &str) -> Vec<String> {
    let forbidden = forbidden(pipeline);
    let mut found = Vec::new();
    for (file, text) in [
        (
            "report.html",
            visible(&std::fs::read_to_string(folder.join("report.html")).unwrap()),
        ),
        // Markdown's backslash escapes (`activity\_202501`) are not word breaks
        (
            "report.md",
            std::fs::read_to_string(folder.join("report.md"))
                .unwrap()
                .replace('\\', ""),
        ),
        (
            "digest.md",
            std::fs::read_to_string(folder.join("digest.md"))
                .unwrap()
                .replace('\\', ""),
        ),
    ] {
        for w in words(&text).intersection(&forbidden) {
            let at = text.find(w.as_str()).unwrap();
            let before: String = text[..at]
                .chars()
                .rev()
                .take(40)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect();
            let after: String = text[at..].chars().take(40).collect();
            let around = format!("{before}{after}").replace('\n', " ");
            found.push(format!("{file}: '{w}' in …{around}…"));
        }
    }
    found
}

#[test]
fn a_chinese_report_shows_no_id_of_a_closed_set_or_a_named_pipeline_entry() {
    for (program, pipeline, d) in [
        ("tests/conformance/program", None, "2025-07-19"),
        (
            "tests/conformance-v2/program",
            Some("tests/conformance-v3/pipeline.yaml"),
            "2025-06-30",
        ),
    ] {
        let w = Workdir::new();
        w.copy_dir(&repo().join(program), "program");
        if let Some(p) = pipeline {
            std::fs::copy(repo().join(p), w.path().join("program/pipeline.yaml")).unwrap();
        }
        w.koc(&["run", "program/pipeline.yaml", "--as-of", d, "--quiet"])
            .expect_code(0);
        let text = w.read("program/pipeline.yaml");
        let found = check(&w.path().join("store/runs").join(d), &text);
        assert!(found.is_empty(), "{program}:\n{}", found.join("\n"));
        // the simulation page too (the swept path is the analyst's own code: left out)
        let sweep = "tiers.levels.gold.min";
        w.koc(&[
            "simulate",
            "program/pipeline.yaml",
            "--sweep",
            &format!("{sweep}=900,1300"),
            "--as-of",
            d,
            "--out",
            "sim",
            "--quiet",
        ])
        .expect_code(0);
        let page = visible(&w.read("sim/simulation.html")).replace(sweep, "");
        let forbidden = forbidden(&text);
        let shown: Vec<String> = words(&page).intersection(&forbidden).cloned().collect();
        assert!(shown.is_empty(), "{program}: simulation.html shows {shown:?}");
    }
}

/// Every text cell of a sheet by its column's header (row 1), read from the sheet's
/// inline strings (the big sheets are written in constant memory, strings inline).
fn sheet_cells(xml: &str) -> Vec<(String, String)> {
    let mut headers: std::collections::HashMap<String, String> = Default::default();
    let mut cells = Vec::new();
    for c in xml.split("<c r=\"").skip(1) {
        let reference: String = c.chars().take_while(|ch| *ch != '"').collect();
        let column: String = reference.chars().take_while(|ch| ch.is_ascii_alphabetic()).collect();
        let row: String = reference.chars().skip_while(|ch| ch.is_ascii_alphabetic()).collect();
        let body = c.split("</c>").next().unwrap_or("");
        let Some(text) = body
            .split("<t>")
            .nth(1)
            .or_else(|| body.split("<t xml:space=\"preserve\">").nth(1))
        else {
            continue;
        };
        let text = text.split("</t>").next().unwrap_or("").to_string();
        if row == "1" {
            headers.insert(column, text);
        } else {
            cells.push((headers.get(&column).cloned().unwrap_or_default(), text));
        }
    }
    cells
}

/// report.xlsx in a zh-CN program: sheet names, headers and every value outside an id
/// column (`…ID`, `…编号`, `…单号`: ids are data there) hold no id of a closed set or of a
/// named pipeline entry.
#[test]
fn a_chinese_workbook_shows_no_id_outside_its_id_columns() {
    let w = conformance_v3_program();
    let d = "2025-06-30";
    w.koc(&["run", "program/pipeline.yaml", "--as-of", d, "--quiet"])
        .expect_code(0);
    let forbidden = forbidden(&w.read("program/pipeline.yaml"));
    let mut book = Workbook::open(&w.path().join("store/runs").join(d).join("report.xlsx"));
    let workbook = book.part("xl/workbook.xml");
    let sheets: Vec<String> = workbook
        .split("<sheet name=\"")
        .skip(1)
        .map(|s| s.split('"').next().unwrap().to_string())
        .collect();
    let mut found: Vec<String> = words(&sheets.join(" "))
        .intersection(&forbidden)
        .map(|w| format!("sheet name '{w}'"))
        .collect();
    for k in 2..=sheets.len() {
        let xml = book.part(&format!("xl/worksheets/sheet{k}.xml"));
        for (header, text) in sheet_cells(&xml) {
            if header.contains("ID") || header.contains("编号") || header.contains("单号") {
                continue;
            }
            for w in words(&text).intersection(&forbidden) {
                found.push(format!("{}: {header}: '{w}' in {text}", sheets[k - 1]));
            }
        }
    }
    let strings = book.part("xl/sharedStrings.xml");
    found.extend(
        words(&strings)
            .intersection(&forbidden)
            .map(|w| format!("summary sheet: '{w}'")),
    );
    found.sort();
    found.dedup();
    assert!(found.is_empty(), "{}", found.join("\n"));
}
