//! What each command does with the library, and what it prints (SPEC §2).
use crate::cmd::cli::{AsOf, Cli, Command, Format, Stage};
use crate::cmd::shards::{LaidOut, LaidOutFor};
use crate::output::Table;
use anyhow::Result;
use koc_engine::compute::Computed;
use koc_engine::model::Dataset;
use koc_engine::pipeline::config;
use koc_engine::pipeline::program::Program;
use koc_engine::store::Store;
use serde_json::json;

pub fn dispatch(cli: Cli) -> Result<u8> {
    let out = Printer {
        quiet: cli.quiet,
        json: cli.format == Format::Json,
    };
    let reply = cli.format == Format::Reply;
    if reply && !matches!(cli.command, Command::Explain { .. }) {
        return Err(koc_engine::error::usage_err(
            "--format reply is for koc explain (a few sentences to the member); use text or json here",
        ));
    }
    match cli.command {
        Command::Init { dir } => {
            let last = crate::cmd::synth::init(&dir)?;
            out.line(&format!(
                "scaffolded a program in {}; its sample data ends on {}, so try: koc run {}/pipeline.yaml --as-of {}",
                dir.display(),
                koc_engine::fmt::fmt_day(last),
                dir.display(),
                koc_engine::fmt::fmt_day(last)
            ));
            Ok(0)
        }
        Command::Validate { pipeline } => {
            let result = crate::cmd::validate::validate(&out, &pipeline);
            if let (true, Err(e)) = (out.json, &result) {
                // the listing as data too (the text still goes to stderr)
                out.json(&json!({"ok": false, "exit": koc_engine::error::exit_code_of(e), "problems": crate::cmd::validate::problems_of(&format!("{e:#}"))}));
            }
            result
        }
        Command::Ingest {
            pipeline,
            memory_budget,
            split,
        } => {
            let loaded = load(&pipeline)?;
            let budget = budget_of(memory_budget, &loaded)?;
            let store = Store::open_locked(&loaded.file().store_dir())?;
            let report = match budget {
                Some(b) => koc_engine::ingest::passes::ingest_within(&loaded, &store, !cli.quiet, b)?,
                None => koc_engine::ingest::ingest(&loaded, &store, !cli.quiet)?,
            };
            out.warnings(&report.warnings);
            if !out.json {
                out.ingest(&report);
            }
            // the store as this ingest left it, laid out for the shard tasks, or for the
            // shards a run within the same budget computes
            let laid_out = crate::cmd::shards::lay_out_after_ingest(&loaded, &store, split, budget, !cli.quiet);
            if out.json {
                // the files' report even when the layout failed (they are stored)
                let mut v = serde_json::to_value(&report)?;
                if let Ok(Some(l)) = &laid_out {
                    v["laid_out"] = json!({"for": laid_out_for(l), "shards": l.shards, "split_now": l.split_now, "months": l.months});
                }
                out.json(&v);
            } else if let Ok(Some(l)) = &laid_out {
                let whom = match l.for_whom {
                    LaidOutFor::Tasks => format!("{} shard tasks", l.shards),
                    LaidOutFor::Budget => format!("the {} shards of a run within the memory budget", l.shards),
                };
                out.line(&format!(
                    "laid out for {whom} ({} of {} months split now, the rest kept)",
                    l.split_now, l.months
                ));
            }
            laid_out?;
            report.gate(loaded.file().pipeline.ingest.max_reject_ratio)?;
            Ok(0)
        }
        Command::Run(crate::cmd::cli::RunArgs {
            at,
            shard: Some(shard),
            out: Some(dir),
            ..
        }) => {
            let loaded = load(&at.pipeline)?;
            let d = crate::cmd::run::as_of(&loaded, at.as_of.as_deref())?;
            let shard = koc_engine::shard::Shard::parse(&shard, |k| std::env::var(k).ok())
                .map_err(|e| koc_engine::error::usage_err(format!("{e:#}")))?;
            let part = crate::cmd::shards::shard(&loaded, d, shard, &dir, !cli.quiet)?;
            if out.json {
                out.json(&json!({"shard": shard.to_string(), "part": part}));
            } else {
                out.line(&format!("shard {shard}: {}", part.display()));
            }
            Ok(0)
        }
        Command::Merge { at, dirs } => {
            let loaded = load(&at.pipeline)?;
            let d = crate::cmd::run::as_of(&loaded, at.as_of.as_deref())?;
            let r = crate::cmd::shards::merge(&loaded, d, &dirs, !cli.quiet)?;
            out.warnings(&r.warnings);
            let report = r.folder.join("report.html");
            if out.json {
                out.json(&json!({"run": r.folder, "report": report}));
            } else {
                out.line(&format!("run folder: {}", r.folder.display()));
                out.line(&format!("report: {}", report.display()));
            }
            // the merge ingests nothing, so no file was gated by it; stale data is as for a run
            stale_exit(&r, d)
        }
        Command::Run(crate::cmd::cli::RunArgs { at, memory_budget, .. }) => {
            let loaded = load(&at.pipeline)?;
            let d = crate::cmd::run::as_of(&loaded, at.as_of.as_deref())?;
            let budget = budget_of(memory_budget, &loaded)?;
            let unsharded = crate::cmd::shard_plan::ShardPlan { count: 1, at_once: 1 };
            let (r, plan) = match budget {
                Some(b) => crate::cmd::shards::run_within(&loaded, d, b, !cli.quiet)?,
                None => (crate::cmd::run::run(&loaded, d, !cli.quiet)?, unsharded),
            };
            out.warnings(&r.warnings);
            let report = r.folder.join("report.html");
            if out.json {
                out.json(&json!({"ingest": r.ingest, "run": r.folder, "report": report, "shards": plan.count, "shards_at_once": plan.at_once, "exit": if r.gate_failed { 3 } else { 0 }}));
            } else {
                out.ingest(&r.ingest);
                match plan {
                    crate::cmd::shard_plan::ShardPlan { count: 1, .. } => {}
                    crate::cmd::shard_plan::ShardPlan { count, at_once: 1 } => out.line(&format!(
                        "computed in {count} shards of the members, one after another, to stay within the memory budget"
                    )),
                    crate::cmd::shard_plan::ShardPlan { count, at_once } => out.line(&format!(
                        "computed in {count} shards of the members, {at_once} at a time, to stay within the memory budget"
                    )),
                }
                out.line(&format!("run folder: {}", r.folder.display()));
                out.line(&format!("report: {}", report.display()));
            }
            if r.gate_failed {
                r.ingest.gate(loaded.file().pipeline.ingest.max_reject_ratio)?;
            }
            stale_exit(&r, d)
        }
        Command::Report { at, dump_context } => report(&out, &at, dump_context),
        Command::Simulate {
            at,
            scenarios,
            sets,
            sweep,
            out: dir,
        } => {
            let req = crate::cmd::simulate::Request {
                pipeline: at.pipeline,
                scenarios,
                sets,
                sweep,
                as_of: at.as_of,
                out: dir,
                progress: !cli.quiet,
            };
            let r = crate::cmd::simulate::simulate(&req)?;
            if out.json {
                out.json(&serde_json::to_value(&r.headline)?);
            } else {
                for l in crate::output::summary::render(&r.headline) {
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
            if members == 0 || members > 10_000_000 || days == 0 || days > 3_660 {
                return Err(koc_engine::error::KocError::usage(format!(
                    "koc synth --members {members} --days {days}: out of range"
                ))
                .with_hint("use 1 to 10,000,000 members and 1 to 3,660 days")
                .into());
            }
            let n = crate::cmd::synth::write(&dir, members, days, seed)?;
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
        Command::CheckStore { pipeline } => check_store(&out, &pipeline),
        Command::Explain { at, member } => {
            let (loaded, ds, computed) = compute_at(&at)?;
            let (v, extras) = crate::cmd::explain::explain_with_extras(&loaded, &ds, &computed, &member)?;
            let en = loaded.locale.is_en();
            if out.json {
                out.json(&v);
            } else if reply {
                for l in crate::output::explain_summary::reply(&v, &extras, en) {
                    out.line(&l);
                }
            } else {
                for l in crate::output::explain_text::render_text(&v, &extras, en) {
                    out.line(&l);
                }
            }
            Ok(0)
        }
        Command::Notify { at, dry_run, force } => {
            let loaded = load(&at.pipeline)?;
            let d = crate::cmd::run::as_of(&loaded, at.as_of.as_deref())?;
            let options = crate::cmd::notify::Options { dry_run, force };
            let report = crate::cmd::notify::notify(&loaded, d, &options, &mut |line| out.line(line))?;
            if out.json {
                out.json(&serde_json::to_value(&report)?);
            }
            report.result()?;
            Ok(0)
        }
        Command::Completions { shell } => {
            let mut cmd = <Cli as clap::CommandFactory>::command();
            let mut buf = Vec::new();
            clap_complete::generate(shell, &mut cmd, "koc", &mut buf);
            stdout_bytes(&buf);
            Ok(0)
        }
        Command::RenderTemplate { pipeline, name } => {
            crate::output::templating::limit_memory(crate::output::templating::TEMPLATE_MEMORY)?;
            let loaded = config::load(&pipeline)?;
            let ctx: serde_json::Value = serde_json::from_reader(std::io::BufReader::new(std::io::stdin().lock()))?;
            let out = crate::output::report::render_one(&loaded, &name, &ctx)?;
            stdout_bytes(&out);
            Ok(0)
        }
        Command::Man => {
            let mut buf = Vec::new();
            clap_mangen::Man::new(<Cli as clap::CommandFactory>::command()).render(&mut buf)?;
            buf.extend_from_slice(MAN_SECTIONS.as_bytes());
            stdout_bytes(&buf);
            Ok(0)
        }
        Command::Contest { stage: s, id } => stage(&out, &s, "contest", id.as_deref()),
    }
}

/// Read the pipeline file and check it into the program the stages run.
/// Exit 3 after a run folder was written for stale data with `ingest.fail_on_stale`.
fn stale_exit(r: &crate::cmd::run::RunOutcome, d: koc_engine::fmt::Day) -> Result<u8> {
    if r.stale_failed {
        return Err(koc_engine::error::KocError::new(
            koc_engine::error::ErrorKind::QualityGate,
            format!(
                "the data is stale for {} (ingest.fail_on_stale is set); the run folder was written",
                koc_engine::fmt::fmt_day(d)
            ),
        )
        .with_hint("check that tonight's exports arrived, then run again")
        .into());
    }
    Ok(0)
}

pub(crate) fn load(path: &std::path::Path) -> Result<Program> {
    koc_engine::pipeline::check::check(config::load(path)?)
}

/// Compute everything from the stored events at D; the store is not written.
fn compute_at(at: &AsOf) -> Result<(Program, Dataset, Computed)> {
    let loaded = load(&at.pipeline)?;
    let d = crate::cmd::run::as_of(&loaded, at.as_of.as_deref())?;
    let store = Store::open_read(&loaded.file().store_dir());
    let manifest = store.manifest()?;
    let ds = Dataset::load(&store, &manifest, d)?;
    let computed = koc_engine::compute::compute(&loaded, &ds)?;
    Ok((loaded, ds, computed))
}

fn report(out: &Printer, at: &AsOf, dump: bool) -> Result<u8> {
    let (loaded, ds, computed) = compute_at(at)?;
    let store = Store::open_read(&loaded.file().store_dir());
    let manifest = store.manifest()?;
    let folder = store.dir.join("runs").join(koc_engine::fmt::fmt_day(computed.as_of));
    // the gated files and warnings of that run, from its run.json
    let mut gated: Vec<String> = Vec::new();
    let mut warnings: Vec<koc_engine::diagnostics::Warning> = Vec::new();
    if let Ok(text) = std::fs::read_to_string(folder.join("run.json")) {
        let v: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
        for f in v["ingest"].as_array().into_iter().flatten() {
            if f["status"] == "gated" {
                gated.push(f["path"].as_str().unwrap_or_default().to_string());
            }
        }
        warnings = serde_json::from_value(v["warnings"].clone()).unwrap_or_default();
    }
    let ctx = crate::output::report::build(
        &loaded,
        &ds,
        &computed,
        &manifest,
        &warnings,
        &gated,
        &store.dir.join("runs"),
    )?;
    if dump {
        stdout_line(&serde_json::to_string_pretty(&ctx)?);
        return Ok(0);
    }
    if !folder.exists() {
        return Err(
            koc_engine::error::KocError::usage(format!("no finished run at {}", folder.display()))
                .with_hint("run `koc run` for that date first")
                .into(),
        );
    }
    crate::output::report::render_all(loaded.file(), &ctx, &folder)?;
    out.line(&format!("report: {}", folder.join("report.html").display()));
    Ok(0)
}

fn stage(out: &Printer, s: &Stage, which: &str, contest: Option<&str>) -> Result<u8> {
    let (loaded, ds, c) = compute_at(&s.at)?;
    // `--out -`: the table on stdout, the summary on stderr
    let to_stdout = s.out.as_deref().is_some_and(|p| p.as_os_str() == "-");
    if let Some(path) = s.out.as_ref().filter(|_| !to_stdout) {
        koc_engine::store::refuse_output_inside(&loaded.file().store_dir(), path, "--out")?;
    }
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
                return Err(koc_engine::error::usage_err(format!(
                    "no contest '{id}' in the pipeline (known: {})",
                    c.contests.iter().map(|k| k.id.as_str()).collect::<Vec<_>>().join(", ")
                )));
            }
            format!("contest_{id}")
        }
    };
    let tables = crate::output::tables::build(&loaded, &ds, &c)?;
    let summary = crate::output::summary::of(which, &ds, &c, &tables, &table_name);
    if to_stdout {
        if !out.quiet {
            for l in &summary.lines {
                eprintln!("{l}");
            }
        }
        if let Some(t) = tables.get(&table_name) {
            stdout_bytes(&t.to_csv()?);
        }
        return Ok(0);
    }
    if out.json {
        out.json(&summary.json);
    } else {
        for l in &summary.lines {
            out.line(l);
        }
    }
    if let (Some(path), Some(t)) = (&s.out, tables.get(&table_name)) {
        std::fs::write(path, t.to_csv()?).map_err(|e| {
            koc_engine::error::KocError::new(
                koc_engine::error::ErrorKind::Runtime,
                format!("cannot write --out {}: {e}", path.display()),
            )
            .with_hint("give a path in an existing folder you can write to")
        })?;
    }
    Ok(0)
}

