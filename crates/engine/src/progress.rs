//! Progress on stderr, only for people at a terminal (SPEC §2): a line naming the
//! stage a run or a simulation is in (with the time it has taken so far), and bars for
//! long steps inside a stage (a big file read, months written). They draw together.
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::sync::{Mutex, OnceLock};

/// Every bar of the process, drawn together under the stage line.
fn multi() -> &'static MultiProgress {
    static MULTI: OnceLock<MultiProgress> = OnceLock::new();
    MULTI.get_or_init(MultiProgress::new)
}

/// The stage line while a command shows one.
static STAGE: Mutex<Option<ProgressBar>> = Mutex::new(None);

/// While alive, a line on stderr says which stage `what` (a run, a simulation) is in;
/// `stage` moves it on. Cleared when dropped.
pub struct StageLine(());

/// A stage line for `what`, when `enabled` and stderr is a terminal.
pub fn stages(enabled: bool, what: &str) -> Option<StageLine> {
    if !enabled || !std::io::stderr().is_terminal() {
        return None;
    }
    let line = multi().add(ProgressBar::new_spinner());
    if let Ok(style) = ProgressStyle::with_template("{spinner} {prefix}: {msg} ({elapsed})") {
        line.set_style(style);
    }
    line.set_prefix(what.to_string());
    line.enable_steady_tick(std::time::Duration::from_millis(120));
    if let Ok(mut slot) = STAGE.lock() {
        *slot = Some(line);
    }
    Some(StageLine(()))
}

impl Drop for StageLine {
    fn drop(&mut self) {
        if let Some(line) = STAGE.lock().ok().and_then(|mut slot| slot.take()) {
            line.finish_and_clear();
        }
    }
}

/// Print `line` on stderr above the bars and the stage line (printed over them, it
/// would come out torn on a terminal).
pub fn eprint_line(line: &str) {
    multi().suspend(|| eprintln!("{line}"));
}

/// Name what the stage line is about now (a simulation's scenario, say).
pub fn part(what: &str) {
    if let Ok(slot) = STAGE.lock() {
        if let Some(line) = slot.as_ref() {
            line.set_prefix(what.to_string());
        }
    }
}

/// Name the stage now running (nothing when no stage line is shown).
pub fn stage(name: &str) {
    if let Ok(slot) = STAGE.lock() {
        if let Some(line) = slot.as_ref() {
            line.set_message(name.to_string());
        }
    }
}

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
    let b = multi().add(ProgressBar::new(len));
    if let Ok(style) = ProgressStyle::with_template(template) {
        b.set_style(style);
    }
    b.set_message(label.to_string());
    b
}
