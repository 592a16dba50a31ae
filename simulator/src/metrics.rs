//! Metrics: per job (wait, response, bounded slowdown, killed or not) and
//! aggregated over all jobs and per user, group and queue.

use crate::engine::{EngineStats, SimResult};
use crate::workload::{Dropped, Workload};
use foresight_core::Names;
use foresight_core::Resources;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The runtime below which bounded slowdown stops dividing (Feitelson's
/// bound of 10 seconds): `bsld = max(1, response / max(runtime, 10))`.
pub const BSLD_THRESHOLD_S: f64 = 10.0;

/// The metrics of one job that ran.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct JobMetrics {
    /// Start minus submission.
    pub wait_s: f64,
    /// End minus submission.
    pub response_s: f64,
    /// End minus start.
    pub runtime_s: f64,
    /// Bounded slowdown.
    pub bsld: f64,
}

impl JobMetrics {
    /// The metrics of a job submitted at `submit_s` that ran from `start_s`
    /// to `end_s`.
    pub fn new(submit_s: f64, start_s: f64, end_s: f64) -> Self {
        let runtime_s = end_s - start_s;
        let response_s = end_s - submit_s;
        let bsld = (response_s / runtime_s.max(BSLD_THRESHOLD_S)).max(1.0);
        Self { wait_s: start_s - submit_s, response_s, runtime_s, bsld }
    }
}

/// Aggregates over a set of jobs. Percentiles interpolate linearly between
/// ranks; waits and slowdowns count the jobs that ran to an end.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// Jobs in the set.
    pub jobs: u64,
    /// Jobs that ran to an end (killed and failed included).
    pub ended: u64,
    /// Jobs killed at their time limit.
    pub killed: u64,
    /// Jobs ended by a node failure.
    pub failed: u64,
    /// Jobs whose last start was a backfill.
    pub backfilled: u64,
    /// Requeues.
    pub requeues: u64,
    /// Mean wait, seconds.
    pub mean_wait_s: f64,
    /// Median wait, seconds.
    pub median_wait_s: f64,
    /// 95th percentile of wait, seconds.
    pub p95_wait_s: f64,
    /// 99th percentile of wait, seconds.
    pub p99_wait_s: f64,
    /// Mean response time, seconds.
    pub mean_response_s: f64,
    /// Average bounded slowdown.
    pub avg_bsld: f64,
    /// Largest bounded slowdown.
    pub max_bsld: f64,
    /// Fraction of the cluster's CPU time the set used over the makespan.
    pub cpu_utilisation: f64,
    /// Same for GPU time (0 on a cluster without GPUs).
    pub gpu_utilisation: f64,
    /// From the first submission to the last end, over all jobs, seconds.
    pub makespan_s: f64,
}

/// The full report of one simulation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// Policy name.
    pub policy: String,
    /// Predictor name.
    pub predictor: String,
    /// Over all jobs.
    pub summary: Summary,
    /// Per user name.
    pub by_user: BTreeMap<String, Summary>,
    /// Per group name.
    pub by_group: BTreeMap<String, Summary>,
    /// Per queue name.
    pub by_queue: BTreeMap<String, Summary>,
    /// Engine counters.
    pub stats: EngineStats,
    /// What the workload filter dropped.
    pub dropped: Dropped,
}

/// The metrics of job `key` (`None` when it did not end).
pub fn job_metrics(workload: &Workload, result: &SimResult, key: usize) -> Option<JobMetrics> {
    let (j, o) = (&workload.jobs[key], &result.outcomes[key]);
    o.ended().then(|| JobMetrics::new(j.info.submit_s, o.start_s, o.end_s))
}

/// Builds the report of one run.
pub fn report(workload: &Workload, capacity: Resources, result: &SimResult, policy: &str, predictor: &str) -> Report {
    let first = workload.jobs.first().map_or(0.0, |j| j.info.submit_s);
    let last = result.outcomes.iter().filter(|o| o.ended()).map(|o| o.end_s).fold(first, f64::max);
    let ctx = Ctx { w: workload, r: result, capacity, makespan: last - first };
    Report {
        policy: policy.to_string(),
        predictor: predictor.to_string(),
        summary: ctx.summary(0..workload.len() as u32),
        by_user: ctx.breakdown(&workload.names.users, |j| j.user),
        by_group: ctx.breakdown(&workload.names.groups, |j| j.group),
        by_queue: ctx.breakdown(&workload.names.queues, |j| j.queue),
        stats: result.stats,
        dropped: workload.dropped,
    }
}

