//! The scheduler runtime: one owner of everything a policy's view of the
//! cluster is made of, driven in the simulator by virtual time and in the
//! controller by the wall clock.
//!
//! A [`Runtime`] owns the cluster state, the policy and the predictor. It
//! keeps the predictor's whole lifecycle: the estimate at submission
//! (clamped here and nowhere else), the corrections when a running job
//! outlives its estimate, and the starts and ends it learns from. It
//! charges fair-share usage as jobs stop and lets it decay, takes a
//! withdrawn job out of the queue, and marks nodes down and up. The
//! mapping from a job's record to what the policy sees is
//! [`crate::state::JobInfo::of`].
//!
//! What drives it is a closed set of [`Input`]s, each at the time of a
//! [`Clock`]: the simulator's engine turns its event heap into inputs, the
//! controller's tracker turns each observation of the cluster into inputs,
//! and neither keeps any scheduling state of its own. The same inputs at
//! the same times give the same decisions, whichever drives it.
//!
//! Corrections are made at the instant an estimate runs out, as if each
//! were an event, but lazily ([`Corrections::Lazy`]): a running job is
//! corrected only when something reads its estimate (a decision, its end,
//! its interruption), up to the present, so that a replay does not carry
//! one event per correction. Whether a job has outlived its estimate is
//! the source's to say ([`Liveness`]): the simulator knows when each job
//! ends; the controller sees which jobs still run.

mod clock;
mod input;
mod life;

pub use clock::{Clock, VirtualClock};
pub use input::{Alloc, Enacted, Input, Output};
pub use life::{Liveness, Observed};

use crate::cluster::Cluster;
use crate::job::Job;
use crate::policy::{Decision, Policy};
use crate::predictor::{Outlived, Predictor, clamp_correction, clamp_estimate};
use crate::resources::Resources;
use crate::state::{ClusterState, JobInfo, JobKey, PendingJob, RunningJob, Slot, StateError};

/// The default half-life of fair-share usage: a week (Slurm's
/// `PriorityDecayHalfLife` default).
pub const USAGE_HALF_LIFE_S: f64 = 7.0 * 86_400.0;

/// How many stopped jobs' slot lists wait for the policy to take them.
const SPARE_MAX: usize = 4096;

/// When a running job that outlived its estimate is corrected.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Corrections {
    /// When its estimate is next read (before a decision, at its end, at
    /// its interruption), at each instant an estimate ran out in turn.
    #[default]
    Lazy,
    /// Only on [`Input::Outlived`], one correction each (a source that
    /// asks for a decision at every correction sends them as events).
    OnInput,
}

/// How a runtime is set up besides its cluster, policy and predictor.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RuntimeConfig {
    /// Half-life of fair-share usage, seconds (`f64::INFINITY`: no decay).
    pub usage_half_life_s: f64,
    /// When corrections are made.
    pub corrections: Corrections,
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        Self { usage_half_life_s: USAGE_HALF_LIFE_S, corrections: Corrections::Lazy }
    }
}

/// Counters of a runtime.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RuntimeStats {
    /// Times the policy was asked.
    pub decisions: u64,
    /// Corrections made.
    pub corrections: u64,
    /// Raw estimates that were NaN or negative (clamped to the limit or
    /// zero): a predictor that gives them is broken.
    pub unusable_estimates: u64,
}

/// One scheduler: a cluster state, the policy that decides on it and the
/// predictor whose estimates it holds. `P` and `R` may be owned
/// (`Box<dyn Policy>`) or borrowed (`&mut dyn Policy`).
pub struct Runtime<P, R> {
    state: ClusterState,
    policy: P,
    predictor: R,
    corrections: Corrections,
    capacity: Resources,
    charge_usage: bool,
    decision: Decision,
    spare: Vec<Vec<Slot>>,
    stats: RuntimeStats,
}

impl<P: Policy, R: Predictor> std::fmt::Debug for Runtime<P, R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime")
            .field("policy", &self.policy.name())
            .field("predictor", &self.predictor.name())
            .field("pending", &self.state.pending().len())
            .field("running", &self.state.running().len())
            .field("stats", &self.stats)
            .finish()
    }
}

