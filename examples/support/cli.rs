//! The `main` of the examples that take options: parse them, print the usage for `--help`,
//! run, and turn an error into a message and an exit code (2 for bad options, 1 for a failed
//! run).

use std::process::ExitCode;

/// Parses the command line with `parse` (`Ok(None)` for `--help`), then calls `run`.
pub fn main_with<C>(
    usage: &str,
    parse: impl FnOnce(std::iter::Skip<std::env::ArgsOs>) -> Result<Option<C>, String>,
    run: impl FnOnce(&C) -> Result<(), String>,
) -> ExitCode {
    let config = match parse(std::env::args_os().skip(1)) {
        Ok(Some(config)) => config,
        Ok(None) => {
            println!("{usage}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("error: {e}\n\nRun with --help to see the options.");
            return ExitCode::from(2);
        }
    };
    match run(&config) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
