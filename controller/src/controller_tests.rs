//! Tests of the controller loop against a scripted fake orchestrator.

use super::*;
use crate::adapter::Phase;
use crate::adapter::fake::FakeOrchestrator;
use crate::model::ServedModel;
use crate::shadow::track::tests::{job, node};

fn view(at: f64, phase: Phase) -> ClusterView {
    let (start, end) = match phase {
        Phase::Pending => (None, None),
        Phase::Running => (Some(101.0), None),
        Phase::Finished => (Some(101.0), Some(111.0)),
    };
    ClusterView { at_unix_s: at, nodes: vec![node("n1", 4)], jobs: vec![job("1", phase, 1, 100.0, start, end)] }
}

fn config(dir: &std::path::Path) -> ShadowConfig {
    let mut cfg = ShadowConfig::new("easy++", dir.join("d.log"));
    cfg.poll = Duration::from_millis(10);
    cfg.timer = Duration::from_millis(50);
    cfg.metrics_addr = Some("127.0.0.1:0".parse().unwrap());
    cfg
}

fn model() -> Option<ServedModel> {
    Some(ServedModel::of_kind(PredictorKind::Requested, "test-1"))
}

async fn until(what: &str, f: impl Fn() -> bool) {
    for _ in 0..500 {
        if f() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("timed out waiting for {what}");
}

fn bodies(path: &std::path::Path) -> Vec<Body> {
    log::read_log(path).unwrap().into_iter().flat_map(|s| s.records).map(|r| r.body).collect()
}

use foresight_core::predictor::PredictorKind;

#[tokio::test]
async fn logs_every_change_and_resumes_without_repeating_a_finished_job() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path());
    let script = [Ok(view(100.5, Phase::Pending)), Err("slurmctld down".into()), Ok(view(101.5, Phase::Running)), Ok(view(112.0, Phase::Finished))];
    let h = start(FakeOrchestrator::new(script), cfg.clone(), model(), false).await.unwrap();
    let m = h.metrics.clone();
    until("the finished job", || m.snapshot().finished_jobs == 1).await;
    let (code, text) = http::get(h.metrics_addr.unwrap(), "/metrics").await.unwrap();
    assert_eq!(code, 200);
    assert!(text.contains("foresight_finished_jobs_total 1"));
    assert!(text.contains("foresight_orchestrator_errors_total 1"));
    h.shutdown("test").await.unwrap();

    let all = bodies(&cfg.log.path);
    assert!(matches!(all.first(), Some(Body::Start(s)) if !s.resumed && s.model_version.as_deref() == Some("test-1")));
    assert!(matches!(all.last(), Some(Body::Stop(s)) if s.reason == "test"));
    let outages: Vec<bool> = all.iter().filter_map(|b| if let Body::Outage(o) = b { Some(o.reachable) } else { None }).collect();
    assert_eq!(outages, [false, true]);
    let changes: Vec<_> = all.iter().filter_map(|b| if let Body::Cycle(c) = b { Some(c.changes.clone()) } else { None }).flatten().collect();
    assert_eq!(changes.len(), 3, "submitted, started, finished: {changes:?}");
    let fin: Vec<_> = all.iter().filter_map(|b| if let Body::Finished(f) = b { Some(f.clone()) } else { None }).collect();
    assert_eq!(fin.len(), 1);
    assert_eq!(fin[0].predicted_runtime_s, Some(600.0));

    // a restart on the same log sees the job still listed as finished
    let h = start(FakeOrchestrator::new([Ok(view(113.0, Phase::Finished))]), cfg.clone(), model(), false).await.unwrap();
    let m = h.metrics.clone();
    until("a cycle after restart", || m.snapshot().decisions.values().sum::<u64>() >= 1).await;
    h.shutdown("test").await.unwrap();
    let all = bodies(&cfg.log.path);
    assert_eq!(all.iter().filter(|b| matches!(b, Body::Finished(_))).count(), 1, "not reported twice");
    assert!(all.iter().any(|b| matches!(b, Body::Start(s) if s.resumed)));
}
