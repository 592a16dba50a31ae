//! The discrete-event engine: submissions, starts, ends, node failures and
//! repairs, and prediction corrections, in virtual time.
//!
//! Events at the same instant are applied together, in a fixed order
//! (corrections, submissions, ends, repairs, failures, wake-ups), and then
//! the policy is asked once (or after each event, as predictsim does, with
//! `SimOptions::decide_per_event`). Predictions for jobs submitted at an instant
//! are made before the ends of that instant are learnt. The engine never
//! reads the wall clock; the same inputs and seed give the same results.
//!
//! Corrections are lazy unless `SimOptions::decide_on_correction` asks for a
//! decision at each: a running job that will outlive its estimate is marked
//! due, and its corrections (one per step of its predictor's ladder) are
//! applied, all at once, when the policy is next asked, the job ends or its
//! node fails. That is what the policy would have seen had each correction
//! been an event, since only a decision reads the estimates; it needs
//! `Predictor::correct` to depend on its arguments only, as every
//! predictor's does. On KTH-SP2 under EASY++ it halves the events.

mod event;
mod outcome;

pub use outcome::{EngineError, EngineStats, JobOutcome, SimOptions, SimResult};

use crate::faults::{FaultConfig, FaultStreams, OnFailure};
use crate::workload::Workload;
use event::{Event, Kind};
use foresight_core::Cluster;
use foresight_core::policy::{Decision, Policy};
use foresight_core::predictor::{Outlived, Predictor, clamp_correction, clamp_estimate};
use foresight_core::state::{ClusterState, JobKey, PendingJob, RunningJob, Slot, StateError};
use std::collections::BinaryHeap;

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
        due: vec![false; if opts.decide_on_correction { 0 } else { workload.len() }],
        due_count: 0,
        decide_on_correction: opts.decide_on_correction,
        decide_per_event: opts.decide_per_event,
        charge_usage: policy.reads_usage(),
        spare: Vec::new(),
    };
    e.plan_faults(&opts.faults);
    e.run(policy, predictor)?;
    e.stats.never_started = e.out.iter().filter(|o| o.start_s.is_nan()).count() as u64;
    Ok(SimResult { outcomes: e.out, stats: e.stats })
}

/// How many stopped jobs' slot lists wait for the policy to take them.
const SPARE_MAX: usize = 4096;

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
    /// Per job, in lazy mode (empty otherwise): its running attempt will
    /// outlive its current estimate, so a correction is due at its expected end.
    due: Vec<bool>,
    /// How many of `due` are set (none: nothing to catch up).
    due_count: usize,
    decide_on_correction: bool,
    decide_per_event: bool,
    /// The policy reads fair-share usage: charge it as jobs stop (else
    /// nothing reads it, and the ledger is left empty).
    charge_usage: bool,
    /// Slot lists of jobs that stopped, for the policy to reuse.
    spare: Vec<Vec<Slot>>,
}

