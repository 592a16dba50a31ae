//! One shadow decision cycle: take in an observation, bring the baseline's
//! and the candidate's scheduler runtimes up to date with it, ask both what
//! they would do (the candidate as the breaker permits), measure finished
//! jobs, and say it all as log records.
//!
//! The engine keeps no scheduling state of its own: the tracker turns each
//! observation into the inputs of `foresight-core`'s runtime
//! ([`super::feed`]), the very runtime the simulator drives, and the
//! runtimes keep the states, the estimates, their corrections and
//! fair-share usage. What the engine adds is the live part: the candidate
//! on its own thread under a deadline, the circuit breaker that falls back
//! to the baseline, and the measurement against what really happened.

pub use super::cycled::{Cycled, Tally};

use super::cycled::{started_keys, summarise};
use super::feed::{self, Fed, node_index};
use super::track::{Tracked, Tracker};
use super::worker::{Answer, Asked, Candidate, CandidateRuntime, PolicyFactory};
use crate::adapter::{ClusterView, Phase};
use crate::breaker::{Breaker, DriftMonitor, Failure, Permit, Transition};
use crate::log::{Body, BreakerRecord, CompactCycle, FinishedRecord, Observed, Source};
use crate::model::ServedModel;
use foresight_core::policy::{Decision, Policy};
use foresight_core::predictor::Predictor;
use foresight_core::runtime::{Observed as Seen, Runtime, RuntimeConfig};
use foresight_core::state::JobKey;
use std::collections::HashMap;
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
    /// Half-life of fair-share usage in both runtimes, seconds (the
    /// simulator's `--usage-half-life`).
    pub usage_half_life_s: f64,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            deadline: Duration::from_millis(250),
            cooldown: Duration::from_secs(30),
            drift_window: 50,
            drift_min_samples: 10,
            drift_threshold: 5.0,
            usage_half_life_s: foresight_core::runtime::USAGE_HALF_LIFE_S,
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

/// The baseline's runtime: its policy and predictor.
type BaselineRuntime = Runtime<Box<dyn Policy>, Box<dyn Predictor>>;

/// How many inputs the candidate misses while the breaker is open before it
/// is built anew instead (the oldest would otherwise pile up).
const HELD_MAX: usize = 200_000;

/// The shadow engine: the baseline's runtime, the candidate's (on its own
/// thread), the model, the breaker and the tracker. It never acts on the
/// cluster.
pub struct Engine {
    cfg: EngineConfig,
    rt_cfg: RuntimeConfig,
    tracker: Tracker,
    /// Node name to index, in the tracker's order.
    index: HashMap<String, u32>,
    baseline: Option<BaselineRuntime>,
    make_baseline: Box<dyn Fn() -> Box<dyn Policy> + Send>,
    baseline_predictor: Option<Box<dyn Predictor>>,
    candidate: Candidate,
    make_candidate: PolicyFactory,
    /// The model the candidate serves (or why there is none).
    model: Result<ServedModel, String>,
    /// The version of the model that last answered.
    serving: Option<String>,
    /// The candidate's inputs while it cannot take them (the breaker is
    /// open, or a late call has its runtime), sent at its next call.
    held: Vec<Fed>,
    /// A late call's answer, taken back before a cycle: its estimates go in
    /// the next cycle's record.
    late: Option<Answer>,
    breaker: Breaker,
    drift: DriftMonitor,
    cycle: u64,
    restored: HashMap<String, Restored>,
    /// The last cycle's record, its buffers reused by the next.
    record: CompactCycle,
    /// What the cycle under way counts.
    tally: Tally,
    /// The candidate's starts of the cycle under way, when they stand.
    starts: Vec<String>,
}