/// The man page's sections clap does not write (roff).
const MAN_SECTIONS: &str = r#".SH "EXIT STATUS"
.TP
\fB0\fR
ok (warnings, if any, went to stderr and run.json)
.TP
\fB1\fR
a runtime error: a damaged store file (named, with the repair), a full disk, a failed notify delivery
.TP
\fB2\fR
a usage or pipeline-file error, at file:line:column with a fix
.TP
\fB3\fR
the data-quality gate: a file with too many rejected rows changed nothing (the run folder is still written)
.TP
\fB4\fR
another koc command (its process id named) holds the store's lock
.SH FILES
.TP
\fIPIPELINE\fR
the pipeline file (YAML); paths in it are relative to its folder
.TP
\fISTORE\fR/manifest.json, \fISTORE\fR/events/, \fISTORE\fR/tables/
the event store; every data file is named by its checksum and verified when read
.TP
\fISTORE\fR/split/
the months laid out for shards (by a run or an ingest under a memory budget, or koc ingest \-\-split N); a cache, safe to delete
.TP
\fISTORE\fR/rejects/
rejected rows with line, column, value and reason (following privacy:)
.TP
\fISTORE\fR/runs/\fID\fR/
one folder per as-of date: report.html, report.md, report.xlsx, run.json, the CSV and Parquet outputs, digest.md, notices.csv and notify.json
.SH ENVIRONMENT
.TP
\fBRAYON_NUM_THREADS\fR, \fBPOLARS_MAX_THREADS\fR
threads to use, and under a memory budget how many shards run at once (outputs are the same whatever the count)
.TP
the variables a pipeline's \fBnotify\fR entries name (url_env, secret_env), and privacy's salt_env
read by koc notify and koc ingest; never printed or written
.TP
\fBKOC_TIMINGS\fR
print each stage's time and memory to stderr
.SH EXAMPLES
.nf
koc init myprogram && koc run myprogram/pipeline.yaml --as-of 2025-03-31
koc validate pipelines/prod.yaml
koc run pipelines/prod.yaml --quiet && koc notify pipelines/prod.yaml --quiet
koc explain pipelines/prod.yaml M10023 --as-of 2025-06-30
koc simulate pipelines/prod.yaml --sweep badges.regular.count=10,30,60
koc tiers pipelines/prod.yaml --out - | head
.fi
"#;

