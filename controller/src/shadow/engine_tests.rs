//! Tests of the shadow engine with scripted models and policies: decisions,
//! measurement, the breaker and every part failing, the runtimes kept
//! between cycles, and the places where shadow mode used to differ from
//! the simulator.

use super::*;
use crate::adapter::{ClusterView, JobView};
use crate::log::{ChangeKind, CycleRecord};
use crate::obs::metrics::Metrics;
use crate::shadow::track::tests::{job, node};
use foresight_core::policy::PolicySpec;
use foresight_core::predictor::{Interval, Outlived, PredictorKind};
use foresight_core::state::{ClusterState, JobInfo};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

/// A model that answers a fixed estimate (NaN: a broken one), after a
/// pause or once a gate opens.
struct Scripted {
    estimate: f64,
    sleep: Duration,
    gate: Option<Arc<Mutex<()>>>,
}

impl Predictor for Scripted {
    fn name(&self) -> &'static str {
        "scripted"
    }
    fn predict(&mut self, _: &JobInfo) -> f64 {
        std::thread::sleep(self.sleep);
        if let Some(g) = &self.gate {
            drop(g.lock().unwrap());
        }
        self.estimate
    }
}

fn scripted(estimate: f64, sleep: Duration, version: &str) -> ServedModel {
    ServedModel::custom(move || Box::new(Scripted { estimate, sleep, gate: None }), version)
}

fn healthy() -> ServedModel {
    scripted(30.0, Duration::ZERO, "scripted")
}

fn policy(name: &str) -> Box<dyn Policy> {
    Box::new(name.parse::<PolicySpec>().unwrap().build())
}

fn engine_with(cfg: EngineConfig, candidate: &str, baseline: &str, model: Result<ServedModel, String>) -> Engine {
    let (c, b) = (candidate.to_string(), baseline.to_string());
    Engine::new(cfg, move || policy(&c), move || policy(&b), PredictorKind::Requested.build(Vec::new), model)
}

fn config() -> EngineConfig {
    EngineConfig { deadline: Duration::from_millis(500), cooldown: Duration::from_secs(60), ..EngineConfig::default() }
}

fn engine(model: ServedModel) -> Engine {
    engine_with(config(), "easy++", "easy", Ok(model))
}

fn view(at: f64, jobs: Vec<JobView>) -> ClusterView {
    ClusterView { at_unix_s: at, nodes: vec![node("n1", 4), node("n2", 4)], jobs }
}

fn cycle_of(records: &[Body]) -> &CycleRecord {
    records.iter().find_map(|b| if let Body::Cycle(c) = b { Some(c) } else { None }).expect("a cycle record")
}

fn breaker_moves(records: &[Body]) -> Vec<(String, String)> {
    records
        .iter()
        .filter_map(|b| if let Body::Breaker(b) = b { Some((b.to.clone(), b.reason.clone())) } else { None })
        .collect()
}

/// Opens the breaker with no cool-down: the next cycle is a trial.
fn trial_next(e: &mut Engine) {
    e.breaker = Breaker::new(Duration::ZERO);
    e.breaker.on_failure(Instant::now(), &Failure::ModelMissing("reset".into()));
}

fn pending(id: &str, submit: f64) -> JobView {
    job(id, Phase::Pending, 2, submit, None, None)
}

#[tokio::test(start_paused = true)]
async fn predicts_decides_and_measures_a_finished_job() {
    let mut e = engine(healthy());
    let recs = e.cycle(&view(100.0, vec![pending("1", 99.0)]), "state_change").await.bodies();
    let c = cycle_of(&recs);
    assert_eq!(c.source, Source::Candidate);
    assert_eq!(c.predictions.get("1"), Some(&30.0));
    assert_eq!(c.candidate.as_ref().unwrap().started_ids(), ["1"]);
    assert_eq!(c.baseline.as_ref().unwrap().started_ids(), ["1"]);
    assert_eq!(c.model_version.as_deref(), Some("scripted"));

    e.cycle(&view(101.0, vec![job("1", Phase::Running, 2, 99.0, Some(101.0), None)]), "state_change").await;
    let recs = e
        .cycle(&view(121.0, vec![job("1", Phase::Finished, 2, 99.0, Some(101.0), Some(121.0))]), "job_finished")
        .await
        .bodies();
    let fin = recs.iter().find_map(|b| if let Body::Finished(f) = b { Some(f) } else { None }).unwrap();
    assert_eq!((fin.runtime_s, fin.predicted_runtime_s, fin.error_s), (20.0, Some(30.0), Some(10.0)));
    assert_eq!(fin.candidate_start_unix_s, Some(100.0));
    assert_eq!(fin.counterfactual_delta_s, Some(-1.0), "the candidate would have started it a second earlier");
    assert_eq!(cycle_of(&recs).changes[0].what, ChangeKind::Finished);
}