struct Ctx<'a> {
    w: &'a Workload,
    r: &'a SimResult,
    capacity: Resources,
    makespan: f64,
}

impl Ctx<'_> {
    fn breakdown(&self, names: &Names, id: impl Fn(&foresight_core::state::JobInfo) -> u32) -> BTreeMap<String, Summary> {
        let mut sets: Vec<Vec<u32>> = vec![Vec::new(); names.len()];
        for j in &self.w.jobs {
            sets[id(&j.info) as usize].push(j.info.key.0);
        }
        sets.iter()
            .enumerate()
            .map(|(i, set)| (names.name(i as u32).to_string(), self.summary(set.iter().copied())))
            .collect()
    }

    fn summary(&self, set: impl ExactSizeIterator<Item = u32>) -> Summary {
        let mut s = Summary { jobs: set.len() as u64, makespan_s: self.makespan, ..Summary::default() };
        let mut waits = Vec::with_capacity(set.len());
        let (mut response, mut bsld, mut cpu_s, mut gpu_s) = (0.0, 0.0, 0.0, 0.0);
        for k in set {
            let (o, j) = (&self.r.outcomes[k as usize], &self.w.jobs[k as usize]);
            s.requeues += u64::from(o.requeues);
            let Some(m) = job_metrics(self.w, self.r, k as usize) else { continue };
            s.ended += 1;
            s.killed += u64::from(o.killed);
            s.failed += u64::from(o.failed);
            s.backfilled += u64::from(o.backfilled);
            waits.push(m.wait_s);
            response += m.response_s;
            bsld += m.bsld;
            s.max_bsld = s.max_bsld.max(m.bsld);
            cpu_s += f64::from(j.info.demand.total.cpus) * m.runtime_s;
            gpu_s += f64::from(j.info.demand.total.gpus) * m.runtime_s;
        }
        if s.ended > 0 {
            let n = s.ended as f64;
            waits.sort_by(f64::total_cmp);
            s.mean_wait_s = waits.iter().sum::<f64>() / n;
            s.median_wait_s = percentile(&waits, 0.5);
            s.p95_wait_s = percentile(&waits, 0.95);
            s.p99_wait_s = percentile(&waits, 0.99);
            s.mean_response_s = response / n;
            s.avg_bsld = bsld / n;
        }
        let per = |used: f64, cap: u32| if cap == 0 || self.makespan <= 0.0 { 0.0 } else { used / (f64::from(cap) * self.makespan) };
        s.cpu_utilisation = per(cpu_s, self.capacity.cpus);
        s.gpu_utilisation = per(gpu_s, self.capacity.gpus);
        s
    }
}

/// The `q`-quantile of sorted values, interpolating linearly between ranks.
pub fn percentile(sorted: &[f64], q: f64) -> f64 {
    match sorted.len() {
        0 => f64::NAN,
        1 => sorted[0],
        n => {
            let pos = q.clamp(0.0, 1.0) * (n - 1) as f64;
            let lo = pos.floor() as usize;
            let hi = (lo + 1).min(n - 1);
            sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo as f64)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_slowdown_uses_the_ten_second_bound() {
        let m = JobMetrics::new(0.0, 95.0, 100.0);
        assert_eq!((m.wait_s, m.response_s, m.runtime_s), (95.0, 100.0, 5.0));
        assert_eq!(m.bsld, 10.0);
        assert_eq!(JobMetrics::new(0.0, 0.0, 3.0).bsld, 1.0);
        assert_eq!(JobMetrics::new(0.0, 100.0, 200.0).bsld, 2.0);
    }

    #[test]
    fn percentiles_interpolate() {
        let v = [1.0, 2.0, 3.0, 4.0, 5.0];
        assert_eq!(percentile(&v, 0.5), 3.0);
        assert_eq!(percentile(&v, 0.95), 4.8);
        assert!(percentile(&[], 0.5).is_nan());
    }
}
