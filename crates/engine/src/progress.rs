//! Progress bars on stderr, only for people at a terminal (SPEC §2).
use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;

/// A byte-progress bar for a file larger than a few MB, when stderr is a terminal.
pub fn bar(enabled: bool, len: u64, label: &str) -> Option<ProgressBar> {
    if !enabled || len < 4 << 20 || !std::io::stderr().is_terminal() {
        return None;
    }
    Some(styled(
        len,
        "{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec}",
        label,
    ))
}

/// A bar of `n` steps (months written, say) for work long enough to watch, when
/// stderr is a terminal.
pub fn steps(enabled: bool, n: u64, label: &str, long: bool) -> Option<ProgressBar> {
    if !enabled || !long || n < 2 || !std::io::stderr().is_terminal() {
        return None;
    }
    Some(styled(n, "{msg} [{bar:30}] {pos}/{len} {elapsed}", label))
}

/// A bar of `len` with `template` (indicatif's), labelled.
fn styled(len: u64, template: &str, label: &str) -> ProgressBar {
    let b = ProgressBar::new(len);
    if let Ok(style) = ProgressStyle::with_template(template) {
        b.set_style(style);
    }
    b.set_message(label.to_string());
    b
}
