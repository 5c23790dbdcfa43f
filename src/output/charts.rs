//! Inline SVG charts for the report: no scripts, fonts or images, so the file works offline.
use std::fmt::Write;

pub fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

const COLORS: [&str; 6] = ["#3b6fb6", "#e07b39", "#4a9d5b", "#b8455a", "#8a63b8", "#6b7f8e"];

/// Horizontal bars: one row per (label, value).
pub fn bars(items: &[(String, f64)]) -> String {
    let max = items.iter().map(|(_, v)| *v).fold(0.0, f64::max).max(1e-9);
    let (row, label_w, bar_w) = (26.0, 150.0, 330.0);
    let h = row * items.len() as f64 + 10.0;
    let mut s = format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 560 {h}" width="560" height="{h}" role="img">"##
    );
    for (i, (label, v)) in items.iter().enumerate() {
        let y = 5.0 + row * i as f64;
        let w = (v / max * bar_w).max(1.0);
        let _ = write!(
            s,
            r##"<text x="{lx}" y="{ty}" text-anchor="end" font-size="13" fill="#333">{label}</text><rect x="{bx}" y="{y}" width="{w:.1}" height="{bh}" rx="3" fill="{c}"/><text x="{vx:.1}" y="{ty}" font-size="12" fill="#333">{val}</text>"##,
            lx = label_w - 8.0,
            ty = y + 15.0,
            label = escape(label),
            bx = label_w,
            bh = row - 8.0,
            c = COLORS[i % COLORS.len()],
            vx = label_w + w + 6.0,
            val = crate::output::templating::people_number(*v),
        );
    }
    s.push_str("</svg>");
    s
}

/// A small line chart of a series of (label, value); missing values break the line.
pub fn line(points: &[(String, Option<f64>)], target: Option<f64>) -> String {
    let (w, h, pad) = (560.0, 180.0, 36.0);
    let vals: Vec<f64> = points.iter().filter_map(|(_, v)| *v).chain(target).collect();
    let max = vals.iter().cloned().fold(0.0, f64::max).max(1e-9) * 1.1;
    let n = points.len().max(2) as f64;
    let x = |i: usize| pad + (w - 2.0 * pad) * i as f64 / (n - 1.0);
    let y = |v: f64| h - pad - (h - 2.0 * pad) * v / max;
    let mut s = format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}" width="{w}" height="{h}" role="img">"##
    );
    let _ = write!(
        s,
        r##"<line x1="{pad}" y1="{b}" x2="{r}" y2="{b}" stroke="#bbb"/>"##,
        b = h - pad,
        r = w - pad
    );
    if let Some(t) = target {
        let _ = write!(
            s,
            r##"<line x1="{pad}" y1="{ty:.1}" x2="{r}" y2="{ty:.1}" stroke="#b8455a" stroke-dasharray="5,4"/><text x="{r}" y="{tt:.1}" text-anchor="end" font-size="11" fill="#b8455a">{tv}</text>"##,
            ty = y(t),
            r = w - pad,
            tt = y(t) - 4.0,
            tv = koc_engine::fmt::fmt_num(t)
        );
    }
    let mut path = String::new();
    for (i, (label, v)) in points.iter().enumerate() {
        if let Some(v) = v {
            let cmd = if path.is_empty() || points[i - 1].1.is_none() {
                'M'
            } else {
                'L'
            };
            let _ = write!(path, "{cmd}{:.1},{:.1} ", x(i), y(*v));
            let _ = write!(
                s,
                r##"<circle cx="{:.1}" cy="{:.1}" r="3" fill="#3b6fb6"/>"##,
                x(i),
                y(*v)
            );
        }
        if i == 0 || i + 1 == points.len() || points.len() <= 8 {
            let _ = write!(
                s,
                r##"<text x="{:.1}" y="{}" text-anchor="middle" font-size="10" fill="#666">{}</text>"##,
                x(i),
                h - pad + 14.0,
                escape(label)
            );
        }
    }
    let _ = write!(
        s,
        r##"<path d="{path}" fill="none" stroke="#3b6fb6" stroke-width="2"/></svg>"##
    );
    s
}

/// One series of a goal chart: a value per week, and whether the last week is partial.
pub struct GoalSeries<'a> {
    /// (label, actual, target at that point) per week.
    pub points: &'a [(String, Option<f64>, Option<f64>)],
    /// The last week is cut at D: drawn hollow and labelled, not as a drop.
    pub partial_last: bool,
    /// The y axis' title (what the values are).
    pub y_title: &'a str,
    pub partial_label: &'a str,
    /// The values are shares (a ratio goal): the axis shows percentages, as the
    /// goal's table does.
    pub percent: bool,
}