#[tokio::test]
async fn a_model_giving_nan_opens_the_breaker_in_one_cycle_and_falls_back() {
    let mut e = engine(scripted(f64::NAN, Duration::ZERO, "broken"));
    let metrics = Metrics::default();
    let cycled = e.cycle(&view(100.0, vec![pending("1", 99.0)]), "timer").await;
    cycled.tally.apply(&metrics);
    let recs = cycled.bodies();
    assert_eq!(
        breaker_moves(&recs),
        [("open".to_string(), "model error: 1 estimate(s) were NaN or negative".to_string())]
    );
    let c = cycle_of(&recs);
    assert_eq!(c.source, Source::Fallback);
    assert!(c.candidate.is_none() && c.baseline.is_some());
    let text = metrics.render();
    assert!(text.contains("foresight_breaker_state 2"), "{text}");
    assert!(text.contains("foresight_fallbacks_total{reason=\"model_error\"} 1"), "{text}");
    let c2 = e.cycle(&view(101.0, vec![pending("1", 99.0)]), "timer").await.bodies();
    assert_eq!(cycle_of(&c2).fallback_reason.as_deref(), Some("circuit breaker open"));
}

#[tokio::test(start_paused = true)]
async fn the_breaker_half_opens_after_its_cool_down_on_the_paused_clock_and_closes_on_a_healthy_trial() {
    let mut e = engine(scripted(f64::NAN, Duration::ZERO, "broken"));
    let at = |t: f64| view(t, vec![pending("1", 99.0)]);
    let recs = e.cycle(&at(100.0), "timer").await.bodies();
    assert_eq!(breaker_moves(&recs)[0].0, "open");
    e.reload(Ok(healthy()));
    tokio::time::advance(Duration::from_secs(59)).await;
    let recs = e.cycle(&at(159.0), "timer").await.bodies();
    assert_eq!(cycle_of(&recs).fallback_reason.as_deref(), Some("circuit breaker open"), "59 s of a 60 s cool-down");
    tokio::time::advance(Duration::from_secs(2)).await;
    let recs = e.cycle(&at(161.0), "timer").await.bodies();
    let moves: Vec<String> = breaker_moves(&recs).into_iter().map(|(to, _)| to).collect();
    assert_eq!(moves, ["half_open", "closed"]);
    assert_eq!(cycle_of(&recs).source, Source::Candidate);
}

#[tokio::test(start_paused = true)]
async fn a_call_past_its_deadline_falls_back_on_the_paused_clock() {
    // the model takes 300 ms of real time; the paused clock waits for it and
    // the call's own time is measured against the deadline
    let cfg = EngineConfig { deadline: Duration::from_millis(100), ..config() };
    let mut e = engine_with(cfg, "easy++", "easy", Ok(scripted(30.0, Duration::from_millis(300), "slow")));
    let recs = e.cycle(&view(100.0, vec![pending("1", 99.0)]), "timer").await.bodies();
    assert_eq!(breaker_moves(&recs)[0], ("open".to_string(), "model missed its 100 ms deadline".to_string()));
    assert_eq!(cycle_of(&recs).source, Source::Fallback);
    assert_eq!(cycle_of(&recs).predictions.get("1"), Some(&30.0), "what it answered is still logged");
}