/// Bytes on stdout, quiet on a closed pipe like `stdout_line`.
fn stdout_bytes(bytes: &[u8]) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(bytes).and_then(|_| out.flush());
}

/// One line on stdout. A closed stdout (`koc … | head`) is not an error: the rest
/// of the output is dropped quietly and the command keeps its exit code (SPEC §2).
pub fn stdout_line(s: &str) {
    use std::io::Write;
    use std::sync::atomic::{AtomicBool, Ordering};
    static CLOSED: AtomicBool = AtomicBool::new(false);
    if CLOSED.load(Ordering::Relaxed) {
        return;
    }
    let mut out = std::io::stdout().lock();
    if writeln!(out, "{s}").and_then(|_| out.flush()).is_err() {
        CLOSED.store(true, Ordering::Relaxed);
    }
}

fn check_store(out: &Printer, path: &std::path::Path) -> Result<u8> {
    let loaded = load(path)?;
    let store = Store::open_read(&loaded.file().store_dir());
    if !store.dir.exists() {
        return Err(koc_engine::error::usage_err(format!(
            "no store at {} (sets `store:` in {})",
            store.dir.display(),
            loaded.file().path.display()
        )));
    }
    let r = crate::cmd::check_store::check(&store)?;
    if out.json {
        out.json(&serde_json::to_value(&r)?);
    } else {
        for f in &r.findings {
            out.line(&format!("{}: {}\n  fix: {}", f.path, f.problem, f.fix));
        }
        out.line(&format!(
            "{}: {} data files, {} events, {} problems",
            store.dir.display(),
            r.files_checked,
            r.events,
            r.findings.len()
        ));
    }
    Ok(if r.findings.is_empty() { 0 } else { 1 })
}

