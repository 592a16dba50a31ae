//! The `foresight` command line: argument parsing and wiring, nothing else.
//! Every subcommand lives in its own module under `cli/`.

mod cli;

use clap::Parser;

/// mimalloc rather than the system's allocator: the submit bench spends
/// 6 to 8 % less CPU per submit with it (docs/serve.md, Throughput), the
/// allocator being a sixth of a submit's profile.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
