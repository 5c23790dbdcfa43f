//! The command line (SPEC §2): one clap struct per command; doc comments are the help.
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

#[derive(Parser, Debug)]
#[command(
    name = "koc",
    version,
    about = "Nightly recompute of a KOC cultivation and incentive program"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// Print only errors.
    #[arg(long, global = true)]
    pub quiet: bool,
    /// Summary format on stdout.
    #[arg(long, global = true, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Text,
    Json,
    /// `koc explain` only: a few sentences to paste to the member.
    Reply,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Scaffold a new program (pipeline, templates, sample exports) in DIR.
    Init {
        /// An empty or new folder.
        dir: PathBuf,
    },
    /// Check the pipeline file and every source's header; write nothing.
    Validate {
        /// The pipeline file (YAML).
        pipeline: PathBuf,
    },
    /// Load new export files into the event store.
    Ingest {
        /// The pipeline file (YAML).
        pipeline: PathBuf,
        /// Ingest in passes that fit this much memory (6G, 512M), in place of
        /// `ingest.memory_budget`; the store is the same as one pass makes. Then, when a
        /// run within the budget needs shards, lay the months out for them.
        #[arg(long)]
        memory_budget: Option<String>,
        /// Then lay out every month for N shard tasks (`koc run --shard I/N`), so that
        /// each reads its members' rows only (docs/scale-out.md).
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(2..=1024))]
        split: Option<u64>,
    },
    /// Ingest, compute everything and render the report into STORE/runs/<D>/.
    /// With --shard: compute one shard's members only, into DIR (docs/scale-out.md).
    Run(RunArgs),
    /// Put the shards' parts together: the cross-member stages, then STORE/runs/<D>/ as
    /// `koc run` writes it (docs/scale-out.md).
    Merge {
        #[command(flatten)]
        at: AsOf,
        /// The folders the shards wrote their parts into.
        #[arg(required = true)]
        dirs: Vec<PathBuf>,
    },
    /// Re-render the report of a finished run.
    Report {
        #[command(flatten)]
        at: AsOf,
        /// Print the template context as JSON instead of rendering.
        #[arg(long)]
        dump_context: bool,
    },
    /// What-if: the stored history under changed rules, side by side with the baseline.
    Simulate {
        #[command(flatten)]
        at: AsOf,
        /// A YAML overlay merged onto the pipeline (repeatable).
        #[arg(long = "scenario")]
        scenarios: Vec<PathBuf>,
        /// One value, e.g. points.rules.featured.points=800 (repeatable).
        #[arg(long = "set")]
        sets: Vec<String>,
        /// One scenario per value: tiers.levels.gold.min=1500,2000,2500
        #[arg(long)]
        sweep: Option<String>,
        /// Output folder (default: ./simulation-<D>).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Write a synthetic program (pipeline + exports) for scale tests.
    Synth {
        dir: PathBuf,
        #[arg(long, default_value_t = 1000)]
        members: usize,
        #[arg(long, default_value_t = 180)]
        days: usize,
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
    /// Points: the ledger, balances and redemptions.
    Points(Stage),
    /// Tiers with their grace periods.
    Tiers(Stage),
    /// Layers and the movement matrix.
    Layers(Stage),
    /// High-potential newcomers.
    Scout(Stage),
    /// Contest results.
    Contest {
        #[command(flatten)]
        stage: Stage,
        /// Only this contest.
        #[arg(long)]
        id: Option<String>,
    },
    /// The care calendar.
    Care(Stage),
    /// Verify the store: manifest against files, every file readable, no duplicate
    /// event ids; says how to repair what it finds (exit 1 when it finds anything).
    CheckStore {
        /// The pipeline file (YAML).
        pipeline: PathBuf,
    },
    /// Everything computed about one member, with the reasons (points, tier, layer,
    /// scouting, contests, care). Example: `koc explain pipeline.yaml M10023 --as-of 2025-06-30`
    Explain {
        #[command(flatten)]
        at: AsOf,
        /// The member_id.
        member: String,
    },
    /// Send a finished run: the operations digest to the group robots and the notices
    /// to a webhook (the pipeline's `notify`). Sends only what was not sent for D yet.
    /// Example: `koc run pipeline.yaml && koc notify pipeline.yaml`
    Notify {
        #[command(flatten)]
        at: AsOf,
        /// Print each request (URLs' queries and secrets left out); send and record nothing.
        #[arg(long)]
        dry_run: bool,
        /// Send everything again, also what was sent before.
        #[arg(long)]
        force: bool,
    },
    /// Shell completions on stdout, e.g. `koc completions bash > /etc/bash_completion.d/koc`.
    Completions {
        /// bash, zsh, fish, powershell or elvish.
        shell: clap_complete::Shell,
    },
    /// The man page (roff) on stdout, e.g. `koc man > /usr/local/share/man/man1/koc.1`.
    Man,
    /// (internal) Render one custom report template of PIPELINE, its context as JSON on
    /// stdin, under a memory limit: the child process `koc run` and `koc report` use.
    #[command(name = "__render-template", hide = true)]
    RenderTemplate { pipeline: PathBuf, name: String },
}

#[derive(Args, Debug)]
pub struct AsOf {
    /// The pipeline file (YAML).
    pub pipeline: PathBuf,
    /// The as-of date D (default: yesterday in the program time zone).
    #[arg(long)]
    pub as_of: Option<String>,
}

#[derive(Args, Debug)]
pub struct RunArgs {
    #[command(flatten)]
    pub at: AsOf,
    /// Compute shard I of N only (`I/N`), or give N alone and take I from
    /// JOB_COMPLETION_INDEX (Kubernetes) or SLURM_ARRAY_TASK_ID (Slurm). Needs --out;
    /// nothing is ingested and the store is not written.
    #[arg(long, requires = "out")]
    pub shard: Option<String>,
    /// The folder for the shard's part (outside the store).
    #[arg(long, requires = "shard")]
    pub out: Option<PathBuf>,
    /// Keep the run within this much memory (`6G`, `512M`; else `ingest.memory_budget`):
    /// the ingest in passes, and the members in shards one after another when one
    /// computation would not fit (docs/scale-out.md). The run folder is the same.
    #[arg(long, conflicts_with = "shard")]
    pub memory_budget: Option<String>,
}

#[derive(Args, Debug)]
pub struct Stage {
    #[command(flatten)]
    pub at: AsOf,
    /// Write the stage's table to this file (CSV).
    #[arg(long)]
    pub out: Option<PathBuf>,
}
