//! Range checks of every number and id of the pipeline file (validation beyond its
//! shape): a negative window, a NaN weight or a duplicate id parses fine but would
//! panic, loop for hours or silently mislead later, so each is an error here, at
//! `file:line:col` with the key it is about.
use crate::pipeline::config::{Loaded, Pipeline};

/// The longest window, grace period or horizon koc accepts: a century.
pub const MAX_DAYS: i64 = 36_600;
/// The most one ledger entry can pay, and so the largest number of points one setting
/// may name. Counts reach 10^15 and `per.points` 10^9, so a product could wrap i64;
/// the points stage saturates each entry here, which keeps every later sum exact.
pub const MAX_POINTS: i64 = 1_000_000_000;

/// Every problem found, as messages (the caller lists them with the rest).
pub fn check(loaded: &Loaded) -> Vec<String> {
    let mut c = Checker {
        loaded,
        problems: vec![],
    };
    c.pipeline(&loaded.pipeline);
    c.problems
}

struct Checker<'a> {
    loaded: &'a Loaded,
    problems: Vec<String>,
}

impl Checker<'_> {
    /// A problem of the value at `at` (its path in the file, `points.rules[2].points`).
    fn say(&mut self, at: &str, what: &str, problem: &str, fix: &str) {
        self.problems
            .push(format!("{}: {what}: {problem}\n  fix: {fix}", self.loaded.at(at)));
    }

    /// An integer setting within lo..=hi.
    fn int(&mut self, at: &str, what: &str, v: Option<i64>, lo: i64, hi: i64) {
        if let Some(v) = v {
            if v < lo || v > hi {
                self.say(
                    at,
                    what,
                    &format!("{v} is out of range"),
                    &format!("use a whole number from {lo} to {hi}"),
                );
            }
        }
    }

    /// A number setting that must be finite and ≥ 0 (weights, prices).
    fn non_negative(&mut self, at: &str, what: &str, v: f64) {
        if !v.is_finite() || v < 0.0 {
            self.say(at, what, &format!("{v} is not a number ≥ 0"), "use a finite number ≥ 0");
        }
    }

    /// Ids of the list at path `what` (`points.rules`), each reported at its own entry.
    fn unique<'b>(&mut self, what: &str, ids: impl IntoIterator<Item = &'b str>) {
        let mut seen = std::collections::HashSet::new();
        for (i, id) in ids.into_iter().enumerate() {
            if !seen.insert(id) {
                self.say(
                    &format!("{what}[{i}].id"),
                    what,
                    &format!("the id '{id}' is used twice"),
                    "give every entry its own id",
                );
            }
        }
    }

    fn pipeline(&mut self, p: &Pipeline) {
        let r = p.ingest.max_reject_ratio;
        if !(0.0..=1.0).contains(&r) {
            self.say(
                "ingest.max_reject_ratio",
                "ingest.max_reject_ratio",
                &format!("{r} is not a share"),
                "use a number from 0 to 1 (0.05 = 5 % of a file's rows)",
            );
        }
        self.int(
            "ingest.stale_after_days",
            "ingest.stale_after_days",
            Some(p.ingest.stale_after_days),
            0,
            MAX_DAYS,
        );
        if let Some(budget) = &p.ingest.memory_budget {
            if crate::ingest::passes::parse_bytes(budget).is_none() {
                self.say(
                    "ingest.memory_budget",
                    "ingest.memory_budget",
                    &format!("'{budget}' is not a size"),
                    "write a size such as 6G, 512M or 800MB",
                );
            }
        }
        self.sources(p);
        if let Some(cfg) = &p.privacy {
            for problem in privacy_problems(cfg) {
                self.problems
                    .push(format!("{}: {problem}", self.loaded.at_key("privacy")));
            }
        }
        if let Some(points) = &p.points {
            self.int("points.daily_cap", "points.daily_cap", points.daily_cap, 0, MAX_POINTS);
            self.int(
                "points.expiry_days",
                "points.expiry_days",
                points.expiry_days,
                0,
                MAX_DAYS,
            );
            self.unique("points.rules", points.rules.iter().map(|r| r.id.as_str()));
            for (i, r) in points.rules.iter().enumerate() {
                let what = format!("points.rules[id={}]", r.id);
                let at = |key: &str| format!("points.rules[{i}].{key}");
                self.int(&at("points"), &what, r.points, 0, MAX_POINTS);
                self.int(&at("max_per_event"), &what, r.max_per_event, 0, MAX_POINTS);
                self.int(&at("daily_cap"), &what, r.daily_cap, 0, MAX_POINTS);
                self.int(&at("max_times"), &what, r.max_times, 0, MAX_POINTS);
                if let Some(per) = &r.per {
                    self.int(
                        &at("per.points"),
                        &format!("{what}.per"),
                        Some(per.points),
                        0,
                        MAX_POINTS,
                    );
                }
            }
        }
        if let Some(crate::pipeline::config::Catalog::Prices(prices)) =
            p.redemption.as_ref().and_then(|r| r.catalog.as_ref())
        {
            for (item, price) in prices {
                let at = format!("redemption.catalog.{item}");
                self.non_negative(&at, &at, *price);
            }
        }
        if let Some(t) = &p.tiers {
            self.int("tiers.window_days", "tiers.window_days", t.window_days, 1, MAX_DAYS);
            self.int("tiers.grace_days", "tiers.grace_days", Some(t.grace_days), 0, MAX_DAYS);
            self.unique("tiers.levels", t.levels.iter().map(|l| l.id.as_str()));
            for (i, l) in t.levels.iter().enumerate() {
                self.int(
                    &format!("tiers.levels[{i}].min"),
                    &format!("tiers.levels[id={}].min", l.id),
                    Some(l.min),
                    0,
                    i64::MAX / 4,
                );
            }
        }
        for (name, m) in &p.metrics {
            self.int(
                &format!("metrics.{name}.window_days"),
                &format!("metrics.{name}.window_days"),
                m.window_days,
                1,
                MAX_DAYS,
            );
        }
        if let Some(l) = &p.layers {
            self.unique("layers.levels", l.levels.iter().map(|x| x.id.as_str()));
        }
        if let Some(s) = &p.scouting {
            for (i, f) in s.features.iter().enumerate() {
                self.non_negative(
                    &format!("scouting.features[{i}].weight"),
                    &format!("scouting.features[{}].weight", f.metric),
                    f.weight,
                );
            }
            if let Some(ms) = s.flag.min_score {
                self.non_negative("scouting.flag.min_score", "scouting.flag.min_score", ms);
            }
            if let Some(sp) = &s.specialty {
                self.specialty("scouting.specialty", sp);
            }
        }
        self.unique("contests", p.contests.iter().map(|c| c.id.as_str()));
        for (ci, c) in p.contests.iter().enumerate() {
            let what = format!("contests[id={}]", c.id);
            if !is_file_safe(&c.id) {
                self.say(
                    &format!("contests[{ci}].id"),
                    &what,
                    &format!("the id '{}' cannot name a file (contest_<id>.csv)", c.id),
                    "use letters, digits, '-', '_' or '.', not starting with '.'",
                );
            }
            for (ri, r) in c.rubric.iter().enumerate() {
                self.non_negative(
                    &format!("contests[{ci}].rubric[{ri}].weight"),
                    &format!("{what}.rubric[{}].weight", r.criterion),
                    r.weight,
                );
                if let Some([lo, hi]) = r.scale {
                    if !(lo.is_finite() && hi.is_finite() && lo < hi) {
                        self.say(
                            &format!("contests[{ci}].rubric[{ri}].scale"),
                            &format!("{what}.rubric[{}].scale", r.criterion),
                            &format!("[{lo}, {hi}] is not a scale"),
                            "give [lowest, highest] with lowest < highest",
                        );
                    }
                }
            }
        }
        self.unique("goals", p.goals.iter().map(|g| g.id.as_str()));
        for (gi, g) in p.goals.iter().enumerate() {
            let t = &g.target;
            for v in [t.value, t.multiply, t.add].into_iter().flatten() {
                if !v.is_finite() {
                    self.say(
                        &format!("goals[{gi}].target"),
                        &format!("goals[id={}].target", g.id),
                        &format!("{v} is not a finite number"),
                        "give a finite number",
                    );
                }
            }
            if let Some(crate::pipeline::config::BaselineCfg::Number(b)) = &g.baseline {
                if !b.is_finite() {
                    self.say(
                        &format!("goals[{gi}].baseline"),
                        &format!("goals[id={}].baseline", g.id),
                        &format!("{b} is not a finite number"),
                        "give a finite number or a {from, to} span",
                    );
                }
            }
        }
        if let Some(c) = &p.care {
            self.int("care.horizon_days", "care.horizon_days", Some(c.horizon_days), 0, 3_660);
        }
    }

    fn specialty(&mut self, what: &str, sp: &crate::pipeline::config::SpecialtyCfg) {
        self.int(
            &format!("{what}.window_days"),
            &format!("{what}.window_days"),
            Some(sp.window_days),
            1,
            MAX_DAYS,
        );
        if !(0.0..=1.0).contains(&sp.min_share) {
            self.say(
                &format!("{what}.min_share"),
                &format!("{what}.min_share"),
                &format!("{} is not a share", sp.min_share),
                "use a number from 0 to 1",
            );
        }
    }

    fn sources(&mut self, p: &Pipeline) {
        for spec in crate::table::ALL {
            let Some(cfg) = p.sources.of(spec.name) else {
                continue;
            };
            let what = format!("sources.{}", spec.name);
            if cfg.path.trim().is_empty() {
                self.say(
                    &format!("{what}.path"),
                    &format!("{what}.path"),
                    "the path is empty",
                    "give the export's file or glob",
                );
            }
            if let Some(e) = &cfg.encoding {
                let known = [
                    "auto", "utf-8", "utf8", "gbk", "gb2312", "gb18030", "utf-16", "utf16", "utf-16le", "utf-16be",
                ];
                if !known.contains(&e.to_ascii_lowercase().as_str()) {
                    self.say(
                        &format!("{what}.encoding"),
                        &format!("{what}.encoding"),
                        &format!("unknown encoding '{e}'"),
                        "use auto, utf-8, gbk, gb18030 or utf-16",
                    );
                }
            }
            if let Some(d) = &cfg.delimiter {
                if !(["auto", "tab", "\\t"].contains(&d.as_str()) || d.len() == 1 && d.is_ascii()) {
                    let hint = if d.chars().count() == 1 {
                        format!("'{d}' is one character but not an ASCII one; use , \\t ; | or auto (and re-save the export with an ASCII delimiter)")
                    } else {
                        "use one ASCII character (, \\t ; |) or auto".to_string()
                    };
                    self.say(
                        &format!("{what}.delimiter"),
                        &format!("{what}.delimiter"),
                        &format!("delimiter '{d}' is not usable"),
                        &hint,
                    );
                }
            }
            for (fi, f) in cfg.timestamp_formats.iter().flatten().enumerate() {
                let has_date = ["%Y", "%y", "%F", "%D", "%G"].iter().any(|t| f.contains(t))
                    && (["%F", "%D", "%j"].iter().any(|t| f.contains(t))
                        || ((f.contains("%m") || f.contains("%b")) && (f.contains("%d") || f.contains("%e"))));
                if !has_date {
                    self.say(
                        &format!("{what}.timestamp_formats[{fi}]"),
                        &format!("{what}.timestamp_formats"),
                        &format!("'{f}' has no full date (year, month and day)"),
                        "include %Y, %m and %d, e.g. \"%Y/%m/%d %H:%M\"",
                    );
                }
            }
        }
    }
}