/// The next estimate of a running job that outlived its estimate at `t`
/// (elapsed `t - start`), clamped; counts the correction.
#[inline]
fn next_estimate<R: Predictor>(predictor: &mut R, stats: &mut RuntimeStats, c: &Course, t: f64) -> f64 {
    let elapsed = t - c.start_s;
    let o = Outlived {
        elapsed_s: elapsed,
        initial_estimate_s: c.submitted_estimate_s,
        estimate_s: elapsed,
        corrections: c.corrections,
    };
    stats.corrections += 1;
    let next = clamp_correction(&c.info, elapsed, predictor.correct(&c.info, &o));
    // `t - start` can round below the estimate that ran out at `t`; a
    // correction to that same estimate (its limit, say) would then leave
    // the expected end at `t` and a lazy ladder would correct for ever (a
    // lease outliving its limit did, in the server's dispatcher). Past its
    // estimate by rounding is past it: the job is treated as outliving its
    // limit.
    if c.start_s + next > t { next } else { elapsed * 2.0 + 60.0 }
}

/// The part of a running job its corrections change, copied out so that a
/// ladder of corrections moves it once.
#[derive(Debug, Clone, Copy)]
struct Course {
    info: JobInfo,
    start_s: f64,
    submitted_estimate_s: f64,
    estimate_s: f64,
    expected_end_s: f64,
    corrections: u32,
}

impl Course {
    fn of(j: &RunningJob) -> Self {
        Self {
            info: j.info,
            start_s: j.start_s,
            submitted_estimate_s: j.submitted_estimate_s,
            estimate_s: j.estimate_s,
            expected_end_s: j.expected_end_s,
            corrections: j.corrections,
        }
    }

    fn write(&self, j: &mut RunningJob) {
        j.estimate_s = self.estimate_s;
        j.expected_end_s = self.expected_end_s;
        j.corrections = self.corrections;
    }
}

impl<P: Policy, R: Predictor> Runtime<P, R> {
    /// An idle `cluster` scheduled by `policy` with estimates from
    /// `predictor`.
    pub fn new(cluster: &Cluster, policy: P, predictor: R, cfg: RuntimeConfig) -> Self {
        Self {
            state: ClusterState::new(cluster, cfg.usage_half_life_s),
            charge_usage: policy.reads_usage(),
            policy,
            predictor,
            corrections: cfg.corrections,
            capacity: cluster.total(),
            decision: Decision::default(),
            spare: Vec::new(),
            stats: RuntimeStats::default(),
        }
    }

    /// The cluster state the policy decides on.
    pub fn state(&self) -> &ClusterState {
        &self.state
    }

    /// The policy.
    pub fn policy(&self) -> &P {
        &self.policy
    }

    /// The predictor.
    pub fn predictor(&self) -> &R {
        &self.predictor
    }

    /// The predictor, to change (a model reloaded in place).
    pub fn predictor_mut(&mut self) -> &mut R {
        &mut self.predictor
    }

    /// Fair-share usage, to carry over to a runtime built anew (after the
    /// cluster changed shape).
    pub fn usage_mut(&mut self) -> &mut crate::state::UsageLedger {
        self.state.usage_mut()
    }

    /// The runtime's parts, for a runtime built anew on another cluster:
    /// the policy, the predictor (with all it learnt) and the fair-share
    /// usage.
    pub fn into_parts(self) -> (P, R, crate::state::UsageLedger) {
        (self.policy, self.predictor, self.state.usage().clone())
    }

    /// Replaces the policy (a fresh one, after the old one failed); the
    /// state is untouched, since a policy only reads it.
    pub fn replace_policy(&mut self, policy: P) {
        self.charge_usage = policy.reads_usage();
        self.policy = policy;
        self.decision = Decision::default();
    }

    /// Counters so far.
    pub fn stats(&self) -> RuntimeStats {
        self.stats
    }

    /// The last decision (empty before the first).
    pub fn decision(&self) -> &Decision {
        &self.decision
    }

