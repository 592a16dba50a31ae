//! Capacity plans: how large a cluster must be for the next horizon's
//! jobs to meet a wait target. A demand [`Outlook`] (made by the caller's
//! forecaster: the simulator knows none) gives the horizon's hourly
//! arrivals and its work at a point and at an upper quantile; workloads are
//! synthesized for it from the recent past's job classes
//! ([`classes::JobClasses`]), several seeds, and replayed on clusters of
//! each candidate size under the site's policy. The recommendation is the
//! smallest size that meets the target at the upper quantile.
//! [`backtest`] scores such plans against what past weeks really needed.

pub mod backtest;
pub mod calibrate;
pub mod classes;
pub mod size;
pub mod target;
pub mod tenants;

use crate::metrics::{JobMetrics, job_metrics};
use crate::run::{RunSpec, SimError, run};
use crate::workload::{Workload, WorkloadOptions};
use classes::{Demand, JobClass, JobClasses, NoClasses};
use foresight_core::{Cluster, Job};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
pub use size::{Sized, resize, size_of};
pub use target::{BadTarget, Metric, Target, parse_duration};
pub use tenants::{BadTenantKey, TenantKey, Tenants};

/// What a forecaster expects of the horizon.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Outlook {
    /// Trace time the horizon starts.
    pub start_s: f64,
    /// Jobs submitted per hour, point forecast (one entry per hour).
    pub jobs: Vec<f64>,
    /// Requested CPU hours per hour, point forecast.
    pub work: Vec<f64>,
    /// The quantile level of the band (e.g. 0.9: the upper edge is the
    /// 90th percentile of the horizon's work, the lower the 10th).
    pub level: f64,
    /// The horizon's total work at the lower quantile over the point's.
    pub lower_factor: f64,
    /// The horizon's total work at the upper quantile over the point's.
    pub upper_factor: f64,
    /// Requested CPU hours per hour in the horizon before this one (what
    /// was seen), for the report.
    pub recent_work: Vec<f64>,
    /// How the forecast was made, in words.
    pub method: String,
    /// Trace time plus this is local calendar time in Unix seconds (for
    /// dates in reports).
    pub calendar_offset_s: f64,
    /// The demand by tenant, when it was also forecast tenant by tenant:
    /// the totals and the band above stay the whole cluster's, and each
    /// tenant gets the share of them its own point forecast has of the
    /// tenants' sum, in its own forecast hours.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub split: Option<TenantSplit>,
}

/// A horizon's demand forecast tenant by tenant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TenantSplit {
    /// The tenants.
    pub tenants: Tenants,
    /// Each tenant's forecast, in [`Tenants::names`] order.
    pub outlooks: Vec<TenantOutlook>,
}

/// One tenant's forecast of the horizon.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TenantOutlook {
    /// The tenant.
    pub name: String,
    /// Jobs submitted per hour, point forecast.
    pub jobs: Vec<f64>,
    /// Requested CPU hours per hour, point forecast.
    pub work: Vec<f64>,
    /// The tenant's own band (from its own earlier horizons; shown, not
    /// planned with): its work at the lower quantile over its point's.
    pub lower_factor: f64,
    /// The tenant's own band: its work at the upper quantile over its
    /// point's.
    pub upper_factor: f64,
    /// Requested CPU hours in the horizon before this one.
    pub recent_work: f64,
}

impl TenantOutlook {
    /// The tenant's point forecast of requested CPU hours.
    pub fn point_work(&self) -> f64 {
        self.work.iter().sum()
    }
}

impl Outlook {
    /// The horizon's point forecast of requested CPU hours.
    pub fn point_work(&self) -> f64 {
        self.work.iter().sum()
    }

    /// The horizon's upper-quantile work.
    pub fn upper_work(&self) -> f64 {
        self.point_work() * self.upper_factor
    }
}

/// How a plan is made.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlanOptions {
    /// The target.
    pub target: Target,
    /// The site's policy and predictor.
    pub run: RunSpec,
    /// Seeds of the synthetic workloads (one workload each).
    pub seeds: Vec<u64>,
    /// How many job classes k-means looks for.
    pub classes: usize,
    /// How far back the recent past reaches, seconds.
    pub window_s: f64,
    /// Candidate sizes; empty for every size (bisection).
    pub sizes: Vec<u32>,
    /// Workload options (filter, site's longest request).
    pub workload: WorkloadOptions,
    /// Past periods the synthesis's bias is measured on (0: none).
    pub calibration_periods: usize,
    /// The quantile of the real over synthetic needs the synthetic size is
    /// multiplied by.
    pub correction_level: f64,
}

