//! Tests of the shadow engine with scripted models: decisions, measurement, breaker, kept states.

use super::*;
use crate::shadow::build::cluster_state;
use foresight_core::state::ClusterState;
use crate::adapter::{ClusterView, JobView};
use crate::log::{ChangeKind, CycleRecord};
use crate::shadow::model_call::shared;
use crate::shadow::model_call::tests::ScriptedModel;
use crate::shadow::track::tests::{job, node};
use foresight_core::policy::PolicySpec;
use foresight_core::predictor::PredictorKind;

fn engine(model: ScriptedModel) -> Engine {
    let cand: PolicySpec = "easy++".parse().unwrap();
    let base: PolicySpec = "easy".parse().unwrap();
    let cfg = EngineConfig { deadline: Duration::from_millis(100), cooldown: Duration::from_secs(60), ..EngineConfig::default() };
    Engine::new(
        cfg,
        Box::new(cand.build()),
        Box::new(base.build()),
        PredictorKind::Requested.build(Vec::new),
        shared(Ok(Box::new(model))),
        Arc::new(Metrics::default()),
    )
}

fn view(at: f64, jobs: Vec<JobView>) -> ClusterView {
    ClusterView { at_unix_s: at, nodes: vec![node("n1", 4), node("n2", 4)], jobs }
}

fn cycle_of(records: &[Body]) -> &CycleRecord {
    records.iter().find_map(|b| if let Body::Cycle(c) = b { Some(c) } else { None }).expect("a cycle record")
}

fn healthy() -> ScriptedModel {
    ScriptedModel { sleep: Duration::ZERO, fail: false, estimate: 30.0 }
}

#[tokio::test]
async fn predicts_decides_and_measures_a_finished_job() {
    let mut e = engine(healthy());
    let recs = e.cycle(&view(100.0, vec![job("1", Phase::Pending, 2, 99.0, None, None)]), "state_change").await.bodies();
    let c = cycle_of(&recs);
    assert_eq!(c.source, Source::Candidate);
    assert_eq!(c.predictions.get("1"), Some(&30.0));
    assert_eq!(c.candidate.as_ref().unwrap().started_ids(), ["1"]);
    assert_eq!(c.baseline.as_ref().unwrap().started_ids(), ["1"]);
    assert_eq!(c.model_version.as_deref(), Some("scripted"));

    e.cycle(&view(101.0, vec![job("1", Phase::Running, 2, 99.0, Some(101.0), None)]), "state_change").await;
    let recs = e.cycle(&view(121.0, vec![job("1", Phase::Finished, 2, 99.0, Some(101.0), Some(121.0))]), "job_finished").await.bodies();
    let fin = recs.iter().find_map(|b| if let Body::Finished(f) = b { Some(f) } else { None }).unwrap();
    assert_eq!((fin.runtime_s, fin.predicted_runtime_s, fin.error_s), (20.0, Some(30.0), Some(10.0)));
    assert_eq!(fin.candidate_start_unix_s, Some(100.0));
    assert_eq!(fin.counterfactual_delta_s, Some(-1.0), "the candidate would have started it a second earlier");
    assert_eq!(cycle_of(&recs).changes[0].what, ChangeKind::Finished);
}

#[tokio::test]
async fn a_failing_model_opens_the_breaker_in_one_cycle_and_falls_back() {
    let mut e = engine(ScriptedModel { sleep: Duration::ZERO, fail: true, estimate: 1.0 });
    let recs = e.cycle(&view(100.0, vec![job("1", Phase::Pending, 2, 99.0, None, None)]), "timer").await.bodies();
    assert!(matches!(&recs[1], Body::Breaker(b) if b.to == "open" && b.reason.contains("scripted failure")));
    let c = cycle_of(&recs);
    assert_eq!(c.source, Source::Fallback);
    assert!(c.candidate.is_none() && c.baseline.is_some());
    let text = e.metrics.render();
    assert!(text.contains("foresight_breaker_state 2"), "{text}");
    assert!(text.contains("foresight_fallbacks_total{reason=\"model_error\"} 1"), "{text}");
    let c2 = e.cycle(&view(101.0, vec![job("1", Phase::Pending, 2, 99.0, None, None)]), "timer").await.bodies();
    assert_eq!(cycle_of(&c2).fallback_reason.as_deref(), Some("circuit breaker open"));
}

#[tokio::test]
async fn a_slow_model_misses_its_deadline_then_a_healthy_one_closes_the_breaker() {
    let mut e = engine(ScriptedModel { sleep: Duration::from_millis(400), fail: false, estimate: 1.0 });
    let recs = e.cycle(&view(100.0, vec![job("1", Phase::Pending, 2, 99.0, None, None)]), "timer").await.bodies();
    assert!(matches!(&recs[1], Body::Breaker(b) if b.reason.contains("deadline")));
    tokio::time::sleep(Duration::from_millis(450)).await; // let the late call end
    e.model().lock().unwrap().model = Some(Box::new(healthy()));
    e.breaker = Breaker::new(Duration::ZERO);
    e.breaker.on_failure(Instant::now(), &Failure::ModelMissing("reset".into()));
    let recs = e.cycle(&view(102.0, vec![job("1", Phase::Pending, 2, 99.0, None, None)]), "timer").await.bodies();
    let kinds: Vec<&str> = recs.iter().filter_map(|b| if let Body::Breaker(b) = b { Some(b.to.as_str()) } else { None }).collect();
    assert_eq!(kinds, ["half_open", "closed"]);
    let c = cycle_of(&recs);
    assert_eq!(c.source, Source::Candidate);
    assert_eq!(c.predictions.get("1"), Some(&30.0), "the trial predicts jobs that arrived while open");
}

