//! A trained model file (`foresight train`) served live by the controller:
//! trained on the embedded H100 jobs, saved, loaded by the controller's
//! model loader, and asked about the same jobs as the Slurm adapter maps
//! them (no submitted GPU-job features, times in Unix seconds, not from the
//! trace's epoch), one by one in time order. Its
//! predictions must be finite, within the limits, and the very ones the
//! simulator's `FilePredictor` gives for the same jobs after the same
//! history. Served on a clock 64 times faster (`--time-scale 64`) to the
//! same jobs compressed 64 times, it must give those predictions divided
//! by 64.

use foresight_controller::model;
use foresight_core::Job;
use foresight_core::predictor::{Predictor, clamp_estimate};
use foresight_core::state::{JobInfo, JobKey};
use foresight_datasets::JobTable;
use foresight_models::history::JobTelemetry;
use foresight_models::{FilePredictor, ModelKind, SplitOptions};

/// What the Slurm adapter knows of a job: the request, names and times,
/// and how it ended; never the submitted features of a GPU-job log. Slurm
/// gives Unix times; the trace's are from its epoch.
fn as_slurm_maps_it(j: &Job, id: usize, epoch: f64) -> Job {
    compressed(j, id, epoch, 1.0)
}

/// [`as_slurm_maps_it`] with every time divided by `factor` (after the
/// epoch is added: the trace replayed `factor` times faster).
fn compressed(j: &Job, id: usize, epoch: f64, factor: f64) -> Job {
    let unix = |t: f64| (t + epoch) / factor;
    Job {
        job_id: (1_000_000 + id).to_string(),
        user: j.user.clone(),
        group: j.group.clone(),
        queue: j.queue.clone(),
        name: j.name.clone(),
        submit_s: unix(j.submit_s),
        start_s: j.start_s.map(unix),
        end_s: j.end_s.map(unix),
        runtime_s: j.runtime_s.map(|r| r / factor),
        req_cpus: j.req_cpus,
        req_gpus: j.req_gpus,
        req_nodes: j.req_nodes,
        req_mem_mb: j.req_mem_mb,
        req_time_s: j.req_time_s.map(|r| r / factor),
        status: j.status,
        ..Job::default()
    }
}

/// What the policies see of `job` under handle `key`: the one mapping.
fn info(key: u32, job: &Job) -> JobInfo {
    JobInfo::of(job, JobKey(key), &mut foresight_core::NameTables::default())
}

#[test]
fn a_trained_model_file_predicts_live_as_the_file_predictor() {
    predicts_live_as_the_file_predictor(1.0);
}

#[test]
fn a_trained_model_served_on_a_time_scale_predicts_the_file_predictors_estimates_divided_by_it() {
    // a power of two: dividing and multiplying back is exact
    predicts_live_as_the_file_predictor(64.0);
}

/// Serves the model with `--time-scale factor` to the jobs compressed by
/// `factor` and checks each estimate against the file predictor's on the
/// trace, divided by `factor`.
fn predicts_live_as_the_file_predictor(factor: f64) {
    let table = foresight_datasets::embedded::h100_jobs().unwrap().table;
    let file = foresight_models::train(&table, ModelKind::Gbt, &JobTelemetry::new(), SplitOptions::default()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("trained.json");
    file.save(&path).unwrap();

    let served = model::load_scaled(&path, factor).unwrap();
    assert!(served.version.starts_with("gbt-"), "{}", served.version);
    assert_eq!(served.version.ends_with("@x64"), factor == 64.0, "{}", served.version);
    let mut live = served.instantiate();
    // the simulator reads the trace's times; Slurm reports Unix times
    let epoch = table.meta.epoch_unix_s.expect("the H100 job log has an epoch");
    let mapped: Vec<Job> = table.jobs.iter().enumerate().map(|(i, j)| as_slurm_maps_it(j, i, 0.0)).collect();
    let reported: Vec<Job> = table.jobs.iter().enumerate().map(|(i, j)| compressed(j, i, epoch, factor)).collect();
    let mapped_table = JobTable { meta: table.meta.clone(), jobs: mapped.clone() };
    let rows: Vec<u32> = (0..mapped.len() as u32).collect();
    let mut offline = FilePredictor::new(foresight_models::ModelFile::load(&path).unwrap(), &mapped_table, &rows);

    // submissions, starts and ends in time order, each job's own in that order
    let mut events: Vec<(f64, u8, usize)> = Vec::new();
    for (i, j) in mapped.iter().enumerate() {
        events.push((j.submit_s, 0, i));
        if let (Some(s), Some(e)) = (j.start_s, j.end_s) {
            let s = s.max(j.submit_s);
            events.push((s, 1, i));
            events.push((e.max(s), 2, i));
        }
    }
    events.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2)));
    let (mut predicted, mut differs_from_limit) = (0, 0);
    for (t, what, i) in events {
        let (job, live_job) = (&mapped[i], &reported[i]);
        // the controller's handle is the Slurm id; the simulator's the row
        let (c, s) = (info(job.job_id.parse().unwrap(), live_job), info(i as u32, job));
        match what {
            0 => {
                // the record as first seen: pending, no start, no status
                let first = Job { start_s: None, end_s: None, runtime_s: None, status: Default::default(), ..live_job.clone() };
                live.observe_record(&c, &first);
                let got = clamp_estimate(&c, live.predict(&c));
                let want = clamp_estimate(&s, offline.predict(&s)) / factor;
                assert_eq!(got.to_bits(), want.to_bits(), "job {}: live {got}, offline {want}", job.job_id);
                assert!(got.is_finite() && got >= 0.0 && got <= c.limit_s, "job {}: {got}", job.job_id);
                predicted += 1;
                differs_from_limit += usize::from(got < c.limit_s);
            }
            1 => {
                live.observe_start(&c, (t + epoch) / factor);
                offline.observe_start(&s, t);
            }
            _ => {
                let rt = job.end_s.unwrap() - job.start_s.unwrap();
                live.observe_record(&c, live_job);
                live.observe_end(&c, rt / factor, (t + epoch) / factor);
                offline.observe_end(&s, rt, t);
            }
        }
    }
    assert_eq!(predicted, mapped.len());
    assert!(differs_from_limit > mapped.len() / 2, "the model predicts, not the limit: {differs_from_limit}");
}

#[test]
fn a_model_file_from_before_the_epoch_and_zone_were_stored_apart_is_refused() {
    let table = foresight_datasets::embedded::h100_jobs().unwrap().table;
    let file = foresight_models::train(&table, ModelKind::Gbt, &JobTelemetry::new(), SplitOptions::default()).unwrap();
    let mut json = serde_json::to_value(&file).unwrap();
    let schema = json["schema"].as_object_mut().unwrap();
    let epoch = schema.remove("epoch_unix_s").and_then(|v| v.as_f64()).unwrap_or(0.0);
    let tz = schema.remove("tz_offset_s").and_then(|v| v.as_f64()).unwrap_or(0.0);
    schema.insert("calendar_offset_s".into(), (epoch + tz).into());
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.json");
    std::fs::write(&path, serde_json::to_vec(&json).unwrap()).unwrap();
    let Err(err) = model::load(&path) else { panic!("served live, its hours would be shifted by the epoch") };
    let text = err.to_string();
    assert!(matches!(err, model::ModelError::Invalid { .. }), "{text}");
    assert!(text.contains("old.json") && text.contains("retrain"), "{text}");
}
