//! One observation's changes as the scheduler runtime's inputs, in the
//! order they happened.
//!
//! The tracker says what changed between two observations; this module
//! puts those changes in time order for the runtime of `foresight-core`,
//! which holds all scheduling state: node changes first (so that no start
//! lands on a node the runtime still thinks down), then submissions, ends
//! and starts by their own times. At one instant the order is the
//! simulator's: submissions, then ends, then the starts its decision made
//! (and the end of a job that ran for no time after its start). Jobs that
//! left the queue without running go last, at the observation's time.

use super::track::{Diff, Tracked, Tracker};
use crate::adapter::Phase;
use foresight_core::Job;
use foresight_core::policy::Policy;
use foresight_core::predictor::Predictor;
use foresight_core::runtime::{Alloc, Input, Observed, Runtime};
use foresight_core::state::{JobInfo, JobKey, StateError};
use std::collections::HashMap;

/// One input for the runtime, owning what it carries (it may travel to the
/// candidate's thread).
#[derive(Debug, Clone, PartialEq)]
pub enum Fed {
    /// A job joined the queue: predict it.
    Submitted {
        /// What the policies see.
        info: JobInfo,
        /// Its record, for the predictor.
        record: Job,
    },
    /// A job joined the queue with an estimate the candidate made before a
    /// restart (a baseline predicts it as any other).
    Restored {
        /// What the policies see.
        info: JobInfo,
        /// Its record, for the predictor.
        record: Job,
        /// Its logged estimate.
        estimate_s: f64,
    },
    /// A job started on these nodes (indices) at `at`.
    Started {
        /// The job.
        key: JobKey,
        /// Its start.
        at: f64,
        /// Its nodes, with the CPUs it holds on each when the
        /// orchestrator says.
        alloc: Alloc,
    },
    /// A job ended at `at`.
    Ended {
        /// The job.
        key: JobKey,
        /// Its end.
        at: f64,
        /// Its final record.
        record: Job,
    },
    /// A job left the queue without running.
    Withdrawn {
        /// The job.
        key: JobKey,
    },
    /// A node became unusable.
    NodeDown(u32),
    /// A node became usable again.
    NodeUp(u32),
}

impl Fed {
    /// The runtime's input for it (a restored estimate is a submission).
    pub fn as_input(&self) -> Input<'_> {
        match self {
            Fed::Submitted { info, record } | Fed::Restored { info, record, .. } => {
                Input::Submitted { job: *info, record: Some(record) }
            }
            Fed::Started { key, at, alloc } => Input::Started { key: *key, at: *at, alloc: alloc.clone() },
            Fed::Ended { key, at, record } => Input::Ended { key: *key, at: *at, record: Some(record) },
            Fed::Withdrawn { key } => Input::Withdrawn { key: *key },
            Fed::NodeDown(node) => Input::NodeDown { node: *node },
            Fed::NodeUp(node) => Input::NodeUp { node: *node },
        }
    }

    /// Applies it to `rt` at `now`; returns the estimate a submission got.
    /// With `restore`, a restored job keeps its logged estimate (the
    /// candidate's); else it is predicted (the baseline's).
    pub fn apply<P: Policy, R: Predictor>(&self, rt: &mut Runtime<P, R>, now: f64, restore: bool) -> Result<Option<f64>, StateError> {
        if let (Fed::Restored { info, estimate_s, .. }, true) = (self, restore) {
            return rt.submit_estimated(*info, *estimate_s).map(Some);
        }
        let clock = || now;
        match rt.step(self.as_input(), &clock, &Observed)? {
            foresight_core::runtime::Output::Estimated(e) => Ok(Some(e)),
            _ => Ok(None),
        }
    }
}

/// Where each node name sits, in the tracker's node order.
pub fn node_index(tracker: &Tracker) -> HashMap<String, u32> {
    tracker.nodes().iter().enumerate().map(|(i, n)| (n.spec.name.clone(), i as u32)).collect()
}