pub struct Printer {
    pub quiet: bool,
    pub json: bool,
}

impl Printer {
    pub fn line(&self, s: &str) {
        if !self.quiet {
            stdout_line(s);
        }
    }
    pub fn json(&self, v: &serde_json::Value) {
        stdout_line(&serde_json::to_string_pretty(v).unwrap_or_default());
    }
    /// Warnings go to stderr as `warning: …` (SPEC §2); `--quiet` silences them.
    pub fn warnings(&self, list: &[koc_engine::diagnostics::Warning]) {
        if !self.quiet {
            for w in list {
                eprintln!("warning: {}", w.message);
            }
        }
    }
    pub fn ingest(&self, r: &koc_engine::ingest::IngestReport) {
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
        let mut push = |labels: [&str; 3], c: &koc_engine::store::Counts| {
            let mut row: Vec<crate::output::Cell> = labels.iter().map(|s| crate::output::p(*s)).collect();
            row.extend(c.values().iter().map(|n| crate::output::p(n.to_string())));
            t.push(row);
        };
        for f in &r.files {
            push([&f.path, &f.source, f.status.as_str()], &f.counts);
        }
        push(["total", "", ""], &r.totals);
        for l in crate::output::summary::render(&t) {
            self.line(&l);
        }
        self.line(&format!(
            "events of members not in the members export: {}",
            r.events_of_unknown_members
        ));
    }
}

/// `laid_out.for` in the ingest's JSON.
fn laid_out_for(l: &LaidOut) -> &'static str {
    match l.for_whom {
        LaidOutFor::Tasks => "tasks",
        LaidOutFor::Budget => "budget",
    }
}

/// The memory budget of an ingest or a run: `--memory-budget`, else the pipeline's
/// `ingest.memory_budget`, else none.
fn budget_of(flag: Option<String>, loaded: &Program) -> Result<Option<u64>> {
    Ok(match budget_flag(flag)? {
        Some(b) => Some(b),
        None => {
            (loaded.file().pipeline.ingest.memory_budget.as_deref()).and_then(koc_engine::ingest::passes::parse_bytes)
        }
    })
}

/// `--memory-budget` as bytes (None without the option).
fn budget_flag(flag: Option<String>) -> Result<Option<u64>> {
    flag.map(|b| {
        koc_engine::ingest::passes::parse_bytes(&b).ok_or_else(|| {
            koc_engine::error::KocError::usage(format!("--memory-budget '{b}' is not a size"))
                .with_hint("write a size such as 6G, 512M or 800MB")
                .into()
        })
    })
    .transpose()
}
