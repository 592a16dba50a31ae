//! A model that sleeps past its deadline, or fails, opens the breaker
//! within one cycle on a real Slurm: the fallback shows in the log and in
//! the metrics.

use crate::harness::{self, ReplayJob};
use crate::{cycles, records, shadow, until};
use foresight_controller::log::{Body, Source};
use foresight_controller::model::ServedModel;
use foresight_controller::obs::http;
use foresight_core::predictor::Predictor;
use foresight_core::state::JobInfo;
use std::time::Duration;

/// A test model that sleeps before answering, or answers NaN (a model
/// whose server failed).
#[derive(Clone, Copy)]
struct TroubledModel {
    sleep: Duration,
    fail: bool,
}

impl Predictor for TroubledModel {
    fn name(&self) -> &'static str {
        "troubled"
    }
    fn predict(&mut self, job: &JobInfo) -> f64 {
        std::thread::sleep(self.sleep);
        if self.fail { f64::NAN } else { job.limit_s }
    }
}

async fn opens_on(model: TroubledModel, reason: &str, label: &str) {
    let dir = tempfile::tempdir().unwrap();
    let log_path = dir.path().join("decisions.log");
    let h = shadow(&log_path, ServedModel::custom(move || Box::new(model), "troubled"), |c| c.engine.deadline = Duration::from_millis(100)).await;
    let id = harness::submit(&ReplayJob { trace_id: "breaker".into(), at_s: 0.0, cpus: 1, sleep_s: 1, limit_min: 1 });
    let m = h.metrics.clone();
    until("the breaker to open", Duration::from_secs(20), || m.snapshot().breaker_state == 2).await;
    let (_, text) = http::get(h.metrics_addr.unwrap(), "/metrics").await.unwrap();
    h.shutdown("test over").await.unwrap();

    assert!(text.contains("foresight_breaker_state 2"), "{text}");
    assert!(text.contains(&format!("foresight_fallbacks_total{{reason=\"{label}\"}}")), "{text}");
    assert!(text.contains("foresight_breaker_transitions_total{to=\"open\"} 1"), "{text}");
    let recs = records(&log_path);
    let cycle_at: Vec<usize> = recs.iter().enumerate().filter(|(_, r)| matches!(r.body, Body::Cycle(_))).map(|(i, _)| i).collect();
    let breaker = recs.iter().position(|r| matches!(&r.body, Body::Breaker(b) if b.to == "open")).expect("a breaker record");
    assert!(cycle_at[0] < breaker && cycle_at.get(1).is_none_or(|&second| breaker < second), "opened in the first cycle");
    if let Body::Breaker(b) = &recs[breaker].body {
        assert!(b.reason.contains(reason), "{}", b.reason);
    }
    let cs = cycles(&recs);
    assert_eq!(cs[0].source, Source::Fallback);
    assert!(cs[0].fallback_reason.as_deref().unwrap().contains(reason));
    assert!(cs.iter().all(|c| c.source == Source::Fallback && c.candidate.is_none() && c.baseline.is_some()));
    let _ = id;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_model_past_its_deadline_opens_the_breaker_within_one_cycle() {
    let Some(_slurm) = harness::slurm_or_skip() else { return };
    opens_on(TroubledModel { sleep: Duration::from_millis(400), fail: false }, "deadline", "deadline").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_model_opens_the_breaker_within_one_cycle() {
    let Some(_slurm) = harness::slurm_or_skip() else { return };
    opens_on(TroubledModel { sleep: Duration::ZERO, fail: true }, "NaN or negative", "model_error").await;
}
