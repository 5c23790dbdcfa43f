//! What each command does with the library, and what it prints (SPEC §2).
use crate::cli::{AsOf, Cli, Command, Format, Stage};
use crate::compute::Computed;
use crate::config::{self, Loaded};
use crate::model::Dataset;
use crate::output::Table;
use crate::store::Store;
use anyhow::Result;
use serde_json::json;

pub fn dispatch(cli: Cli) -> Result<u8> {
    let out = Printer {
        quiet: cli.quiet,
        json: cli.format == Format::Json,
    };
    match cli.command {
        Command::Init { dir } => {
            crate::synth::init(&dir)?;
            out.line(&format!(
                "scaffolded a program in {}; try: koc run {}/pipeline.yaml",
                dir.display(),
                dir.display()
            ));
            Ok(0)
        }
        Command::Validate { pipeline } => validate(&out, &pipeline),
        Command::Ingest { pipeline } => {
            let loaded = load(&pipeline)?;
            let store = Store::open_locked(&loaded.store_dir())?;
            let report = crate::ingest::ingest(&loaded, &store, !cli.quiet)?;
            out.warnings(&report.warnings);
            out.ingest(&report);
            report.gate(loaded.pipeline.ingest.max_reject_ratio)?;
            Ok(0)
        }
        Command::Run(at) => {
            let loaded = load(&at.pipeline)?;
            let d = crate::run::as_of(&loaded, at.as_of.as_deref())?;
            let r = crate::run::run(&loaded, d, !cli.quiet)?;
            out.warnings(&r.ingest.warnings);
            let report = r.folder.join("report.html");
            if out.json {
                out.json(&json!({"ingest": r.ingest, "run": r.folder, "report": report, "exit": if r.gate_failed { 3 } else { 0 }}));
            } else {
                out.ingest(&r.ingest);
                out.line(&format!("run folder: {}", r.folder.display()));
                out.line(&format!("report: {}", report.display()));
            }
            if r.gate_failed {
                r.ingest.gate(loaded.pipeline.ingest.max_reject_ratio)?;
            }
            Ok(0)
        }
        Command::Report { at, dump_context } => report(&out, &at, dump_context),
        Command::Simulate {
            at,
            scenarios,
            sets,
            sweep,
            out: dir,
        } => {
            let req = crate::simulate::Request {
                pipeline: at.pipeline,
                scenarios,
                sets,
                sweep,
                as_of: at.as_of,
                out: dir,
            };
            let r = crate::simulate::simulate(&req)?;
            if out.json {
                out.json(&serde_json::to_value(&r.headline)?);
            } else {
                for l in crate::summary::render(&r.headline) {
                    out.line(&l);
                }
                out.line(&format!("simulation: {}", r.out.join("simulation.html").display()));
            }
            Ok(0)
        }
        Command::Synth {
            dir,
            members,
            days,
            seed,
        } => {
            let n = crate::synth::write(&dir, members, days, seed)?;
            out.line(&format!(
                "wrote {n} events for {members} members over {days} days to {}",
                dir.display()
            ));
            Ok(0)
        }
        Command::Points(s) => stage(&out, &s, "points", None),
        Command::Tiers(s) => stage(&out, &s, "tiers", None),
        Command::Layers(s) => stage(&out, &s, "layers", None),
        Command::Scout(s) => stage(&out, &s, "scout", None),
        Command::Care(s) => stage(&out, &s, "care", None),
        Command::Contest { stage: s, id } => stage(&out, &s, "contest", id.as_deref()),
    }
}

fn load(path: &std::path::Path) -> Result<Loaded> {
    let loaded = config::load(path)?;
    crate::check::check(&loaded)?;
    Ok(loaded)
}

fn validate(out: &Printer, path: &std::path::Path) -> Result<u8> {
    let loaded = load(path)?;
    let mut lines = Vec::new();
    for spec in crate::table::ALL {
        let Some(cfg) = crate::check::source_cfg(&loaded.pipeline, spec.name) else {
            continue;
        };
        let files = crate::sources::files_of(&loaded, spec.name, cfg)?;
        for f in &files {
            let export = crate::sources::open(f, cfg)?;
            export.map_header(spec, cfg)?;
            lines.push(format!(
                "{:<16} {} ({}, delimiter {:?})",
                spec.name,
                crate::ingest::relative(&loaded.dir, f),
                export.encoding,
                export.delimiter as char
            ));
        }
    }
    if out.json {
        out.json(&json!({"ok": true, "files": lines}));
    } else {
        for l in &lines {
            out.line(l);
        }
        out.line(&format!("{}: ok", path.display()));
    }
    Ok(0)
}

