//! The template sandbox shared by the report and the simulation page: fuel, a bound
//! on output size, HTML escaping for `.html`, Markdown escaping for `.md`, and the
//! filters that write numbers for people.
use anyhow::Result;
use minijinja::{AutoEscape, Environment, Error, ErrorKind, State, UndefinedBehavior};
use serde_json::Value;

/// The largest report a template may produce: fuel bounds the steps, this bounds the
/// bytes (a short loop printing a huge string would otherwise exhaust memory).
pub const MAX_REPORT_BYTES: usize = 256 * 1024 * 1024;

/// A writer that refuses to grow past `MAX_REPORT_BYTES`.
struct Bounded(Vec<u8>);

impl std::io::Write for Bounded {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.0.len() + buf.len() > MAX_REPORT_BYTES {
            return Err(std::io::Error::other(format!(
                "the report would be larger than {} MB: a template loops or repeats too much",
                MAX_REPORT_BYTES >> 20
            )));
        }
        self.0.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The address space a custom template's render may use. Fuel bounds its steps and
/// `MAX_REPORT_BYTES` its output, but not the values it builds: `{% set s = s ~ s %}`
/// forty times asks for a terabyte, and an allocation that fails aborts a process.
/// So custom templates render in a child process of koc under this limit, and a
/// template past it is an error naming it, while the run itself goes on to say so.
pub const TEMPLATE_MEMORY: u64 = 2 << 30;

/// The hidden command a child process renders a custom template with.
pub const RENDER_COMMAND: &str = "__render-template";

/// Render the template `name` of the pipeline `pipeline` in a child process of koc
/// (`koc __render-template PIPELINE NAME`, the context as JSON on its stdin), under
/// `TEMPLATE_MEMORY`.
pub fn render_in_child(pipeline: &std::path::Path, name: &str, ctx: &Value) -> Result<Vec<u8>> {
    use anyhow::Context;
    use std::io::Write;
    use std::process::{Command, Stdio};
    let exe = std::env::current_exe().context("cannot find the koc binary to render a custom template with")?;
    let mut child = Command::new(exe)
        .arg(RENDER_COMMAND)
        .arg(pipeline)
        .arg(name)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("cannot start a process to render a custom template")?;
    let input = serde_json::to_vec(ctx)?;
    let mut stdin = child.stdin.take().context("no stdin for the template's process")?;
    // written from a thread: the child may fill its stdout before it has read all
    let feeder = std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let out = child.wait_with_output().context("the template's process")?;
    let _ = feeder.join();
    if out.status.success() {
        return Ok(out.stdout);
    }
    let said = String::from_utf8_lossy(&out.stderr);
    match said.trim().strip_prefix("error: ") {
        Some(error) => Err(anyhow::anyhow!("{error}")),
        None => Err(anyhow::anyhow!(
            "the template {name} stopped ({}): it needs more than {} MB of memory, so a string or list in it grows without bound",
            out.status,
            TEMPLATE_MEMORY >> 20
        )),
    }
}

/// Limit this process's address space (the child that renders a custom template).
pub fn limit_memory(bytes: u64) -> Result<()> {
    rlimit::setrlimit(rlimit::Resource::AS, bytes, bytes)
        .map_err(|e| anyhow::anyhow!("cannot limit the memory of a template's render: {e}"))
}

/// Render a template into memory, at most `MAX_REPORT_BYTES`. An error quotes the
/// tag it stopped at (`{{ headline.no_such_field | num }}`), not only its line.
pub fn render_bounded(tmpl: &minijinja::Template, ctx: &Value) -> Result<Vec<u8>> {
    let mut out = Bounded(Vec::new());
    if let Err(e) = tmpl.render_captured_to(ctx, &mut out) {
        return Err(match e.range().and_then(|r| tag_around(tmpl.source(), r)) {
            Some(tag) => anyhow::Error::new(e).context(format!("at `{tag}`")),
            None => e.into(),
        });
    }
    Ok(out.0)
}

/// The `{{ … }}` or `{% … %}` tag of `source` holding the bytes `r` (a short one).
fn tag_around(source: &str, r: std::ops::Range<usize>) -> Option<&str> {
    let before = source.get(..r.start)?;
    let open = [before.rfind("{{"), before.rfind("{%")].into_iter().flatten().max()?;
    if before[open..].contains("}}") || before[open..].contains("%}") {
        return None;
    }
    let after = source.get(r.end..)?;
    let close = r.end + [after.find("}}"), after.find("%}")].into_iter().flatten().min()? + 2;
    source.get(open..close).filter(|tag| tag.len() <= 200)
}

/// How much work one render may do (minijinja's fuel): the embedded reports use a
/// small fraction of it; a runaway custom template stops with an error instead of
/// hanging the nightly job.
pub const TEMPLATE_FUEL: u64 = 50_000_000;

/// An environment with the fuel limit, HTML escaping for `.html` and Markdown escaping
/// for `.md` templates (data text cannot inject HTML, links or break a table).
pub fn sandboxed_environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_fuel(Some(TEMPLATE_FUEL));
    env.add_filter("num", num_filter);
    env.add_filter("pct", pct_filter);
    env.set_auto_escape_callback(|name| {
        if name.starts_with("digest.") {
            // a group robot's Markdown: links and HTML defused, names shown as written
            AutoEscape::Custom("robot")
        } else if name.ends_with(".md") {
            AutoEscape::Custom("markdown")
        } else {
            minijinja::default_auto_escape_callback(name)
        }
    });
    env.set_formatter(|out, state, value| {
        if state.auto_escape() == AutoEscape::Custom("markdown") && !value.is_safe() && !value.is_none() {
            let text = value.to_string();
            return out.write_str(&markdown_escape(&text)).map_err(minijinja::Error::from);
        }
        if state.auto_escape() == AutoEscape::Custom("robot") && !value.is_safe() && !value.is_none() {
            let text = value.to_string();
            return out.write_str(&robot_escape(&text)).map_err(minijinja::Error::from);
        }
        minijinja::escape_formatter(out, state, value)
    });
    env
}