/// A job's start on its nodes, as indices, with the CPUs it holds on each
/// when the orchestrator says (a node not in `index` is left out).
fn start_of(t: &Tracked, index: &HashMap<String, u32>, at: f64) -> Fed {
    let v = &t.view;
    let known = |(i, n): (usize, &String)| index.get(n.as_str()).map(|&node| (i, node));
    let on = v.nodes.iter().enumerate().filter_map(known);
    let alloc = if v.node_cpus.len() == v.nodes.len() && !v.node_cpus.is_empty() {
        Alloc::NodeCpus(on.map(|(i, node)| (node, v.node_cpus[i])).collect())
    } else {
        Alloc::Nodes(on.map(|(_, node)| node).collect())
    };
    Fed::Started { key: t.info.key, at, alloc }
}

/// The inputs that bring a runtime from the last observation to this one:
/// `diff` and the `finished` jobs it took out, with `restored` estimates
/// for jobs a previous run predicted.
pub fn inputs(
    tracker: &Tracker,
    index: &HashMap<String, u32>,
    diff: &Diff,
    finished: &[Tracked],
    restored: &HashMap<JobKey, f64>,
    now: f64,
) -> Vec<Fed> {
    let mut out: Vec<Fed> = diff.usable.iter().map(|&(n, up)| if up { Fed::NodeUp(n) } else { Fed::NodeDown(n) }).collect();
    // (time, rank, key, input): rank orders one instant as the simulator does
    let mut timed: Vec<(f64, u8, JobKey, Fed)> = Vec::new();
    let submit = |t: &Tracked, timed: &mut Vec<(f64, u8, JobKey, Fed)>| {
        let fed = match restored.get(&t.info.key) {
            Some(&estimate_s) => Fed::Restored { info: t.info, record: t.view.job.clone(), estimate_s },
            None => Fed::Submitted { info: t.info, record: t.view.job.clone() },
        };
        timed.push((t.info.submit_s, 0, t.info.key, fed));
    };
    let start = |t: &Tracked, timed: &mut Vec<(f64, u8, JobKey, Fed)>| {
        let at = t.view.job.start_s.unwrap_or(now);
        timed.push((at, 2, t.info.key, start_of(t, index, at)));
        at
    };
    let new: std::collections::HashSet<JobKey> = diff.new_jobs.iter().copied().collect();
    for &key in &diff.new_jobs {
        let Some(t) = tracker.get(key) else { continue };
        submit(t, &mut timed);
        if t.view.phase == Phase::Running {
            start(t, &mut timed);
        }
    }
    let started: std::collections::HashSet<&str> = diff.started.iter().map(|p| p.job_id.as_str()).collect();
    for p in &diff.started {
        if let Some(t) = tracker.by_id(&p.job_id).filter(|t| !new.contains(&t.info.key)) {
            start(t, &mut timed);
        }
    }
    for t in finished {
        if new.contains(&t.info.key) {
            submit(t, &mut timed);
        }
        // a job the runtime never saw start: it starts now, then ends
        let start_at = if new.contains(&t.info.key) || started.contains(t.view.job.job_id.as_str()) {
            start(t, &mut timed)
        } else {
            t.view.job.start_s.unwrap_or(now)
        };
        let at = t.view.job.end_s.unwrap_or(now).max(start_at);
        // a job that ran for no time ends after the start that the same
        // instant's decision made
        let rank = if at == start_at { 3 } else { 1 };
        timed.push((at, rank, t.info.key, Fed::Ended { key: t.info.key, at, record: t.view.job.clone() }));
    }
    timed.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2)));
    out.extend(timed.into_iter().map(|(_, _, _, f)| f));
    // a job seen for the first time already gone was never in the runtime
    out.extend(diff.withdrawn.iter().filter(|k| !new.contains(k)).map(|&key| Fed::Withdrawn { key }));
    out
}

