//! What `foresight inspect` reports about a job table: size, people, time
//! span, outcomes, how good the users' runtime estimates are, and the load
//! offered to the machine.

use crate::table::JobTable;
use foresight_core::JobStatus;
use std::collections::{BTreeMap, HashSet};

/// How requested times compare with actual runtimes, over the jobs that
/// have both (and a positive request).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EstimateQuality {
    /// Jobs with a runtime and a requested time.
    pub jobs: u64,
    /// Median of runtime / requested time.
    pub median_ratio: f64,
    /// Mean of runtime / requested time.
    pub mean_ratio: f64,
    /// Share of jobs that used less than half of their request.
    pub share_below_half: f64,
    /// Share of jobs that used less than a tenth of their request.
    pub share_below_tenth: f64,
    /// Share of jobs that ran longer than their request.
    pub share_over_request: f64,
    /// Mean of min(request, runtime) / max(request, runtime): the accuracy
    /// measure of the runtime-prediction literature, for the users' requests.
    pub accuracy: f64,
}

/// Work offered to the machine against its capacity.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OfferedLoad {
    /// Sum of runtime x CPUs over jobs that ran, in CPU-hours.
    pub cpu_hours: f64,
    /// Sum of runtime x GPUs over jobs that ran, in GPU-hours.
    pub gpu_hours: f64,
    /// `cpu_hours` over (CPUs x the submission span), when the capacity is known.
    pub cpu_load: Option<f64>,
    /// `gpu_hours` over (GPUs x the submission span), when the capacity is known.
    pub gpu_load: Option<f64>,
}

/// The summary `foresight inspect` prints.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Summary {
    /// Rows (job attempts).
    pub jobs: u64,
    /// Distinct users.
    pub users: u64,
    /// Distinct groups.
    pub groups: u64,
    /// Distinct queues.
    pub queues: u64,
    /// First submission (seconds from the epoch).
    pub first_submit_s: f64,
    /// Last submission.
    pub last_submit_s: f64,
    /// Last end of any job, when one ended.
    pub last_end_s: Option<f64>,
    /// Rows per status, every status listed.
    pub status_counts: BTreeMap<JobStatus, u64>,
    /// Jobs that ran: a start and an end, or a run time without a start
    /// (logs that record no start times).
    pub ran: u64,
    /// Jobs that ran with no start time recorded (so no wait time).
    pub no_start: u64,
    /// Jobs with no (positive) requested time.
    pub no_request: u64,
    /// The longest (positive) requested time, if any job asks for one.
    pub longest_request_s: Option<f64>,
    /// What the policies take a job without a requested time to ask for
    /// ([`foresight_core::state::assumed_limit_s`]: the header's
    /// `MaxRuntime`, else the longest request; infinite when neither).
    pub assumed_limit_s: f64,
    /// Requested versus actual runtime.
    pub estimates: EstimateQuality,
    /// Load against capacity.
    pub load: OfferedLoad,
}

fn median(v: &mut [f64]) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_unstable_by(f64::total_cmp);
    let m = v.len() / 2;
    if v.len() % 2 == 1 { v[m] } else { (v[m - 1] + v[m]) / 2.0 }
}

/// Whether a job ran: it has a start and an end, or a run time.
fn ran(j: &foresight_core::Job) -> bool {
    j.ran() || j.runtime_s.is_some()
}

