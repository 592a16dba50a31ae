//! The workload a simulation replays: canonical jobs turned into compact
//! records (interned names, resources, limit, true runtime) sorted by
//! submission, after a filter that says which jobs can be replayed.

use foresight_core::state::{Demand, JobInfo, JobKey};
use foresight_core::{Cluster, FeatureValue, Job, NameTables};
use serde::{Deserialize, Serialize};

/// One job to replay: what is known at submission, and its true runtime.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SimJob {
    /// What the scheduler may know; `info.key` is the job's index.
    pub info: JobInfo,
    /// The runtime the job had in the trace (it is killed at its limit).
    pub runtime_s: f64,
}

/// Which jobs are replayed and how they are cleaned.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Filter {
    /// Replay every job that ran and can fit the cluster; a job without a
    /// requested time is never killed; a runtime above the request is
    /// killed at the request.
    #[default]
    Ran,
    /// The filter of the predictsim experiments (SC'15), as its
    /// `strong_filter_all_swf` script applies it to SWF logs: drop jobs
    /// with no positive processor count, more processors than the machine,
    /// no positive runtime or no positive requested time; cap runtimes at
    /// the requested time (so nothing is killed).
    Predictsim,
}

/// How a workload is built.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct WorkloadOptions {
    /// The filter.
    pub filter: Filter,
    /// Divides every inter-arrival time: 2.0 submits the same jobs twice as
    /// densely (double the load), 0.5 half as densely.
    pub load_factor: f64,
}

impl Default for WorkloadOptions {
    fn default() -> Self {
        Self { filter: Filter::Ran, load_factor: 1.0 }
    }
}

/// What the filter dropped, by reason.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dropped {
    /// Jobs without a start, end or runtime (never ran).
    pub never_ran: u64,
    /// Jobs with a runtime of zero or less (predictsim filter).
    pub no_runtime: u64,
    /// Jobs without a positive requested time (predictsim filter).
    pub no_request: u64,
    /// Jobs without a positive processor count (predictsim filter).
    pub no_processors: u64,
    /// Jobs the cluster can never hold.
    pub too_large: u64,
}

impl Dropped {
    /// All dropped jobs.
    pub fn total(&self) -> u64 {
        self.never_ran + self.no_runtime + self.no_request + self.no_processors + self.too_large
    }
}

/// Jobs ready to replay, sorted by submission (ties keep trace order).
#[derive(Debug, Clone, Default)]
pub struct Workload {
    /// The jobs; `jobs[i].info.key == JobKey(i)`.
    pub jobs: Vec<SimJob>,
    /// For each job, its row in the source table (for job ids in outputs).
    pub source_row: Vec<u32>,
    /// User, group and queue names (the ids in the jobs' records).
    pub names: NameTables,
    /// What the filter dropped.
    pub dropped: Dropped,
}

/// Builds a workload job by job (for traces too large to hold as [`Job`]s).
#[derive(Debug)]
pub struct WorkloadBuilder {
    w: Workload,
    opts: WorkloadOptions,
    total: foresight_core::Resources,
    nodes: u32,
    row: u32,
}

impl WorkloadBuilder {
    /// A builder for jobs replayed on `cluster`.
    pub fn new(cluster: &Cluster, opts: WorkloadOptions) -> Self {
        Self { w: Workload::default(), opts, total: cluster.total(), nodes: cluster.len() as u32, row: 0 }
    }

    /// Adds the next row of the source table (or drops it, counting why).
    pub fn push(&mut self, job: &Job) {
        let row = self.row;
        self.row += 1;
        let d = &mut self.w.dropped;
        let Some(mut runtime) = job.runtime_s.or_else(|| Some(job.end_s? - job.start_s?)) else {
            d.never_ran += 1;
            return;
        };
        let limit = job.req_time_s.filter(|t| *t > 0.0).unwrap_or(f64::INFINITY);
        let demand = Demand::of(job);
        if self.opts.filter == Filter::Predictsim {
            let alloc = match job.features.get("alloc_cpus") {
                Some(FeatureValue::Num(a)) => *a,
                _ => 0.0,
            };
            if job.req_cpus.is_none() {
                d.no_processors += 1;
                return;
            }
            if demand.total.cpus > self.total.cpus || alloc > f64::from(self.total.cpus) {
                d.too_large += 1;
                return;
            }
            if runtime <= 0.0 {
                d.no_runtime += 1;
                return;
            }
            if !limit.is_finite() {
                d.no_request += 1;
                return;
            }
            runtime = runtime.min(limit);
        }
        if !demand.total.fits_in(&self.total) || demand.nodes > self.nodes {
            d.too_large += 1;
            return;
        }
        let w = &mut self.w;
        let info = JobInfo::of(job, JobKey(w.jobs.len() as u32), &mut w.names);
        w.jobs.push(SimJob { info, runtime_s: runtime.max(0.0) });
        w.source_row.push(row);
    }

