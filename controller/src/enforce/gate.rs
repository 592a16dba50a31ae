//! What foresight keeps in the orchestrator (gates and site factors) and
//! the plan that brings it to what the candidate decided, or lets it all
//! go. Pure: it reads an observation and returns batched actions; the loop
//! logs them, carries them out, and tells it what took effect.

use super::Control;
use crate::adapter::{ClusterView, JobView, Phase};
use crate::log::Act;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

/// How gates and site factors are set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GateConfig {
    /// A gate's lease: a job gated and not renewed starts being eligible
    /// this long after the gate was set, foresight alive or not.
    pub lease_s: u64,
    /// A gate is renewed when less than this is left of it.
    pub renew_s: u64,
    /// The site factor of the first job the candidate starts in a cycle;
    /// the next get one less each.
    pub top_site_factor: i64,
    /// Jobs per command, at most (Slurm's `rl_enable` counts commands).
    pub batch: usize,
    /// Which jobs foresight acts on.
    pub control: Control,
}

impl Default for GateConfig {
    fn default() -> Self {
        Self { lease_s: 60, renew_s: 30, top_site_factor: 10_000, batch: 100, control: Control::default() }
    }
}

/// What foresight has set on one job.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct JobGate {
    /// The end of its gate's lease, Unix seconds, while one is set.
    pub gated_until: Option<f64>,
    /// The site factor foresight set (0: Slurm's own).
    pub site_factor: i64,
    /// Foresight lifted its gate (an observation older than the lift may
    /// still show the begin time ahead).
    pub lifted: bool,
}

/// One action of a plan: what to do, to which jobs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Planned {
    /// What.
    pub act: Act,
    /// To which jobs (one batched command).
    pub job_ids: Vec<String>,
}

/// The gates and site factors foresight keeps, by job.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Gates {
    jobs: BTreeMap<String, JobGate>,
}

fn batched(act: Act, ids: Vec<String>, batch: usize, out: &mut Vec<Planned>) {
    for chunk in ids.chunks(batch.max(1)) {
        out.push(Planned { act, job_ids: chunk.to_vec() });
    }
}

impl Gates {
    /// What foresight has set on a job.
    pub fn get(&self, job_id: &str) -> JobGate {
        self.jobs.get(job_id).copied().unwrap_or_default()
    }

    /// Every job with something set, and what.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &JobGate)> {
        self.jobs.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// True when foresight holds a gate on the job at `now`: one it set
    /// and whose lease runs, or, for a job the site's `job_submit.lua`
    /// marked, a begin time in the future (the lua gates at submission).
    /// A begin time the user asked for is never taken for a gate.
    pub fn gated(&self, job: &JobView, now: f64) -> bool {
        let known = self.get(&job.job.job_id);
        known.gated_until.is_some_and(|u| u > now)
            || (!known.lifted && Control::marked(job) && job.control.eligible_s.is_some_and(|e| e > now))
    }

    /// A job whose begin time is in the future for a reason that is not
    /// foresight's: foresight leaves it alone.
    fn foreign_begin(&self, job: &JobView, now: f64) -> bool {
        job.control.eligible_s.is_some_and(|e| e > now + 1.0)
            && !self.gated(job, now)
            && self.get(&job.job.job_id).gated_until.is_none()
    }

    /// Gates held at `now` on the pending jobs of `view`.
    pub fn open(&self, view: &ClusterView) -> usize {
        view.in_phase(Phase::Pending).filter(|j| self.gated(j, view.at_unix_s)).count()
    }

