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
//! The engine is an event source and nothing more: the cluster state, the
//! policy, the predictor's lifecycle and fair-share usage belong to the
//! scheduler runtime of `foresight-core` ([`Runtime`]), the very one the
//! live controller drives. The engine keeps the event heap (ends, faults,
//! wake-ups), the jobs' outcomes, and the one thing only a simulation
//! knows: each job's true runtime, which answers the runtime's question of
//! whether a job outlived its estimate ([`Liveness`]).
//!
//! Corrections are the runtime's lazy ones unless
//! `SimOptions::decide_on_correction` asks for a decision at each: then each
//! correction is an event, handed to the runtime as `Input::Outlived`. Lazy
//! corrections are what the policy would have seen had each been an event,
//! since only a decision reads the estimates; it needs `Predictor::correct`
//! to depend on its arguments only, as every predictor's does. On KTH-SP2
//! under EASY++ it halves the events.

mod event;
mod outcome;

pub use outcome::{EngineError, EngineStats, JobOutcome, SimOptions, SimResult};

use crate::faults::{FaultConfig, FaultStreams, OnFailure};
use crate::workload::Workload;
use event::{Event, Kind};
use foresight_core::Cluster;
use foresight_core::policy::{Decision, Policy};
use foresight_core::predictor::Predictor;
use foresight_core::runtime::{Corrections, Enacted, Liveness, Runtime, RuntimeConfig};
use foresight_core::state::{JobInfo, JobKey, StateError};
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
    simulate_observed(workload, cluster, policy, predictor, opts, None)
}

/// What [`simulate_observed`] calls with each decision and its time.
pub type Observer<'p> = &'p mut dyn FnMut(f64, &Decision);

/// [`simulate`], showing `observe` every decision the policy makes (at its
/// time, before it is carried out): the record a conformance test compares
/// with the live controller's decisions on the same events.
pub fn simulate_observed<'p>(
    workload: &Workload,
    cluster: &Cluster,
    policy: &'p mut dyn Policy,
    predictor: &'p mut dyn Predictor,
    opts: &SimOptions,
    observe: Option<Observer<'p>>,
) -> Result<SimResult, EngineError> {
    let corrections = if opts.decide_on_correction { Corrections::OnInput } else { Corrections::Lazy };
    let cfg = RuntimeConfig { usage_half_life_s: opts.usage_half_life_s, corrections };
    let mut e = Engine {
        w: workload,
        rt: Runtime::new(cluster, policy, predictor, cfg),
        truth: Truth(workload.effective_runtimes()),
        events: Events { heap: BinaryHeap::new(), seq: 0, live: 0 },
        out: vec![JobOutcome::NOT_STARTED; workload.len()],
        attempt: vec![0; workload.len()],
        down: vec![0; cluster.len()],
        faults: FaultStreams::new(opts.faults.rate, cluster.len(), opts.seed),
        on_failure: opts.faults.on_failure,
        stats: EngineStats::default(),
        next_wake: f64::INFINITY,
        decide_on_correction: opts.decide_on_correction,
        decide_per_event: opts.decide_per_event,
        period: if opts.decision_period_s.is_finite() && opts.decision_period_s > 0.0 {
            opts.decision_period_s
        } else {
            0.0
        },
        pass_at: None,
        observe,
    };
    e.plan_faults(&opts.faults);
    e.run()?;
    let rt = e.rt.stats();
    e.stats.decisions = rt.decisions;
    e.stats.corrections = rt.corrections;
    if !e.decide_on_correction {
        // each lazy correction stands for the event it saved
        e.stats.events += rt.corrections;
    }
    e.stats.never_started = e.out.iter().filter(|o| o.start_s.is_nan()).count() as u64;
    Ok(SimResult { outcomes: e.out, stats: e.stats })
}

/// What only a simulation knows: each job's true runtime (cut at its
/// limit), so whether it outlives an estimate; kept apart from the jobs'
/// records, so that the question reads 8 bytes a job.
struct Truth(Vec<f64>);

impl Truth {
    #[inline]
    fn actual(&self, key: JobKey) -> f64 {
        self.0[key.0 as usize]
    }
}

impl Liveness for Truth {
    #[inline]
    fn outlives(&self, job: &JobInfo, _start_s: f64, estimate_s: f64, _ended_at: Option<f64>) -> bool {
        estimate_s < self.actual(job.key)
    }
}