/// The inputs that bring an empty runtime to what the tracker knows now
/// (for a start, after the cluster's shape changed, or after a part
/// failed): the nodes that are down, every live job queued in key order
/// (with `estimate` where one was made before, else to be predicted), and
/// the running ones started on their nodes in order of start.
pub fn snapshot(tracker: &Tracker, index: &HashMap<String, u32>, estimate: impl Fn(&Tracked) -> Option<f64>, now: f64) -> Vec<Fed> {
    let mut out: Vec<Fed> = tracker.nodes().iter().enumerate().filter(|(_, n)| !n.usable).map(|(i, _)| Fed::NodeDown(i as u32)).collect();
    for t in tracker.live() {
        out.push(match estimate(t) {
            Some(estimate_s) => Fed::Restored { info: t.info, record: t.view.job.clone(), estimate_s },
            None => Fed::Submitted { info: t.info, record: t.view.job.clone() },
        });
    }
    let mut running: Vec<&Tracked> = tracker.live().filter(|t| t.view.phase == Phase::Running).collect();
    let start = |t: &Tracked| t.view.job.start_s.unwrap_or(now);
    running.sort_by(|a, b| start(a).total_cmp(&start(b)).then(a.info.key.cmp(&b.info.key)));
    out.extend(running.into_iter().map(|t| start_of(t, index, start(t))));
    out
}

/// Brings an empty runtime to what the tracker knows now (see
/// [`snapshot`]); returns the estimates it made, by job.
pub fn rebuild<P: Policy, R: Predictor>(
    rt: &mut Runtime<P, R>,
    tracker: &Tracker,
    index: &HashMap<String, u32>,
    estimate: impl Fn(&Tracked) -> Option<f64>,
    now: f64,
) -> Vec<(JobKey, f64)> {
    let mut made = Vec::new();
    for f in snapshot(tracker, index, estimate, now) {
        if let (Ok(Some(e)), Fed::Submitted { info, .. }) = (f.apply(rt, now, true), &f) {
            made.push((info.key, e));
        }
    }
    made
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapter::slurm::parse;
    use crate::adapter::ClusterView;
    use crate::shadow::track::tests::node;
    use foresight_core::policy::PolicySpec;
    use foresight_core::predictor::PredictorKind;
    use foresight_core::runtime::RuntimeConfig;

    /// The free CPUs of each node after a runtime is brought to the
    /// captured view of 4 nodes of 25 CPUs, every one allocated but x1's 0.
    fn free_after(jobs: Vec<crate::adapter::JobView>) -> Vec<u32> {
        let mut t = Tracker::new();
        let nodes = (1..=4).map(|i| node(&format!("x{i}"), 25)).collect();
        t.apply(&ClusterView { at_unix_s: 1_800_000_000.0, nodes, jobs });
        let index = node_index(&t);
        let policy: Box<dyn Policy> = Box::new("fcfs".parse::<PolicySpec>().unwrap().build());
        let mut rt = Runtime::new(t.cluster(), policy, PredictorKind::Requested.build(Vec::new), RuntimeConfig::default());
        rebuild(&mut rt, &t, &index, |_| None, 1_800_000_000.0);
        rt.state().nodes().iter().map(|n| n.free.cpus).collect()
    }

    /// Slurm put its 32-CPU jobs as 13 + 19 and 20 + 12 (the fixture's
    /// story is in `parse_tests.rs`): filling the nodes in turn lost CPUs
    /// on the full x2 and showed them free on x3, where Slurm had none.
    #[test]
    fn a_runtime_fed_the_stated_cpus_sees_every_cpu_slurm_allocated() {
        let jobs = parse::jobs(&parse::tests::fixture("squeue-22.05-uneven.json")).unwrap();
        assert_eq!(free_after(jobs.clone()), [0, 0, 6, 5]);
        let unstated = jobs.into_iter().map(|mut j| (j.node_cpus.clear(), j).1).collect();
        assert_ne!(free_after(unstated), [0, 0, 6, 5], "filled in turn, the nodes' CPUs land elsewhere");
    }
}
