//! Hour and weekday of a submission: a model trained on a trace (times
//! from its epoch) and served live (Unix times) gives a job submitted at
//! one wall-clock instant one calendar; a model file from before the epoch
//! and the zone were stored apart is refused live and still featurises its
//! trace as before.

use foresight_core::Job;
use foresight_core::state::{Demand, JobInfo, JobKey};
use foresight_core::predictor::Predictor;
use foresight_datasets::JobTable;
use foresight_models::features::{CalendarError, build_rows};
use foresight_models::history::JobTelemetry;
use foresight_models::{FilePredictor, ModelError, ModelFile, ModelKind, SplitOptions, train};
use std::path::Path;

/// An SWF log whose epoch, 2001-09-09 01:46:40 UTC (a Sunday), is in a
/// zone two hours east of UTC. Users 1 to 3 submit every 1,000 s for a
/// day; jobs 1, 74 and 81 open it, cross local midnight and UTC midnight.
fn swf_log() -> String {
    let mut log = String::from("; UnixStartTime: 1000000000\n; TimeZone: 7200\n; MaxProcs: 64\n; MaxNodes: 64\n");
    for i in 0..90u32 {
        let (submit, run) = (i * 1_000, 300 + (i % 7) * 400);
        let line = format!("{} {submit} 0 {run} 4 -1 -1 4 {} -1 1 {} 1 -1 1 -1 -1 -1\n", i + 1, 4 * run, i % 3 + 1);
        log.push_str(&line);
    }
    log
}

fn swf_table() -> JobTable {
    foresight_datasets::swf::read(swf_log().as_bytes(), Path::new("calendar.swf"), true).expect("reads").table
}

/// `job` as a live orchestrator reports it: its times in Unix seconds.
fn in_unix_time(job: &Job, epoch: f64) -> Job {
    let at = |t: f64| t + epoch;
    Job { submit_s: at(job.submit_s), start_s: job.start_s.map(at), end_s: job.end_s.map(at), ..job.clone() }
}

fn info(key: u32, job: &Job) -> JobInfo {
    let limit_s = job.req_time_s.unwrap_or(f64::INFINITY);
    JobInfo { key: JobKey(key), user: 0, group: 0, queue: 0, submit_s: job.submit_s, demand: Demand::new(job.requested()), limit_s }
}

/// Each job's prediction (as bits) from `p` driven through the jobs' own
/// submissions, starts and ends in time order; a live predictor is handed
/// each record first.
fn replay(jobs: &[Job], p: &mut FilePredictor, live: bool) -> Vec<u64> {
    let mut events: Vec<(f64, u8, usize)> = Vec::new();
    for (i, j) in jobs.iter().enumerate() {
        events.push((j.submit_s, 0, i));
        if let (Some(s), Some(e)) = (j.start_s, j.end_s) {
            events.push((s, 1, i));
            events.push((e, 2, i));
        }
    }
    events.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2)));
    let mut out = vec![0; jobs.len()];
    for (t, what, i) in events {
        let job = info(i as u32, &jobs[i]);
        if live {
            p.register(job.key, &jobs[i]);
        }
        match what {
            0 => out[i] = p.predict(&job).to_bits(),
            1 => p.observe_start(&job, t),
            _ => p.observe_end(&job, jobs[i].runtime_s.unwrap_or(0.0), t),
        }
    }
    out
}

