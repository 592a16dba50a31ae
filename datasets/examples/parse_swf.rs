//! Parses an SWF file from memory `N` times (default 1) and prints the job
//! count: a small program to profile the parser with, e.g. under
//! `valgrind --tool=callgrind`, which counts instructions whatever else the
//! machine is doing.
//!
//! `cargo run --release -p foresight-datasets --no-default-features --example parse_swf -- FILE [N]`

use std::io::Read;
use std::path::Path;

fn main() {
    let mut args = std::env::args().skip(1);
    let Some(path) = args.next() else {
        eprintln!("usage: parse_swf FILE [N]");
        std::process::exit(2);
    };
    let n: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(1);
    let mut bytes = Vec::new();
    let opened = foresight_datasets::source::open(Path::new(&path)).and_then(|mut r| {
        r.read_to_end(&mut bytes).map_err(|e| foresight_datasets::IngestError::io(&path, e))
    });
    if let Err(e) = opened {
        eprintln!("error: {e}");
        std::process::exit(2);
    }
    let mut jobs = 0;
    for _ in 0..n {
        match foresight_datasets::swf::read(&bytes[..], Path::new(&path), false) {
            Ok(read) => jobs = read.table.jobs.len(),
            Err(e) => {
                eprintln!("error: {e}");
                std::process::exit(2);
            }
        }
    }
    println!("{jobs} jobs, {} lines, {n} passes", bytes.iter().filter(|b| **b == b'\n').count());
}