    /// Applies one input at the clock's time. `live` says which running
    /// jobs outlived their estimates (see [`Liveness`]).
    pub fn step<L: Liveness + ?Sized>(&mut self, input: Input<'_>, clock: &dyn Clock, live: &L) -> Result<Output<'_>, StateError> {
        let now = clock.now();
        Ok(match input {
            Input::Submitted { job, record } => Output::Estimated(self.submit(job, record)?),
            Input::Started { key, at, alloc } => Output::Started(at + self.start(key, at, alloc)?.1),
            Input::Outlived { key } => Output::Corrected(self.outlived(key, now)?),
            Input::Ended { key, at, record } => Output::Stopped(self.end(key, at, record, live)?),
            Input::Interrupted { key, requeue } => Output::Stopped(self.interrupt(key, now, requeue, live)?),
            Input::Withdrawn { key } => Output::Withdrawn(self.withdraw(key)?),
            Input::NodeDown { node } => Output::Stranded(self.node_down(node)),
            Input::NodeUp { node } => {
                self.node_up(node);
                Output::Done
            }
            Input::Tick => Output::Decided(self.decide(now, live)),
        })
    }

    /// A job joins the queue: the predictor is shown its record, asked for
    /// its estimate, and the estimate is clamped to `[0, limit]` (a NaN
    /// gives the limit, and is counted as unusable). Returns the estimate.
    #[inline]
    pub fn submit(&mut self, job: JobInfo, record: Option<&Job>) -> Result<f64, StateError> {
        if let Some(r) = record {
            self.predictor.observe_record(&job, r);
        }
        let raw = self.predictor.predict(&job);
        if raw.is_nan() || raw < 0.0 {
            self.stats.unusable_estimates += 1;
        }
        self.submit_estimated(job, raw)
    }

    /// A job joins the queue with an estimate made before (a controller
    /// resuming from its log must not predict twice); clamped as
    /// [`Runtime::submit`] clamps.
    pub fn submit_estimated(&mut self, job: JobInfo, estimate_s: f64) -> Result<f64, StateError> {
        let estimate_s = clamp_estimate(&job, estimate_s);
        self.state.submit(PendingJob { info: job, estimate_s })?;
        Ok(estimate_s)
    }

    /// Gives job `key` a deadline, seconds on the run's clock (see
    /// [`ClusterState::set_deadline`](crate::state::ClusterState::set_deadline)).
    pub fn set_deadline(&mut self, key: JobKey, deadline_s: f64) {
        self.state.set_deadline(key, deadline_s);
    }

    /// A queued job starts at `at` on `alloc`, expected to end at `at`
    /// plus its estimate; the predictor is told. Returns its record and
    /// its estimate.
    #[inline]
    pub fn start(&mut self, key: JobKey, at: f64, alloc: Alloc) -> Result<(JobInfo, f64), StateError> {
        let slots = match alloc {
            Alloc::Slots(s) => s,
            Alloc::Nodes(nodes) => self.share(key, nodes.into_iter().map(|n| (n, None)))?,
            Alloc::NodeCpus(nodes) => self.share(key, nodes.into_iter().map(|(n, c)| (n, Some(c))))?,
        };
        let (info, estimate_s) = self.state.start_estimated(key, slots, at)?;
        self.predictor.observe_start(&info, at);
        Ok((info, estimate_s))
    }

    /// The slots of a job the orchestrator started on `nodes` (see
    /// [`Alloc::Nodes`] and [`Alloc::NodeCpus`]), each with the CPUs the
    /// orchestrator says it holds there when it says; nodes the state does
    /// not know are left out. Each node in turn takes as much of the rest of
    /// the demand as it has free (at most its stated CPUs), as Slurm's block
    /// distribution fills its nodes: an even split cut to each node's room
    /// lost the CPUs a full node could not take, and the state then saw
    /// CPUs free that Slurm had allocated (docs/enforce.md, the fresh
    /// slice). What the nodes cannot hold is still left out, never refused.
    fn share(&self, key: JobKey, nodes: impl Iterator<Item = (u32, Option<u32>)>) -> Result<Vec<Slot>, StateError> {
        let p = self.state.pending();
        let job = p.binary_search_by_key(&key, |j| j.info.key).map(|i| &p[i]).map_err(|_| StateError::NotPending(key))?;
        let mut left = job.info.demand.total;
        Ok(nodes
            // a node the state does not know, or thinks down, holds nothing of it
            .filter_map(|(node, cpus)| {
                let free = self.state.nodes().get(node as usize).filter(|s| s.up)?.free;
                let stated = cpus.unwrap_or(u32::MAX);
                let res = Resources::new(left.cpus.min(free.cpus).min(stated), left.gpus.min(free.gpus), left.mem_mb.min(free.mem_mb));
                left = left.saturating_sub(&res);
                Some(Slot { node, res })
            })
            .collect())
    }

    /// One correction of a running job still running at the end of its
    /// estimate at `now` ([`Corrections::OnInput`]); returns its new
    /// estimate from its start.
    pub fn outlived(&mut self, key: JobKey, now: f64) -> Result<f64, StateError> {
        let c = Course::of(self.state.running_job(key).ok_or(StateError::NotRunning(key))?);
        let next = next_estimate(&mut self.predictor, &mut self.stats, &c, now);
        self.state.correct(key, next, c.start_s + next, c.corrections + 1)?;
        Ok(next)
    }

    /// Under [`Corrections::Lazy`], the corrections of `c` due at or before
    /// `until` while the job outlives its estimate, each at the instant its
    /// estimate ran out.
    #[inline]
    fn ladder<L: Liveness + ?Sized>(&mut self, c: &mut Course, until: f64, ended_at: Option<f64>, live: &L) {
        if self.corrections != Corrections::Lazy {
            return;
        }
        while c.expected_end_s <= until && live.outlives(&c.info, c.start_s, c.estimate_s, ended_at) {
            let next = next_estimate(&mut self.predictor, &mut self.stats, c, c.expected_end_s);
            c.estimate_s = next;
            c.expected_end_s = c.start_s + next;
            c.corrections += 1;
        }
    }

    /// Takes a running job out; its slot list goes to the spares (a bounded
    /// number: the queue may stay empty, and the policy unasked, a long
    /// time), so the returned record has none.
    fn stop(&mut self, key: JobKey) -> Result<RunningJob, StateError> {
        let mut job = self.state.finish(key)?;
        if self.spare.len() < SPARE_MAX {
            self.spare.push(std::mem::take(&mut job.slots));
        }
        Ok(job)
    }

    /// Takes a running job out with the corrections it was due until
    /// `until` (see [`Runtime::ladder`]) written into its record.
    fn stop_corrected<L: Liveness + ?Sized>(&mut self, key: JobKey, until: f64, ended_at: Option<f64>, live: &L) -> Result<RunningJob, StateError> {
        let mut job = self.stop(key)?;
        let mut c = Course::of(&job);
        self.ladder(&mut c, until, ended_at, live);
        c.write(&mut job);
        Ok(job)
    }

    fn charge(&mut self, info: &JobInfo, ran_s: f64, now: f64) {
        if !self.charge_usage {
            return;
        }
        let amount = info.demand.dominant_share(&self.capacity) * ran_s.max(0.0);
        self.state.usage_mut().charge(info.user, info.group, amount, now);
    }

    /// A running job ended at `at`: the corrections it was due are made,
    /// its usage is charged, and the predictor is shown its final record
    /// and told its runtime. Returns its record (without slots).
    #[inline]
    pub fn end<L: Liveness + ?Sized>(&mut self, key: JobKey, at: f64, record: Option<&Job>, live: &L) -> Result<RunningJob, StateError> {
        let job = self.stop_corrected(key, f64::INFINITY, Some(at), live)?;
        let ran = at - job.start_s;
        self.charge(&job.info, ran, at);
        if let Some(r) = record {
            self.predictor.observe_record(&job.info, r);
        }
        self.predictor.observe_end(&job.info, ran, at);
        Ok(job)
    }

    /// A running job stops at `now` before its end (node failure,
    /// preemption): the corrections due until now are made, its usage so
    /// far is charged, and with `requeue` it goes back to the queue with
    /// its submitted estimate. The predictor learns no runtime from it.
    pub fn interrupt<L: Liveness + ?Sized>(&mut self, key: JobKey, now: f64, requeue: bool, live: &L) -> Result<RunningJob, StateError> {
        let job = self.stop_corrected(key, now, None, live)?;
        self.charge(&job.info, now - job.start_s, now);
        if requeue {
            self.state.submit(PendingJob { info: job.info, estimate_s: job.submitted_estimate_s })?;
        }
        Ok(job)
    }

    /// A queued job leaves the queue without running; the predictor may
    /// forget it.
    pub fn withdraw(&mut self, key: JobKey) -> Result<PendingJob, StateError> {
        let job = self.state.withdraw(key)?;
        self.predictor.forget(&job.info);
        Ok(job)
    }

    /// A node goes down; returns the running jobs on it, in key order (the
    /// source interrupts them, or the orchestrator reports what became of
    /// them).
    pub fn node_down(&mut self, node: u32) -> Vec<JobKey> {
        self.state.set_node_up(node, false);
        self.state.jobs_on_node(node)
    }

    /// A node comes back.
    pub fn node_up(&mut self, node: u32) {
        self.state.set_node_up(node, true);
    }

    /// Under [`Corrections::Lazy`], corrects every running job whose
    /// estimate ran out at or before `now` and that outlived it, in order
    /// of expected end, so that the policy sees the estimates it would have
    /// seen had each correction been an event.
    fn catch_up<L: Liveness + ?Sized>(&mut self, now: f64, live: &L) {
        if self.corrections != Corrections::Lazy {
            return;
        }
        loop {
            // the first to end is the first that can be due: most decisions
            // stop here
            if self.state.running().first().is_none_or(|r| r.expected_end_s > now) {
                break;
            }
            let due = self
                .state
                .running()
                .iter()
                .take_while(|r| r.expected_end_s <= now)
                .find(|r| live.outlives(&r.info, r.start_s, r.estimate_s, None))
                .map(Course::of);
            let Some(mut c) = due else { break };
            let before = c.corrections;
            self.ladder(&mut c, now, None, live);
            if c.corrections == before {
                break;
            }
            self.state
                .correct(c.info.key, c.estimate_s, c.expected_end_s, c.corrections)
                .expect("a job just read from the running set is running");
        }
    }

    /// Asks the policy what to do at `now`, after the corrections due; the
    /// decision is kept (see [`Runtime::decision`] and [`Runtime::enact`]).
    /// `None` when the queue is empty: the policy is not asked.
    pub fn decide<L: Liveness + ?Sized>(&mut self, now: f64, live: &L) -> Option<&Decision> {
        if self.state.pending().is_empty() {
            return None;
        }
        self.catch_up(now, live);
        self.stats.decisions += 1;
        if !self.spare.is_empty() {
            self.policy.recycle(&mut self.spare);
        }
        self.policy.decide_into(&self.state, now, &mut self.decision);
        Some(&self.decision)
    }

    /// Carries out the last decision at `now` on the runtime's own state
    /// (a simulation, where nothing else acts): its preemptions (back to
    /// the queue), then its starts, telling `on` of each. A start or
    /// preemption the state refuses stops there, as an error; its
    /// `wake_at` stays in [`Runtime::decision`].
    pub fn enact<L: Liveness + ?Sized>(&mut self, now: f64, live: &L, mut on: impl FnMut(Enacted<'_>)) -> Result<(), StateError> {
        if !self.decision.preempt.is_empty() {
            let mut preempt = std::mem::take(&mut self.decision.preempt);
            let mut stopped = Ok(());
            for &key in &preempt {
                match self.interrupt(key, now, true, live) {
                    Ok(job) => on(Enacted::Preempted(&job)),
                    Err(e) => {
                        stopped = Err(e);
                        break;
                    }
                }
            }
            preempt.clear();
            self.decision.preempt = preempt;
            stopped?;
        }
        // the starts are read in place (a decision moved out and back is a
        // copy through the stack per decision, which a replay feels), each
        // slot list moved into the state
        let Runtime { state, predictor, decision, .. } = self;
        let mut result = Ok(());
        for s in decision.starts.iter_mut() {
            match state.start_estimated(s.key, std::mem::take(&mut s.slots), now) {
                Ok((info, estimate_s)) => {
                    predictor.observe_start(&info, now);
                    on(Enacted::Started { info: &info, estimate_s, backfilled: s.backfilled });
                }
                Err(e) => {
                    result = Err(e);
                    break;
                }
            }
        }
        decision.starts.clear();
        result
    }
}

#[cfg(test)]
mod tests;
