//! The `koc` binary: parse, run, map the error to an exit code (SPEC §2).
use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = match koc::cli::Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    match koc::commands::dispatch(cli) {
        Ok(code) => ExitCode::from(code),
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::from(koc::error::exit_code_of(&err))
        }
    }
}
