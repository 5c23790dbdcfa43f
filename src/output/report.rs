//! The report (SPEC §10): a typed template context from the computed stages,
//! rendered with minijinja from templates embedded in the binary (overridable by
//! name). Undefined names are errors: a template naming a field the context lacks
//! fails instead of printing a blank.
use crate::output::actions::Actions;
use crate::output::report_growth::{Growth, HallOfFame};
use crate::output::report_outcomes::{self as outcomes, *};
use crate::output::report_sections::{self as sections, *};
use anyhow::{Context as _, Result};
use indexmap::IndexMap;
use koc_engine::compute::Computed;
use koc_engine::fmt::fmt_day;
use koc_engine::model::Dataset;
use koc_engine::pipeline::config::Loaded;
use koc_engine::pipeline::program::Program;
use koc_engine::stages::facts::Facts;
use koc_engine::store::{Counts, Manifest};
use minijinja::{Environment, UndefinedBehavior};
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;

/// The templates built into the binary: (file name, text).
pub const EMBEDDED: [(&str, &str); 2] = [
    ("report.html", include_str!("../../templates/report.html")),
    ("report.md", include_str!("../../templates/report.md")),
];

const LABELS_ZH: &str = include_str!("../../templates/labels.zh-CN.json");
const LABELS_EN: &str = include_str!("../../templates/labels.en.json");

/// Everything the report templates see, in the order `--dump-context` prints it.
#[derive(Debug, Clone, Serialize)]
pub struct Context {
    /// The locale: `zh-CN` or `en`.
    pub lang: koc_engine::pipeline::program::Locale,
    /// The locale's labels (templates/labels.*.json).
    pub t: Value,
    pub program: ProgramInfo,
    pub as_of: String,
    pub headline: Headline,
    pub goals: Vec<GoalRow>,
    pub points: PointsSection,
    pub tiers: Vec<TierRow>,
    pub tier_chart: String,
    pub tier_changes: TierChanges,
    /// Members in a grace period, earliest demotion first.
    pub grace: Vec<GraceRow>,
    pub layers: Vec<LayerCount>,
    pub layer_chart: String,
    pub movement_matrix: MovementMatrix,
    pub movements: Vec<MovementRow>,
    /// The flagged newcomers.
    pub newcomers: Vec<NewcomerRow>,
    pub contests: Vec<ContestSection>,
    pub care: Vec<CareRow>,
    pub incentives: Vec<IncentiveRow>,
    pub actions: Actions,
    /// None without a hall_of_fame section.
    pub hall_of_fame: Option<HallOfFame>,
    /// None without a badges section.
    pub badges: Option<crate::output::messages::BadgeSection>,
    /// None without a growth section.
    pub growth: Option<Growth>,
    pub quality: Quality,
    /// Warnings and gated files (`add_run_notes`).
    pub banners: Vec<Banner>,
    /// The store's latest ingest (`add_run_notes`): a function of the store's data,
    /// so re-runs give the same bytes; headed "latest ingest", not "tonight's files",
    /// since a night without new files shows the previous batch.
    pub tonight: Vec<TonightFile>,
    /// The headline figures against the previous run, by figure (`add_changes`).
    pub changes: Option<IndexMap<String, Change>>,
    /// The date of the previous run, when there is one.
    pub previous_run: Option<String>,
    /// Each headline figure over the last runs up to D, by figure (`add_changes`).
    pub trends: IndexMap<String, crate::output::history::Trend>,
    /// Every run folder's headline and D's (`add_changes`): the trend's source, and
    /// what `history.parquet` and `runs/index.html` are written from.
    #[serde(skip)]
    pub nights: Vec<crate::output::history::Night>,
}

/// Data quality: files, rows, rejects by reason, unknown members, gated files.
#[derive(Debug, Clone, Serialize)]
pub struct Quality {
    pub files: Vec<QualityFile>,
    pub totals: Counts,
    pub reasons: Vec<RejectReason>,
    pub events_of_unknown_members: usize,
    pub gated: Vec<String>,
    /// Filled by `context` from the contests.
    pub judge_score_rejects: Vec<ScoreRejects>,
}

