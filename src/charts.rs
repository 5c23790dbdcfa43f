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
            val = crate::fmt::fmt_num(*v),
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
            tv = crate::fmt::fmt_num(t)
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
