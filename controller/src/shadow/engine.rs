//! One shadow decision cycle: take in an observation, keep the model up to
//! date, ask the baseline and (breaker permitting) the candidate what they
//! would do, measure finished jobs, and say it all as log records.

use super::build::{USAGE_HALF_LIFE_S, cluster_state, node_index};
use super::states::States;
use super::model_call::{self, ModelWork, SharedModel};
use super::track::{Diff, Tracked, Tracker};
use super::worker::DecideWorker;
use crate::adapter::{ClusterView, Phase};
use crate::breaker::{Breaker, DriftMonitor, Failure, Permit, Transition};
use crate::log::{Body, BreakerRecord, CompactCycle, CompactSummary, FinishedRecord, Ids, LogError, LogWriter, Observed, Source};
use crate::obs::metrics::{Metrics, bump};
use foresight_core::policy::{Decision, Policy};
use foresight_core::predictor::{Outlived, Predictor};
use foresight_core::Cluster;
use foresight_core::state::{ClusterState, JobKey};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;
use tracing::Instrument;

/// The limits of the candidate and its breaker.
#[derive(Debug, Clone, PartialEq)]
pub struct EngineConfig {
    /// The model's time per cycle; past it the breaker opens.
    pub deadline: Duration,
    /// How long the breaker stays open before a half-open trial.
    pub cooldown: Duration,
    /// Finished jobs in the drift window.
    pub drift_window: usize,
    /// Finished jobs needed before drift can trip the breaker.
    pub drift_min_samples: usize,
    /// Median relative error of the window past which the breaker opens.
    pub drift_threshold: f64,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            deadline: Duration::from_millis(250),
            cooldown: Duration::from_secs(30),
            drift_window: 50,
            drift_min_samples: 10,
            drift_threshold: 5.0,
        }
    }
}

/// What was known of a job before a restart, read back from the log.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Restored {
    /// Its prediction and the model version.
    pub prediction: Option<(f64, Option<String>)>,
    /// When the candidate first chose to start it.
    pub candidate_start_unix_s: Option<f64>,
}

/// The shadow engine: the candidate and baseline policies, the model, the
/// breaker and the tracker. It never acts on the cluster.
pub struct Engine {
    cfg: EngineConfig,
    tracker: Tracker,
    candidate: DecideWorker,
    baseline: Box<dyn Policy>,
    baseline_predictor: Box<dyn Predictor>,
    model: SharedModel,
    breaker: Breaker,
    drift: DriftMonitor,
    cycle: u64,
    metrics: Arc<Metrics>,
    restored: HashMap<String, Restored>,
    states: Option<States>,
    /// The last cycle's record, its buffers reused by the next.
    record: CompactCycle,
    /// What the model missed while the breaker was open.
    held: Held,
}

/// How many finished jobs, and how many withdrawn ones, [`Held`] keeps (the
/// oldest go first).
const HELD_MAX: usize = 100_000;

/// What the model was not told while the breaker was open, told at its next
/// call: how the jobs that finished meanwhile ended, and which jobs left the
/// queue without running. (Starts need no keeping: a running job's start is
/// told at the first call that follows it, see `Tracked::start_observed`.)
/// A call that fails loses what it carried, as it may have been told part of
/// it already.
#[derive(Debug, Default)]
struct Held {
    finished: std::collections::VecDeque<Ended>,
    withdrawn: std::collections::VecDeque<JobKey>,
}

/// A finished job as the model learns it: its final record, its start when
/// the model never saw it start, its runtime and its end.
#[derive(Debug, Clone)]
struct Ended {
    info: foresight_core::state::JobInfo,
    record: foresight_core::Job,
    unseen_start: Option<f64>,
    runtime_s: f64,
    end_s: f64,
}

impl Ended {
    fn of(t: &Tracked, now: f64) -> Self {
        let (start, end) = (t.view.job.start_s.unwrap_or(now), t.view.job.end_s.unwrap_or(now));
        Self {
            info: t.info,
            record: t.view.job.clone(),
            unseen_start: (!t.start_observed).then_some(start),
            runtime_s: (end - start).max(0.0),
            end_s: end,
        }
    }

    fn into_work(self, work: &mut ModelWork) {
        work.records.push((self.info, self.record));
        if let Some(start) = self.unseen_start {
            work.starts.push((self.info, start));
        }
        work.ends.push((self.info, self.runtime_s, self.end_s));
    }
}