/// Compute everything from the stored events at D; the store is not written.
fn compute_at(at: &AsOf) -> Result<(Loaded, Dataset, Computed)> {
    let loaded = load(&at.pipeline)?;
    let d = crate::run::as_of(&loaded, at.as_of.as_deref())?;
    let store = Store::open_read(&loaded.store_dir());
    let manifest = store.manifest()?;
    let ds = Dataset::load(&store, &manifest, d)?;
    let computed = crate::compute::compute(&loaded, &ds)?;
    Ok((loaded, ds, computed))
}

fn report(out: &Printer, at: &AsOf, dump: bool) -> Result<u8> {
    let (loaded, ds, computed) = compute_at(at)?;
    let store = Store::open_read(&loaded.store_dir());
    let manifest = store.manifest()?;
    let folder = store.dir.join("runs").join(crate::fmt::fmt_day(computed.as_of));
    // the gated files of that run, from its run.json
    let mut ingest = crate::ingest::IngestReport::default();
    if let Ok(text) = std::fs::read_to_string(folder.join("run.json")) {
        let v: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
        for f in v["ingest"].as_array().into_iter().flatten() {
            if f["status"] == "gated" {
                ingest.gated.push(f["path"].as_str().unwrap_or_default().to_string());
            }
        }
    }
    let quality = crate::report::quality(&manifest, &ds, &ingest);
    let ctx = crate::report::context(&loaded, &ds, &computed, &quality)?;
    if dump {
        println!("{}", serde_json::to_string_pretty(&ctx)?);
        return Ok(0);
    }
    if !folder.exists() {
        return Err(
            crate::error::KocError::usage(format!("no finished run at {}", folder.display()))
                .with_hint("run `koc run` for that date first")
                .into(),
        );
    }
    crate::report::render_all(&loaded, &ctx, &folder)?;
    out.line(&format!("report: {}", folder.join("report.html").display()));
    Ok(0)
}

fn stage(out: &Printer, s: &Stage, which: &str, contest: Option<&str>) -> Result<u8> {
    let (_loaded, ds, c) = compute_at(&s.at)?;
    let table_name = match which {
        "points" => "balances".to_string(),
        "tiers" => "tiers".into(),
        "layers" => "layers".into(),
        "scout" => "newcomers".into(),
        "care" => "care_calendar".into(),
        _ => {
            let id = match contest {
                Some(id) => id.to_string(),
                None => c.contests.first().map(|k| k.id.clone()).unwrap_or_default(),
            };
            if !c.contests.iter().any(|k| k.id == id) {
                return Err(crate::error::usage_err(format!(
                    "no contest '{id}' in the pipeline (known: {})",
                    c.contests.iter().map(|k| k.id.as_str()).collect::<Vec<_>>().join(", ")
                )));
            }
            format!("contest_{id}")
        }
    };
    let summary = crate::summary::of(which, &ds, &c, &table_name);
    if out.json {
        out.json(&summary.json);
    } else {
        for l in &summary.lines {
            out.line(l);
        }
    }
    if let (Some(path), Some(t)) = (&s.out, c.table(&table_name)) {
        std::fs::write(path, t.to_csv()?)?;
    }
    Ok(0)
}

pub struct Printer {
    pub quiet: bool,
    pub json: bool,
}

impl Printer {
    pub fn line(&self, s: &str) {
        if !self.quiet {
            println!("{s}");
        }
    }
    pub fn json(&self, v: &serde_json::Value) {
        println!("{}", serde_json::to_string_pretty(v).unwrap_or_default());
    }
    /// Warnings go to stderr as `warning: …` (SPEC §2); `--quiet` silences them.
    pub fn warnings(&self, list: &[crate::ingest::Warning]) {
        if !self.quiet {
            for w in list {
                eprintln!("warning: {}", w.message);
            }
        }
    }
    pub fn ingest(&self, r: &crate::ingest::IngestReport) {
        if self.json {
            self.json(&serde_json::to_value(r).unwrap_or_default());
            return;
        }
        let mut t = Table::new(
            "ingest",
            &[
                "file",
                "source",
                "status",
                "rows",
                "inserted",
                "updated",
                "unchanged",
                "ignored",
                "rejected",
            ],
        );
        let mut push = |labels: [&str; 3], c: &crate::store::Counts| {
            let mut row: Vec<crate::output::Cell> = labels.iter().map(|s| crate::output::p(*s)).collect();
            row.extend(c.values().iter().map(|n| crate::output::p(n.to_string())));
            t.push(row);
        };
        for f in &r.files {
            push([&f.path, &f.source, &f.status], &f.counts);
        }
        push(["total", "", ""], &r.totals);
        for l in crate::summary::render(&t) {
            self.line(&l);
        }
        self.line(&format!(
            "events of members not in the members export: {}",
            r.events_of_unknown_members
        ));
    }
}