#[tokio::test(start_paused = true)]
async fn a_missing_model_falls_back_every_permitted_cycle_until_one_loads() {
    let mut e = engine_with(config(), "easy++", "easy", Err("no model given".into()));
    let recs = e.cycle(&view(100.0, vec![pending("1", 99.0)]), "timer").await.bodies();
    assert_eq!(cycle_of(&recs).fallback_reason.as_deref(), Some("model missing: no model given"));
    e.reload(Ok(healthy()));
    trial_next(&mut e);
    let recs = e.cycle(&view(101.0, vec![pending("1", 99.0), pending("2", 100.5)]), "timer").await.bodies();
    let c = cycle_of(&recs);
    assert_eq!(c.source, Source::Candidate, "{:?}", c.fallback_reason);
    assert_eq!(
        (c.predictions.get("1"), c.predictions.get("2")),
        (Some(&30.0), Some(&30.0)),
        "built with every live job"
    );
}

#[tokio::test]
// the lock is the gate the model's blocking call waits on: held across the
// cycle on purpose, so that the call misses its deadline
#[allow(clippy::await_holding_lock)]
async fn a_late_answer_is_kept_and_a_reload_during_the_call_serves_the_next_cycle() {
    // v1 answers only once the gate opens: its first call misses the deadline
    let gate = Arc::new(Mutex::new(()));
    let held = gate.lock().unwrap();
    let g = gate.clone();
    let v1 = ServedModel::custom(
        move || Box::new(Scripted { estimate: 7.0, sleep: Duration::ZERO, gate: Some(g.clone()) }),
        "v1",
    );
    let cfg = EngineConfig { deadline: Duration::from_millis(50), ..config() };
    let mut e = engine_with(cfg, "easy++", "easy", Ok(v1));
    let recs = e.cycle(&view(100.0, vec![pending("1", 99.0)]), "timer").await.bodies();
    assert!(breaker_moves(&recs)[0].1.contains("deadline"), "{:?}", breaker_moves(&recs));
    // reloaded while v1's call is still under way: never dropped
    e.reload(Ok(scripted(30.0, Duration::ZERO, "v2")));
    drop(held);
    e.settle().await;
    e.cfg.deadline = Duration::from_secs(20);
    trial_next(&mut e);
    let recs = e.cycle(&view(102.0, vec![pending("1", 99.0), pending("2", 101.0)]), "timer").await.bodies();
    let c = cycle_of(&recs);
    assert_eq!(c.source, Source::Candidate, "{:?}", c.fallback_reason);
    assert_eq!(c.model_version.as_deref(), Some("v2"), "the version that served this cycle");
    assert_eq!(c.predictions.get("2"), Some(&30.0), "predicted by v2");
    assert_eq!(c.predictions.get("1"), Some(&7.0), "v1's late estimate, kept");
}

#[tokio::test]
async fn a_policy_that_panics_opens_the_breaker_and_a_fresh_one_decides_after() {
    /// A policy whose first instance panics and whose later ones are EASY.
    struct Flaky(Box<dyn Policy>, bool);
    impl Policy for Flaky {
        fn name(&self) -> &str {
            "flaky"
        }
        fn decide_into(&mut self, state: &ClusterState, now: f64, out: &mut Decision) {
            assert!(!self.1, "the flaky policy's first instance panics");
            self.0.decide_into(state, now, out)
        }
    }
    let made = Arc::new(AtomicUsize::new(0));
    let m = made.clone();
    let make = move || -> Box<dyn Policy> { Box::new(Flaky(policy("easy"), m.fetch_add(1, Ordering::SeqCst) == 0)) };
    let mut e = Engine::new(config(), make, || policy("easy"), PredictorKind::Requested.build(Vec::new), Ok(healthy()));
    let metrics = Metrics::default();
    let cycled = e.cycle(&view(100.0, vec![pending("1", 99.0)]), "timer").await;
    cycled.tally.apply(&metrics);
    let recs = cycled.bodies();
    let moves = breaker_moves(&recs);
    assert_eq!(moves[0].0, "open");
    assert!(moves[0].1.starts_with("panic: the candidate panicked while deciding"), "{moves:?}");
    assert_eq!(cycle_of(&recs).source, Source::Fallback);
    assert!(
        cycle_of(&recs).baseline.as_ref().is_some_and(|b| b.started_ids() == ["1"]),
        "the baseline decided in the same cycle"
    );
    assert!(metrics.render().contains("foresight_fallbacks_total{reason=\"panic\"} 1"));
    trial_next(&mut e);
    let recs = e.cycle(&view(101.0, vec![pending("1", 99.0)]), "timer").await.bodies();
    assert_eq!(cycle_of(&recs).source, Source::Candidate);
    assert_eq!(cycle_of(&recs).candidate.as_ref().unwrap().started_ids(), ["1"]);
    assert_eq!(made.load(Ordering::SeqCst), 2, "one fresh policy, the state kept");
}

