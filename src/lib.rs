//! koc: the nightly batch of a KOC (key opinion consumer) cultivation program.
//!
//! Stages follow SPEC.md: sources → ingest → store → points → tiers → metrics and
//! layers → scouting → contests → goals and care → report → run.
//!
//! The folders show the boundary: `pipeline/` reads and checks the pipeline file,
//! `ingest/` turns exports into the store, `stages/` computes from the loaded data
//! (no files, environment or terminal), `output/` turns results into files and the
//! report, `cmd/` is one file per command (the I/O edge). `model`, `store`, `table`
//! and `fmt` are shared by all. The modules are re-exported at the root, so
//! `crate::points` names the same module as `crate::stages::points`.
pub mod cmd;
pub mod compute;
pub mod error;
pub mod fmt;
pub mod freshness;
pub mod ingest;
pub mod model;
pub mod output;
pub mod pipeline;
pub mod progress;
pub mod stages;
pub mod store;
pub mod table;

pub use cmd::{check_store, cli, commands, explain, run, simulate, synth};
pub use ingest::{convert, event_keys, privacy, sources, timestamps};
pub use output::{actions, charts, report, report_growth, summary, templating, xlsx};
pub use pipeline::{check, config, expr, limits, lint, overlay, program};
pub use stages::{care, contests, goals, growth, growth_plan, hall_of_fame, layers, metrics, points, scouting, tiers};