/// A stored file with its encoding and counts.
#[derive(Debug, Clone, Serialize)]
pub struct QualityFile {
    pub path: String,
    pub source: String,
    pub encoding: String,
    #[serde(flatten)]
    pub counts: Counts,
}

/// Rows rejected at ingest for one reason.
#[derive(Debug, Clone, Serialize)]
pub struct RejectReason {
    pub reason: String,
    pub rows: u64,
}

/// A warning or a gated file, shown above the report.
#[derive(Debug, Clone, Serialize)]
pub struct Banner {
    /// `warning` or `gated`.
    pub kind: &'static str,
    pub code: String,
    pub message: String,
}

/// A file of the store's latest ingest with its counts.
#[derive(Debug, Clone, Serialize)]
pub struct TonightFile {
    pub path: String,
    pub source: String,
    #[serde(flatten)]
    pub counts: Counts,
}

/// A headline figure against the previous run: `shown` is `▲ 46`, `▼ 3` or `=`.
#[derive(Debug, Clone, Serialize)]
pub struct Change {
    pub before: f64,
    pub delta: f64,
    pub shown: String,
}

/// Serialize a count as text, as the CSV cell it mirrors (`"12"`).
pub(crate) fn as_text<T: std::fmt::Display, S: serde::Serializer>(v: &T, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(v)
}

/// `t.<key>`, or `fallback` when the locale's labels lack it.
pub(crate) fn label<'a>(t: &'a Value, key: &str, fallback: &'a str) -> &'a str {
    t[key].as_str().unwrap_or(fallback)
}

/// `t.<group>.<key>`, or the key itself when the locale's labels lack it.
pub(crate) fn label_of<'a>(t: &'a Value, group: &str, key: &'a str) -> &'a str {
    t[group][key].as_str().unwrap_or(key)
}

/// Data-quality figures: files, rows, rejects by reason, unknown members.
pub fn quality(manifest: &Manifest, ds: &Dataset, facts: &[Facts], gated: &[String]) -> Quality {
    let mut reasons: BTreeMap<&str, u64> = BTreeMap::new();
    let mut totals = Counts::default();
    for f in &manifest.files {
        totals.add(&f.counts);
        for (r, n) in &f.reject_reasons {
            *reasons.entry(r).or_insert(0) += n;
        }
    }
    Quality {
        files: manifest
            .files
            .iter()
            .map(|f| QualityFile {
                path: f.path.clone(),
                source: f.source.clone(),
                encoding: f.encoding.clone(),
                counts: f.counts.clone(),
            })
            .collect(),
        totals,
        reasons: reasons
            .into_iter()
            .map(|(r, rows)| RejectReason {
                reason: r.to_string(),
                rows,
            })
            .collect(),
        events_of_unknown_members: ds
            .members
            .iter()
            .zip(facts)
            .filter(|(m, _)| !m.listed)
            .map(|(_, f)| f.events as usize)
            .sum(),
        gated: gated.to_vec(),
        judge_score_rejects: vec![],
    }
}

/// The member ids flagged in a run's newcomers.csv.
fn flagged_in(csv_text: &str) -> std::collections::HashSet<String> {
    let mut reader = csv::Reader::from_reader(csv_text.trim_start_matches('\u{feff}').as_bytes());
    let columns: Vec<String> = reader
        .headers()
        .map(|h| h.iter().map(str::to_string).collect())
        .unwrap_or_default();
    let (Some(id), Some(flag)) = (
        columns.iter().position(|c| c == "member_id"),
        columns.iter().position(|c| c == "flagged"),
    ) else {
        return Default::default();
    };
    reader
        .records()
        .flatten()
        .filter(|r| r.get(flag) == Some("true"))
        .filter_map(|r| r.get(id).map(|s| s.trim_start_matches('\'').to_string()))
        .collect()
}

/// The report's labels in the program's locale (also used by the simulation page).
pub fn report_labels(en: bool) -> Value {
    serde_json::from_str(if en { LABELS_EN } else { LABELS_ZH }).expect("embedded labels are valid JSON")
}

