//! Stage timings on stderr when `KOC_TIMINGS` is set (`make bench` reads them): wall
//! time, CPU time and memory of each stage, for every layer to use.

/// ", resident now / peak" from /proc (Linux), for the timings.
fn memory() -> String {
    let Ok(status) = std::fs::read_to_string("/proc/self/status") else {
        return String::new();
    };
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<u64>().ok())
            .map(|kb| kb / 1024)
    };
    match (field("VmRSS:"), field("VmHWM:")) {
        (Some(now), Some(peak)) => format!(" (memory {now} MB, peak {peak} MB)"),
        _ => String::new(),
    }
}

/// The process's CPU time so far (user + system, all threads), in milliseconds: a
/// stage's CPU against its wall time shows whether it kept both cores busy.
fn cpu_ms() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // the fields after the command's closing parenthesis: utime and stime are 12 and 13
    let mut rest = stat.get(stat.rfind(')')? + 2..)?.split_whitespace();
    let utime: u64 = rest.nth(11)?.parse().ok()?;
    let stime: u64 = rest.next()?.parse().ok()?;
    // clock ticks are 1/100 s on Linux
    Some((utime + stime) * 10)
}

/// Stage timings on stderr when KOC_TIMINGS is set (for `make bench`).
pub struct Timer(Option<(std::time::Instant, u64)>);

impl Default for Timer {
    fn default() -> Self {
        Timer::new()
    }
}

impl Timer {
    pub fn new() -> Timer {
        Timer(std::env::var_os("KOC_TIMINGS").map(|_| (std::time::Instant::now(), cpu_ms().unwrap_or(0))))
    }
    pub fn lap(&mut self, stage: &str) {
        if let Some((t, cpu)) = self.0 {
            let now = cpu_ms().unwrap_or(0);
            eprintln!(
                "timing {stage}: {} ms, cpu {} ms{}",
                t.elapsed().as_millis(),
                now.saturating_sub(cpu),
                memory()
            );
            self.0 = Some((std::time::Instant::now(), now));
        }
    }
}
