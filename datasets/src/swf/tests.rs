//! Unit tests of the SWF reader on small hand-written logs in the format's
//! exact shape (the real logs are read in `datasets/tests/`).

use super::*;
use crate::error::IngestError;

const LOG: &str = "\
; Version: 2.2
; Computer: Test SP2
; UnixStartTime: 843480031
; TimeZone: 3600
; TimeZoneString: Europe/Stockholm
; MaxNodes: 100
; MaxProcs: 100
; Partition: 1 batch
;
    1        0  9648   9722   56     -1    -1   56  21000    -1  1   1   1  -1 -1 -1 -1 -1
    2      327  2919     93   80     -1    -1   -1  14400  2048  0   2   3   7  2  1 -1 -1
    3      400    -1     -1    4     -1    -1    4   3600    -1  5   2   3  -1 -1 -1  2 60
";

fn read_str(text: &str, strict: bool) -> Result<Ingested, IngestError> {
    read(text.as_bytes(), Path::new("test.swf"), strict)
}

#[test]
fn header_fills_the_metadata() {
    let t = read_str(LOG, true).unwrap().table;
    assert_eq!(t.meta.capacity.cpus, Some(100));
    assert_eq!(t.meta.capacity.nodes, Some(100));
    assert_eq!(t.meta.epoch_unix_s, Some(843480031.0));
    assert_eq!(t.meta.tz_offset_s, Some(3600));
    assert_eq!(t.meta.tz_name.as_deref(), Some("Europe/Stockholm"));
    assert_eq!(t.meta.computer.as_deref(), Some("Test SP2"));
    assert_eq!(t.meta.partitions, vec!["Partition 1 batch".to_string()]);
}

#[test]
fn fields_map_onto_the_canonical_job() {
    let jobs = read_str(LOG, true).unwrap().table.jobs;
    assert_eq!(jobs.len(), 3);
    let j = &jobs[0];
    assert_eq!(j.job_id, "1");
    assert_eq!((j.submit_s, j.start_s, j.end_s, j.runtime_s), (0.0, Some(9648.0), Some(19370.0), Some(9722.0)));
    assert_eq!((j.req_cpus, j.req_time_s, j.status), (Some(56), Some(21000.0), JobStatus::Completed));
    assert_eq!(j.user.as_deref(), Some("1"));
    assert_eq!(j.queue, None);
    assert!(j.depends_on.is_empty());

    let j = &jobs[1];
    assert_eq!(j.req_cpus, Some(80), "requested -1 falls back to allocated");
    assert_eq!(j.req_mem_mb, Some(160), "2048 KB per processor times 80");
    assert_eq!(j.status, JobStatus::Failed);
    assert_eq!((j.queue.as_deref(), j.labels.get("swf_queue").map(String::as_str)), (Some("1"), Some("2")));
    assert_eq!(j.name.as_deref(), Some("7"));

    let j = &jobs[2];
    assert_eq!((j.start_s, j.end_s, j.runtime_s), (None, None, None), "never ran");
    assert_eq!(j.status, JobStatus::Cancelled);
    assert_eq!(j.depends_on, vec!["2".to_string()]);
    assert_eq!(j.features.get("think_time_s"), Some(&FeatureValue::Num(60.0)));
}

#[test]
fn truncated_line_names_the_first_missing_field_under_strict() {
    let text = format!("{LOG}    4      500     0     10    4     -1    -1    4\n");
    let err = read_str(&text, true).unwrap_err().to_string();
    assert_eq!(
        err,
        "test.swf: line 13, column 51: field `requested time`: expected 18 fields, the line ends after 8, found `end of line`"
    );
}

#[test]
fn garbled_field_names_line_column_and_field() {
    let text = format!("{LOG}    4      500     0    1x0    4     -1    -1    4 3600 -1 1 1 1 -1 -1 -1 -1 -1\n");
    let err = read_str(&text, true).unwrap_err().to_string();
    assert!(err.starts_with("test.swf: line 13, column 25: field `run time`: expected a number"), "{err}");
    assert!(err.ends_with("found `1x0`"), "{err}");
}

#[test]
fn default_mode_skips_bad_lines_and_keeps_the_good_ones() {
    let text = format!("{LOG}garbage\n    5 600 0 10 4 -1 -1 4 3600 -1 1 1 1 -1 -1 -1 -1 -1\n   6 -5 0 10 4 -1 -1 4 3600 -1 1 1 1 -1 -1 -1 -1 -1\n");
    let read = read_str(&text, false).unwrap();
    assert_eq!(read.table.jobs.len(), 4);
    assert_eq!(read.skipped.total, 2);
    assert_eq!(read.skipped.examples[0].line, 13);
    assert_eq!(read.skipped.examples[1].field, "submit time");
}

#[test]
fn bad_header_value_is_reported() {
    let err = read_str("; MaxProcs: many\n", true).unwrap_err().to_string();
    assert_eq!(err, "test.swf: line 1, column 13: field `MaxProcs`: expected a whole number of processors, found `many`");
}

#[test]
fn empty_input_is_an_error_not_an_empty_table() {
    assert!(matches!(read_str("; only a header\n", false), Err(IngestError::Empty { .. })));
}

#[test]
fn numbers_parse_fast_and_exactly() {
    assert_eq!(parse_number(b"-1"), Some(-1.0));
    assert_eq!(parse_number(b"123456"), Some(123456.0));
    assert_eq!(parse_number(b"10.5"), Some(10.5));
    assert_eq!(parse_number(b"nan"), None);
    assert_eq!(parse_number(b"1e400"), None);
    assert_eq!(parse_number(b"-"), None);
    assert_eq!(parse_number(b""), None);
}

#[test]
fn identifiers_print_as_whole_numbers() {
    assert_eq!(number_text(0.0), "0");
    assert_eq!(number_text(1234567.0), "1234567");
    assert_eq!(number_text(-42.0), "-42");
    assert_eq!(number_text(10.5), "10.5");
    assert_eq!(number_text(1e20), "100000000000000000000");
}