/// An id that can be part of a file name on every system.
pub fn is_file_safe(id: &str) -> bool {
    !id.is_empty()
        && !id.starts_with('.')
        && id.len() <= 100
        && id.chars().all(|c| !c.is_control() && !r#"/\:*?"<>|"#.contains(c))
}

/// Pipeline checks of the section: known columns; required ones can be hashed, not dropped.
fn privacy_problems(cfg: &crate::pipeline::config::PrivacyCfg) -> Vec<String> {
    use crate::table::{Kind, ALL};
    let mut out = Vec::new();
    let columns = || ALL.iter().flat_map(|s| s.cols.iter());
    for name in &cfg.drop {
        match columns().find(|c| c.name == name) {
            None => out.push(format!("privacy.drop: '{name}' is not a column of any source")),
            Some(_) if columns().any(|c| c.name == name && c.required) => out.push(format!(
                "privacy.drop: '{name}' is required by a source and cannot be dropped (hash it instead)"
            )),
            Some(c) if !matches!(c.kind, Kind::Text | Kind::Date) => {
                out.push(format!("privacy.drop: '{name}' is not a text or date column"))
            }
            _ => {}
        }
    }
    for name in &cfg.hash {
        match columns().find(|c| c.name == name) {
            None => out.push(format!("privacy.hash: '{name}' is not a column of any source")),
            Some(c) if c.kind != Kind::Text => out.push(format!("privacy.hash: '{name}' is not a text column")),
            _ => {}
        }
    }
    out
}
