//! The pipeline file: its structs and reader (`config`), the checks of `koc check`
//! and `koc validate` (`check`, `lint`, `limits`), SQL expressions (`expr`), the typed program
//! `check` makes of it (`program`, its per-section `plans`) and the scenario overlay of `koc simulate` (`overlay`).
pub mod check;
pub mod config;
pub mod expr;
pub mod limits;
pub mod lint;
pub mod overlay;
pub mod plans;
pub mod program;