/// `none` (and, unless the environment is strict, undefined) as the empty text; under
/// a strict environment an undefined value is an error, as printing it would be.
fn blank(state: &State, v: &minijinja::Value) -> Result<Option<minijinja::Value>, Error> {
    if v.is_undefined()
        && matches!(
            state.undefined_behavior(),
            UndefinedBehavior::Strict | UndefinedBehavior::SemiStrict
        )
    {
        return Err(Error::from(ErrorKind::UndefinedError));
    }
    Ok((v.is_none() || v.is_undefined()).then(|| minijinja::Value::from("")))
}

/// A finite number, or text that reads as one.
fn as_number(v: &minijinja::Value) -> Option<f64> {
    v.as_str()
        .and_then(|s| s.parse::<f64>().ok())
        .or_else(|| f64::try_from(v.clone()).ok())
        .filter(|x| x.is_finite())
}

/// `{{ x | num }}`: a number for people — thousands separators, at most 2 decimals
/// (the CSVs keep SPEC §1's formats). Text that is not a number passes unchanged.
fn num_filter(state: &State, v: minijinja::Value) -> Result<minijinja::Value, Error> {
    if let Some(empty) = blank(state, &v)? {
        return Ok(empty);
    }
    Ok(match as_number(&v) {
        Some(x) => minijinja::Value::from(people_number(x)),
        _ => v,
    })
}

/// `{{ x | pct }}`: a share (0.1304) as a percentage (13.0%).
fn pct_filter(state: &State, v: minijinja::Value) -> Result<minijinja::Value, Error> {
    if let Some(empty) = blank(state, &v)? {
        return Ok(empty);
    }
    Ok(match as_number(&v) {
        Some(x) => minijinja::Value::from(format!("{:.1}%", x * 100.0)),
        _ => v,
    })
}