impl Engine {
    /// An engine deciding with the candidate policies `make_candidate`
    /// makes (one now, a fresh one after a panic), its estimates from
    /// `model`, beside the baseline policies `make_baseline` makes with
    /// estimates from `baseline_predictor`.
    pub fn new(
        cfg: EngineConfig,
        make_candidate: impl Fn() -> Box<dyn Policy> + Send + Sync + 'static,
        make_baseline: impl Fn() -> Box<dyn Policy> + Send + 'static,
        baseline_predictor: Box<dyn Predictor>,
        model: Result<ServedModel, String>,
    ) -> Self {
        let make_candidate: PolicyFactory = Arc::new(make_candidate);
        Self {
            breaker: Breaker::new(cfg.cooldown),
            drift: DriftMonitor::new(cfg.drift_window, cfg.drift_min_samples, cfg.drift_threshold),
            rt_cfg: RuntimeConfig { usage_half_life_s: cfg.usage_half_life_s, ..RuntimeConfig::default() },
            cfg,
            tracker: Tracker::new(),
            index: HashMap::new(),
            baseline: None,
            make_baseline: Box::new(make_baseline),
            baseline_predictor: Some(baseline_predictor),
            candidate: Candidate::new(make_candidate.clone()),
            make_candidate,
            serving: model.as_ref().ok().map(|m| m.version.clone()),
            model,
            held: Vec::new(),
            late: None,
            cycle: 0,
            restored: HashMap::new(),
            record: CompactCycle::default(),
            tally: Tally::default(),
            starts: Vec::new(),
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

    /// The version of the model that serves the candidate (the last one to
    /// answer, else the one loaded).
    pub fn model_version(&self) -> Option<&str> {
        self.serving.as_deref()
    }

    /// Serves a reloaded model (or keeps the current one, if the reload
    /// failed, and says why). A cycle under way finishes with the model it
    /// had; the next is served by the new one. Nothing is dropped.
    pub fn reload(&mut self, model: Result<ServedModel, String>) {
        match model {
            Ok(m) => {
                if !self.candidate.lost() {
                    self.candidate.swap(m.instantiate(), m.version.clone());
                }
                self.model = Ok(m);
            }
            Err(why) if self.model.is_err() => self.model = Err(why),
            Err(why) => {
                tracing::warn!(%why, "model reload failed: the model loaded before still serves")
            }
        }
    }

    /// Waits for a candidate's call that missed its deadline to end, so
    /// that nothing is left running (at shutdown); its estimates go in the
    /// next cycle's record.
    pub async fn settle(&mut self) {
        if let Some(a) = self.candidate.settle().await {
            self.late = Some(a);
        }
    }

    /// The breaker's current state.
    pub fn breaker(&self) -> &Breaker {
        &self.breaker
    }

    /// Cycles run so far.
    pub fn cycles(&self) -> u64 {
        self.cycle
    }

    /// The baseline's runtime (after the first cycle).
    pub fn baseline(&self) -> Option<&BaselineRuntime> {
        self.baseline.as_ref()
    }

    fn transition(&mut self, t: Transition, out: &mut Vec<Body>) {
        tracing::warn!(from = t.from, to = t.to, reason = %t.reason, "circuit breaker");
        self.tally.transitions.push(t.to);
        out.push(Body::Breaker(BreakerRecord { from: t.from.into(), to: t.to.into(), reason: t.reason }));
    }

    /// Runs one cycle on `view`, woken by `trigger`; returns the records to
    /// log: the cycle first, then the finished jobs and breaker transitions
    /// it saw, in order.
    pub async fn cycle(&mut self, view: &ClusterView, trigger: &str) -> Cycled<'_> {
        let span = tracing::info_span!("cycle", n = self.cycle + 1, trigger);
        self.tally = Tally::default();
        self.starts.clear();
        let then = self.cycle_inner(view, trigger).instrument(span).await;
        Cycled { record: &self.record, then, tally: std::mem::take(&mut self.tally), starts: std::mem::take(&mut self.starts) }
    }

    /// The baseline's runtime brought up to date with `inputs` (or built
    /// anew from the tracker when the cluster changed shape or an input was
    /// refused), and its decision.
    fn baseline_decide(&mut self, inputs: &[Fed], reshaped: bool, now: f64) -> Option<Decision> {
        let fresh = match self.baseline.as_mut() {
            None => true,
            Some(rt) => reshaped || inputs.iter().any(|f| f.apply(rt, now, false).is_err()),
        };
        if fresh {
            // the estimates the baseline made keep: its jobs are not predicted twice
            let known: HashMap<JobKey, f64> = self.baseline.as_ref().map_or_else(HashMap::new, |rt| {
                let st = rt.state();
                let queued = st.pending().iter().map(|p| (p.info.key, p.estimate_s));
                queued.chain(st.running().iter().map(|r| (r.info.key, r.submitted_estimate_s))).collect()
            });
            let (policy, predictor, usage) = match self.baseline.take() {
                Some(old) => old.into_parts(),
                None => (
                    (self.make_baseline)(),
                    self.baseline_predictor.take().expect("the baseline's predictor"),
                    foresight_core::state::UsageLedger::new(self.rt_cfg.usage_half_life_s),
                ),
            };
            let mut rt = Runtime::new(self.tracker.cluster(), policy, predictor, self.rt_cfg);
            *rt.usage_mut() = usage;
            feed::rebuild(&mut rt, &self.tracker, &self.index, |t| known.get(&t.info.key).copied(), now);
            self.baseline = Some(rt);
        }
        self.baseline.as_mut().and_then(|rt| rt.decide(now, &Seen).cloned())
    }

    /// Installs an empty candidate runtime and returns the inputs that
    /// bring it to what the tracker knows (jobs with an estimate keep it;
    /// the others are predicted in the call, under the deadline).
    fn build_candidate(&mut self, model: &ServedModel, now: f64) -> Vec<Fed> {
        let rt: CandidateRuntime =
            Runtime::new(self.tracker.cluster(), (self.make_candidate)(), model.instantiate(), self.rt_cfg);
        self.candidate.install(rt, model.version.clone());
        self.held.clear();
        feed::snapshot(&self.tracker, &self.index, |t| t.predicted_s, now)
    }

    /// Records an answer's estimates: each job's prediction (its first) and
    /// the cycle's record.
    fn note_estimates(&mut self, a: &Answer, finished: &mut [Tracked]) {
        for &(key, est, interval) in &a.estimates {
            let t = match self.tracker.get_mut(key) {
                Some(t) => t,
                None => match finished.iter_mut().find(|t| t.info.key == key) {
                    Some(t) => t,
                    None => continue,
                },
            };
            if t.predicted_s.is_none() {
                (t.predicted_s, t.model_version) = (Some(est), Some(a.version.clone()));
                t.predicted_interval = interval;
            }
            self.record.predict(&t.view.job.job_id, est, interval);
        }
    }

    async fn cycle_inner(&mut self, view: &ClusterView, trigger: &str) -> Vec<Body> {
        let started_at = Instant::now();
        let now = view.at_unix_s;
        self.cycle += 1;
        self.record.clear();
        let mut out = Vec::new();
        let mut diff = self.tracker.apply(view);
        let mut finished = std::mem::take(&mut diff.finished);
        if diff.reshaped || self.index.len() != self.tracker.nodes().len() {
            self.index = node_index(&self.tracker);
        }

        // restored predictions first: a restart must not re-predict
        let mut restored: HashMap<JobKey, f64> = HashMap::new();
        if !self.restored.is_empty() {
            for id in diff.changes.iter().map(|c| c.job_id.clone()).collect::<Vec<_>>() {
                let Some(r) = self.restored.remove(&id) else {
                    continue;
                };
                // a job seen again only once it finished is measured with
                // the prediction it had
                let target = match self.tracker.by_id(&id).map(|t| t.info.key) {
                    Some(k) => self.tracker.get_mut(k),
                    None => finished.iter_mut().find(|t| t.view.job.job_id == id),
                };
                if let Some(t) = target {
                    if let Some((p, v)) = r.prediction {
                        (t.predicted_s, t.model_version) = (Some(p), v);
                        restored.insert(t.info.key, p);
                    }
                    t.candidate_start_unix_s = t.candidate_start_unix_s.or(r.candidate_start_unix_s);
                }
            }
        }
        let inputs = feed::inputs(&self.tracker, &self.index, &diff, &finished, &restored, now);

        // a late call that has ended gives the runtime back: its estimates
        // go in the log now
        if let Some(late) = self.candidate.take_late().await.or_else(|| self.late.take()) {
            self.note_estimates(&late, &mut finished);
        }

        // the candidate, as the breaker permits: on a blocking thread, while
        // the baseline decides here
        let (permit, tr) = self.breaker.permit(started_at);
        if let Some(tr) = tr {
            self.transition(tr, &mut out);
        }
        let mut failure: Option<Failure> = None;
        let mut asked = false;
        let hold = permit == Permit::Fallback || (self.model.is_ok() && self.candidate.busy() && !diff.reshaped);
        if hold {
            if !self.candidate.lost() {
                self.held.extend(inputs.iter().cloned());
                if self.held.len() > HELD_MAX {
                    // cheaper built anew than replayed
                    self.candidate.lose();
                    self.held = Vec::new();
                }
            }
            if permit != Permit::Fallback {
                failure = Some(Failure::Deadline { limit: self.cfg.deadline });
            }
        } else {
            match self.model.clone() {
                Err(why) => failure = Some(Failure::ModelMissing(why)),
                Ok(model) => {
                    let send = if self.candidate.lost() || diff.reshaped {
                        self.build_candidate(&model, now)
                    } else {
                        let mut send = std::mem::take(&mut self.held);
                        send.extend(inputs.iter().cloned());
                        send
                    };
                    asked = self.candidate.start(send, now);
                }
            }
        }

        let base_decision = self.baseline_decide(&inputs, diff.reshaped, now);

        let mut answer: Option<Answer> = None;
        if asked {
            let deadline = self.cfg.deadline.saturating_sub(started_at.elapsed());
            match self.candidate.wait(deadline).await {
                Asked::Late => failure = Some(Failure::Deadline { limit: self.cfg.deadline }),
                Asked::Answered(mut a) => {
                    if let Some(f) = a.failure.take() {
                        failure = Some(f);
                    } else if a.unusable > 0 {
                        failure = Some(Failure::ModelError(format!("{} estimate(s) were NaN or negative", a.unusable)));
                    } else if a.took > self.cfg.deadline {
                        failure = Some(Failure::Deadline { limit: self.cfg.deadline });
                    }
                    answer = Some(a);
                }
            }
        }
        if let Some(a) = &answer {
            if !a.version.is_empty() {
                self.serving = Some(a.version.clone());
            }
            self.note_estimates(a, &mut finished);
        }

        // finished jobs: prediction error, drift, counterfactual
        for t in &finished {
            out.push(Body::Finished(self.measure(t)));
        }
        if failure.is_none() && permit != Permit::Fallback {
            failure = self.drift.check();
        }
        let mut candidate = answer.and_then(|a| a.decision).filter(|_| failure.is_none());
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
                if let Some(id) = self.tracker.id_of(s.key)
                    && !self.starts.iter().any(|x| x == id)
                {
                    self.starts.push(id.to_string());
                }
                if let Some(t) = self.tracker.get_mut(s.key) {
                    t.candidate_start_unix_s.get_or_insert(now);
                    rec.predict_if_absent(&t.view.job.job_id, t.predicted_s.unwrap_or(f64::NAN), t.predicted_interval);
                }
            }
            summarise(&self.tracker, c, &mut rec.candidate, &mut rec.ids);
        }
        rec.seal();
        let empty = Decision::default();
        let base_decision = base_decision.unwrap_or(empty);
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
            free_cpus: view
                .nodes
                .iter()
                .filter(|n| n.usable)
                .map(|n| u64::from(n.spec.capacity.cpus.saturating_sub(n.allocated.cpus)))
                .sum(),
        };
        let label = failure.as_ref().map(|f| f.label()).unwrap_or("breaker_open");
        let t = &mut self.tally;
        (t.pending, t.running, t.nodes) = (observed.pending as i64, observed.running as i64, observed.nodes as i64);
        t.latency_s = latency.as_secs_f64();
        t.source = source.as_str();
        t.fallback = (source == Source::Fallback).then_some(label);
        t.disagree = disagree;
        t.rolling_error = self.drift.rolling_error().unwrap_or(0.0);
        t.breaker_gauge = self.breaker.state().gauge();
        t.at_unix_s = now;
        let rec = &mut self.record;
        rec.cycle = self.cycle;
        rec.trigger.push_str(trigger);
        rec.observed_at_unix_s = now;
        rec.observed = observed;
        rec.source = source;
        rec.fallback_reason = fallback_reason;
        rec.model_version = self.serving.clone();
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
        self.tally.finished_errors.push(error);
        FinishedRecord {
            job_id: job.job_id.clone(),
            submit_unix_s: job.submit_s,
            start_unix_s: start,
            end_unix_s: end,
            runtime_s: runtime,
            predicted_runtime_s: t.predicted_s,
            predicted_interval: t.predicted_interval,
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
