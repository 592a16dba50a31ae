//! Stopping slurmctld mid-run: the controller keeps running, reports the
//! outage in its log, metrics and health, and resumes when Slurm does.

use crate::harness::{self, ReplayJob};
use crate::{easy_pp, records, shadow, until};
use foresight_controller::log::Body;
use foresight_controller::obs::http;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outage_of_slurmctld_is_reported_and_survived() {
    let Some(_slurm) = harness::slurm_or_skip() else { return };
    let dir = tempfile::tempdir().unwrap();
    let log_path = dir.path().join("decisions.log");
    let h = shadow(&log_path, easy_pp(), |_| {}).await;
    let addr = h.metrics_addr.unwrap();
    let job = |i: u32| ReplayJob { trace_id: format!("outage{i}"), at_s: 0.0, cpus: 2, sleep_s: 6, limit_min: 1 };
    let ids: Vec<String> = (0..3).map(|i| harness::submit(&job(i))).collect();
    let m = h.metrics.clone();
    until("the controller to see Slurm", Duration::from_secs(10), || m.snapshot().orchestrator_up == 1).await;

    tokio::task::spawn_blocking(harness::stop_slurmctld).await.unwrap();
    until("the outage to be noticed", Duration::from_secs(30), || m.snapshot().orchestrator_up == 0).await;
    let (code, health) = http::get(addr, "/healthz").await.unwrap();
    assert_eq!(code, 503, "the controller still answers, and says it is degraded");
    assert!(health.contains("\"status\":\"degraded\"") && health.contains("\"orchestrator_up\":false"), "{health}");
    tokio::time::sleep(Duration::from_secs(2)).await;

    tokio::task::spawn_blocking(harness::restart_slurm).await.unwrap();
    until("Slurm to be seen again", Duration::from_secs(30), || m.snapshot().orchestrator_up == 1).await;
    let wait = ids.clone();
    tokio::task::spawn_blocking(move || harness::wait_done(&wait, Duration::from_secs(60))).await.unwrap();
    let path = log_path.clone();
    until("the jobs' finished records", Duration::from_secs(20), || {
        records(&path).iter().filter(|r| matches!(&r.body, Body::Finished(f) if ids.contains(&f.job_id))).count() == ids.len()
    })
    .await;
    let (_, text) = http::get(addr, "/metrics").await.unwrap();
    assert!(text.contains("foresight_orchestrator_up 1"));
    assert!(!text.contains("foresight_orchestrator_errors_total 0"), "{text}");
    h.shutdown("test over").await.unwrap();

    let recs = records(&log_path);
    let outages: Vec<(bool, Option<f64>)> =
        recs.iter().filter_map(|r| if let Body::Outage(o) = &r.body { Some((o.reachable, o.down_s)) } else { None }).collect();
    assert_eq!(outages.len(), 2, "{outages:?}");
    assert!(!outages[0].0 && outages[1].0);
    assert!(outages[1].1.unwrap() >= 2.0, "down for at least the pause");
    let after_outage = recs.iter().skip_while(|r| !matches!(&r.body, Body::Outage(o) if o.reachable)).filter(|r| matches!(r.body, Body::Cycle(_))).count();
    assert!(after_outage > 0, "cycles resumed after the outage");
}