/// A goal chart with a labelled y axis: the actual line (blue) and the target line
/// (red, dashed; pro-rated per week for cumulative goals, flat otherwise).
pub fn goal(series: &GoalSeries) -> String {
    let (w, h, left, pad) = (560.0, 200.0, 58.0, 30.0);
    let points = series.points;
    let max = points
        .iter()
        .flat_map(|(_, a, t)| [*a, *t])
        .flatten()
        .fold(0.0, f64::max)
        .max(1e-9)
        * 1.1;
    let n = points.len().max(2) as f64;
    let x = |i: usize| left + (w - left - pad) * i as f64 / (n - 1.0);
    let y = |v: f64| h - pad - (h - 2.0 * pad) * v / max;
    let mut s = format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}" width="{w}" height="{h}" role="img">"##
    );
    // y axis: three labelled ticks and its title
    for k in 0..=2 {
        let v = max / 1.1 * k as f64 / 2.0;
        let _ = write!(
            s,
            r##"<line x1="{left}" y1="{yy:.1}" x2="{r}" y2="{yy:.1}" stroke="#e3e7ee"/><text x="{tx}" y="{ty:.1}" text-anchor="end" font-size="10" fill="#666">{label}</text>"##,
            yy = y(v),
            r = w - pad,
            tx = left - 4.0,
            ty = y(v) + 3.0,
            label = escape(&axis_number(v, series.percent)),
        );
    }
    let _ = write!(
        s,
        r##"<text x="10" y="{my}" font-size="10" fill="#666" transform="rotate(-90 10 {my})" text-anchor="middle">{t}</text>"##,
        my = h / 2.0,
        t = escape(series.y_title)
    );
    for (which, color, dash) in [(2usize, "#b8455a", r#" stroke-dasharray="5,4""#), (1, "#3b6fb6", "")] {
        let mut path = String::new();
        for (i, p) in points.iter().enumerate() {
            let v = if which == 1 { p.1 } else { p.2 };
            if let Some(v) = v {
                let gap = i == 0 || (if which == 1 { points[i - 1].1 } else { points[i - 1].2 }).is_none();
                let _ = write!(
                    path,
                    "{}{:.1},{:.1} ",
                    if path.is_empty() || gap { 'M' } else { 'L' },
                    x(i),
                    y(v)
                );
                if which == 1 {
                    let hollow = series.partial_last && i + 1 == points.len();
                    let fill = if hollow { "#fff" } else { color };
                    let _ = write!(
                        s,
                        r##"<circle cx="{:.1}" cy="{:.1}" r="3.5" fill="{fill}" stroke="{color}" stroke-width="1.5"/>"##,
                        x(i),
                        y(v)
                    );
                    if hollow {
                        let _ = write!(
                            s,
                            r##"<text x="{:.1}" y="{:.1}" text-anchor="end" font-size="10" fill="#3b6fb6">{}</text>"##,
                            x(i) - 6.0,
                            y(v) - 6.0,
                            escape(series.partial_label)
                        );
                    }
                }
            }
        }
        let _ = write!(
            s,
            r##"<path d="{path}" fill="none" stroke="{color}" stroke-width="2"{dash}/>"##
        );
    }
    for (i, (label, _, _)) in points.iter().enumerate() {
        if i == 0 || i + 1 == points.len() || points.len() <= 8 || i % ((points.len() / 6).max(1)) == 0 {
            let _ = write!(
                s,
                r##"<text x="{:.1}" y="{}" text-anchor="middle" font-size="10" fill="#666">{}</text>"##,
                x(i),
                h - pad + 14.0,
                escape(label)
            );
        }
    }
    s.push_str("</svg>");
    s
}

/// An axis label: `12,300` or `0.45` (at most 2 decimals), or `13.0%` for a share.
fn axis_number(v: f64, percent: bool) -> String {
    match percent {
        true => format!("{:.1}%", v * 100.0),
        false => crate::output::templating::people_number(v),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Bar labels have thousands separators; a ratio goal's axis is in percent, as its
    /// table is (a share of 0.15 is 15.0%, never 0.15).
    #[test]
    fn labels_are_written_for_people() {
        let svg = bars(&[("发帖".to_string(), 12_345.0), ("评论".to_string(), 0.5)]);
        assert!(svg.contains(">12,345<") && svg.contains(">0.5<"), "{svg}");
        let points = [
            ("06-01".to_string(), Some(0.10), Some(0.15)),
            ("06-08".to_string(), Some(0.12), Some(0.15)),
        ];
        let series = |percent| GoalSeries {
            points: &points,
            partial_last: false,
            y_title: "share",
            partial_label: "partial",
            percent,
        };
        // ticks at 0, half and all of the highest value (0.15)
        let svg = goal(&series(true));
        assert!(
            svg.contains(">15.0%<") && svg.contains(">7.5%<") && svg.contains(">0.0%<"),
            "{svg}"
        );
        assert!(!svg.contains(">0.15<"));
        let svg = goal(&series(false));
        assert!(svg.contains(">0.15<"), "{svg}");
    }
}