impl Engine<'_> {
    fn push(&mut self, t: f64, kind: Kind) {
        if matches!(kind, Kind::End { .. } | Kind::Correction { .. }) {
            self.live += 1;
        }
        self.seq += 1;
        self.heap.push(Event::new(t, self.seq, kind));
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
        let mut decision = Decision::default();
        loop {
            let next_submit = jobs.get(cursor).map(|j| j.info.submit_s);
            let next_event = self.heap.peek().map(Event::t);
            let now = match (next_submit, next_event) {
                (Some(a), Some(b)) => a.min(b),
                (Some(a), None) => a,
                (None, Some(b)) => b,
                (None, None) => break,
            };
            if next_submit.is_none() && self.live == 0 && self.idle_for_good() {
                break;
            }
            let per_event = self.decide_per_event;
            let mut only_corrections = true;
            while let Some(ev) = self.heap.peek().copied().filter(|e| e.t() == now && e.kind.rank() == 0) {
                self.heap.pop();
                self.handle(ev, predictor);
                if per_event && self.decide_on_correction {
                    self.decide(policy, &mut decision, predictor, now)?;
                }
            }
            while let Some(j) = jobs.get(cursor).filter(|j| j.info.submit_s == now) {
                let estimate_s = clamp_estimate(&j.info, predictor.predict(&j.info));
                self.out[cursor].estimate_s = estimate_s;
                self.state.submit(PendingJob { info: j.info, estimate_s }).expect("workload keys are unique");
                self.stats.events += 1;
                cursor += 1;
                only_corrections = false;
                if per_event {
                    self.decide(policy, &mut decision, predictor, now)?;
                }
            }
            while let Some(ev) = self.heap.peek().copied().filter(|e| e.t() == now) {
                only_corrections = false;
                self.heap.pop();
                self.handle(ev, predictor);
                if per_event {
                    self.decide(policy, &mut decision, predictor, now)?;
                }
            }
            if !per_event && (!only_corrections || self.decide_on_correction) {
                self.decide(policy, &mut decision, predictor, now)?;
            }
        }
        Ok(())
    }

    /// Asks the policy for a decision into `decision` (one buffer for the
    /// whole run) and applies it.
    fn decide(
        &mut self,
        policy: &mut dyn Policy,
        decision: &mut Decision,
        predictor: &mut dyn Predictor,
        now: f64,
    ) -> Result<(), EngineError> {
        if self.state.pending().is_empty() {
            return Ok(());
        }
        self.catch_up(now, predictor);
        self.stats.decisions += 1;
        if !self.spare.is_empty() {
            policy.recycle(&mut self.spare);
        }
        policy.decide_into(&self.state, now, decision);
        self.apply(decision, now, policy.name(), predictor)
    }

    /// Takes a running job out of the state (it ended, failed or was
    /// preempted); its slot list goes to the spares (a bounded number: the
    /// queue may stay empty, and the policy unasked, for a long time).
    fn stop(&mut self, key: JobKey) -> Result<RunningJob, StateError> {
        let mut job = self.state.finish(key)?;
        if self.spare.len() < SPARE_MAX {
            self.spare.push(std::mem::take(&mut job.slots));
        }
        Ok(job)
    }

    /// Nothing runs, nothing can start again: no node is down, or none will
    /// come back except at random.
    fn idle_for_good(&self) -> bool {
        self.state.running().is_empty()
            && (self.state.pending().is_empty() || self.down.iter().all(|&d| d == 0))
    }

    fn handle(&mut self, ev: Event, predictor: &mut dyn Predictor) {
        self.stats.events += 1;
        let now = ev.t();
        match ev.kind {
            Kind::Correction { key, attempt, n } => {
                self.live -= 1;
                let i = key.0 as usize;
                if self.attempt[i] != attempt || self.out[i].corrections != n || self.out[i].ended() {
                    return;
                }
                let start = self.out[i].start_s;
                let next = self.correct_once(i, now, predictor);
                self.state.set_expected_end(key, start + next).expect("a corrected job is running");
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
                let job = self.stop(key).expect("an ending job is running");
                self.outlive(i, job.expected_end_s, f64::INFINITY, predictor);
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
                    self.fail_node(node, now, predictor);
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

    fn fail_node(&mut self, node: u32, now: f64, predictor: &mut dyn Predictor) {
        self.stats.node_failures += 1;
        self.state.set_node_up(node, false);
        for key in self.state.jobs_on_node(node) {
            let job = self.stop(key).expect("a job on the node is running");
            let i = key.0 as usize;
            self.outlive(i, job.expected_end_s, now, predictor);
            self.clear_due(i);
            self.charge(&job.info, now - job.start_s, now);
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
        if !self.charge_usage {
            return;
        }
        let amount = info.demand.dominant_share(&self.capacity) * ran_s.max(0.0);
        self.state.usage_mut().charge(info.user, info.group, amount, now);
    }

    /// Lazy mode: applies every correction due at or before `now` to the
    /// running jobs, so that the policy sees the estimates it would have
    /// seen had each correction been an event. The due jobs are among the
    /// first of `running` (sorted by expected end).
    fn catch_up(&mut self, now: f64, predictor: &mut dyn Predictor) {
        while self.due_count > 0 {
            let due = &self.due;
            let next = self
                .state
                .running()
                .iter()
                .take_while(|r| r.expected_end_s <= now)
                .find(|r| due.get(r.info.key.0 as usize).copied().unwrap_or(false))
                .map(|r| (r.info.key, r.expected_end_s));
            let Some((key, end)) = next else { break };
            let end = self.outlive(key.0 as usize, end, now, predictor);
            self.state.set_expected_end(key, end).expect("a corrected job is running");
        }
    }

    /// Lazy mode: the corrections of job `i`, running with expected end
    /// `end`, due at or before `until`, in order; returns its new expected
    /// end (the state is the caller's to update). Nothing when none is due.
    fn outlive(&mut self, i: usize, mut end: f64, until: f64, predictor: &mut dyn Predictor) -> f64 {
        if !self.due.get(i).copied().unwrap_or(false) {
            return end;
        }
        let start = self.out[i].start_s;
        let actual = self.actual_runtime(i);
        while self.due.get(i).copied().unwrap_or(false) && end <= until {
            let next = self.correct_once(i, end, predictor);
            self.stats.events += 1;
            end = start + next;
            if next >= actual {
                self.clear_due(i);
            }
        }
        end
    }

    /// The next estimate of running job `i`, which outlives its estimate at
    /// `t`, counted as a correction.
    fn correct_once(&mut self, i: usize, t: f64, predictor: &mut dyn Predictor) -> f64 {
        let info = &self.w.jobs[i].info;
        let elapsed = t - self.out[i].start_s;
        let o = Outlived {
            elapsed_s: elapsed,
            initial_estimate_s: self.out[i].estimate_s,
            estimate_s: elapsed,
            corrections: u32::from(self.out[i].corrections),
        };
        let next = clamp_correction(info, elapsed, predictor.correct(info, &o));
        self.out[i].corrections += 1;
        self.stats.corrections += 1;
        next
    }

    /// Job `i`'s attempt stopped before its end: nothing more is due.
    fn clear_due(&mut self, i: usize) {
        if let Some(due) = self.due.get_mut(i).filter(|d| **d) {
            *due = false;
            self.due_count -= 1;
        }
    }

    fn actual_runtime(&self, i: usize) -> f64 {
        let j = &self.w.jobs[i];
        j.runtime_s.min(j.info.limit_s)
    }

    /// Applies `d`, taking its starts and preemptions out (a refused one
    /// stops it there, as an error).
    fn apply(&mut self, d: &mut Decision, now: f64, policy: &str, predictor: &mut dyn Predictor) -> Result<(), EngineError> {
        let invalid = |source| EngineError::InvalidDecision { policy: policy.to_string(), at_s: now, source };
        for key in d.preempt.drain(..) {
            let job = self.stop(key).map_err(invalid)?;
            let i = key.0 as usize;
            self.outlive(i, job.expected_end_s, now, predictor);
            self.clear_due(i);
            self.charge(&job.info, now - job.start_s, now);
            self.requeue(key);
        }
        for s in d.starts.drain(..) {
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
                match self.due.get_mut(i) {
                    Some(due) => {
                        *due = true;
                        self.due_count += 1;
                    }
                    None => self.push(now + est, Kind::Correction { key: s.key, attempt, n: 0 }),
                }
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