#[tokio::test]
async fn a_model_that_panics_opens_the_breaker_and_the_candidate_is_built_anew() {
    struct Bomb;
    impl Predictor for Bomb {
        fn name(&self) -> &'static str {
            "bomb"
        }
        fn predict(&mut self, job: &JobInfo) -> f64 {
            assert!(job.key.0 != 2, "the model cannot take job 2");
            30.0
        }
    }
    let mut e = engine(ServedModel::custom(|| Box::new(Bomb), "bomb"));
    e.cycle(&view(100.0, vec![pending("1", 99.0)]), "timer").await;
    let recs = e.cycle(&view(101.0, vec![pending("1", 99.0), pending("2", 100.5)]), "timer").await.bodies();
    let moves = breaker_moves(&recs);
    assert!(moves[0].1.starts_with("panic: the model panicked"), "{moves:?}");
    e.reload(Ok(healthy()));
    trial_next(&mut e);
    let recs = e.cycle(&view(102.0, vec![pending("1", 99.0), pending("2", 100.5)]), "timer").await.bodies();
    let c = cycle_of(&recs);
    assert_eq!(c.source, Source::Candidate, "{:?}", c.fallback_reason);
    assert_eq!(c.predictions.get("2"), Some(&30.0), "rebuilt: job 2 predicted by the new model");
    assert_eq!(c.candidate.as_ref().unwrap().started_ids(), ["1", "2"], "the rebuilt runtime holds both");
}

#[tokio::test]
async fn the_kept_baseline_runtime_matches_one_built_afresh_after_changes() {
    let mut e = engine(healthy());
    let r = |id: &str, start: f64| job(id, Phase::Running, 2, 90.0, Some(start), None);
    let f = |id: &str, start: f64, end: f64| job(id, Phase::Finished, 2, 90.0, Some(start), Some(end));
    let views = [
        view(100.0, vec![pending("1", 90.0), pending("2", 91.0), pending("3", 92.0)]),
        view(101.0, vec![r("1", 101.0), r("2", 101.0), pending("3", 92.0), pending("4", 100.5)]),
        view(
            102.0,
            vec![
                f("1", 101.0, 102.0),
                r("2", 101.0),
                r("3", 102.0),
                pending("4", 100.5),
                r("5", 101.5),
                pending("7", 101.8),
            ],
        ),
        // job 7 is withdrawn (it vanishes without running)
        view(103.0, vec![r("2", 101.0), f("3", 102.0, 103.0), r("4", 103.0), r("5", 101.5), pending("6", 102.5)]),
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
    let kept = e.baseline().unwrap().state();
    let mut fresh = Runtime::new(
        e.tracker.cluster(),
        policy("easy"),
        PredictorKind::Requested.build(Vec::new),
        RuntimeConfig::default(),
    );
    feed::rebuild(&mut fresh, &e.tracker, &e.index, |_| None, 103.0);
    assert_eq!(keys(kept), keys(fresh.state()));
    assert_eq!(
        keys(kept),
        (vec![6], vec![2, 4, 5], foresight_core::Resources::new(4, 0, 0)),
        "n1 is full (clipped), n2 free"
    );
}

/// What a [`Told`] model was told: ends, starts and forgotten jobs, by key.
#[derive(Debug, Default)]
struct Heard {
    starts: Vec<u32>,
    ends: Vec<(u32, f64)>,
    forgotten: Vec<u32>,
    outlived: Vec<(u32, f64, f64)>,
}

/// A healthy model that writes down what it is told.
struct Told(Arc<Mutex<Heard>>, f64);

impl Predictor for Told {
    fn name(&self) -> &'static str {
        "told"
    }
    fn predict(&mut self, _: &JobInfo) -> f64 {
        self.1
    }
    fn observe_start(&mut self, job: &JobInfo, _: f64) {
        self.0.lock().unwrap().starts.push(job.key.0);
    }
    fn observe_end(&mut self, job: &JobInfo, runtime_s: f64, _: f64) {
        self.0.lock().unwrap().ends.push((job.key.0, runtime_s));
    }
    fn correct(&mut self, job: &JobInfo, o: &Outlived) -> f64 {
        self.0.lock().unwrap().outlived.push((job.key.0, o.elapsed_s, o.estimate_s));
        o.estimate_s * 2.0
    }
    fn forget(&mut self, job: &JobInfo) {
        self.0.lock().unwrap().forgotten.push(job.key.0);
    }
}

