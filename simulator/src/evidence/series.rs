//! The series behind the charts: the wait-time CDF and quantiles, bounded
//! slowdown by job size and runtime class, and utilisation and queue length
//! over time, all from one run's per-job outcomes.

use crate::engine::SimResult;
use crate::metrics::{job_metrics, percentile};
use crate::workload::Workload;
use foresight_core::Cluster;
use serde::{Deserialize, Serialize};

/// The quantiles of wait a report tabulates.
pub const CLASS_QUANTILES: [f64; 7] = [0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 1.0];

/// At most this many points per CDF.
const CDF_POINTS: usize = 200;
/// Bins of the timeline.
const TIMELINE_BINS: usize = 120;

/// Runtime classes: upper bounds in seconds and their names.
const RUNTIME_CLASSES: [(f64, &str); 7] = [
    (1.0, "< 1 s"),
    (10.0, "1-10 s"),
    (60.0, "10 s-1 min"),
    (600.0, "1-10 min"),
    (3600.0, "10 min-1 h"),
    (36_000.0, "1-10 h"),
    (f64::INFINITY, ">= 10 h"),
];

/// One point of a CDF: the fraction of jobs that waited at most `wait_s`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct CdfPoint {
    /// Wait, seconds.
    pub wait_s: f64,
    /// Fraction of all jobs in `[0, 1]` (jobs that never started count
    /// against it, so it may top out below 1).
    pub fraction: f64,
}

/// Metrics of one class of jobs (a size or runtime class).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassStat {
    /// The class, e.g. `1-10 s` or `2 GPUs`.
    pub class: String,
    /// Jobs of the class that ran to an end.
    pub jobs: u64,
    /// Their average bounded slowdown (0 when none ended).
    pub mean_bsld: f64,
    /// Their mean wait, seconds (0 when none ended).
    pub mean_wait_s: f64,
}

/// Utilisation and queue length, averaged over equal bins from the first
/// submission to the last end. A requeued job counts as running from its
/// last start and queued before it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Timeline {
    /// Width of a bin, seconds.
    pub bin_s: f64,
    /// Centre of each bin, seconds since the first submission.
    pub t_s: Vec<f64>,
    /// Fraction of the resource in use, per bin.
    pub utilisation: Vec<f64>,
    /// Jobs waiting, time-averaged per bin.
    pub queue_len: Vec<f64>,
    /// Mean utilisation over the whole span.
    pub mean_utilisation: f64,
    /// Largest binned queue length.
    pub peak_queue_len: f64,
}

/// What every series of one comparison shares: the workload, the capacity,
/// and each job's size and runtime class.
pub(super) struct Ctx<'a> {
    w: &'a Workload,
    gpus: bool,
    capacity: f64,
    size_class: Vec<u32>,
    runtime_class: Vec<usize>,
}

impl<'a> Ctx<'a> {
    pub(super) fn new(w: &'a Workload, cluster: &Cluster) -> Self {
        let total = cluster.total();
        let gpus = total.gpus > 0;
        let capacity = f64::from(if gpus { total.gpus } else { total.cpus });
        let size_class = w.jobs.iter().map(|j| j.info.demand.size().max(1).next_power_of_two()).collect();
        let runtime_class = w
            .effective_runtimes()
            .iter()
            .map(|&r| RUNTIME_CLASSES.iter().position(|(max, _)| r < *max).unwrap_or(RUNTIME_CLASSES.len() - 1))
            .collect();
        Self { w, gpus, capacity, size_class, runtime_class }
    }