impl Held {
    /// Keeps this cycle's finished and withdrawn jobs for the next call.
    fn hold(&mut self, diff: &Diff, finished: &[Tracked], now: f64) {
        self.finished.extend(finished.iter().map(|t| Ended::of(t, now)));
        self.withdrawn.extend(diff.withdrawn.iter().copied());
        let excess = self.finished.len().saturating_sub(HELD_MAX);
        self.finished.drain(..excess);
        let excess = self.withdrawn.len().saturating_sub(HELD_MAX);
        self.withdrawn.drain(..excess);
    }
}

/// What one cycle says: its record, then the finished jobs and breaker
/// transitions it saw, in order.
pub struct Cycled<'a> {
    /// The cycle's record, in the engine's kept buffers.
    pub record: &'a CompactCycle,
    /// The records to log after it.
    pub then: Vec<Body>,
}

impl Cycled<'_> {
    /// All of them as log bodies (the cycle converted), in order.
    pub fn bodies(&self) -> Vec<Body> {
        std::iter::once(Body::Cycle(self.record.to_record())).chain(self.then.iter().cloned()).collect()
    }

    /// Appends all of them to `writer`, each stamped by `ts`; returns how many.
    pub fn write(self, writer: &mut LogWriter, mut ts: impl FnMut() -> f64) -> Result<usize, LogError> {
        writer.append_cycle(ts(), self.record)?;
        let n = 1 + self.then.len();
        for body in self.then {
            writer.append(ts(), body)?;
        }
        Ok(n)
    }
}

/// Writes decision `d` into `out` in the log's words: job ids, node names.
fn summarise(tracker: &Tracker, d: &Decision, out: &mut CompactSummary, ids: &mut Ids) {
    out.begin();
    for s in &d.starts {
        out.start(ids, tracker.id_of(s.key).unwrap_or("?"));
        for sl in &s.slots {
            let number;
            let name = match tracker.nodes().get(sl.node as usize) {
                Some(n) => n.spec.name.as_str(),
                None => {
                    number = sl.node.to_string();
                    &number
                }
            };
            out.node(ids, name);
        }
    }
    for &k in &d.preempt {
        out.preempt(ids, tracker.id_of(k).unwrap_or("?"));
    }
}

/// The distinct jobs a decision starts.
fn started_keys(d: &Decision) -> Vec<JobKey> {
    let mut keys: Vec<JobKey> = d.starts.iter().map(|s| s.key).collect();
    keys.sort_unstable();
    keys.dedup();
    keys
}

impl Engine {
    /// An engine deciding with `candidate` (its estimates from `model`)
    /// beside `baseline` (its estimates from `baseline_predictor`).
    pub fn new(
        cfg: EngineConfig,
        candidate: Box<dyn Policy>,
        baseline: Box<dyn Policy>,
        baseline_predictor: Box<dyn Predictor>,
        model: SharedModel,
        metrics: Arc<Metrics>,
    ) -> Self {
        Self {
            breaker: Breaker::new(cfg.cooldown),
            drift: DriftMonitor::new(cfg.drift_window, cfg.drift_min_samples, cfg.drift_threshold),
            cfg,
            tracker: Tracker::new(),
            candidate: DecideWorker::new(candidate),
            baseline,
            baseline_predictor,
            model,
            cycle: 0,
            metrics,
            restored: HashMap::new(),
            states: None,
            record: CompactCycle::default(),
            held: Held::default(),
        }
    }

    /// Takes back what a previous run logged: jobs already reported
    /// finished are not reported again; predictions and candidate starts
    /// are reused for jobs still live.
    pub fn restore(&mut self, done: impl IntoIterator<Item = String>, known: HashMap<String, Restored>) {
        self.tracker.mark_done(done);
        self.restored = known;
    }

    /// The tracker (for the loop's look-ups of vanished jobs).
    pub fn tracker(&self) -> &Tracker {
        &self.tracker
    }

    /// The model slot (to replace the model on reload).
    pub fn model(&self) -> &SharedModel {
        &self.model
    }

    /// The breaker's current state.
    pub fn breaker(&self) -> &Breaker {
        &self.breaker
    }

    /// Cycles run so far.
    pub fn cycles(&self) -> u64 {
        self.cycle
    }

