//! The discrete-event engine: submissions, starts, ends, node failures and
//! repairs, and prediction-correction wake-ups, in virtual time.
//!
//! Events at the same instant are applied together, in a fixed order
//! (corrections, submissions, ends, repairs, failures, wake-ups), and then
//! the policy is asked once. Predictions for jobs submitted at an instant
//! are made before the ends of that instant are learnt. The engine never
//! reads the wall clock; the same inputs and seed give the same results.

use crate::faults::{FaultConfig, FaultStreams, OnFailure};
use crate::workload::Workload;
use foresight_core::Cluster;
use foresight_core::policy::{Decision, Policy};
use foresight_core::predictor::{Outlived, Predictor, clamp_correction, clamp_estimate};
use foresight_core::state::{ClusterState, JobKey, PendingJob, StateError};
use serde::{Deserialize, Serialize};
use std::cmp::Ordering;
use std::collections::BinaryHeap;

/// Options of one simulation besides the policy and predictor.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SimOptions {
    /// Faults to inject.
    pub faults: FaultConfig,
    /// Seed of every random draw.
    pub seed: u64,
    /// Half-life of fair-share usage, seconds.
    pub usage_half_life_s: f64,
    /// Ask the policy again at an instant where only predictions were
    /// corrected. Off by default, as in Tsafrir's EASY++ and the predictsim
    /// simulator: a correction moves the reservation, and the next
    /// submission or end acts on it. (On KTH-SP2, deciding at corrections
    /// raises EASY++'s average bounded slowdown from 63.4 to 68.5.)
    pub decide_on_correction: bool,
}

impl Default for SimOptions {
    fn default() -> Self {
        Self { faults: FaultConfig::default(), seed: 0, usage_half_life_s: 7.0 * 86_400.0, decide_on_correction: false }
    }
}

/// What happened to one job. Times are NaN when it never started.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct JobOutcome {
    /// Start of its last attempt.
    pub start_s: f64,
    /// End of its last attempt.
    pub end_s: f64,
    /// The estimate its predictor made at submission.
    pub estimate_s: f64,
    /// Times it went back to the queue (node failure or preemption).
    pub requeues: u16,
    /// Times its estimate was corrected.
    pub corrections: u16,
    /// Killed at its time limit.
    pub killed: bool,
    /// Ended by a node failure.
    pub failed: bool,
    /// Its last start overtook a job ahead of it.
    pub backfilled: bool,
}

impl JobOutcome {
    const NOT_STARTED: JobOutcome = JobOutcome {
        start_s: f64::NAN,
        end_s: f64::NAN,
        estimate_s: f64::NAN,
        requeues: 0,
        corrections: 0,
        killed: false,
        failed: false,
        backfilled: false,
    };

    /// True when the job ran to an end.
    pub fn ended(&self) -> bool {
        !self.end_s.is_nan()
    }
}

/// Counters of one run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EngineStats {
    /// Events handled (submissions included).
    pub events: u64,
    /// Times the policy was asked.
    pub decisions: u64,
    /// Prediction corrections.
    pub corrections: u64,
    /// Node failures.
    pub node_failures: u64,
    /// Jobs sent back to the queue.
    pub requeues: u64,
    /// Jobs that never started (stranded when the run ended).
    pub never_started: u64,
}

/// The result of one simulation.
#[derive(Debug, Clone, PartialEq)]
pub struct SimResult {
    /// Per job, by key.
    pub outcomes: Vec<JobOutcome>,
    /// Counters.
    pub stats: EngineStats,
}

/// Why a simulation stopped early. The run cannot go on after any of them.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EngineError {
    /// The policy asked for something the state refuses.
    #[error("policy `{policy}` made an invalid decision at t={at_s}: {source}")]
    InvalidDecision {
        /// The policy.
        policy: String,
        /// When.
        at_s: f64,
        /// What the state refused.
        source: StateError,
    },
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    Correction { key: JobKey, attempt: u16, n: u16 },
    End { key: JobKey, attempt: u16 },
    Up { node: u32, random: bool },
    Down { node: u32, random: bool },
    Wake,
}

