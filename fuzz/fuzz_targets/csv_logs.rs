//! Fuzzes the CSV-based readers (GPU job logs, openb pods, telemetry).
#![no_main]

use foresight_datasets::{gpujobs, openb, telemetry};
use libfuzzer_sys::fuzz_target;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let p = Path::new("fuzz.csv");
    let _ = gpujobs::read(data, p, false);
    let _ = openb::read(data, p, false);
    let _ = telemetry::read(data, p, false);
});
