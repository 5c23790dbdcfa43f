//! One module per command: the I/O edge (files, the terminal, exit codes).
pub mod check_store;
pub mod cli;
pub mod commands;
pub mod explain;
pub mod notify;
pub mod run;
pub mod shard_plan;
pub mod shards;
pub mod simulate;
pub mod stored_values;
pub mod synth;
pub mod validate;