/// Why a plan could not be made.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    /// No recent job to resample.
    #[error(transparent)]
    Classes(#[from] NoClasses),
    /// A run failed.
    #[error(transparent)]
    Sim(#[from] SimError),
    /// No candidate size met the target.
    #[error("no size up to {largest} {unit} meets {target}")]
    NeverMet {
        /// The largest size tried.
        largest: u32,
        /// Its unit.
        unit: &'static str,
        /// The target.
        target: Target,
    },
    /// Bad settings.
    #[error("{0}")]
    Settings(String),
}

/// One point of the size-against-target curve.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct CurvePoint {
    /// The size (in the plan's unit).
    pub size: u32,
    /// The metric at the point forecast (mean over seeds; infinite when a
    /// job cannot fit).
    pub at_point: f64,
    /// The metric at the upper quantile.
    pub at_upper: f64,
}

/// A plan: the evidence its report shows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    /// The target.
    pub target: Target,
    /// Policy and predictor.
    pub policy: String,
    /// The unit of sizes (`nodes` or `CPUs`).
    pub unit: String,
    /// Today's size.
    pub today: u32,
    /// The outlook planned for.
    pub outlook: Outlook,
    /// The recent past's job classes.
    pub classes: Vec<JobClass>,
    /// Seeds of the synthetic workloads.
    pub seeds: Vec<u64>,
    /// Synthetic jobs per seed at the upper quantile (mean).
    pub upper_jobs: f64,
    /// The curve, by size.
    pub curve: Vec<CurvePoint>,
    /// The smallest size whose synthetic workloads meet the target at the
    /// upper quantile.
    pub synthetic: u32,
    /// The past periods' real and synthetic needs.
    pub calibration: Vec<calibrate::CalibrationPoint>,
    /// The correction (a quantile of real over synthetic needs).
    pub correction: f64,
    /// The smallest size every synthetic job fits on.
    pub fits_from: u32,
    /// The recommendation: the synthetic size times the correction,
    /// rounded up, at least `fits_from` (among the candidate sizes when
    /// they were given).
    pub recommended: u32,
    /// The recommended cluster's resources and GPUs by type.
    pub recommended_cluster: Sized,
    /// The metric at today's size at the upper quantile.
    pub today_value: f64,
    /// The metric per day of the horizon at today's size at the upper
    /// quantile (jobs submitted that day, all seeds).
    pub today_by_day: Vec<f64>,
    /// The first day (from 0) whose jobs miss the target at today's size.
    pub missed_from_day: Option<usize>,
}

/// Workloads synthesized for one demand level, one per seed.
struct Level {
    workloads: Vec<Vec<Job>>,
}

impl Level {
    /// Workloads of `total` requested CPU hours in the outlook's hours,
    /// shared over its tenants when it has them.
    fn new(c: &JobClasses, o: &Outlook, total: f64, seeds: &[u64]) -> Self {
        let demand = match &o.split {
            None => Demand::Whole { shape: &o.jobs, work: total },
            Some(split) => {
                let sum: f64 = split.outlooks.iter().map(TenantOutlook::point_work).sum();
                let n = split.outlooks.len() as f64;
                Demand::Split {
                    tenants: &split.tenants,
                    shares: split
                        .outlooks
                        .iter()
                        .map(|t| (&t.jobs[..], total * if sum > 0.0 { t.point_work() / sum } else { 1.0 / n }))
                        .collect(),
                }
            }
        };
        Self { workloads: seeds.iter().map(|&s| c.synthesize_for(o.start_s, &demand, s)).collect() }
    }

    /// The metric on each workload at size `n`, and the mean over seeds.
    fn eval(&self, base: &Cluster, n: u32, o: &PlanOptions) -> Result<f64, SimError> {
        let values = self
            .workloads
            .par_iter()
            .map(|w| replay_metric(w, &resize(base, n), o).map(|(v, _)| v))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(values.iter().sum::<f64>() / values.len().max(1) as f64)
    }
}

/// Replays `jobs` on `cluster` from an empty machine: the target's metric
/// over them (infinite when one cannot fit) and each job's metrics.
pub fn replay_metric(
    jobs: &[Job],
    cluster: &Cluster,
    o: &PlanOptions,
) -> Result<(f64, Vec<(f64, JobMetrics)>), SimError> {
    let w = Workload::from_jobs(jobs, cluster, o.workload);
    if w.dropped.too_large > 0 {
        return Ok((f64::INFINITY, Vec::new()));
    }
    if w.is_empty() {
        return Ok((0.0, Vec::new()));
    }
    let (result, _) = run(&w, cluster, &o.run)?;
    let per_job: Vec<(f64, JobMetrics)> =
        (0..w.len()).filter_map(|k| job_metrics(&w, &result, k).map(|m| (w.jobs[k].info.submit_s, m))).collect();
    let ms: Vec<JobMetrics> = per_job.iter().map(|p| p.1).collect();
    Ok((o.target.metric.of(&ms), per_job))
}

