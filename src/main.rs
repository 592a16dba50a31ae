//! The `foresight` command line: argument parsing and wiring, nothing else.
//! Every subcommand lives in its own module under `cli/`.

mod cli;

use clap::Parser;

fn main() -> std::process::ExitCode {
    let args = cli::Cli::parse();
    match cli::run(args) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            std::process::ExitCode::from(cli::exit_code(&err))
        }
    }
}
