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
    // Stockholm is on summer time (CEST) at the first submission, 1996-09-23:
    // the zone string, not the deprecated TimeZone 3600, says so.
    assert_eq!(t.meta.tz_offset_s, Some(7200));
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

/// An archive-style log that records no start times: the wait field is -1
/// on every line, while submit time, run time and processors are known.
const NO_WAIT: &str = include_str!("../../test_data/no-wait.swf");

#[test]
fn jobs_without_a_start_time_keep_their_run_time() {
    let jobs = read_str(NO_WAIT, true).unwrap().table.jobs;
    assert_eq!(jobs.len(), 3);
    for j in &jobs {
        assert_eq!((j.start_s, j.end_s), (None, None), "no start is made up");
        assert!(j.runtime_s.is_some() && j.req_cpus.is_some());
    }
    assert_eq!(jobs.iter().map(|j| j.req_time_s).collect::<Vec<_>>(), [None, None, Some(3600.0)]);
    assert_eq!((jobs[1].submit_s, jobs[1].runtime_s, jobs[1].req_cpus), (155.0, Some(3.0), Some(1)));
}

/// The header of SDSC-SP2 (US/Pacific) with the deprecated `TimeZone`
/// misstated as 3600: the zone string decides.
const PACIFIC: &str = "\
; Version: 2.2
; Computer: IBM SP2
; UnixStartTime: 893466664
; TimeZone: 3600
; TimeZoneString: US/Pacific
; StartTime: Fri Apr 24 18:11:04 PDT 1998
; MaxProcs: 128
;
    1        0   100     60    1     -1    -1    1   3600    -1  1   1   1  -1 -1 -1 -1 -1
    2 19008000   100     60    1     -1    -1    1   3600    -1  1   1   1  -1 -1 -1 -1 -1
";

#[test]
fn the_zone_string_overrides_the_deprecated_offset_daylight_saving_included() {
    let t = read_str(PACIFIC, true).unwrap().table;
    // 1998-04-25 01:11:04 UTC is 18:11:04 PDT (UTC-7) the day before.
    assert_eq!(t.meta.tz_offset_s, Some(-7 * 3600), "not UTC+1");
    assert!(t.meta.notes.iter().any(|n| n.contains("TimeZone 3600 (deprecated) ignored")), "{:?}", t.meta.notes);
    let zone: SiteZone = t.meta.tz_name.as_deref().unwrap().parse().unwrap();
    let epoch = t.meta.epoch_unix_s.unwrap();
    let local = |submit_s: f64| crate::timefmt::format_utc(zone.local_of_unix(epoch + submit_s));
    assert_eq!(local(t.jobs[0].submit_s), "1998-04-24 18:11:04", "PDT");
    // 220 days later it is winter: PST (UTC-8), an hour earlier on the clock.
    assert_eq!(epoch + t.jobs[1].submit_s, 893466664.0 + 19_008_000.0, "a submit time's Unix instant ignores the zone");
    assert_eq!(local(t.jobs[1].submit_s), "1998-11-30 17:11:04", "PST");
}

#[test]
fn without_unix_start_time_the_epoch_is_start_time_in_the_zone() {
    let text = PACIFIC.replace("; UnixStartTime: 893466664\n", "");
    let t = read_str(&text, true).unwrap().table;
    assert_eq!(t.meta.epoch_unix_s, Some(893_466_664.0), "18:11:04 PDT, not PST nor UTC+1");
    assert!(t.meta.notes.iter().any(|n| n.contains("read in US/Pacific")), "{:?}", t.meta.notes);
    let winter = text.replace("Fri Apr 24 18:11:04 PDT 1998", "Mon Nov 30 17:11:04 PST 1998");
    let t = read_str(&winter, true).unwrap().table;
    assert_eq!(t.meta.epoch_unix_s, Some(893_466_664.0 + 19_008_000.0));
    assert_eq!(t.meta.tz_offset_s, Some(-8 * 3600));
    let garbled = text.replace("Fri Apr 24 18:11:04 PDT 1998", "sometime in April");
    let err = read_str(&garbled, true).unwrap_err().to_string();
    assert_eq!(
        err,
        "test.swf: line 5, column 14: field `StartTime`: expected a date as `date` prints it, e.g. Mon Sep 23 14:00:31 CEST 1996, found `sometime in April`"
    );
}

#[test]
fn an_unknown_zone_string_falls_back_to_the_offset_with_a_note() {
    let t = read_str(&PACIFIC.replace("US/Pacific", "Pacific Time"), true).unwrap().table;
    assert_eq!(t.meta.tz_offset_s, Some(3600));
    assert!(t.meta.notes.iter().any(|n| n.contains("`Pacific Time`") && n.contains("deprecated TimeZone offset")), "{:?}", t.meta.notes);
}