    /// The plan that carries out the candidate's decision `starts` (job
    /// ids in its order) on `view`: every controlled pending job it does
    /// not start now is gated (or its gate renewed when less than
    /// `renew_s` is left); every one it starts has its gate lifted and a
    /// site factor by its rank; a job no longer started has its site
    /// factor restored.
    pub fn plan_enforce(&self, view: &ClusterView, starts: &[String], cfg: &GateConfig) -> Vec<Planned> {
        let now = view.at_unix_s;
        let rank: HashMap<&str, usize> = starts.iter().enumerate().rev().map(|(i, id)| (id.as_str(), i)).collect();
        let (mut gate, mut lift, mut restore) = (Vec::new(), Vec::new(), Vec::new());
        let mut factor: BTreeMap<i64, Vec<String>> = BTreeMap::new();
        for j in view.in_phase(Phase::Pending) {
            let id = &j.job.job_id;
            if !cfg.control.controls(j) || self.foreign_begin(j, now) {
                continue;
            }
            let known = self.get(id);
            match rank.get(id.as_str()) {
                Some(&r) => {
                    if self.gated(j, now) {
                        lift.push(id.clone());
                    }
                    let want = cfg.top_site_factor - r as i64;
                    if known.site_factor != want {
                        factor.entry(want).or_default().push(id.clone());
                    }
                }
                None => {
                    let lua = j.control.eligible_s.filter(|_| Control::marked(j) && !known.lifted);
                    let left = known.gated_until.or(lua);
                    if left.is_none_or(|u| u - now < cfg.renew_s as f64) {
                        gate.push(id.clone());
                    }
                    if known.site_factor != 0 {
                        restore.push(id.clone());
                    }
                }
            }
        }
        let mut out = Vec::new();
        // lifts and their order first: they are what lets work start
        for (value, ids) in factor.into_iter().rev() {
            batched(Act::SiteFactor { value }, ids, cfg.batch, &mut out);
        }
        batched(Act::Lift, lift, cfg.batch, &mut out);
        batched(Act::Gate { lease_s: cfg.lease_s }, gate, cfg.batch, &mut out);
        batched(Act::SiteFactor { value: 0 }, restore, cfg.batch, &mut out);
        out
    }

    /// The plan that lets go of every pending job of `view` but those in
    /// `keep`: every gate lifted, every site factor restored to 0.
    pub fn plan_release(&self, view: &ClusterView, keep: &HashSet<String>, cfg: &GateConfig) -> Vec<Planned> {
        let now = view.at_unix_s;
        let (mut lift, mut restore) = (Vec::new(), Vec::new());
        for j in view.in_phase(Phase::Pending).filter(|j| !keep.contains(&j.job.job_id)) {
            if self.gated(j, now) {
                lift.push(j.job.job_id.clone());
            }
            if self.get(&j.job.job_id).site_factor != 0 {
                restore.push(j.job.job_id.clone());
            }
        }
        let mut out = Vec::new();
        batched(Act::Lift, lift, cfg.batch, &mut out);
        batched(Act::SiteFactor { value: 0 }, restore, cfg.batch, &mut out);
        out
    }

    /// Notes that `act` took effect on `job_id` at `at` (Unix seconds).
    pub fn applied(&mut self, job_id: &str, act: Act, at: f64) {
        let g = self.jobs.entry(job_id.to_string()).or_default();
        match act {
            Act::Gate { lease_s } => (g.gated_until, g.lifted) = (Some(at + lease_s as f64), false),
            Act::Lift => (g.gated_until, g.lifted) = (None, true),
            Act::SiteFactor { value } => g.site_factor = value,
        }
        if *g == JobGate::default() {
            self.jobs.remove(job_id);
        }
    }

    /// Forgets jobs that are no longer pending in `view` (what was set on
    /// them no longer matters), and gates whose lease has run out.
    pub fn forget_settled(&mut self, view: &ClusterView) {
        let pending: BTreeSet<&str> = view.in_phase(Phase::Pending).map(|j| j.job.job_id.as_str()).collect();
        let now = view.at_unix_s;
        self.jobs.retain(|id, g| {
            if g.gated_until.is_some_and(|u| u <= now) {
                g.gated_until = None;
            }
            pending.contains(id.as_str()) && *g != JobGate::default()
        });
    }
}

#[cfg(test)]
#[path = "gate_tests.rs"]
mod tests;
