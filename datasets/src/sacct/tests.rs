//! Unit tests of the sacct reader on output in the exact shape real
//! clusters print (`datasets/test_data/sacct-parsable2.txt`).

use super::*;
use foresight_core::JobStatus;

const SAMPLE: &str = include_str!("../../test_data/sacct-parsable2.txt");

fn read_str(text: &str, strict: bool) -> Result<Ingested, IngestError> {
    read(text.as_bytes(), Path::new("sacct.txt"), strict)
}

fn job<'a>(jobs: &'a [Job], id: &str, attempt: u32) -> &'a Job {
    jobs.iter().find(|j| j.job_id == id && j.attempt == attempt).unwrap()
}

#[test]
fn steps_fold_into_their_jobs_and_attempts_are_counted() {
    let t = read_str(SAMPLE, true).unwrap().table;
    let ids: Vec<_> = t.jobs.iter().map(|j| (j.job_id.as_str(), j.attempt)).collect();
    assert_eq!(
        ids,
        [("1001", 0), ("1002", 0), ("1003_4", 0), ("1004", 0), ("1005", 0), ("1005", 1), ("1006", 0), ("1007", 0), ("1008", 0)]
    );
    // The .extern step ended one second after the job: the job is extended.
    let j = job(&t.jobs, "1001", 0);
    assert_eq!(j.runtime_s, Some(9001.0));
    assert!(t.meta.notes.iter().any(|n| n == "4 job steps folded into their jobs"));
}

#[test]
fn local_times_read_in_the_sites_zone_become_unix_times() {
    // the sample's first submission is 2024-03-01T09:00:00 on the site's clock
    let zone: SiteZone = "Europe/Stockholm".parse().unwrap();
    let local = read_str(SAMPLE, true).unwrap().table;
    let t = read_in(SAMPLE.as_bytes(), Path::new("sacct.txt"), true, Some(zone)).unwrap().table;
    assert_eq!(t.meta.epoch_unix_s, Some(1_709_283_600.0 - 3600.0), "09:00 in Stockholm in March is 08:00 UTC");
    assert_eq!((t.meta.tz_name.as_deref(), t.meta.tz_offset_s), (Some("Europe/Stockholm"), Some(3600)));
    assert!(t.meta.notes.iter().any(|n| n.contains("read in Europe/Stockholm (UTC+1.0 h")), "{:?}", t.meta.notes);
    // the same instants apart: times relative to the first submission keep
    assert_eq!(
        t.jobs.iter().map(|j| (j.submit_s, j.start_s, j.end_s)).collect::<Vec<_>>(),
        local.jobs.iter().map(|j| (j.submit_s, j.start_s, j.end_s)).collect::<Vec<_>>()
    );
    assert!(local.meta.tz_name.is_none() && local.meta.notes.iter().any(|n| n.contains("read as UTC (give its zone with --tz)")));
}

#[test]
fn times_are_relative_to_the_first_submission() {
    let t = read_str(SAMPLE, true).unwrap().table;
    assert_eq!(t.meta.epoch_unix_s, Some(1_709_283_600.0));
    let j = job(&t.jobs, "1001", 0);
    assert_eq!((j.submit_s, j.start_s), (0.0, Some(5.0)));
    let pending = job(&t.jobs, "1006", 0);
    assert_eq!((pending.start_s, pending.end_s, pending.runtime_s), (None, None, None));
    let running = job(&t.jobs, "1007", 0);
    assert_eq!((running.start_s.is_some(), running.end_s), (true, None));
    let never = job(&t.jobs, "1008", 0);
    assert_eq!((never.start_s, never.end_s), (None, None), "an End without a Start is not a run");
}

#[test]
fn time_limits_in_every_form() {
    let t = read_str(SAMPLE, true).unwrap().table;
    let limit = |id| job(&t.jobs, id, 0).req_time_s;
    assert_eq!(limit("1001"), Some(93_784.0));
    assert_eq!(limit("1002"), None, "UNLIMITED");
    assert_eq!(limit("1003_4"), Some(1800.0));
    assert_eq!(limit("1004"), None, "Partition_Limit");
    assert_eq!(limit("1005"), Some(216_000.0));
    assert_eq!(limit("1008"), Some(600.0), "a bare number is minutes");
}