fn told(estimate: f64) -> (ServedModel, Arc<Mutex<Heard>>) {
    let heard = Arc::new(Mutex::new(Heard::default()));
    let h = heard.clone();
    (ServedModel::custom(move || Box::new(Told(h.clone(), estimate)), "told"), heard)
}

#[tokio::test]
async fn what_the_model_missed_while_the_breaker_was_open_reaches_it_at_the_next_call() {
    let mut e = engine(scripted(f64::NAN, Duration::ZERO, "broken"));
    let recs = e.cycle(&view(100.0, vec![pending("1", 99.0), pending("2", 99.5)]), "timer").await.bodies();
    assert_eq!(breaker_moves(&recs)[0].0, "open");
    // while open: job 1 runs and ends, job 2 is withdrawn
    e.cycle(&view(101.0, vec![job("1", Phase::Running, 2, 99.0, Some(101.0), None), pending("2", 99.5)]), "timer")
        .await;
    let recs = e
        .cycle(&view(120.0, vec![job("1", Phase::Finished, 2, 99.0, Some(101.0), Some(120.0))]), "timer")
        .await
        .bodies();
    assert_eq!(cycle_of(&recs).fallback_reason.as_deref(), Some("circuit breaker open"));

    let (model, heard) = told(30.0);
    e.reload(Ok(model));
    trial_next(&mut e);
    let recs = e.cycle(&view(121.0, vec![pending("3", 120.5)]), "timer").await.bodies();
    assert_eq!(cycle_of(&recs).source, Source::Candidate);
    let heard = heard.lock().unwrap();
    assert_eq!(heard.starts, [1], "job 1's start, never told");
    assert_eq!(heard.ends, [(1, 19.0)], "job 1 ran 19 s");
    assert_eq!(heard.forgotten, [2], "job 2 left the queue");
}

// Where shadow mode used to differ from the simulator: each of these failed
// before both drove one runtime.

#[tokio::test]
async fn a_job_asking_for_one_node_is_not_spread_over_two_in_shadow_mode() {
    let mut e = engine_with(config(), "easy", "fcfs", Ok(healthy()));
    let mut one_node = pending("3", 99.0);
    one_node.job.req_cpus = Some(4);
    one_node.job.req_nodes = Some(1);
    let mut on_n2 = job("2", Phase::Running, 2, 90.0, Some(95.0), None);
    on_n2.nodes = vec!["n2".into()];
    let recs = e
        .cycle(&view(100.0, vec![job("1", Phase::Running, 2, 90.0, Some(95.0), None), on_n2, one_node]), "timer")
        .await
        .bodies();
    let c = cycle_of(&recs);
    assert!(c.candidate.as_ref().unwrap().started_ids().is_empty(), "2 + 2 free CPUs on two nodes: it must wait");
    assert!(c.baseline.as_ref().unwrap().started_ids().is_empty());
}

#[tokio::test]
async fn fair_share_usage_is_charged_when_jobs_end_in_shadow_mode() {
    let mut e = engine_with(config(), "easy", "fairshare", Ok(healthy()));
    let by = |id: &str, user: &str, v: JobView| JobView {
        job: foresight_core::Job { job_id: id.into(), user: Some(user.into()), ..v.job },
        ..v
    };
    let big = |id: &str, user: &str, phase: Phase, start: Option<f64>, end: Option<f64>| {
        let mut v = by(id, user, job(id, phase, 8, 10.0, start, end));
        v.nodes = if start.is_some() { vec!["n1".into(), "n2".into()] } else { vec![] };
        v
    };
    e.cycle(&view(100.0, vec![big("1", "alice", Phase::Running, Some(20.0), None)]), "timer").await;
    let recs = e
        .cycle(
            &view(
                200.0,
                vec![
                    big("1", "alice", Phase::Finished, Some(20.0), Some(200.0)),
                    big("3", "alice", Phase::Pending, None, None),
                    big("4", "bob", Phase::Pending, None, None),
                ],
            ),
            "timer",
        )
        .await
        .bodies();
    let c = cycle_of(&recs);
    assert_eq!(c.baseline.as_ref().unwrap().started_ids(), ["4"], "alice used the cluster: bob goes first");
    let usage = e.baseline().unwrap().state().usage().user_usage(0, 200.0);
    assert!(usage > 170.0 && usage <= 180.0, "the whole cluster for 180 s, decayed a little: {usage}");
}

