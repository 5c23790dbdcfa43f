//! koc: the nightly batch of a KOC (key opinion consumer) cultivation program.
//!
//! This crate is the edge: `cmd/` is one file per command (files, environment,
//! terminal), `output/` turns the engine's typed results into CSV, Parquet, the
//! report, the workbook, notices and messages. The engine (`koc_engine`: pipeline,
//! store, ingest, model, stages) knows neither.
#![forbid(unsafe_code)]
pub mod cmd;
pub mod output;