    pub(super) fn resource(&self) -> &'static str {
        if self.gpus { "GPUs" } else { "CPUs" }
    }

    fn used(&self, key: usize) -> f64 {
        let t = &self.w.jobs[key].info.demand.total;
        f64::from(if self.gpus { t.gpus } else { t.cpus })
    }

    fn sorted_waits(&self, r: &SimResult) -> Vec<f64> {
        let mut waits: Vec<f64> = (0..self.w.len()).filter_map(|k| job_metrics(self.w, r, k)).map(|m| m.wait_s).collect();
        waits.sort_by(f64::total_cmp);
        waits
    }

    pub(super) fn wait_cdf(&self, r: &SimResult) -> Vec<CdfPoint> {
        let waits = self.sorted_waits(r);
        let Some(k) = waits.len().checked_sub(1).map(|n| n.min(CDF_POINTS)) else { return Vec::new() };
        let share = waits.len() as f64 / self.w.len() as f64;
        (0..=k)
            .map(|i| {
                let q = if k == 0 { 1.0 } else { i as f64 / k as f64 };
                CdfPoint { wait_s: percentile(&waits, q), fraction: q * share }
            })
            .collect()
    }

    pub(super) fn wait_quantiles(&self, r: &SimResult) -> Vec<CdfPoint> {
        let waits = self.sorted_waits(r);
        CLASS_QUANTILES
            .iter()
            .map(|&q| CdfPoint { wait_s: if waits.is_empty() { 0.0 } else { percentile(&waits, q) }, fraction: q })
            .collect()
    }

    pub(super) fn by_size(&self, r: &SimResult) -> Vec<ClassStat> {
        let mut sizes: Vec<u32> = self.size_class.clone();
        sizes.sort_unstable();
        sizes.dedup();
        let unit = self.resource();
        let name = |s: u32| match s {
            1 => format!("1 {}", unit.trim_end_matches('s')),
            2 => format!("2 {unit}"),
            s => format!("{}-{s} {unit}", s / 2 + 1),
        };
        sizes.into_iter().map(|s| self.class_stat(r, name(s), |k| self.size_class[k] == s)).collect()
    }

    pub(super) fn by_runtime(&self, r: &SimResult) -> Vec<ClassStat> {
        (0..RUNTIME_CLASSES.len())
            .filter(|c| self.runtime_class.contains(c))
            .map(|c| self.class_stat(r, RUNTIME_CLASSES[c].1.to_string(), |k| self.runtime_class[k] == c))
            .collect()
    }

    fn class_stat(&self, r: &SimResult, class: String, member: impl Fn(usize) -> bool) -> ClassStat {
        let (mut jobs, mut bsld, mut wait) = (0u64, 0.0, 0.0);
        for m in (0..self.w.len()).filter(|&k| member(k)).filter_map(|k| job_metrics(self.w, r, k)) {
            jobs += 1;
            bsld += m.bsld;
            wait += m.wait_s;
        }
        let n = jobs.max(1) as f64;
        ClassStat { class, jobs, mean_bsld: bsld / n, mean_wait_s: wait / n }
    }

    pub(super) fn timeline(&self, r: &SimResult) -> Timeline {
        let t0 = self.w.jobs.first().map_or(0.0, |j| j.info.submit_s);
        let last_submit = self.w.jobs.last().map_or(t0, |j| j.info.submit_s);
        let end = r.outcomes.iter().filter(|o| o.ended()).map(|o| o.end_s).fold(last_submit, f64::max);
        let span = end - t0;
        let bin_s = if span > 0.0 { span / TIMELINE_BINS as f64 } else { 1.0 };
        let (mut busy, mut queued) = (vec![0.0; TIMELINE_BINS], vec![0.0; TIMELINE_BINS]);
        for (k, (j, o)) in self.w.jobs.iter().zip(&r.outcomes).enumerate() {
            let start = if o.start_s.is_nan() { end } else { o.start_s };
            spread(&mut queued, bin_s, j.info.submit_s - t0, start - t0, 1.0);
            if o.ended() {
                spread(&mut busy, bin_s, o.start_s - t0, o.end_s - t0, self.used(k));
            }
        }
        let cap = self.capacity.max(1.0);
        let utilisation: Vec<f64> = busy.iter().map(|b| b / (cap * bin_s)).collect();
        let queue_len: Vec<f64> = queued.iter().map(|q| q / bin_s).collect();
        Timeline {
            bin_s,
            t_s: (0..TIMELINE_BINS).map(|i| (i as f64 + 0.5) * bin_s).collect(),
            mean_utilisation: utilisation.iter().sum::<f64>() / TIMELINE_BINS as f64,
            peak_queue_len: queue_len.iter().copied().fold(0.0, f64::max),
            utilisation,
            queue_len,
        }
    }
}

/// Adds `weight` times the overlap of `[from, to)` with each bin.
fn spread(bins: &mut [f64], bin_s: f64, from: f64, to: f64, weight: f64) {
    if to <= from {
        return;
    }
    let last = bins.len() - 1;
    let first_bin = ((from / bin_s).floor().max(0.0) as usize).min(last);
    let last_bin = ((to / bin_s).floor().max(0.0) as usize).min(last);
    for (i, bin) in bins.iter_mut().enumerate().take(last_bin + 1).skip(first_bin) {
        let (lo, hi) = (i as f64 * bin_s, (i + 1) as f64 * bin_s);
        let hi = if i == last { f64::INFINITY } else { hi };
        *bin += weight * (to.min(hi) - from.max(lo)).max(0.0);
    }
}