/// The report context of a run as the templates see it: the computed stages, what the
/// run says (its warnings and gated files) and what changed since the latest earlier
/// run in `runs`, nicknames masked if the privacy section says so.
pub fn build(
    loaded: &Program,
    ds: &Dataset,
    c: &Computed,
    manifest: &Manifest,
    warnings: &[koc_engine::diagnostics::Warning],
    gated: &[String],
    runs: &Path,
) -> Result<Value> {
    Ok(build_with_actions(loaded, ds, c, manifest, warnings, gated, runs)?.ctx)
}

/// `build`, and the action list as `actions.csv` (ids and nicknames as the data has them).
pub fn build_with_actions(
    loaded: &Program,
    ds: &Dataset,
    c: &Computed,
    manifest: &Manifest,
    warnings: &[koc_engine::diagnostics::Warning],
    gated: &[String],
    runs: &Path,
) -> Result<Built> {
    let mut report = context(loaded, ds, c, quality(manifest, ds, &c.facts, gated));
    report.add_run_notes(warnings, manifest);
    report.add_changes(runs);
    let actions = crate::output::actions::table(&report.actions, &report_labels(loaded.locale.is_en()));
    let ctx = report.to_value(
        loaded
            .file()
            .pipeline
            .privacy
            .as_ref()
            .is_some_and(|p| p.mask_nicknames),
    )?;
    Ok(Built {
        ctx,
        actions,
        nights: std::mem::take(&mut report.nights),
    })
}

/// What `koc run` writes from the report's context: the context itself, `actions.csv`,
/// and the nights (`history.parquet`, `runs/index.html`).
pub struct Built {
    pub ctx: Value,
    pub actions: crate::output::Table,
    pub nights: Vec<crate::output::history::Night>,
}

/// The context from the computed stages; `add_run_notes` and `add_changes` add what
/// the run and the earlier runs say.
pub fn context(loaded: &Program, ds: &Dataset, c: &Computed, mut quality: Quality) -> Context {
    let p = &loaded.file().pipeline;
    let en = loaded.locale.is_en();
    let t = report_labels(en);
    let sep = if en { ", " } else { "、" };
    let names = LevelNames::new(p);
    let balances = &c.points.balances;
    let sum = |f: fn(&koc_engine::stages::points::Balance) -> i64| balances.iter().map(f).sum::<i64>();
    let newcomers = sections::newcomers(p, ds, c);
    let care = outcomes::care(ds, c, &t, &names, en);
    let headline = Headline {
        members: ds.table_members().count(),
        active_30d: ds
            .table_members()
            .filter(|(i, _)| c.facts[*i].last_active.is_some_and(|d| d > c.as_of - 30))
            .count(),
        points_issued: sum(|b| b.earned),
        points_redeemed: sum(|b| b.redeemed),
        points_expired: sum(|b| b.expired),
        liability: sum(|b| b.balance),
        flagged_newcomers: newcomers.len(),
        goals: c.goals.len(),
        goals_on_track: c.goals.iter().filter(|g| g.status.is_good()).count(),
        care_occasions: care.len(),
    };
    let points = sections::points(ds, c, &t, &headline);
    let tier_counts = sections::tier_counts(c);
    let layers = sections::layers(c, &names.layers);
    let (movements, movement_matrix) = sections::movements(ds, c, &names.layers, label(&t, "new_member", "(new)"));
    quality.judge_score_rejects = outcomes::score_rejects(p, c);
    Context {
        lang: loaded.locale,
        program: ProgramInfo {
            name: p.program.name.clone(),
            start: p.program.start.clone(),
            timezone: p.program.timezone.clone(),
        },
        as_of: fmt_day(c.as_of),
        headline,
        goals: outcomes::goals(p, c, &t, sep),
        points,
        tiers: sections::tiers(p, &tier_counts, sep),
        tier_chart: bars(&names.tiers, tier_counts.iter().copied()),
        tier_changes: sections::tier_changes(c),
        grace: sections::grace(ds, c, &names.tiers),
        layer_chart: bars(&names.layers, layers.iter().map(|l| l.members)),
        layers,
        movement_matrix,
        movements,
        newcomers,
        contests: outcomes::contests(ds, c),
        care,
        incentives: outcomes::incentives(p, c, &t, sep),
        actions: crate::output::actions::compute(p, ds, c, &names),
        hall_of_fame: crate::output::report_growth::hall_of_fame(p, ds, c, &t),
        badges: crate::output::messages::badge_section(
            loaded,
            ds,
            &c.badges,
            p.privacy.as_ref().is_some_and(|x| x.mask_nicknames),
        ),
        growth: crate::output::report_growth::growth(p, ds, c, &t, &names.layers),
        quality,
        banners: vec![],
        tonight: vec![],
        changes: None,
        previous_run: None,
        trends: IndexMap::new(),
        nights: Vec::new(),
        t,
    }
}