/// The event heap.
struct Events {
    heap: BinaryHeap<Event>,
    seq: u64,
    /// Pending ends and corrections: while any remain, the run goes on.
    live: usize,
}

impl Events {
    #[inline]
    fn push(&mut self, t: f64, kind: Kind) {
        if matches!(kind, Kind::End { .. } | Kind::Correction { .. }) {
            self.live += 1;
        }
        self.seq += 1;
        self.heap.push(Event::new(t, self.seq, kind));
    }
}

struct Engine<'w, 'p> {
    w: &'w Workload,
    rt: Runtime<&'p mut dyn Policy, &'p mut dyn Predictor>,
    truth: Truth,
    events: Events,
    out: Vec<JobOutcome>,
    attempt: Vec<u16>,
    down: Vec<u32>,
    faults: FaultStreams,
    on_failure: OnFailure,
    stats: EngineStats,
    next_wake: f64,
    decide_on_correction: bool,
    decide_per_event: bool,
    /// `SimOptions::decision_period_s` (0: none).
    period: f64,
    /// The next pass, when one is due (a `Wake` is scheduled at it).
    pass_at: Option<f64>,
    observe: Option<Observer<'p>>,
}

impl Engine<'_, '_> {
    fn push(&mut self, t: f64, kind: Kind) {
        self.events.push(t, kind);
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

    fn run(&mut self) -> Result<(), EngineError> {
        let w = self.w;
        let jobs = &w.jobs;
        let mut cursor = 0;
        loop {
            let next_submit = jobs.get(cursor).map(|j| j.info.submit_s);
            let next_event = self.events.heap.peek().map(Event::t);
            let now = match (next_submit, next_event) {
                (Some(a), Some(b)) => a.min(b),
                (Some(a), None) => a,
                (None, Some(b)) => b,
                (None, None) => break,
            };
            if next_submit.is_none() && self.events.live == 0 && self.pass_at.is_none() && self.idle_for_good() {
                break;
            }
            let per_event = self.decide_per_event;
            let mut only_corrections = true;
            while let Some(ev) = self.events.heap.peek().copied().filter(|e| e.t() == now && e.kind.rank() == 0) {
                self.events.heap.pop();
                self.handle(ev)?;
                if per_event && self.decide_on_correction {
                    self.decide(now)?;
                }
            }
            while let Some(j) = jobs.get(cursor).filter(|j| j.info.submit_s == now) {
                self.out[cursor].estimate_s = self.rt.submit(j.info, None).expect("workload keys are unique");
                self.stats.events += 1;
                cursor += 1;
                only_corrections = false;
                if per_event {
                    self.decide(now)?;
                }
            }
            while let Some(ev) = self.events.heap.peek().copied().filter(|e| e.t() == now) {
                only_corrections = false;
                self.events.heap.pop();
                self.handle(ev)?;
                if per_event {
                    self.decide(now)?;
                }
            }
            if !per_event && (!only_corrections || self.decide_on_correction) {
                self.decide_in_pass(now)?;
            }
        }
        Ok(())
    }

    /// Decides now, or, when the scheduler runs in passes, at the next pass
    /// (a `Wake` there); an instant that is a pass's decides at once.
    fn decide_in_pass(&mut self, now: f64) -> Result<(), EngineError> {
        if self.period == 0.0 {
            return self.decide(now);
        }
        if self.pass_at.is_some_and(|t| t <= now) {
            self.pass_at = None;
            return self.decide(now);
        }
        // the first multiple of the period at or after `now`: an event at
        // a pass's instant is that pass's
        let next = (now / self.period).ceil() * self.period;
        if next <= now {
            self.pass_at = None;
            return self.decide(now);
        }
        if self.pass_at.is_none() {
            self.pass_at = Some(next);
            self.push(next, Kind::Wake);
        }
        Ok(())
    }

    /// Asks the runtime's policy for a decision and carries it out.
    fn decide(&mut self, now: f64) -> Result<(), EngineError> {
        let Some(d) = self.rt.decide(now, &self.truth) else { return Ok(()) };
        if let Some(observe) = self.observe.as_mut() {
            observe(now, d);
        }
        self.apply(now)
    }

    /// Nothing runs, nothing can start again: no node is down, or none will
    /// come back except at random.
    fn idle_for_good(&self) -> bool {
        let state = self.rt.state();
        state.running().is_empty() && (state.pending().is_empty() || self.down.iter().all(|&d| d == 0))
    }

    fn handle(&mut self, ev: Event) -> Result<(), EngineError> {
        self.stats.events += 1;
        let now = ev.t();
        match ev.kind {
            Kind::Correction { key, attempt, n } => {
                self.events.live -= 1;
                let i = key.0 as usize;
                if self.attempt[i] != attempt || self.out[i].corrections != n || self.out[i].ended() {
                    return Ok(());
                }
                let next = self.rt.outlived(key, now).expect("a corrected job is running");
                self.out[i].corrections = self.out[i].corrections.saturating_add(1);
                if next < self.truth.actual(key) {
                    let start = self.out[i].start_s;
                    self.push(start + next, Kind::Correction { key, attempt, n: n + 1 });
                }
            }
            Kind::End { key, attempt } => {
                self.events.live -= 1;
                let i = key.0 as usize;
                if self.attempt[i] != attempt {
                    return Ok(());
                }
                let job = self.rt.end(key, now, None, &self.truth).expect("an ending job is running");
                self.out[i].end_s = now;
                self.out[i].corrections = job.corrections.min(u32::from(u16::MAX)) as u16;
            }
            Kind::Up { node, random } => {
                let d = &mut self.down[node as usize];
                *d = d.saturating_sub(1);
                if *d == 0 {
                    self.rt.node_up(node);
                }
                if random && let Some(dt) = self.faults.time_to_failure(node) {
                    self.push(now + dt, Kind::Down { node, random: true });
                }
            }
            Kind::Down { node, random } => {
                self.down[node as usize] += 1;
                if self.down[node as usize] == 1 {
                    self.fail_node(node, now)?;
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
        Ok(())
    }

    fn fail_node(&mut self, node: u32, now: f64) -> Result<(), EngineError> {
        self.stats.node_failures += 1;
        let requeue = self.on_failure == OnFailure::Requeue;
        for key in self.rt.node_down(node) {
            let job = self.rt.interrupt(key, now, requeue, &self.truth).expect("a job on the node is running");
            let i = key.0 as usize;
            let o = &mut self.out[i];
            o.corrections = job.corrections.min(u32::from(u16::MAX)) as u16;
            // attempts count modulo 2^16, as the events carry them (a job
            // interrupted 65,536 times could take a stale end for its own)
            self.attempt[i] = self.attempt[i].wrapping_add(1);
            if requeue {
                o.requeues = o.requeues.saturating_add(1);
                self.stats.requeues += 1;
            } else {
                o.end_s = now;
                o.failed = true;
            }
        }
        Ok(())
    }

    /// Carries out the runtime's decision: its preemptions, then its starts
    /// (each start's end, and its corrections when they are events, go on
    /// the heap); a refused one stops the run, as an error.
    fn apply(&mut self, now: f64) -> Result<(), EngineError> {
        let Engine { rt, truth, events, out, attempt, stats, decide_on_correction, w, .. } = self;
        let corrections_are_events = *decide_on_correction;
        let applied = rt.enact(now, &*truth, |e| match e {
            Enacted::Preempted(job) => {
                let i = job.info.key.0 as usize;
                attempt[i] = attempt[i].wrapping_add(1);
                out[i].requeues = out[i].requeues.saturating_add(1);
                out[i].corrections = job.corrections.min(u32::from(u16::MAX)) as u16;
                stats.requeues += 1;
            }
            Enacted::Started { info, estimate_s, backfilled } => {
                let key = info.key;
                let i = key.0 as usize;
                let actual = truth.actual(key);
                let o = &mut out[i];
                o.start_s = now;
                o.end_s = f64::NAN;
                o.corrections = 0;
                o.backfilled = backfilled;
                o.killed = w.jobs[i].killed();
                let attempt = attempt[i];
                events.push(now + actual, Kind::End { key, attempt });
                if corrections_are_events && estimate_s < actual {
                    events.push(now + estimate_s, Kind::Correction { key, attempt, n: 0 });
                }
            }
        });
        if let Err(source) = applied {
            return Err(invalid(self.rt.policy().name(), now, source));
        }
        if let Some(t) = self.rt.decision().wake_at.filter(|t| *t > now && *t < self.next_wake) {
            self.next_wake = t;
            self.push(t, Kind::Wake);
        }
        Ok(())
    }
}

fn invalid(policy: &str, at_s: f64, source: StateError) -> EngineError {
    EngineError::InvalidDecision { policy: policy.to_string(), at_s, source }
}
