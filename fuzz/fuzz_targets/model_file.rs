//! Fuzzes model files: whatever the bytes, reading them returns a model or
//! a precise error, never a panic, a loop or a stack overflow; a model that
//! reads predicts a few jobs, offline on rows of its schema and live as the
//! controller serves it, with runtimes never NaN, never negative and never
//! above the request, and failure probabilities within [0, 1]. Seeds:
//! `foresight train` on the first 30 or 150 H100 jobs, trees cut to two or
//! three per ensemble. Run from `fuzz/`:
//!
//! ```sh
//! RUSTC_BOOTSTRAP=1 cargo fuzz run -s none model_file corpus/model_file seeds/model_file -- \
//!     -max_total_time=600 -max_len=20000 -timeout=10 -dict=model_file.dict
//! ```
//!
//! (The dictionary holds the file's keys and the values its checks turn
//! on, so that more mutations stay JSON that reaches them.)
#![no_main]

use foresight_core::predictor::Predictor;
use foresight_core::state::{JobInfo, JobKey};
use foresight_core::{FeatureValue, Job};
use foresight_models::features::build_rows;
use foresight_models::history::JobTelemetry;
use foresight_models::runtime::requested_s;
use foresight_models::{FilePredictor, ModelFile};
use libfuzzer_sys::fuzz_target;
use std::path::Path;

/// Four jobs, Unix times: with and without a limit, a name, features.
fn jobs() -> Vec<Job> {
    (0..4u32)
        .map(|i| Job {
            job_id: i.to_string(),
            user: Some(format!("u{}", i % 2)),
            queue: Some("gpu".into()),
            name: (i != 3).then(|| format!("train_run_{i}")),
            submit_s: 1.7e9 + f64::from(i) * 600.0,
            start_s: Some(1.7e9 + f64::from(i) * 600.0 + 60.0),
            end_s: Some(1.7e9 + f64::from(i) * 600.0 + 960.0),
            runtime_s: Some(900.0),
            req_cpus: Some(1 << i),
            req_gpus: Some(i),
            req_nodes: Some(1),
            req_mem_mb: Some(4096),
            req_time_s: (i != 2).then_some(3600.0),
            features: [("gpu_type".to_string(), FeatureValue::Text("h100".into())), ("epochs".to_string(), FeatureValue::Num(10.0))]
                .into_iter()
                .collect(),
            ..Job::default()
        })
        .collect()
}

/// What the policies see of `job` under handle `key`: the one mapping.
fn info(key: u32, job: &Job) -> JobInfo {
    JobInfo::of(job, JobKey(key), &mut foresight_core::NameTables::default())
}

fuzz_target!(|data: &[u8]| {
    let Ok(file) = ModelFile::parse(data, Path::new("fuzz.json")) else { return };
    let jobs = jobs();
    for row in build_rows(&file.schema, &jobs, &JobTelemetry::new()) {
        let (p, limit) = (file.runtime.predict(&file.schema, &row), requested_s(&row));
        assert!(!p.is_nan() && p >= 0.0 && p <= limit, "{p} for a request of {limit} s");
        if let Some(f) = &file.failure {
            let q = f.predict(&row);
            assert!((0.0..=1.0).contains(&q), "probability {q}");
        }
    }
    let Ok(mut live) = FilePredictor::try_live(file) else { return };
    for (i, job) in jobs.iter().enumerate() {
        let j = info(i as u32, job);
        live.register(j.key, job);
        let e = live.predict(&j);
        assert!(!e.is_nan() && e >= 0.0, "{e}");
        live.observe_start(&j, job.start_s.unwrap_or(job.submit_s));
        live.observe_end(&j, job.runtime_s.unwrap_or(0.0), job.end_s.unwrap_or(job.submit_s));
    }
});