impl Kind {
    fn rank(&self) -> u8 {
        match self {
            Kind::Correction { .. } => 0,
            Kind::End { .. } => 2,
            Kind::Up { .. } => 3,
            Kind::Down { .. } => 4,
            Kind::Wake => 5,
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Event {
    t: f64,
    seq: u64,
    kind: Kind,
}

impl Ord for Event {
    fn cmp(&self, o: &Self) -> Ordering {
        // Reversed: BinaryHeap is a max-heap and the earliest event must come first.
        o.t.total_cmp(&self.t).then(o.kind.rank().cmp(&self.kind.rank())).then(o.seq.cmp(&self.seq))
    }
}

impl PartialOrd for Event {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}

impl PartialEq for Event {
    fn eq(&self, o: &Self) -> bool {
        self.cmp(o) == Ordering::Equal
    }
}

impl Eq for Event {}

/// Replays `workload` on `cluster` under `policy`, with runtime estimates
/// from `predictor`.
pub fn simulate(
    workload: &Workload,
    cluster: &Cluster,
    policy: &mut dyn Policy,
    predictor: &mut dyn Predictor,
    opts: &SimOptions,
) -> Result<SimResult, EngineError> {
    let mut e = Engine {
        w: workload,
        state: ClusterState::new(cluster, opts.usage_half_life_s),
        heap: BinaryHeap::new(),
        seq: 0,
        live: 0,
        out: vec![JobOutcome::NOT_STARTED; workload.len()],
        attempt: vec![0; workload.len()],
        down: vec![0; cluster.len()],
        faults: FaultStreams::new(opts.faults.rate, cluster.len(), opts.seed),
        on_failure: opts.faults.on_failure,
        stats: EngineStats::default(),
        capacity: cluster.total(),
        next_wake: f64::INFINITY,
        decide_on_correction: opts.decide_on_correction,
    };
    e.plan_faults(&opts.faults);
    e.run(policy, predictor)?;
    e.stats.never_started = e.out.iter().filter(|o| o.start_s.is_nan()).count() as u64;
    Ok(SimResult { outcomes: e.out, stats: e.stats })
}

struct Engine<'w> {
    w: &'w Workload,
    state: ClusterState,
    heap: BinaryHeap<Event>,
    seq: u64,
    /// Pending ends and corrections: while any remain, the run goes on.
    live: usize,
    out: Vec<JobOutcome>,
    attempt: Vec<u16>,
    down: Vec<u32>,
    faults: FaultStreams,
    on_failure: OnFailure,
    stats: EngineStats,
    capacity: foresight_core::Resources,
    next_wake: f64,
    decide_on_correction: bool,
}

impl Engine<'_> {
    fn push(&mut self, t: f64, kind: Kind) {
        if matches!(kind, Kind::End { .. } | Kind::Correction { .. }) {
            self.live += 1;
        }
        self.seq += 1;
        self.heap.push(Event { t, seq: self.seq, kind });
    }

    fn plan_faults(&mut self, faults: &FaultConfig) {
        for o in &faults.schedule {
            if (o.node as usize) < self.down.len() {
                self.push(o.at_s, Kind::Down { node: o.node, random: false });
                self.push(o.at_s + o.duration_s, Kind::Up { node: o.node, random: false });
            }
        }
        let t0 = self.w.jobs.first().map_or(0.0, |j| j.info.submit_s);
        for node in 0..self.down.len() as u32 {
            if let Some(dt) = self.faults.time_to_failure(node) {
                self.push(t0 + dt, Kind::Down { node, random: true });
            }
        }
    }

    fn run(&mut self, policy: &mut dyn Policy, predictor: &mut dyn Predictor) -> Result<(), EngineError> {
        let w = self.w;
        let jobs = &w.jobs;
        let mut cursor = 0;
        loop {
            let next_submit = jobs.get(cursor).map(|j| j.info.submit_s);
            let next_event = self.heap.peek().map(|e| e.t);
            let now = match (next_submit, next_event) {
                (Some(a), Some(b)) => a.min(b),
                (Some(a), None) => a,
                (None, Some(b)) => b,
                (None, None) => break,
            };
            if next_submit.is_none() && self.live == 0 && self.idle_for_good() {
                break;
            }
            let mut only_corrections = true;
            while let Some(ev) = self.heap.peek().copied().filter(|e| e.t == now && e.kind.rank() == 0) {
                self.heap.pop();
                self.handle(ev, predictor);
            }
            while let Some(j) = jobs.get(cursor).filter(|j| j.info.submit_s == now) {
                let estimate_s = clamp_estimate(&j.info, predictor.predict(&j.info));
                self.out[cursor].estimate_s = estimate_s;
                self.state.submit(PendingJob { info: j.info, estimate_s }).expect("workload keys are unique");
                self.stats.events += 1;
                cursor += 1;
                only_corrections = false;
            }
            while let Some(ev) = self.heap.peek().copied().filter(|e| e.t == now) {
                only_corrections = false;
                self.heap.pop();
                self.handle(ev, predictor);
            }
            if self.state.pending().is_empty() || (only_corrections && !self.decide_on_correction) {
                continue;
            }
            self.stats.decisions += 1;
            let decision = policy.decide(&self.state, now);
            self.apply(decision, now, policy.name(), predictor)?;
        }
        Ok(())
    }

    /// Nothing runs, nothing can start again: no node is down, or none will
    /// come back except at random.
    fn idle_for_good(&self) -> bool {
        self.state.running().is_empty()
            && (self.state.pending().is_empty() || self.down.iter().all(|&d| d == 0))
    }

    fn handle(&mut self, ev: Event, predictor: &mut dyn Predictor) {
        self.stats.events += 1;
        let now = ev.t;
        match ev.kind {
            Kind::Correction { key, attempt, n } => {
                self.live -= 1;
                let i = key.0 as usize;
                if self.attempt[i] != attempt || self.out[i].corrections != n || self.out[i].ended() {
                    return;
                }
                let job = &self.w.jobs[i];
                let start = self.out[i].start_s;
                let elapsed = now - start;
                let o = Outlived {
                    elapsed_s: elapsed,
                    initial_estimate_s: self.out[i].estimate_s,
                    estimate_s: elapsed,
                    corrections: u32::from(n),
                };
                let next = clamp_correction(&job.info, elapsed, predictor.correct(&job.info, &o));
                self.state.set_expected_end(key, start + next).expect("a corrected job is running");
                self.out[i].corrections += 1;
                self.stats.corrections += 1;
                if next < self.actual_runtime(i) {
                    self.push(start + next, Kind::Correction { key, attempt, n: n + 1 });
                }
            }
            Kind::End { key, attempt } => {
                self.live -= 1;
                let i = key.0 as usize;
                if self.attempt[i] != attempt {
                    return;
                }
                let job = self.state.finish(key).expect("an ending job is running");
                let ran = now - job.start_s;
                self.charge(&job.info, ran, now);
                self.out[i].end_s = now;
                predictor.observe_end(&job.info, ran, now);
            }
            Kind::Up { node, random } => {
                let d = &mut self.down[node as usize];
                *d = d.saturating_sub(1);
                if *d == 0 {
                    self.state.set_node_up(node, true);
                }
                if random && let Some(dt) = self.faults.time_to_failure(node) {
                    self.push(now + dt, Kind::Down { node, random: true });
                }
            }
            Kind::Down { node, random } => {
                self.down[node as usize] += 1;
                if self.down[node as usize] == 1 {
                    self.fail_node(node, now);
                }
                if random && let Some(dt) = self.faults.time_to_repair(node) {
                    self.push(now + dt, Kind::Up { node, random: true });
                }
            }
            Kind::Wake => {
                if self.next_wake <= now {
                    self.next_wake = f64::INFINITY;
                }
            }
        }
    }

    fn fail_node(&mut self, node: u32, now: f64) {
        self.stats.node_failures += 1;
        self.state.set_node_up(node, false);
        for key in self.state.jobs_on_node(node) {
            let job = self.state.finish(key).expect("a job on the node is running");
            self.charge(&job.info, now - job.start_s, now);
            let i = key.0 as usize;
            match self.on_failure {
                OnFailure::Requeue => self.requeue(key),
                OnFailure::Fail => {
                    self.attempt[i] += 1;
                    self.out[i].end_s = now;
                    self.out[i].failed = true;
                }
            }
        }
    }

    fn requeue(&mut self, key: JobKey) {
        let i = key.0 as usize;
        self.attempt[i] += 1;
        self.out[i].requeues += 1;
        self.stats.requeues += 1;
        let pending = PendingJob { info: self.w.jobs[i].info, estimate_s: self.out[i].estimate_s };
        self.state.submit(pending).expect("a requeued job is no longer running");
    }

    fn charge(&mut self, info: &foresight_core::state::JobInfo, ran_s: f64, now: f64) {
        let amount = info.demand.dominant_share(&self.capacity) * ran_s.max(0.0);
        self.state.usage_mut().charge(info.user, info.group, amount, now);
    }

    fn actual_runtime(&self, i: usize) -> f64 {
        let j = &self.w.jobs[i];
        j.runtime_s.min(j.info.limit_s)
    }

    fn apply(&mut self, d: Decision, now: f64, policy: &str, predictor: &mut dyn Predictor) -> Result<(), EngineError> {
        let invalid = |source| EngineError::InvalidDecision { policy: policy.to_string(), at_s: now, source };
        for key in d.preempt {
            let job = self.state.finish(key).map_err(invalid)?;
            self.charge(&job.info, now - job.start_s, now);
            self.requeue(key);
        }
        for s in d.starts {
            let i = s.key.0 as usize;
            let Some(est) = self.out.get(i).map(|o| o.estimate_s) else {
                return Err(invalid(StateError::NotPending(s.key)));
            };
            self.state.start(s.key, s.slots, now, now + est).map_err(invalid)?;
            let actual = self.actual_runtime(i);
            let o = &mut self.out[i];
            o.start_s = now;
            o.end_s = f64::NAN;
            o.corrections = 0;
            o.backfilled = s.backfilled;
            o.killed = self.w.jobs[i].runtime_s > self.w.jobs[i].info.limit_s;
            let attempt = self.attempt[i];
            self.push(now + actual, Kind::End { key: s.key, attempt });
            if est < actual {
                self.push(now + est, Kind::Correction { key: s.key, attempt, n: 0 });
            }
            predictor.observe_start(&self.w.jobs[i].info, now);
        }
        if let Some(t) = d.wake_at.filter(|t| *t > now && *t < self.next_wake) {
            self.next_wake = t;
            self.push(t, Kind::Wake);
        }
        Ok(())
    }
}
