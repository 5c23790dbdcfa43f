//! The headline figures over the nights: `STORE/history.parquet` (date, figure, value),
//! the report's trend of the last runs, and `STORE/runs/index.html` listing every run.
//!
//! The run folders' `run.json` files are the record (each keeps its night's headline);
//! every run rewrites the history and the index from them, its own night replaced, so
//! a re-run of D changes only D's rows and the same folders give the same bytes.
use anyhow::{Context, Result};
use koc_engine::ingest::timestamps::parse_day;
use serde::Serialize;
use serde_json::Value;
use std::path::Path;

/// The index page's template (`runs_index.html` in report.templates overrides it).
pub const TEMPLATES: [(&str, &str); 1] = [("runs_index.html", include_str!("../../templates/runs_index.html"))];

/// `runs/index.html`: every run, newest first, with its headline figures and links to
/// what its folder holds, in the program's language; written atomically.
pub fn write_index(
    loaded: &koc_engine::pipeline::config::Loaded,
    runs: &Path,
    nights: &[Night],
    ctx: &Value,
) -> Result<()> {
    let list: Vec<Value> = nights
        .iter()
        .rev()
        .map(|n| {
            let has = |f: &str| runs.join(&n.date).join(f).is_file();
            serde_json::json!({
                "date": n.date,
                "headline": n.headline,
                "report": has("report.html"),
                "workbook": has("report.xlsx"),
                "digest": has("digest.md"),
            })
        })
        .collect();
    let page = serde_json::json!({"lang": ctx["lang"], "t": ctx["t"], "program": ctx["program"], "runs": list});
    let html = crate::output::report::render_text(loaded, "runs_index.html", &page)?;
    koc_engine::store::write_atomic(&runs.join("index.html"), &html)
        .with_context(|| format!("cannot write {}", runs.join("index.html").display()))
}

/// The history's file name in the store folder.
pub const FILE: &str = "history.parquet";

/// How many runs a trend shows (D's included).
pub const TREND_RUNS: usize = 12;

/// One night's headline, as its run.json keeps it.
#[derive(Debug, Clone)]
pub struct Night {
    pub date: String,
    pub headline: serde_json::Map<String, Value>,
}

/// Every run folder's headline but D's, by date (folders without a readable run.json
/// are left out), then D's own.
pub fn nights(runs: &Path, as_of: &str, headline: &Value) -> Vec<Night> {
    let mut out: Vec<Night> = std::fs::read_dir(runs)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let date = e.file_name().to_string_lossy().to_string();
            if date.len() != 10 || parse_day(&date).is_none() || date == as_of {
                return None;
            }
            let text = std::fs::read_to_string(e.path().join("run.json")).ok()?;
            let json: Value = serde_json::from_str(&text).ok()?;
            let headline = json.get("headline")?.as_object()?.clone();
            Some(Night { date, headline })
        })
        .collect();
    if let Some(h) = headline.as_object() {
        out.push(Night {
            date: as_of.to_string(),
            headline: h.clone(),
        });
    }
    out.sort_by(|a, b| a.date.cmp(&b.date));
    out
}

/// One headline figure over the last runs up to D: values oldest first, and a small
/// line for the HTML report and a sparkline for the Markdown one.
#[derive(Debug, Clone, Serialize)]
pub struct Trend {
    pub values: Vec<f64>,
    pub svg: String,
    pub text: String,
}

/// Each numeric headline figure over the last `TREND_RUNS` runs up to D (a figure with
/// fewer than two values has no trend).
pub fn trends(nights: &[Night], as_of: &str) -> indexmap::IndexMap<String, Trend> {
    let upto: Vec<&Night> = nights.iter().filter(|n| n.date.as_str() <= as_of).collect();
    let last = &upto[upto.len().saturating_sub(TREND_RUNS)..];
    let mut out = indexmap::IndexMap::new();
    let Some(now) = last.last() else { return out };
    for figure in now.headline.keys() {
        let values: Vec<f64> = last
            .iter()
            .filter_map(|n| n.headline.get(figure).and_then(Value::as_f64))
            .collect();
        if values.len() >= 2 {
            out.insert(
                figure.clone(),
                Trend {
                    svg: svg_line(&values),
                    text: sparkline(&values),
                    values,
                },
            );
        }
    }
    out
}

/// Values as block characters from ▁ to █ (all equal: the middle one).
fn sparkline(values: &[f64]) -> String {
    const BLOCKS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    let (lo, hi) = bounds(values);
    values
        .iter()
        .map(|v| match hi - lo {
            span if span > 0.0 => BLOCKS[(((v - lo) / span) * 7.0).round() as usize],
            _ => BLOCKS[3],
        })
        .collect()
}

/// A 96 × 24 line of the values, the last one marked (inline SVG, no script).
fn svg_line(values: &[f64]) -> String {
    let (w, h, pad) = (96.0, 24.0, 3.0);
    let (lo, hi) = bounds(values);
    let step = (w - 2.0 * pad) / (values.len().max(2) - 1) as f64;
    let y = |v: f64| match hi - lo {
        span if span > 0.0 => h - pad - (v - lo) / span * (h - 2.0 * pad),
        _ => h / 2.0,
    };
    let points: Vec<String> = values
        .iter()
        .enumerate()
        .map(|(i, v)| format!("{:.1},{:.1}", pad + i as f64 * step, y(*v)))
        .collect();
    let (lx, ly) = (pad + (values.len() - 1) as f64 * step, y(values[values.len() - 1]));
    format!(
        "<svg class=\"trend\" viewBox=\"0 0 {w} {h}\" width=\"{w}\" height=\"{h}\" role=\"img\" aria-hidden=\"true\">\
         <polyline fill=\"none\" stroke=\"currentColor\" stroke-width=\"1.5\" points=\"{}\"/>\
         <circle cx=\"{lx:.1}\" cy=\"{ly:.1}\" r=\"2\" fill=\"currentColor\"/></svg>",
        points.join(" ")
    )
}

fn bounds(values: &[f64]) -> (f64, f64) {
    values.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
        (lo.min(*v), hi.max(*v))
    })
}

/// `history.parquet`: one row per night and numeric headline figure (date, figure,
/// value), by date then figure, written atomically.
pub fn write_parquet(path: &Path, nights: &[Night]) -> Result<()> {
    use polars::prelude::*;
    let (mut dates, mut figures, mut values) = (Vec::new(), Vec::new(), Vec::new());
    for n in nights {
        let Some(day) = parse_day(&n.date) else { continue };
        let mut keys: Vec<&String> = n.headline.keys().collect();
        keys.sort();
        for k in keys {
            if let Some(v) = n.headline[k].as_f64() {
                dates.push(day);
                figures.push(k.clone());
                values.push(v);
            }
        }
    }
    let height = dates.len();
    let mut df = DataFrame::new(
        height,
        vec![
            Column::new("date".into(), dates).cast(&DataType::Date)?,
            Column::new("figure".into(), figures),
            Column::new("value".into(), values),
        ],
    )?;
    let mut bytes = Vec::new();
    ParquetWriter::new(&mut bytes)
        .finish(&mut df)
        .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))?;
    koc_engine::store::write_atomic(path, &bytes).with_context(|| format!("cannot write {}", path.display()))
}
