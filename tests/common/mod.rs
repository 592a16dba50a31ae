//! Helpers the end-to-end CLI tests share: run the `foresight` binary from
//! the repository root and read what it printed.

use std::process::{Command, Output};

/// Runs `foresight ARGS` in the repository root and waits for it.
pub fn foresight(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_foresight"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("the foresight binary runs")
}

/// What the command printed on standard output.
pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// What the command printed on standard error.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}