/// The smallest size meeting `target` by `eval`, among `sizes` when some
/// are given (in order), else by doubling from `today` and bisecting, up to
/// `cap`. Assumes the metric falls as the size grows.
pub fn smallest(
    sizes: &[u32],
    today: u32,
    cap: u32,
    target: &Target,
    unit: &'static str,
    mut eval: impl FnMut(u32) -> Result<f64, PlanError>,
) -> Result<u32, PlanError> {
    if !sizes.is_empty() {
        for &s in sizes {
            if target.met(eval(s)?) {
                return Ok(s);
            }
        }
        return Err(PlanError::NeverMet { largest: sizes.iter().copied().max().unwrap_or(0), unit, target: *target });
    }
    let cap = cap.max(today).max(1);
    let (mut lo, mut hi) = (0u32, today.clamp(1, cap));
    while !target.met(eval(hi)?) {
        if hi >= cap {
            return Err(PlanError::NeverMet { largest: cap, unit, target: *target });
        }
        lo = hi;
        hi = hi.saturating_mul(2).min(cap);
    }
    // lo fails (or is 0), hi meets
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if target.met(eval(mid)?) {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    Ok(hi)
}

/// Makes a plan for `outlook` from `history` (jobs submitted before the
/// horizon) on clusters like `base`. `progress` is told each replay.
pub fn plan(
    history: &[Job],
    base: &Cluster,
    outlook: &Outlook,
    o: &PlanOptions,
    progress: &(dyn Fn(&str) + Sync),
) -> Result<Plan, PlanError> {
    if o.seeds.is_empty() {
        return Err(PlanError::Settings("a plan needs at least one seed".into()));
    }
    let (unit, today) = size_of(base);
    let recent: Vec<Job> = recent_past(history, outlook.start_s, o.window_s)
        .iter()
        .filter(|j| j.end_s.is_none_or(|e| e <= outlook.start_s))
        .cloned()
        .collect();
    let classes = JobClasses::find(&recent, o.classes, o.seeds[0])?;
    progress("synthesizing workloads");
    let point = Level::new(&classes, outlook, outlook.point_work(), &o.seeds);
    let upper = Level::new(&classes, outlook, outlook.upper_work(), &o.seeds);
    let cap = cap_of(upper.workloads.iter().flatten(), base, today);
    let mut seen: Vec<(u32, f64)> = Vec::new();
    let synthetic = smallest(&o.sizes, today, cap, &o.target, unit, |n| {
        progress(&format!("{n} {unit} at the upper quantile"));
        let v = upper.eval(base, n, o)?;
        seen.push((n, v));
        Ok(v)
    })?;
    progress("measuring the synthesis's bias on past periods");
    let hours = outlook.jobs.len().max(1);
    let tenants = outlook.split.as_ref().map(|s| &s.tenants);
    let calibration = calibrate::calibrate(history, outlook.start_s, hours, o.calibration_periods, base, o, tenants)?;
    let correction = calibrate::correction(&calibration, o.correction_level);
    // never below the size every synthetic job fits on; among `--sizes`
    // when they are given
    let fit = upper.workloads.iter().flatten().map(|j| units_of(j, base)).fold(1.0, f64::max) as u32;
    let corrected = ((f64::from(synthetic) * correction).ceil() as u32).max(fit);
    let recommended = match o.sizes.iter().copied().filter(|&s| s >= corrected).min() {
        Some(s) => s,
        None if o.sizes.is_empty() => corrected,
        None => o.sizes.iter().copied().max().unwrap_or(corrected),
    };
    let mut sizes: Vec<u32> = if o.sizes.is_empty() {
        let mut s: Vec<u32> =
            [0.5, 0.75, 0.9, 1.0, 1.1, 1.25, 1.5, 2.0].iter().map(|f| (f * f64::from(today)).round() as u32).collect();
        s.extend([synthetic.saturating_sub(1), synthetic, recommended]);
        s
    } else {
        o.sizes.clone()
    };
    sizes.retain(|&s| s > 0);
    sizes.sort_unstable();
    sizes.dedup();
    let mut curve = Vec::new();
    for &size in &sizes {
        progress(&format!("curve: {size} {unit}"));
        let at_upper = match seen.iter().find(|p| p.0 == size) {
            Some(p) => p.1,
            None => upper.eval(base, size, o)?,
        };
        curve.push(CurvePoint { size, at_point: point.eval(base, size, o)?, at_upper });
    }
    progress(&format!("today's size, {today} {unit}, day by day"));
    let days = outlook.jobs.len().div_ceil(24).max(1);
    let mut by_day: Vec<Vec<JobMetrics>> = vec![Vec::new(); days];
    let mut today_values = Vec::new();
    for w in &upper.workloads {
        let (v, per_job) = replay_metric(w, &resize(base, today), o)?;
        today_values.push(v);
        for (submit, m) in per_job {
            let d = (((submit - outlook.start_s) / 86_400.0).max(0.0) as usize).min(days - 1);
            by_day[d].push(m);
        }
    }
    let today_by_day: Vec<f64> = by_day.iter().map(|ms| o.target.metric.of(ms)).collect();
    let today_value = today_values.iter().sum::<f64>() / today_values.len() as f64;
    let missed_from_day = match today_by_day.iter().position(|v| !o.target.met(*v)) {
        None if today < recommended => Some(0),
        d => d,
    };
    Ok(Plan {
        target: o.target,
        policy: o.run.policy.clone() + o.run.predictor.as_deref().map(|p| format!(":{p}")).as_deref().unwrap_or(""),
        unit: unit.to_string(),
        today,
        outlook: outlook.clone(),
        classes: classes.classes.clone(),
        seeds: o.seeds.clone(),
        upper_jobs: upper.workloads.iter().map(Vec::len).sum::<usize>() as f64 / upper.workloads.len() as f64,
        curve,
        synthetic,
        calibration,
        correction,
        fits_from: fit,
        recommended,
        recommended_cluster: Sized::of(&resize(base, recommended)),
        today_value,
        today_by_day,
        missed_from_day,
    })
}

/// The jobs of `history` (sorted by submission) submitted in the
/// `window_s` before `start_s`; [`plan`] keeps those that had ended by then,
/// so that no runtime from after the start is used.
pub fn recent_past(history: &[Job], start_s: f64, window_s: f64) -> &[Job] {
    let from = history.partition_point(|j| j.submit_s < start_s - window_s);
    let to = history.partition_point(|j| j.submit_s < start_s);
    &history[from..to]
}

/// The units (nodes, or CPUs on a one-node machine) job `j` takes on
/// clusters like `base`.
pub fn units_of(j: &Job, base: &Cluster) -> f64 {
    let cpus = f64::from(j.req_cpus.unwrap_or(1).max(1));
    if base.len() > 1 {
        let node_cpus = f64::from(base.nodes.iter().map(|n| n.capacity.cpus).min().unwrap_or(1).max(1));
        (cpus / node_cpus).ceil().max(f64::from(j.req_nodes.unwrap_or(1)))
    } else {
        cpus
    }
}

/// A size large enough for every job to run at once (the search's cap).
pub fn cap_of<'a>(jobs: impl Iterator<Item = &'a Job>, base: &Cluster, today: u32) -> u32 {
    let units: f64 = jobs.map(|j| units_of(j, base)).sum();
    (units.ceil().min(f64::from(u32::MAX / 4)) as u32).max(today)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_smallest_size_is_found_by_doubling_and_bisecting_or_among_the_sizes_given() {
        let target = Target { metric: Metric::P95Wait, limit: 3600.0 };
        // the wait falls below the limit from 137 on
        let wait = |n: u32| if n >= 137 { 0.0 } else { 7200.0 };
        let mut asked = Vec::new();
        let found = smallest(&[], 100, 1000, &target, "nodes", |n| {
            asked.push(n);
            Ok(wait(n))
        });
        assert_eq!(found.unwrap(), 137);
        assert_eq!(&asked[..2], &[100, 200], "doubled from today's size first");
        assert_eq!(smallest(&[], 100, 1000, &target, "nodes", |n| Ok(if n >= 3 { 0.0 } else { 1e9 })).unwrap(), 3);
        assert_eq!(smallest(&[120, 140, 160], 100, 1000, &target, "nodes", |n| Ok(wait(n))).unwrap(), 140);
        let never = smallest(&[], 100, 130, &target, "nodes", |n| Ok(wait(n)));
        assert!(matches!(never, Err(PlanError::NeverMet { largest: 130, .. })), "{never:?}");
        let err = smallest(&[10, 20], 100, 150, &target, "nodes", |n| Ok(wait(n))).unwrap_err();
        assert_eq!(err.to_string(), "no size up to 20 nodes meets p95-wait <= 1.00 h");
    }
}