#[test]
fn states_map_with_their_detail_kept() {
    let t = read_str(SAMPLE, true).unwrap().table;
    let st = |id, a| job(&t.jobs, id, a).status;
    assert_eq!(st("1001", 0), JobStatus::Completed);
    assert_eq!(st("1002", 0), JobStatus::Cancelled);
    assert_eq!(job(&t.jobs, "1002", 0).labels["cancelled_by"], "1234");
    assert_eq!(st("1003_4", 0), JobStatus::Timeout);
    assert_eq!(st("1004", 0), JobStatus::Failed);
    assert_eq!(job(&t.jobs, "1004", 0).labels["slurm_state"], "OUT_OF_MEMORY");
    assert_eq!(st("1005", 0), JobStatus::Failed);
    assert_eq!(job(&t.jobs, "1005", 0).labels["slurm_state"], "NODE_FAIL");
    assert_eq!(st("1005", 1), JobStatus::Completed);
    assert_eq!(st("1006", 0), JobStatus::Unknown);
}

#[test]
fn resources_gpus_and_memory_with_units() {
    let t = read_str(SAMPLE, true).unwrap().table;
    let j = job(&t.jobs, "1001", 0);
    assert_eq!((j.req_cpus, j.req_nodes, j.req_gpus, j.gpu_type.as_deref()), (Some(16), Some(2), Some(8), Some("a100")));
    assert_eq!(j.req_mem_mb, Some(65_536));
    assert_eq!(j.priority, Some(4_294_901));
    assert_eq!((j.user.as_deref(), j.group.as_deref(), j.queue.as_deref()), (Some("alice"), Some("ml"), Some("gpu")));
    assert_eq!(j.labels["account"], "proj-a");
    assert_eq!(job(&t.jobs, "1002", 0).req_mem_mb, Some(16_000), "4000Mc times 4 CPUs");
    assert_eq!(job(&t.jobs, "1004", 0).req_mem_mb, Some(2048), "2Gn times 1 node");
    assert_eq!(job(&t.jobs, "1003_4", 0).req_gpus, Some(1));
    assert_eq!(job(&t.jobs, "1002", 0).req_gpus, None);
}

#[test]
fn memory_sizes_parse_with_units() {
    assert_eq!(fields::parse_mem_mb("4000M"), Some((4000, None)));
    assert_eq!(fields::parse_mem_mb("16G"), Some((16_384, None)));
    assert_eq!(fields::parse_mem_mb("4000Mc"), Some((4000, Some('c'))));
    assert_eq!(fields::parse_mem_mb("1T"), Some((1_048_576, None)));
    assert_eq!(fields::parse_mem_mb("512"), Some((512, None)));
    assert_eq!(fields::parse_mem_mb("lots"), None);
}

#[test]
fn parsable_with_trailing_bars_reads_the_same() {
    let with_bars: String = SAMPLE.lines().map(|l| format!("{l}|\n")).collect();
    assert_eq!(read_str(&with_bars, true).unwrap().table.jobs, read_str(SAMPLE, true).unwrap().table.jobs);
}

#[test]
fn bad_time_limit_names_line_column_and_field() {
    let text = SAMPLE.replace("|1-02:03:04|", "|1-2x:03:04|");
    let err = read_str(&text, true).unwrap_err().to_string();
    assert_eq!(
        err,
        "sacct.txt: line 2, column 110: field `Timelimit`: expected a time limit like 1-02:03:04, UNLIMITED or Partition_Limit, found `1-2x:03:04`"
    );
}

#[test]
fn missing_fields_and_unknown_states_are_skipped_by_default() {
    let text = format!("{SAMPLE}1009|1009|x|u\n1010|1010|x|u|g|a|p|2024-03-01T11:00:00|Unknown|Unknown|00:00:00|10|EXPLODED|0:0|1|0|1|0|1M|||1\n");
    let read = read_str(&text, false).unwrap();
    assert_eq!(read.table.jobs.len(), 9);
    assert_eq!(read.skipped.total, 2);
    assert_eq!(read.skipped.examples[0].field, "Group");
    assert_eq!(read.skipped.examples[1].field, "State");
}

#[test]
fn a_header_without_jobid_is_fatal_even_when_skipping() {
    let err = read_str("Name|Submit\nx|2024-01-01T00:00:00\n", false).unwrap_err().to_string();
    assert!(err.contains("field `header`: expected a `JobID` column"), "{err}");
}