#[test]
fn a_job_submitted_at_one_instant_gets_one_calendar_offline_and_live() {
    let table = swf_table();
    let epoch = table.meta.epoch_unix_s.expect("the header's epoch");
    let file = train(&table, ModelKind::Gbt, &JobTelemetry::new(), SplitOptions::default()).expect("trains");
    let schema = &file.schema;
    assert_eq!((schema.epoch_unix_s, schema.tz_offset_s), (Some(1e9), Some(7200)));
    let names = schema.names();
    let (hour, weekday) = (names.iter().position(|n| n == "hour").unwrap(), names.iter().position(|n| n == "weekday").unwrap());
    let offline = build_rows(schema, &table.jobs, &JobTelemetry::new());
    let live_calendar = schema.live_calendar().expect("a new schema serves live");
    for (job, row) in table.jobs.iter().zip(&offline) {
        let mut live = vec![f64::NAN; schema.width()];
        schema.fill_static_on(live_calendar, &in_unix_time(job, epoch), &mut live);
        assert_eq!((live[hour], live[weekday]), (row[hour], row[weekday]), "job {} at trace second {}", job.job_id, job.submit_s);
    }
    // local time (UTC+2) of the epoch, of local midnight, of UTC midnight
    let calendar = |i: usize| (offline[i][hour], offline[i][weekday]);
    assert_eq!(calendar(0), (3.0, 6.0), "Sunday 03:46:40");
    assert_eq!(calendar(73), (0.0, 0.0), "Monday 00:03:20");
    assert_eq!(calendar(80), (2.0, 0.0), "Monday 02:00:00");

    // end to end: the live predictor on Unix times predicts as the one on
    // the trace, bit for bit
    let mut by_table = FilePredictor::new(file.clone(), &table, &(0..table.jobs.len() as u32).collect::<Vec<_>>());
    let mut live = FilePredictor::try_live(file).expect("serves live");
    let unix: Vec<Job> = table.jobs.iter().map(|j| in_unix_time(j, epoch)).collect();
    assert_eq!(replay(&unix, &mut live, true), replay(&table.jobs, &mut by_table, false));
}

/// `file` as versions that stored only the sum of the epoch and the zone
/// wrote it.
fn with_combined_offset(file: &ModelFile, dir: &Path) -> std::path::PathBuf {
    let mut json = serde_json::to_value(file).unwrap();
    let schema = json["schema"].as_object_mut().unwrap();
    assert!(!schema.contains_key("calendar_offset_s"), "new files never write it");
    let epoch = schema.remove("epoch_unix_s").unwrap().as_f64().unwrap();
    let tz = schema.remove("tz_offset_s").unwrap().as_f64().unwrap();
    schema.insert("calendar_offset_s".into(), (epoch + tz).into());
    let path = dir.join("old.json");
    std::fs::write(&path, serde_json::to_vec(&json).unwrap()).unwrap();
    path
}

#[test]
fn an_old_model_file_loads_featurises_its_trace_as_before_and_is_refused_live() {
    let table = swf_table();
    let file = train(&table, ModelKind::Gbt, &JobTelemetry::new(), SplitOptions::default()).expect("trains");
    let dir = tempfile::tempdir().unwrap();
    let old = ModelFile::load(&with_combined_offset(&file, dir.path())).expect("an old file still loads");
    assert_eq!(old.schema.combined_offset_s, Some(1e9 + 7200.0));
    let (before, now) = (build_rows(&old.schema, &table.jobs, &JobTelemetry::new()), build_rows(&file.schema, &table.jobs, &JobTelemetry::new()));
    let bits = |rows: &[Vec<f64>]| rows.iter().flatten().map(|x| x.to_bits()).collect::<Vec<_>>();
    assert_eq!(bits(&before), bits(&now), "offline, its trace's rows are unchanged");
    match FilePredictor::try_live(old) {
        Err(ModelError::Calendar(CalendarError::Combined { offset_s })) => assert_eq!(offset_s, 1e9 + 7200.0),
        other => panic!("expected the combined-offset refusal, got {other:?}"),
    }
    let mut no_epoch = file;
    no_epoch.schema.epoch_unix_s = None;
    let refused = FilePredictor::try_live(no_epoch).expect_err("refused");
    assert!(matches!(refused, ModelError::Calendar(CalendarError::NoEpoch)), "{refused}");
    assert!(refused.to_string().contains("no epoch"), "{refused}");
}