/// A bar chart of members per level.
fn bars(names: &[String], counts: impl Iterator<Item = u64>) -> String {
    crate::output::charts::bars(&names.iter().cloned().zip(counts.map(|n| n as f64)).collect::<Vec<_>>())
}

impl Context {
    /// What this run adds (SPEC §11): a banner for every warning and every gated
    /// file, and tonight's files (the store's latest ingest) with their counts. Only
    /// what the store, pipeline and D fix goes in, so a re-run is identical: per-ingest
    /// notes (an empty file) show as that file's row and a banner from it.
    pub fn add_run_notes(&mut self, warnings: &[koc_engine::diagnostics::Warning], manifest: &Manifest) {
        let en = self.lang.is_en();
        let banner = |kind, code: &str, message: String| Banner {
            kind,
            code: code.to_string(),
            message,
        };
        let mut banners: Vec<Banner> = warnings
            .iter()
            .filter(|w| w.shown_in_report())
            .map(|w| banner("warning", w.code.as_str(), w.for_report(en).to_string()))
            .collect();
        for f in manifest.last_batch().filter(|f| f.counts.rows == 0) {
            let message = if en {
                format!("{} has no rows: check that the export is complete", f.path)
            } else {
                format!("{} 没有数据行：请确认导出是否完整", f.path)
            };
            banners.push(banner("warning", "empty_file", message));
        }
        for path in &self.quality.gated {
            let message = if en {
                format!("{path} was held back: too many rejected rows (see its rejects file); the figures below do not include it")
            } else {
                format!("{path} 拒收行过多，本次未入库（见其 rejects 文件）；以下数字不含该文件")
            };
            banners.push(banner("gated", "gated_file", message));
        }
        self.banners = banners;
        self.tonight = manifest
            .last_batch()
            .map(|f| TonightFile {
                path: f.path.clone(),
                source: f.source.clone(),
                counts: f.counts.clone(),
            })
            .collect();
    }

    /// The headline figures against the latest earlier run folder of the store (its
    /// run.json keeps them), when there is one.
    pub fn add_changes(&mut self, runs: &Path) {
        let now = serde_json::to_value(&self.headline).expect("the headline serializes");
        self.nights = crate::output::history::nights(runs, &self.as_of, &now);
        self.trends = crate::output::history::trends(&self.nights, &self.as_of);
        // the latest earlier run (its run.json keeps its headline)
        let Some(previous) = self.nights.iter().rev().find(|n| n.date < self.as_of).cloned() else {
            return;
        };
        // newcomers flagged at the previous run were offered their task then: the
        // action list keeps the newly flagged ones
        let folder = runs.join(&previous.date);
        if let Ok(text) = std::fs::read_to_string(folder.join("newcomers.csv")) {
            let before = flagged_in(&text);
            self.actions.newcomers.retain(|o| !before.contains(&o.member_id));
        }
        if let Ok(text) = std::fs::read_to_string(folder.join("actions.csv")) {
            self.actions.listed_before = crate::output::actions::listed_in(&text);
        }
        let mut changes = IndexMap::new();
        for (k, v) in now.as_object().into_iter().flatten() {
            if let (Some(a), Some(b)) = (v.as_f64(), previous.headline.get(k).and_then(Value::as_f64)) {
                let delta = a - b;
                let shown = match delta {
                    d if d > 0.0 => format!("▲ {}", crate::output::templating::people_number(d)),
                    d if d < 0.0 => format!("▼ {}", crate::output::templating::people_number(-d)),
                    _ => "=".to_string(),
                };
                changes.insert(
                    k.clone(),
                    Change {
                        before: b,
                        delta,
                        shown,
                    },
                );
            }
        }
        self.changes = Some(changes);
        self.previous_run = Some(previous.date);
    }