impl Summary {
    /// Summarises a table.
    pub fn of(table: &JobTable) -> Self {
        let jobs = &table.jobs;
        let distinct = |f: fn(&foresight_core::Job) -> Option<&str>| -> u64 {
            jobs.iter().filter_map(f).collect::<HashSet<_>>().len() as u64
        };
        let mut status_counts: BTreeMap<JobStatus, u64> = JobStatus::ALL.iter().map(|s| (*s, 0)).collect();
        for j in jobs {
            *status_counts.entry(j.status).or_default() += 1;
        }
        let first = jobs.iter().map(|j| j.submit_s).fold(f64::INFINITY, f64::min);
        let last = jobs.iter().map(|j| j.submit_s).fold(f64::NEG_INFINITY, f64::max);
        let (first, last) = if jobs.is_empty() { (0.0, 0.0) } else { (first, last) };
        let last_end = jobs.iter().filter_map(|j| j.end_s).fold(None, |m: Option<f64>, e| Some(m.map_or(e, |m| m.max(e))));

        let mut ratios: Vec<f64> = Vec::new();
        let mut accuracy = 0.0;
        for j in jobs {
            if let (Some(rt), Some(req)) = (j.runtime_s, j.req_time_s)
                && req > 0.0 && rt >= 0.0 {
                    ratios.push(rt / req);
                    let (lo, hi) = (rt.min(req), rt.max(req));
                    accuracy += if hi > 0.0 { lo / hi } else { 1.0 };
                }
        }
        let n = ratios.len() as f64;
        let share = |pred: fn(f64) -> bool| if n > 0.0 { ratios.iter().filter(|r| pred(**r)).count() as f64 / n } else { 0.0 };
        let estimates = EstimateQuality {
            jobs: ratios.len() as u64,
            mean_ratio: if n > 0.0 { ratios.iter().sum::<f64>() / n } else { 0.0 },
            share_below_half: share(|r| r < 0.5),
            share_below_tenth: share(|r| r < 0.1),
            share_over_request: share(|r| r > 1.0),
            accuracy: if n > 0.0 { accuracy / n } else { 0.0 },
            median_ratio: median(&mut ratios),
        };

        let mut load = OfferedLoad::default();
        for j in jobs.iter().filter(|j| ran(j)) {
            let rt = j.runtime_s.or(j.end_s.zip(j.start_s).map(|(e, s)| e - s)).unwrap_or(0.0).max(0.0);
            load.cpu_hours += rt * f64::from(j.req_cpus.unwrap_or(0)) / 3600.0;
            load.gpu_hours += rt * f64::from(j.req_gpus.unwrap_or(0)) / 3600.0;
        }
        let span_h = (last - first) / 3600.0;
        if span_h > 0.0 {
            let cap = table.meta.capacity;
            load.cpu_load = cap.cpus.filter(|c| *c > 0).map(|c| load.cpu_hours / (f64::from(c) * span_h));
            load.gpu_load = cap.gpus.filter(|g| *g > 0).map(|g| load.gpu_hours / (f64::from(g) * span_h));
        }

        let longest_request_s =
            jobs.iter().filter_map(|j| j.req_time_s).filter(|t| *t > 0.0).max_by(f64::total_cmp);
        Summary {
            jobs: jobs.len() as u64,
            users: distinct(|j| j.user.as_deref()),
            groups: distinct(|j| j.group.as_deref()),
            queues: distinct(|j| j.queue.as_deref()),
            first_submit_s: first,
            last_submit_s: last,
            last_end_s: last_end,
            status_counts,
            ran: jobs.iter().filter(|j| ran(j)).count() as u64,
            no_start: jobs.iter().filter(|j| ran(j) && j.start_s.is_none()).count() as u64,
            no_request: jobs.iter().filter(|j| j.req_time_s.is_none_or(|t| t <= 0.0)).count() as u64,
            longest_request_s,
            assumed_limit_s: foresight_core::state::assumed_limit_s(table.meta.max_runtime_s, longest_request_s),
            estimates,
            load,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use foresight_core::{Capacity, Job, TraceMeta};

    fn job(user: &str, submit: f64, run: f64, req: f64, cpus: u32, status: JobStatus) -> Job {
        Job {
            user: Some(user.into()),
            submit_s: submit,
            start_s: Some(submit),
            end_s: Some(submit + run),
            runtime_s: Some(run),
            req_time_s: Some(req),
            req_cpus: Some(cpus),
            status,
            ..Job::default()
        }
    }

    #[test]
    fn counts_estimates_and_load() {
        let table = JobTable {
            meta: TraceMeta { capacity: Capacity { cpus: Some(10), ..Capacity::default() }, ..TraceMeta::default() },
            jobs: vec![
                job("a", 0.0, 360.0, 3600.0, 10, JobStatus::Completed),
                job("b", 3600.0, 1800.0, 3600.0, 2, JobStatus::Failed),
                job("a", 7200.0, 4000.0, 3600.0, 1, JobStatus::Completed),
            ],
        };
        let s = Summary::of(&table);
        assert_eq!((s.jobs, s.users, s.ran), (3, 2, 3));
        assert_eq!(s.status_counts[&JobStatus::Completed], 2);
        assert_eq!(s.status_counts[&JobStatus::Timeout], 0);
        assert_eq!((s.first_submit_s, s.last_submit_s, s.last_end_s), (0.0, 7200.0, Some(11_200.0)));
        assert_eq!(s.estimates.jobs, 3);
        assert!((s.estimates.median_ratio - 0.5).abs() < 1e-12);
        assert!((s.estimates.share_over_request - 1.0 / 3.0).abs() < 1e-12);
        assert!((s.estimates.accuracy - (0.1 + 0.5 + 0.9) / 3.0).abs() < 1e-12);
        // 1 + 1 + 1.111 CPU-hours over 10 CPUs x 2 hours.
        assert!((s.load.cpu_load.unwrap() - (1.0 + 1.0 + 4000.0 / 3600.0) / 20.0).abs() < 1e-12);
        assert_eq!(s.load.gpu_load, None);
    }

    #[test]
    fn jobs_with_a_run_time_but_no_start_ran_and_missing_requests_are_counted() {
        let mut no_start = job("a", 0.0, 600.0, 3600.0, 4, JobStatus::Completed);
        (no_start.start_s, no_start.end_s, no_start.req_time_s) = (None, None, None);
        let table = JobTable { jobs: vec![no_start, job("b", 60.0, 60.0, 120.0, 1, JobStatus::Completed)], ..JobTable::default() };
        let s = Summary::of(&table);
        assert_eq!((s.jobs, s.ran, s.no_start, s.no_request), (2, 2, 1, 1));
        assert!((s.load.cpu_hours - (600.0 * 4.0 + 60.0) / 3600.0).abs() < 1e-12, "its run time counts as load");
        assert_eq!(s.estimates.jobs, 1);
    }

    #[test]
    fn an_empty_table_summarises_to_zeros() {
        let s = Summary::of(&JobTable::default());
        assert_eq!((s.jobs, s.users, s.first_submit_s, s.last_end_s), (0, 0, 0.0, None));
    }
}
