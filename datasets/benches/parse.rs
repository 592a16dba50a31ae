//! SWF parse speed on the real KTH-SP2 log, in lines per second (goal: at
//! least 2 million in release). The log is decompressed into memory first,
//! so the figure is the parser's, not gzip's.
//!
//! Run: `cargo bench -p foresight-datasets --no-default-features --bench parse`
//! (the readers alone; Polars is not needed to parse).

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use foresight_datasets::{shared, swf};
use std::hint::black_box;
use std::io::Read;
use std::path::Path;
use std::time::Instant;

fn kth_bytes() -> Option<Vec<u8>> {
    let path = shared::dataset_or_skip("pwa-kth-sp2/KTH-SP2-1996-2.1-cln.swf.gz")?;
    let mut bytes = Vec::new();
    flate2::read::MultiGzDecoder::new(std::fs::File::open(path).ok()?).read_to_end(&mut bytes).ok()?;
    Some(bytes)
}

fn parse(c: &mut Criterion) {
    let Some(bytes) = kth_bytes() else { return };
    let lines = bytes.iter().filter(|b| **b == b'\n').count() as u64;
    // Plain figures first, each the mean of 20 whole-file passes, measured
    // in one run: the parser, and for scale the cheapest possible pass
    // (counting whitespace-separated fields), since this machine is shared.
    let timed = |f: &dyn Fn() -> usize| {
        let started = Instant::now();
        for _ in 0..20 {
            black_box(f());
        }
        (20 * lines) as f64 / started.elapsed().as_secs_f64()
    };
    let parse_rate = timed(&|| swf::read(&bytes[..], Path::new("kth.swf"), true).map_or(0, |r| r.table.jobs.len()));
    let split_rate = timed(&|| bytes.split(|b| b.is_ascii_whitespace()).filter(|f| !f.is_empty()).count());
    println!(
        "SWF parse, KTH-SP2 ({lines} lines, {} bytes): {:.2} million lines/s; splitting fields alone: {:.2} million lines/s (parse/split = {:.2})",
        bytes.len(),
        parse_rate / 1e6,
        split_rate / 1e6,
        parse_rate / split_rate
    );

    let mut group = c.benchmark_group("swf");
    group.throughput(Throughput::Elements(lines));
    group.bench_function("parse_kth_sp2", |b| {
        b.iter(|| swf::read(black_box(&bytes[..]), Path::new("kth.swf"), true).map(|r| r.table.jobs.len()).ok())
    });
    group.finish();
}

criterion_group!(benches, parse);
criterion_main!(benches);