    /// The context as the templates and `--dump-context` see it; with `mask`
    /// (privacy.mask_nicknames) every `nickname` / `*_nickname` is masked.
    pub fn to_value(&self, mask: bool) -> Result<Value> {
        let mut v = serde_json::to_value(self).context("the report context")?;
        if mask {
            koc_engine::ingest::privacy::mask_nicknames(&mut v);
        }
        Ok(v)
    }
}

/// Render every template into `dir`; `report.templates` overrides embedded ones by name.
/// With custom templates, each renders in a child process under a memory limit
/// (`templating::render_in_child`): the embedded ones are koc's own.
pub fn render_all(loaded: &Loaded, ctx: &Value, dir: &Path) -> Result<()> {
    let custom = custom_templates(loaded).is_some();
    let mut timer = koc_engine::timing::Timer::new();
    for (name, _) in EMBEDDED {
        let out = match custom {
            true => crate::output::templating::render_in_child(&loaded.path, name, ctx),
            false => render_one(loaded, name, ctx),
        }
        .with_context(|| format!("rendering {name}"))?;
        koc_engine::store::write_atomic(&dir.join(name), &out)?;
        timer.lap(&format!("write: {name}"));
    }
    Ok(())
}

/// A message template (notices, the digest) rendered: in a child process when the
/// pipeline has its own templates folder, as `render_all` does for the report.
pub fn render_text(loaded: &Loaded, name: &str, ctx: &Value) -> Result<Vec<u8>> {
    match custom_templates(loaded) {
        Some(_) => crate::output::templating::render_in_child(&loaded.path, name, ctx),
        None => render_one(loaded, name, ctx),
    }
}

/// One template rendered in this process (`koc __render-template` in the child).
pub fn render_one(loaded: &Loaded, name: &str, ctx: &Value) -> Result<Vec<u8>> {
    let env = environment(loaded)?;
    let tmpl = env.get_template(name)?;
    crate::output::templating::render_bounded(&tmpl, ctx)
}

/// The folder of the pipeline's own templates, if it has one.
fn custom_templates(loaded: &Loaded) -> Option<std::path::PathBuf> {
    loaded
        .pipeline
        .report
        .as_ref()
        .and_then(|r| r.templates.as_ref())
        .map(|d| loaded.resolve(d))
}

fn environment(loaded: &Loaded) -> Result<Environment<'static>> {
    let mut env = crate::output::templating::sandboxed_environment();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    let override_dir = custom_templates(loaded);
    env.set_loader(move |name| {
        // only plain file names from the templates folder: no `../`, no absolute paths
        if name.is_empty() || name.contains(['/', '\\']) || name.starts_with('.') {
            return Err(minijinja::Error::new(
                minijinja::ErrorKind::InvalidOperation,
                format!("template '{name}': only file names of the report.templates folder can be loaded"),
            ));
        }
        if let Some(dir) = &override_dir {
            let path = dir.join(name);
            match std::fs::read_to_string(&path) {
                Ok(text) => return Ok(Some(text)),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => {
                    return Err(minijinja::Error::new(
                        minijinja::ErrorKind::InvalidOperation,
                        format!("cannot read {}", path.display()),
                    )
                    .with_source(e))
                }
            }
        }
        Ok(EMBEDDED
            .iter()
            .chain(&crate::output::history::TEMPLATES)
            .chain(&crate::output::messages::NOTICE_TEMPLATES)
            .chain(&crate::output::digest::TEMPLATES)
            .find(|(n, _)| *n == name)
            .map(|(_, t)| t.to_string()))
    });
    Ok(env)
}