    /// Sorts by submission, applies the load factor and hands out keys.
    pub fn finish(mut self) -> Workload {
        let w = &mut self.w;
        let mut sorted = std::mem::take(&mut w.jobs);
        if !sorted.is_sorted_by(|a, b| a.info.submit_s <= b.info.submit_s) {
            let mut order: Vec<u32> = (0..sorted.len() as u32).collect();
            order.sort_by(|&a, &b| sorted[a as usize].info.submit_s.total_cmp(&sorted[b as usize].info.submit_s));
            let rows = &w.source_row;
            w.source_row = order.iter().map(|&i| rows[i as usize]).collect();
            sorted = order.iter().map(|&i| sorted[i as usize]).collect();
        }
        let first = sorted.first().map_or(0.0, |j| j.info.submit_s);
        let factor = if self.opts.load_factor > 0.0 { self.opts.load_factor } else { 1.0 };
        for (i, j) in sorted.iter_mut().enumerate() {
            j.info.key = JobKey(i as u32);
            if factor != 1.0 {
                j.info.submit_s = first + (j.info.submit_s - first) / factor;
            }
        }
        w.jobs = sorted;
        self.w
    }
}

impl Workload {
    /// A workload from canonical jobs, for `cluster`.
    pub fn from_jobs<'a>(jobs: impl IntoIterator<Item = &'a Job>, cluster: &Cluster, opts: WorkloadOptions) -> Self {
        let mut b = WorkloadBuilder::new(cluster, opts);
        for job in jobs {
            b.push(job);
        }
        b.finish()
    }

    /// The runtime each job actually gets (its runtime, cut at its limit),
    /// by key: what the clairvoyant oracle predicts.
    pub fn effective_runtimes(&self) -> Vec<f64> {
        self.jobs.iter().map(|j| j.runtime_s.min(j.info.limit_s)).collect()
    }

    /// Number of jobs.
    pub fn len(&self) -> usize {
        self.jobs.len()
    }

    /// True when there is no job.
    pub fn is_empty(&self) -> bool {
        self.jobs.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use foresight_core::Resources;

    fn job(submit: f64, runtime: Option<f64>, cpus: u32, req: Option<f64>) -> Job {
        Job { submit_s: submit, runtime_s: runtime, req_cpus: Some(cpus), req_time_s: req, ..Job::default() }
    }

    #[test]
    fn filters_sort_and_scale() {
        let cluster = Cluster::homogeneous("n", 4, Resources::new(1, 0, 0));
        let jobs = vec![
            job(10.0, Some(5.0), 1, Some(3.0)),
            job(0.0, Some(0.0), 2, Some(10.0)),
            job(4.0, None, 1, Some(10.0)),
            job(6.0, Some(5.0), 9, Some(10.0)),
            job(8.0, Some(5.0), 1, None),
        ];
        let w = Workload::from_jobs(&jobs, &cluster, WorkloadOptions::default());
        assert_eq!(w.len(), 3);
        assert_eq!(w.dropped.never_ran, 1);
        assert_eq!(w.dropped.too_large, 1);
        assert_eq!(w.source_row, vec![1, 4, 0]);
        assert_eq!(w.jobs[2].runtime_s, 5.0, "the default filter keeps the overrun: the job is killed");
        assert!(w.jobs[1].info.limit_s.is_infinite());

        let opts = WorkloadOptions { filter: Filter::Predictsim, load_factor: 2.0 };
        let p = Workload::from_jobs(&jobs, &cluster, opts);
        assert_eq!(p.len(), 1);
        assert_eq!(p.jobs[0].runtime_s, 3.0, "predictsim caps runtimes at the request");
        assert_eq!((p.dropped.no_runtime, p.dropped.no_request), (1, 1));
        let scaled = Workload::from_jobs(&jobs, &cluster, WorkloadOptions { load_factor: 2.0, ..Default::default() });
        assert_eq!(scaled.jobs.iter().map(|j| j.info.submit_s).collect::<Vec<_>>(), vec![0.0, 4.0, 5.0]);
    }
}
