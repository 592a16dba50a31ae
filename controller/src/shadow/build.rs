//! Building the `foresight-core` cluster state a policy decides on, from
//! what the tracker remembers: nodes up or down, running jobs on their
//! nodes with their expected ends, pending jobs with their estimates.
//!
//! The state is rebuilt from scratch every cycle, so it can never drift
//! from what the orchestrator reports.

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

/// The state for one policy at `now`, where `estimate` gives each job's
/// current runtime estimate. Running jobs are placed before the queue is
/// filled, so that each start leaves a short queue to take its job from.
pub fn cluster_state(tracker: &Tracker, now: f64, estimate: impl Fn(&Tracked) -> f64) -> ClusterState {
    let mut state = ClusterState::new(tracker.cluster(), USAGE_HALF_LIFE_S);
    let index: HashMap<&str, u32> =
        tracker.nodes().iter().enumerate().map(|(i, n)| (n.spec.name.as_str(), i as u32)).collect();
    for (i, n) in tracker.nodes().iter().enumerate() {
        if !n.usable {
            state.set_node_up(i as u32, false);
        }
    }
    // started in order of expected end, so each lands at the end of the
    // state's running list instead of being shifted into its middle
    let mut running: Vec<(f64, f64, &Tracked)> = tracker
        .live()
        .filter(|t| t.view.phase == Phase::Running)
        .map(|t| {
            let est = estimate(t);
            ((t.view.job.start_s.unwrap_or(now) + est).max(now), est, t)
        })
        .collect();
    running.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.2.info.key.cmp(&b.2.info.key)));
    for (expected_end, est, t) in running {
        if state.submit(PendingJob { info: t.info, estimate_s: est }).is_err() {
            continue;
        }
        let start = t.view.job.start_s.unwrap_or(now);
        let nodes: Vec<u32> = t.view.nodes.iter().filter_map(|n| index.get(n.as_str()).copied()).collect();
        let k = nodes.len().max(1) as u64;
        let total = t.info.demand.total;
        let slots: Vec<Slot> = nodes
            .iter()
            .enumerate()
            .map(|(i, &node)| {
                let i = i as u64;
                let want = Resources::new(
                    share(total.cpus.into(), k, i) as u32,
                    share(total.gpus.into(), k, i) as u32,
                    share(total.mem_mb, k, i),
                );
                // the orchestrator's allocation is the truth: never refuse it
                let free = state.nodes()[node as usize].free;
                Slot {
                    node,
                    res: Resources::new(want.cpus.min(free.cpus), want.gpus.min(free.gpus), want.mem_mb.min(free.mem_mb)),
                }
            })
            .collect();
        let _ = state.start(t.info.key, slots, start, expected_end);
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