/// 1234567 → `1,234,567`; 46.613769 → `46.61`; 0.5 → `0.5`.
pub fn people_number(x: f64) -> String {
    let rounded = (x * 100.0).round() / 100.0;
    let whole = koc_engine::fmt::thousands(rounded.trunc() as i64);
    let frac = ((rounded.abs().fract()) * 100.0).round() as i64;
    let sign = if rounded < 0.0 && rounded.trunc() == 0.0 {
        "-"
    } else {
        ""
    };
    match frac {
        0 => format!("{sign}{whole}"),
        f if f % 10 == 0 => format!("{sign}{whole}.{}", f / 10),
        f => format!("{sign}{whole}.{f:02}"),
    }
}

/// Text safe inside Markdown (and a Markdown table cell): HTML's specials as
/// entities, Markdown's link, emphasis and table characters backslashed, line breaks
/// as spaces.
pub fn markdown_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '\n' | '\r' => out.push(' '),
            '\\' | '|' | '[' | ']' | '`' | '*' | '_' | '#' | '!' => {
                out.push('\\');
                out.push(c);
            }
            _ => out.push(c),
        }
    }
    out
}

/// Text safe in a group robot's Markdown (WeCom, DingTalk, Feishu): no link, image,
/// HTML tag or code span can be made from it, and it stays on its line. Robots show a
/// backslash as it is, so nothing else is escaped: `海边奶爸_` reads as written.
pub fn robot_escape(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '[' => '［',
            ']' => '］',
            '<' => '‹',
            '>' => '›',
            '`' => '\'',
            '\n' | '\r' => ' ',
            c => c,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn robot_text_cannot_make_links_or_tags_and_keeps_names_as_written() {
        assert_eq!(
            robot_escape("[点我](http://x) <b>海边奶爸_</b>\n`x`"),
            "［点我］(http://x) ‹b›海边奶爸_‹/b› 'x'"
        );
    }

    #[test]
    fn markdown_escape_defuses_html_links_and_tables() {
        assert_eq!(markdown_escape("<script>x</script>"), "&lt;script&gt;x&lt;/script&gt;");
        assert_eq!(markdown_escape("[a](javascript:x)"), "\\[a\\](javascript:x)");
        assert_eq!(markdown_escape("a|b\nc"), "a\\|b c");
    }

    #[test]
    fn numbers_for_people() {
        assert_eq!(people_number(748056.0), "748,056");
        assert_eq!(people_number(46.613769), "46.61");
        assert_eq!(people_number(0.5), "0.5");
        assert_eq!(people_number(-0.25), "-0.25");
        assert_eq!(people_number(-1234.0), "-1,234");
    }

    #[test]
    fn number_filters_refuse_an_undefined_value_when_strict() {
        let render = |strict: bool, text: &str| {
            let mut env = sandboxed_environment();
            if strict {
                env.set_undefined_behavior(UndefinedBehavior::Strict);
            }
            env.add_template("t.md", text).unwrap();
            let ctx = serde_json::json!({"x": {"n": 1234, "none": null}});
            env.get_template("t.md").unwrap().render(ctx)
        };
        for filter in ["num", "pct"] {
            let text = format!("{{{{ x.nope | {filter} }}}}");
            let err = render(true, &text).unwrap_err();
            assert_eq!(err.kind(), minijinja::ErrorKind::UndefinedError);
            assert_eq!(render(false, &text).unwrap(), "");
            assert_eq!(render(true, &format!("{{{{ x.none | {filter} }}}}")).unwrap(), "");
        }
        assert_eq!(render(true, "{{ x.n | num }}").unwrap(), "1,234");
    }

    #[test]
    fn fuel_stops_a_runaway_template() {
        let mut env = sandboxed_environment();
        env.add_template(
            "t.md",
            "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
        )
        .unwrap();
        let err = env.get_template("t.md").unwrap().render(()).unwrap_err();
        assert_eq!(err.kind(), minijinja::ErrorKind::OutOfFuel);
    }
}
