//! Fuzzes the sacct reader: whatever the bytes, it returns a table or a
//! precise error, never panics, and a lenient read accounts for every line.
#![no_main]

use foresight_datasets::sacct;
use libfuzzer_sys::fuzz_target;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let lines = data.split(|b| *b == b'\n').count() as u64;
    if let Ok(read) = sacct::read(data, Path::new("fuzz.txt"), false) {
        assert!(read.table.jobs.len() as u64 + read.skipped.total <= lines);
    }
    let _ = sacct::read(data, Path::new("fuzz.txt"), true);
});
