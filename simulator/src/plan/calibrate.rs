//! The synthesis's bias, measured on the periods just before the horizon:
//! for each, the size its real jobs needed (replayed from an empty machine)
//! against the size synthetic workloads needed when given that period's
//! real arrivals per hour and real requested work, resampled from the job
//! classes of the weeks before it. Synthetic jobs arrive independently;
//! real ones come in bursts, so real periods usually need more. The plan's
//! size is the synthetic size times a quantile of these ratios.

use super::classes::{Demand, JobClasses, work_cpu_h};
use super::tenants::Tenants;
use super::{PlanError, PlanOptions, cap_of, recent_past, replay_metric, resize, size_of, smallest};
use foresight_core::{Cluster, Job};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

/// One past period's need, real and synthetic.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct CalibrationPoint {
    /// Trace time the period starts.
    pub start_s: f64,
    /// The size its real jobs needed.
    pub real: u32,
    /// The size the synthetic workloads of its arrivals and work needed.
    pub synthetic: u32,
}

/// The size `jobs` (one period's, from an empty machine) need.
pub fn real_need(jobs: &[Job], base: &Cluster, o: &PlanOptions) -> Result<u32, PlanError> {
    let (unit, today) = size_of(base);
    if jobs.is_empty() {
        return Ok(0);
    }
    let cap = cap_of(jobs.iter(), base, today);
    smallest(&[], today, cap, &o.target, unit, |n| Ok(replay_metric(jobs, &resize(base, n), o)?.0))
}

/// The size the synthetic workloads (mean metric over `o.seeds`) for
/// `demand` from `start_s` need, resampled from the classes of the jobs of
/// `history` before `start_s`.
pub fn synthetic_need(
    history: &[Job],
    start_s: f64,
    demand: &Demand<'_>,
    base: &Cluster,
    o: &PlanOptions,
) -> Result<u32, PlanError> {
    let (unit, today) = size_of(base);
    let recent: Vec<Job> = recent_past(history, start_s, o.window_s)
        .iter()
        .filter(|j| j.end_s.is_none_or(|e| e <= start_s))
        .cloned()
        .collect();
    let classes = JobClasses::find(&recent, o.classes, o.seeds[0])?;
    let workloads: Vec<Vec<Job>> = o.seeds.iter().map(|&s| classes.synthesize_for(start_s, demand, s)).collect();
    let cap = cap_of(workloads.iter().flatten(), base, today);
    smallest(&[], today, cap, &o.target, unit, |n| {
        let c = resize(base, n);
        let v = workloads.par_iter().map(|w| replay_metric(w, &c, o).map(|r| r.0)).collect::<Result<Vec<_>, _>>()?;
        Ok(v.iter().sum::<f64>() / v.len().max(1) as f64)
    })
}

/// The last `periods` periods of `hours` before `start_s` (those with jobs
/// and a recent past to resample), most recent first; with `tenants`, the
/// synthetic workloads are given each tenant's real arrivals and work.
pub fn calibrate(
    history: &[Job],
    start_s: f64,
    hours: usize,
    periods: usize,
    base: &Cluster,
    o: &PlanOptions,
    tenants: Option<&Tenants>,
) -> Result<Vec<CalibrationPoint>, PlanError> {
    let len = hours as f64 * 3600.0;
    let first = history.first().map_or(start_s, |j| j.submit_s);
    let starts: Vec<f64> = (1..=periods).map(|j| start_s - j as f64 * len).filter(|s| *s > first).collect();
    starts
        .par_iter()
        .map(|&s| {
            let (a, b) =
                (history.partition_point(|j| j.submit_s < s), history.partition_point(|j| j.submit_s < s + len));
            let jobs = &history[a..b];
            if jobs.is_empty() {
                return Ok(None);
            }
            // the period's real arrivals per hour and work, per tenant
            // when the plan splits its demand
            let parts = tenants.map_or(1, |t| t.names.len());
            let mut shares = vec![(vec![0.0; hours], 0.0); parts];
            for j in jobs {
                let share = &mut shares[tenants.map_or(0, |t| t.index(j))];
                share.0[(((j.submit_s - s) / 3600.0) as usize).min(hours - 1)] += 1.0;
                share.1 += work_cpu_h(j);
            }
            let demand = match tenants {
                None => Demand::Whole { shape: &shares[0].0, work: shares[0].1 },
                Some(tenants) => Demand::Split { tenants, shares: shares.iter().map(|(h, w)| (&h[..], *w)).collect() },
            };
            match synthetic_need(&history[..a], s, &demand, base, o) {
                Ok(synthetic) => Ok(Some(CalibrationPoint { start_s: s, real: real_need(jobs, base, o)?, synthetic })),
                Err(PlanError::Classes(_)) => Ok(None),
                Err(e) => Err(e),
            }
        })
        .collect::<Result<Vec<_>, PlanError>>()
        .map(|v| v.into_iter().flatten().collect())
}

/// The `level` quantile of the points' real over synthetic needs (1 when
/// there is none).
pub fn correction(points: &[CalibrationPoint], level: f64) -> f64 {
    let mut r: Vec<f64> =
        points.iter().filter(|p| p.synthetic > 0).map(|p| f64::from(p.real) / f64::from(p.synthetic)).collect();
    r.sort_by(f64::total_cmp);
    if r.is_empty() { 1.0 } else { crate::metrics::percentile(&r, level) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_correction_is_a_quantile_of_real_over_synthetic_needs() {
        let p = |real, synthetic| CalibrationPoint { start_s: 0.0, real, synthetic };
        let pts = [p(150, 100), p(100, 100), p(300, 100), p(120, 100), p(5, 0)];
        assert_eq!(correction(&pts, 0.5), 1.35);
        assert_eq!(correction(&pts, 1.0), 3.0);
        assert_eq!(correction(&[], 0.9), 1.0);
    }
}
