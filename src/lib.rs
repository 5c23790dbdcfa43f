//! koc: the nightly batch of a KOC (key opinion consumer) cultivation program.
//!
//! Stages follow SPEC.md: sources → ingest → store → points → tiers → metrics and
//! layers → scouting → contests → goals and care → report → run.
pub mod actions;
pub mod care;
pub mod charts;
pub mod check;
pub mod check_store;
pub mod cli;
pub mod commands;
pub mod compute;
pub mod config;
pub mod contests;
pub mod convert;
pub mod error;
pub mod explain;
pub mod expr;
pub mod fmt;
pub mod freshness;
pub mod goals;
pub mod growth;
pub mod growth_plan;
pub mod hall_of_fame;
pub mod ingest;
pub mod layers;
pub mod limits;
pub mod lint;
pub mod metrics;
pub mod model;
pub mod output;
pub mod overlay;
pub mod points;
pub mod privacy;
pub mod progress;
pub mod report;
pub mod report_growth;
pub mod run;
pub mod scouting;
pub mod simulate;
pub mod sources;
pub mod store;
pub mod summary;
pub mod synth;
pub mod table;
pub mod tiers;
pub mod timestamps;
pub mod xlsx;
