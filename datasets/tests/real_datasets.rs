//! The shared real datasets read onto the canonical table: the published
//! counts come out, Parquet gives back exactly what was read, and a
//! garbled copy is reported precisely.

use foresight_datasets::summary::Summary;
use foresight_datasets::{Format, IngestError, ReadOptions, parquet, read_trace, require_dataset, shared};
use std::io::Write;

const KTH: &str = "pwa-kth-sp2/KTH-SP2-1996-2.1-cln.swf.gz";

#[test]
fn kth_sp2_has_the_published_jobs_users_and_processors() {
    let path = require_dataset!(KTH);
    let read = read_trace(&path, &ReadOptions { strict: true, ..ReadOptions::default() }).unwrap();
    let s = Summary::of(&read.table);
    assert_eq!((s.jobs, s.users), (28_489, 214));
    assert_eq!(read.table.meta.capacity.cpus, Some(100));
    assert_eq!(read.table.meta.capacity.nodes, Some(100));
    assert_eq!(read.table.meta.epoch_unix_s, Some(843_480_031.0));
    assert_eq!(read.table.meta.tz_name.as_deref(), Some("Europe/Stockholm"));
}

#[test]
fn curie_sample_has_the_published_jobs_and_users() {
    let path = require_dataset!("pwa-cea-curie-sample/CEA-Curie-sample.swf.gz");
    let read = read_trace(&path, &ReadOptions { strict: true, ..ReadOptions::default() }).unwrap();
    let s = Summary::of(&read.table);
    assert_eq!((s.jobs, s.users), (29_998, 238));
    assert_eq!(read.table.meta.capacity.cpus, Some(93_312));
}

#[test]
fn openb_has_the_published_pods() {
    let path = require_dataset!("alibaba-openb/openb_pod_list_default.csv");
    let read = read_trace(&path, &ReadOptions { strict: true, ..ReadOptions::default() }).unwrap();
    assert_eq!(read.table.meta.format, "openb");
    assert_eq!(read.table.jobs.len(), 8_152);
    assert_eq!(read.table.jobs.iter().filter(|j| j.req_gpus.unwrap_or(0) > 0).count(), 7_064);
}

#[test]
fn every_shared_dataset_survives_parquet_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    for (rel, format) in shared::JOB_DATASETS {
        let path = require_dataset!(rel);
        let read = read_trace(&path, &ReadOptions::default()).unwrap();
        assert_eq!(read.table.meta.format, format.to_string(), "{rel} detected as {format}");
        assert!(read.skipped.is_empty(), "{rel}: {:?}", read.skipped);
        let out = dir.path().join("t.parquet");
        parquet::write(&read.table, &out).unwrap();
        let back = read_trace(&out, &ReadOptions::default()).unwrap().table;
        assert_eq!(back, read.table, "{rel}");
        assert_eq!(Summary::of(&back), Summary::of(&read.table), "{rel}");
    }
}

#[test]
fn telemetry_reads_every_metric() {
    let path = require_dataset!("h100-jobs/telemetry.csv.gz");
    let (t, skipped) = foresight_datasets::read_telemetry(&path, &ReadOptions::default()).unwrap();
    assert!(skipped.is_empty());
    assert_eq!(t.metrics.len(), 6);
    assert_eq!(t.samples.len() % 6, 0);
}

/// A copy of KTH with one line truncated and one garbled.
fn damaged_kth(dir: &std::path::Path) -> Option<std::path::PathBuf> {
    let path = shared::dataset_or_skip(KTH)?;
    let mut text = String::new();
    std::io::Read::read_to_string(&mut flate2::read::MultiGzDecoder::new(std::fs::File::open(path).unwrap()), &mut text).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let n = lines.len();
    lines[1000].truncate(30);
    lines[n - 1] = lines[n - 1].replacen(" 1 ", " one ", 1);
    let out = dir.join("kth-damaged.swf");
    let mut f = std::fs::File::create(&out).unwrap();
    f.write_all(lines.join("\n").as_bytes()).unwrap();
    Some(out)
}

#[test]
fn a_truncated_line_stops_a_strict_read_with_file_line_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let Some(path) = damaged_kth(dir.path()) else { return };
    let err = read_trace(&path, &ReadOptions { format: Some(Format::Swf), strict: true, ..ReadOptions::default() }).unwrap_err();
    let IngestError::Parse { error, .. } = &err else { panic!("{err}") };
    assert_eq!(error.line, 1001);
    assert_eq!(error.field, "allocated processors");
    let msg = err.to_string();
    assert!(msg.contains("kth-damaged.swf: line 1001, column 31: field `allocated processors`"), "{msg}");
}

#[test]
fn by_default_damaged_lines_are_skipped_and_nothing_else_is_lost() {
    let dir = tempfile::tempdir().unwrap();
    let Some(path) = damaged_kth(dir.path()) else { return };
    let read = read_trace(&path, &ReadOptions::default()).unwrap();
    assert_eq!(read.table.jobs.len(), 28_489 - 2);
    assert_eq!(read.skipped.total, 2);
    assert_eq!(read.skipped.examples.iter().map(|e| e.line).collect::<Vec<_>>(), [1001, 28_508]);
}