    fn model_work(&mut self, diff: &Diff, finished: &[Tracked], trial: bool, now: f64) -> (ModelWork, Vec<JobKey>, Vec<JobKey>) {
        // first what the model missed while the breaker was open, in order
        let held = std::mem::take(&mut self.held);
        let mut work = ModelWork::default();
        for e in held.finished {
            e.into_work(&mut work);
        }
        work.withdrawn.extend(held.withdrawn);
        work.withdrawn.extend(diff.withdrawn.iter().copied());
        let mut predict_keys = Vec::new();
        let mut outlived_keys = Vec::new();
        let new: HashSet<JobKey> = diff.new_jobs.iter().copied().collect();
        for t in self.tracker.live() {
            let predict = t.predicted_s.is_none() && (new.contains(&t.info.key) || trial);
            let start = (t.view.phase == Phase::Running && !t.start_observed).then(|| t.view.job.start_s.unwrap_or(now));
            if predict || start.is_some() {
                work.records.push((t.info, t.view.job.clone()));
            }
            if predict {
                predict_keys.push(t.info.key);
                work.predict.push(t.info);
            }
            if t.view.phase == Phase::Running {
                let start_s = t.view.job.start_s.unwrap_or(now);
                if let Some(start) = start {
                    work.starts.push((t.info, start));
                }
                if let Some(est) = t.estimate_s.filter(|e| start_s + e < now) {
                    let o = Outlived { elapsed_s: now - start_s, initial_estimate_s: t.predicted_s.unwrap_or(est), estimate_s: est, corrections: t.corrections };
                    outlived_keys.push(t.info.key);
                    work.outlived.push((t.info, o));
                }
            }
        }
        for t in finished {
            // the final record: the history learns how the job ended
            if t.predicted_s.is_none() {
                predict_keys.push(t.info.key);
                work.predict.push(t.info);
            }
            Ended::of(t, now).into_work(&mut work);
        }
        (work, predict_keys, outlived_keys)
    }

    fn transition(&self, t: Transition, out: &mut Vec<Body>) {
        tracing::warn!(from = t.from, to = t.to, reason = %t.reason, "circuit breaker");
        let gauge = self.breaker.state().gauge();
        self.metrics.update(|v| {
            v.breaker_state = gauge;
            bump(&mut v.breaker_transitions, t.to);
        });
        out.push(Body::Breaker(BreakerRecord { from: t.from.into(), to: t.to.into(), reason: t.reason }));
    }