#[tokio::test]
async fn kept_states_match_a_fresh_build_after_changes() {
    let mut e = engine(healthy());
    let p = |id: &str, submit: f64| job(id, Phase::Pending, 2, submit, None, None);
    let r = |id: &str, start: f64| job(id, Phase::Running, 2, 90.0, Some(start), None);
    let f = |id: &str, start: f64, end: f64| job(id, Phase::Finished, 2, 90.0, Some(start), Some(end));
    let views = [
        view(100.0, vec![p("1", 90.0), p("2", 91.0), p("3", 92.0)]),
        view(101.0, vec![r("1", 101.0), r("2", 101.0), p("3", 92.0), p("4", 100.5)]),
        view(102.0, vec![f("1", 101.0, 102.0), r("2", 101.0), r("3", 102.0), p("4", 100.5), r("5", 101.5), p("7", 101.8)]),
        // job 7 is withdrawn (it vanishes without running): updated, not rebuilt
        view(103.0, vec![r("2", 101.0), f("3", 102.0, 103.0), r("4", 103.0), r("5", 101.5), p("6", 102.5)]),
    ];
    for v in &views {
        e.cycle(v, "state_change").await;
    }
    let keys = |s: &ClusterState| {
        let mut pending: Vec<u32> = s.pending().iter().map(|j| j.info.key.0).collect();
        let mut running: Vec<u32> = s.running().iter().map(|j| j.info.key.0).collect();
        pending.sort_unstable();
        running.sort_unstable();
        (pending, running, s.free_total())
    };
    let kept = e.states.as_ref().unwrap();
    let fresh = cluster_state(&e.tracker, 103.0, |t| t.baseline_s.unwrap_or(f64::INFINITY));
    assert_eq!(keys(&kept.base), keys(&fresh));
    assert_eq!(keys(&kept.base), (vec![6], vec![2, 4, 5], foresight_core::Resources::new(4, 0, 0)), "n1 is full (clipped), n2 free");
    let fresh = cluster_state(&e.tracker, 103.0, |t| t.estimate_s.unwrap_or(f64::INFINITY));
    assert_eq!(keys(&kept.cand), keys(&fresh));
}

/// What a [`Told`] model was told: ends, starts and forgotten jobs, by key.
#[derive(Debug, Default)]
struct Heard {
    starts: Vec<u32>,
    ends: Vec<(u32, f64)>,
    forgotten: Vec<u32>,
}

/// A healthy model that writes down what it is told.
struct Told(Arc<std::sync::Mutex<Heard>>);

impl crate::model::Model for Told {
    fn version(&self) -> &str {
        "told"
    }
    fn forget(&mut self, key: JobKey) {
        self.0.lock().unwrap().forgotten.push(key.0);
    }
    fn predict(&mut self, jobs: &[foresight_core::state::JobInfo]) -> Result<Vec<f64>, crate::model::ModelError> {
        Ok(vec![30.0; jobs.len()])
    }
    fn observe_start(&mut self, job: &foresight_core::state::JobInfo, _: f64) {
        self.0.lock().unwrap().starts.push(job.key.0);
    }
    fn observe_end(&mut self, job: &foresight_core::state::JobInfo, runtime_s: f64, _: f64) {
        self.0.lock().unwrap().ends.push((job.key.0, runtime_s));
    }
    fn correct(&mut self, _: &foresight_core::state::JobInfo, o: &Outlived) -> f64 {
        o.estimate_s * 2.0
    }
}

#[tokio::test]
async fn what_the_model_missed_while_the_breaker_was_open_reaches_it_at_the_next_call() {
    let mut e = engine(ScriptedModel { sleep: Duration::ZERO, fail: true, estimate: 1.0 });
    let p = |id: &str, submit: f64| job(id, Phase::Pending, 2, submit, None, None);
    let recs = e.cycle(&view(100.0, vec![p("1", 99.0), p("2", 99.5)]), "timer").await.bodies();
    assert!(matches!(&recs[1], Body::Breaker(b) if b.to == "open"));
    // while open: job 1 runs and ends, job 2 is withdrawn
    e.cycle(&view(101.0, vec![job("1", Phase::Running, 2, 99.0, Some(101.0), None), p("2", 99.5)]), "timer").await;
    let recs = e.cycle(&view(120.0, vec![job("1", Phase::Finished, 2, 99.0, Some(101.0), Some(120.0))]), "timer").await.bodies();
    assert_eq!(cycle_of(&recs).fallback_reason.as_deref(), Some("circuit breaker open"));

    let heard = Arc::new(std::sync::Mutex::new(Heard::default()));
    e.model().lock().unwrap().model = Some(Box::new(Told(heard.clone())));
    e.breaker = Breaker::new(Duration::ZERO);
    e.breaker.on_failure(Instant::now(), &Failure::ModelMissing("reset".into()));
    let recs = e.cycle(&view(121.0, vec![p("3", 120.5)]), "timer").await.bodies();
    assert_eq!(cycle_of(&recs).source, Source::Candidate);
    let heard = heard.lock().unwrap();
    assert_eq!(heard.starts, [1], "job 1's start, never told");
    assert_eq!(heard.ends, [(1, 19.0)], "job 1 ran 19 s");
    assert_eq!(heard.forgotten, [2], "job 2 left the queue");
}
