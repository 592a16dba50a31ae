//! Fuzzes the SWF reader: whatever the bytes, it returns a table or a
//! precise error, never panics, and a lenient read accounts for every line.
#![no_main]

use foresight_datasets::swf;
use libfuzzer_sys::fuzz_target;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let lines = data.split(|b| *b == b'\n').count() as u64;
    if let Ok(read) = swf::read(data, Path::new("fuzz.swf"), false) {
        assert!(read.table.jobs.len() as u64 + read.skipped.total <= lines);
        for job in &read.table.jobs {
            assert!(job.submit_s >= 0.0);
        }
    }
    if let Err(e) = swf::read(data, Path::new("fuzz.swf"), true) {
        assert!(!e.to_string().is_empty());
    }
});