    /// Runs one cycle on `view`, woken by `trigger`; returns the records to
    /// log: the cycle first, then the finished jobs and breaker transitions
    /// it saw, in order.
    pub async fn cycle(&mut self, view: &ClusterView, trigger: &str) -> Cycled<'_> {
        let span = tracing::info_span!("cycle", n = self.cycle + 1, trigger);
        let then = self.cycle_inner(view, trigger).instrument(span).await;
        Cycled { record: &self.record, then }
    }

    async fn cycle_inner(&mut self, view: &ClusterView, trigger: &str) -> Vec<Body> {
        let started_at = Instant::now();
        let now = view.at_unix_s;
        self.cycle += 1;
        self.record.clear();
        let mut out = Vec::new();
        let mut diff = self.tracker.apply(view);
        let mut finished = std::mem::take(&mut diff.finished);

        // restored predictions first: a restart must not re-predict
        for id in diff.changes.iter().map(|c| c.job_id.clone()).collect::<Vec<_>>() {
            let Some(r) = self.restored.remove(&id) else { continue };
            let key = self.tracker.by_id(&id).map(|t| t.info.key);
            let target = match key {
                Some(k) => self.tracker.get_mut(k),
                None => finished.iter_mut().find(|t| t.view.job.job_id == id),
            };
            if let Some(t) = target {
                if let Some((p, v)) = r.prediction {
                    (t.predicted_s, t.estimate_s, t.model_version) = (Some(p), Some(p), v);
                }
                t.candidate_start_unix_s = t.candidate_start_unix_s.or(r.candidate_start_unix_s);
            }
        }

        // the model: predictions, learning, corrections
        let (permit, tr) = self.breaker.permit(started_at);
        if let Some(tr) = tr {
            self.transition(tr, &mut out);
        }
        let mut failure: Option<Failure> = None;
        let mut model_version = None;
        let mut candidate_time = Duration::ZERO;
        let mut corrected: Vec<JobKey> = Vec::new();
        if permit != Permit::Fallback {
            let (work, predict_keys, outlived_keys) = self.model_work(&diff, &finished, permit == Permit::Trial, now);
            let starts: Vec<JobKey> = work.starts.iter().map(|(i, _)| i.key).collect();
            let asked = Instant::now();
            let answer = model_call::call(&self.model, work, self.cfg.deadline).await;
            candidate_time += asked.elapsed();
            match answer {
                Ok(answer) => {
                    model_version = Some(answer.version.clone());
                    for (key, est) in predict_keys.iter().zip(&answer.estimates) {
                        let t = match self.tracker.get_mut(*key) {
                            Some(t) => t,
                            None => match finished.iter_mut().find(|t| t.info.key == *key) {
                                Some(t) => t,
                                None => continue,
                            },
                        };
                        (t.predicted_s, t.estimate_s, t.model_version) = (Some(*est), Some(*est), Some(answer.version.clone()));
                        self.record.predict(&t.view.job.job_id, *est);
                    }
                    for key in starts {
                        if let Some(t) = self.tracker.get_mut(key) {
                            t.start_observed = true;
                        }
                    }
                    for (key, est) in outlived_keys.iter().zip(&answer.corrections) {
                        if let Some(t) = self.tracker.get_mut(*key) {
                            t.estimate_s = Some(*est);
                            t.corrections += 1;
                            corrected.push(*key);
                        }
                    }
                }
                Err(f) => failure = Some(f),
            }
        } else {
            self.held.hold(&diff, &finished, now);
        }

        // finished jobs: prediction error, drift, counterfactual
        for t in &finished {
            out.push(Body::Finished(self.measure(t)));
        }
        if failure.is_none() && permit != Permit::Fallback {
            failure = self.drift.check();
        }

        // the baseline always, and the candidate when the breaker lets it:
        // each builds its own state and decides on its own thread
        // only jobs seen for the first time lack the baseline's estimate
        let mut new_keys = diff.new_jobs.clone();
        new_keys.sort_unstable();
        for key in new_keys {
            if let Some(t) = self.tracker.get_mut(key).filter(|t| t.baseline_s.is_none()) {
                t.baseline_s = Some(foresight_core::predictor::clamp_estimate(&t.info, self.baseline_predictor.predict(&t.info)));
            }
        }
        for t in &finished {
            let (s, e) = (t.view.job.start_s.unwrap_or(now), t.view.job.end_s.unwrap_or(now));
            self.baseline_predictor.observe_end(&t.info, (e - s).max(0.0), e);
        }
        let ask_candidate = permit != Permit::Fallback && failure.is_none();
        let rebuild = permit == Permit::Trial
            || diff.nodes_changed
            || !self.states.as_mut().is_some_and(|st| st.update(&self.tracker, &diff, &finished, &corrected, now));
        let base_est = |t: &Tracked| t.baseline_s.unwrap_or(f64::INFINITY);
        let cand_est = |t: &Tracked| t.estimate_s.unwrap_or_else(|| base_est(t));
        if rebuild {
            let (base, cand) = std::thread::scope(|scope| {
                let cand = scope.spawn(|| cluster_state(&self.tracker, now, cand_est));
                (cluster_state(&self.tracker, now, base_est), cand.join().expect("building a state panicked"))
            });
            self.states = Some(States { base, cand, index: node_index(&self.tracker) });
        }
        // the candidate decides on its kept thread while the baseline
        // decides here; its state goes there and comes back
        let st = self.states.as_mut().expect("states built");
        if ask_candidate {
            let lent = std::mem::replace(&mut st.cand, ClusterState::new(&Cluster::default(), USAGE_HALF_LIFE_S));
            self.candidate.ask(lent, now);
        }
        let base_decision = self.baseline.decide(&st.base, now);
        let cand = ask_candidate.then(|| {
            let (back, decision, took) = self.candidate.answer();
            st.cand = back;
            (decision, took)
        });
        let mut candidate = None;
        if let Some((decision, took)) = cand {
            candidate_time += took;
            if candidate_time > self.cfg.deadline {
                failure = Some(Failure::Deadline { limit: self.cfg.deadline });
            } else {
                candidate = Some(decision);
            }
        }
        let source = match &failure {
            Some(f) => {
                if matches!(f, Failure::Drift { .. }) {
                    self.drift.reset();
                }
                if let Some(tr) = self.breaker.on_failure(started_at, f) {
                    self.transition(tr, &mut out);
                }
                candidate = None;
                Source::Fallback
            }
            None if permit == Permit::Fallback => Source::Fallback,
            None => {
                if let Some(tr) = self.breaker.on_success() {
                    self.transition(tr, &mut out);
                }
                Source::Candidate
            }
        };
        let fallback_reason = match (&failure, permit) {
            (Some(f), _) => Some(f.to_string()),
            (None, Permit::Fallback) => Some("circuit breaker open".to_string()),
            _ => None,
        };
        let rec = &mut self.record;
        if let Some(c) = &candidate {
            for s in &c.starts {
                if let Some(t) = self.tracker.get_mut(s.key) {
                    t.candidate_start_unix_s.get_or_insert(now);
                    rec.predict_if_absent(&t.view.job.job_id, t.estimate_s.unwrap_or(f64::NAN));
                }
            }
            summarise(&self.tracker, c, &mut rec.candidate, &mut rec.ids);
        }
        rec.seal();
        summarise(&self.tracker, &base_decision, &mut rec.baseline, &mut rec.ids);
        rec.actual.begin();
        for p in &diff.started {
            rec.actual.start(&mut rec.ids, &p.job_id);
            for n in &p.nodes {
                rec.actual.node(&mut rec.ids, n);
            }
        }
        for c in &diff.changes {
            rec.change(&c.job_id, c.what);
        }
        let disagree = candidate.as_ref().is_some_and(|c| started_keys(c) != started_keys(&base_decision));
        let latency = started_at.elapsed();
        let observed = Observed {
            nodes: view.nodes.iter().filter(|n| n.usable).count(),
            pending: view.in_phase(Phase::Pending).count(),
            running: view.in_phase(Phase::Running).count(),
            free_cpus: view.nodes.iter().filter(|n| n.usable).map(|n| u64::from(n.spec.capacity.cpus.saturating_sub(n.allocated.cpus))).sum(),
        };
        let label = failure.as_ref().map(|f| f.label()).unwrap_or("breaker_open");
        self.metrics.update(|v| {
            v.queue_depth = observed.pending as i64;
            v.running_jobs = observed.running as i64;
            v.nodes = observed.nodes as i64;
            v.cycle_latency.observe(latency.as_secs_f64());
            bump(&mut v.decisions, source.as_str());
            if source == Source::Fallback {
                bump(&mut v.fallbacks, label);
            }
            v.disagreements += u64::from(disagree);
            v.rolling_error = self.drift.rolling_error().unwrap_or(0.0);
            v.breaker_state = self.breaker.state().gauge();
            v.last_cycle_unix_s = now;
        });
        let rec = &mut self.record;
        rec.cycle = self.cycle;
        rec.trigger.push_str(trigger);
        rec.observed_at_unix_s = now;
        rec.observed = observed;
        rec.source = source;
        rec.fallback_reason = fallback_reason;
        rec.model_version = model_version.or_else(|| model_call::version(&self.model));
        rec.latency_us = latency.as_micros() as u64;
        out
    }

    fn measure(&mut self, t: &Tracked) -> FinishedRecord {
        let job = &t.view.job;
        let start = job.start_s.unwrap_or(0.0);
        let end = job.end_s.unwrap_or(start);
        let runtime = (end - start).max(0.0);
        let error = t.predicted_s.map(|p| p - runtime);
        if let Some(p) = t.predicted_s {
            self.drift.record(p, runtime);
        }
        self.metrics.update(|v| {
            v.finished_jobs += 1;
            if let Some(e) = error {
                v.prediction_error.observe(e.abs());
            }
        });
        FinishedRecord {
            job_id: job.job_id.clone(),
            submit_unix_s: job.submit_s,
            start_unix_s: start,
            end_unix_s: end,
            runtime_s: runtime,
            predicted_runtime_s: t.predicted_s,
            error_s: error,
            candidate_start_unix_s: t.candidate_start_unix_s,
            counterfactual_delta_s: t.candidate_start_unix_s.map(|c| c - start),
            model_version: t.model_version.clone(),
        }
    }
}

#[cfg(test)]
#[path = "engine_tests.rs"]
mod tests;
