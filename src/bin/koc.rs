//! The `koc` binary: parse, run, map the error to an exit code (SPEC §2).
#![forbid(unsafe_code)]
use clap::Parser;
use std::process::ExitCode;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    koc_engine::caught::install_hook();
    let cli = match koc::cmd::cli::Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    match koc::cmd::commands::dispatch(cli) {
        Ok(code) => ExitCode::from(code),
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::from(koc_engine::error::exit_code_of(&err))
        }
    }
}
