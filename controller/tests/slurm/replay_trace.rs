//! A slice of the KTH SP2 trace replayed into Slurm as short sleep jobs,
//! with shadow mode watching: every finished job has a prediction and a
//! measured error, and the log records every scheduling change.

use crate::harness::{self, kth_slice};
use crate::{cycles, easy_pp, records, shadow, until};
use foresight_controller::log::{self, Body, ChangeKind};
use std::collections::{HashMap, HashSet};
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_finished_job_of_a_replayed_trace_has_a_prediction_and_an_error() {
    let Some(_slurm) = harness::slurm_or_skip() else { return };
    let Some(jobs) = kth_slice(2000, 30, 20.0, 6, 16) else { return };
    let dir = tempfile::tempdir().unwrap();
    let log_path = dir.path().join("decisions.log");
    // this test is about measurement, not the breaker: a generous deadline,
    // and no drift limit (a one-minute limit on a 2 s job is a 30x error)
    let h = shadow(&log_path, easy_pp(), |c| {
        c.engine.deadline = Duration::from_secs(3);
        c.engine.drift_threshold = f64::INFINITY;
    })
    .await;
    let submitted = tokio::task::spawn_blocking(move || harness::replay(&jobs)).await.unwrap();
    let ids = submitted.clone();
    tokio::task::spawn_blocking(move || harness::wait_done(&ids, Duration::from_secs(240))).await.unwrap();
    let m = h.metrics.clone();
    let want: HashSet<String> = submitted.iter().cloned().collect();
    let path = log_path.clone();
    until("finished records for every job", Duration::from_secs(20), || {
        let _ = m.snapshot();
        let recs = records(&path);
        let seen: HashSet<String> =
            recs.iter().filter_map(|r| if let Body::Finished(f) = &r.body { Some(f.job_id.clone()) } else { None }).collect();
        want.is_subset(&seen)
    })
    .await;
    let addr = h.metrics_addr.unwrap();
    let (_, text) = foresight_controller::obs::http::get(addr, "/metrics").await.unwrap();
    h.shutdown("test over").await.unwrap();

    let recs = records(&log_path);
    let seqs: Vec<u64> = recs.iter().map(|r| r.seq).collect();
    assert_eq!(seqs, (0..recs.len() as u64).collect::<Vec<_>>(), "no gap in the log");
    let finished: HashMap<&str, _> = recs
        .iter()
        .filter_map(|r| if let Body::Finished(f) = &r.body { Some((f.job_id.as_str(), f)) } else { None })
        .collect();
    for id in &submitted {
        let f = finished.get(id.as_str()).unwrap_or_else(|| panic!("no finished record for job {id}"));
        let about: Vec<String> = recs.iter().filter(|r| r.body.mentions_job(id) || matches!(r.body, Body::Breaker(_))).map(log::show::line).collect();
        let predicted = f.predicted_runtime_s.unwrap_or_else(|| panic!("job {id} has no prediction:\n{}", about.join("\n")));
        let error = f.error_s.unwrap_or_else(|| panic!("job {id} has no measured error"));
        assert!((predicted - f.runtime_s - error).abs() < 1e-9);
        assert!(f.runtime_s >= 0.0 && f.runtime_s < 30.0, "job {id} ran {} s", f.runtime_s);
    }
    // every scheduling change Slurm made is in a cycle record
    let cs = cycles(&recs);
    for id in &submitted {
        for what in [ChangeKind::Submitted, ChangeKind::Started, ChangeKind::Finished] {
            let n = cs.iter().flat_map(|c| &c.changes).filter(|ch| &ch.job_id == id && ch.what == what).count();
            assert_eq!(n, 1, "job {id}: {what:?} recorded {n} times");
        }
        let started_in_actual = cs.iter().filter_map(|c| c.actual.as_ref()).any(|a| a.started_ids().contains(&id.as_str()));
        assert!(started_in_actual, "job {id}: Slurm's start is in `actual`");
    }
    assert!(cs.iter().all(|c| c.baseline.is_some()));
    assert!(cs.iter().any(|c| c.candidate.is_some()), "the candidate decided");
    assert!(text.contains("foresight_finished_jobs_total"), "{text}");
    assert!(text.contains("foresight_decisions_total{source=\"candidate\"}"), "{text}");
    let errors: Vec<f64> = finished.values().filter_map(|f| f.error_s).collect();
    eprintln!(
        "replayed {} KTH SP2 jobs; mean |error| {:.1} s; {} cycles",
        submitted.len(),
        errors.iter().map(|e| e.abs()).sum::<f64>() / errors.len() as f64,
        cs.len()
    );
}
