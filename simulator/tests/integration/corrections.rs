//! EASY++ corrections: a job that outlives its prediction gets a new one
//! (initial + 1 min, + 5 min, + 15 min, ... capped by the request) and is
//! never killed before its requested time.

use crate::common::{cpus, job};
use foresight_simulator::{RunSpec, Workload, WorkloadOptions, run};

#[test]
fn outliving_a_prediction_corrects_it_and_never_kills() {
    // Two 100 s jobs teach the predictor; the third runs 500 s of 2000.
    let jobs = [job(0.0, 1, 100.0, 2000.0, 7), job(0.0, 1, 100.0, 2000.0, 7), job(200.0, 1, 500.0, 2000.0, 7)];
    let cluster = cpus(2);
    let w = Workload::from_jobs(&jobs, &cluster, WorkloadOptions::default());
    let (r, report) = run(&w, &cluster, &RunSpec::new("easy++")).unwrap();
    let third = r.outcomes[2];
    assert_eq!(third.estimate_s, 100.0);
    assert_eq!(third.corrections, 3, "100 -> 160 -> 400 -> 1000");
    assert_eq!((third.start_s, third.end_s, third.killed), (200.0, 700.0, false));
    assert_eq!(report.stats.corrections, 3);
}

#[test]
fn a_runtime_past_the_request_is_killed_at_the_request() {
    let jobs = [job(0.0, 1, 500.0, 300.0, 1)];
    let cluster = cpus(1);
    let w = Workload::from_jobs(&jobs, &cluster, WorkloadOptions::default());
    let (r, report) = run(&w, &cluster, &RunSpec::new("easy")).unwrap();
    assert_eq!((r.outcomes[0].end_s, r.outcomes[0].killed), (300.0, true));
    assert_eq!(report.summary.killed, 1);
}
