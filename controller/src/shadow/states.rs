//! The baseline's and the candidate's cluster states, kept between cycles
//! and brought up to date with each cycle's arrivals, starts and ends
//! instead of being rebuilt (the engine rebuilds them when nodes change or
//! a half-open trial re-predicts).

use super::build::{add_job, start_job};
use super::track::{Diff, Tracked, Tracker};
use foresight_core::state::{ClusterState, JobKey};
use std::collections::{HashMap, HashSet};

/// The baseline's and the candidate's states, kept up to date between
/// cycles and rebuilt when the cluster's shape changes.
pub struct States {
    /// The baseline's state.
    pub base: ClusterState,
    /// The candidate's state.
    pub cand: ClusterState,
    /// Node name to index.
    pub index: HashMap<String, u32>,
}

/// Takes a job out of a state, running or queued.
fn remove_job(state: &mut ClusterState, key: JobKey, now: f64) {
    if state.finish(key).is_err() && state.start(key, Vec::new(), now, now).is_ok() {
        let _ = state.finish(key);
    }
}

impl States {
    /// Brings the kept states up to date with one cycle's changes; false
    /// when one refused a change (rebuild then).
    pub fn update(&mut self, tracker: &Tracker, diff: &Diff, finished: &[Tracked], corrected: &[JobKey], now: f64) -> bool {
        let (new_jobs, started) = (&diff.new_jobs, &diff.started);
        let st = self;
        let mut ok = true;
        for key in finished.iter().map(|t| t.info.key).chain(diff.withdrawn.iter().copied()) {
            remove_job(&mut st.base, key, now);
            remove_job(&mut st.cand, key, now);
        }
        let base_est = |t: &Tracked| t.baseline_s.unwrap_or(f64::INFINITY);
        let cand_est = |t: &Tracked| t.estimate_s.unwrap_or_else(|| base_est(t));
        let new: HashSet<JobKey> = new_jobs.iter().copied().collect();
        for t in new_jobs.iter().filter_map(|&k| tracker.get(k)) {
            ok &= add_job(&mut st.base, &st.index, t, base_est(t), now);
            ok &= add_job(&mut st.cand, &st.index, t, cand_est(t), now);
        }
        for t in started.iter().filter_map(|p| tracker.by_id(&p.job_id)).filter(|t| !new.contains(&t.info.key)) {
            ok &= start_job(&mut st.base, &st.index, t, base_est(t), now);
            ok &= start_job(&mut st.cand, &st.index, t, cand_est(t), now);
        }
        for t in corrected.iter().filter_map(|&k| tracker.get(k)) {
            let end = (t.view.job.start_s.unwrap_or(now) + cand_est(t)).max(now);
            ok &= st.cand.set_expected_end(t.info.key, end).is_ok();
        }
        ok
    }
}