#[tokio::test]
async fn an_outlived_estimate_is_corrected_at_each_instant_it_ran_out_as_in_the_simulator() {
    let (model, heard) = told(10.0);
    let mut e = engine(model);
    e.cycle(&view(100.0, vec![pending("1", 99.0), pending("2", 99.0)]), "timer").await;
    e.cycle(&view(101.0, vec![job("1", Phase::Running, 2, 99.0, Some(100.0), None), pending("2", 99.0)]), "timer")
        .await;
    // at 135 it still runs: its estimate ran out at 110, then at 120
    e.cycle(&view(135.0, vec![job("1", Phase::Running, 2, 99.0, Some(100.0), None), pending("2", 99.0)]), "timer")
        .await;
    assert_eq!(heard.lock().unwrap().outlived, [(1, 10.0, 10.0), (1, 20.0, 20.0)]);
}

#[tokio::test]
async fn the_fair_share_half_life_is_the_engines_setting() {
    let cfg = EngineConfig { usage_half_life_s: 3600.0, ..config() };
    let mut e = engine_with(cfg, "easy", "fairshare", Ok(healthy()));
    e.cycle(&view(100.0, vec![pending("1", 99.0)]), "timer").await;
    assert_eq!(e.baseline().unwrap().state().usage().half_life_s(), 3600.0);
}

/// A model that predicts 30 s within [15, 60] s, except for job "2",
/// whose interval is hand-made and broken (NaN).
struct WithInterval;

impl Predictor for WithInterval {
    fn name(&self) -> &'static str {
        "with-interval"
    }
    fn predict(&mut self, _: &JobInfo) -> f64 {
        30.0
    }
    fn interval(&mut self, job: &JobInfo, estimate_s: f64) -> Option<Interval> {
        assert_eq!(estimate_s, 30.0, "asked about the estimate just made");
        if job.submit_s > 99.2 {
            return Some(Interval { lo_s: f64::NAN, hi_s: 1.0 });
        }
        Interval::new(15.0, 60.0)
    }
}

