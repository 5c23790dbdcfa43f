//! The operations digest (SPEC §17): the night's action list, the headline figures
//! with their change, the warnings and where the report is, as Markdown a group robot
//! shows on a phone. Rendered by `koc run` into `runs/<D>/digest.md` from the report's
//! context, so `koc notify` only sends what the run wrote.
use anyhow::{Context, Result};
use serde_json::Value;

/// The built-in digest templates (`digest.<locale>.md` in report.templates overrides them).
pub const TEMPLATES: [(&str, &str); 2] = [
    ("digest.zh-CN.md", include_str!("../../templates/digest.zh-CN.md")),
    ("digest.en.md", include_str!("../../templates/digest.en.md")),
];

/// The file the digest is written to in the run folder.
pub const FILE: &str = "digest.md";

/// The digest of a run: the report's context (nicknames already masked when the
/// pipeline says so), the run folder's report path and the notices' count.
pub fn render(
    loaded: &koc_engine::pipeline::program::Program,
    report_ctx: &Value,
    report_path: &std::path::Path,
    notices: Option<usize>,
) -> Result<Vec<u8>> {
    let mut ctx = report_ctx.clone();
    ctx["report_path"] = Value::from(report_path.display().to_string());
    ctx["notices_count"] = notices.map(Value::from).unwrap_or(Value::Null);
    let name = format!("digest.{}.md", loaded.locale.as_str());
    crate::output::report::render_text(loaded.file(), &name, &ctx)
        .with_context(|| format!("rendering the digest with {name}"))
}

/// The digest cut to at most `max` bytes at a line boundary, with a last line saying
/// the rest is in the report (WeCom refuses more than 4,096 bytes).
pub fn fit(text: &str, max: usize, rest: &str) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    let budget = max.saturating_sub(rest.len() + 1);
    let mut cut = 0;
    for (i, _) in text.match_indices('\n') {
        if i + 1 > budget {
            break;
        }
        cut = i + 1;
    }
    if cut == 0 {
        // one very long line: cut at a character boundary
        cut = (0..=budget.min(text.len()))
            .rev()
            .find(|i| text.is_char_boundary(*i))
            .unwrap_or(0);
    }
    format!("{}{rest}", &text[..cut])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_digest_is_cut_at_a_line_and_says_so() {
        let text = "line one\nline two\nline three\n";
        assert_eq!(fit(text, 100, "…"), text);
        let cut = fit(text, 20, "(more)");
        assert_eq!(cut, "line one\n(more)");
        assert!(cut.len() <= 20);
        let long = "长".repeat(100);
        let cut = fit(&long, 20, "…");
        assert!(cut.len() <= 20 && cut.ends_with('…'), "{cut}");
    }
}
