//! Building the `foresight-core` cluster state a policy decides on, from
//! what the tracker remembers: nodes up or down, running jobs on their
//! nodes with their expected ends, pending jobs with their estimates.
//!
//! The engine builds the states from scratch at its first cycle, when nodes
//! change, on a half-open trial, and whenever an update is refused; in
//! between it brings them up to date with each cycle's changes
//! (`states.rs`), with these same functions.

use super::track::{Tracked, Tracker};
use crate::adapter::Phase;
use foresight_core::Resources;
use foresight_core::state::{ClusterState, PendingJob, Slot};
use std::collections::HashMap;

/// Half-life of fair-share usage in the states the controller builds.
pub const USAGE_HALF_LIFE_S: f64 = 7.0 * 86_400.0;

/// Shares `total` over `k` nodes, the remainder to the first ones.
fn share(total: u64, k: u64, i: u64) -> u64 {
    total / k + u64::from(i < total % k)
}

/// Node name to index, in the tracker's node order.
pub fn node_index(tracker: &Tracker) -> HashMap<String, u32> {
    tracker.nodes().iter().enumerate().map(|(i, n)| (n.spec.name.clone(), i as u32)).collect()
}

/// Where a running job sits: its demand shared over its nodes, each share
/// cut to what the node still has free (the orchestrator's allocation is
/// the truth: never refuse it).
fn slots_for(state: &ClusterState, index: &HashMap<String, u32>, t: &Tracked) -> Vec<Slot> {
    let nodes: Vec<u32> = t.view.nodes.iter().filter_map(|n| index.get(n.as_str()).copied()).collect();
    let k = nodes.len().max(1) as u64;
    let total = t.info.demand.total;
    nodes
        .iter()
        .enumerate()
        .map(|(i, &node)| {
            let i = i as u64;
            let free = state.nodes()[node as usize].free;
            let res = Resources::new(
                (share(total.cpus.into(), k, i) as u32).min(free.cpus),
                (share(total.gpus.into(), k, i) as u32).min(free.gpus),
                share(total.mem_mb, k, i).min(free.mem_mb),
            );
            Slot { node, res }
        })
        .collect()
}

/// The expected end of a running job with estimate `est`, never before `now`.
fn expected_end(t: &Tracked, est: f64, now: f64) -> f64 {
    (t.view.job.start_s.unwrap_or(now) + est).max(now)
}

/// Adds a job the state does not hold yet: queued, and started on its
/// nodes if it runs. False when the state refused it (rebuild then).
pub fn add_job(state: &mut ClusterState, index: &HashMap<String, u32>, t: &Tracked, est: f64, now: f64) -> bool {
    if state.submit(PendingJob { info: t.info, estimate_s: est }).is_err() {
        return false;
    }
    t.view.phase != Phase::Running || start_job(state, index, t, est, now)
}

/// Starts a queued job on its nodes. False when the state refused.
pub fn start_job(state: &mut ClusterState, index: &HashMap<String, u32>, t: &Tracked, est: f64, now: f64) -> bool {
    let slots = slots_for(state, index, t);
    let start = t.view.job.start_s.unwrap_or(now);
    state.start(t.info.key, slots, start, expected_end(t, est, now)).is_ok()
}

/// The state for one policy at `now`, where `estimate` gives each job's
/// current runtime estimate. Running jobs are placed before the queue is
/// filled, and in order of expected end, so that nothing is shifted.
pub fn cluster_state(tracker: &Tracker, now: f64, estimate: impl Fn(&Tracked) -> f64) -> ClusterState {
    let mut state = ClusterState::new(tracker.cluster(), USAGE_HALF_LIFE_S);
    let index = node_index(tracker);
    for (i, n) in tracker.nodes().iter().enumerate() {
        if !n.usable {
            state.set_node_up(i as u32, false);
        }
    }
    let mut running: Vec<(f64, f64, &Tracked)> = tracker
        .live()
        .filter(|t| t.view.phase == Phase::Running)
        .map(|t| {
            let est = estimate(t);
            (expected_end(t, est, now), est, t)
        })
        .collect();
    running.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.2.info.key.cmp(&b.2.info.key)));
    for (_, est, t) in running {
        add_job(&mut state, &index, t, est, now);
    }
    for t in tracker.live().filter(|t| t.view.phase != Phase::Running) {
        let _ = state.submit(PendingJob { info: t.info, estimate_s: estimate(t) });
    }
    state
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapter::ClusterView;
    use crate::shadow::track::tests::{job, node};

    #[test]
    fn builds_running_and_pending_jobs_on_up_nodes() {
        let mut t = Tracker::new();
        let mut down = node("n2", 4);
        down.usable = false;
        let view = ClusterView {
            at_unix_s: 100.0,
            nodes: vec![node("n1", 4), down],
            jobs: vec![job("1", Phase::Running, 3, 10.0, Some(50.0), None), job("2", Phase::Pending, 2, 60.0, None, None)],
        };
        t.apply(&view);
        let state = cluster_state(&t, 100.0, |t| if t.info.key.0 == 1 { 80.0 } else { 30.0 });
        assert_eq!(state.running().len(), 1);
        assert_eq!(state.running()[0].expected_end_s, 130.0);
        assert_eq!(state.pending().len(), 1);
        assert_eq!(state.pending()[0].estimate_s, 30.0);
        assert_eq!(state.free_total(), Resources::new(1, 0, 0), "n2 is down, 3 of n1's 4 cpus are taken");
    }

    #[test]
    fn an_outlived_estimate_ends_no_earlier_than_now() {
        let mut t = Tracker::new();
        let view = ClusterView {
            at_unix_s: 100.0,
            nodes: vec![node("n1", 4)],
            jobs: vec![job("1", Phase::Running, 1, 10.0, Some(20.0), None)],
        };
        t.apply(&view);
        let state = cluster_state(&t, 100.0, |_| 10.0);
        assert_eq!(state.running()[0].expected_end_s, 100.0);
    }
}