#[tokio::test(start_paused = true)]
async fn the_log_records_each_predictions_interval_and_the_finished_job_carries_it() {
    let mut e = engine(ServedModel::custom(|| Box::new(WithInterval), "v1"));
    let recs = e.cycle(&view(100.0, vec![pending("1", 99.0), pending("2", 99.5)]), "state_change").await.bodies();
    let c = cycle_of(&recs);
    assert_eq!(c.predictions.len(), 2);
    assert_eq!(c.intervals.get("1"), Some(&Interval { lo_s: 15.0, hi_s: 60.0 }));
    assert_eq!(c.intervals.get("2"), None, "a broken interval is not logged");
    // the encoded record says it, and reads back
    let mut compact = CompactCycle::default();
    compact.predict("1", 30.0, Interval::new(15.0, 60.0));
    compact.seal();
    let mut bytes = Vec::new();
    compact.encode(0, 0.0, &mut bytes);
    let text = String::from_utf8(bytes.clone()).unwrap();
    assert!(text.contains(r#""intervals":{"1":{"lo_s":15.0,"hi_s":60.0}}"#), "{text}");
    let back: crate::log::Record = serde_json::from_slice(&bytes).unwrap();
    let Body::Cycle(back) = back.body else { panic!("a cycle") };
    assert_eq!(back.intervals, c.intervals.iter().filter(|(k, _)| *k == "1").map(|(k, v)| (k.clone(), *v)).collect());

    let recs = e
        .cycle(&view(130.0, vec![job("1", Phase::Finished, 2, 99.0, Some(100.0), Some(170.0))]), "job_finished")
        .await
        .bodies();
    let fin = recs.iter().find_map(|b| if let Body::Finished(f) = b { Some(f) } else { None }).unwrap();
    assert_eq!(fin.predicted_interval, Interval::new(15.0, 60.0));
    assert!(!fin.predicted_interval.unwrap().contains(fin.runtime_s), "ran 70 s: above");
}

#[test]
fn a_log_written_before_intervals_were_kept_still_reads() {
    let old = r#"{"seq":3,"ts_unix_s":1.0,"kind":"finished","job_id":"7","submit_unix_s":0.0,"start_unix_s":1.0,"end_unix_s":2.0,"runtime_s":1.0,"predicted_runtime_s":2.0,"error_s":1.0,"candidate_start_unix_s":null,"counterfactual_delta_s":null,"model_version":"v"}"#;
    let r: crate::log::Record = serde_json::from_str(old).unwrap();
    let Body::Finished(f) = r.body else { panic!("a finished record") };
    assert_eq!(f.predicted_interval, None);
    let old = r#"{"seq":4,"ts_unix_s":1.0,"kind":"cycle","cycle":1,"trigger":"timer","observed_at_unix_s":1.0,"observed":{"nodes":1,"pending":0,"running":0,"free_cpus":4},"changes":[],"actual":null,"baseline":null,"candidate":null,"source":"fallback","fallback_reason":null,"predictions":{"7":2.0},"model_version":null,"latency_us":5}"#;
    let r: crate::log::Record = serde_json::from_str(old).unwrap();
    let Body::Cycle(c) = r.body else { panic!("a cycle record") };
    assert!(c.intervals.is_empty() && c.predictions.len() == 1);
    // and a cycle without intervals is written as before, byte for byte
    let mut compact = CompactCycle::default();
    compact.predict("7", 2.0, None);
    compact.seal();
    let mut bytes = Vec::new();
    compact.encode(0, 0.0, &mut bytes);
    assert!(!String::from_utf8(bytes).unwrap().contains("intervals"));
}

/// The jobs the lua gated at submission, as the adapter reads them from
/// the real Slurm (`test_data/*-lua-gated.json`: 25, 25, 25 and 20 CPUs
/// free, the first job asking for 91 CPUs and no node count): the
/// candidate starts it at once, as Slurm would. Read with Slurm's guess of
/// 4 nodes as a request, it could not be placed (23 CPUs on each of 4
/// nodes), EASY reserved for it now with 4 CPUs to spare, and neither
/// runtime started anything: the stall of the gated-at-submission A/B run.
#[tokio::test]
async fn the_wide_job_the_lua_gated_is_started_where_slurm_would_start_it() {
    use crate::adapter::slurm::parse;
    let read = parse::tests::fixture;
    let mut nodes = parse::nodes(&read("sinfo-22.05-lua-gated.json")).unwrap();
    let doc = read("squeue-22.05-lua-gated.json");
    let mut jobs = parse::jobs(&doc).unwrap();
    // memory is not scheduled there (CR_Core): the adapter drops it
    nodes.iter_mut().for_each(|n| (n.spec.capacity.mem_mb, n.allocated.mem_mb) = (0, 0));
    jobs.iter_mut().for_each(|j| j.job.req_mem_mb = None);
    let at = jobs[1].job.submit_s + 1.0;
    let decide = |jobs: Vec<JobView>| {
        let nodes = nodes.clone();
        async move {
            let mut e =
                engine_with(config(), "sjf", "priority", Ok(ServedModel::of_kind(PredictorKind::Requested, "r")));
            let recs = e.cycle(&ClusterView { at_unix_s: at, nodes, jobs }, "state_change").await.bodies();
            let c = cycle_of(&recs);
            let ids = |d: &Option<crate::log::DecisionSummary>| d.as_ref().unwrap().started_ids().join(",");
            (ids(&c.candidate), ids(&c.baseline))
        }
    };
    assert_eq!(decide(jobs.clone()).await, ("557".to_string(), "557".to_string()));
    // as the adapter read them before: Slurm's `node_count` as the request
    let mut guessed = jobs;
    for (j, raw) in guessed.iter_mut().zip(doc["jobs"].as_array().unwrap()) {
        j.job.req_nodes = raw["node_count"].as_u64().map(|n| n as u32);
    }
    assert_eq!(decide(guessed).await, (String::new(), String::new()), "the guess read as a request: the stall");
}
