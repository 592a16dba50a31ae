//! End-to-end tests of the `foresight` binary on real traces: what a user
//! types, what they see, and the exit codes.

mod common;

use common::{foresight, stderr, stdout};
use foresight_datasets::shared::dataset_or_skip;
use std::path::{Path, PathBuf};

/// The summary without its first line (which names the file).
fn body(summary: &str) -> String {
    summary.lines().skip(1).collect::<Vec<_>>().join("\n")
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn inspect_kth_reports_the_published_counts() {
    let Some(kth) = dataset_or_skip("pwa-kth-sp2/KTH-SP2-1996-2.1-cln.swf.gz") else { return };
    let out = foresight(&["inspect", s(&kth)]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("jobs        28,489 "), "{text}");
    assert!(text.contains("users       214\n"), "{text}");
    assert!(text.contains("100 processors"), "{text}");
}

#[test]
fn every_shared_dataset_inspects_the_same_after_ingest() {
    let dir = tempfile::tempdir().unwrap();
    let datasets = foresight_datasets::shared::JOB_DATASETS.iter().map(|(rel, _)| *rel).chain(["h100-jobs/telemetry.csv.gz"]);
    for rel in datasets {
        let Some(trace) = dataset_or_skip(rel) else { return };
        let parquet: PathBuf = dir.path().join("t.parquet");
        let ingest = foresight(&["ingest", s(&trace), "-o", s(&parquet)]);
        assert!(ingest.status.success(), "{rel}: {}", stderr(&ingest));
        assert!(stdout(&ingest).starts_with("wrote "), "{}", stdout(&ingest));
        let direct = foresight(&["inspect", s(&trace)]);
        let again = foresight(&["inspect", s(&parquet)]);
        assert!(direct.status.success() && again.status.success(), "{rel}");
        assert_eq!(body(&stdout(&again)), body(&stdout(&direct)), "{rel}");
        let json: serde_json::Value = serde_json::from_slice(&foresight(&["inspect", "--json", s(&parquet)]).stdout).unwrap_or_default();
        if !rel.ends_with("telemetry.csv.gz") {
            assert!(json["jobs"].as_u64().unwrap_or(0) > 0, "{rel}: {json}");
        }
    }
}

#[test]
fn strict_reading_of_a_garbled_copy_exits_2_naming_file_line_and_field() {
    let Some(kth) = dataset_or_skip("pwa-kth-sp2/KTH-SP2-1996-2.1-cln.swf.gz") else { return };
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::new();
    std::io::Read::read_to_string(&mut flate2::read::MultiGzDecoder::new(std::fs::File::open(kth).unwrap()), &mut text).unwrap();
    let garbled: String = text
        .lines()
        .enumerate()
        .map(|(i, l)| if i == 499 { l.replacen("  1 ", " #! ", 1) } else { l.to_string() })
        .collect::<Vec<_>>()
        .join("\n");
    let copy = dir.path().join("kth-copy.swf");
    std::fs::write(&copy, garbled).unwrap();

    let strict = foresight(&["inspect", "--strict", s(&copy)]);
    assert_eq!(strict.status.code(), Some(2), "{}", stderr(&strict));
    let err = stderr(&strict);
    assert!(err.contains("kth-copy.swf: line 500, column "), "{err}");
    assert!(err.contains(": field `"), "{err}");
    assert!(err.contains("found `#!`"), "{err}");

    let lenient = foresight(&["inspect", s(&copy)]);
    assert!(lenient.status.success());
    assert!(stderr(&lenient).contains("warning: skipped 1 malformed line(s)"), "{}", stderr(&lenient));
    assert!(stdout(&lenient).contains("jobs        28,488 "), "{}", stdout(&lenient));
}

#[test]
fn an_unknown_format_is_named_with_the_choices() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("notes.txt");
    std::fs::write(&f, "hello world\n").unwrap();
    let out = foresight(&["inspect", s(&f)]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("cannot tell the format of"), "{}", stderr(&out));
    assert!(stderr(&out).contains("--format"), "{}", stderr(&out));
    let missing = foresight(&["inspect", "no/such/file.swf"]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(stderr(&missing).contains("cannot read no/such/file.swf"), "{}", stderr(&missing));
}

#[test]
fn inspect_of_the_embedded_dataset_reads_as_expected() {
    let out = foresight(&["inspect", "datasets/data/h100-jobs/jobs.csv"]);
    assert!(out.status.success(), "{}", stderr(&out));
    insta::assert_snapshot!(stdout(&out));
}

#[test]
fn help_lists_every_command() {
    let out = foresight(&["--help"]);
    assert!(out.status.success());
    let text = stdout(&out);
    for cmd in ["ingest", "inspect"] {
        assert!(text.contains(cmd), "{text}");
    }
}

#[test]
fn a_sacct_dump_read_in_its_sites_zone_says_so() {
    let dump = "datasets/test_data/sacct-parsable2.txt";
    let out = foresight(&["inspect", dump, "--tz", "Europe/Stockholm"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    // 2024-03-01 09:00 on the site's clock is 08:00 UTC
    assert!(text.contains("2024-03-01 08:00:00 UTC (site time zone Europe/Stockholm, UTC+1.0 h)"), "{text}");
    let utc = stdout(&foresight(&["inspect", dump]));
    assert!(utc.contains("epoch       2024-03-01 09:00:00 UTC\n"), "{utc}");
    let bad = foresight(&["inspect", dump, "--tz", "Mars/Olympus"]);
    assert_eq!(bad.status.code(), Some(2), "{}", stderr(&bad));
    assert!(stderr(&bad).contains("unknown time zone `Mars/Olympus`"), "{}", stderr(&bad));
}
